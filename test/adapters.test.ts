/**
 * The adapters a service uses directly, on memory, SQLite and PostgreSQL: CheckpointStore (the `checkpoints` KV
 * namespace), SnapshotCursor (the `snapshots` Slot namespace) and LeaderElection (the `leases` Slot namespace); the
 * cursor and the election across 3 processes.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { CheckpointStore, createRuntime, DeadLetterQueue, isStowageError, json, LeaderElection, LIMITS, MAX_REASON_BYTES, Quarantine, openStore, SnapshotCursor, withCache, type OpenStoreOptions, type Store } from "../src/index.js";
import { killAll, lastJson, sleep, startChild, tempDir, waitAllFor, type Child } from "./helpers/child.js";
import { usePostgresServer } from "./helpers/postgres-server.js";
import { withEngineStore, type EngineName } from "./helpers/engine-store.js";

const pgServer = usePostgresServer();

/** Opens a fresh store of `engine` for `body`, then closes and removes it. */
const withStore = (engine: EngineName, name: string, body: (store: Store, options: OpenStoreOptions) => Promise<void>): Promise<void> =>
  withEngineStore(engine, "adapters", name, () => pgServer().dsn, body);

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

  test(`${engine}: Quarantine and DeadLetterQueue hold events with reasons, bounded, and replay acks only what the handler accepts`, async () => {
    await withStore(engine, `held_${engine}`, async (store) => {
      const quarantine = new Quarantine(store, { codec: json<{ n: number }>() });
      const ids: number[] = [];
      for (let n = 1; n <= 6; n++) ids.push(await quarantine.push(`sink b refused ${n}`, { n }));
      assert.equal(await quarantine.len(), 6);
      const head = await quarantine.peek(2);
      assert.deepEqual(head.map((e) => [e.id, e.reason, e.event.n]), [[ids[0], "sink b refused 1", 1], [ids[1], "sink b refused 2", 2]]);
      assert.deepEqual((await quarantine.peek(10, { afterId: ids[4] as number })).map((e) => e.event.n), [6]);
      // The handler accepts the even ones, refuses 3, throws on 5, and sets 1 aside again: only 2, 4, 6 are acked.
      const seen: number[] = [];
      const report = await quarantine.replay(async (entry) => {
        seen.push(entry.event.n);
        if (entry.event.n === 5) throw new Error("still broken");
        if (entry.event.n === 1) {
          await quarantine.push("again", entry.event);
          return true;
        }
        return entry.event.n % 2 === 0;
      });
      assert.deepEqual(seen, [1, 2, 3, 4, 5, 6], "each event held at the start is offered once; the one set aside again is not");
      assert.equal(report.accepted, 4);
      assert.equal(report.refused, 2);
      assert.equal((report.lastError as Error).message, "still broken");
      assert.deepEqual((await quarantine.peek(10)).map((e) => [e.reason, e.event.n]), [["sink b refused 3", 3], ["sink b refused 5", 5], ["again", 1]]);
      const limited = await quarantine.replay(() => true, { limit: 1 });
      assert.deepEqual(limited, { accepted: 1, refused: 0, goneMeanwhile: 0 });
      assert.equal(await quarantine.len(), 2);

      // Bounded: "reject" (the default) refuses a push to a full queue and keeps what it holds; "drop-oldest" drops.
      const small = new Quarantine(store, { name: "small", maxLength: 2 });
      await small.push("a", new Uint8Array([1]));
      await small.push("b", new Uint8Array([2]));
      await assert.rejects(small.push("c", new Uint8Array([3])), { code: "LIMIT_EXCEEDED" });
      assert.deepEqual((await small.peek(5)).map((e) => e.reason), ["a", "b"]);
      const rolling = new DeadLetterQueue(store, { name: "small", maxLength: 2, overflow: "drop-oldest" });
      for (const r of ["a", "b", "c"]) await rolling.push(r, new Uint8Array([0]));
      assert.deepEqual((await rolling.peek(5)).map((e) => e.reason), ["b", "c"]);
      assert.deepEqual((await rolling.peek())[0]?.event, new Uint8Array([0]));

      // Set aside together with a checkpoint, in one transaction: all or nothing.
      await assert.rejects(
        store.transaction(async (tx) => {
          await new DeadLetterQueue(tx, { name: "tx" }).push("gave up", new Uint8Array([9]));
          await new CheckpointStore(tx).put("source", new Uint8Array([9]));
          throw new Error("abort");
        }),
        /abort/,
      );
      assert.equal(await new DeadLetterQueue(store, { name: "tx" }).len(), 0);
      assert.equal(await new CheckpointStore(store).get("source"), undefined);
      await store.transaction(async (tx) => {
        await new DeadLetterQueue(tx, { name: "tx" }).push("gave up", new Uint8Array([9]));
        await new CheckpointStore(tx).put("source", new Uint8Array([9]));
      });
      assert.equal(await new DeadLetterQueue(store, { name: "tx" }).len(), 1);

      await assert.rejects(quarantine.push("x".repeat(5_000), { n: 0 }), { code: "LIMIT_EXCEEDED", namespace: "quarantine", key: "default" });
      await assert.rejects(new Quarantine(store).push("r", "text" as never), { code: "INVALID_ARGUMENT", namespace: "quarantine" });
      await assert.rejects(quarantine.replay("no" as never), { code: "INVALID_ARGUMENT" });
      await assert.rejects(quarantine.replay(() => true, { limit: Number.NaN }), { code: "INVALID_ARGUMENT" });

      // An event another codec wrote: peek names it (CORRUPT, with its id), and replay refuses it and goes on past it.
      const mixed = new Quarantine(store, { name: "mixed", codec: json<{ n: number }>() });
      const badId = await new Quarantine(store, { name: "mixed" }).push("raw bytes", new Uint8Array([0xff, 0x00]));
      await mixed.push("fine", { n: 7 });
      await assert.rejects(mixed.peek(), (error: unknown) => isStowageError(error, "CORRUPT") && error.namespace === "quarantine" && error.key === "mixed" && error.message.includes(`ack(${badId})`));
      const offered: number[] = [];
      const mixedReport = await mixed.replay((entry) => {
        offered.push(entry.event.n);
        return true;
      });
      assert.deepEqual(offered, [7]);
      assert.deepEqual([mixedReport.accepted, mixedReport.refused, (mixedReport.lastError as { code?: string }).code], [1, 1, "CORRUPT"]);
      assert.equal(await mixed.ack(badId), true, "the id in the error removes it");
      const info = await store.info();
      assert.deepEqual(info.namespaces.map((n) => `${n.primitive}:${n.namespace}`).filter((n) => n.startsWith("queue")), ["queue:dlq", "queue:quarantine"]);
    });
  });
}

