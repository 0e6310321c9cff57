/**
 * SQLite baselines at the stowage SQLite engine's durability "full" (WAL, synchronous=FULL): raw better-sqlite3 with
 * prepared statements, one autocommit (so one fsync) per put; and Keyv over @keyv/sqlite (node sqlite3), when installed.
 */
import { join } from "node:path";
import Database from "better-sqlite3";
import type { BaselineCase } from "./baseline.js";
import { PUT_CONCURRENCIES } from "./cases-stowage.js";
import { makeTempDir, pad, removeTempDir, VALUE, valueFor, getKeyOf } from "./fixtures.js";

const KV_KEYS = 10_000;

function openRaw(): { db: Database.Database; close(): Promise<void> } {
  const dir = makeTempDir("raw-sqlite");
  const db = new Database(join(dir, "raw.db"));
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.exec("CREATE TABLE kv (k TEXT PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID");
  return {
    db,
    close: async () => {
      db.close();
      removeTempDir(dir);
    },
  };
}

/** Writes per transaction of the grouped reference. */
const GROUP = 16;
export const RAW_GROUPED = `raw better-sqlite3, ${GROUP} puts per transaction`;

/** Raw better-sqlite3 running stowage's get statement on stowage's table shape. */
export const RAW_SAME_TABLE = "raw better-sqlite3, stowage's table";

const UPSERT = "INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v";

export const RAW_SQLITE_BASELINES: readonly BaselineCase[] = [
  {
    subject: "raw better-sqlite3",
    op: "kv.put",
    describe: "prepared INSERT … ON CONFLICT DO UPDATE, one synced autocommit per put (WAL, synchronous=FULL)",
    concurrencies: PUT_CONCURRENCIES,
    async build() {
      const { db, close } = openRaw();
      const put = db.prepare(UPSERT);
      return {
        body: {
          op: async (i) => {
            put.run(`k${pad(i % KV_KEYS, 6)}`, valueFor(i));
          },
        },
        close,
      };
    },
  },
  {
    subject: RAW_GROUPED,
    op: "kv.put",
    describe: `the same put, ${GROUP} per synced transaction: the most one fsync per ${GROUP} writes in flight can give (a reference, not a competitor: its ops resolve before their commit)`,
    concurrencies: [GROUP],
    async build() {
      const { db, close } = openRaw();
      const put = db.prepare(UPSERT);
      const begin = db.prepare("BEGIN IMMEDIATE");
      const commit = db.prepare("COMMIT");
      let inGroup = 0;
      return {
        body: {
          op: async (i) => {
            if (inGroup === 0) begin.run();
            put.run(`k${pad(i % KV_KEYS, 6)}`, valueFor(i));
            if (++inGroup === GROUP) {
              commit.run();
              inGroup = 0;
            }
          },
        },
        close: async () => {
          if (db.inTransaction) commit.run();
          await close();
        },
      };
    },
  },
  {
    subject: "raw better-sqlite3",
    op: "kv.get",
    describe: "prepared SELECT v FROM kv WHERE k = ?",
    async build() {
      const { db, close } = openRaw();
      const put = db.prepare(UPSERT);
      db.transaction(() => {
        for (let i = 0; i < KV_KEYS; i++) put.run(`k${pad(i, 6)}`, VALUE);
      })();
      const get = db.prepare("SELECT v FROM kv WHERE k = ?").pluck();
      const keyOf = getKeyOf(KV_KEYS);
      return { body: { op: async (i) => get.get(keyOf(i)) }, close };
    },
  },
  {
    subject: RAW_SAME_TABLE,
    op: "kv.get",
    describe:
      "prepared SELECT of stowage's own statement on stowage's table shape ((ns, key) primary key, expiry checked in the query): what the engine's layers cost on top of SQLite",
    async build(c) {
      const ns = `kv-get-c${c}`;
      const { db, close } = openRaw();
      db.exec("CREATE TABLE stowage_kv (ns TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, expires_at INTEGER, PRIMARY KEY (ns, key)) WITHOUT ROWID");
      const put = db.prepare("INSERT INTO stowage_kv (ns, key, value, expires_at) VALUES (?, ?, ?, NULL)");
      db.transaction(() => {
        for (let i = 0; i < KV_KEYS; i++) put.run(ns, `k${pad(i, 6)}`, VALUE);
      })();
      const get = db.prepare("SELECT value FROM stowage_kv WHERE ns = ? AND key = ? AND (expires_at IS NULL OR expires_at > ?)").pluck();
      const keyOf = getKeyOf(KV_KEYS);
      return { body: { op: async (i) => get.get(ns, keyOf(i), Date.now()) }, close };
    },
  },
];

interface KeyvLike {
  set(key: string, value: unknown): Promise<unknown>;
  get(key: string): Promise<unknown>;
  disconnect(): Promise<void>;
}

/** Keyv over @keyv/sqlite on a fresh file, switched to WAL with synchronous=FULL. */
async function openKeyv(): Promise<{ keyv: KeyvLike; query(sql: string): Promise<unknown>; close(): Promise<void> }> {
  const [{ default: Keyv }, { default: KeyvSqlite }] = await Promise.all([import("keyv"), import("@keyv/sqlite")]);
  const dir = makeTempDir("keyv");
  const adapter = new KeyvSqlite({ uri: `sqlite://${join(dir, "keyv.db")}`, busyTimeout: 5_000 });
  await adapter.query("PRAGMA journal_mode = WAL");
  await adapter.query("PRAGMA synchronous = FULL");
  const keyv = new Keyv({ store: adapter }) as unknown as KeyvLike;
  return {
    keyv,
    query: (sql) => adapter.query(sql),
    close: async () => {
      await keyv.disconnect();
      removeTempDir(dir);
    },
  };
}

/** Checks that keyv and @keyv/sqlite load; the reason when they do not. */
export async function keyvUnavailable(): Promise<string | undefined> {
  try {
    await Promise.all([import("keyv"), import("@keyv/sqlite"), import("sqlite3")]);
    return undefined;
  } catch (error) {
    return (error as Error).message.split("\n")[0];
  }
}

/** Keyv serialises a Buffer as base64 and gives a Buffer back; a bare Uint8Array would come back as a plain object. */
const KEYV_VALUE = Buffer.from(VALUE);

export const KEYV_BASELINES: readonly BaselineCase[] = [
  {
    subject: "Keyv + @keyv/sqlite",
    op: "kv.put",
    describe: "keyv.set(k, Buffer) (JSON + base64), node sqlite3, WAL, synchronous=FULL, one autocommit per set",
    async build() {
      const { keyv, close } = await openKeyv();
      return { body: { op: (i) => keyv.set(`k${pad(i % KV_KEYS, 6)}`, valueFor(i)) }, close };
    },
  },
  {
    subject: "Keyv + @keyv/sqlite",
    op: "kv.get",
    describe: "keyv.get(k) of a present key",
    async build() {
      const { keyv, query, close } = await openKeyv();
      await query("BEGIN"); // preload in one transaction on Keyv's single connection
      for (let i = 0; i < KV_KEYS; i++) await keyv.set(`k${pad(i, 6)}`, KEYV_VALUE);
      await query("COMMIT");
      if (!((await keyv.get(`k${pad(7, 6)}`)) instanceof Uint8Array)) throw new Error("bench sanity check failed: Keyv returns the Uint8Array put");
      const keyOf = getKeyOf(KV_KEYS);
      return { body: { op: (i) => keyv.get(keyOf(i)) }, close };
    },
  },
];
