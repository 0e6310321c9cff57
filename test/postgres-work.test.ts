/**
 * Work queues on a real PostgreSQL server: the same answers as the memory engine's to seeded sequences of every work
 * operation; and claimers racing for the head of one key (plain claims at READ COMMITTED with SKIP LOCKED, coalesced
 * when they arrive together, and claims inside SERIALIZABLE transactions), where no item is ever handed out twice
 * while its lease is live.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryEngine } from "../src/engines/memory/memory-engine.js";
import { PostgresEngine } from "../src/engines/postgres/postgres-engine.js";
import { openStore, utf8, type ClaimedItem } from "../src/index.js";
import { usePostgresServer } from "./helpers/postgres-server.js";
import { runWorkDifferential } from "./helpers/work-differential.js";

// A real server for this file; if it cannot start, the test fails rather than skips.
const pgServer = usePostgresServer();

const ITEMS = 200;
const CLAIMERS = 8;
const LIMIT = 4;
/** Longer than the test: no lease expires, so a second claim of an item before its ack would be a double lease. */
const VISIBILITY_MS = 600_000;
/** Rounds a claimer makes at most: the loop ends by itself even if items went missing (which the asserts then report). */
const MAX_ROUNDS = 400;

test("8 concurrent claimers (limit 4) over 200 items of one key: no item is leased twice, every item is acked once", async () => {
  const store = await openStore({ backend: "postgres", dsn: pgServer().dsn, schema: "work_race", sweepIntervalMs: 0 });
  try {
    const jobs = store.workQueue("jobs", { codec: utf8, visibilityMs: VISIBILITY_MS });
    for (let at = 0; at < ITEMS; at += 50) {
      await jobs.pushMany("k", Array.from({ length: 50 }, (_, i) => ({ value: `job ${at + i}`, priority: (at + i) % 3 })));
    }
    const claims = new Map<number, number>(); // id → times handed out
    let acked = 0;
    const record = (items: readonly ClaimedItem<string>[]) => {
      for (const item of items) claims.set(item.id, (claims.get(item.id) ?? 0) + 1);
    };
    // Two of the claimers claim and ack inside a transaction (SERIALIZABLE; the store reruns a body that lost a race),
    // racing the plain claims; their items count only once the transaction committed.
    const claimer = async (n: number) => {
      const inTransaction = n < 2;
      for (let round = 0; round < MAX_ROUNDS && acked < ITEMS; round++) {
        let items: ClaimedItem<string>[];
        if (inTransaction) {
          items = await store.transaction(async (tx) => {
            const queue = tx.workQueue("jobs", { codec: utf8, visibilityMs: VISIBILITY_MS });
            const claimed = await queue.claim("k", { limit: LIMIT });
            const done = await queue.ackMany(claimed);
            assert.equal(done.acked, claimed.length, "a lease claimed in this transaction is current in it");
            return claimed;
          });
          record(items);
        } else {
          items = await jobs.claim("k", { limit: LIMIT });
          record(items);
          const done = await jobs.ackMany(items);
          assert.deepEqual(done.lost, [], "no live lease was lost: nobody claimed its item again");
        }
        acked += items.length;
        // Nothing claimable: the rest are leased by others, whose acks end the loop.
        if (items.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };
    await Promise.all(Array.from({ length: CLAIMERS }, (_, n) => claimer(n)));

    const twice = [...claims].filter(([, times]) => times > 1);
    assert.deepEqual(twice, [], "no item was handed out twice");
    assert.equal(claims.size, ITEMS, "every item was claimed");
    assert.equal(acked, ITEMS, "every item was acked once");
    assert.deepEqual(await jobs.counts("k"), { ready: 0, delayed: 0, leased: 0, dead: 0 });
    assert.deepEqual((await store.check()).problems, []);
  } finally {
    await store.close();
  }
});

test("two stores (two work pools) fire bursts of coalesced claims while transactions claim too: no item is leased twice", async () => {
  const options = { backend: "postgres", dsn: pgServer().dsn, schema: "work_coalesced", sweepIntervalMs: 0 } as const;
  const stores = [await openStore(options), await openStore(options)];
  try {
    const queues = stores.map((store) => store.workQueue("jobs", { codec: utf8, visibilityMs: VISIBILITY_MS }));
    const [first] = queues;
    for (let at = 0; at < ITEMS; at += 50) await first?.pushMany("k", Array.from({ length: 50 }, (_, i) => ({ value: `job ${at + i}`, priority: (at + i) % 4 })));
    const claims = new Map<number, number>();
    let acked = 0;
    const record = (items: readonly ClaimedItem<string>[]) => {
      for (const item of items) claims.set(item.id, (claims.get(item.id) ?? 0) + 1);
    };
    // Per store: a burst of 6 plain claims at once (limits 1 to 3, so their batches share statements), acked together;
    // and one claimer in transactions, racing them on the row locks.
    const bursts = async (n: number) => {
      const queue = queues[n] as (typeof queues)[number];
      for (let round = 0; round < MAX_ROUNDS && acked < ITEMS; round++) {
        const burst = await Promise.all(Array.from({ length: 6 }, (_, i) => queue.claim("k", { limit: 1 + (i % 3) })));
        const items = burst.flat();
        record(items);
        const done = await queue.ackMany(items);
        assert.deepEqual(done.lost, [], "no live lease was lost");
        acked += done.acked;
        if (items.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };
    const transactions = async (n: number) => {
      const store = stores[n] as (typeof stores)[number];
      for (let round = 0; round < MAX_ROUNDS && acked < ITEMS; round++) {
        const items = await store.transaction(async (tx) => {
          const queue = tx.workQueue("jobs", { codec: utf8, visibilityMs: VISIBILITY_MS });
          const claimed = await queue.claim("k", { limit: 2 });
          assert.equal((await queue.ackMany(claimed)).acked, claimed.length);
          return claimed;
        });
        record(items);
        acked += items.length;
        if (items.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };
    await Promise.all([bursts(0), bursts(1), transactions(0), transactions(1)]);

    assert.deepEqual([...claims].filter(([, times]) => times > 1), [], "no item was handed out twice");
    assert.equal(claims.size, ITEMS, "every item was claimed");
    assert.equal(acked, ITEMS, "every item was acked once");
    assert.deepEqual(await first?.counts("k"), { ready: 0, delayed: 0, leased: 0, dead: 0 });
    assert.deepEqual((await stores[0]?.check())?.problems, []);
  } finally {
    await Promise.all(stores.map((store) => store.close()));
  }
});

test("claims made at once share statements and hand out the head of the queue, each caller's items in claim order", async () => {
  const store = await openStore({ backend: "postgres", dsn: pgServer().dsn, schema: "work_claim_order", sweepIntervalMs: 0 });
  try {
    const jobs = store.workQueue("jobs", { codec: utf8, visibilityMs: VISIBILITY_MS });
    const pushed = await jobs.pushMany("k", Array.from({ length: 40 }, (_, i) => ({ value: `job ${i}`, priority: i % 3 })));
    // Claim order: priority 2 first, then 1, then 0, each by id.
    const order = pushed.map((p, i) => ({ id: p.id, priority: i % 3 })).sort((a, b) => b.priority - a.priority || a.id - b.id);
    const rank = new Map(order.map((item, at) => [item.id, at]));
    // 12 claims at once: more than the engine's claim lanes, so that claims wait for a lane and then share a statement.
    const limits = [3, 1, 4, 2, 3, 1, 4, 2, 3, 1, 4, 2];
    const burst = await Promise.all(limits.map((limit) => jobs.claim("k", { limit })));
    assert.deepEqual(burst.map((items) => items.length), limits, "each claim got its limit");
    const ids = burst.flat().map((item) => item.id);
    assert.deepEqual([...ids].sort((a, b) => a - b), order.slice(0, 30).map((item) => item.id).sort((a, b) => a - b), "together they took the head");
    for (const items of burst) {
      const ranks = items.map((item) => rank.get(item.id) as number);
      assert.deepEqual(ranks, [...ranks].sort((a, b) => a - b), "a caller's items come in claim order");
      for (const item of items) assert.ok(item.deadline > Date.now() + VISIBILITY_MS / 2);
    }
    const tokens = new Set(burst.map((items) => items[0]?.token));
    assert.ok(tokens.size < burst.length, "claims that arrived while their lane ran shared one statement (and its token)");
    assert.equal((await jobs.ackMany(burst.flat())).acked, 30);
    assert.deepEqual(await jobs.counts("k"), { ready: 10, delayed: 0, leased: 0, dead: 0 });
  } finally {
    await store.close();
  }
});

test("a plain call opens the work pool; its facts are in health", async () => {
  const store = await openStore({ backend: "postgres", dsn: pgServer().dsn, schema: "work_pool_facts", poolSize: 3, workPoolSize: 2, sweepIntervalMs: 0 });
  try {
    const before = await store.health();
    assert.equal(before.facts.workPoolMax, 2);
    assert.equal(before.facts.workPoolTotal, 0, "no work call yet: no work connection");
    const jobs = store.workQueue("jobs", { codec: utf8 });
    await jobs.push("k", "job");
    await jobs.ackMany(await jobs.claim("k"));
    const after = await store.health();
    assert.equal(after.facts.workPoolTotal, 1);
    assert.equal(after.facts.workPoolWaiting, 0);
  } finally {
    await store.close();
  }
});

test("PostgreSQL answers every work operation as the memory engine does, over seeded sequences", async () => {
  for (const seed of [1, 2]) {
    const reference = new MemoryEngine();
    const subject = await PostgresEngine.open({ dsn: pgServer().dsn, schema: `work_differential_${seed}` });
    try {
      await runWorkDifferential(reference, subject, seed, 300);
    } finally {
      await subject.close();
      await reference.close();
    }
  }
});
