/** Shared fixtures: the values written, temporary folders, a seeded random generator, chunked preloading. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Store, TransactionScope } from "../src/index.js";

/** Bytes of every value the benchmark writes. */
export const VALUE_BYTES = 100;

/** The 100-byte pattern every value starts from. */
export const VALUE: Uint8Array = Uint8Array.from({ length: VALUE_BYTES }, (_, i) => (i * 37 + 11) & 0xff);

/**
 * A fresh 100-byte value carrying `i` in its first 8 bytes, so that every timed write changes the stored bytes.
 * SQLite skips a row update whose new record equals the old one (no WAL frame, no commit record, no fsync), so
 * rewriting one fixed value would time a no-op instead of a durable write. A Buffer, so that Keyv and pg take it as is.
 */
export function valueFor(i: number): Buffer {
  const value = Buffer.from(VALUE);
  value.writeUInt32LE(i >>> 0, 0);
  value.writeUInt32LE(Math.floor(i / 2 ** 32) >>> 0, 4);
  return value;
}

const tempDirs = new Set<string>();

/** A fresh folder under os.tmpdir(), removed by {@link removeTempDirs}. */
export function makeTempDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `stowage-bench-${label}-`));
  tempDirs.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

/** Removes every folder made by {@link makeTempDir}. Synchronous, so it can run on exit or a signal. */
export function removeTempDirs(): void {
  for (const dir of [...tempDirs]) removeTempDir(dir);
}

/** xorshift32: a deterministic sequence of integers in [0, 2^32). */
export function randomInts(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** Zero-padded decimal, so that key order is numeric order. */
export const pad = (n: number, width = 10): string => String(n).padStart(width, "0");

/** The engines on a server, whose kv.get cases hold fewer keys: a preload costs a round trip or more per key there. */
const NETWORKED = new Set(["etcd", "redis", "azure-table"]);

/** Keys the kv.get cases (stowage's and the raw baselines') read among on `engine`. */
export const kvGetKeys = (engine: string): number => (NETWORKED.has(engine) ? 1_000 : 10_000);

/**
 * The key the `i`th get of a kv.get case reads, among `keys` keys (`k` and six digits, visited in a stride of 7919).
 * Built before the timed loop, so that no side (stowage or a baseline) times the bench's own string building: the raw
 * LMDB and LevelDB baselines index keys encoded beforehand, and the others now pick from the same list.
 */
export function getKeyOf(keys: number): (i: number) => string {
  const list = Array.from({ length: keys }, (_, i) => `k${pad((i * 7919) % keys, 6)}`);
  return (i) => list[i % keys]!;
}

const transactionWrites = new WeakMap<Store, number>();

/** The most writes one transaction of `store` takes (etcd: 25, Azure Table: 19), from its manifest. */
async function maxTransactionWrites(store: Store): Promise<number> {
  let max = transactionWrites.get(store);
  if (max === undefined) {
    max = (await store.health()).supports.limits.maxTransactionWrites;
    transactionWrites.set(store, max);
  }
  return max;
}

/**
 * Runs `write(tx, i)` for i in [0, total) in transactions of `chunk` writes each, or fewer where the engine takes
 * fewer per transaction (stowage allows at most 10,000).
 */
export async function preload(store: Store, total: number, wanted: number, write: (tx: TransactionScope, i: number) => Promise<unknown>): Promise<void> {
  const chunk = Math.min(wanted, await maxTransactionWrites(store));
  for (let start = 0; start < total; start += chunk) {
    const end = Math.min(total, start + chunk);
    await store.transaction(async (tx) => {
      for (let i = start; i < end; i++) await write(tx, i);
    });
  }
}
