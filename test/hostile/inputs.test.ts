// Hostile command-line input: bad output paths, out-of-range sizes, numbers in other grammars,
// traces that would overflow the clock, escape sequences and binary garbage, odd line endings.
// Every case exits 2 with a message naming the cause (or works), never with a stack trace, and
// leaves no temp file behind.
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { reportError, VERSION } from '../../src/cli.js';
import { cli } from '../cli-helper.js';
import { AZURE, expectNoStack, expectUserError, runBin } from './helpers.js';

const work = mkdtempSync(join(tmpdir(), 'schedlab-inputs-'));
const file = (name: string, content: string | Buffer) => {
  const path = join(work, name);
  writeFileSync(path, content);
  return path;
};
const spec = (name: string, body: string) => file(name, `traces:\n  t: { path: ${AZURE} }\n${body}`);

describe('output paths are checked before any work, and nothing is left behind', () => {
  it('run --per-request into a missing directory or onto a directory', async () => {
    expectUserError(await cli('run', '--duration', '5', '--per-request', '/nonexistent/dir/out.csv'), /--per-request "\/nonexistent\/dir\/out.csv": directory "\/nonexistent\/dir" does not exist/);
    const dir = join(work, 'a-directory');
    mkdirSync(dir);
    expectUserError(await cli('run', '--duration', '5', '--per-request', dir), /--per-request ".*a-directory" is a directory; give a file name/);
    expect(readdirSync(dir)).toEqual([]);
    expect(readdirSync(work).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('report --out into a missing directory or onto a directory; sweep --out onto a file', async () => {
    const results = join(work, 'results');
    expect((await cli('sweep', spec('small.yaml', 'fixed: { window.duration: 10 }\n'), '--out', results, '--engine', 'cpu', '--threads', '1')).code).toBe(0);
    expectUserError(await cli('report', results, '--out', '/nonexistent/dir/r.html'), /--out "\/nonexistent\/dir\/r.html": directory "\/nonexistent\/dir" does not exist/);
    expectUserError(await cli('report', results, '--out', work), /--out ".*" is a directory; give a file name/);
    expectUserError(await cli('sweep', join(work, 'small.yaml'), '--out', file('plain-file', 'x')), /--out ".*plain-file" is a file, not a directory/);
    expectUserError(await cli('sweep', join(work, 'small.yaml'), '--out', work), /holds files a sweep did not write/);
    expect(readdirSync(results).sort()).toEqual(['journal.jsonl', 'manifest.json', 'results.csv', 'results.parquet']);
  });
});

describe('sizes are bounded and checked before work is handed to workers', () => {
  it.each([
    [['demo', '--replicas', '1025'], /--replicas must be an integer in 1\.\.1024, got "1025"/],
    [['run', '--replicas', '100000'], /--replicas must be an integer in 1\.\.1024/],
    [['compare', '--configs', '1e9'], /--configs must be an integer in 1\.\.100000 \(all are held in memory at once/],
    [['bench', '--lanes', '1e9'], /--lanes must be an integer in 1\.\.100000/],
    [['sweep', 'x.yaml', '--out', 'x', '--threads', '100000'], /--threads must be an integer in 1\.\.256/],
    [['run', '--seed', '4294967296'], /--seed must be an integer in 0\.\.4294967295/],
  ])('%j', async (args, message) => {
    expectUserError(await cli(...(args as string[])), message as RegExp);
  });

  it('a spec above a million configurations names the spec file', async () => {
    const path = spec('huge.yaml', 'grid:\n  seed: { min: 0, max: 1000, step: 1 }\n  rateScale: { min: 1, max: 1000, step: 1 }\n');
    expectUserError(await cli('sweep', path, '--out', join(work, 'huge')), new RegExp(`sweep spec ${path}: grid: more than 1000000 configurations`));
  });
});

describe('one number grammar everywhere', () => {
  it.each(['0x10', ' 2', '', 'Infinity', 'NaN', '1_000', '0b1', '2,5'])('--rate-scale %j is refused', async (v) => {
    expectUserError(await cli('run', '--rate-scale', v), /--rate-scale must be a positive decimal number/);
  });

  it('accepts the decimal forms the trace reader accepts', async () => {
    for (const v of ['2', '2.', '.5', '+1.5', '1e1']) expect((await cli('run', '--duration', '5', '--rate-scale', v, '--json')).code).toBe(0);
  });

  it('a spec number written 0x10, .inf or .nan is refused with its line', async () => {
    expectUserError(await cli('sweep', spec('hex.yaml', 'grid:\n  rateScale: [1, 0x10]\n'), '--out', join(work, 'hex')), /hex\.yaml line 4: "0x10" is not a decimal number/);
    expectUserError(await cli('sweep', spec('inf.yaml', 'grid:\n  rateScale: [.inf]\n'), '--out', join(work, 'inf')), /"\.inf" is not a decimal number/);
    expectUserError(await cli('sweep', file('big.json', `{"traces": {"t": {"path": "${AZURE}"}}, "grid": {"rateScale": [1e999]}}`), '--out', join(work, 'big')), /grid\.rateScale\[0\]: Infinity is not a finite number/);
  });

  it('synthetic specs and trace fields use the same grammar', async () => {
    expectUserError(await cli('run', '--trace', 'poisson:rate=0x10,duration=10'), /rate="0x10" is not a number/);
    const t = file('hex-field.csv', 'arrival_s,prompt_tokens,output_tokens\n0,5,5\n0x10,5,5\n');
    expectUserError(await cli('run', '--trace', t), /line 3: field arrival_s: "0x10" is not a number/);
  });
});

describe('scaled and windowed traces are checked against the readers\' limits', () => {
  it('--rate-scale 1e-300 would push arrivals past 2^52 µs', async () => {
    expectUserError(await cli('run', '--rate-scale', '1e-300'), /at rate scale 1e-300: the last request would arrive .* beyond the 2\^52 µs/);
    expectUserError(await cli('demo', '--rate-scale', '1e-12', '--engine', 'cpu'), /beyond the 2\^52 µs/);
    expectUserError(await cli('compare', '--rate-scale', '1e-300'), /beyond the 2\^52 µs/);
  });

  it('rateScale: [1e-300] in a spec names the configuration before anything runs', async () => {
    const path = spec('tiny-rate.yaml', 'fixed: { window.duration: 10 }\ngrid:\n  rateScale: [1, 1e-300]\n');
    expectUserError(await cli('sweep', path, '--out', join(work, 'tiny-rate')), /configuration #1 \(rateScale=1e-300\): trace .* beyond the 2\^52 µs/);
  });

  it('a window without requests is an error, not an empty result', async () => {
    expectUserError(await cli('run', '--start', '1e12'), /holds no request/);
  });
});

describe('input quoted in messages is escaped', () => {
  it('terminal escape sequences in a header', async () => {
    const t = file('escape.csv', 'TIME\x1b]0;pwned\x07\x1b[31mRED\u202e,p,o\n1,2,3\n');
    const r = await cli('run', '--trace', t);
    expectUserError(r, /the header has: TIME\\e\]0;pwned\\x07\\e\[31mRED\\u202e, p, o/);
    expect(r.err).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f\u202e]/);
  });

  it('binary garbage is named as such', async () => {
    const bytes = Buffer.alloc(4096);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 131 + 7) % 256;
    const r = await cli('run', '--trace', file('garbage.bin', bytes));
    expectUserError(r, /binary data \(a NUL byte at offset \d+\), not a CSV or JSON-lines trace/);
    const noNul = Buffer.from(bytes.map((b) => b || 1));
    const r2 = await cli('run', '--trace', file('garbage2.bin', noNul));
    expect(r2.code).toBe(2);
    expect(r2.err).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
  });

  it('a bad sweep spec key and a bad SQL identifier are escaped too', async () => {
    const r = await cli('sweep', spec('key.yaml', 'grid:\n  "r\\e[2Jx": [1]\n'), '--out', join(work, 'key'));
    expect(r.code).toBe(2);
    expect(r.err).not.toMatch(/\x1b/);
    expect(r.err).toContain('\\e[2J');
  });
});

describe('line endings', () => {
  it('a CRLF header over LF rows (and the reverse) reads every row', async () => {
    const t = file('mixed.csv', 'TIMESTAMP,ContextTokens,GeneratedTokens\r\n2023-11-16 18:15:46.6805900,374,44\n2023-11-16 18:15:50.9951690,396,109\r\n2023-11-16 18:15:51.0,10,5\n');
    const r = await cli('run', '--trace', t, '--json');
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out).requests).toBe(3);
  });

  it('CR-only line endings are named as the cause', async () => {
    const t = file('cr.csv', 'TIMESTAMP,ContextTokens,GeneratedTokens\r2023-11-16 18:15:46.6805900,374,44\r');
    expectUserError(await cli('run', '--trace', t), /carriage return .*CR-only line endings are not supported/);
  });
});

describe('versions, and errors that are not the user\'s', () => {
  it('--version prints the package version', async () => {
    const r = await cli('--version');
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe(VERSION);
    expect(VERSION).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('an unexpected error says what failed and where to report it; the stack only under --debug or SCHEDLAB_DEBUG', () => {
    let err = '';
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
    try {
      expect(reportError(new TypeError('cannot read x of undefined'), false)).toBe(1);
      expect(err).toMatch(/^schedlab: internal error: cannot read x of undefined \(at .*\)\nThis is a bug in schedlab, not in your input: please report it/);
      expect(err).toContain('SCHEDLAB_DEBUG=1');
      expectNoStack(err);
      err = '';
      reportError(new TypeError('boom'), true);
      expect(err).toMatch(/^\s+at /m);
    } finally {
      spy.mockRestore();
    }
  });

  it('through the bin entry, a user error prints one line and exits 2', async () => {
    const r = await runBin(['run', '--trace', '/nonexistent.csv']);
    expectUserError(r, /^schedlab: \/nonexistent\.csv: no such file\n$/);
  });
});
