// Which WGSL a pipeline compiles (no adapter needed): the routers of a scheduler's pipeline depend
// only on the most demanding router present, so runs and tests share compiled shaders.
import { describe, expect, it } from 'vitest';
import { composeEngine, pipelineRouters, slotRecords, type PipelineShape } from '../../src/sim/gpu/compose.js';
import { gpuPolicies } from '../../src/sim/compare.js';
import { router } from '../../src/policy/router/index.js';

const { routers: twinned } = gpuPolicies();
const readsViews = (name: string) => router(name).tokenViews === true;
const readsPrediction = (name: string) => router(name).usesPrediction === true;

describe('pipelineRouters', () => {
  it('adds every twinned router reading no more views than the most demanding one present', () => {
    const plain = pipelineRouters(['round-robin']);
    expect(plain).toContain('least-kv');
    expect(plain.filter(readsViews)).toEqual([]);
    const views = pipelineRouters(['kv-jsq', 'random']);
    expect(views.filter(readsViews).length).toBeGreaterThan(0);
    expect(views.filter(readsPrediction)).toEqual([]);
    expect(views).toEqual(expect.arrayContaining(plain));
    const predicted = pipelineRouters(['sal']);
    expect([...predicted].sort()).toEqual([...twinned.filter((r) => router(r).init === undefined)].sort());
  });

  it('depends on the routers present, not on their order or repetitions', () => {
    expect(pipelineRouters(['least-kv', 'round-robin', 'least-kv'])).toEqual(pipelineRouters(['round-robin']));
    expect(pipelineRouters(['sal', 'random'])).toEqual(pipelineRouters(['token-jsq']));
    expect(pipelineRouters(['prefix-score', 'round-robin'])).toEqual(pipelineRouters(['prefix-affinity']));
    expect(pipelineRouters(['prefix-affinity'])).toEqual(expect.arrayContaining(['prefix-score', ...pipelineRouters(['round-robin'])]));
    // Software adapters: one variant per scheduler, whatever the routers present.
    expect(pipelineRouters(['round-robin'], true)).toEqual(pipelineRouters(['sal']));
  });

  it('gives one WGSL source for every slot capacity and fast-forward setting', () => {
    const shape = (slots: number, fastForward: boolean): PipelineShape => ({ maxReplicas: 16, slots, fastForward, laneMajor: true, loopLimited: true, slotRecords: slotRecords(['sjf']) });
    const policies = { routers: pipelineRouters(['round-robin']), schedulers: ['sjf'], batchings: ['prefill-first'] };
    const code = composeEngine(policies, shape(1024, true));
    expect(composeEngine(policies, shape(2, false))).toBe(code);
    expect(composeEngine(policies, shape(4096, true))).toBe(code);
  });
});
