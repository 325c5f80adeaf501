#!/usr/bin/env node
// Builds the CLI into dist/ (npm ci and npm install run this through the `prepare` script):
// TypeScript compiled with its layout kept (rootDir ".": src/x.ts -> dist/src/x.js), and the files
// the code opens at run time through new URL(relative, import.meta.url) copied to the same relative
// places: shaders/** and every .wgsl and .json file under src/. New files there are picked up
// without changing this script. The packages every command loads at start-up are bundled into one
// file each (dist/vendor/) and imported from there: zod alone is some 100 modules, whose loading
// was a third of `schedlab run`'s start-up. The build goes to a temporary folder first, so dist/ is
// never half built; dist/.built marks when it was made (bin/schedlab.js compares it with the sources).
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
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

/** Packages bundled into dist/vendor/ (bare specifier -> file). Any other import of them fails the build. */
const VENDORED = { zod: 'zod.js', commander: 'commander.js', 'csv-parse/sync': 'csv-parse-sync.js' };

async function vendor(dir) {
  const { build } = await import('esbuild');
  for (const [spec, file] of Object.entries(VENDORED)) {
    await build({
      stdin: { contents: `export * from '${spec}';`, resolveDir: root, loader: 'js' },
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outfile: join(dir, 'vendor', file),
      logLevel: 'warning',
      // CommonJS packages (commander) require() node builtins; give the bundle a require.
      banner: { js: "import { createRequire as __schedlabRequire } from 'node:module'; const require = __schedlabRequire(import.meta.url);" },
    });
  }
  const specifier = /(\bfrom\s*|\bimport\s*\(\s*)(['"])([^'"]+)\2/g;
  for (const file of files(join(dir, 'src'))) {
    if (!file.endsWith('.js')) continue;
    const text = readFileSync(file, 'utf8');
    const out = text.replace(specifier, (m, lead, q, spec) => {
      const target = VENDORED[spec];
      if (!target) {
        if (Object.keys(VENDORED).some((v) => spec.startsWith(`${v.split('/')[0]}/`) || spec === v.split('/')[0])) {
          throw new Error(`${relative(dir, file)} imports '${spec}': import the vendored '${Object.keys(VENDORED).join("', '")}' only, or add it to VENDORED`);
        }
        return m;
      }
      const rel = relative(dirname(file), join(dir, 'vendor', target)).split(sep).join('/');
      return `${lead}${q}${rel.startsWith('.') ? rel : `./${rel}`}${q}`;
    });
    if (out !== text) writeFileSync(file, out);
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
  await vendor(tmp);
  writeFileSync(join(tmp, '.built'), `${new Date().toISOString()}\n`);
  rmSync(out, { recursive: true, force: true });
  renameSync(tmp, out);
  console.log(`schedlab: built dist/ (${assets.length} asset files copied)`);
} catch (e) {
  rmSync(tmp, { recursive: true, force: true });
  console.error(`schedlab build: ${e.message}`);
  process.exit(1);
}
