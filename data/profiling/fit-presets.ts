// Refits the measured presets' iterationNs in src/model/profiles.json with `schedlab calibrate` and
// prints their fit errors as the table docs/profiles.md shows. Run: npx tsx data/profiling/fit-presets.ts
// Attention terms of the models without attention profiles are derived from the Llama-3-8B fits by
// head counts and layers (docs/profiles.md, "Presets"); everything else is fitted.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeAtomic } from '../../src/write-atomic.js';

const V = 'data/profiling/vidur';
const L3 = `${V}/a100_meta-llama_Meta-Llama-3-8B`;
const L3_ATTENTION = ['tp1_prefill_sample', 'tp1_prefill_small_chunks', 'tp1_decode_kv512', 'tp1_decode_kv2112', 'tp1_decode_kv3392'].flatMap((f) => ['--attention', `${L3}/${f}.csv`]);
const TO_H100 = ['--ratio-from', `${V}/a100_meta-llama_Llama-2-7b-hf/mlp.csv`, '--ratio-to', `${V}/h100_meta-llama_Llama-2-7b-hf/mlp.csv`];

type Model = Record<string, number | number[][]>;
interface Fit {
  iterationNs: Model;
  errors: Record<string, { batches: number; median: number; p90: number; max: number; bias: number }>;
}

function calibrate(args: string[]): Fit {
  return JSON.parse(execFileSync('npx', ['schedlab', 'calibrate', ...args, '--json'], { encoding: 'utf8' }));
}

/**
 * Attention and KV-save terms for a Llama-2 model from a Llama-3-8B fit (32 layers, 32 query and 8 KV
 * heads per GPU): context terms scale with KV heads per GPU (bytes read), pair terms with query heads
 * per GPU (work), per-token KV save with layers only (it is no bandwidth limit: 0.5 µs a token a layer).
 */
function derivedPins(from: Model, layers: number, qHeads: number, kvHeads: number): string[] {
  const layer = layers / 32;
  const pins = {
    perDecodeContextTokenPs: (from.perDecodeContextTokenPs as number) * layer * (kvHeads / 8),
    perPrefillContextTokenPs: (from.perPrefillContextTokenPs as number) * layer * (kvHeads / 8),
    perAttendedPairPs: (from.perAttendedPairPs as number) * layer * (qHeads / 32),
    perPrefillToken: (from.perPrefillToken as number) * layer,
  };
  return Object.entries(pins).flatMap(([k, v]) => ['--pin', `${k}=${Math.round(v)}`]);
}

const l3a100 = calibrate(['--mlp', `${L3}/mlp.csv`, '--layers', '32', ...L3_ATTENTION]);
const l3h100 = calibrate(['--mlp', `${L3}/mlp.csv`, '--layers', '32', ...L3_ATTENTION, ...TO_H100]);
const llama2 = (gpu: 'a100' | 'h100', model: '7b' | '70b', from: Fit) => {
  const seventy = model === '70b';
  const tp = seventy ? ['--tp', '4', '--all-reduce', `${V}/network/${gpu}_dgx_all_reduce.csv`] : [];
  const pins = seventy ? derivedPins(from.iterationNs, 80, 64 / 4, 8 / 4) : derivedPins(from.iterationNs, 32, 32, 32);
  return calibrate(['--mlp', `${V}/${gpu}_meta-llama_Llama-2-${model}-hf/mlp.csv`, '--layers', seventy ? '80' : '32', '--max-tokens', '4096', ...tp, ...pins]);
};

const fits: Record<string, Fit> = {
  'llama3-8b-a100': l3a100,
  'llama3-8b-h100': l3h100,
  'llama2-7b-a100': llama2('a100', '7b', l3a100),
  'llama2-7b-h100': llama2('h100', '7b', l3h100),
  'llama2-70b-a100x4': llama2('a100', '70b', l3a100),
  'llama2-70b-h100x4': llama2('h100', '70b', l3h100),
};

const file = 'src/model/profiles.json';
const presets = JSON.parse(readFileSync(file, 'utf8'));
for (const [name, fit] of Object.entries(fits)) {
  if (!presets[name]) throw new Error(`${file} has no preset ${name}: add its limits first`);
  presets[name].iterationNs = fit.iterationNs;
}
writeAtomic(file, JSON.stringify(presets, null, 2).replace(/\[\n\s+(\d+),\n\s+(\d+)\n\s+\]/g, '[$1, $2]') + '\n');

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
console.log('| preset | regime | batches | median | p90 | max | bias |\n| --- | --- | ---: | ---: | ---: | ---: | ---: |');
for (const [name, fit] of Object.entries(fits)) {
  for (const [regime, e] of Object.entries(fit.errors)) {
    console.log(`| \`${name}\` | ${regime} | ${e.batches} | ${pct(e.median)} | ${pct(e.p90)} | ${pct(e.max)} | ${(e.bias >= 0 ? '+' : '') + pct(e.bias)} |`);
  }
}
