import { z } from 'zod';

/** vLLM's admission watermark: a prompt is admitted only if this many permille of the KV blocks stay free. */
export const watermarkPermille = (fallback: number) =>
  z.number().int().min(0).max(999).default(fallback).describe('KV blocks (per mille of capacity) that admission keeps free');
