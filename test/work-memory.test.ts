/**
 * The memory engine's work queues (issue 21, stage B): the reference every other engine is compared with, proved on
 * its own through the store with a manual clock — claim order, leases and their expiry, settles, retries and dead
 * letters, delays, dedup, requeue and purge, transactions — and the operations the API does not reach yet (poll,
 * dump, restore) through the engine. `store.check()` runs after every kind of write.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ManualClock, rejectsWith } from "../src/conformance/harness.js";
import type { StoredWorkRow } from "../src/engines/engine.js";
import { MemoryEngine } from "../src/engines/memory/memory-engine.js";
import { LEASE_EXPIRED_ERROR } from "../src/engines/work-rules.js";
import { createStore, isStowageError, utf8, type ClaimedItem, type ErrorCode, type Store, type WorkQueue, type WorkQueueOptions } from "../src/index.js";
import { storedWorkRow } from "./helpers/work-rows.js";

interface Fixture {
  store: Store;
  engine: MemoryEngine;
  clock: ManualClock;
  jobs: WorkQueue<string>;
}

const NO_JITTER = { type: "fixed", delayMs: 50, jitter: "none" } as const;

async function withStore(options: Omit<WorkQueueOptions<string>, "codec">, body: (f: Fixture) => Promise<void>): Promise<void> {
  const clock = new ManualClock();
  const engine = new MemoryEngine();
  const store = createStore(engine, { clock: clock.now, sweepIntervalMs: 0 });
  try {
    await body({ store, engine, clock, jobs: store.workQueue("jobs", { codec: utf8, ...options }) });
  } finally {
    await store.close();
  }
}

async function checked(store: Store, after: string): Promise<void> {
  assert.deepEqual((await store.check()).problems, [], `store.check() after ${after}`);
}

async function refused(call: () => Promise<unknown>, code: ErrorCode, itemId?: number): Promise<void> {
  const error = await rejectsWith(call, code);
  if (itemId !== undefined) assert.equal(error.itemId, itemId);
}

const values = (items: ReadonlyArray<ClaimedItem<string>>): string[] => items.map((item) => item.value);

test("claims take priority descending, then visibleAt, then id, up to the limit; leased items are invisible", async () => {
  await withStore({}, async ({ store, clock, jobs }) => {
    const now = clock.time;
    await jobs.pushMany("k", [
      { value: "a" },
      { value: "b", priority: 5 },
      { value: "c", delayMs: 10 },
      { value: "d", priority: 5 },
      { value: "e", priority: -1 },
      { value: "f", notBefore: now - 100 },
    ]);
    await checked(store, "pushes");
    const first = await jobs.claim("k", { limit: 2 });
    assert.deepEqual(values(first), ["b", "d"]);
    assert.deepEqual(first.map((item) => [item.attempt, item.deadline, item.priority, item.pushedAt, item.lastError]), [
      [1, now + 30_000, 5, now, null],
      [1, now + 30_000, 5, now, null],
    ]);
    assert.deepEqual(values(await jobs.claim("k", { limit: 10 })), ["f", "a", "e"], "f's earlier visibleAt goes before a; c is delayed");
    assert.deepEqual(await jobs.claim("k", { limit: 10 }), [], "leased items are invisible");
    clock.advance(10);
    assert.deepEqual(values(await jobs.claim("k")), ["c"]);
    assert.deepEqual(await jobs.counts("k"), { ready: 0, delayed: 0, leased: 6, dead: 0 });
    assert.deepEqual(await jobs.claim("other"), []);
    assert.deepEqual(await jobs.keys(), ["k"]);
    await checked(store, "claims");
  });
});

test("a lease expires exactly at its deadline: the item is claimed again (attempt 2) and the old lease is lost", async () => {
  await withStore({}, async ({ store, clock, jobs }) => {
    const { id } = await jobs.push("k", "x");
    const [old] = await jobs.claim("k", { visibilityMs: 1_000 });
    clock.advance(999);
    assert.deepEqual(await jobs.claim("k"), [], "not yet at the deadline");
    assert.deepEqual(await jobs.counts("k"), { ready: 0, delayed: 0, leased: 1, dead: 0 });
    clock.advance(1);
    assert.deepEqual(await jobs.counts("k"), { ready: 1, delayed: 0, leased: 0, dead: 0 }, "an expired lease counts as ready");
    const [again] = await jobs.claim("k", { visibilityMs: 1_000 });
    assert.equal(again!.id, id);
    assert.equal(again!.attempt, 2);
    assert.equal(again!.deadline, clock.time + 1_000);
    await refused(() => jobs.ack(old!), "LEASE_LOST", id);
    await refused(() => jobs.extend(old!), "LEASE_LOST", id);
    await refused(() => jobs.fail(old!, new Error("late")), "LEASE_LOST", id);
    await refused(() => jobs.release(old!), "LEASE_LOST", id);
    assert.deepEqual(await jobs.ackMany([old!, again!]), { acked: 1, lost: [old!] });
    assert.deepEqual(await jobs.counts("k"), { ready: 0, delayed: 0, leased: 0, dead: 0 });
    assert.deepEqual(await jobs.keys(), [], "a key with no items is not listed");
    await checked(store, "expiry and acks");
  });
});

test("an ack after the deadline succeeds while nobody claimed the item again; extend moves the deadline", async () => {
  await withStore({ visibilityMs: 100 }, async ({ store, clock, jobs }) => {
    await jobs.pushMany("k", [{ value: "late" }, { value: "extended" }]);
    const [late, extended] = await jobs.claim("k", { limit: 2 });
    clock.advance(50);
    const moved = await jobs.extend(extended!, 200);
    assert.equal(moved.deadline, clock.time + 200);
    assert.equal(moved.token, extended!.token);
    clock.advance(5_000);
    await jobs.ack(late!);
    const leases = await jobs.extendMany([extended!, late!], 10);
    assert.deepEqual(leases.map((lease) => lease?.deadline ?? null), [clock.time + 10, null], "the acked one is lost");
    await checked(store, "extends");
    clock.advance(9);
    assert.deepEqual(await jobs.claim("k"), []);
    clock.advance(1);
    assert.deepEqual(values(await jobs.claim("k")), ["extended"]);
    await checked(store, "a late ack");
  });
});

test("release gives the attempt back unless countAttempt, and may delay the item", async () => {
  await withStore({}, async ({ store, clock, jobs }) => {
    await jobs.push("k", "x");
    const [first] = await jobs.claim("k");
    await jobs.release(first!);
    const [second] = await jobs.claim("k");
    assert.equal(second!.attempt, 1, "the attempt was given back");
    await jobs.release(second!, { countAttempt: true, delayMs: 100 });
    assert.deepEqual(await jobs.counts("k"), { ready: 0, delayed: 1, leased: 0, dead: 0 });
    await checked(store, "releases");
    clock.advance(99);
    assert.deepEqual(await jobs.claim("k"), []);
    clock.advance(1);
    const [third] = await jobs.claim("k");
    assert.equal(third!.attempt, 2, "the counted attempt stays");
    assert.equal(third!.lastError, null, "a release records no error");
  });
});

test("fail retries after the fixed backoff or retryAfterMs, and dead-letters at maxAttempts with the last error", async () => {
  await withStore({ retry: { maxAttempts: 3, backoff: NO_JITTER } }, async ({ store, clock, jobs }) => {
    const { id } = await jobs.push("k", "x");
    const [first] = await jobs.claim("k");
    assert.equal(first!.maxAttempts, 3);
    assert.deepEqual(await jobs.fail(first!, new Error("one")), { dead: false, visibleAt: clock.time + 50 });
    assert.deepEqual(await jobs.counts("k"), { ready: 0, delayed: 1, leased: 0, dead: 0 });
    await checked(store, "a failed retry");
    clock.advance(49);
    assert.deepEqual(await jobs.claim("k"), []);
    clock.advance(1);
    const [second] = await jobs.claim("k");
    assert.deepEqual([second!.attempt, second!.lastError], [2, "Error: one"]);
    assert.deepEqual(await jobs.fail(second!, "two", { retryAfterMs: 7 }), { dead: false, visibleAt: clock.time + 7 });
    clock.advance(7);
    const [third] = await jobs.claim("k");
    assert.deepEqual([third!.attempt, third!.lastError], [3, "two"]);
    const deadAt = clock.time;
    assert.deepEqual(await jobs.fail(third!, new TypeError("three")), { dead: true, visibleAt: null });
    assert.deepEqual(await jobs.dead("k"), [{ id, value: "x", pushedAt: deadAt - 57, attempts: 3, lastError: "TypeError: three", deadAt, dedupKey: null }]);
    assert.deepEqual(await jobs.counts("k"), { ready: 0, delayed: 0, leased: 0, dead: 1 });
    clock.advance(1_000);
    assert.deepEqual(await jobs.claim("k"), [], "dead items are never claimed");
    await checked(store, "a failure dead-lettered");
  });
});

test("exponential backoff without jitter doubles; final dead-letters at once", async () => {
  const backoff = { type: "exponential", delayMs: 10, jitter: "none" } as const;
  await withStore({ retry: { maxAttempts: 10, backoff } }, async ({ store, clock, jobs }) => {
    await jobs.pushMany("k", [{ value: "retried" }, { value: "final", priority: -1 }]);
    for (const wait of [10, 20, 40]) {
      const [item] = await jobs.claim("k");
      assert.equal(item!.value, "retried");
      assert.deepEqual(await jobs.fail(item!, "again"), { dead: false, visibleAt: clock.time + wait });
      clock.advance(wait);
    }
    const [retried, final] = await jobs.claim("k", { limit: 2 });
    assert.equal(retried!.attempt, 4);
    assert.deepEqual(await jobs.fail(final!, "give up", { final: true }), { dead: true, visibleAt: null });
    assert.deepEqual((await jobs.dead("k")).map((item) => [item.value, item.attempts, item.lastError]), [["final", 1, "give up"]]);
    await checked(store, "a final failure");
  });
});

test("a claim dead-letters an expired item whose attempts are used up, and leases the next one in the same call", async () => {
  await withStore({ retry: { maxAttempts: 2 }, visibilityMs: 100 }, async ({ store, clock, jobs }) => {
    const { id } = await jobs.push("k", "stuck", { priority: 1 });
    await jobs.claim("k");
    clock.advance(100);
    assert.equal((await jobs.claim("k"))[0]!.attempt, 2);
    await jobs.push("k", "next");
    clock.advance(100);
    assert.deepEqual(values(await jobs.claim("k")), ["next"]);
    assert.deepEqual((await jobs.dead("k")).map((item) => [item.id, item.attempts, item.lastError, item.deadAt]), [[id, 2, LEASE_EXPIRED_ERROR, clock.time]]);
    assert.deepEqual(await jobs.counts("k"), { ready: 0, delayed: 0, leased: 1, dead: 1 });
    await checked(store, "a claim that dead-lettered");
  });
});

test("delayMs and notBefore hold items back; counts follow the clock", async () => {
  await withStore({}, async ({ store, clock, jobs }) => {
    await jobs.push("k", "later", { delayMs: 100 });
    await jobs.push("k", "at", { notBefore: clock.time + 200 });
    assert.deepEqual(await jobs.counts("k"), { ready: 0, delayed: 2, leased: 0, dead: 0 });
    assert.deepEqual(await jobs.claim("k"), []);
    clock.advance(100);
    assert.deepEqual(await jobs.counts("k"), { ready: 1, delayed: 1, leased: 0, dead: 0 });
    assert.deepEqual(values(await jobs.claim("k", { limit: 5 })), ["later"]);
    clock.advance(100);
    assert.deepEqual(await jobs.counts("k"), { ready: 1, delayed: 0, leased: 1, dead: 0 });
    assert.deepEqual(values(await jobs.claim("k", { limit: 5 })), ["at"]);
    await checked(store, "delayed pushes");
  });
});

test("dedup keys: a duplicate push returns the live holder, reject refuses the whole call; ack and death free the key", async () => {
  await withStore({ retry: { maxAttempts: 1 } }, async ({ store, jobs }) => {
    assert.deepEqual(await jobs.push("k", "a", { dedupKey: "d" }), { id: 1, duplicate: false });
    assert.deepEqual(await jobs.push("k", "b", { dedupKey: "d" }), { id: 1, duplicate: true });
    assert.deepEqual(await jobs.push("other", "b", { dedupKey: "d" }), { id: 2, duplicate: false }, "dedup keys are per queue key");
    await refused(() => jobs.push("k", "c", { dedupKey: "d", onDuplicate: "reject" }), "CONFLICT", 1);
    await refused(() => jobs.pushMany("k", [{ value: "new" }, { value: "c", dedupKey: "d", onDuplicate: "reject" }]), "CONFLICT", 1);
    await refused(() => jobs.pushMany("k", [{ value: "e", dedupKey: "e" }, { value: "e2", dedupKey: "e", onDuplicate: "reject" }]), "CONFLICT", 3);
    assert.deepEqual(await jobs.counts("k"), { ready: 1, delayed: 0, leased: 0, dead: 0 }, "a refused pushMany leaves nothing");
    assert.deepEqual(await jobs.pushMany("k", [{ value: "f", dedupKey: "f" }, { value: "f2", dedupKey: "f" }]), [
      { id: 3, duplicate: false },
      { id: 3, duplicate: true },
    ], "no id was taken by the refused calls; an earlier item of the call holds the key");
    await checked(store, "dedup pushes");
    const [held] = await jobs.claim("k");
    assert.deepEqual(await jobs.push("k", "again", { dedupKey: "d" }), { id: 1, duplicate: true }, "a leased item holds its key");
    await jobs.ack(held!);
    assert.deepEqual(await jobs.push("k", "again", { dedupKey: "d" }), { id: 4, duplicate: false }, "ack freed the key");
    const [f] = await jobs.claim("k");
    assert.equal(f!.id, 3);
    await jobs.fail(f!, "boom");
    assert.deepEqual(await jobs.push("k", "f again", { dedupKey: "f" }), { id: 5, duplicate: false }, "death freed the key");
    assert.deepEqual((await jobs.dead("k")).map((item) => [item.id, item.dedupKey]), [[3, "f"]]);
    await checked(store, "dedup keys freed");
  });
});

test("dead letters page by id; requeue makes them ready with no attempts (skipping held dedup keys); purge removes them", async () => {
  await withStore({ retry: { maxAttempts: 1 } }, async ({ store, engine, clock, jobs }) => {
    await jobs.pushMany("k", ["1", "2", "3", "4", "5"].map((value) => ({ value, dedupKey: value })));
    for (const item of await jobs.claim("k", { limit: 5 })) await jobs.fail(item, `failed ${item.value}`);
    assert.deepEqual((await jobs.dead("k", { limit: 2 })).map((item) => item.id), [1, 2]);
    assert.deepEqual((await jobs.dead("k", { afterId: 2, limit: 2 })).map((item) => item.id), [3, 4]);
    assert.deepEqual((await jobs.dead("k", { afterId: 4 })).map((item) => item.id), [5]);
    await jobs.push("k", "holder", { dedupKey: "3" });
    clock.advance(10);
    assert.deepEqual(await jobs.requeue("k", [2, 3, 6, 99]), { requeued: 1, skipped: [3], more: false });
    await checked(store, "a requeue");
    const requeued = await jobs.claim("k", { limit: 5 });
    assert.deepEqual(requeued.map((item) => [item.id, item.attempt, item.lastError]), [[6, 1, null], [2, 1, "failed 2"]], "requeued visible now, after 6");
    assert.deepEqual((await jobs.dead("k")).map((item) => item.id), [1, 3, 4, 5]);
    // Bounded by the call's limit: `more` tells dead items remain beyond the ones it looked at.
    assert.deepEqual(await engine.write({ op: "workRequeue", args: ["jobs", "k", null, clock.time, 2] }), { requeued: 1, skipped: [3], more: true });
    assert.deepEqual(await engine.write({ op: "workPurge", args: ["jobs", "k", null, 1] }), { purged: 1, more: true });
    assert.deepEqual((await jobs.dead("k")).map((item) => item.id), [4, 5]);
    assert.deepEqual(await jobs.purgeDead("k", [5, 2]), { purged: 1, more: false }, "a live item is not purged");
    assert.deepEqual(await jobs.purgeDead("k"), { purged: 1, more: false });
    assert.deepEqual(await jobs.dead("k"), []);
    assert.deepEqual(await jobs.counts("k"), { ready: 1, delayed: 0, leased: 2, dead: 0 });
    await checked(store, "purges");
  });
});

test("transactions: a rolled-back claim leaves the item claimable, attempts unchanged; claim, KV put and ack commit together", async () => {
  await withStore({}, async ({ store, jobs }) => {
    await jobs.push("k", "x");
    await assert.rejects(
      store.transaction(async (tx) => {
        assert.equal((await tx.workQueue("jobs", { codec: utf8 }).claim("k")).length, 1);
        throw new Error("body fails");
      }),
      /body fails/,
    );
    assert.deepEqual(await jobs.counts("k"), { ready: 1, delayed: 0, leased: 0, dead: 0 });
    await checked(store, "a rolled-back claim");
    await store.transaction(async (tx) => {
      const queue = tx.workQueue("jobs", { codec: utf8 });
      const [item] = await queue.claim("k");
      assert.equal(item!.attempt, 1, "the rolled-back claim counted no attempt");
      await tx.kv("totals", { codec: utf8 }).put("done", item!.value);
      await queue.ack(item!);
    });
    assert.equal(await store.kv("totals", { codec: utf8 }).get("done"), "x");
    assert.deepEqual(await jobs.counts("k"), { ready: 0, delayed: 0, leased: 0, dead: 0 });
    await checked(store, "claim, put and ack in one transaction");

    await jobs.push("k", "y");
    const [lost] = await jobs.claim("k");
    await jobs.release(lost!);
    await refused(
      () =>
        store.transaction(async (tx) => {
          await tx.kv("totals", { codec: utf8 }).put("effect", "applied");
          await tx.workQueue("jobs", { codec: utf8 }).ack(lost!);
        }),
      "LEASE_LOST",
    );
    assert.equal(await store.kv("totals", { codec: utf8 }).get("effect"), undefined, "a lost lease's ack rolls the effect back");
    await assert.rejects(
      store.transaction(async (tx) => {
        await tx.workQueue("jobs", { codec: utf8 }).push("k", "in tx", { dedupKey: "t" });
        throw new Error("undo the push");
      }),
      /undo the push/,
    );
    assert.deepEqual(await jobs.counts("k"), { ready: 1, delayed: 0, leased: 0, dead: 0 }, "the rolled-back push left nothing");
    assert.deepEqual(await jobs.push("k", "after", { dedupKey: "t" }), { id: 3, duplicate: false }, "nor its id nor its dedup key");
    await checked(store, "rolled-back transactions");
  });
});

const row = storedWorkRow;

test("engine: restore writes rows as they were, refusing held ids, repeated ids and held dedup keys whole; dump pages by (key, id); poll", async () => {
  const engine = new MemoryEngine();
  const restore = (rows: StoredWorkRow[], lastId: number) => engine.write({ op: "workRestore", args: ["jobs", rows, lastId] });
  const dump = (after: { key: string; id: number } | null, limit: number) => engine.read({ op: "workDump", args: ["jobs", after, limit] }) as StoredWorkRow[];
  try {
    const rows = [
      row({ key: "b", id: 7, dedup: "x" }),
      row({ key: "a", id: 9, token: 42, attempts: 1, visibleAt: 500 }),
      row({ key: "a", id: 3, dead: true, deadAt: 8, lastError: "gone", attempts: 5, dedup: "x" }),
    ];
    await restore(rows, 4);
    assert.equal(engine.read({ op: "workLastId", args: ["jobs"] }), 9, "the largest of lastId and the ids");
    assert.deepEqual(dump(null, 10), [rows[2], rows[1], rows[0]]);
    assert.deepEqual(dump({ key: "a", id: 3 }, 1), [rows[1]]);
    assert.deepEqual(dump({ key: "a", id: 9 }, 5), [rows[0]]);
    assert.deepEqual(engine.read({ op: "workKeys", args: ["jobs", "a", 5] }), ["b"]);
    await restore([], 20);
    assert.equal(engine.read({ op: "workLastId", args: ["jobs"] }), 20, "an empty restore still raises the last id");

    for (const bad of [[row({ key: "a", id: 9 })], [row({ id: 30 }), row({ key: "z", id: 30 })], [row({ id: 31 }), row({ key: "b", id: 32, dedup: "x" })]]) {
      await assert.rejects(restore(bad, 50), (error: unknown) => isStowageError(error, "CONFLICT") && /nothing was written/.test(error.message));
    }
    assert.equal(engine.read({ op: "workLastId", args: ["jobs"] }), 20, "refused restores wrote nothing");
    assert.equal(dump(null, 10).length, 3);
    assert.deepEqual(await engine.check(), []);

    const poll = (key: string, now: number) => engine.read({ op: "workPoll", args: ["jobs", key, now] });
    assert.deepEqual(poll("a", 499), { claimable: false, nextVisibleAt: 500 }, "a lease's deadline, not a dead item's time");
    assert.deepEqual(poll("a", 500), { claimable: true, nextVisibleAt: null });
    assert.deepEqual(poll("none", 0), { claimable: false, nextVisibleAt: null });
    const push = { key: "b", value: new Uint8Array([2]), priority: 3, visibleAt: 40, maxAttempts: 5, policy: rows[0]!.policy, dedup: null, reject: false };
    await engine.write({ op: "workPush", args: ["jobs", [push], 0] });
    assert.deepEqual(poll("b", 9), { claimable: false, nextVisibleAt: 10 }, "the earliest time over every priority");

    // A token drawn twice does not revive a lease: the attempt count tells the claims apart.
    const claim = (now: number) => engine.write({ op: "workClaim", args: ["jobs", "c", 1, now, now + 10, 7] });
    await engine.write({ op: "workPush", args: ["jobs", [{ ...push, key: "c", priority: 0, visibleAt: 0 }], 0] });
    const [first] = await claim(0);
    const [second] = await claim(10);
    assert.deepEqual([first!.token, first!.attempt, second!.token, second!.attempt], [7, 1, 7, 2]);
    const settle = (attempt: number) => engine.write({ op: "workSettle", args: ["jobs", [{ key: "c", id: first!.id, token: 7, attempt, to: "ack" }], 10] });
    assert.deepEqual(await settle(1), [null]);
    assert.deepEqual(await settle(2), [{ dead: false, visibleAt: null }]);

    const seen = await engine.snapshot(async (ops) => {
      await engine.write({ op: "workPurge", args: ["jobs", "a", null, 10] });
      return ops.workDump("jobs", null, 10);
    });
    assert.equal(seen.length, 4, "a snapshot sees the work items as they were when it began");
    assert.equal(dump(null, 10).length, 3);
  } finally {
    await engine.close();
  }
});
