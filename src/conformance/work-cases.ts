import assert from "node:assert/strict";
import { json, utf8 } from "../api/codec.js";
import { LIMITS } from "../api/limits.js";
import type { ClaimedItem, Lease, RetryPolicy, Store, WorkCounts } from "../api/types.js";
import { ATTEMPTS_USED_UP_ERROR, LEASE_EXPIRED_ERROR } from "../engines/work-rules.js";
import { dec, deferred, enc, needing, rejectsWith, sleep, type CaseGroup } from "./harness.js";

// Every lease deadline and delay is judged by the store clock: the cases move the manual clock, never sleep for it.
// Claims expect ≤ 10 items and pushMany writes ≤ 10, below every engine's maxTransactionWrites (etcd 25, Azure 19):
// the handle caps a claim's limit to that, so no case counts on a claim returning more.

/** The one element of `items`. */
function only<T>(items: readonly T[]): T {
  assert.equal(items.length, 1, `expected exactly one item, got ${items.length}`);
  return items[0] as T;
}

/** A lease's own fields, as `extend` returns them. */
const leaseOf = ({ namespace, key, id, token, attempt, deadline }: Lease): Lease => ({ namespace, key, id, token, attempt, deadline });

const counts = (ready: number, delayed: number, leased: number, dead: number): WorkCounts => ({ ready, delayed, leased, dead });

/** A retry policy of `maxAttempts` with a fixed wait of `delayMs` and no jitter: exact visible times. */
const fixed = (maxAttempts: number, delayMs: number): RetryPolicy => ({ maxAttempts, backoff: { type: "fixed", delayMs, jitter: "none" } });

/** Asserts a settle of `lease` is refused LEASE_LOST, naming its namespace, key and item. */
async function refusedLost(call: Promise<unknown>, lease: Lease): Promise<void> {
  const error = await rejectsWith(call, "LEASE_LOST", `namespace "${lease.namespace}"`, `key ${JSON.stringify(lease.key)}`);
  assert.equal(error.itemId, lease.id);
}

/** Asserts the engine's own integrity check finds nothing wrong. */
async function assertClean(store: Store): Promise<void> {
  assert.deepEqual((await store.check()).problems, []);
}

