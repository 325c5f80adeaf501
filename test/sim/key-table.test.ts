// The prefix cache's open-addressing key table against a Map, through many adds and deletes.
import { describe, expect, it } from 'vitest';
import { draw } from '../../src/rng.js';
import { KeyTable } from '../../src/sim/cpu/key-table.js';

describe('KeyTable', () => {
  it('holds exactly the keys a Map holds through adds, backward-shift deletes and growth', () => {
    const table = new KeyTable();
    const map = new Map<number, number>();
    // Keys shaped like cache keys (chain id x 2^13 + block index), some beyond 2^32, clustered so that probes collide.
    const keyAt = (c: number) => (draw(1, 1, c) % 3000) * 8192 + (draw(1, 2, c) % 5) + (c % 7 === 0 ? 2 ** 40 : 0);
    for (let step = 0; step < 200_000; step++) {
      const key = keyAt(step);
      if (draw(1, 3, step) % 3 < 2) {
        if (!map.has(key)) {
          map.set(key, step);
          table.add(key, step);
        }
      } else if (map.has(key)) {
        map.delete(key);
        table.delete(key);
      }
      expect(table.size).toBe(map.size);
      const probe = keyAt(step + 1_000_000);
      if (table.get(probe) !== (map.get(probe) ?? -1)) expect.fail(`step ${step}: key ${probe} is ${table.get(probe)}, the Map says ${map.get(probe) ?? -1}`);
    }
    for (const [key, id] of map) expect(table.get(key)).toBe(id);
    expect(map.size).toBeGreaterThan(1000);
  });
});
