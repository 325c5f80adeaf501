// What `compare` and `bench` share: a one-line job description and a progress bar per engine.
import { startProgress } from '../report/progress.js';
import type { Job } from '../sim/job.js';

export function describeJob(job: Job): string {
  const p = job.spec.profile;
  return (
    `${job.spec.router.name} x ${job.spec.scheduler.name}, ${job.spec.replicas} replica(s), ${p.name}` +
    ` kv ${p.kvBlocks}x${p.blockSize}, seqs ${p.maxNumSeqs}, tokens ${p.maxBatchedTokens}, ${job.trace.arrivalUs.length} requests` +
    (job.spec.prefixCache === 'on' ? ', prefix cache on' : '')
  );
}

export function progressFor(label: string) {
  const bars = { gpu: startProgress(`${label} gpu`, 'configs'), cpu: startProgress(`${label} cpu`, 'configs') };
  return {
    update: (engine: 'gpu' | 'cpu', done: number, total: number) => {
      if (engine === 'cpu') bars.gpu.stop();
      bars[engine].update(done, total);
    },
    stop: () => {
      bars.gpu.stop();
      bars.cpu.stop();
    },
  };
}