export const workCases: CaseGroup = {
  "claims take the highest priority first, then the earliest visible, then the lowest id, up to limit": async ({ store, clock }) => {
    const jobs = store.workQueue("jobs", { codec: utf8, visibilityMs: 5_000 });
    const a = await jobs.push("email", "a");
    const b = await jobs.push("email", "b", { priority: 5 });
    const c = await jobs.push("email", "c", { notBefore: clock.time - 10 });
    const d = await jobs.push("email", "d", { priority: 5 });
    await jobs.push("email", "e", { priority: -1 });
    assert.deepEqual([a, b, c, d].map((pushed) => pushed.duplicate), [false, false, false, false]);
    assert.ok(a.id < b.id && b.id < c.id && c.id < d.id, "ids grow");
    const first = await jobs.claim("email", { limit: 3 });
    assert.deepEqual(first.map((item) => item.value), ["b", "d", "c"]);
    const head = first[0] as ClaimedItem<string>;
    assert.ok(Number.isSafeInteger(head.token) && head.token > 0);
    assert.deepEqual({ ...head }, {
      namespace: "jobs", key: "email", id: b.id, token: head.token, attempt: 1, deadline: clock.time + 5_000,
      value: "b", pushedAt: clock.time, priority: 5, maxAttempts: 5, lastError: null,
    });
    assert.deepEqual((await jobs.claim("email")).map((item) => item.value), ["a"], "limit defaults to 1");
    // The handle caps a claim's limit to what one commit of the engine holds: asking for the most is never refused.
    const last = only(await jobs.claim("email", { limit: LIMITS.maxClaimLimit, visibilityMs: 100 }));
    assert.deepEqual([last.value, last.priority, last.deadline], ["e", -1, clock.time + 100]);
    assert.deepEqual(await jobs.claim("email", { limit: 10 }), []);
    assert.deepEqual(await jobs.claim("nothing-here"), []);
  },

  "a leased item is invisible to other claims and counts as leased; each queue key is its own queue": async ({ store }) => {
    const jobs = store.workQueue("jobs", { codec: utf8 });
    await jobs.pushMany("email", [{ value: "a" }, { value: "b" }]);
    assert.equal(only(await jobs.claim("email")).value, "a");
    assert.equal(only(await jobs.claim("email", { limit: 5 })).value, "b");
    assert.deepEqual(await store.workQueue("jobs").claim("email", { limit: 5 }), [], "another handle sees the leases too");
    assert.deepEqual(await jobs.counts("email"), counts(0, 0, 2, 0));
    await jobs.push("sms", "c");
    assert.deepEqual(await jobs.counts("sms"), counts(1, 0, 0, 0));
    assert.equal(only(await jobs.claim("sms", { limit: 5 })).value, "c");
    assert.deepEqual(await jobs.counts("email"), counts(0, 0, 2, 0));
    assert.deepEqual(await jobs.counts("never-used"), counts(0, 0, 0, 0));
  },

  "concurrent claims never lease one item twice": async ({ store }) => {
    const jobs = store.workQueue("jobs", { codec: utf8 });
    const pushed = await jobs.pushMany("k", Array.from({ length: 10 }, (_, i) => ({ value: `v${i}` })));
    const valueOf = new Map(pushed.map((item, at) => [item.id, `v${at}`]));
    // Issued together, so engines that coalesce claims put several in one statement or commit.
    const claims = await Promise.all(Array.from({ length: 8 }, (_, i) => jobs.claim("k", { limit: i % 2 === 0 ? 1 : 3 })));
    const taken = [...claims.flat(), ...(await jobs.claim("k", { limit: 10 }))];
    const ids = taken.map((item) => item.id);
    assert.equal(new Set(ids).size, ids.length, `an item was leased twice: ${ids.join(",")}`);
    assert.ok(taken.every((item) => item.attempt === 1 && item.value === valueOf.get(item.id)));
    assert.deepEqual(await jobs.counts("k"), counts(10 - taken.length, 0, taken.length, 0));
    assert.deepEqual(await jobs.ackMany(taken), { acked: taken.length, lost: [] });
    assert.deepEqual((await jobs.counts("k")).leased, 0);
  },

  "a lease expires exactly at its deadline: the item is claimed again with attempt 2 and the old lease is LEASE_LOST": async ({ store, clock }) => {
    const jobs = store.workQueue("jobs", { codec: utf8, visibilityMs: 1_000 });
    const { id } = await jobs.push("email", "x");
    const first = only(await jobs.claim("email"));
    clock.advance(999);
    assert.deepEqual(await jobs.claim("email"), []);
    assert.deepEqual(await jobs.counts("email"), counts(0, 0, 1, 0));
    clock.advance(1);
    assert.deepEqual(await jobs.counts("email"), counts(1, 0, 0, 0), "an expired lease counts as ready");
    const second = only(await jobs.claim("email"));
    assert.deepEqual([second.id, second.attempt, second.deadline, second.value, second.lastError], [id, 2, clock.time + 1_000, "x", null]);
    await refusedLost(jobs.ack(first), first);
    await refusedLost(jobs.extend(first, 5_000), first);
    await refusedLost(jobs.fail(first, new Error("late")), first);
    await refusedLost(jobs.release(first), first);
    assert.deepEqual(await jobs.counts("email"), counts(0, 0, 1, 0), "the refused calls changed nothing");
    await jobs.ack(second);
    assert.deepEqual(await jobs.counts("email"), counts(0, 0, 0, 0));
    await refusedLost(jobs.ack(second), second);
    await assertClean(store);
  },

  "a forged lease is LEASE_LOST, a lease of another namespace INVALID_ARGUMENT, and neither changes anything": async ({ store }) => {
    const jobs = store.workQueue("jobs", { codec: utf8 });
    await jobs.push("email", "x");
    const lease = leaseOf(only(await jobs.claim("email")));
    const forged: Lease[] = [
      { ...lease, token: lease.token === 1 ? 2 : lease.token - 1 },
      { ...lease, attempt: 2 },
      { ...lease, key: "sms" },
      { ...lease, id: lease.id + 1_000 },
    ];
    for (const wrong of forged) {
      await refusedLost(jobs.ack(wrong), wrong);
      await refusedLost(jobs.extend(wrong), wrong);
      await refusedLost(jobs.release(wrong), wrong);
    }
    const other = store.workQueue("other");
    for (const call of [() => other.ack(lease), () => other.extend(lease), () => other.fail(lease, "x"), () => other.release(lease), () => other.ackMany([lease])]) {
      await rejectsWith(call, "INVALID_ARGUMENT", 'namespace "jobs"', 'namespace "other"');
    }
    assert.deepEqual(await jobs.counts("email"), counts(0, 0, 1, 0));
    await jobs.ack(lease);
    assert.deepEqual(await jobs.counts("email"), counts(0, 0, 0, 0));
  },

  "a holder may still ack or extend after its deadline while nobody has claimed the item again": async ({ store, clock }) => {
    const jobs = store.workQueue("jobs", { codec: utf8, visibilityMs: 100 });
    await jobs.pushMany("k", [{ value: "a" }, { value: "b" }]);
    const [a, b] = await jobs.claim("k", { limit: 2 });
    clock.advance(500);
    assert.deepEqual(await jobs.counts("k"), counts(2, 0, 0, 0));
    await jobs.ack(a as ClaimedItem<string>);
    const extended = await jobs.extend(b as ClaimedItem<string>, 300);
    assert.deepEqual(extended, { ...leaseOf(b as ClaimedItem<string>), deadline: clock.time + 300 });
    assert.deepEqual(await jobs.counts("k"), counts(0, 0, 1, 0));
    assert.deepEqual(await jobs.claim("k"), []);
    await jobs.ack(b as ClaimedItem<string>);
    assert.deepEqual(await jobs.counts("k"), counts(0, 0, 0, 0));
  },

  "a late ack racing a claim of the expired item: exactly one of them gets it": async ({ store, clock }) => {
    const jobs = store.workQueue("jobs", { codec: utf8, visibilityMs: 100 });
    await jobs.push("k", "x");
    const lease = only(await jobs.claim("k"));
    clock.advance(100);
    const [acked, claimed] = await Promise.allSettled([jobs.ack(lease), jobs.claim("k")]);
    assert.equal(claimed.status, "fulfilled");
    const items = (claimed as PromiseFulfilledResult<ClaimedItem<string>[]>).value;
    if (acked.status === "fulfilled") {
      assert.deepEqual(items, [], "the item was acked and claimed again");
      assert.deepEqual(await jobs.counts("k"), counts(0, 0, 0, 0));
    } else {
      await refusedLost(Promise.reject(acked.reason), lease);
      assert.equal(only(items).attempt, 2);
      assert.deepEqual(await jobs.counts("k"), counts(0, 0, 1, 0));
    }
  },

  "extend sets the deadline from now (default: the queue's visibilityMs) and keeps the token": async ({ store, clock }) => {
    const jobs = store.workQueue("jobs", { codec: utf8, visibilityMs: 1_000 });
    await jobs.push("k", "x");
    const lease = only(await jobs.claim("k"));
    clock.advance(900);
    const extended = await jobs.extend(lease, 500);
    assert.deepEqual(extended, { ...leaseOf(lease), deadline: clock.time + 500 });
    clock.advance(499);
    assert.deepEqual(await jobs.claim("k"), []);
    const again = await jobs.extend(extended);
    assert.equal(again.deadline, clock.time + 1_000);
    clock.advance(999);
    assert.deepEqual(await jobs.claim("k"), []);
    clock.advance(1);
    const retaken = only(await jobs.claim("k"));
    assert.equal(retaken.attempt, 2);
    await refusedLost(jobs.extend(again), again);
    await refusedLost(jobs.ack(lease), lease);
  },

  "release makes the item claimable after delayMs with its attempt given back; countAttempt keeps it": async ({ store, clock }) => {
    const jobs = store.workQueue("jobs", { codec: utf8, retry: { maxAttempts: 2 } });
    const { id } = await jobs.push("k", "x");
    const first = only(await jobs.claim("k"));
    await jobs.release(first, { delayMs: 100 });
    assert.deepEqual(await jobs.counts("k"), counts(0, 1, 0, 0));
    await refusedLost(jobs.ack(first), first);
    clock.advance(99);
    assert.deepEqual(await jobs.claim("k"), []);
    clock.advance(1);
    const second = only(await jobs.claim("k"));
    assert.deepEqual([second.attempt, second.lastError], [1, null], "the attempt was given back");
    await jobs.release(second, { countAttempt: true });
    assert.deepEqual(await jobs.counts("k"), counts(1, 0, 0, 0));
    const third = only(await jobs.claim("k"));
    assert.equal(third.attempt, 2);
    await jobs.release(third, { countAttempt: true });
    // Its attempts are used up: the next claim dead-letters it instead of leasing it.
    assert.deepEqual(await jobs.claim("k"), []);
    assert.deepEqual((await jobs.dead("k")).map((item) => [item.id, item.attempts, item.lastError]), [[id, 2, ATTEMPTS_USED_UP_ERROR]]);
    await assertClean(store);
  },

  "fail with a fixed backoff retries after exactly delayMs, hands the error to the next attempt, and is dead at maxAttempts": async ({ store, clock }) => {
    const jobs = store.workQueue("jobs", { codec: utf8, retry: fixed(3, 100) });
    const pushedAt = clock.time;
    const { id } = await jobs.push("k", "x");
    const first = only(await jobs.claim("k"));
    assert.deepEqual(await jobs.fail(first, new Error("boom")), { dead: false, visibleAt: clock.time + 100 });
    assert.deepEqual(await jobs.counts("k"), counts(0, 1, 0, 0));
    await refusedLost(jobs.ack(first), first);
    clock.advance(99);
    assert.deepEqual(await jobs.claim("k"), []);
    clock.advance(1);
    const second = only(await jobs.claim("k"));
    assert.deepEqual([second.attempt, second.lastError], [2, "Error: boom"]);
    assert.deepEqual(await jobs.fail(second, "second"), { dead: false, visibleAt: clock.time + 100 });
    clock.advance(100);
    const third = only(await jobs.claim("k"));
    assert.deepEqual([third.attempt, third.lastError], [3, "second"]);
    clock.advance(7);
    assert.deepEqual(await jobs.fail(third, { reason: "third" }), { dead: true, visibleAt: null });
    assert.deepEqual(await jobs.counts("k"), counts(0, 0, 0, 1));
    assert.deepEqual(await jobs.claim("k"), []);
    assert.deepEqual(await jobs.dead("k"), [{ id, value: "x", pushedAt, attempts: 3, lastError: '{"reason":"third"}', deadAt: clock.time, dedupKey: null }]);
    await refusedLost(jobs.fail(third, "again"), third);
    await assertClean(store);
  },

  "fail with an exponential backoff doubles the wait up to maxDelayMs, on the item's own policy": async ({ store, clock }) => {
    const jobs = store.workQueue("jobs", { codec: utf8, retry: fixed(2, 60_000) });
    await jobs.push("k", "x", { retry: { maxAttempts: 4, backoff: { type: "exponential", delayMs: 100, maxDelayMs: 250, jitter: "none" } } });
    for (const [attempt, wait] of [[1, 100], [2, 200], [3, 250]] as const) {
      const lease = only(await jobs.claim("k"));
      assert.deepEqual([lease.attempt, lease.maxAttempts], [attempt, 4]);
      assert.deepEqual(await jobs.fail(lease, `e${attempt}`), { dead: false, visibleAt: clock.time + wait });
      clock.advance(wait - 1);
      assert.deepEqual(await jobs.claim("k"), []);
      clock.advance(1);
    }
    const last = only(await jobs.claim("k"));
    assert.deepEqual(await jobs.fail(last, "e4"), { dead: true, visibleAt: null });
    assert.deepEqual((await jobs.dead("k")).map((item) => [item.attempts, item.lastError]), [[4, "e4"]]);
  },

  "full jitter waits within [0, d), equal jitter within [d/2, d)": async ({ store, clock }) => {
    const jobs = store.workQueue("jobs", { codec: utf8 });
    for (const [jitter, lowest] of [["full", 0], ["equal", 500]] as const) {
      const retry: RetryPolicy = { maxAttempts: 5, backoff: { type: "fixed", delayMs: 1_000, jitter } };
      await jobs.pushMany(jitter, Array.from({ length: 8 }, (_, i) => ({ value: `${jitter}${i}`, retry })));
      const leases = await jobs.claim(jitter, { limit: 8 });
      assert.equal(leases.length, 8);
      // Issued together, so engines that batch settles decide each one's wait in one statement or commit.
      for (const { dead, visibleAt } of await Promise.all(leases.map((lease) => jobs.fail(lease, "x")))) {
        assert.equal(dead, false);
        const wait = (visibleAt as number) - clock.time;
        assert.ok(Number.isInteger(wait) && wait >= lowest && wait < 1_000, `${jitter} jitter waited ${wait} ms`);
      }
      clock.advance(1_000);
      assert.equal((await jobs.claim(jitter, { limit: 8 })).length, 8);
    }
  },

  "fail with final is dead at once; retryAfterMs replaces the backoff but not the attempt limit": async ({ store, clock }) => {
    const jobs = store.workQueue("jobs", { codec: utf8, retry: fixed(3, 60_000) });
    const { id } = await jobs.push("k", "x");
    const first = only(await jobs.claim("k"));
    assert.deepEqual(await jobs.fail(first, "slow down", { retryAfterMs: 5 }), { dead: false, visibleAt: clock.time + 5 });
    clock.advance(5);
    const second = only(await jobs.claim("k"));
    assert.equal(second.attempt, 2);
    assert.deepEqual(await jobs.fail(second, "fatal", { final: true }), { dead: true, visibleAt: null });
    const once = await jobs.push("k", "y", { retry: { maxAttempts: 1 } });
    assert.deepEqual(await jobs.fail(only(await jobs.claim("k")), "once", { retryAfterMs: 5 }), { dead: true, visibleAt: null });
    assert.deepEqual((await jobs.dead("k")).map((item) => [item.id, item.attempts, item.lastError]), [[id, 2, "fatal"], [once.id, 1, "once"]]);
  },

  "an item whose last lease expired with its attempts used up is dead-lettered by the next claim": async ({ store, clock }) => {
    const jobs = store.workQueue("jobs", { codec: utf8, visibilityMs: 100, retry: { maxAttempts: 2 } });
    const pushedAt = clock.time;
    const { id } = await jobs.push("k", "x");
    only(await jobs.claim("k"));
    clock.advance(100);
    const second = only(await jobs.claim("k"));
    assert.equal(second.attempt, 2);
    clock.advance(100);
    assert.deepEqual(await jobs.counts("k"), counts(1, 0, 0, 0), "until a claim meets it, it counts as ready");
    assert.deepEqual(await jobs.claim("k", { limit: 5 }), []);
    assert.deepEqual(await jobs.counts("k"), counts(0, 0, 0, 1));
    assert.deepEqual(await jobs.dead("k"), [{ id, value: "x", pushedAt, attempts: 2, lastError: LEASE_EXPIRED_ERROR, deadAt: clock.time, dedupKey: null }]);
    await refusedLost(jobs.ack(second), second);
    await refusedLost(jobs.fail(second, "too late"), second);
    await assertClean(store);
  },

  "delayMs and notBefore hold items back until then, and counts move with the clock": async ({ store, clock }) => {
    const jobs = store.workQueue("jobs", { codec: utf8 });
    const start = clock.time;
    await jobs.push("k", "later", { delayMs: 100 });
    await jobs.push("k", "sooner", { notBefore: start + 50 });
    await jobs.push("k", "now");
    await jobs.push("k", "past", { notBefore: start - 1 });
    assert.deepEqual(await jobs.counts("k"), counts(2, 2, 0, 0));
    assert.deepEqual((await jobs.claim("k", { limit: 10 })).map((item) => item.value), ["past", "now"]);
    assert.deepEqual(await jobs.counts("k"), counts(0, 2, 2, 0));
    clock.advance(49);
    assert.deepEqual(await jobs.claim("k", { limit: 10 }), []);
    clock.advance(1);
    assert.deepEqual(await jobs.counts("k"), counts(1, 1, 2, 0));
    assert.deepEqual((await jobs.claim("k", { limit: 10 })).map((item) => item.value), ["sooner"]);
    clock.advance(50);
    assert.deepEqual((await jobs.claim("k", { limit: 10 })).map((item) => item.value), ["later"]);
    assert.deepEqual(await jobs.counts("k"), counts(0, 0, 4, 0));
  },

  "keys lists the queue keys holding items of any state, in key order, by pages": async ({ store }) => {
    const jobs = store.workQueue("jobs", { codec: utf8, retry: { maxAttempts: 1 } });
    for (const key of ["b", "a", "c/1", "d"]) await jobs.push(key, key);
    await jobs.fail(only(await jobs.claim("d")), "x");
    await store.workQueue("other").push("z", enc("z"));
    assert.deepEqual(await jobs.keys(), ["a", "b", "c/1", "d"]);
    assert.deepEqual(await jobs.keys({ after: "a", limit: 2 }), ["b", "c/1"]);
    await jobs.ack(only(await jobs.claim("b")));
    await jobs.purgeDead("d");
    assert.deepEqual(await jobs.keys(), ["a", "c/1"]);
  },

  "a push with a live item's dedup key returns that item, or with reject is CONFLICT and writes nothing of its pushMany": async ({ store }) => {
    const jobs = store.workQueue("jobs", { codec: utf8 });
    const first = await jobs.push("k", "one", { dedupKey: "order-7" });
    assert.equal(first.duplicate, false);
    assert.deepEqual(await jobs.push("k", "two", { dedupKey: "order-7" }), { id: first.id, duplicate: true });
    const refused = await rejectsWith(jobs.push("k", "three", { dedupKey: "order-7", onDuplicate: "reject" }), "CONFLICT", 'namespace "jobs"', 'key "k"');
    assert.equal(refused.itemId, first.id);
    const refusedMany = await rejectsWith(jobs.pushMany("k", [{ value: "fresh" }, { value: "four", dedupKey: "order-7", onDuplicate: "reject" }]), "CONFLICT");
    assert.equal(refusedMany.itemId, first.id);
    await rejectsWith(jobs.pushMany("k", [{ value: "p", dedupKey: "pair" }, { value: "q", dedupKey: "pair", onDuplicate: "reject" }]), "CONFLICT");
    assert.deepEqual(await jobs.counts("k"), counts(1, 0, 0, 0), "refused pushes wrote nothing");
    const lease = only(await jobs.claim("k"));
    assert.equal(lease.value, "one");
    assert.deepEqual(await jobs.push("k", "five", { dedupKey: "order-7" }), { id: first.id, duplicate: true }, "a leased item is live");
    const other = await jobs.pushMany("other", [{ value: "a", dedupKey: "order-7" }, { value: "b", dedupKey: "order-7" }]);
    assert.deepEqual(other, [{ id: (other[0] as { id: number }).id, duplicate: false }, { id: (other[0] as { id: number }).id, duplicate: true }]);
    assert.deepEqual(await jobs.counts("other"), counts(1, 0, 0, 0));
    await assertClean(store);
  },

  "a dedup key is free again once its item is acked, and once it is dead": async ({ store }) => {
    const jobs = store.workQueue("jobs", { codec: utf8, retry: { maxAttempts: 1 } });
    const first = await jobs.push("k", "a", { dedupKey: "x" });
    await jobs.ack(only(await jobs.claim("k")));
    const second = await jobs.push("k", "b", { dedupKey: "x" });
    assert.equal(second.duplicate, false);
    assert.ok(second.id > first.id);
    assert.equal((await jobs.fail(only(await jobs.claim("k")), "boom")).dead, true);
    const third = await jobs.push("k", "c", { dedupKey: "x", onDuplicate: "reject" });
    assert.equal(third.duplicate, false);
    assert.deepEqual((await jobs.dead("k")).map((item) => [item.id, item.dedupKey]), [[second.id, "x"]]);
    assert.deepEqual(await jobs.counts("k"), counts(1, 0, 0, 1));
    await assertClean(store);
  },

  "dead letters come in id order, by pages of afterId and limit": async ({ store }) => {
    const jobs = store.workQueue("jobs", { codec: utf8, retry: { maxAttempts: 1 } });
    await jobs.pushMany("k", Array.from({ length: 5 }, (_, i) => ({ value: `v${i}` })));
    const leases = await jobs.claim("k", { limit: 5 });
    for (const lease of [...leases].reverse()) await jobs.fail(lease, `error of ${lease.value}`);
    await jobs.push("k", "alive");
    const all = await jobs.dead("k");
    assert.deepEqual(all.map((item) => [item.value, item.lastError, item.attempts]), leases.map((lease) => [lease.value, `error of ${lease.value}`, 1]));
    assert.deepEqual(all.map((item) => item.id), leases.map((lease) => lease.id).sort((x, y) => x - y));
    const page = await jobs.dead("k", { limit: 2 });
    assert.deepEqual(page, all.slice(0, 2));
    assert.deepEqual(await jobs.dead("k", { afterId: (page[1] as { id: number }).id, limit: 2 }), all.slice(2, 4));
    assert.deepEqual(await jobs.dead("k", { afterId: (all[4] as { id: number }).id }), []);
    assert.deepEqual(await jobs.dead("other"), []);
  },

  "requeue makes dead items ready now with attempts 0, skipping those whose dedup key a live item holds": async ({ store, clock }) => {
    const jobs = store.workQueue("jobs", { codec: utf8, retry: { maxAttempts: 1 } });
    const [a, b, c] = await jobs.pushMany("k", [{ value: "a" }, { value: "b", dedupKey: "x" }, { value: "c" }]);
    for (const lease of await jobs.claim("k", { limit: 3 })) await jobs.fail(lease, "boom");
    const live = await jobs.push("k", "d", { dedupKey: "x" });
    assert.equal(live.duplicate, false, "death freed the dedup key");
    clock.advance(10);
    assert.deepEqual(await jobs.requeue("k", [a!.id, live.id]), { requeued: 1, skipped: [], more: false }, "a live id is not requeued");
    assert.deepEqual(await jobs.counts("k"), counts(2, 0, 0, 2));
    assert.deepEqual(await jobs.requeue("k"), { requeued: 1, skipped: [b!.id], more: false });
    assert.deepEqual((await jobs.dead("k")).map((item) => item.id), [b!.id]);
    const claimed = await jobs.claim("k", { limit: 5 });
    assert.deepEqual(claimed.map((item) => [item.id, item.attempt]), [[live.id, 1], [a!.id, 1], [c!.id, 1]], "requeued items are visible from the requeue's time on");
    await jobs.ackMany(claimed);
    assert.deepEqual(await jobs.requeue("k", [b!.id]), { requeued: 1, skipped: [], more: false });
    assert.deepEqual(await jobs.counts("k"), counts(1, 0, 0, 0));
    assert.equal(only(await jobs.claim("k")).attempt, 1);
    await assertClean(store);
  },

  "purgeDead removes dead items, by ids or all, and leaves live ones": async ({ store }) => {
    const jobs = store.workQueue("jobs", { codec: utf8, retry: { maxAttempts: 1 } });
    const pushed = await jobs.pushMany("k", [{ value: "a" }, { value: "b" }, { value: "c" }]);
    for (const lease of await jobs.claim("k", { limit: 3 })) await jobs.fail(lease, "boom");
    const live = await jobs.push("k", "d");
    assert.deepEqual(await jobs.purgeDead("k", [pushed[0]!.id, live.id]), { purged: 1, more: false });
    assert.deepEqual(await jobs.counts("k"), counts(1, 0, 0, 2));
    assert.deepEqual(await jobs.purgeDead("k"), { purged: 2, more: false });
    assert.deepEqual(await jobs.dead("k"), []);
    assert.deepEqual(await jobs.requeue("k"), { requeued: 0, skipped: [], more: false });
    assert.deepEqual(await jobs.counts("k"), counts(1, 0, 0, 0));
    await assertClean(store);
  },

  "ackMany and extendMany settle the current leases in one call and report the lost ones": async ({ store, clock }) => {
    const jobs = store.workQueue("jobs", { codec: utf8, visibilityMs: 100 });
    await jobs.pushMany("k", [{ value: "a" }, { value: "b" }, { value: "c" }]);
    const leases = await jobs.claim("k", { limit: 3 });
    assert.equal(leases.length, 3);
    const [a, b, c] = leases as [ClaimedItem<string>, ClaimedItem<string>, ClaimedItem<string>];
    clock.advance(100);
    const retaken = only(await jobs.claim("k"));
    assert.deepEqual([retaken.id, retaken.attempt], [a.id, 2]);
    const extended = await jobs.extendMany(leases, 500);
    assert.deepEqual(extended, [null, { ...leaseOf(b), deadline: clock.time + 500 }, { ...leaseOf(c), deadline: clock.time + 500 }]);
    assert.deepEqual(await jobs.counts("k"), counts(0, 0, 3, 0));
    assert.deepEqual(await jobs.ackMany([a, extended[1] as Lease, c, retaken]), { acked: 3, lost: [a] });
    assert.deepEqual(await jobs.counts("k"), counts(0, 0, 0, 0));
    assert.deepEqual(await jobs.ackMany([b, retaken]), { acked: 0, lost: [b, retaken] });
    assert.deepEqual(await jobs.extendMany([c]), [null]);
    assert.deepEqual(await jobs.ackMany([]), { acked: 0, lost: [] });
    assert.deepEqual(await jobs.extendMany([]), []);
    await assertClean(store);
  },

  "in a transaction: claims, pushes and settles commit together, and a body that throws leaves the item claimable as it was": async ({ store }) => {
    const jobs = store.workQueue("jobs", { codec: utf8 });
    await jobs.push("k", "x");
    const boom = new Error("boom");
    await assert.rejects(
      store.transaction(async (tx) => {
        const q = tx.workQueue("jobs", { codec: utf8 });
        const item = only(await q.claim("k"));
        assert.equal(item.attempt, 1);
        await q.push("k", "y");
        await q.ack(item);
        throw boom;
      }),
      (error) => error === boom,
    );
    assert.deepEqual(await jobs.counts("k"), counts(1, 0, 0, 0));
    const outside = only(await jobs.claim("k"));
    assert.deepEqual([outside.value, outside.attempt], ["x", 1], "the rolled-back claim took no attempt");
    await store.transaction(async (tx) => {
      const q = tx.workQueue("jobs", { codec: utf8 });
      await q.push("k", "z");
      const own = only(await q.claim("k"));
      assert.equal(own.value, "z", "a transaction claims its own push");
      await q.release(own, { delayMs: 50 });
      await q.ack(outside);
    });
    assert.deepEqual(await jobs.counts("k"), counts(0, 1, 0, 0));
    await assertClean(store);
  },

  "a push in a transaction is invisible to claims outside it until the commit": async ({ store }) => {
    const jobs = store.workQueue("jobs", { codec: utf8 });
    const pushed = deferred();
    const finish = deferred();
    const running = store.transaction(async (tx) => {
      await tx.workQueue("jobs", { codec: utf8 }).push("k", "x");
      pushed.resolve();
      await finish.promise;
    });
    await pushed.promise;
    const outside = jobs.claim("k");
    // An engine whose other calls wait for the transaction answers after the commit: only an earlier answer is judged.
    const early = await Promise.race([outside, sleep(50).then(() => "waiting" as const)]);
    if (early !== "waiting") assert.deepEqual(early, [], "a claim saw an uncommitted push");
    finish.resolve();
    await running;
    const taken = [...(await outside), ...(await jobs.claim("k"))];
    assert.deepEqual(taken.map((item) => [item.value, item.attempt]), [["x", 1]]);
  },

  "claim, a KV write and ack in one transaction commit together": needing(["crossNamespaceTransactions"], async ({ store }) => {
    const jobs = store.workQueue("jobs", { codec: json<{ n: number }>() });
    const add = (amount: number, lease?: Lease) =>
      store.transaction(async (tx) => {
        const q = tx.workQueue("jobs", { codec: json<{ n: number }>() });
        const item = lease ?? only(await q.claim("k"));
        const totals = tx.kv("totals", { codec: json<number>() });
        await totals.put("sum", ((await totals.get("sum")) ?? 0) + amount);
        await q.ack(item);
      });
    await jobs.push("k", { n: 5 });
    await add(5);
    await jobs.push("k", { n: 2 });
    const claimedOutside = only(await jobs.claim("k"));
    await add(claimedOutside.value.n, claimedOutside);
    assert.equal(await store.kv("totals", { codec: json<number>() }).get("sum"), 7);
    assert.deepEqual(await jobs.counts("k"), counts(0, 0, 0, 0));
    await assertClean(store);
  }),

  "a lost lease's ack in a transaction is LEASE_LOST: uncaught it rolls the body back, caught the rest commits": needing(["crossNamespaceTransactions"], async ({ store, clock }) => {
    const jobs = store.workQueue("jobs", { codec: utf8, visibilityMs: 100 });
    await jobs.push("k", "x");
    const stale = only(await jobs.claim("k"));
    clock.advance(100);
    const fresh = only(await jobs.claim("k"));
    const effects = store.kv("effects");
    await refusedLost(
      store.transaction(async (tx) => {
        await tx.kv("effects").put("k", enc("applied"));
        await tx.workQueue("jobs").ack(stale);
      }),
      stale,
    );
    assert.equal(await effects.get("k"), undefined, "the effect was rolled back");
    assert.deepEqual(await jobs.counts("k"), counts(0, 0, 1, 0));
    const code = await store.transaction(async (tx) => {
      await tx.kv("effects").put("k", enc("once"));
      const q = tx.workQueue("jobs");
      const refused = await q.ack(stale).then(() => "acked", (error: { code?: string }) => error.code);
      await q.ack(fresh);
      return refused;
    });
    assert.equal(code, "LEASE_LOST");
    assert.equal(dec(await effects.get("k")), "once");
    assert.deepEqual(await jobs.counts("k"), counts(0, 0, 0, 0));
    await assertClean(store);
  }),

  "a queue and a work queue of the same namespace and key are independent": async ({ store }) => {
    const queue = store.queue("jobs", { codec: utf8 });
    const work = store.workQueue("jobs", { codec: utf8 });
    await queue.push("k", "plain");
    await work.pushMany("k", [{ value: "w1" }, { value: "w2" }]);
    assert.deepEqual((await queue.peek("k", 10)).map((item) => item.value), ["plain"]);
    assert.equal(await queue.len("k"), 1);
    const claimed = await work.claim("k", { limit: 10 });
    assert.deepEqual(claimed.map((item) => item.value), ["w1", "w2"]);
    await work.ack(claimed[0] as ClaimedItem<string>);
    assert.equal(await queue.dropOldest("k", 10), 1);
    assert.deepEqual(await work.counts("k"), counts(0, 0, 1, 0));
    assert.equal(await queue.len("k"), 0);
    await assertClean(store);
  },

  "bad work-queue arguments are INVALID_ARGUMENT and change nothing": async ({ store }) => {
    assert.throws(() => store.workQueue("jobs", { visibilityMs: 0 }), /INVALID_ARGUMENT.*visibilityMs/);
    const jobs = store.workQueue("jobs");
    await rejectsWith(jobs.push("k", enc("x"), { delayMs: 5, notBefore: 5 }), "INVALID_ARGUMENT", "delayMs", "notBefore");
    await rejectsWith(jobs.push("k", enc("x"), { priority: 1.5 }), "INVALID_ARGUMENT", "priority");
    await rejectsWith(jobs.push("k", enc("x"), { retry: { maxAttempts: 0 } }), "INVALID_ARGUMENT", "maxAttempts");
    await rejectsWith(jobs.pushMany("k", [{ value: enc("ok") }, { value: enc("x"), delayMs: -1 }]), "INVALID_ARGUMENT", "delayMs");
    await rejectsWith(jobs.claim("k", { limit: 0 }), "INVALID_ARGUMENT", "limit");
    await jobs.push("k", enc("x"));
    const lease = only(await jobs.claim("k"));
    await rejectsWith(jobs.release(lease, { delayMs: -1 }), "INVALID_ARGUMENT", "delayMs");
    await rejectsWith(jobs.extend(lease, 0), "INVALID_ARGUMENT", "ms");
    await rejectsWith(jobs.ack({ ...leaseOf(lease), token: 0.5 }), "INVALID_ARGUMENT", "token");
    await rejectsWith(jobs.ack("not a lease" as never), "INVALID_ARGUMENT", "lease");
    assert.deepEqual(await jobs.counts("k"), counts(0, 0, 1, 0));
    await jobs.ack(lease);
  },

  "keys, dedup keys and values at the engine's size limits are accepted; one byte over is LIMIT_EXCEEDED and writes nothing": async ({ store, supports: { limits } }) => {
    const jobs = store.workQueue("jobs");
    // Two bytes each in UTF-8 (and one ASCII character for an odd limit).
    const longest = "é".repeat(Math.floor(limits.maxKeyBytes / 2)) + "a".repeat(limits.maxKeyBytes % 2);
    const pushed = await jobs.push(longest, enc("long key"), { dedupKey: longest });
    assert.deepEqual(await jobs.push(longest, enc("again"), { dedupKey: longest }), { id: pushed.id, duplicate: true });
    const claimed = only(await jobs.claim(longest));
    assert.deepEqual([claimed.id, dec(claimed.value)], [pushed.id, "long key"]);
    const big = new Uint8Array(limits.maxValueBytes).fill(7);
    await jobs.push("big", big);
    assert.deepEqual(only(await jobs.claim("big")).value, big);
    await rejectsWith(jobs.push(`${longest}x`, enc("x")), "LIMIT_EXCEEDED", String(limits.maxKeyBytes));
    await rejectsWith(jobs.push("k", enc("x"), { dedupKey: `${longest}x` }), "LIMIT_EXCEEDED", String(limits.maxKeyBytes));
    await rejectsWith(jobs.push("k", new Uint8Array(limits.maxValueBytes + 1)), "LIMIT_EXCEEDED", String(limits.maxValueBytes));
    await rejectsWith(jobs.pushMany("k", [{ value: enc("fits") }, { value: new Uint8Array(limits.maxValueBytes + 1) }]), "LIMIT_EXCEEDED");
    assert.deepEqual(await jobs.counts("k"), counts(0, 0, 0, 0));
    assert.deepEqual(await jobs.keys(), ["big", longest].sort());
    await assertClean(store);
  },
};
