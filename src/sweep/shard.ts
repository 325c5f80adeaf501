// Deterministic shards: shard i of n holds the configurations whose index is i modulo n, so every
// shard gets a similar mix of cheap and expensive configurations.
import { ConfigError } from '../model/profile.js';

export interface Shard {
  index: number;
  count: number;
}

/** Parses "i/n" (0-based i). */
export function parseShard(text: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!m) throw new ConfigError(`--shard must look like i/n with 0 <= i < n (e.g. 0/4), got "${text}"`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (!(count >= 1) || index >= count) throw new ConfigError(`--shard ${text}: need 0 <= i < n and n >= 1`);
  return { index, count };
}

export function inShard(configIndex: number, shard: Shard | null): boolean {
  return shard === null || configIndex % shard.count === shard.index;
}

export function selectShard<T extends { index: number }>(items: T[], shard: Shard | null): T[] {
  return shard === null ? items : items.filter((c) => inShard(c.index, shard));
}
