/**
 * Work queues on a real PostgreSQL server, where claimers race for the head of one key: claims run at SERIALIZABLE, a
 * claimer that loses the race on a row runs again, and no item is ever handed out twice while its lease is live.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { openStore, utf8, type ClaimedItem } from "../src/index.js";
import { usePostgresServer } from "./helpers/postgres-server.js";

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
