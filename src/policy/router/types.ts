import { z } from 'zod';
import type { RequestShape } from '../engine/types.js';

/**
 * What a router sees of the cluster at a request's arrival instant (after same-instant iteration
 * ends). Every per-replica view is kept event by event (never recounted by a scan) and checked
 * against a recount in the invariant tests (docs/semantics.md, INV-3).
 */
export interface ClusterView {
  replicas: number;
  /** Requests routed to the replica and not finished: waiting plus running. */
  outstanding: ArrayLike<number>;
  /** KV blocks in use, including those allocated for iterations in progress. */
  usedBlocks: ArrayLike<number>;
  /** Prompt tokens still to prefill (waiting requests, unfinished chunks, recomputations after preemption). */
  queuedPrefillTokens: ArrayLike<number>;
  /** Output tokens still to generate by outstanding requests (an oracle view: trace lengths are known). */
  remainingDecodeTokens: ArrayLike<number>;
  /**
   * Sum over outstanding requests of max(predicted - generated, 0): remainingDecodeTokens as the
   * lane's predictor sees it. Kept only for routers that declare usesPrediction (zeros otherwise).
   */
  predictedDecodeTokens: ArrayLike<number>;
  /** KV blocks per replica and tokens per block (the lane's profile). */
  kvBlocks: number;
  blockSize: number;
  /** Requests routed so far (rejected ones are not routed). */
  routed: number;
}

/** What a router with its own state learns once, at the start of a run. */
export interface RouterSetup {
  replicas: number;
  kvBlocks: number;
  blockSize: number;
  /** Prompt tokens per prefix unit of the trace (0 when it has no prefix hashes). */
  prefixUnitTokens: number;
}

export interface Router<P = Record<string, never>, S = undefined> {
  name: string;
  summary: string;
  params: z.ZodType<P>;
  /** Parameter sets the GPU differential test draws from (src/sim/compare.ts), once the router has a twin. */
  samples?: readonly Record<string, unknown>[];
  /** Reads predictedDecodeTokens (the simulator keeps that view only then). */
  usesPrediction?: boolean;
  /**
   * Reads queuedPrefillTokens, remainingDecodeTokens or predictedDecodeTokens: the GPU engine keeps
   * those views only in pipelines with such a router.
   */
  tokenViews?: boolean;
  /** The parameters its WGSL twin reads (cfg.router_params), at most 4 u32, from the resolved parameters. */
  gpuParams?(params: P, lane: { kvBlocks: number }): number[];
  /** Reads the request's prefix units (the simulator prepares them only then). */
  usesPrefixes?: boolean;
  /**
   * The router's own memory (e.g. what it routed where), created at the start of a run and changed
   * only by route(); integers, bounded by the lane's parameters.
   */
  init?(setup: RouterSetup, params: P): S;
  /**
   * How stale the replica views it reads are: a snapshot refreshed every this many µs
   * (docs/semantics.md, "Routers"); 0 or absent: live views.
   */
  refreshUs?(params: P): number;
  route(view: ClusterView, request: RequestShape, seed: number, params: P, state: S): number;
}

/** A router parameter: its replica views are a snapshot refreshed every this many ms (0: live). */
export const refreshMs = (fallback: number) =>
  z.number().int().min(0).max(3_600_000).default(fallback).describe('replica views (load, KV use) are a snapshot refreshed every this many ms; 0: live');

/**
 * Index of the smallest (primary(r), secondary(r)) in lexicographic order; full ties go to the first
 * replica met scanning from startAt mod R, so an idle cluster spreads requests instead of piling
 * them on replica 0.
 */
export function argminRotating(
  replicas: number,
  startAt: number,
  primary: (replica: number) => number,
  secondary: (replica: number) => number = () => 0,
): number {
  const start = startAt % replicas;
  let best = start;
  for (let i = 1; i < replicas; i++) {
    const r = (start + i) % replicas;
    const p = primary(r);
    const bestP = primary(best);
    if (p < bestP || (p === bestP && secondary(r) < secondary(best))) best = r;
  }
  return best;
}

/** The fewest and most outstanding requests on any replica. */
export function outstandingRange(view: ClusterView): { min: number; max: number } {
  let min = view.outstanding[0];
  let max = min;
  for (let r = 1; r < view.replicas; r++) {
    min = Math.min(min, view.outstanding[r]);
    max = Math.max(max, view.outstanding[r]);
  }
  return { min, max };
}
