import { compareKeys } from "../../api/key-order.js";
import type { KeyRange } from "../../api/range.js";

/** Keys kept sorted in byte order, for range scans; lookups of values go through a Map beside it. */
export class SortedKeys {
  private readonly keys: string[] = [];

  get size(): number {
    return this.keys.length;
  }

  insert(key: string): void {
    const at = this.lowerBound(key);
    if (this.keys[at] !== key) this.keys.splice(at, 0, key);
  }

  remove(key: string): void {
    const at = this.lowerBound(key);
    if (this.keys[at] === key) this.keys.splice(at, 1);
  }

  /** Index span [from, to) of the keys inside `range`. */
  span(range: KeyRange): [number, number] {
    let from = 0;
    if (range.lower !== undefined) {
      from = this.lowerBound(range.lower);
      if (!range.lowerInclusive && this.keys[from] === range.lower) from += 1;
    }
    const to = range.upper === undefined ? this.keys.length : this.lowerBound(range.upper);
    return [from, Math.max(from, to)];
  }

  at(index: number): string {
    return this.keys[index] as string;
  }

  /** First index whose key is not less than `key`. */
  private lowerBound(key: string): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareKeys(this.keys[mid] as string, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
