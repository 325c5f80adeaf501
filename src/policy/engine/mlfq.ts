import { z } from 'zod';
import { batchingParam } from './common-params.js';
import type { EngineScheduler, RequestTable, SchedulerRules } from './types.js';
import { watermarkPermille } from './watermark.js';

const params = z
  .object({
    watermarkPermille: watermarkPermille(0),
    levels: z.number().int().min(1).max(16).default(6).describe('priority queues'),
    baseQuantum: z.number().int().min(1).max(1 << 20).default(16).describe('output tokens a request may generate in the top queue before demotion'),
    quantumGrowth: z.number().int().min(1).max(16).default(2).describe('each lower queue\'s quantum is this many times the one above'),
    promptTokensPerQuantumToken: z
      .number()
      .int()
      .min(1)
      .max(1 << 20)
      .default(64)
      .describe('skip-join: a new request enters the highest queue whose quantum covers ceil(prompt / this)'),
    preemptive: z.boolean().default(true).describe('a waiting request that cannot start displaces a running one of a lower queue'),
    batching: batchingParam,
  })
  .strict();

type Params = z.infer<typeof params>;

const WORDS = 2; // per request: level, level start
const LEVEL = 0;
const LEVEL_START = 1; // generated tokens when the request entered its level

/** Quantum (output tokens) of each level: baseQuantum x growth^level, capped below 2^30. */
function quanta(p: Params): number[] {
  return Array.from({ length: p.levels }, (_, l) => Math.min(2 ** 30, p.baseQuantum * p.quantumGrowth ** l));
}

const levelOf = (t: RequestTable, j: number) => t.words[j * WORDS + LEVEL];

/**
 * FastServe-style skip-join multi-level feedback queue (Wu et al. 2023) with recompute preemption:
 * key = level, FCFS within a level; a new request joins the highest level whose quantum covers its
 * prompt's cost; after generating its level's quantum it is demoted one level (a re-key event); the
 * victim of a block shortage is the last running request (lowest level, newest).
 */
export const mlfq: EngineScheduler<Params> = {
  name: 'mlfq',
  summary: 'FastServe-style skip-join MLFQ: level by prompt length, demotion after a quantum of output tokens',
  params,
  batching: (p) => p.batching,
  key: (t, j) => BigInt(levelOf(t, j)),
  requestWords: WORDS,
  rules: (p): Partial<SchedulerRules> => {
    const q = quanta(p);
    const last = p.levels - 1;
    return {
      initRequest: (t, j) => {
        const cost = Math.ceil(t.promptTokens[j] / p.promptTokensPerQuantumToken);
        let level = 0;
        while (level < last && q[level] < cost) level++;
        t.words[j * WORDS + LEVEL] = level;
        t.words[j * WORDS + LEVEL_START] = 0;
      },
      tokensUntilRekey: (t, j) => {
        const level = levelOf(t, j);
        return level === last ? Infinity : q[level] - (t.generated[j] - t.words[j * WORDS + LEVEL_START]);
      },
      rekeyAfterTokens: (t, j) => {
        const level = levelOf(t, j);
        if (level === last || t.generated[j] - t.words[j * WORDS + LEVEL_START] < q[level]) return false;
        t.words[j * WORDS + LEVEL] = level + 1;
        t.words[j * WORDS + LEVEL_START] = t.generated[j];
        return true;
      },
      displaces: p.preemptive ? (t, h, r) => levelOf(t, r) > levelOf(t, h) : null,
    };
  },
  gpuParams: (p) => [p.levels | (p.quantumGrowth << 8) | (Number(p.preemptive) << 16), p.baseQuantum, p.promptTokensPerQuantumToken],
  samples: [{}, { levels: 1 }, { baseQuantum: 1, quantumGrowth: 1, preemptive: false }, { levels: 16, baseQuantum: 4, promptTokensPerQuantumToken: 1, batching: 'prefill-first' }],
};
