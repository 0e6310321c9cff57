/**
 * The adapters a service uses directly, on memory, SQLite and PostgreSQL: CheckpointStore (the `checkpoints` KV
 * namespace) and SnapshotCursor (the `snapshots` Slot namespace), and the cursor raced by 3 processes.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { CheckpointStore, json, openStore, SnapshotCursor, type OpenStoreOptions, type Store } from "../src/index.js";
import { killAll, lastJson, startChild, tempDir, waitAllFor, type Child } from "./helpers/child.js";
import { usePostgresServer } from "./helpers/postgres-server.js";

const pgServer = usePostgresServer();

type Engine = "memory" | "sqlite" | "postgres";

/** Opens a fresh store of `engine` for `body`, then closes and removes it. */
async function withStore(engine: Engine, name: string, body: (store: Store, options: OpenStoreOptions) => Promise<void>): Promise<void> {
  const tmp = tempDir(`adapters-${name}`);
  const options: OpenStoreOptions =
    engine === "memory"
      ? { backend: "memory" }
      : engine === "sqlite"
        ? { backend: "sqlite", path: join(tmp.dir, "store.db"), busyTimeoutMs: 10_000 }
        : { backend: "postgres", dsn: pgServer().dsn, schema: `adapters_${name}`, poolSize: 4 };
  const store = await openStore({ ...options, sweepIntervalMs: 0 });
  try {
    await body(store, options);
  } finally {
    await store.close();
    tmp.remove();
  }
}

for (const engine of ["memory", "sqlite", "postgres"] as const) {
  test(`${engine}: CheckpointStore keeps one value per source, lists by prefix in pages, and has a typed view`, async () => {
    await withStore(engine, `checkpoints_${engine}`, async (store) => {
      const checkpoints = new CheckpointStore(store);
      assert.equal(await checkpoints.get("mysql/orders"), undefined);
      await checkpoints.put("mysql/orders", new Uint8Array([1, 2, 3]));
      await checkpoints.put("mysql/orders", new Uint8Array([4]));
      assert.deepEqual(await checkpoints.get("mysql/orders"), new Uint8Array([4]));
      const typed = CheckpointStore.withCodec(store, json<{ file: string; offset: number }>());
      await typed.put("json/users", { file: "binlog.000042", offset: 1337 });
      assert.deepEqual(await typed.get("json/users"), { file: "binlog.000042", offset: 1337 });
      await typed.put("json/events", { file: "wal", offset: 1 });
      assert.deepEqual(await typed.list("json/"), [
        { sourceId: "json/events", value: { file: "wal", offset: 1 } },
        { sourceId: "json/users", value: { file: "binlog.000042", offset: 1337 } },
      ]);
      // More sources than one page of the underlying list.
      for (let i = 0; i < 1_200; i += 400) {
        await store.transaction(async (tx) => {
          for (let j = i; j < i + 400; j++) await tx.kv("checkpoints").put(`bulk/${String(j).padStart(4, "0")}`, new Uint8Array([j % 256]));
        });
      }
      const bulk = await checkpoints.list("bulk/");
      assert.equal(bulk.length, 1_200);
      assert.equal(bulk[1_199]?.sourceId, "bulk/1199");
      assert.equal((await checkpoints.list()).length, 1_203);
      assert.equal(await checkpoints.delete("json/events"), true);
      assert.equal(await checkpoints.delete("json/events"), false);
      const info = await store.info();
      assert.deepEqual(info.namespaces.map((n) => `${n.primitive}:${n.namespace}`), ["kv:checkpoints"], "it owns the checkpoints namespace only");
    });
  });

  test(`${engine}: SnapshotCursor advances by compare-and-swap: from the position it stands at, once`, async () => {
    await withStore(engine, `cursor_${engine}`, async (store) => {
      const cursor = new SnapshotCursor<{ pk: number }>(store, "orders");
      assert.deepEqual(await cursor.get(), { position: undefined, version: 0 });
      assert.equal(await cursor.advance(undefined, { pk: 100 }), true);
      assert.equal(await cursor.advance(undefined, { pk: 200 }), false, "not started any more");
      assert.equal(await cursor.advance({ pk: 50 }, { pk: 200 }), false, "not at 50");
      assert.equal(await cursor.advance({ pk: 100 }, { pk: 200 }), true);
      assert.deepEqual(await cursor.get(), { position: { pk: 200 }, version: 2 });
      const outcomes = await Promise.all(Array.from({ length: 8 }, (_, i) => cursor.advance({ pk: 200 }, { pk: 300 + i })));
      assert.equal(outcomes.filter(Boolean).length, 1, "of workers advancing from the same position, exactly one moves it");
      assert.equal((await cursor.get()).version, 3);
      assert.deepEqual((await new SnapshotCursor(store, "users").get()).position, undefined, "tables have cursors of their own");
    });
  });
}

for (const engine of ["sqlite", "postgres"] as const) {
  test(`${engine}: 3 processes advancing one snapshot cursor: every step taken by exactly one`, async (t) => {
    await withStore(engine, `cursor_race_${engine}`, async (store, options) => {
      const TARGET = 150;
      const children: Child[] = [];
      try {
        for (let i = 0; i < 3; i++) children.push(startChild("cursor-racer", [JSON.stringify(options), `w${i}`, String(TARGET), String(TARGET * 4)]));
        await waitAllFor(children, "ready", 15_000);
        for (const child of children) child.send("go");
        const exits = await Promise.all(children.map((child) => child.finish(30_000)));
        exits.forEach((exit, i) => assert.deepEqual(exit, { code: 0, signal: null }, (children[i] as Child).describe()));
        const reports = children.map((child) => lastJson<{ id: string; advanced: number[] }>(child));
        const steps = reports.flatMap((r) => r.advanced).sort((a, b) => a - b);
        assert.deepEqual(steps, Array.from({ length: TARGET }, (_, i) => i + 1), "each position reached by exactly one worker");
        assert.deepEqual((await new SnapshotCursor<number>(store, "orders").get()).position, TARGET);
        t.diagnostic(`steps per worker: ${reports.map((r) => r.advanced.length).join(", ")}`);
      } finally {
        await killAll(children);
      }
    });
  });
}
