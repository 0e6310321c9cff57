import { compareKeys } from "../../api/key-order.js";
import type { KeyRange } from "../../api/range.js";

/** Keys per block before it splits in two: small enough that a splice is cheap, large enough that blocks are few. */
const MAX_BLOCK = 1024;

/** First index in `keys` (sorted) whose key is not less than `key`. */
function lowerBound(keys: readonly string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareKeys(keys[mid] as string, key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Keys kept sorted in byte order, for range scans (values live in a Map beside it). The keys sit in a list of sorted
 * blocks, so an insert or removal moves at most one block's worth of entries: cost stays flat from a thousand keys
 * to millions, where one flat sorted array would move half of them on every insert.
 */
export class SortedKeys {
  /** Non-empty, each sorted, in order: every key of a block sorts before every key of the next. */
  private readonly blocks: string[][] = [];

  /** An independent copy (the keys themselves are shared: strings). */
  copy(): SortedKeys {
    const copy = new SortedKeys();
    for (const block of this.blocks) copy.blocks.push(block.slice());
    return copy;
  }

  insert(key: string): void {
    if (this.blocks.length === 0) {
      this.blocks.push([key]);
      return;
    }
    const b = Math.min(this.blockFor(key), this.blocks.length - 1);
    const block = this.blocks[b] as string[];
    const at = lowerBound(block, key);
    if (block[at] === key) return;
    block.splice(at, 0, key);
    if (block.length > MAX_BLOCK) this.blocks.splice(b + 1, 0, block.splice(block.length >>> 1));
  }

  remove(key: string): void {
    const b = this.blockFor(key);
    const block = this.blocks[b];
    if (block === undefined) return;
    const at = lowerBound(block, key);
    if (block[at] !== key) return;
    block.splice(at, 1);
    if (block.length === 0) this.blocks.splice(b, 1);
  }

  /** The keys inside `range`, ascending or (reverse) descending. Do not insert or remove while iterating. */
  *scan(range: KeyRange, reverse: boolean): Generator<string> {
    if (reverse) yield* this.descending(range);
    else yield* this.ascending(range);
  }

  private *ascending(range: KeyRange): Generator<string> {
    let b = 0;
    let i = 0;
    if (range.lower !== undefined) {
      b = this.blockFor(range.lower);
      const block = this.blocks[b];
      if (block === undefined) return;
      i = lowerBound(block, range.lower);
      if (!range.lowerInclusive && block[i] === range.lower) i += 1;
    }
    for (; b < this.blocks.length; b++, i = 0) {
      const block = this.blocks[b] as string[];
      for (; i < block.length; i++) {
        const key = block[i] as string;
        if (range.upper !== undefined && compareKeys(key, range.upper) >= 0) return;
        yield key;
      }
    }
  }

  private *descending(range: KeyRange): Generator<string> {
    let b = this.blocks.length - 1;
    let i = (this.blocks[b]?.length ?? 0) - 1;
    if (range.upper !== undefined) {
      const found = this.blockFor(range.upper);
      if (found < this.blocks.length) {
        b = found;
        i = lowerBound(this.blocks[b] as string[], range.upper) - 1;
      }
    }
    for (; b >= 0; b--, i = (this.blocks[b]?.length ?? 0) - 1) {
      const block = this.blocks[b] as string[];
      for (; i >= 0; i--) {
        const key = block[i] as string;
        if (range.lower !== undefined) {
          const order = compareKeys(key, range.lower);
          if (order < 0 || (order === 0 && !range.lowerInclusive)) return;
        }
        yield key;
      }
    }
  }

  /** Index of the first block whose last key is not less than `key`; `blocks.length` when `key` is above them all. */
  private blockFor(key: string): number {
    let lo = 0;
    let hi = this.blocks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const block = this.blocks[mid] as string[];
      if (compareKeys(block[block.length - 1] as string, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** Up to `limit` names after `after` (null: from the first), in byte order. */
export function namesAfter(names: Iterable<string>, after: string | null, limit: number): string[] {
  return [...names].filter((name) => after === null || compareKeys(name, after) > 0).sort(compareKeys).slice(0, limit);
}
