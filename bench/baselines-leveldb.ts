/**
 * LevelDB baselines: raw classic-level with Uint8Array keys and values, at the stowage LevelDB store's durability:
 * batches written with `sync: true` (LevelDB fsyncs its log before the write returns). Rows have the KV entries'
 * shape (see baselines-lmdb.ts).
 */
import { join } from "node:path";
import type { BaselineCase } from "./baseline.js";
import { kvRowKey, kvRowValue } from "./baselines-lmdb.js";
import { makeTempDir, pad, removeTempDir, VALUE, valueFor } from "./fixtures.js";

const KV_KEYS = 10_000;

/** Puts per synced batch, and puts in flight. */
const GROUP = 16;

type RawLevel = import("classic-level").ClassicLevel<Uint8Array, Uint8Array>;

async function openRaw(): Promise<{ db: RawLevel; close(): Promise<void> }> {
  const { ClassicLevel } = await import("classic-level");
  const dir = makeTempDir("raw-leveldb");
  const db: RawLevel = new ClassicLevel<Uint8Array, Uint8Array>(join(dir, "raw.leveldb"), { keyEncoding: "view", valueEncoding: "view" });
  await db.open();
  return {
    db,
    close: async () => {
      await db.close();
      removeTempDir(dir);
    },
  };
}

/**
 * Collects puts into one `sync: true` batch of up to {@link GROUP}, written when full or at the end of the event turn;
 * each put resolves when its batch is on disk.
 */
function groupedPuts(db: RawLevel): (key: Uint8Array, value: Uint8Array) => Promise<void> {
  type Group = { ops: Array<{ type: "put"; key: Uint8Array; value: Uint8Array }>; seal: () => void; written: Promise<void> };
  let open: Group | undefined;
  return (key, value) => {
    if (open === undefined) {
      const group = { ops: [] } as unknown as Group;
      const sealed = new Promise<void>((resolve) => {
        group.seal = resolve;
        setImmediate(resolve);
      });
      group.written = sealed.then(() => {
        if (open === group) open = undefined;
        return db.batch(group.ops, { sync: true });
      });
      open = group;
    }
    const group = open;
    group.ops.push({ type: "put", key, value });
    if (group.ops.length === GROUP) {
      open = undefined;
      group.seal();
    }
    return group.written;
  };
}

export const RAW_LEVELDB = "raw classic-level";

export const RAW_LEVELDB_BASELINES: readonly BaselineCase[] = [
  {
    subject: RAW_LEVELDB,
    op: "kv.put",
    describe: `db.batch of ${GROUP} puts with sync: true, ${GROUP} puts in flight, each resolving when its batch is on disk`,
    concurrencies: [GROUP],
    async build(c) {
      const { db, close } = await openRaw();
      const ns = `kv-put-c${c}`;
      const put = groupedPuts(db);
      return { body: { op: (i) => put(kvRowKey(ns, `k${pad(i % KV_KEYS, 6)}`), kvRowValue(valueFor(i))) }, close };
    },
  },
  {
    subject: RAW_LEVELDB,
    op: "kv.get",
    describe: "db.getSync(key) of a present key (synchronous, as the stowage LevelDB store reads)",
    async build(c) {
      const { db, close } = await openRaw();
      const ns = `kv-get-c${c}`;
      const keys = Array.from({ length: KV_KEYS }, (_, i) => kvRowKey(ns, `k${pad(i, 6)}`));
      for (let i = 0; i < KV_KEYS; i += 1000) await db.batch(keys.slice(i, i + 1000).map((key) => ({ type: "put" as const, key, value: kvRowValue(VALUE) })));
      if ((await db.get(keys[7]!))?.length !== kvRowValue(VALUE).length) throw new Error("bench sanity check failed: raw classic-level returns the row put");
      return { body: { op: async (i) => db.getSync(keys[(i * 7919) % KV_KEYS]!) }, close };
    },
  },
];
