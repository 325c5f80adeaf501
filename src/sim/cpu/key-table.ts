// An open-addressing map from cache keys (integers below 2^53) to small integer ids, in typed arrays:
// linear probing, deletion by backward shift (no tombstones), doubling when half full. The prefix
// cache's entry lookup; the records never depend on its layout, only on which keys it holds.
import { mix32 } from '../../rng.js';

const EMPTY = -1;
const U32 = 2 ** 32;

export class KeyTable {
  private keys = new Float64Array(64);
  private ids = new Int32Array(64).fill(EMPTY);
  private mask = 63;
  size = 0;

  get(key: number): number {
    for (let s = this.slot(key); ; s = (s + 1) & this.mask) {
      const id = this.ids[s];
      if (id === EMPTY || this.keys[s] === key) return id;
    }
  }

  /** Adds a key that is not in the table. */
  add(key: number, id: number): void {
    if (2 * (this.size + 1) > this.ids.length) this.grow();
    let s = this.slot(key);
    while (this.ids[s] !== EMPTY) s = (s + 1) & this.mask;
    this.keys[s] = key;
    this.ids[s] = id;
    this.size++;
  }

  /** Removes a key that is in the table, shifting back the keys probed past it. */
  delete(key: number): void {
    let s = this.slot(key);
    while (this.keys[s] !== key || this.ids[s] === EMPTY) s = (s + 1) & this.mask;
    for (let next = (s + 1) & this.mask; this.ids[next] !== EMPTY; next = (next + 1) & this.mask) {
      const home = this.slot(this.keys[next]);
      // The key at `next` may move into the hole at s if its home slot is not cyclically in (s, next].
      if (((next - home) & this.mask) >= ((next - s) & this.mask)) {
        this.keys[s] = this.keys[next];
        this.ids[s] = this.ids[next];
        s = next;
      }
    }
    this.ids[s] = EMPTY;
    this.size--;
  }

  private slot(key: number): number {
    return mix32((key % U32) ^ mix32(Math.floor(key / U32))) & this.mask;
  }

  private grow(): void {
    const { keys, ids } = this;
    this.keys = new Float64Array(keys.length * 2);
    this.ids = new Int32Array(ids.length * 2).fill(EMPTY);
    this.mask = this.ids.length - 1;
    this.size = 0;
    for (let s = 0; s < ids.length; s++) if (ids[s] !== EMPTY) this.add(keys[s], ids[s]);
  }
}
