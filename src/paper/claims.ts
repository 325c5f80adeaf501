// The paper's claims, judged on the result rows of `schedlab paper`: whether LARRY lowers TTFT and
// raises throughput with fewer preemptions than vLLM's FCFS and the other baselines, and whether SAL
// beats round robin and least-outstanding, load by load, with the numbers.
import { renderTable } from '../report/table.js';
import type { Row } from '../sweep/results.js';
import { ROUTER_SCHEDULERS, type Experiment } from './experiments.js';

export interface Metric {
  column: string;
  label: string;
  better: 'lower' | 'higher';
  /** Relative difference below which two values count as equal (histogram percentiles are within 0.8%). */
  tolerance: number;
}

export const METRICS = {
  ttftP50: { column: 'ttft_ms_p50', label: 'TTFT p50 (ms)', better: 'lower', tolerance: 0.01 },
  ttftP99: { column: 'ttft_ms_p99', label: 'TTFT p99 (ms)', better: 'lower', tolerance: 0.01 },
  throughput: { column: 'throughput_output_tokens_per_s', label: 'output tokens/s', better: 'higher', tolerance: 0.005 },
  preemptions: { column: 'preemptions', label: 'preemptions', better: 'lower', tolerance: 0 },
} satisfies Record<string, Metric>;

export type Outcome = 'better' | 'equal' | 'worse';

export interface Point {
  rateScale: number;
  candidate: number;
  baseline: number;
  outcome: Outcome;
}

export interface Comparison {
  experiment: string;
  /** What is compared, e.g. "larry" or "sal (larry)". */
  candidate: string;
  baseline: string;
  metric: Metric;
  points: Point[];
  verdict: string;
}

export function outcome(candidate: number, baseline: number, m: Metric): Outcome {
  const scale = Math.max(Math.abs(candidate), Math.abs(baseline));
  if (Math.abs(candidate - baseline) <= m.tolerance * scale) return 'equal';
  return (candidate < baseline) === (m.better === 'lower') ? 'better' : 'worse';
}

/** "holds" when the candidate is better at some load and worse at none; "does not hold" when worse and never better. */
export function verdict(points: Point[]): string {
  const better = points.filter((p) => p.outcome === 'better').length;
  const worse = points.filter((p) => p.outcome === 'worse').length;
  const counts = `better at ${better}, equal at ${points.length - better - worse}, worse at ${worse} of ${points.length} loads`;
  if (points.length === 0) return 'no data';
  if (better > 0 && worse === 0) return `holds (${counts})`;
  if (better === 0 && worse > 0) return `does not hold (${counts})`;
  if (better === 0) return `no difference (${counts})`;
  return `mixed (${counts})`;
}

function compare(experiment: string, rows: Row[], candidate: (r: Row) => boolean, baseline: (r: Row) => boolean, names: [string, string], m: Metric): Comparison {
  const byLoad = (pick: (r: Row) => boolean) => new Map(rows.filter(pick).map((r) => [r.rate_scale as number, r[m.column] as number]));
  const c = byLoad(candidate);
  const b = byLoad(baseline);
  const points = [...c.keys()]
    .filter((load) => b.has(load))
    .sort((x, y) => x - y)
    .map((rateScale) => ({ rateScale, candidate: c.get(rateScale)!, baseline: b.get(rateScale)!, outcome: outcome(c.get(rateScale)!, b.get(rateScale)!, m) }));
  return { experiment, candidate: names[0], baseline: names[1], metric: m, points, verdict: verdict(points) };
}

/** LARRY against every other scheduler of an engine experiment, on every metric. */
export function engineComparisons(e: Experiment, rows: Row[]): Comparison[] {
  const baselines = [...new Set(rows.map((r) => String(r.scheduler)))].filter((s) => s !== 'larry');
  return baselines.flatMap((b) =>
    Object.values(METRICS).map((m) => compare(e.name, rows, (r) => r.scheduler === 'larry', (r) => r.scheduler === b, ['larry', b], m)),
  );
}

/** SAL against round-robin and least-outstanding, behind each scheduler of a router experiment. */
export function routerComparisons(e: Experiment, rows: Row[]): Comparison[] {
  return ROUTER_SCHEDULERS.flatMap((s) =>
    ['round-robin', 'least-outstanding'].flatMap((b) =>
      [METRICS.ttftP50, METRICS.ttftP99, METRICS.throughput].map((m) =>
        compare(e.name, rows, (r) => r.router === 'sal' && r.scheduler === s, (r) => r.router === b && r.scheduler === s, [`sal (${s})`, `${b} (${s})`], m),
      ),
    ),
  );
}

const num = (v: number) => (Number.isInteger(v) ? String(v) : Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2));
const pct = (c: number, b: number) => (b === 0 ? (c === 0 ? '0%' : 'n/a') : `${c >= b ? '+' : ''}${(((c - b) / b) * 100).toFixed(1)}%`);

/** Load-by-load numbers of one candidate/baseline pair on several metrics (one row per load). */
export function pointsTable(comparisons: Comparison[]): string {
  const loads = comparisons[0]?.points.map((p) => p.rateScale) ?? [];
  const header = ['rate scale', ...comparisons.map((c) => `${c.metric.label}: ${c.candidate} vs ${c.baseline}`)];
  const body = loads.map((load, i) => [
    `${load}x`,
    ...comparisons.map((c) => {
      const p = c.points[i];
      return p ? `${num(p.candidate)} vs ${num(p.baseline)} (${pct(p.candidate, p.baseline)}, ${p.outcome})` : '';
    }),
  ]);
  return renderTable(header, body);
}

/** One row per baseline, one column per metric: the verdict words. */
export function verdictTable(comparisons: Comparison[]): string {
  const baselines = [...new Set(comparisons.map((c) => c.baseline))];
  const metrics = [...new Set(comparisons.map((c) => c.metric.label))];
  const cell = (b: string, label: string) => {
    const c = comparisons.find((x) => x.baseline === b && x.metric.label === label);
    if (!c) return '';
    const better = c.points.filter((p) => p.outcome === 'better').length;
    const worse = c.points.filter((p) => p.outcome === 'worse').length;
    return `${c.verdict.split(' (')[0]} ${better}+/${worse}-`;
  };
  return renderTable(['vs', ...metrics], baselines.map((b) => [b, ...metrics.map((m) => cell(b, m))]));
}
