// One grammar for numbers that users type, wherever they type them: command-line options, trace
// fields, synthetic trace specs, sweep specs. Decimal only: an optional sign, digits with an
// optional fraction (either side of the point may be empty, not both), an optional exponent:
// "2", "-0.5", "5.", ".5", "+1.5e3". No hex/octal/binary, "Infinity", "NaN", digit separators,
// surrounding spaces or empty strings: `Number()` accepts all of those, and silently.

const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

export interface DecimalParts {
  negative: boolean;
  /** Digits before and after the point, as written. */
  whole: string;
  fraction: string;
  exponent: number;
}

/** The parts of a decimal number in the grammar above, or null when `text` is not one. */
export function decimalParts(text: string): DecimalParts | null {
  const m = DECIMAL.exec(text);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return null;
  return { negative: m[1] === '-', whole: m[2], fraction: m[3] ?? '', exponent: Number(m[4] ?? 0) };
}

/** A finite number in the grammar above, or undefined (not a number, or beyond the double range). */
export function parseDecimal(text: string): number | undefined {
  if (decimalParts(text) === null) return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}
