// Progress on stderr. On a terminal: a bar that appears once work has taken more than `delayMs`.
// Elsewhere (CI logs, Kubernetes pods): nothing, or with `logEveryMs` one line at that interval.
import { createRequire } from 'node:module';
import type cliProgress from 'cli-progress';

export interface Progress {
  update: (done: number, total: number) => void;
  stop: () => void;
}

export interface ProgressOptions {
  /** Show the bar only after this long (default 1 s). */
  delayMs?: number;
  /** Off a terminal, print a line at most this often (default: never). */
  logEveryMs?: number;
  /** Work already done before this run (resumed sweeps), left out of the rate. */
  initial?: number;
}

const require = createRequire(import.meta.url);

export function startProgress(label: string, unit: string, o: ProgressOptions = {}): Progress {
  const started = Date.now();
  const initial = o.initial ?? 0;
  const rate = (done: number) => {
    const s = (Date.now() - started) / 1000;
    return s > 0 ? (done - initial) / s : 0;
  };
  if (process.stderr.isTTY === true) {
    let bar: cliProgress.SingleBar | undefined;
    return {
      update(done, total) {
        if (!bar) {
          if (Date.now() - started < (o.delayMs ?? 1000)) return;
          const { SingleBar, Presets } = require('cli-progress') as typeof cliProgress; // loaded only when a bar is shown
          bar = new SingleBar(
            { format: `${label} [{bar}] {value}/{total} ${unit} | {rate}/s | ETA {eta_formatted}`, stream: process.stderr, hideCursor: true, etaBuffer: 50 },
            Presets.shades_classic,
          );
          bar.start(total, done, { rate: '0.0' });
        }
        bar.setTotal(total);
        bar.update(done, { rate: rate(done).toFixed(1) });
      },
      stop() {
        bar?.stop();
      },
    };
  }
  if (o.logEveryMs === undefined) return { update() {}, stop() {} };
  let last = started;
  let printed = initial;
  return {
    update(done, total) {
      if (done === printed || (Date.now() - last < o.logEveryMs! && done < total)) return;
      last = Date.now();
      printed = done;
      const r = rate(done);
      const eta = r > 0 ? `${Math.round((total - done) / r)} s` : '?';
      process.stderr.write(`${label}: ${done}/${total} ${unit}, ${r.toFixed(1)}/s, ETA ${eta}\n`);
    },
    stop() {},
  };
}
