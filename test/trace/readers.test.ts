import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { detectFormat, loadLengths, loadTrace, TRACE_FORMATS, TraceError, type LoadOptions } from '../../src/trace/readers.js';

const dir = mkdtempSync(join(tmpdir(), 'schedlab-trace-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileNo = 0;
function write(name: string, content: string | Buffer): string {
  const path = join(dir, `${fileNo++}-${name}`);
  writeFileSync(path, content);
  return path;
}

const fixture = (name: string) => new URL(`../fixtures/${name}`, import.meta.url).pathname;
const bundled = (name: string) => new URL(`../../traces/${name}`, import.meta.url).pathname;

function thrown(fn: () => unknown): TraceError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TraceError);
    return e as TraceError;
  }
  throw new Error('expected a TraceError');
}

const arr = (a: ArrayLike<number> | undefined) => Array.from(a ?? []);

describe('TRACE_FORMATS', () => {
  it('lists the explicit formats (auto is separate)', () => {
    expect([...TRACE_FORMATS]).toEqual(['azure', 'burstgpt', 'mooncake', 'csv', 'jsonl']);
  });
});

describe('Azure LLM inference CSV', () => {
  it('reads 2023 timestamps exactly and re-bases to the first request', () => {
    const path = write(
      'azure23.csv',
      [
        'TIMESTAMP,ContextTokens,GeneratedTokens',
        '2023-11-16 18:15:46.6805900,374,44',
        '2023-11-16 18:15:50.9951690,396,109',
        '2023-11-16 18:15:50.9951699,10,1',
        '2023-11-17 00:00:00.0000010,5,5',
      ].join('\n'),
    );
    const t = loadTrace(path);
    expect(arr(t.arrivalUs)).toEqual([0, 4_314_579, 4_314_579, 20_653_319_411]);
    expect(arr(t.promptTokens)).toEqual([374, 396, 10, 5]);
    expect(arr(t.outputTokens)).toEqual([44, 109, 1, 5]);
    expect(t.skippedRows).toBe(0);
    expect(t.prefixHashes).toBeUndefined();
    expect(t.source).toBe(path);
    expect(t.name).toBe(path.split('/').pop());
  });

  it('reads 2024 timestamps with +00:00 and short fractions, CRLF line ends', () => {
    const path = write(
      'azure24.csv',
      [
        'TIMESTAMP,ContextTokens,GeneratedTokens',
        '2024-05-10 00:00:00.0183740+00:00,4808,10',
        '2024-05-10 00:00:00.02+00:00,3180,8',
        '2024-05-10 00:00:01+00:00,110,27',
        '2024-05-10 02:00:01.5+02:00,7,7',
        '',
      ].join('\r\n'),
    );
    const t = loadTrace(path);
    expect(arr(t.arrivalUs)).toEqual([0, 1_626, 981_626, 1_481_626]);
    expect(loadTrace(path, { format: 'azure' }).arrivalUs).toEqual(t.arrivalUs);
  });

  const header = 'TIMESTAMP,ContextTokens,GeneratedTokens';
  const good1 = '2023-11-16 18:15:46.6805900,374,44';
  const good2 = '2023-11-16 18:16:00.0,20,30';
  it.each([
    ['2023-11-16 18:15:47.0,-3,5', 'ContextTokens', '"-3" is not a non-negative integer'],
    ['2023-11-16 18:15:47.0,12.5,5', 'ContextTokens', '"12.5" is not a non-negative integer'],
    ['2023-11-16 18:15:47.0,abc,5', 'ContextTokens', '"abc" is not a non-negative integer'],
    ['2023-11-16 18:15:47.0,0,5', 'ContextTokens', 'zero prompt tokens'],
    ['2023-11-16 18:15:47.0,10,0', 'GeneratedTokens', 'zero output tokens'],
    ['2023-11-16 25:15:47.0,10,3', 'TIMESTAMP', '"2023-11-16 25:15:47.0" is not a timestamp'],
    ['yesterday,10,3', 'TIMESTAMP', '"yesterday" is not a timestamp'],
    ['2023-11-16 18:15:40.0,10,3', 'TIMESTAMP', 'time goes backwards: "2023-11-16 18:15:40.0" is before "2023-11-16 18:15:46.6805900" on line 2'],
  ])('bad row %j names file, line and field', (bad, field, message) => {
    const path = write('bad.csv', [header, good1, bad, good2].join('\n'));
    const e = thrown(() => loadTrace(path));
    expect(e.message.startsWith(`${path} line 3: field ${field}: ${message}`), e.message).toBe(true);
    const t = loadTrace(path, { skipBadRows: true });
    expect(t.skippedRows).toBe(1);
    expect(arr(t.promptTokens)).toEqual([374, 20]);
    expect(arr(t.arrivalUs)).toEqual([0, 13_319_410]);
  });

  it('a row with the wrong number of fields is a bad row', () => {
    const path = write('short.csv', [header, good1, '2023-11-16 18:15:47.0,10', good2].join('\n'));
    expect(thrown(() => loadTrace(path)).message).toBe(`${path} line 3: expected 3 fields (TIMESTAMP,ContextTokens,GeneratedTokens), got 2`);
    expect(loadTrace(path, { skipBadRows: true }).skippedRows).toBe(1);
  });

  it('counts physical lines: blank lines and quoted fields keep line numbers right', () => {
    const blank = write('blank.csv', [header, good1, '', '   ', '2023-11-16 18:15:47.0,-3,5', good2].join('\n'));
    expect(thrown(() => loadTrace(blank)).message).toMatch(new RegExp(`line 5: field ContextTokens`));
    const quoted = write('quoted.csv', [header, `"${good1.split(',')[0]}",374,44`, '', '"2023-11-16 18:15:47.0","x",5', good2].join('\n'));
    expect(thrown(() => loadTrace(quoted)).message).toBe(`${quoted} line 4: field ContextTokens: "x" is not a non-negative integer`);
    const multiline = write('multiline.csv', [header, good1, '"2023-11-16 18:15:47.0","1', '2",5', good2].join('\n'));
    expect(thrown(() => loadTrace(multiline)).message).toMatch(/line 4: field ContextTokens: "1\\n2" is not/);
  });

  it('skipBadRows skips and counts every kind of bad row, never silently', () => {
    const rows = [
      header,
      good1,
      '2023-11-16 18:15:47.0,-3,5',
      '2023-11-16 18:15:48.0,12.5,5',
      '2023-11-16 18:15:49.0,10',
      '2023-11-16 18:15:50.0,10,0',
      '2023-11-16 25:15:50.0,10,3',
      '2023-11-16 18:15:40.0,10,3',
      '2023-11-16 18:15:51.0,0,3',
      'abc,1,1',
      '2023-11-16 18:15:52.0,20,30,7',
      good2,
    ];
    const path = write('many-bad.csv', rows.join('\n'));
    expect(thrown(() => loadTrace(path)).message).toMatch(/line 3: field ContextTokens/);
    const t = loadTrace(path, { skipBadRows: true });
    expect(t.skippedRows).toBe(9);
    expect(t.arrivalUs.length).toBe(2);
  });

  it('missing column names the column and the header line', () => {
    const path = write('nocol.csv', ['TIMESTAMP,Context,GeneratedTokens', good1].join('\n'));
    expect(thrown(() => loadTrace(path, { format: 'azure' })).message).toBe(
      `${path} line 1: missing column "ContextTokens" (the header has: TIMESTAMP, Context, GeneratedTokens)`,
    );
    expect(thrown(() => loadTrace(path, { format: 'azure', skipBadRows: true })).message).toMatch(/missing column "ContextTokens"/);
  });

  it('empty files are always an error', () => {
    for (const content of ['', '\n\n', header, `${header}\n`]) {
      const path = write('empty.csv', content);
      expect(thrown(() => loadTrace(path, { format: 'azure' })).message).toMatch(new RegExp(`^${path}: (empty file|no data rows)`));
      expect(thrown(() => loadTrace(path, { format: 'azure', skipBadRows: true })).message).toMatch(/empty file|no data rows/);
    }
    const allBad = write('all-bad.csv', [header, 'x,1,1', 'y,1,1'].join('\n'));
    expect(thrown(() => loadTrace(allBad, { skipBadRows: true })).message).toBe(
      `${allBad}: no valid rows: all 2 data rows were bad (first: ${allBad} line 2: field TIMESTAMP: "x" is not a timestamp like "2023-11-16 18:15:46.6805900" or "2024-05-10 00:00:00.123+00:00")`,
    );
  });

  it('unparseable CSV syntax is fatal and names the line', () => {
    const path = write('unclosed.csv', [header, good1, '"2023-11-16 18:15:47.0,10,5', good2].join('\n'));
    expect(thrown(() => loadTrace(path, { skipBadRows: true })).message).toMatch(new RegExp(`^${path} line 4: CSV syntax: Quote Not Closed`));
  });

  it('a missing file, a directory, a gzip file and an unknown format are errors', () => {
    const missing = join(dir, 'nope.csv');
    expect(thrown(() => loadTrace(missing)).message).toBe(`${missing}: no such file`);
    expect(thrown(() => loadTrace(dir)).message).toBe(`${dir}: is a directory, not a trace file`);
    const gz = write('x.csv.gz', Buffer.from([0x1f, 0x8b, 8, 0]));
    expect(thrown(() => loadTrace(gz)).message).toMatch(/gzip/);
    const ok = write('ok.csv', [header, good1].join('\n'));
    expect(thrown(() => loadTrace(ok, { format: 'parquet' } as unknown as LoadOptions)).message).toMatch(/unknown trace format "parquet"/);
  });
});

