// What the scheduler twins' GPU tests share: jobs whose CPU runs count the scheduler's decisions
// (by wrapping its rules or the CPU engine's hooks), each of which must happen at least once per
// group, so a sweep that stopped making them would fail rather than pass vacuously.
import { expect } from 'vitest';
import { firstDifference, type RawMetrics } from '../../src/metrics/record.js';
import type { EngineScheduler, LaneConstants, SchedulerRules } from '../../src/policy/engine/types.js';
import { simulate } from '../../src/sim/cpu/simulator.js';
import { runGpuJobs } from '../../src/sim/gpu/engine.js';
import type { Job } from '../../src/sim/job.js';
import { resolveLane } from '../../src/sim/lane.js';

/** Replaces method `name` of `target` (an object or a prototype) with `wrap(original)` while `run` runs. */
export function patched<T extends object, K extends string>(target: T, name: K, wrap: (original: (...args: any[]) => any) => (...args: any[]) => any, run: () => RawMetrics): RawMetrics {
  const t = target as Record<string, any>;
  const original = t[name];
  t[name] = wrap(original);
  try {
    return run();
  } finally {
    t[name] = original;
  }
}

/** The CPU record of a job, with `scheduler`'s rules replaced by `wrap(rules, params, lane)` for the run. */
export function simulateWithRules<P>(
  job: Job,
  scheduler: EngineScheduler<any>,
  wrap: (rules: Partial<SchedulerRules>, params: P, lane: LaneConstants) => Partial<SchedulerRules>,
): RawMetrics {
  const rules = scheduler.rules!;
  scheduler.rules = (p, lane) => wrap(rules(p, lane), p, lane);
  try {
    return simulate(job.trace, resolveLane(job.spec)).raw;
  } finally {
    scheduler.rules = rules;
  }
}

/**
 * Runs `jobs` on the GPU engine and expects each to run there with the record cpuRecord(job, d)
 * gives, d being the decision counts of the job's group (none(group) when it starts); then every
 * count of every group must be positive.
 */
export async function expectTwinDecisions<D extends { [K in keyof D]: number }>(
  scheduler: string,
  jobs: Job[],
  groupOf: (job: Job) => string,
  none: (group: string) => D,
  cpuRecord: (job: Job, d: D) => RawMetrics,
): Promise<void> {
  const { results } = await runGpuJobs(jobs, { raceTail: false });
  const seen: Record<string, D> = {};
  jobs.forEach((job, i) => {
    const group = groupOf(job);
    const cpu = cpuRecord(job, (seen[group] ??= none(group)));
    expect(results[i].engine, `job ${i}: ${results[i].fallback}`).toBe('gpu');
    expect(firstDifference(results[i].raw, cpu), `job ${i}: ${JSON.stringify(job.spec.scheduler.params)}, ${job.spec.router.name} ${JSON.stringify(job.spec.router.params ?? {})}, ${job.spec.profile.kvBlocks} blocks`).toBeNull();
  });
  console.log(`${scheduler} decisions on the CPU reference: ${JSON.stringify(seen)}`);
  for (const [group, d] of Object.entries(seen)) {
    for (const [decision, n] of Object.entries<number>(d)) expect(n, `${group}: ${decision}`).toBeGreaterThan(0);
  }
}

/** The job's batching parameter (the group of tests that run both batchings). */
export const batchingOf = (job: Job) => String(job.spec.scheduler.params!.batching);
