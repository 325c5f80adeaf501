#!/usr/bin/env node
// The schedlab command. Runs the JavaScript that `npm ci` builds into dist/ (the prepare script,
// scripts/build.mjs). Where dist/ is missing or older than a source file (a checkout edited since
// the last build), it runs the TypeScript sources through tsx instead: slower to start, never stale.
import { existsSync, readdirSync, statSync } from 'node:fs';

const root = new URL('../', import.meta.url);

function newestMtime(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = `${dir}/${e.name}`;
    newest = Math.max(newest, e.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

function builtIsCurrent() {
  const stamp = new URL('dist/.built', root).pathname;
  if (!existsSync(stamp)) return false;
  const built = statSync(stamp).mtimeMs;
  return ['src', 'shaders'].every((d) => newestMtime(new URL(d, root).pathname) <= built);
}

let cli;
if (builtIsCurrent()) {
  cli = await import('../dist/src/cli.js');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import('../src/cli.ts');
}
await cli.runCli();
