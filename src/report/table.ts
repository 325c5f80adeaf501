// Plain-text tables for the terminal.
import type { LatencySummary } from '../metrics/histogram.js';
import type { MetricsSummary } from '../metrics/record.js';
import { printable } from '../printable.js';

const ms = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const pct = (v: number) => `${(v * 100).toFixed(1)}%`;

/** A result-set value as a table cell: integers whole, other numbers to 4 significant digits (1 decimal from 100). */
export function formatCell(v: string | number | boolean | null | undefined): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(4);
  return printable(String(v)); // a result set may come from someone else: no raw control characters to the terminal
}

export function renderTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (cells: string[]) => cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function latencyRow(name: string, s: LatencySummary): string[] {
  return [name, ms(s.mean), ms(s.p50), ms(s.p90), ms(s.p99), ms(s.max), String(s.count)];
}

function prefixLine(s: MetricsSummary): string {
  const c = s.prefix_cache;
  const out = s.admitted_out_of_order > 0 ? `admitted out of queue order ${s.admitted_out_of_order}\n` : '';
  if (c.lookups === 0) return out;
  return (
    `prefix cache: ${pct(c.hit_rate_tokens)} of prompt tokens cached (${c.hit_tokens} of ${c.lookup_tokens}), ` +
    `${pct(c.hit_rate_requests)} of admissions hit (${c.hits} of ${c.lookups}), ${c.evicted_blocks} blocks evicted\n` +
    out
  );
}

export function formatSummaryTable(s: MetricsSummary, config: { replicas: number; router: { name: string }; scheduler: { name: string }; profile: { name: string } }, engine: Record<string, unknown>): string {
  const head =
    `${config.replicas} x ${config.profile.name}, router ${config.router.name}, scheduler ${config.scheduler.name}\n` +
    `requests ${s.requests}: completed ${s.completed}, rejected ${s.rejected} (max_model_len ${s.rejected_by_reason.max_model_len}, kv_capacity ${s.rejected_by_reason.kv_capacity})\n` +
    `preemptions ${s.preemptions} (${s.preempted_requests} requests, ${pct(s.preempted_fraction)})\n` +
    `throughput ${s.throughput.requests_per_s.toFixed(2)} req/s, ${s.throughput.output_tokens_per_s.toFixed(0)} output tok/s over ${s.makespan_s.toFixed(1)} s\n` +
    `KV utilisation mean ${pct(s.kv_utilization.mean)}, p99 ${pct(s.kv_utilization.p99)}\n` +
    `SLO (TTFT <= ${s.slo.ttft_ms} ms, TPOT <= ${s.slo.tpot_ms} ms): ${pct(s.slo.attainment)} (TTFT ${pct(s.slo.ttft_attainment)}, TPOT ${pct(s.slo.tpot_attainment)})\n` +
    prefixLine(s);
  const table = renderTable(
    ['latency (ms)', 'mean', 'p50', 'p90', 'p99', 'max', 'samples'],
    [latencyRow('TTFT', s.ttft_ms), latencyRow('TPOT', s.tpot_ms), latencyRow('ITL', s.itl_ms), latencyRow('E2E', s.e2e_ms), latencyRow('queueing', s.queue_ms)],
  );
  return `${head}\n${table}\n\nengine: ${engine.description}${engine.fallback ? ` (fell back: ${engine.fallback})` : ''}, ${Number(engine.wall_s).toFixed(2)} s wall`;
}

export function formatComparison(rows: { router: string; scheduler: string; engine: string; summary: MetricsSummary }[]): string {
  const sorted = [...rows].sort((a, b) => a.summary.ttft_ms.p99 - b.summary.ttft_ms.p99);
  return renderTable(
    ['router', 'scheduler', 'TTFT p50', 'TTFT p99', 'TPOT p99', 'E2E p99', 'preempt', 'KV mean', 'SLO', 'req/s'],
    sorted.map(({ router, scheduler, summary: s }) => [
      router,
      scheduler,
      ms(s.ttft_ms.p50),
      ms(s.ttft_ms.p99),
      ms(s.tpot_ms.p99),
      ms(s.e2e_ms.p99),
      String(s.preemptions),
      pct(s.kv_utilization.mean),
      pct(s.slo.attainment),
      s.throughput.requests_per_s.toFixed(2),
    ]),
  );
}
