// Result files are written completely or not at all: a temp file beside the target, then rename.
import { renameSync, writeFileSync } from 'node:fs';

export function writeAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}
