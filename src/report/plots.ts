// Report plots: Vega-Lite specs compiled to Vega and rendered headless to SVG strings (no DOM, no network).
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { paretoFront } from '../sweep/best.js';
import type { Row } from '../sweep/results.js';

export interface Plot {
  id: string;
  title: string;
  caption: string;
  svg: string;
}

const CONFIG = {
  font: 'system-ui, -apple-system, Segoe UI, Roboto, sans-serif',
  axis: { labelFontSize: 11, titleFontSize: 12 },
  legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 260 },
  view: { stroke: '#ddd' },
};

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const vgSpec = compile({ ...spec, config: { ...CONFIG, ...(spec as { config?: object }).config } } as TopLevelSpec).spec;
  const view = new vega.View(vega.parse(vgSpec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** The policy a row ran: router + scheduler, and the prefix cache when it was on. */
export function policyOf(r: Row): string {
  return `${r.router} + ${r.scheduler}${r.prefix_cache === 'on' ? ' + prefix cache' : ''}`;
}

/** Rows with the derived fields the plots use. */
function plotRows(rows: Row[]): Record<string, unknown>[] {
  return rows.map((r) => ({
    ...r,
    policy: policyOf(r),
    preemptions_per_1k_requests: (r.requests as number) > 0 ? ((r.preemptions as number) * 1000) / (r.requests as number) : 0,
  }));
}

const LATENCY = [
  ['ttft_ms_p50', 'TTFT p50 (ms)'],
  ['ttft_ms_p99', 'TTFT p99 (ms)'],
  ['tpot_ms_p99', 'TPOT p99 (ms)'],
  ['e2e_ms_p99', 'E2E p99 (ms)'],
] as const;

function loadScale(rows: Row[]): { type: 'log' | 'linear'; base?: number; zero?: boolean } {
  const rates = rows.map((r) => r.rate_scale as number).filter((v) => v > 0);
  const lo = Math.min(...rates);
  const hi = Math.max(...rates);
  return hi / lo >= 4 ? { type: 'log', base: 2 } : { type: 'linear', zero: false };
}

function policyColor(policies: string[]) {
  return { field: 'policy', type: 'nominal' as const, title: 'router + scheduler', scale: { domain: policies, scheme: policies.length <= 10 ? 'tableau10' : 'tableau20' } };
}

export async function buildPlots(rows: Row[]): Promise<Plot[]> {
  const data = plotRows(rows);
  const policies = [...new Set(data.map((d) => d.policy as string))].sort();
  const rates = [...new Set(rows.map((r) => r.rate_scale as number))].sort((a, b) => a - b);
  const xLoad = { field: 'rate_scale', type: 'quantitative' as const, title: 'load (rate scale)', scale: loadScale(rows), axis: rates.length <= 12 ? { values: rates } : {} };
  const plots: Plot[] = [];
  const multiConfigs = rows.length > new Set(rows.map((r) => `${policyOf(r)}@${r.rate_scale}`)).size;
  const agg = multiConfigs ? 'median' : 'mean';
  const aggNote = multiConfigs ? ' Where several configurations share a policy and load, the line shows their median and the dots each configuration.' : '';

  plots.push({
    id: 'latency-vs-load',
    title: 'Latency percentiles vs load, per policy',
    caption: `Each panel is one latency percentile; x is the arrival-rate multiplier, colour the router + scheduler pair.${aggNote}`,
    svg: await renderSvg({
      $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
      data: { values: data },
      transform: [{ fold: LATENCY.map(([k]) => k), as: ['metric', 'value'] }, { filter: 'datum.value > 0' }, { calculate: `{${LATENCY.map(([k, t]) => `'${k}': '${t}'`).join(', ')}}[datum.metric]`, as: 'metric_title' }],
      facet: { field: 'metric_title', type: 'nominal', title: null, sort: LATENCY.map(([, t]) => t) },
      columns: 2,
      spec: {
        width: 320,
        height: 200,
        layer: [
          {
            mark: { type: 'line', point: true, strokeWidth: 1.5 },
            encoding: { x: xLoad, y: { aggregate: agg, field: 'value', type: 'quantitative', title: 'ms (log scale)', scale: { type: 'log' } }, color: policyColor(policies) },
          },
          ...(multiConfigs
            ? [{ mark: { type: 'point' as const, opacity: 0.25, size: 12 }, encoding: { x: xLoad, y: { field: 'value', type: 'quantitative' as const }, color: policyColor(policies) } }]
            : []),
        ],
      },
      resolve: { scale: { y: 'independent' } },
    } as TopLevelSpec),
  });

  const front = policies.flatMap((p) =>
    paretoFront(
      data.filter((d) => d.policy === p) as Row[],
      { column: 'throughput_output_tokens_per_s', direction: 'max' },
      { column: 'ttft_ms_p99', direction: 'min' },
    ).map((r) => ({ policy: p, throughput_output_tokens_per_s: r.throughput_output_tokens_per_s, ttft_ms_p99: r.ttft_ms_p99 })),
  );
  plots.push({
    id: 'pareto',
    title: 'Throughput vs p99 TTFT: Pareto fronts',
    caption: 'Every configuration is a dot; each line joins the configurations of one policy that no other configuration of that policy beats on both output throughput (higher is better) and p99 TTFT (lower is better).',
    svg: await renderSvg({
      $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
      width: 640,
      height: 360,
      layer: [
        {
          data: { values: data },
          transform: [{ filter: 'datum.ttft_ms_p99 > 0' }],
          mark: { type: 'point', opacity: 0.35, size: 20 },
          encoding: {
            x: { field: 'ttft_ms_p99', type: 'quantitative', title: 'TTFT p99 (ms, log scale)', scale: { type: 'log' } },
            y: { field: 'throughput_output_tokens_per_s', type: 'quantitative', title: 'output tokens/s' },
            color: policyColor(policies),
          },
        },
        {
          data: { values: front.filter((f) => (f.ttft_ms_p99 as number) > 0) },
          mark: { type: 'line', point: true, strokeWidth: 2 },
          encoding: {
            x: { field: 'ttft_ms_p99', type: 'quantitative' },
            y: { field: 'throughput_output_tokens_per_s', type: 'quantitative' },
            color: policyColor(policies),
            order: { field: 'ttft_ms_p99', type: 'quantitative' },
          },
        },
      ],
    } as TopLevelSpec),
  });

  plots.push({
    id: 'throughput-vs-load',
    title: 'Throughput vs load',
    caption: `Output tokens per second over the makespan (the last completion): equal across policies below saturation, where every request completes as it arrives.${aggNote}`,
    svg: await renderSvg({
      $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
      data: { values: data },
      width: 640,
      height: 260,
      mark: { type: 'line', point: true },
      encoding: { x: xLoad, y: { aggregate: agg, field: 'throughput_output_tokens_per_s', type: 'quantitative', title: 'output tokens/s' }, color: policyColor(policies) },
    } as TopLevelSpec),
  });

  plots.push({
    id: 'preemption',
    title: 'Preemption rate and share of requests preempted vs load',
    caption: `Left: preemptions (recomputations) per 1000 requests. Right: share of requests preempted at least once.${aggNote}`,
    svg: await renderSvg({
      $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
      data: { values: data },
      transform: [
        { fold: ['preemptions_per_1k_requests', 'preempted_fraction'], as: ['metric', 'value'] },
        { calculate: "datum.metric === 'preempted_fraction' ? 'share of requests preempted' : 'preemptions per 1000 requests'", as: 'metric_title' },
      ],
      facet: { field: 'metric_title', type: 'nominal', title: null, sort: ['preemptions per 1000 requests', 'share of requests preempted'] },
      spec: {
        width: 320,
        height: 220,
        mark: { type: 'line', point: true },
        encoding: { x: xLoad, y: { aggregate: agg, field: 'value', type: 'quantitative', title: null }, color: policyColor(policies) },
      },
      resolve: { scale: { y: 'independent' } },
    } as TopLevelSpec),
  });

  plots.push({
    id: 'kv-utilisation',
    title: 'KV-cache utilisation vs load',
    caption: `Mean and p99 share of KV blocks in use, sampled every iteration.${aggNote}`,
    svg: await renderSvg({
      $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
      data: { values: data },
      transform: [{ fold: ['kv_utilization_mean', 'kv_utilization_p99'], as: ['metric', 'value'] }],
      facet: { field: 'metric', type: 'nominal', title: null },
      spec: {
        width: 320,
        height: 220,
        mark: { type: 'line', point: true },
        encoding: { x: xLoad, y: { aggregate: agg, field: 'value', type: 'quantitative', title: 'share of KV blocks', axis: { format: '%' } }, color: policyColor(policies) },
      },
    } as TopLevelSpec),
  });

  if (rows.some((r) => (r.prefix_cache_lookups as number) > 0)) {
    plots.push({
      id: 'prefix-cache',
      title: 'Prefix-cache hit rate vs load',
      caption: `Left: share of the prompt tokens looked up at admission that were found cached. Right: share of admissions that found a cached prefix.${aggNote}`,
      svg: await renderSvg({
        $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
        data: { values: data.filter((d) => (d.prefix_cache_lookups as number) > 0) },
        transform: [
          { fold: ['prefix_cache_hit_rate_tokens', 'prefix_cache_hit_rate_requests'], as: ['metric', 'value'] },
          { calculate: "datum.metric === 'prefix_cache_hit_rate_tokens' ? 'prompt tokens cached' : 'admissions with a hit'", as: 'metric_title' },
        ],
        facet: { field: 'metric_title', type: 'nominal', title: null, sort: ['prompt tokens cached', 'admissions with a hit'] },
        spec: {
          width: 320,
          height: 220,
          mark: { type: 'line', point: true },
          encoding: { x: xLoad, y: { aggregate: agg, field: 'value', type: 'quantitative', title: null, axis: { format: '%' } }, color: policyColor(policies) },
        },
      } as TopLevelSpec),
    });
  }
  return plots;
}