describe('BurstGPT CSV', () => {
  const path = fixture('burstgpt-sample.csv');

  it('treats 0 response tokens (failed requests) as bad rows', () => {
    const e = thrown(() => loadTrace(path));
    expect(e.message).toMatch(new RegExp(`^${path} line 3: field Response tokens: zero output tokens \\("0"\\)`));
    expect(e.message).toMatch(/BurstGPT logs failed requests/);
  });

  it('skipBadRows drops and counts them; seconds become exact µs; extra columns are ignored', () => {
    const t = loadTrace(path, { skipBadRows: true });
    expect(t.skippedRows).toBe(2);
    expect(arr(t.arrivalUs)).toEqual([0, 40_500_000, 113_000_000, 198_250_000, 255_000_001]);
    expect(arr(t.promptTokens)).toEqual([472, 230, 2019, 795, 1500]);
    expect(arr(t.outputTokens)).toEqual([18, 356, 413, 122, 1024]);
    expect(loadTrace(path, { format: 'burstgpt', skipBadRows: true })).toEqual(t);
  });

  it('reads the original six-column layout', () => {
    const p = write('burst-old.csv', ['Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type', '0,ChatGPT,10,20,30,Conversation log', '1.5,GPT-4,5,6,11,API log'].join('\n'));
    expect(arr(loadTrace(p).arrivalUs)).toEqual([0, 1_500_000]);
  });
});

