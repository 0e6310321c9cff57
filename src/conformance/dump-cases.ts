import assert from "node:assert/strict";
import { isStowageError } from "../api/errors.js";
import { compareKeys } from "../api/key-order.js";
import { utf8 } from "../api/codec.js";
import type { Store } from "../api/types.js";
import type { Engine, EngineOps, StoredKvRow, StoredLogEntry, StoredQueueRow, StoredSlotRow, StoredStreamEntry, StoredWorkRow } from "../engines/engine.js";
import { storeParts } from "../wrappers/layer.js";
import { dec, enc, needing, rejectsWith, type CaseGroup, type ManualClock } from "./harness.js";

/*
 * The engine operations behind export, import and migrate (`kvDump` … `streamRestore`, `Engine.snapshot`): what a
 * dump reads carries every fact a service relies on, a restore writes it back as it was, and later writes go on
 * after it (sequences, versions and ids never go backwards).
 */

/** The engine beneath a store, which the dump operations reach directly (as export and import do). */
function engineOf(store: Store): Engine {
  const engine = storeParts(store).engine;
  assert.ok(engine.snapshot !== undefined, `the ${engine.name} engine has a snapshot`);
  return engine;
}

function snapshot<T>(store: Store, body: (ops: EngineOps) => Promise<T>): Promise<T> {
  return engineOf(store).snapshot!(body);
}

/** Every page of a dump, `page` rows at a time. */
async function allPages<R, P>(read: (after: P | null) => Promise<R[]> | R[], positionOf: (row: R) => P): Promise<R[]> {
  const rows: R[] = [];
  let after: P | null = null;
  for (let pages = 0; pages < 10_000; pages++) {
    const page: R[] = await read(after);
    rows.push(...page);
    if (page.length === 0) return rows;
    after = positionOf(page.at(-1) as R);
  }
  throw new Error("a dump that never ends");
}

const kvRows = (ops: EngineOps, ns: string, now: number, page = 3) =>
  allPages<StoredKvRow, string>((after) => ops.kvDump(ns, after, page, now), (row) => row.key);
const slotRows = (ops: EngineOps, ns: string, page = 3) => allPages<StoredSlotRow, string>((after) => ops.slotDump(ns, after, page), (row) => row.key);
const queueRows = (ops: EngineOps, ns: string, page = 3) =>
  allPages<StoredQueueRow, { key: string; id: number }>((after) => ops.queueDump(ns, after, page), (row) => ({ key: row.key, id: row.id }));
const workRows = (ops: EngineOps, ns: string, page = 2) =>
  allPages<StoredWorkRow, { key: string; id: number }>((after) => ops.workDump(ns, after, page), (row) => ({ key: row.key, id: row.id }));
const logRows = (ops: EngineOps, ns: string) => allPages<StoredLogEntry, number>((after) => ops.logReadAll(ns, after ?? 0, 4), (row) => row.seq);
const segmentRows = (ops: EngineOps, ns: string, space: string, segment: string) =>
  allPages<StoredStreamEntry, number>((after) => ops.streamRead(ns, space, segment, (after ?? 0) + 1, Number.MAX_SAFE_INTEGER, 4), (row) => row.seq);

/** Text of the bytes in rows, for comparisons that read well. */
const text = <R extends { value: Uint8Array }>(rows: readonly R[]) => rows.map((row) => ({ ...row, value: dec(row.value) }));

