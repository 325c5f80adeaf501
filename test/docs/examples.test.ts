// Every schedlab example in README.md and docs/*.md runs as printed (the rule is stated in
// docs/cli.md, "Examples in the docs"): each `schedlab` or `npx schedlab` command of a ```sh block,
// in document order, in a scratch directory that holds traces/ and sweeps/ like the repository's
// root. A command whose comment carries `[docs test: FLAGS]` (a long one, such as the 4,096-
// configuration sweep) runs with FLAGS appended. New documents and examples are picked up as they
// appear. Whatever the examples write into the working directory must be git-ignored.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(__dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'schedlab.js');
/** Repository folders the examples read, linked into each scratch directory. */
const LINKED = ['traces', 'sweeps', 'data', 'bench'];
const DOCS = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];

interface Example {
  /** The command as printed (continuation lines joined). */
  printed: string;
  /** What the shell runs: the schedlab arguments, with a docs-test cap appended. */
  args: string;
  /** Shell variables the block set before the command (`D=data/...` lines), for the shell to expand. */
  env: Record<string, string>;
}

/** Splits `line` at its first `#` outside quotes: [command, comment]. */
function splitComment(line: string): [string, string] {
  let quote = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]))) {
      return [line.slice(0, i), line.slice(i + 1)];
    }
  }
  return [line, ''];
}

const openQuote = (text: string) => (text.match(/"/g)?.length ?? 0) % 2 === 1 || (text.match(/'/g)?.length ?? 0) % 2 === 1;

function examples(markdown: string): Example[] {
  const out: Example[] = [];
  for (const [, body] of markdown.matchAll(/^```sh\n([\s\S]*?)^```/gm)) {
    const lines = body.split('\n');
    const env: Record<string, string> = {};
    for (let i = 0; i < lines.length; i++) {
      let command = lines[i];
      const assignment = /^([A-Z_][A-Z0-9_]*)=(\S+)\s*$/.exec(command);
      if (assignment) {
        env[assignment[1]] = assignment[2];
        continue;
      }
      // Backslash continuations, and quoted strings over several lines, belong to one command.
      while ((/\\\s*$/.test(splitComment(command)[0]) || openQuote(splitComment(command)[0])) && i + 1 < lines.length) {
        command += '\n' + lines[++i];
      }
      const [code, comment] = splitComment(command);
      const cap = /\[docs test: ([^\]]+)\]/.exec(comment)?.[1] ?? '';
      for (const part of code.split('&&')) {
        const m = /^\s*(?:npx\s+)?schedlab\s+([\s\S]*?)\s*$/.exec(part);
        if (m) out.push({ printed: part.trim().replace(/\s*\\?\n\s*/g, ' '), args: `${m[1]}${cap ? ` ${cap}` : ''}`, env: { ...env } });
      }
    }
  }
  return out;
}

function run(args: string, cwd: string, env: Record<string, string>): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', `exec "${process.execPath}" "${BIN}" ${args}`], { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

for (const doc of DOCS) {
  const found = examples(readFileSync(join(ROOT, doc), 'utf8'));
  if (found.length === 0) continue;
  describe(`${doc} examples`, () => {
    const cwd = mkdtempSync(join(tmpdir(), 'schedlab-docs-'));
    for (const dir of LINKED) symlinkSync(join(ROOT, dir), join(cwd, dir));

    for (const ex of found) {
      it(ex.printed, async () => {
        const r = await run(ex.args, cwd, ex.env);
        expect(r.code, `${ex.args}\n${r.err}`).toBe(0);
        expect(r.out.length + r.err.length).toBeGreaterThan(0);
      });
    }

    it('leaves only git-ignored files in the working directory', () => {
      const written = readdirSync(cwd, { withFileTypes: true })
        .filter((e) => !LINKED.includes(e.name))
        .map((e) => (e.isDirectory() ? `${e.name}/` : e.name));
      if (written.length === 0) return;
      const ignored = spawnSync('git', ['check-ignore', '--no-index', ...written], { cwd: ROOT, encoding: 'utf8' });
      expect(ignored.stdout.trim().split('\n').sort()).toEqual(written.sort());
    });
  });
}

describe('the example finder', () => {
  it('finds commands, joins continuations and quoted line breaks, applies caps, skips other commands', () => {
    const md = [
      '```sh',
      'npm ci && npx schedlab demo      # install',
      'npm test',
      'schedlab query out/x "SELECT a',
      '                      FROM results" --json',
      'npx schedlab best out/x --objective a \\',
      '    --constraint "b <= 2"  # fewest',
      'schedlab sweep s.yaml --out o   # long [docs test: --shard 0/16]',
      'D=data/x',
      'schedlab calibrate --mlp $D/mlp.csv',
      '```',
      '```bash',
      'schedlab not-run',
      '```',
    ].join('\n');
    expect(examples(md).map((e) => e.args)).toEqual([
      'demo',
      'query out/x "SELECT a\n                      FROM results" --json',
      'best out/x --objective a \\\n    --constraint "b <= 2"',
      'sweep s.yaml --out o --shard 0/16',
      'calibrate --mlp $D/mlp.csv',
    ]);
    expect(examples(md).at(-1)!.env).toEqual({ D: 'data/x' });
  });
});
