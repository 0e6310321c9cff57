import assert from "node:assert/strict";
import { test } from "node:test";
import { compareKeys } from "../src/api/key-order.js";
import type { KeyRange } from "../src/api/range.js";
import { SortedKeys } from "../src/engines/memory/sorted-keys.js";

// The memory engine's blocked index against a plain sorted array, over enough keys to split and empty many blocks.

/** A small deterministic PRNG, so a failure reproduces. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

const ALPHABET = ["a", "b", "z", "é", "\uFFFF", "😀", "0"];

function randomKey(next: () => number): string {
  const length = 1 + Math.floor(next() * 6);
  let key = "";
  for (let i = 0; i < length; i++) key += ALPHABET[Math.floor(next() * ALPHABET.length)];
  return key;
}

function expected(reference: Set<string>, range: KeyRange, reverse: boolean): string[] {
  const keys = [...reference].sort(compareKeys).filter((key) => {
    if (range.lower !== undefined) {
      const order = compareKeys(key, range.lower);
      if (order < 0 || (order === 0 && !range.lowerInclusive)) return false;
    }
    return range.upper === undefined || compareKeys(key, range.upper) < 0;
  });
  return reverse ? keys.reverse() : keys;
}

test("the blocked sorted index agrees with a sorted array through inserts, removals and range scans", () => {
  const next = random(42);
  const index = new SortedKeys();
  const reference = new Set<string>();
  for (let step = 0; step < 12_000; step++) {
    const key = randomKey(next);
    // Mostly inserts at first, then mostly removals, so blocks split and later empty out.
    if (next() < (step < 8_000 ? 0.8 : 0.3)) {
      index.insert(key);
      reference.add(key);
    } else {
      index.remove(key);
      reference.delete(key);
    }
    if (step % 500 === 0) {
      const stored = [...reference];
      // Bounds are stored keys half the time, so exclusive and inclusive bounds on a present key are both exercised.
      const bound = () => (stored.length > 0 && next() < 0.5 ? (stored[Math.floor(next() * stored.length)] as string) : randomKey(next));
      for (let probe = 0; probe < 5; probe++) {
        const a = bound();
        const b = bound();
        const [lower, upper] = compareKeys(a, b) <= 0 ? [a, b] : [b, a];
        const range: KeyRange = {
          lower: next() < 0.2 ? undefined : lower,
          lowerInclusive: next() < 0.5,
          upper: next() < 0.2 ? undefined : upper,
        };
        for (const reverse of [false, true]) {
          assert.deepEqual([...index.scan(range, reverse)], expected(reference, range, reverse), `step ${step} ${JSON.stringify(range)} reverse=${reverse}`);
        }
      }
    }
  }
  assert.deepEqual([...index.scan({ lowerInclusive: true }, false)], [...reference].sort(compareKeys));
});
