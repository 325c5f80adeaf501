#!/usr/bin/env node
// Builds the CLI into dist/ (npm ci and npm install run this through the `prepare` script):
// TypeScript compiled with its layout kept (rootDir ".": src/x.ts -> dist/src/x.js), and the files
// the code opens at run time through new URL(relative, import.meta.url) copied to the same relative
// places: shaders/** and every .wgsl and .json file under src/. New files there are picked up
// without changing this script. The build goes to a temporary folder first, so dist/ is never half
// built; dist/.built marks when it was made (bin/schedlab.js compares it with the sources).
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist');
const tmp = join(root, `dist.tmp-${process.pid}`);

function* files(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) yield* files(path);
    else if (e.isFile()) yield path;
  }
}

try {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', tmp], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`tsc failed (exit ${r.status ?? r.signal})`);
  const assets = [...files(join(root, 'shaders')), ...[...files(join(root, 'src'))].filter((f) => /\.(wgsl|json)$/.test(f))];
  for (const file of assets) {
    const target = join(tmp, relative(root, file));
    mkdirSync(dirname(target), { recursive: true });
    cpSync(file, target);
  }
  writeFileSync(join(tmp, '.built'), `${new Date().toISOString()}\n`);
  rmSync(out, { recursive: true, force: true });
  renameSync(tmp, out);
  console.log(`schedlab: built dist/ (${assets.length} asset files copied)`);
} catch (e) {
  rmSync(tmp, { recursive: true, force: true });
  console.error(`schedlab build: ${e.message}`);
  process.exit(1);
}