/** Writes one of everything through the API, moving the clock between writes so that times differ. */
async function writeSample(store: Store, clock: { advance(ms: number): void }): Promise<void> {
  const kv = store.kv("d.kv", { codec: utf8 });
  await kv.put("b", "two");
  await kv.put("a", "one", { ttlMs: 60_000 });
  await kv.put("é", "accent");
  await kv.put("gone", "soon", { ttlMs: 10 });
  clock.advance(20);
  const log = store.log("d.log", { codec: utf8 });
  await log.append("x", "l1");
  clock.advance(1);
  await log.append("y", "l2");
  await log.append("x", "l3");
  const slot = store.slot("d.slot", { codec: utf8 });
  await slot.upsert("s1", "v1");
  await slot.upsert("s1", "v2");
  await slot.upsert("s0", "only");
  const queue = store.queue("d.queue", { codec: utf8 });
  const first = await queue.push("q", "i1");
  clock.advance(1);
  await queue.push("q", "i2");
  await queue.push("p", "i3");
  assert.equal(await queue.ack("q", first), true);
  const drained = store.queue("d.drained", { codec: utf8 });
  await drained.ack("q", await drained.push("q", "acked"));
  const stream = store.stream("d.stream", { codec: utf8 });
  await stream.produce("sp", "g1", [{ value: "e1", headers: { type: "t" } }, { value: "e2" }]);
  clock.advance(1);
  await stream.produce("sp", "g0", [{ value: "e3" }]);
}

/** Everything the sample holds, read through one snapshot. */
async function dumpSample(store: Store, now: number) {
  return snapshot(store, async (ops) => ({
    kv: text(await kvRows(ops, "d.kv", now)),
    log: text(await logRows(ops, "d.log")),
    logLastSeq: await ops.logLastSeq("d.log"),
    slot: text(await slotRows(ops, "d.slot")),
    queue: text(await queueRows(ops, "d.queue")),
    queueLastId: await ops.queueLastId("d.queue"),
    drainedLastId: await ops.queueLastId("d.drained"),
    segments: await ops.streamSegments("d.stream", "sp", null, 10),
    g0: text(await segmentRows(ops, "d.stream", "sp", "g0")),
    g1: text(await segmentRows(ops, "d.stream", "sp", "g1")),
  }));
}

/** Restores a dump of the sample (as `dumpSample` read it, in bytes) into `store`. */
async function restoreSample(from: Store, into: Store, now: number): Promise<void> {
  const dumped = await snapshot(from, async (ops) => ({
    kv: await kvRows(ops, "d.kv", now),
    log: await logRows(ops, "d.log"),
    slot: await slotRows(ops, "d.slot"),
    queue: await queueRows(ops, "d.queue"),
    queueLastId: await ops.queueLastId("d.queue"),
    drainedLastId: await ops.queueLastId("d.drained"),
    g0: await segmentRows(ops, "d.stream", "sp", "g0"),
    g1: await segmentRows(ops, "d.stream", "sp", "g1"),
  }));
  const engine = engineOf(into);
  await engine.write({ op: "kvRestore", args: ["d.kv", dumped.kv] });
  await engine.write({ op: "logRestore", args: ["d.log", dumped.log] });
  await engine.write({ op: "slotRestore", args: ["d.slot", dumped.slot] });
  await engine.write({ op: "queueRestore", args: ["d.queue", dumped.queue, dumped.queueLastId] });
  await engine.write({ op: "queueRestore", args: ["d.drained", [], dumped.drainedLastId] });
  await engine.write({ op: "streamRestore", args: ["d.stream", "sp", "g0", dumped.g0] });
  await engine.write({ op: "streamRestore", args: ["d.stream", "sp", "g1", dumped.g1] });
}

/**
 * Work items in every state, through the API: on key "a" one dead (its one attempt failed) and one leased (claimed,
 * deadline 1 s on); on key "b" one ready (priority 3), one delayed 5 s, one holding dedup key "u1". "d.done" handed
 * out an id and holds nothing. Returns the lease, its item's dead neighbour's error, and the ids.
 */
