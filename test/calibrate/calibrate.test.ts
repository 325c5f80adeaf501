// schedlab calibrate: recovers a known model from timings it generated, reads Vidur-style profiles
// and measured-iteration CSVs, refuses bad input with file and line, and prints errors per regime.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fitModel, FIT_TERMS, stepKnots } from '../../src/calibrate/fit.js';
import { referenceIterations } from '../../src/calibrate/reference.js';
import { readAttentionRows, readIterations, readOperatorProfile, type MeasuredIteration } from '../../src/calibrate/tables.js';
import { addToSums, emptySums, iterationPs, type IterationModel } from '../../src/model/iteration.js';
import { resolveProfile } from '../../src/model/profile.js';
import { cli } from '../cli-helper.js';
import { configErrorOf } from '../helpers.js';
import { Draw } from '../model/random-models.js';

const dir = mkdtempSync(join(tmpdir(), 'schedlab-calibrate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

const KNOWN: IterationModel = {
  base: 9_000_000,
  perPrefillToken: 20_000,
  perDecodeSeq: 0, // not fitted: the table and perPrefillToken express it (fit.ts FIT_TERMS)
  perContextToken: 0,
  perPrefillSeq: 120_000,
  perDecodeContextTokenPs: 90_000,
  perPrefillContextTokenPs: 450_000,
  perAttendedPairPs: 3_500,
  perBatchTokenPs: [
    [0, 18_000_000],
    [128, 560_000_000],
    [136, 9_000_000],
    [1024, 68_000_000],
  ],
};

/** Random batches across the three regimes, timed exactly by `model`. */
function syntheticIterations(model: IterationModel, seed: number): MeasuredIteration[] {
  const d = new Draw(seed);
  const out: MeasuredIteration[] = [];
  for (let i = 0; i < 600; i++) {
    const s = emptySums();
    const kind = i % 3;
    if (kind !== 2) for (let r = d.int(1, 200); r > 0; r--) addToSums(s, d.int(10, 4000), 1, false);
    if (kind !== 0) {
      for (let r = d.int(1, 3); r > 0; r--) addToSums(s, kind === 2 ? 0 : d.int(0, 8000), d.int(1, 2048), true);
    }
    out.push({ sums: s, ms: iterationPs(model, s) / 1e9, regime: kind === 0 ? 'decode' : kind === 1 ? 'chunked' : 'prefill', origin: `synthetic ${i}` });
  }
  return out;
}

describe('calibrate fit', () => {
  it('recovers the coefficients of the model that generated the timings', () => {
    const fit = fitModel(syntheticIterations(KNOWN, 11), { terms: FIT_TERMS, knots: KNOWN.perBatchTokenPs.map(([k]) => k) });
    for (const t of FIT_TERMS) expect(fit.model[t], t).toBeCloseTo(KNOWN[t], -Math.log10(Math.max(1, KNOWN[t] * 0.002)));
    fit.model.perBatchTokenPs.forEach(([start, ps], j) => {
      expect(start).toBe(KNOWN.perBatchTokenPs[j][0]);
      expect(Math.abs(ps / KNOWN.perBatchTokenPs[j][1] - 1)).toBeLessThan(0.002);
    });
    for (const e of Object.values(fit.errors)) expect(e.max).toBeLessThan(0.001);
  });

  it('chooses knots greedily when none are given, and still fits the generated timings', () => {
    const fit = fitModel(syntheticIterations(KNOWN, 12), { terms: FIT_TERMS });
    for (const e of Object.values(fit.errors)) expect(e.median).toBeLessThan(0.01);
  });

  it('holds pinned terms and fits the rest around them', () => {
    const fit = fitModel(syntheticIterations(KNOWN, 13), { terms: FIT_TERMS, knots: [0, 128, 136, 1024], pinned: { perAttendedPairPs: 3_500 } });
    expect(fit.model.perAttendedPairPs).toBe(3_500);
    expect(Math.abs(fit.model.base / KNOWN.base - 1)).toBeLessThan(0.002);
  });

  it('puts knots at both ends of an operator curve\'s largest steps', () => {
    const tokens = [1, 8, 64, 120, 128, 136, 200, 256, 264, 512];
    const ms = [1, 1, 1.1, 1.15, 1.2, 1.6, 1.7, 1.8, 2.4, 3];
    expect(stepKnots(tokens, ms, 1024)).toEqual([0, 128, 136, 256, 264, 1024]);
  });
});

describe('calibrate inputs', () => {
  const mlpHeader =
    'time_stats.input_layernorm.median,time_stats.attn_pre_proj.median,time_stats.attn_rope.median,time_stats.attn_post_proj.median,' +
    'time_stats.post_attention_layernorm.median,time_stats.mlp_up_proj.median,time_stats.mlp_act.median,time_stats.mlp_down_proj.median,' +
    'time_stats.add.median,n_head,n_kv_head,n_embd,num_tokens,num_tensor_parallel_workers';
  const mlpRow = (tokens: number, ms: number, tp = 1) => `${ms},0,0,0,0,0,0,0,0,32,8,4096,${tokens},${tp}`;

  it('composes references from a Vidur operator profile and attention rows as Vidur sums them', () => {
    const mlp = file('mlp.csv', [mlpHeader, mlpRow(1, 0.3), mlpRow(512, 1.0), mlpRow(1024, 2.0), mlpRow(512, 9, 2)].join('\n') + '\n');
    const attn = file(
      'attn.csv',
      'prefill_chunk_size,kv_cache_size,kv_save_median_ms,attn_prefill_median_ms\n512,0,0.2,0.05\n512,1024,0.25,0.12\n',
    );
    const ops = readOperatorProfile(mlp, 1);
    expect(ops.tokens).toEqual([1, 512, 1024]);
    const rows = readAttentionRows(attn, 1);
    const refs = referenceIterations({ operators: ops, layers: 10, tensorParallel: 1, attention: { prefill: rows.prefill, decode: [] } });
    expect(refs.map((r) => [r.regime, r.ms])).toEqual([
      ['prefill', 10 * (1.0 + 0.2 + 0.05)],
      ['chunked', 10 * (1.0 + 0.25 + 0.12)],
    ]);
    expect(refs[1].sums).toMatchObject({ prompt: 512, prefills: 1, prefillContext: 1536, pairs: 512 * 1024 + (512 * 513) / 2 });
  });

  it('reads measured iterations and classifies their regimes', () => {
    const csv = file('it.csv', 'prompt_tokens,decode_seqs,context_tokens,ms\n0,32,32000,20.5\n512,0,512,45\n256,16,18000,30\n');
    const { iterations } = readIterations(csv);
    expect(iterations.map((i) => i.regime)).toEqual(['decode', 'prefill', 'chunked']);
    expect(iterations[2].sums).toMatchObject({ prompt: 256, decodes: 16, prefills: 1, decodeContext: 18000 - 256, prefillContext: 256, pairs: (256 * 257) / 2 });
  });

  it('refuses bad input naming the file, line and field', () => {
    const bad = file('bad.csv', 'prompt_tokens,decode_seqs,context_tokens,ms\n0,32,32000,20.5\n\n12,x,3,4\n');
    expect(configErrorOf(() => readIterations(bad))).toBe(`${bad}:4: field decode_seqs: expected a number >= 0, got "x"`);
    const missing = file('missing.csv', 'prompt_tokens,decode_seqs,ms\n1,2,3\n');
    expect(configErrorOf(() => readIterations(missing))).toBe(`${missing}:1: missing column context_tokens`);
    const short = file('short.csv', 'prompt_tokens,decode_seqs,context_tokens,ms\n512,0,100,45\n');
    expect(configErrorOf(() => readIterations(short))).toMatch(/short\.csv:2: field context_tokens/);
    const zero = file('zero.csv', 'prompt_tokens,decode_seqs,context_tokens,ms\n0,0,0,45\n');
    expect(configErrorOf(() => readIterations(zero))).toMatch(/zero\.csv:2: an iteration needs/);
    const mlp = file('mlp-bad.csv', [mlpHeader, mlpRow(1, 0.3), `-1,0,0,0,0,0,0,0,0,32,8,4096,8,1`].join('\n'));
    expect(configErrorOf(() => readOperatorProfile(mlp, 1))).toMatch(/mlp-bad\.csv:3: field time_stats\.input_layernorm\.median/);
  });
});

describe('schedlab calibrate (CLI)', () => {
  const D = 'data/profiling/vidur/a100_meta-llama_Meta-Llama-3-8B';

  it('fits the bundled Vidur profile, prints the error per regime and writes a usable profile', async () => {
    const out = join(dir, 'fitted.json');
    const attention = ['tp1_prefill_sample', 'tp1_prefill_small_chunks', 'tp1_decode_kv512', 'tp1_decode_kv2112', 'tp1_decode_kv3392'].flatMap((f) => ['--attention', `${D}/${f}.csv`]);
    const r = await cli('calibrate', '--mlp', `${D}/mlp.csv`, '--layers', '32', ...attention, '--profile', 'llama3-8b-a100', '--out', out);
    expect(r.code, r.err).toBe(0);
    for (const regime of ['decode', 'chunked', 'prefill']) expect(r.out).toMatch(new RegExp(`^${regime} +\\d+ +[\\d.]+% +[\\d.]+% +[\\d.]+%`, 'm'));
    const profile = resolveProfile(out);
    expect(profile.iterationNs).toEqual(resolveProfile('llama3-8b-a100').iterationNs);
    expect(JSON.parse(readFileSync(out, 'utf8')).source).toMatch(/fitted by schedlab calibrate/);
  });

  it('exits 2 with the file and line of a bad iterations CSV', async () => {
    const bad = file('bad-cli.csv', 'prompt_tokens,decode_seqs,context_tokens,ms\n1,2,3,0\n');
    const r = await cli('calibrate', '--iterations', bad);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${bad}:2: field ms`);
  });
});
