// The GPU engine's work, counted by the shader (WORK_COUNTERS) and the host: adapter-independent
// figures that show what a change to the engine saves, on any machine (`schedlab bench --work`).
import { WORK_FIELDS, type JobResult } from '../job.js';
import type { HostWork } from './engine.js';

export interface WorkReport {
  lanes: number;
  /** Lanes whose record came from the GPU (fallback lanes have no counters). */
  gpuLanes: number;
  submits: number;
  dispatches: number;
  dispatchesPerSubmit: number;
  instantsPerLane: number;
  /** Means per lane instant, over all GPU lanes' instants. */
  perInstant: {
    storageAccesses: number;
    storageLoads: number;
    storageStores: number;
    visits: number;
    loopIterations: number;
    foldIterations: number;
  };
  /** The heaviest lane's instants and storage accesses: a lower bound on the run's serial time. */
  heaviestLane: { instants: number; storageAccesses: number };
}

export function workReport(results: JobResult[], host: HostWork): WorkReport {
  const field = (name: (typeof WORK_FIELDS)[number]) => WORK_FIELDS.indexOf(name);
  const total = new Array<number>(WORK_FIELDS.length).fill(0);
  let gpuLanes = 0;
  let heaviest = { instants: 0, storageAccesses: 0 };
  for (const r of results) {
    if (!r.work) continue;
    gpuLanes++;
    r.work.forEach((v, c) => (total[c] += v));
    const accesses = r.work[field('storageLoads')] + r.work[field('storageStores')];
    if (accesses > heaviest.storageAccesses) heaviest = { instants: r.work[field('instants')], storageAccesses: accesses };
  }
  const instants = total[field('instants')];
  const per = (name: (typeof WORK_FIELDS)[number]) => (instants > 0 ? total[field(name)] / instants : 0);
  return {
    lanes: results.length,
    gpuLanes,
    submits: host.submits,
    dispatches: host.dispatches,
    dispatchesPerSubmit: host.submits > 0 ? host.dispatches / host.submits : 0,
    instantsPerLane: gpuLanes > 0 ? instants / gpuLanes : 0,
    perInstant: {
      storageAccesses: per('storageLoads') + per('storageStores'),
      storageLoads: per('storageLoads'),
      storageStores: per('storageStores'),
      visits: per('visits'),
      loopIterations: per('loopIterations'),
      foldIterations: per('foldIterations'),
    },
    heaviestLane: heaviest,
  };
}

export function formatWorkReport(w: WorkReport): string {
  const f = (v: number) => v.toFixed(1);
  const p = w.perInstant;
  return [
    `lanes ${w.lanes} (${w.gpuLanes} on the GPU); submits ${w.submits}, dispatches ${w.dispatches} (${f(w.dispatchesPerSubmit)} per submit)`,
    `instants per lane ${f(w.instantsPerLane)}`,
    `per lane instant: storage accesses ${f(p.storageAccesses)} (loads ${f(p.storageLoads)}, stores ${f(p.storageStores)}), ` +
      `request visits ${f(p.visits)}, loop iterations ${f(p.loopIterations)}, folded iterations ${f(p.foldIterations)}`,
    `heaviest lane: ${w.heaviestLane.instants} instants, ${w.heaviestLane.storageAccesses} storage accesses`,
  ].join('\n');
}
