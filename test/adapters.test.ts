/**
 * The adapters a service uses directly, on memory, SQLite and PostgreSQL: CheckpointStore (the `checkpoints` KV
 * namespace), SnapshotCursor (the `snapshots` Slot namespace) and LeaderElection (the `leases` Slot namespace); the
 * cursor and the election across 3 processes.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { CheckpointStore, json, LeaderElection, openStore, SnapshotCursor, type OpenStoreOptions, type Store } from "../src/index.js";
import { killAll, lastJson, sleep, startChild, tempDir, waitAllFor, type Child } from "./helpers/child.js";
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

for (const engine of ["memory", "sqlite", "postgres"] as const) {
  test(`${engine}: LeaderElection: one leader at a time, expiry hands over, tokens grow, a stale token is refused`, async () => {
    await withStore(engine, `leader_${engine}`, async (store) => {
      let now = 1_000_000;
      const clock = () => now;
      const a = new LeaderElection(store, { name: "primary", ttlMs: 1_000, holder: "a", clock });
      const b = new LeaderElection(store, { name: "primary", ttlMs: 1_000, holder: "b", clock });
      assert.equal(await a.acquire(), true);
      assert.equal(a.token, 1);
      assert.equal(await b.acquire(), false, "the lease is held");
      now += 600;
      assert.equal(await a.renew(), true);
      now += 600;
      assert.equal(await b.acquire(), false, "renewed: still held");
      assert.equal(await a.isCurrent(1), true);
      now += 1_001; // a stalls past its lease
      assert.equal(a.isLeader(), false);
      assert.equal(await b.acquire(), true);
      assert.equal(b.token, 2);
      assert.equal(await a.renew(), false, "a lost it");
      assert.equal(await b.isCurrent(1), false, "a's token is stale: its writes can be refused");
      assert.equal(await b.isCurrent(2), true);
      await b.release();
      assert.equal(await a.acquire(), true, "released: taken at once, no expiry wait");
      assert.equal(a.token, 3);
      assert.equal(await new LeaderElection(store, { name: "other", ttlMs: 1_000, clock }).acquire(), true, "elections are independent");
      assert.throws(() => new LeaderElection(store, { name: "x", ttlMs: 0 }), /INVALID_ARGUMENT/);
    });
  });
}

for (const engine of ["sqlite", "postgres"] as const) {
  test(`${engine}: 3 processes elect a leader; killing it hands over after the ttl; leaderships never overlap`, async (t) => {
    await withStore(engine, `leader_race_${engine}`, async (_store, options) => {
      const TTL = 400;
      type Event = { event: "acquired" | "renewed" | "lost"; token: number; at: number; until?: number };
      const children: Child[] = [];
      try {
        for (let i = 0; i < 3; i++) children.push(startChild("leader-candidate", [JSON.stringify(options), `c${i}`, String(TTL), "4000"]));
        await waitAllFor(children, "ready", 15_000);
        for (const child of children) child.send("go");
        const events = (child: Child): Event[] => child.lines.filter((line) => line.startsWith("{")).map((line) => JSON.parse(line) as Event);
        // The current leader: the process whose last word is a won or renewed lease that has not expired.
        const leaderOf = () =>
          children.findIndex((child) => {
            const last = events(child).at(-1);
            return last !== undefined && last.event !== "lost" && (last.until ?? 0) > Date.now();
          });
        assert.ok(await waitUntil(() => leaderOf() >= 0, 10_000), "nobody became leader");
        await sleep(600);
        assert.ok(await waitUntil(() => leaderOf() >= 0, 10_000), "no current leader to kill");
        const first = leaderOf();
        const killedAt = Date.now();
        (children[first] as Child).kill("SIGKILL");
        const others = children.filter((_, i) => i !== first);
        assert.ok(await waitUntil(() => others.some((c) => events(c).some((e) => e.event === "acquired")), 10_000), "nobody took over");
        const exits = await Promise.all(others.map((child) => child.finish(15_000)));
        exits.forEach((exit) => assert.deepEqual(exit, { code: 0, signal: null }));

        // Each leadership: its token, when it was won, and the last expiry it renewed to.
        const terms = children.flatMap((child, i) => {
          const list: Array<{ who: number; token: number; from: number; until: number }> = [];
          for (const e of events(child)) {
            if (e.event === "acquired") list.push({ who: i, token: e.token, from: e.at, until: e.until as number });
            else if (e.event === "renewed") (list[list.length - 1] as { until: number }).until = e.until as number;
          }
          return list;
        });
        terms.sort((x, y) => x.token - y.token);
        assert.deepEqual(terms.map((term) => term.token), terms.map((_, i) => i + 1), "one leadership per token, tokens 1, 2, 3…");
        for (let i = 1; i < terms.length; i++) {
          const [prev, next] = [terms[i - 1] as (typeof terms)[number], terms[i] as (typeof terms)[number]];
          assert.ok(next.from >= prev.until || prev.who === next.who, `token ${next.token} won at ${next.from} while token ${prev.token} held until ${prev.until}`);
          assert.ok(next.from > prev.from, "tokens grow with time");
        }
        const takeover = terms.find((term) => term.who !== first && term.from > killedAt);
        assert.ok(takeover !== undefined, "a survivor led after the kill");
        t.diagnostic(`${terms.length} leaderships; the killed leader was replaced ${takeover.from - killedAt} ms after the kill (ttl ${TTL} ms)`);
      } finally {
        await killAll(children);
      }
    });
  });
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}