for (const engine of ["memory", "sqlite", "postgres"] as const) {
  test(`${engine}: an event at the store's value limit can be held, with the longest reason (issue 17, defect 12)`, async () => {
    await withStore(engine, `held_limit_${engine}`, async (store) => {
      const event = new Uint8Array(LIMITS.maxValueBytes).fill(7);
      const reason = "r".repeat(MAX_REASON_BYTES);
      const quarantine = new Quarantine(store, { name: "big/one%" });
      const id = await quarantine.push(reason, event);
      await store.transaction(async (tx) => {
        await new DeadLetterQueue(tx, { name: "big" }).push(reason, event);
      });
      const [held] = await quarantine.peek();
      assert.equal(held?.id, id);
      assert.equal(held?.reason, reason);
      assert.deepEqual(held?.event, event);
      assert.equal((await new DeadLetterQueue(store, { name: "big" }).peek())[0]?.event.byteLength, LIMITS.maxValueBytes);
      assert.deepEqual(await quarantine.replay(() => true), { accepted: 1, refused: 0, goneMeanwhile: 0 });
      assert.equal(await store.kv("quarantine").count(), 0, "the ack removed the reason too");
      await assert.rejects(quarantine.push("too big", new Uint8Array(LIMITS.maxValueBytes + 1)), { code: "LIMIT_EXCEEDED", namespace: "quarantine" });

      // drop-oldest takes the dropped events' reasons with them.
      const rolling = new DeadLetterQueue(store, { name: "rolling", maxLength: 2, overflow: "drop-oldest" });
      for (const r of ["a", "b", "c", "d"]) await rolling.push(r, new Uint8Array([1]));
      assert.deepEqual((await rolling.peek(5)).map((e) => e.reason), ["c", "d"]);
      assert.equal(await store.kv("dlq").count({ prefix: "rolling/" }), 2);

      // An event held by an earlier version (reason and event in one value) is still read, replayed and acked.
      const legacyReason = Buffer.from("old reason");
      const envelope = new Uint8Array([0, 0, 0, legacyReason.byteLength, ...legacyReason, 42]);
      const legacyId = await store.queue("quarantine").push("legacy", envelope);
      const legacy = new Quarantine(store, { name: "legacy" });
      assert.deepEqual((await legacy.peek()).map((e) => [e.id, e.reason, [...e.event]]), [[legacyId, "old reason", [42]]]);
      await legacy.push("new reason", new Uint8Array([43]));
      const offered: string[] = [];
      await legacy.replay((entry) => {
        offered.push(entry.reason);
        return true;
      });
      assert.deepEqual(offered, ["old reason", "new reason"]);
      assert.equal(await legacy.len(), 0);
      assert.throws(() => new Quarantine(store, { name: "n".repeat(LIMITS.maxKeyBytes) }), { code: "INVALID_ARGUMENT", namespace: "quarantine" });
    });
  });

  test(`${engine}: replay offers only events held when it started and counts only what it removed (issue 17, defect 16)`, async () => {
    await withStore(engine, `held_replay_${engine}`, async (store) => {
      const quarantine = new Quarantine(store, { name: "sink", codec: json<number>() });
      const other = new Quarantine(store, { name: "sink", codec: json<number>() });
      // One more than a replay page, so that the replay reads the last one after the handler has run.
      const ids: number[] = [];
      for (let n = 1; n <= 101; n++) ids.push(await quarantine.push("refused", n));
      const offered: number[] = [];
      const report = await quarantine.replay(async ({ event }) => {
        offered.push(event);
        if (event === 1) {
          // Meanwhile another consumer removes 101 and a producer holds 102.
          await other.ack(ids[100] as number);
          await other.push("refused", 102);
        }
        // 2: another consumer acks it before this replay does.
        if (event === 2) await other.ack(ids[1] as number);
        return true;
      });
      assert.deepEqual(offered, Array.from({ length: 100 }, (_, i) => i + 1), "102 was pushed after the replay started");
      assert.deepEqual(report, { accepted: 99, refused: 0, goneMeanwhile: 1 });
      assert.deepEqual((await quarantine.peek(5)).map((e) => e.event), [102]);
    });
  });
}

