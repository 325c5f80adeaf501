// Input quoted in a message is escaped first: a trace header holding terminal escape sequences
// (title or colour changes), bidirectional overrides or binary garbage must not reach the terminal
// raw. Newlines and tabs are escaped too, so one bad field stays on one line.

// C0 and C1 controls, DEL, line/paragraph separators, bidi embeddings/overrides/isolates and marks.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\u001b': '\\e' };

function escapeChar(c: string): string {
  const named = NAMED[c];
  if (named) return named;
  const code = c.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** `text` with every non-printable character escaped (\n, \t, \e, \xNN, \uNNNN); backslashes doubled. */
export function printable(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(UNSAFE, escapeChar);
}

/** For a whole message: like printable, but line breaks the program wrote itself are kept. */
export function printableMessage(text: string): string {
  return text
    .split('\n')
    .map((line) => line.replace(UNSAFE, escapeChar))
    .join('\n');
}

const MAX_QUOTED = 200;

/** printable(text), cut after 200 characters (with the full length said). */
export function brief(text: string): string {
  if (text.length <= MAX_QUOTED) return printable(text);
  return `${printable(text.slice(0, MAX_QUOTED))}… (${text.length} characters)`;
}

/** Input quoted for a message: double quotes, escaped, cut after 200 characters. */
export function quote(raw: unknown): string {
  const text = typeof raw === 'string' ? raw : String(raw);
  const cut = text.length > MAX_QUOTED ? `${text.slice(0, MAX_QUOTED)}…` : text;
  const more = text.length > MAX_QUOTED ? ` (${text.length} characters)` : '';
  return `"${printable(cut).replace(/"/g, '\\"')}"${more}`;
}
