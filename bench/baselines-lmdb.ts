/**
 * LMDB baselines: raw lmdb-js (binary keys and values, no msgpack) with its defaults on Linux, which are the stowage
 * LMDB store's durability: a write's promise resolves after its transaction's fdatasync (overlappingSync).
 * Rows have the shape of the ordered-KV family's KV entries: key = 0x10 · namespace · 0x00 · key, value = the record
 * the family stores for a value without deadline (the value itself when its first byte is above 0x01, as the bench's are).
 */
import { join } from "node:path";
import type { BaselineCase } from "./baseline.js";
import { asBuffer } from "../src/engines/ordered/key-layout.js";
import { kvRecord } from "../src/engines/ordered/record-values.js";
import { makeTempDir, pad, removeTempDir, VALUE, valueFor } from "./fixtures.js";

const KV_KEYS = 10_000;

/** Writes in flight, and so per LMDB transaction: lmdb-js commits the writes of one event turn together. */
const GROUP = 16;

/** A KV entry's key in the family's layout. */
export function kvRowKey(namespace: string, key: string): Buffer {
  return Buffer.concat([Buffer.from([0x10]), Buffer.from(namespace, "utf8"), Buffer.from([0]), Buffer.from(key, "utf8")]);
}

/** A KV entry's record in the family's layout, without deadline. */
export function kvRowValue(value: Uint8Array): Buffer {
  return asBuffer(kvRecord(value, null));
}

async function openRaw(): Promise<{ db: import("lmdb").RootDatabase<Buffer, Buffer>; close(): Promise<void> }> {
  const { open } = await import("lmdb");
  const dir = makeTempDir("raw-lmdb");
  const db = open<Buffer, Buffer>({ path: join(dir, "raw.lmdb"), keyEncoding: "binary", encoding: "binary" });
  return {
    db,
    close: async () => {
      await db.close();
      removeTempDir(dir);
    },
  };
}

/** A raw database holding the kv.get case's rows (checked), with their keys, for the get baselines at concurrency `c`. */
async function openPreloaded(c: number): Promise<Awaited<ReturnType<typeof openRaw>> & { keys: Buffer[] }> {
  const raw = await openRaw();
  const ns = `kv-get-c${c}`;
  const keys = Array.from({ length: KV_KEYS }, (_, i) => kvRowKey(ns, `k${pad(i, 6)}`));
  await raw.db.transaction(() => {
    for (const key of keys) void raw.db.put(key, kvRowValue(VALUE));
  });
  if (raw.db.getBinary(keys[7]!)?.length !== kvRowValue(VALUE).length) throw new Error("bench sanity check failed: raw lmdb returns the row put");
  return { ...raw, keys };
}

export const RAW_LMDB = "raw lmdb";
/** The same get on a read transaction made fresh first, so that it sees every commit resolved before it (as stowage's). */
export const RAW_LMDB_FRESH = "raw lmdb, read transaction reset per get";

export const RAW_LMDB_BASELINES: readonly BaselineCase[] = [
  {
    subject: RAW_LMDB,
    op: "kv.put",
    describe: `await db.put(key, value) with ${GROUP} in flight: lmdb-js commits the puts of one event turn in one transaction, so ${GROUP} puts per durable (fdatasync) commit`,
    concurrencies: [GROUP],
    async build(c) {
      const { db, close } = await openRaw();
      const ns = `kv-put-c${c}`;
      return { body: { op: async (i) => void (await db.put(kvRowKey(ns, `k${pad(i % KV_KEYS, 6)}`), kvRowValue(valueFor(i)))) }, close };
    },
  },
  {
    subject: RAW_LMDB,
    op: "kv.get",
    describe: "db.getBinary(key) of a present key (a copy of the value), synchronous, from lmdb-js's shared read transaction",
    async build(c) {
      const { db, close, keys } = await openPreloaded(c);
      return { body: { op: async (i) => db.getBinary(keys[(i * 7919) % KV_KEYS]!) }, close };
    },
  },
  {
    subject: RAW_LMDB_FRESH,
    op: "kv.get",
    describe:
      "db.resetReadTxn() then db.getBinary(key): lmdb-js's shared read transaction otherwise stays at the snapshot of its last renewal (a timer), so a get could miss another process's commit that resolved before it; stowage's get never does",
    async build(c) {
      const { db, close, keys } = await openPreloaded(c);
      return {
        body: {
          op: async (i) => {
            db.resetReadTxn();
            return db.getBinary(keys[(i * 7919) % KV_KEYS]!);
          },
        },
        close,
      };
    },
  },
];
