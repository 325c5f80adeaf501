import { describe, expect, it } from 'vitest';
import { FieldError } from '../../src/trace/errors.js';
import { parseDatetimeUs, parseDecimalUs, parseTokens } from '../../src/trace/fields.js';

describe('parseDecimalUs', () => {
  it.each([
    ['1.5', 's', 1_500_000],
    ['0.1', 's', 100_000],
    ['3501.7219370', 's', 3_501_721_937],
    ['0.0000015', 's', 1], // truncated, not rounded
    ['1e-6', 's', 1],
    ['1.5e3', 'ms', 1_500_000],
    ['597000', 'ms', 597_000_000],
    ['12.9', 'us', 12],
    ['0', 's', 0],
    ['-0', 's', 0],
    ['.5', 's', 500_000],
    ['+2', 's', 2_000_000],
    ['00012.000', 's', 12_000_000],
  ] as const)('%s %s -> %d µs', (raw, unit, us) => {
    expect(parseDecimalUs('t', raw, unit)).toBe(us);
  });

  it('reads JSON numbers through their shortest decimal form', () => {
    expect(parseDecimalUs('t', 0.1, 's')).toBe(100_000);
    expect(parseDecimalUs('t', 1e-7, 's')).toBe(0);
    expect(parseDecimalUs('t', 3000, 'ms')).toBe(3_000_000);
  });

  it.each([
    ['-1', /"-1" is negative/],
    ['abc', /"abc" is not a number/],
    ['', /"" is not a number/],
    ['1,5', /not a number/],
    ['1e30', /too large/],
    ['NaN', /not a number/],
  ])('rejects %j', (raw, message) => {
    expect(() => parseDecimalUs('arrival_s', raw, 's')).toThrow(FieldError);
    expect(() => parseDecimalUs('arrival_s', raw, 's')).toThrow(message);
  });
});

describe('parseDatetimeUs', () => {
  const base = Date.UTC(2023, 10, 16, 18, 15, 46) * 1000;

  it('keeps the 7-digit Azure fraction exactly, truncated to 1 µs', () => {
    expect(parseDatetimeUs('T', '2023-11-16 18:15:46.6805900')).toBe(base + 680_590);
    expect(parseDatetimeUs('T', '2023-11-16 18:15:46.6805909')).toBe(base + 680_590);
    expect(parseDatetimeUs('T', '2023-11-16 18:15:46')).toBe(base);
    expect(parseDatetimeUs('T', '2023-11-16 18:15:46.5')).toBe(base + 500_000);
  });

  it('accepts zone suffixes (Azure 2024 writes +00:00) and an ISO T', () => {
    expect(parseDatetimeUs('T', '2023-11-16 18:15:46.68059+00:00')).toBe(base + 680_590);
    expect(parseDatetimeUs('T', '2023-11-16T18:15:46.68059Z')).toBe(base + 680_590);
    expect(parseDatetimeUs('T', '2023-11-16 20:15:46.68059+02:00')).toBe(base + 680_590);
    expect(parseDatetimeUs('T', '2023-11-16 16:15:46.68059-0200')).toBe(base + 680_590);
  });

  it('checks the calendar', () => {
    expect(parseDatetimeUs('T', '2024-02-29 00:00:00')).toBe(Date.UTC(2024, 1, 29) * 1000);
    for (const bad of ['2023-02-29 00:00:00', '2023-04-31 00:00:00', '2023-13-01 00:00:00', '2023-11-16 24:00:00', '2023-11-16 18:60:00', '16/11/2023 18:15', 'x']) {
      expect(() => parseDatetimeUs('TIMESTAMP', bad), bad).toThrow(/field TIMESTAMP: ".*" is not a timestamp/);
    }
  });
});

describe('parseTokens', () => {
  it('accepts integers >= 1 (strings or numbers)', () => {
    expect(parseTokens('p', '17', 'prompt')).toBe(17);
    expect(parseTokens('p', 17, 'prompt')).toBe(17);
    expect(parseTokens('p', '4294967295', 'prompt')).toBe(4294967295);
  });

  it.each([
    ['-3', /"-3" is not a non-negative integer/],
    ['12.5', /"12.5" is not a non-negative integer/],
    ['', /"" is not a non-negative integer/],
    ['1e3', /not a non-negative integer/],
    ['4294967296', /too large/],
    ['0', /zero output tokens/],
  ])('rejects %j', (raw, message) => {
    expect(() => parseTokens('GeneratedTokens', raw, 'output')).toThrow(message);
  });
});
