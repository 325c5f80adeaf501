// Stateless counter-based randomness shared with shaders/rng.wgsl: draw n of stream s under seed k
// is hash(hash(hash(k) ^ s) ^ n). No state crosses requests or lanes, so order never matters.

/** lowbias32 (C. Wellons): a u32 -> u32 bijection with good avalanche. */
export function mix32(value: number): number {
  let x = value >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

export function draw(seed: number, stream: number, counter: number): number {
  return mix32((mix32((mix32(seed) ^ stream) >>> 0) ^ counter) >>> 0);
}

/** Streams: one per independent use, so adding a use never shifts another's draws. */
export const Stream = {
  routerFirst: 1,
  routerSecond: 2,
  /** Output-length prediction error (src/policy/predictor/noisy.ts). */
  predictor: 3,
} as const;
