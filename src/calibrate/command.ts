// `schedlab calibrate`: fit a profile's iteration model from measured timings and print its error
// per regime (docs/profiles.md, "Calibrating").
import { iterationPs } from '../model/iteration.js';
import { checkIterationBound, ConfigError, profileSchema, resolveProfile } from '../model/profile.js';
import { writeAtomic } from '../write-atomic.js';
import { FIT_TERMS, fitModel, stepKnots, zeroModel, type FitResult, type FitTerm } from './fit.js';
import { referenceIterations } from './reference.js';
import { interpolate, readAllReduce, readAttentionRows, readIterations, readOperatorProfile, REGIMES, type MeasuredIteration } from './tables.js';

export interface CalibrateOptions {
  mlp?: string;
  attention: string[];
  allReduce?: string;
  layers?: number;
  tp: number;
  iterations?: string;
  ratioFrom?: string;
  ratioTo?: string;
  knots?: number[];
  pin: Partial<Record<FitTerm, number>>;
  maxTokens: number;
  stepTokens: number;
  profile: string;
  out?: string;
  writeIterations?: string;
  json?: boolean;
}

/** Measured iterations from the options, and the terms their data can determine. */
function gather(o: CalibrateOptions): { data: MeasuredIteration[]; terms: FitTerm[]; knots?: number[] } {
  const data: MeasuredIteration[] = [];
  let knots = o.knots;
  const terms = new Set<FitTerm>(['base']);
  if (o.mlp) {
    if (o.layers === undefined) throw new ConfigError('calibrate: --mlp needs --layers (transformer layers of the model)');
    const operators = readOperatorProfile(o.mlp, o.tp);
    const prefill = [];
    const decode = [];
    for (const file of o.attention) {
      const rows = readAttentionRows(file, o.tp);
      prefill.push(...rows.prefill);
      decode.push(...rows.decode);
    }
    if (o.tp > 1 && !o.allReduce) throw new ConfigError(`calibrate: --tp ${o.tp} needs --all-reduce (Vidur's all_reduce.csv for the node)`);
    const allReduce = o.tp > 1 && o.allReduce ? readAllReduce(o.allReduce, o.tp) : undefined;
    if (!o.ratioFrom !== !o.ratioTo) throw new ConfigError('calibrate: --ratio-from and --ratio-to go together');
    const gpuRatio = o.ratioFrom && o.ratioTo ? { from: readOperatorProfile(o.ratioFrom, 1), to: readOperatorProfile(o.ratioTo, 1) } : undefined;
    const curve = operators.tokens.map((t, i) => (gpuRatio ? (operators.ms[i] * interpolate(gpuRatio.to.tokens, gpuRatio.to.ms, t)) / interpolate(gpuRatio.from.tokens, gpuRatio.from.ms, t) : operators.ms[i]));
    knots ??= stepKnots(operators.tokens, curve, o.stepTokens);
    data.push(...referenceIterations({ operators, layers: o.layers, tensorParallel: o.tp, attention: { prefill, decode }, allReduce, gpuRatio }, o.maxTokens));
    if (prefill.length > 0) for (const t of ['perPrefillToken', 'perPrefillSeq', 'perPrefillContextTokenPs', 'perAttendedPairPs'] as const) terms.add(t);
    if (decode.length > 0) terms.add('perDecodeContextTokenPs');
  } else if (o.attention.length > 0 || o.allReduce) {
    throw new ConfigError('calibrate: --attention and --all-reduce complete an operator profile; give it with --mlp');
  }
  if (o.iterations) {
    data.push(...readIterations(o.iterations).iterations);
    for (const t of FIT_TERMS) terms.add(t);
  }
  if (data.length === 0) throw new ConfigError('calibrate: give --mlp (Vidur operator profile) or --iterations (measured iterations CSV)');
  return { data, terms: [...terms], knots };
}

/** The iterations in the --iterations format, all columns (the composed references of --mlp, say). */
function iterationsCsv(data: MeasuredIteration[]): string {
  const rows = ['prompt_tokens,decode_seqs,context_tokens,ms,prefill_seqs,decode_context_tokens,attended_pairs'];
  for (const { sums: s, ms } of data) {
    rows.push([s.prompt, s.decodes, s.decodeContext + s.prefillContext, Number(ms.toFixed(4)), s.prefills, s.decodeContext, s.pairs].join(','));
  }
  return rows.join('\n') + '\n';
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

export function formatFit(fit: FitResult): string {
  const lines = ['iterationNs (ns; the *Ps terms in picoseconds):', JSON.stringify(fit.model), '', 'fit error of the integer model, |predicted / measured - 1| per iteration:'];
  lines.push('regime    batches  median     p90     max    bias');
  for (const r of REGIMES) {
    const e = fit.errors[r];
    if (!e) continue;
    lines.push(`${r.padEnd(8)} ${String(e.batches).padStart(8)} ${pct(e.median).padStart(7)} ${pct(e.p90).padStart(7)} ${pct(e.max).padStart(7)} ${((e.bias >= 0 ? '+' : '') + pct(e.bias)).padStart(7)}`);
  }
  return lines.join('\n');
}

export function calibrateCommand(o: CalibrateOptions): void {
  const gathered = gather(o);
  const { terms, knots } = gathered;
  // A pinned term the data do not cover is an assumption: it joins the references too, so the
  // errors measure what the data cover.
  const assumed = { ...zeroModel(), ...Object.fromEntries(Object.entries(o.pin).filter(([t]) => !terms.includes(t as FitTerm))) };
  const data = gathered.data.map((d) => ({ ...d, ms: d.ms + iterationPs(assumed, d.sums) / 1e9 }));
  const fit = fitModel(data, { terms, knots, pinned: o.pin });
  if (o.writeIterations) writeAtomic(o.writeIterations, iterationsCsv(data));
  if (o.out) {
    const base = resolveProfile(o.profile);
    const { name: _name, ...fields } = base;
    const sources = [o.mlp, ...o.attention, o.allReduce, o.ratioFrom, o.ratioTo, o.iterations].filter(Boolean).join(', ');
    const profile = profileSchema.parse({ ...fields, iterationNs: fit.model, source: `iterationNs fitted by schedlab calibrate from ${sources}; limits from ${o.profile}` });
    checkIterationBound({ ...profile, name: o.out });
    writeAtomic(o.out, JSON.stringify(profile, null, 2) + '\n');
  }
  process.stdout.write(o.json ? JSON.stringify({ iterationNs: fit.model, errors: fit.errors }, null, 2) + '\n' : formatFit(fit) + '\n');
}
