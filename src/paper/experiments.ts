// The comparisons of Kossmann et al. (2024) as sweep specs: (a) every engine scheduler on one
// replica across offered load; (b) every router in front of vllm-fcfs, chunked-prefill and larry on
// 4 and 8 replicas across load; each on the bundled Azure and Mooncake conversation traces.
import { DEFAULT_PROFILE } from '../model/profile.js';
import { packagePath } from '../package-root.js';
import { defaultBatching, SCHEDULER_NAMES } from '../policy/engine/index.js';
import { ROUTER_NAMES } from '../policy/router/index.js';

/** A sweep spec object (validated by src/sweep/spec.ts when the sweep loads it). */
export type SpecObject = Record<string, unknown>;

export interface Experiment {
  /** Result directory and spec file name. */
  name: string;
  title: string;
  part: 'engine' | 'routers';
  trace: PaperTrace;
  replicas: number;
  spec: SpecObject;
}

export interface PaperTrace {
  id: 'azure' | 'mooncake';
  title: string;
  file: string;
  format: string;
  /** Profile overrides of the default preset (docs/paper-reproduction.md says why). */
  profile: Record<string, number>;
  /** Offered load per replica (rate scale / replicas), light to past saturation. */
  loads: { full: number[]; quick: number[] };
  /** Window of the trace in seconds (null: all of it). */
  duration: { full: number | null; quick: number };
}

export const PAPER_TRACES: PaperTrace[] = [
  {
    id: 'azure',
    title: 'Azure LLM conversation trace (2023)',
    file: 'azure-conv-2023.csv',
    format: 'azure',
    // 6,000 blocks (96k tokens): memory binds before the 256-sequence limit near saturation.
    profile: { kvBlocks: 6000, maxModelLen: 16384 },
    loads: { full: [1, 1.5, 2, 2.5, 3, 4], quick: [1, 2, 3] },
    duration: { full: null, quick: 600 },
  },
  {
    id: 'mooncake',
    title: 'Mooncake conversation trace (first 10 minutes)',
    file: 'mooncake-conversation-10min.jsonl',
    format: 'mooncake',
    // Prompts reach 123k tokens: a 128k context (Llama-3.1) so that none is rejected for length.
    profile: { kvBlocks: 26624, maxModelLen: 131072 },
    loads: { full: [0.1, 0.2, 0.3, 0.4, 0.5, 0.75], quick: [0.2, 0.4, 0.6] },
    duration: { full: null, quick: 300 },
  },
];

/** Token budget of the chunked schedulers (vLLM's, SGLang's and TensorRT-LLM's common 8192). */
export const CHUNKED_BUDGET = 8192;
export const ROUTER_SCHEDULERS = ['vllm-fcfs', 'chunked-prefill', 'larry'];
const QUICK_ROUTERS = ['round-robin', 'least-outstanding', 'sal'];

const traceDir = packagePath('traces/');

function spec(name: string, t: PaperTrace, quick: boolean, replicas: number, grid: Record<string, unknown[]>, schedulers: string[]): SpecObject {
  const whole = schedulers.filter((s) => defaultBatching(s).wholePrompts);
  const chunked = schedulers.filter((s) => !whole.includes(s));
  const rules = [
    ...(whole.length ? [{ when: { scheduler: whole }, set: { 'profile.maxBatchedTokens': t.profile.maxModelLen } }] : []),
    ...(chunked.length ? [{ when: { scheduler: chunked }, set: { 'profile.maxBatchedTokens': CHUNKED_BUDGET } }] : []),
  ];
  return {
    name,
    description: `schedlab paper${quick ? ' --quick' : ''}: ${t.title}, ${replicas} replica(s)`,
    traces: { [t.id]: { path: traceDir + t.file, format: t.format } },
    fixed: {
      'window.start': 0,
      'window.duration': quick ? t.duration.quick : t.duration.full,
      replicas,
      profile: DEFAULT_PROFILE,
      'profile.kvBlocks': t.profile.kvBlocks,
      'profile.maxModelLen': t.profile.maxModelLen,
      seed: 0,
    },
    grid: { ...grid, rateScale: (quick ? t.loads.quick : t.loads.full).map((l) => Number((l * replicas).toPrecision(6))) },
    rules,
  };
}

export function paperExperiments(quick: boolean): Experiment[] {
  const out: Experiment[] = [];
  for (const t of PAPER_TRACES) {
    const name = `engine-${t.id}`;
    out.push({
      name,
      title: `Engine schedulers on 1 replica: ${t.title}`,
      part: 'engine',
      trace: t,
      replicas: 1,
      spec: spec(name, t, quick, 1, { router: ['round-robin'], scheduler: SCHEDULER_NAMES }, SCHEDULER_NAMES),
    });
  }
  for (const t of PAPER_TRACES) {
    for (const replicas of quick ? [4] : [4, 8]) {
      const name = `routers-${t.id}-${replicas}`;
      out.push({
        name,
        title: `Routers on ${replicas} replicas: ${t.title}`,
        part: 'routers',
        trace: t,
        replicas,
        spec: spec(name, t, quick, replicas, { router: quick ? QUICK_ROUTERS : ROUTER_NAMES, scheduler: ROUTER_SCHEDULERS }, ROUTER_SCHEDULERS),
      });
    }
  }
  return out;
}
