// Which policies the GPU engine can run: those with a WGSL twin beside their TypeScript module.
import { existsSync } from 'node:fs';

const cache = new Map<string, boolean>();

/** Whether `<name>.wgsl` exists beside the policy's TypeScript module (src/policy/router or src/policy/engine). */
export function hasWgslTwin(kind: 'router' | 'scheduler', name: string): boolean {
  const key = `${kind}/${name}`;
  let found = cache.get(key);
  if (found === undefined) {
    found = existsSync(new URL(`./${kind === 'router' ? 'router' : 'engine'}/${name}.wgsl`, import.meta.url));
    cache.set(key, found);
  }
  return found;
}
