import type { OrderedEntry } from "./ordered/ordered-store.js";

/**
 * Comparisons an ordered store's commit makes between what a transaction read (an `OrderedCheck`) and what the latest
 * data holds now: bytewise, so that equal bytes are equal whatever views or buffers carry them.
 */

/** The same value, or both absent (an empty value is not absence). */
export function sameValue(now: Uint8Array | undefined, was: Uint8Array | undefined): boolean {
  return now === undefined || was === undefined ? now === was : Buffer.compare(now, was) === 0;
}

/** The same entries in the same order. */
export function sameEntries(now: readonly OrderedEntry[], was: readonly OrderedEntry[]): boolean {
  if (now.length !== was.length) return false;
  return now.every(([key, value], i) => {
    const [wasKey, wasValue] = was[i]!;
    return Buffer.compare(key, wasKey) === 0 && Buffer.compare(value, wasValue) === 0;
  });
}