async function writeWorkSample(store: Store, clock: ManualClock) {
  const jobs = store.workQueue("d.work", { codec: utf8, visibilityMs: 1_000 });
  const doomed = await jobs.push("a", "doomed", { retry: { maxAttempts: 1 } });
  const [first] = await jobs.claim("a");
  assert.deepEqual(await jobs.fail(first!, new Error("boom")), { dead: true, visibleAt: null });
  clock.advance(1);
  const held = await jobs.push("a", "held", { retry: { maxAttempts: 3, backoff: { type: "fixed", delayMs: 50, jitter: "none" } } });
  const [lease] = await jobs.claim("a");
  assert.equal(lease?.id, held.id);
  const ready = await jobs.push("b", "ready", { priority: 3 });
  const delayed = await jobs.push("b", "delayed", { delayMs: 5_000 });
  const unique = await jobs.push("b", "unique", { dedupKey: "u1" });
  const done = store.workQueue("d.done", { codec: utf8 });
  await done.push("k", "acked");
  await done.ack((await done.claim("k"))[0]!);
  return { lease: lease!, ids: { doomed: doomed.id, held: held.id, ready: ready.id, delayed: delayed.id, unique: unique.id } };
}

/** The work sample's rows and last ids, read through one snapshot. */
const dumpWork = (store: Store) =>
  snapshot(store, async (ops) => ({ rows: await workRows(ops, "d.work"), lastId: await ops.workLastId("d.work"), doneRows: await workRows(ops, "d.done"), doneLastId: await ops.workLastId("d.done") }));

