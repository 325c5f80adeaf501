// `schedlab paper [--quick] --out DIR`: runs the paper's comparisons as sweeps (src/sweep), writes
// one result set and HTML report per experiment (src/report), and judges the claims (claims.ts).
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { writeReport } from '../report/report.js';
import type { EngineChoice } from '../sim/job.js';
import { readAllRows } from '../sweep/database.js';
import { runSweep } from '../sweep/sweep.js';
import { writeAtomic } from '../write-atomic.js';
import { engineComparisons, pointsTable, routerComparisons, verdictTable, type Comparison } from './claims.js';
import { paperExperiments, type Experiment } from './experiments.js';

export interface PaperOptions {
  out: string;
  quick?: boolean;
  engine?: EngineChoice;
  threads?: number;
  resume?: boolean;
}

interface ExperimentResult {
  experiment: Experiment;
  comparisons: Comparison[];
  report: string;
}

/** Per metric: against how many baselines the claim holds, and which baselines break it. */
function claimLines(what: string, comparisons: Comparison[]): string[] {
  const metrics = [...new Set(comparisons.map((c) => c.metric.label))];
  return metrics.map((label) => {
    const cs = comparisons.filter((c) => c.metric.label === label);
    const holds = cs.filter((c) => c.verdict.startsWith('holds')).map((c) => c.baseline);
    const not = cs.filter((c) => !c.verdict.startsWith('holds'));
    const detail = not.map((c) => `${c.baseline}: ${c.verdict}`).join('; ');
    return `- ${what} on ${label}: holds against ${holds.length} of ${cs.length}${not.length ? `; not against ${detail}` : ''}`;
  });
}

/** The verdict table per baseline and the claim lines of one experiment. */
function verdictBlock(candidate: string, comparisons: Comparison[]): string[] {
  return [
    `Verdict per baseline (loads where ${candidate} is better+/worse-):`,
    '```',
    verdictTable(comparisons),
    '```',
    ...claimLines(`${candidate} beats the baseline`, comparisons),
    '',
  ];
}

function section(r: ExperimentResult): string[] {
  const head = [`## ${r.experiment.title}`, `Report: ${r.report}`, ''];
  if (r.experiment.part === 'routers') return [...head, ...verdictBlock('SAL', r.comparisons)];
  return [
    ...head,
    'LARRY vs vLLM FCFS, load by load (better/equal/worse for LARRY; percentiles equal within 1%, throughput within 0.5%):',
    '```',
    pointsTable(r.comparisons.filter((c) => c.baseline === 'vllm-fcfs')),
    '```',
    ...verdictBlock('LARRY', r.comparisons),
  ];
}

/** Every comparison load by load, for the Markdown record. */
function detailSection(r: ExperimentResult): string[] {
  const pairs = [...new Set(r.comparisons.map((c) => `${c.candidate}\u0000${c.baseline}`))];
  return [
    `### ${r.experiment.name}: every comparison`,
    ...pairs.flatMap((pair) => {
      const cs = r.comparisons.filter((c) => `${c.candidate}\u0000${c.baseline}` === pair);
      return ['```', pointsTable(cs), '```'];
    }),
    '',
  ];
}

export async function runPaper(o: PaperOptions): Promise<{ text: string; markdown: string; results: ExperimentResult[]; wallS: number }> {
  const started = performance.now();
  const out = resolve(o.out);
  mkdirSync(join(out, 'specs'), { recursive: true });
  const experiments = paperExperiments(o.quick === true);
  const results: ExperimentResult[] = [];
  let engineLine = '';
  for (const e of experiments) {
    const specPath = join(out, 'specs', `${e.name}.yaml`);
    writeAtomic(specPath, stringify(e.spec));
    process.stderr.write(`paper: ${e.title} (${e.name})\n`);
    const dir = join(out, e.name);
    // One batch per experiment: worker threads start once (their start-up dominates short runs).
    const sweep = await runSweep(specPath, { out: dir, engine: o.engine, threads: o.threads, resume: o.resume, batch: 100_000 });
    if (sweep.backend) engineLine = `${sweep.backend.description}${sweep.backend.note ? ` (${sweep.backend.note})` : ''}`;
    const report = await writeReport(dir);
    const { rows } = await readAllRows(dir);
    const comparisons = e.part === 'engine' ? engineComparisons(e, rows) : routerComparisons(e, rows);
    results.push({ experiment: e, comparisons, report });
  }
  const wallS = (performance.now() - started) / 1000;
  const head = [
    `# schedlab paper${o.quick ? ' --quick' : ''}: the claims of Kossmann et al. (2024), judged on schedlab's reading of LARRY and SAL`,
    '',
    `${experiments.length} experiments, ${wallS.toFixed(1)} s; engine: ${engineLine || 'all results reused'}. LARRY and SAL are schedlab's own precise readings (docs/policies.md), not the authors' algorithms.`,
    '',
  ];
  const sections = results.flatMap(section);
  const text = [...head, ...sections].join('\n');
  const markdown = [text, '# Load-by-load numbers', '', ...results.flatMap(detailSection)].join('\n');
  writeAtomic(join(out, 'verdict.md'), markdown + '\n');
  writeAtomic(join(out, 'verdict.json'), JSON.stringify({ quick: o.quick === true, wall_s: wallS, engine: engineLine, comparisons: results.flatMap((r) => r.comparisons) }, null, 2) + '\n');
  return { text, markdown, results, wallS };
}
