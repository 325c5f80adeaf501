// Profile files: what `run --json` prints loads back, and a wrong field is named.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveProfile } from '../../src/model/profile.js';

const dir = mkdtempSync(join(tmpdir(), 'schedlab-profile-'));
function file(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(content));
  return path;
}

describe('profile files', () => {
  it('load the profile run --json prints (with its name), the path naming it', () => {
    const printed = resolveProfile('llama3-8b-h100');
    const path = file('printed.json', printed);
    const loaded = resolveProfile(path);
    expect({ ...loaded, name: printed.name }).toEqual(printed);
    expect(loaded.name).toBe(path);
  });

  it('name unknown fields, at the top level with the valid ones, and inside iterationNs', () => {
    const base = { ...resolveProfile('tiny-test') } as Record<string, unknown>;
    expect(() => resolveProfile(file('top.json', { ...base, kvBlock: 3 }))).toThrow(/top level: unknown field\(s\) "kvBlock"; valid: .*kvBlocks/);
    const nested = { ...base, iterationNs: { ...(base.iterationNs as object), perToken: 1 } };
    expect(() => resolveProfile(file('nested.json', nested))).toThrow(/field iterationNs: unknown field\(s\) "perToken"/);
  });
});
