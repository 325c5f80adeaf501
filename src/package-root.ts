// The package's root directory, whether this code runs from the TypeScript sources (src/) or from
// the JavaScript build (dist/src/, scripts/build.mjs): bundled traces and package.json stay there.
const here = new URL('.', import.meta.url);

export const PACKAGE_ROOT = new URL(here.pathname.endsWith('/dist/src/') ? '../../' : '../', here);

/** A file of the package, e.g. packagePath('traces/azure-conv-2023.csv'). */
export function packagePath(relative: string): string {
  return new URL(relative, PACKAGE_ROOT).pathname;
}