export const dumpCases: CaseGroup = {
  "a dump reads every primitive with its facts: deadlines, sequences, times, versions, ids": async ({ store, clock }) => {
    const start = clock.now();
    await writeSample(store, clock);
    const dump = await dumpSample(store, clock.now());
    assert.deepEqual(dump.kv, [
      { key: "a", value: "one", expiresAt: start + 60_000 },
      { key: "b", value: "two", expiresAt: null },
      { key: "é", value: "accent", expiresAt: null },
    ]);
    assert.deepEqual(dump.log, [
      { seq: 1, key: "x", value: "l1", timestamp: start + 20 },
      { seq: 2, key: "y", value: "l2", timestamp: start + 21 },
      { seq: 3, key: "x", value: "l3", timestamp: start + 21 },
    ]);
    assert.equal(dump.logLastSeq, 3);
    assert.deepEqual(dump.slot, [
      { key: "s0", version: 1, value: "only" },
      { key: "s1", version: 2, value: "v2" },
    ]);
    assert.deepEqual(dump.queue, [
      { key: "p", id: 3, value: "i3", pushedAt: start + 22 },
      { key: "q", id: 2, value: "i2", pushedAt: start + 22 },
    ]);
    assert.equal(dump.queueLastId, 3);
    assert.equal(dump.drainedLastId, 1);
    assert.deepEqual(dump.segments, ["g0", "g1"]);
    assert.deepEqual(
      dump.g1.map(({ seq, value, timestamp, headers }) => ({ seq, value, timestamp, headers: headers === null ? null : JSON.parse(headers) })),
      [
        { seq: 1, value: "e1", timestamp: start + 22, headers: { type: "t" } },
        { seq: 2, value: "e2", timestamp: start + 22, headers: null },
      ],
    );
    assert.deepEqual(
      dump.g0.map(({ seq, value, timestamp }) => ({ seq, value, timestamp })),
      [{ seq: 1, value: "e3", timestamp: start + 23 }],
    );
  },

  "describe lists every namespace a dump must carry, a queue whose items were all acknowledged included": async ({ store, clock }) => {
    await writeSample(store, clock);
    const described = await engineOf(store).read({ op: "describe", args: [clock.now()] });
    const names = described.namespaces.map(({ primitive, namespace }) => `${primitive}:${namespace}`).sort();
    for (const expected of ["kv:d.kv", "log:d.log", "slot:d.slot", "queue:d.queue", "queue:d.drained", "stream:d.stream"]) {
      assert.ok(names.includes(expected), `describe lists ${expected}: ${names.join(", ")}`);
    }
  },

  "a restore into an empty store holds what the dump read, and later writes go on after it": async ({ store, clock, open }) => {
    await writeSample(store, clock);
    const target = await open();
    await restoreSample(store, target, clock.now());
    assert.deepEqual(await dumpSample(target, clock.now()), await dumpSample(store, clock.now()));
    // Sequences, versions and ids continue where the source's stood.
    assert.equal(await target.log("d.log", { codec: utf8 }).append("x", "next"), 4);
    assert.equal(await target.slot("d.slot", { codec: utf8 }).upsert("s1", "v3"), 3);
    assert.equal(await target.queue("d.queue", { codec: utf8 }).push("q", "later"), 4);
    assert.equal(await target.queue("d.drained", { codec: utf8 }).push("q", "later"), 2);
    const stream = target.stream("d.stream", { codec: utf8 });
    assert.deepEqual(await stream.status("sp", "g1"), { lastSeq: 2, lastTimestamp: (await stream.peek("sp", "g1"))!.timestamp, count: 2 });
    assert.equal((await stream.produce("sp", "g1", [{ value: "e4" }], { expectedSeq: 2 })).lastSeq, 3);
    // The space's (timestamp, segment, seq) order holds restored entries.
    const page = await stream.readSpace("sp");
    assert.deepEqual(
      page.entries.map((entry) => `${entry.segment}/${entry.seq}:${entry.value}`),
      ["g1/1:e1", "g1/2:e2", "g0/1:e3", "g1/3:e4"],
    );
    // The API reads what was restored: TTL deadlines included.
    const kv = target.kv("d.kv", { codec: utf8 });
    assert.equal(await kv.get("a"), "one");
    clock.advance(60_000);
    assert.equal(await kv.get("a"), undefined);
    assert.equal(await kv.get("b"), "two");
    assert.deepEqual((await target.queue("d.queue", { codec: utf8 }).peek("q", 10)).map((item) => item.value), ["i2", "later"]);
    assert.deepEqual((await target.check()).problems, []);
  },

  "kv dumps page in key order, resume after the last key, and leave expired entries out": async ({ store, clock }) => {
    const kv = store.kv("order");
    const keys = ["b", "a", "ab", "a/b", "A", "z~", "é", "日本", "0", "a0", "", "e\u0301"].filter((key) => key !== "");
    for (const key of keys) await kv.put(key, enc(key));
    await kv.put("expired", enc("x"), { ttlMs: 5 });
    clock.advance(10);
    const dumped = await snapshot(store, (ops) => kvRows(ops, "order", clock.now(), 2));
    assert.deepEqual(
      dumped.map((row) => row.key),
      [...keys].sort(compareKeys),
    );
    assert.ok(dumped.every((row) => dec(row.value) === row.key && row.expiresAt === null));
  },

  "a restored past deadline is expired at once; a restore replaces entries and slots of the same keys": async ({ store, clock }) => {
    const engine = engineOf(store);
    const kv = store.kv("r.kv", { codec: utf8 });
    await kv.put("k", "old");
    await engine.write({
      op: "kvRestore",
      args: [
        "r.kv",
        [
          { key: "k", value: enc("new"), expiresAt: null },
          { key: "past", value: enc("p"), expiresAt: clock.now() - 1 },
          { key: "later", value: enc("l"), expiresAt: clock.now() + 100 },
        ],
      ],
    });
    assert.equal(await kv.get("k"), "new");
    assert.equal(await kv.get("past"), undefined);
    assert.equal(await kv.get("later"), "l");
    assert.equal(await kv.count(), 2);
    await store.slot("r.slot").upsert("s", enc("v1"));
    await engine.write({ op: "slotRestore", args: ["r.slot", [{ key: "s", version: 7, value: enc("v7") }]] });
    assert.deepEqual(await store.slot("r.slot").get("s"), { version: 7, value: enc("v7") });
    assert.equal(await store.slot("r.slot").cas("s", 7, enc("v8")), true);
  },

  "restores that would take sequences or ids back are CONFLICT and write nothing": async ({ store, clock }) => {
    const engine = engineOf(store);
    const log = store.log("c.log", { codec: utf8 });
    await log.append("k", "a");
    await log.append("k", "b");
    const entry = (seq: number): StoredLogEntry => ({ seq, key: "k", value: enc(`r${seq}`), timestamp: clock.now() });
    await rejectsWith(engine.write({ op: "logRestore", args: ["c.log", [entry(3), entry(2)]] }), "CONFLICT");
    await rejectsWith(engine.write({ op: "logRestore", args: ["c.log", [entry(2)]] }), "CONFLICT");
    assert.deepEqual((await log.list("k")).map((e) => e.value), ["a", "b"]);
    await engine.write({ op: "logRestore", args: ["c.log", [entry(3), entry(4)]] });
    assert.equal(await log.append("k", "c"), 5);

    const queue = store.queue("c.queue", { codec: utf8 });
    const id = await queue.push("q", "one");
    const item = (key: string, itemId: number): StoredQueueRow => ({ key, id: itemId, value: enc(`i${itemId}`), pushedAt: clock.now() });
    await rejectsWith(engine.write({ op: "queueRestore", args: ["c.queue", [item("p", 50), item("q", id)], 0] }), "CONFLICT");
    assert.deepEqual((await queue.peek("p", 10)).length, 0);
    await engine.write({ op: "queueRestore", args: ["c.queue", [item("p", 50)], 70] });
    assert.equal(await queue.push("q", "two"), 71);
    assert.deepEqual((await queue.peek("p", 10)).map((i) => i.value), ["i50"]);

    const stream = store.stream("c.stream", { codec: utf8 });
    await stream.produce("sp", "g", [{ value: "s1" }]);
    const streamEntry = (seq: number): StoredStreamEntry => ({ seq, timestamp: clock.now(), value: enc(`s${seq}`), headers: null, compression: null });
    await rejectsWith(engine.write({ op: "streamRestore", args: ["c.stream", "sp", "g", [streamEntry(3)]] }), "CONFLICT");
    await rejectsWith(engine.write({ op: "streamRestore", args: ["c.stream", "sp", "g", [streamEntry(2), streamEntry(4)]] }), "CONFLICT");
    assert.equal((await stream.status("sp", "g")).lastSeq, 1);
    await engine.write({ op: "streamRestore", args: ["c.stream", "sp", "g", [streamEntry(2), streamEntry(3)]] });
    assert.equal((await stream.produce("sp", "g", [{ value: "s4" }], { expectedSeq: 3 })).lastSeq, 4);
    assert.deepEqual((await store.check()).problems, []);
  },

  "a snapshot reads one point in time while others write, or rejects CONFLICT; its ops do not write": async ({ store }) => {
    const kv = store.kv("snap", { codec: utf8 });
    await kv.put("k", "before");
    let writing: Promise<void> | undefined;
    let outcome: { first: string | undefined; second: string | undefined } | undefined;
    try {
      outcome = await snapshot(store, async (ops) => {
        const first = dec(await ops.kvGet("snap", "k", 0));
        // Not awaited: an engine whose snapshot holds its writers (memory) lets this write go after the body.
        writing = kv.put("k", "during");
        await new Promise((resolve) => setTimeout(resolve, 20));
        const second = dec((await ops.kvDump("snap", null, 10, 0))[0]?.value);
        await rejectsWith(async () => ops.kvPut("snap", "k", enc("via snapshot"), null), "INTERNAL");
        return { first, second };
      });
    } catch (error) {
      // An engine without snapshot reads (Redis, Azure Table) finds the commit and refuses the whole read.
      assert.ok(isStowageError(error, "CONFLICT"), `a snapshot fails only CONFLICT: ${String(error)}`);
    }
    await writing;
    if (outcome !== undefined) assert.deepEqual(outcome, { first: "before", second: "before" });
    assert.equal(await kv.get("k"), "during");
  },
  "work queues: describe lists them while they have handed out an id, counting every item, dead ones included": needing(["workQueues"], async ({ store, clock }) => {
    await writeWorkSample(store, clock);
    const described = await engineOf(store).read({ op: "describe", args: [clock.now()] });
    const work = described.namespaces.filter((info) => info.primitive === "work").map(({ namespace, count }) => ({ namespace, count }));
    assert.deepEqual(work.sort((x, y) => compareKeys(x.namespace, y.namespace)), [
      { namespace: "d.done", count: 0 },
      { namespace: "d.work", count: 5 },
    ]);
    const info = await store.info();
    assert.deepEqual(info.namespaces.filter((ns) => ns.primitive === "work").map((ns) => ns.namespace), ["d.done", "d.work"], "info() lists work namespaces last, by name");
  }),

  "work queues: a dump reads every item in (key, id) order with its state, lease, attempts and dedup key": needing(["workQueues"], async ({ store, clock }) => {
    const start = clock.now();
    const { lease, ids } = await writeWorkSample(store, clock);
    const { rows, lastId, doneRows, doneLastId } = await dumpWork(store);
    const deadError = (await store.workQueue("d.work").dead("a"))[0]!.lastError;
    assert.equal(deadError, "Error: boom");
    const now = start + 1;
    // A dead item keeps the visible time it had (its last lease's deadline): equal stores dump it alike.
    const shape = rows.map(({ key, id, value, pushedAt, priority, visibleAt, attempts, maxAttempts, token, dedup, dead, lastError, deadAt }) =>
      ({ key, id, value: dec(value), pushedAt, priority, visibleAt, attempts, maxAttempts, token, dedup, dead, lastError, deadAt }));
    assert.deepEqual(shape, [
      { key: "a", id: ids.doomed, value: "doomed", pushedAt: start, priority: 0, visibleAt: start + 1_000, attempts: 1, maxAttempts: 1, token: null, dedup: null, dead: true, lastError: "Error: boom", deadAt: start },
      { key: "a", id: ids.held, value: "held", pushedAt: now, priority: 0, visibleAt: lease.deadline, attempts: 1, maxAttempts: 3, token: lease.token, dedup: null, dead: false, lastError: null, deadAt: null },
      { key: "b", id: ids.ready, value: "ready", pushedAt: now, priority: 3, visibleAt: now, attempts: 0, maxAttempts: 5, token: null, dedup: null, dead: false, lastError: null, deadAt: null },
      { key: "b", id: ids.delayed, value: "delayed", pushedAt: now, priority: 0, visibleAt: now + 5_000, attempts: 0, maxAttempts: 5, token: null, dedup: null, dead: false, lastError: null, deadAt: null },
      { key: "b", id: ids.unique, value: "unique", pushedAt: now, priority: 0, visibleAt: now, attempts: 0, maxAttempts: 5, token: null, dedup: "u1", dead: false, lastError: null, deadAt: null },
    ]);
    assert.equal(lease.deadline, now + 1_000);
    assert.ok(rows.every((row) => typeof row.policy === "string"));
    assert.equal(lastId, ids.unique);
    assert.deepEqual([doneRows, doneLastId], [[], 1]);
  }),

  "work queues: a restore holds every item as it was; a restored lease expires at its deadline and its item is claimed again with the attempt counted": needing(["workQueues"], async ({ store, clock, open }) => {
    const { lease, ids } = await writeWorkSample(store, clock);
    const dumped = await dumpWork(store);
    const target = await open();
    const engine = engineOf(target);
    // In two batches, as a restore of a dump sends them, then the namespace that holds nothing: its last id alone.
    await engine.write({ op: "workRestore", args: ["d.work", dumped.rows.slice(0, 2), dumped.lastId] });
    await engine.write({ op: "workRestore", args: ["d.work", dumped.rows.slice(2), dumped.lastId] });
    await engine.write({ op: "workRestore", args: ["d.done", [], dumped.doneLastId] });
    assert.deepEqual(await dumpWork(target), dumped);
    assert.deepEqual((await store.check()).problems, []);
    assert.deepEqual((await target.check()).problems, []);

    const jobs = target.workQueue("d.work", { codec: utf8, visibilityMs: 1_000 });
    assert.deepEqual(await jobs.counts("a"), { ready: 0, delayed: 0, leased: 1, dead: 1 });
    assert.deepEqual(await jobs.counts("b"), { ready: 2, delayed: 1, leased: 0, dead: 0 });
    assert.deepEqual((await jobs.dead("a")).map((item) => [item.id, item.value, item.attempts, item.lastError]), [[ids.doomed, "doomed", 1, "Error: boom"]]);
    // The dedup key is held in the target too; ids go on after the source's last, in both namespaces.
    assert.deepEqual(await jobs.push("b", "again", { dedupKey: "u1" }), { id: ids.unique, duplicate: true });
    assert.deepEqual(await jobs.push("c", "next"), { id: ids.unique + 1, duplicate: false });
    assert.deepEqual(await target.workQueue("d.done").push("k", enc("next")), { id: 2, duplicate: false });
    // Claims take by priority, then visible time: the ready ones of "b", never the delayed one before its time.
    assert.deepEqual((await jobs.claim("b", { limit: 5 })).map((item) => item.value), ["ready", "unique"]);

    // The source's lease holds in the target until its deadline: nothing of "a" is claimable.
    clock.advance(lease.deadline - clock.now() - 1);
    assert.deepEqual(await jobs.claim("a"), []);
    clock.advance(1);
    const again = await jobs.claim("a");
    assert.deepEqual(again.map((item) => [item.id, item.value, item.attempt, item.token === lease.token]), [[ids.held, "held", 2, false]]);
    await rejectsWith(jobs.ack(lease), "LEASE_LOST");
    await jobs.ack(again[0]!);
    assert.deepEqual(await jobs.counts("a"), { ready: 0, delayed: 0, leased: 0, dead: 1 });
    assert.deepEqual((await target.check()).problems, []);
  }),

  "work queues: restores that would reuse an id or a live dedup key are CONFLICT and write nothing": needing(["workQueues"], async ({ store, clock }) => {
    const engine = engineOf(store);
    const jobs = store.workQueue("c.work", { codec: utf8 });
    const held = await jobs.push("q", "one", { dedupKey: "d1" });
    const row = (key: string, id: number, dedup: string | null = null): StoredWorkRow => ({
      key, id, value: enc(`w${id}`), pushedAt: clock.now(), priority: 0, visibleAt: clock.now(), attempts: 0, maxAttempts: 5,
      policy: '{"type":"fixed","delayMs":10,"jitter":"none"}', token: null, dedup, dead: false, lastError: null, deadAt: null,
    });
    await rejectsWith(engine.write({ op: "workRestore", args: ["c.work", [row("p", 50), row("q", held.id)], 0] }), "CONFLICT");
    await rejectsWith(engine.write({ op: "workRestore", args: ["c.work", [row("p", 50), row("p", 50)], 0] }), "CONFLICT");
    await rejectsWith(engine.write({ op: "workRestore", args: ["c.work", [row("p", 50), row("q", 51, "d1")], 0] }), "CONFLICT");
    assert.deepEqual(await jobs.counts("p"), { ready: 0, delayed: 0, leased: 0, dead: 0 });
    assert.equal(await engine.read({ op: "workLastId", args: ["c.work"] }), held.id);
    // A dead item may keep a dedup key a live one holds: only live items hold them.
    await engine.write({ op: "workRestore", args: ["c.work", [row("p", 50), { ...row("q", 51, "d1"), dead: true, deadAt: clock.now(), lastError: "gone" }], 70] });
    assert.deepEqual(await jobs.push("q", "two"), { id: 71, duplicate: false });
    assert.deepEqual((await jobs.claim("p")).map((item) => [item.id, item.value]), [[50, "w50"]]);
    assert.deepEqual((await jobs.dead("q")).map((item) => [item.id, item.dedupKey]), [[51, "d1"]]);
    assert.deepEqual((await store.check()).problems, []);
  }),
};