describe('Mooncake JSONL', () => {
  const lines = [
    '{"timestamp": 0, "input_length": 600, "output_length": 5, "hash_ids": [0, 1]}',
    '{"timestamp": 0, "input_length": 100, "output_length": 7, "hash_ids": [0]}',
    '',
    '{"timestamp": 3000, "input_length": 1100, "output_length": 9, "hash_ids": [0, 2, 3]}',
  ];

  it('reads ms timestamps (ties allowed) and prefix hashes', () => {
    const t = loadTrace(write('mc.jsonl', lines.join('\n') + '\n'));
    expect(arr(t.arrivalUs)).toEqual([0, 0, 3_000_000]);
    expect(arr(t.promptTokens)).toEqual([600, 100, 1100]);
    expect(arr(t.outputTokens)).toEqual([5, 7, 9]);
    expect(arr(t.prefixOffsets)).toEqual([0, 2, 3, 6]);
    expect(arr(t.prefixHashes)).toEqual([0, 1, 0, 0, 2, 3]);
  });

  it('a row without hash_ids has no prefix blocks', () => {
    const t = loadTrace(write('mc.jsonl', [lines[0], '{"timestamp": 1, "input_length": 3, "output_length": 4}', lines[3]].join('\n')));
    expect(arr(t.prefixOffsets)).toEqual([0, 2, 2, 5]);
  });

  it.each([
    ['{"timestamp": 2000, "input_length": 10, "output_length": 0, "hash_ids": [4]}', 'field output_length: zero output tokens'],
    ['{"timestamp": 2000, "input_length": -1, "output_length": 2, "hash_ids": [4]}', 'field input_length: "-1" is not a non-negative integer'],
    ['{"timestamp": 2000, "output_length": 2, "hash_ids": [4]}', 'field input_length: missing'],
    ['{"timestamp": "soon", "input_length": 10, "output_length": 2, "hash_ids": [4]}', 'field timestamp: "soon" is not a number'],
    ['{"timestamp": 2000, "input_length": 10, "output_length": 2, "hash_ids": [4, -1]}', 'field hash_ids: element 1 (-1) is not an integer in [0, 2^32)'],
    ['{"timestamp": 2000, "input_length": 10, "output_length": 2, "hash_ids": 4}', 'field hash_ids: 4 is not a list of integers'],
    ['{"timestamp": -5, "input_length": 10, "output_length": 2, "hash_ids": [4]}', 'field timestamp: "-5" is negative'],
    ['{"timestamp": 2000, "input_length": 10', 'not valid JSON'],
    ['[1, 2, 3]', 'not a JSON object'],
  ])('bad line %s', (bad, message) => {
    const path = write('mc-bad.jsonl', [lines[0], lines[1], lines[2], bad, lines[3]].join('\n'));
    const e = thrown(() => loadTrace(path, { format: 'mooncake' }));
    expect(e.message.startsWith(`${path} line 4: ${message}`), e.message).toBe(true);
    const t = loadTrace(path, { format: 'mooncake', skipBadRows: true });
    expect(t.skippedRows).toBe(1);
    expect(arr(t.prefixOffsets)).toEqual([0, 2, 3, 6]);
  });

  it('an empty JSONL file is an error', () => {
    const path = write('empty.jsonl', '\n \n');
    expect(thrown(() => loadTrace(path, { skipBadRows: true })).message).toBe(`${path}: empty file (no data rows)`);
  });

  it('time going backwards is a bad row', () => {
    const path = write('mc-back.jsonl', [lines[3], lines[0]].join('\n'));
    expect(thrown(() => loadTrace(path)).message).toBe(`${path} line 2: field timestamp: time goes backwards: "0" is before "3000" on line 1; the trace must be sorted by arrival`);
    const t = loadTrace(path, { skipBadRows: true });
    expect(t.skippedRows).toBe(1);
    expect(arr(t.arrivalUs)).toEqual([0]);
  });
});