for (const engine of ["memory", "sqlite", "postgres"] as const) {
  test(`${engine}: createRuntime wires every adapter over one store, each in its own namespace`, async () => {
    await withStore(engine, `runtime_${engine}`, async (store) => {
      const runtime = await createRuntime(store, { heldEvents: { maxLength: 2 } });
      await runtime.checkpoints.put("orders", new Uint8Array([7]));
      const v1 = await runtime.schemas.register("acme", "shop", "orders", { id: "int" });
      assert.equal(v1.version, 1);
      assert.equal(runtime.schemas.latest("acme", "shop", "orders")?.fingerprint, v1.fingerprint);
      assert.equal(await runtime.cursor<number>("orders").advance(undefined, 10), true);
      const leader = runtime.election({ name: "pipeline", ttlMs: 60_000 });
      assert.equal(await leader.acquire(), true);
      const quarantine = runtime.quarantine("sink-b", json<{ n: number }>());
      await quarantine.push("refused", { n: 1 });
      await quarantine.push("refused", { n: 2 });
      await assert.rejects(quarantine.push("refused", { n: 3 }), { code: "LIMIT_EXCEEDED" }, "the runtime's bound applies");
      await runtime.deadLetters().push("gave up", new Uint8Array([1]));
      assert.deepEqual(
        (await store.info()).namespaces.map((n) => `${n.primitive}:${n.namespace}`),
        ["kv:checkpoints", "kv:dlq", "kv:quarantine", "kv:schemas", "log:schemas", "slot:leases", "slot:snapshots", "queue:dlq", "queue:quarantine"],
      );
      await runtime.close();
      await runtime.close();
      assert.deepEqual(await runtime.checkpoints.get("orders"), new Uint8Array([7]), "the store stays open: the caller owns it");
      const owning = await createRuntime(store, { ownsStore: true, schemas: { live: false } });
      assert.equal(owning.schemas.latest("acme", "shop", "orders")?.version, 1, "a new runtime replays the registry");
      await owning.close();
      await assert.rejects(async () => store.kv("x").get("k"), { code: "CLOSED" }, "an owning runtime closes the store");
    });
    await withStore(engine, `runtime_options_${engine}`, async (store) => {
      await assert.rejects(createRuntime(store, { owns: true } as never), { code: "INVALID_ARGUMENT" });
      await assert.rejects(createRuntime(store, { ownsStore: "yes" } as never), { code: "INVALID_ARGUMENT" });
      await assert.rejects(createRuntime(store, { heldEvents: { maxLength: 0 } }), { code: "INVALID_ARGUMENT" });
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

test("sqlite, two cached stores on one file: a released lease is taken at once by the other store (issue 17, defect 10)", async () => {
  const tmp = tempDir("adapters-cached-leases");
  const options: OpenStoreOptions = { backend: "sqlite", path: join(tmp.dir, "store.db"), busyTimeoutMs: 10_000, sweepIntervalMs: 0 };
  const storeA = withCache(await openStore(options));
  const storeB = withCache(await openStore(options));
  try {
    const a = new LeaderElection(storeA, { name: "primary", ttlMs: 3_600_000, holder: "a" });
    const b = new LeaderElection(storeB, { name: "primary", ttlMs: 3_600_000, holder: "b" });
    assert.equal(await a.acquire(), true);
    assert.equal(await b.acquire(), false, "held by a (and read by b through its cache)");
    await a.release();
    assert.equal(await b.acquire(), true, "released: b takes it at once, not after the hour-long lease");
    assert.equal(b.token, 2);

    // The same for a snapshot cursor: b must see where a moved it.
    const cursorA = new SnapshotCursor<number>(storeA, "orders");
    const cursorB = new SnapshotCursor<number>(storeB, "orders");
    assert.equal(await cursorB.advance(undefined, 10), true);
    assert.deepEqual((await cursorA.get()).position, 10);
    assert.equal(await cursorB.advance(10, 20), true);
    assert.equal(await cursorA.advance(20, 30), true, "a sees b's move at once");

    // runtime.close() gives the lease up: a re-run within the lease leads at once.
    const first = await createRuntime(storeA, { schemas: { live: false } });
    assert.equal(await first.election({ name: "pipeline", ttlMs: 3_600_000 }).acquire(), true);
    await first.close();
    const rerun = await createRuntime(storeB, { schemas: { live: false } });
    assert.equal(await rerun.election({ name: "pipeline", ttlMs: 3_600_000 }).acquire(), true, "the closed runtime released its lease");
    await rerun.close();
  } finally {
    await storeA.close();
    await storeB.close();
    tmp.remove();
  }
});

test("LeaderElection: overlapping renew() and acquire() calls of one candidate keep its lease (issue 17, defect 15)", async () => {
  const store = await openStore({ backend: "memory", sweepIntervalMs: 0 });
  try {
    const leader = new LeaderElection(store, { name: "primary", ttlMs: 60_000, holder: "a" });
    assert.equal(await leader.acquire(), true);
    assert.deepEqual(await Promise.all([leader.renew(), leader.renew()]), [true, true]);
    assert.equal(leader.isLeader(), true);
    assert.deepEqual(await Promise.all([leader.renew(), leader.acquire(), leader.renew()]), [true, true, true]);
    assert.equal(leader.isLeader(), true);
    assert.equal(leader.token, 1, "the same leadership throughout");
    const rival = new LeaderElection(store, { name: "primary", ttlMs: 60_000, holder: "b" });
    assert.equal(await rival.acquire(), false, "still held");
    await Promise.all([leader.renew(), leader.release()]);
    assert.equal(leader.isLeader(), false);
    assert.equal(await rival.acquire(), true, "released after the renewal that was made before it");
  } finally {
    await store.close();
  }
});

test("SnapshotCursor.advance matches a position whatever its key order (issue 17, defect 17)", async () => {
  const store = await openStore({ backend: "memory", sweepIntervalMs: 0 });
  try {
    const cursor = new SnapshotCursor<{ file: string; offset: number; at?: { page: number; of: number } }>(store, "orders");
    assert.equal(await cursor.advance(undefined, { file: "binlog.1", offset: 10, at: { page: 1, of: 9 } }), true);
    assert.equal(await cursor.advance({ offset: 10, at: { of: 9, page: 1 }, file: "binlog.1" }, { offset: 20, file: "binlog.1" }), true, "the same position, keys in another order");
    assert.deepEqual((await cursor.get()).position, { offset: 20, file: "binlog.1" });
    assert.equal(await cursor.advance({ file: "binlog.1", offset: 21 }, { file: "binlog.1", offset: 30 }), false, "another position is still refused");
    assert.equal(await cursor.advance({ file: "binlog.1", offset: 20 }, { file: "binlog.2", offset: 0 }), true);
  } finally {
    await store.close();
  }
});

test("runtime.close() after its store was closed: nothing to release through, it resolves", async () => {
  const store = await openStore({ backend: "memory", sweepIntervalMs: 0 });
  const runtime = await createRuntime(store);
  assert.equal(await runtime.election({ name: "pipeline", ttlMs: 60_000 }).acquire(), true);
  await store.close();
  await runtime.close();
});
