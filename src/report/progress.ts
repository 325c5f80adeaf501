// A progress bar on stderr that appears only once work has taken more than a second,
// and only on a terminal (CI logs stay clean).
import cliProgress from 'cli-progress';

export interface Progress {
  update: (done: number, total: number) => void;
  stop: () => void;
}

export function startProgress(label: string, unit: string, delayMs = 1000): Progress {
  const started = Date.now();
  let bar: cliProgress.SingleBar | undefined;
  const enabled = process.stderr.isTTY === true;
  return {
    update(done, total) {
      if (!enabled) return;
      if (!bar) {
        if (Date.now() - started < delayMs) return;
        bar = new cliProgress.SingleBar(
          { format: `${label} [{bar}] {value}/{total} ${unit} | {percentage}% | ETA {eta_formatted}`, stream: process.stderr, hideCursor: true },
          cliProgress.Presets.shades_classic,
        );
        bar.start(total, done);
      }
      bar.setTotal(total);
      bar.update(done);
    },
    stop() {
      bar?.stop();
    },
  };
}