describe('generic CSV and JSONL', () => {
  it('default columns, seconds, re-based', () => {
    const p = write('g.csv', ['prompt_tokens,arrival_s,output_tokens,extra', '5,10.5,6,a', '7,10.75,8,b', '1,11,1,c'].join('\n'));
    const t = loadTrace(p);
    expect(arr(t.arrivalUs)).toEqual([0, 250_000, 500_000]);
    expect(arr(t.promptTokens)).toEqual([5, 7, 1]);
    expect(loadTrace(p, { format: 'csv' })).toEqual(t);
  });

  it('unit from the column suffix, or given; custom names', () => {
    const ms = write('g-ms.csv', ['arrival_ms,prompt_tokens,output_tokens', '0,1,1', '1.5,1,1'].join('\n'));
    expect(arr(loadTrace(ms).arrivalUs)).toEqual([0, 1_500]);
    const custom = write('g-custom.csv', ['t,in,out', '100,3,4', '250,5,6'].join('\n'));
    const t = loadTrace(custom, { columns: { arrival: 't', prompt: 'in', output: 'out', arrivalUnit: 'us' } });
    expect(arr(t.arrivalUs)).toEqual([0, 150]);
    expect(arr(loadTrace(custom, { columns: { arrival: 't', prompt: 'in', output: 'out' } }).arrivalUs)).toEqual([0, 150_000_000]);
    expect(thrown(() => loadTrace(custom)).message).toBe(
      `${custom} line 1: missing column "arrival_s" or "arrival_ms" or "arrival_us" or "timestamp" (the header has: t, in, out)`,
    );
    expect(thrown(() => loadTrace(custom, { columns: { arrival: 't', prompt: 'input' } })).message).toMatch(/line 1: missing column "input"/);
  });

  it('a timestamp column may hold datetimes', () => {
    const p = write('g-dt.csv', ['timestamp,prompt_tokens,output_tokens', '2024-01-01 00:00:00,1,1', '2024-01-01 00:00:02.25,1,1'].join('\n'));
    expect(arr(loadTrace(p).arrivalUs)).toEqual([0, 2_250_000]);
  });

  it('columns with a fixed format is an error', () => {
    const p = write('g.csv', ['arrival_s,prompt_tokens,output_tokens', '0,1,1'].join('\n'));
    expect(thrown(() => loadTrace(p, { format: 'azure', columns: { prompt: 'x' } })).message).toMatch(/columns apply only to the generic csv and jsonl/);
  });

  it('JSONL with default and custom keys', () => {
    const p = write('g.jsonl', ['{"arrival_s": 1.25, "prompt_tokens": 3, "output_tokens": 4}', '{"arrival_s": 2, "prompt_tokens": "5", "output_tokens": 6}'].join('\n'));
    const t = loadTrace(p);
    expect(arr(t.arrivalUs)).toEqual([0, 750_000]);
    expect(arr(t.promptTokens)).toEqual([3, 5]);
    expect(t.prefixHashes).toBeUndefined();
    const c = write('c.jsonl', ['{"at": 10, "p": 3, "o": 4}', '{"at": 12, "p": 5}'].join('\n'));
    const opts = { columns: { arrival: 'at', prompt: 'p', output: 'o', arrivalUnit: 'ms' as const } };
    expect(thrown(() => loadTrace(c, opts)).message).toBe(`${c} line 2: field o: missing`);
    expect(loadTrace(c, { ...opts, skipBadRows: true }).skippedRows).toBe(1);
    expect(thrown(() => loadTrace(c)).message).toMatch(new RegExp(`^${c} line 1: missing field "arrival_s"`));
  });
});

