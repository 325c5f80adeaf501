// Random iteration models and batches for the model tests (CPU and WGSL), drawn from a seed.
import { mix32 } from '../../src/rng.js';
import { MAX_ITERATION_PS, MAX_TOKEN_SEGMENTS, type BatchSums, type IterationModel } from '../../src/model/iteration.js';

export class Draw {
  private x: number;
  constructor(seed: number) {
    this.x = seed >>> 0;
  }
  u32(): number {
    return (this.x = mix32((this.x + 0x9e3779b9) >>> 0));
  }
  /** Uniform in [0, 2^bits) for a random bits in [0, maxBits]: every magnitude gets hit. */
  mag(maxBits: number): number {
    const bits = this.u32() % (maxBits + 1);
    return bits === 0 ? 0 : Math.floor((this.u32() / 2 ** 32) * 2 ** bits);
  }
  int(lo: number, hi: number): number {
    return lo + (this.u32() % (hi - lo + 1));
  }
}

/** A model with every term, coefficients of random magnitudes (some zero), a random segment table. */
export function randomModel(d: Draw): IterationModel {
  const segments: [number, number][] = [];
  let start = d.mag(8);
  const count = d.int(0, MAX_TOKEN_SEGMENTS);
  for (let j = 0; j < count; j++) {
    segments.push([start, d.mag(24)]);
    start += 1 + d.mag(14);
  }
  return {
    base: d.mag(32) % 2 ** 32,
    perPrefillToken: d.mag(20),
    perDecodeSeq: d.mag(20),
    perContextToken: d.mag(8),
    perPrefillSeq: d.mag(20),
    perDecodeContextTokenPs: d.mag(18),
    perPrefillContextTokenPs: d.mag(20),
    perAttendedPairPs: d.mag(14),
    perBatchTokenPs: segments,
  };
}

/** Batch sums of random magnitudes within the GPU's u32 ranges (pairs up to 2^44). */
export function randomSums(d: Draw): BatchSums {
  const prompt = d.mag(20);
  const prefills = prompt === 0 ? 0 : Math.min(prompt, 1 + d.mag(10));
  return {
    prompt,
    decodes: d.mag(16),
    prefills,
    decodeContext: d.mag(30),
    prefillContext: prefills === 0 ? 0 : d.mag(30),
    pairs: prefills === 0 ? 0 : d.mag(44),
  };
}

export const withinBound = (ps: number) => ps <= MAX_ITERATION_PS;