describe('auto-detection', () => {
  it.each([
    ['a.csv', 'TIMESTAMP,ContextTokens,GeneratedTokens\n', 'azure'],
    ['a.csv', '\uFEFFTIMESTAMP,ContextTokens,GeneratedTokens\n', 'azure'],
    ['b.csv', 'Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n', 'burstgpt'],
    ['c.csv', 'arrival_s,prompt_tokens,output_tokens\n', 'csv'],
    ['a2.csv', '\n\nTIMESTAMP,ContextTokens,GeneratedTokens\r\n', 'azure'],
    ['m.jsonl', '{"timestamp": 0, "input_length": 1, "output_length": 1}\n', 'mooncake'],
    ['g.jsonl', '{"arrival_s": 0, "prompt_tokens": 1, "output_tokens": 1}\n', 'jsonl'],
    ['m.txt', '\n{"timestamp": 0, "input_length": 1, "output_length": 1}\n', 'mooncake'],
    ['bad.jsonl', '{oops\n', 'jsonl'],
  ])('%s -> %s', (name, text, format) => {
    expect(detectFormat(name, text)).toBe(format);
  });
});

describe('bundled traces', () => {
  it('azure-conv-2023.csv: 19,366 requests over 3,501.721937 s', () => {
    const t = loadTrace(bundled('azure-conv-2023.csv'));
    expect(t.arrivalUs.length).toBe(19_366);
    expect(t.skippedRows).toBe(0);
    expect(t.arrivalUs[0]).toBe(0);
    // 19:14:08.4025270 - 18:15:46.6805900 = 58 min 21.7219370 s
    expect(t.arrivalUs[t.arrivalUs.length - 1]).toBe(3_501_721_937);
    expect([t.promptTokens[0], t.outputTokens[0]]).toEqual([374, 44]);
    expect([t.promptTokens[19_365], t.outputTokens[19_365]]).toEqual([197, 183]);
    expect(t.promptTokens.reduce((a, b) => a + b, 0)).toBe(22_361_870);
    expect(t.outputTokens.reduce((a, b) => a + b, 0)).toBe(4_088_665);
    for (let i = 1; i < t.arrivalUs.length; i++) {
      if (!(t.arrivalUs[i] >= t.arrivalUs[i - 1] && Number.isInteger(t.arrivalUs[i]))) throw new Error(`not sorted at ${i}`);
    }
  });

  it('mooncake-conversation-10min.jsonl: the first 10 minutes, 1,750 requests', () => {
    const t = loadTrace(bundled('mooncake-conversation-10min.jsonl'));
    expect(t.arrivalUs.length).toBe(1_750);
    expect(t.arrivalUs[t.arrivalUs.length - 1]).toBe(597_000_000);
    expect(t.promptTokens.reduce((a, b) => a + b, 0)).toBe(24_486_514);
    expect(t.outputTokens.reduce((a, b) => a + b, 0)).toBe(619_615);
    expect(t.prefixOffsets!.length).toBe(1_751);
    expect(t.prefixHashes!.length).toBe(48_671);
    for (let i = 0; i < t.arrivalUs.length; i++) {
      expect(t.prefixOffsets![i + 1] - t.prefixOffsets![i]).toBe(Math.ceil(t.promptTokens[i] / 512));
    }
  });

  it('sharegpt-lengths.csv: lengths only, via loadLengths, arrivals all 0', () => {
    const path = bundled('sharegpt-lengths.csv');
    const t = loadLengths(path);
    expect(t.arrivalUs.length).toBe(30_731);
    expect(t.arrivalUs.every((a) => a === 0)).toBe(true);
    expect([t.promptTokens[0], t.outputTokens[0]]).toEqual([74, 918]);
    expect(t.promptTokens.reduce((a, b) => a + b, 0)).toBe(71_911_571);
    expect(t.outputTokens.reduce((a, b) => a + b, 0)).toBe(13_481_988);
    expect(thrown(() => loadTrace(path)).message).toMatch(/lengths-only file/);
  });

  it('loadLengths reads full traces too', () => {
    const t = loadLengths(fixture('burstgpt-sample.csv'), { skipBadRows: true });
    expect(arr(t.promptTokens)).toEqual([472, 230, 2019, 795, 1500]);
    const c = write('lens.csv', ['a,b', '3,4', '5,6'].join('\n'));
    expect(arr(loadLengths(c, { columns: { prompt: 'a', output: 'b' } }).outputTokens)).toEqual([4, 6]);
  });
});
