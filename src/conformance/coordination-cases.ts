import assert from "node:assert/strict";
import { LeaseDirectory } from "../adapters/lease-directory.js";
import { Membership, type MembershipEvent } from "../adapters/membership.js";
import { rejectsWith, needing, type CaseGroup } from "./harness.js";

/** Most leases a bulk case makes: the split is exercised where an engine's commits hold fewer (etcd, Azure Table). */
const MOST_BULK_LEASES = 40;
/** A watch that does not report an expected event within this long has failed (a guard, not a wait). */
const EVENT_GUARD_MS = 10_000;

/** The next `count` events of a started watch, or a failure naming what was missing. */
async function nextEvents(feed: AsyncIterator<MembershipEvent>, count: number): Promise<Array<Pick<MembershipEvent, "type" | "revision" | "reason"> & { id: string }>> {
  const events: Array<Pick<MembershipEvent, "type" | "revision" | "reason"> & { id: string }> = [];
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`the watch reported ${events.length} of ${count} events: ${JSON.stringify(events)}`)), EVENT_GUARD_MS)));
  try {
    while (events.length < count) {
      const next = await Promise.race([feed.next(), guard]);
      assert.ok(next.done !== true, "the watch ended early");
      const { type, revision, reason, node } = next.value;
      events.push({ type, revision, id: node.id, ...(reason === undefined ? {} : { reason }) });
    }
    return events;
  } finally {
    clearTimeout(timer);
  }
}

const WATCHING = ["liveFeeds", "kvHistory"] as const;

/**
 * The coordination adapters (`LeaseDirectory`, `Membership`) on the engine: they use only the public API, so these
 * cases check that the engine keeps what they rely on (transactions that never interleave, KV TTL by the store's
 * clock, the KV change history), judged by the ManualClock, without sleeps.
 */
export const coordinationCases: CaseGroup = {
  "directory: one live owner per key among racing acquirers; expiry and release hand over with a larger token": async ({ store, clock }) => {
    const directory = new LeaseDirectory(store, { ttlMs: 1_000 });
    const outcomes = await Promise.all(["n1", "n2", "n3"].map((node) => directory.acquire("actor/1", node)));
    const winners = outcomes.filter((lease) => lease !== undefined);
    assert.equal(winners.length, 1, "exactly one acquirer wins");
    const first = winners[0]!;
    assert.equal(first.token, 1);
    assert.equal(first.expiresAt, clock.time + 1_000, "the deadline is the store clock's");
    assert.equal(await directory.acquire("actor/1", first.owner === "n1" ? "n2" : "n1"), undefined, "a live lease is not taken");
    assert.deepEqual(await directory.acquire("actor/1", first.owner), first, "its owner acquiring again keeps the token");
    clock.advance(999);
    assert.equal((await directory.get("actor/1"))?.owner, first.owner);
    clock.advance(1);
    assert.equal(await directory.get("actor/1"), undefined, "expired at its deadline");
    assert.equal(await directory.isCurrent("actor/1", first.token), false);
    const second = await directory.acquire("actor/1", "n9");
    assert.equal(second?.token, 2, "the token survives expiry and grows for the new owner");
    assert.equal(await directory.isCurrent("actor/1", 2), true);
    assert.equal(await directory.release(second!), true);
    assert.equal(await directory.release(second!), false, "releasing again finds nothing to release");
    assert.equal((await directory.acquire("actor/1", "n9"))?.token, 3, "the token survives release");
  },

  "directory: renew moves the deadline under the same token; a lost lease is refused with LEASE_LOST": async ({ store, clock }) => {
    const directory = new LeaseDirectory(store, { ttlMs: 1_000 });
    const lease = (await directory.acquire("actor/2", "n1", { ttlMs: 500 }))!;
    clock.advance(400);
    const renewed = await directory.renew(lease);
    assert.deepEqual({ token: renewed.token, expiresAt: renewed.expiresAt }, { token: 1, expiresAt: clock.time + 1_000 });
    clock.advance(999);
    assert.equal((await directory.get("actor/2"))?.token, 1, "the renewal's deadline holds");
    clock.advance(1);
    await rejectsWith(directory.renew(lease), "LEASE_LOST", '"directory"', '"actor/2"', "free");
    await directory.acquire("actor/2", "n2");
    await rejectsWith(directory.renew(lease), "LEASE_LOST", '"directory"', '"actor/2"', "token 2");
    await rejectsWith(directory.transfer(lease, "n3"), "LEASE_LOST", '"directory"', '"actor/2"');
    assert.equal(await directory.release(lease), false, "a lost lease is not released");
    assert.equal((await directory.get("actor/2"))?.owner, "n2", "the refused calls changed nothing");
  },

  "directory: transfer passes a lease to another node with the next token, and the node index follows": async ({ store }) => {
    const directory = new LeaseDirectory(store, { ttlMs: 1_000 });
    const lease = (await directory.acquire("actor/3", "n1"))!;
    const moved = await directory.transfer(lease, "n2");
    assert.deepEqual({ owner: moved.owner, token: moved.token }, { owner: "n2", token: 2 });
    assert.deepEqual((await directory.listByNode("n1")).entries, []);
    assert.deepEqual((await directory.listByNode("n2")).entries.map((entry) => [entry.key, entry.owner, entry.token]), [["actor/3", "n2", 2]]);
    assert.equal(await directory.isCurrent("actor/3", 1), false, "the old owner's token is fenced off");
    await rejectsWith(directory.renew(lease), "LEASE_LOST", '"actor/3"');
  },

  "directory: list and listByNode page in key order and never show an expired lease": async ({ store, clock }) => {
    const directory = new LeaseDirectory(store, { ttlMs: 1_000 });
    await Promise.all(["a/5", "a/1", "a/3", "a/2", "a/4"].map((key) => directory.acquire(key, "n1")));
    await directory.acquire("b/1", "n2", { ttlMs: 100 });
    await directory.acquire("b/2", "n2");
    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = await directory.listByNode("n1", { limit: 2, ...(cursor === undefined ? {} : { cursor }) });
      pages.push(page.entries.map((entry) => entry.key));
      cursor = page.cursor;
    } while (cursor !== undefined);
    assert.deepEqual(pages, [["a/1", "a/2"], ["a/3", "a/4"], ["a/5"]]);
    assert.deepEqual((await directory.list()).entries.map((entry) => `${entry.key}@${entry.owner}`), ["a/1@n1", "a/2@n1", "a/3@n1", "a/4@n1", "a/5@n1", "b/1@n2", "b/2@n2"]);
    clock.advance(100);
    assert.deepEqual((await directory.listByNode("n2")).entries.map((entry) => entry.key), ["b/2"]);
    assert.equal((await directory.list()).entries.length, 6);
    assert.ok((await directory.expire()) >= 2, "the sweep removes the expired lease and its index entry");
    assert.equal((await directory.list({ limit: 6 })).cursor, undefined, "the last page has no cursor");
  },

  "directory: renewNode and releaseNode take a node's whole set, split to the engine's commits; atomic refuses what does not fit": async ({ store, clock, supports }) => {
    const directory = new LeaseDirectory(store, { ttlMs: 1_000 });
    const perCommit = Math.floor(supports.limits.maxTransactionWrites / 2);
    const count = Math.min(MOST_BULK_LEASES, perCommit + 1);
    await Promise.all(Array.from({ length: count }, (_, i) => directory.acquire(`actor/${String(i).padStart(3, "0")}`, "n1")));
    await directory.acquire("actor/other", "n2");
    clock.advance(600);
    const renewed = await directory.renewNode("n1");
    assert.equal(renewed.done.length, count);
    assert.deepEqual(renewed.lost, []);
    assert.equal(renewed.transactions, Math.ceil(count / perCommit));
    clock.advance(600);
    assert.equal((await directory.listByNode("n1", { limit: 100 })).entries.length, count, "every lease of n1 was renewed");
    assert.equal(await directory.get("actor/other"), undefined, "another node's lease was not");
    if (count > perCommit) {
      await rejectsWith(directory.releaseNode("n1", { atomic: true }), "LIMIT_EXCEEDED", '"directory"', '"n1"', String(perCommit));
      assert.equal((await directory.listByNode("n1", { limit: 100 })).entries.length, count, "a refused bulk call wrote nothing");
    }
    const released = await directory.releaseNode("n1");
    assert.equal(released.done.length, count);
    assert.deepEqual((await directory.list()).entries, []);
    assert.equal((await directory.acquire("actor/000", "n3"))?.token, 2, "released leases keep their tokens");
  },

  "directory: bad input is refused with typed errors naming the namespace": async ({ store }) => {
    assert.throws(() => new LeaseDirectory(store, { ttlMs: 0 }), /INVALID_ARGUMENT.*ttlMs.*"directory"/);
    const directory = new LeaseDirectory(store, { ttlMs: 1_000 });
    await rejectsWith(() => directory.acquire("k", "a/b"), "INVALID_ARGUMENT", '"directory"', "/");
    await rejectsWith(() => directory.acquire("k", "n".repeat(129)), "LIMIT_EXCEEDED", '"directory"', "128");
    await rejectsWith(() => directory.acquire("k".repeat(1_000), "n1"), "LIMIT_EXCEEDED", '"directory"', "leased key");
    await rejectsWith(() => directory.acquire("k", "n1", { ttlMs: -1 }), "INVALID_ARGUMENT", '"directory"', "ttlMs");
    await rejectsWith(() => directory.renew({ key: "k", owner: "n1", token: 0 }), "INVALID_ARGUMENT", "token");
    await rejectsWith(() => directory.list({ limit: 0 }), "INVALID_ARGUMENT", '"directory"', "limit");
    assert.deepEqual((await directory.list()).entries, [], "nothing was written");
  },

  "directory: releaseLeavers, following a membership watch, frees a leaving node's leases, expiry included, and keeps those it took after joining again": needing(WATCHING, async ({ store, clock }) => {
    const cluster = new Membership(store, { ttlMs: 1_000, sweepIntervalMs: 0 });
    const directory = new LeaseDirectory(store, { ttlMs: 60_000 });
    const aborts = new AbortController();
    try {
      await cluster.join({ id: "a" });
      await cluster.join({ id: "b" });
      await Promise.all([directory.acquire("x/1", "a"), directory.acquire("x/2", "a"), directory.acquire("y/1", "b")]);
      const watch = await cluster.watch({ signal: aborts.signal });
      await cluster.leave("b");
      clock.advance(1_000);
      await cluster.join({ id: "a" });
      clock.advance(1);
      await directory.acquire("x/3", "a");
      // Followed only now, so that a's new lease exists when its old membership's leave is handled.
      const released: Array<[string, string[]]> = [];
      let heard!: () => void;
      const both = new Promise<void>((resolve) => (heard = resolve));
      const following = directory.releaseLeavers(watch, (node, report) => {
        released.push([node, report.done]);
        if (released.length === 2) heard();
      });
      await Promise.race([both, following.then(() => assert.fail("the follower ended early"))]);
      assert.deepEqual(released, [["b", ["y/1"]], ["a", ["x/1", "x/2"]]]);
      assert.deepEqual((await directory.list()).entries.map((lease) => `${lease.key}@${lease.owner}`), ["x/3@a"]);
      aborts.abort();
      await following;
    } finally {
      aborts.abort();
    }
  }),

  "membership: join, heartbeat, update and leave; active hides a member past its deadline until a sweep removes it": async ({ store, clock }) => {
    const cluster = new Membership(store, { ttlMs: 1_000, sweepIntervalMs: 0 });
    const a = await cluster.join({ id: "a", address: "10.0.0.1:7000", tags: ["x"], payload: { zone: 1 } });
    assert.deepEqual({ ...a }, { id: "a", address: "10.0.0.1:7000", tags: ["x"], payload: { zone: 1 }, ttlMs: 1_000, joinedAt: clock.time, expiresAt: clock.time + 1_000, revision: 1 });
    await cluster.join({ id: "b" }, { ttlMs: 800 });
    clock.advance(400);
    assert.equal((await cluster.heartbeat("b")).expiresAt, clock.time + 800, "a heartbeat renews by the member's own ttl");
    clock.advance(600);
    assert.deepEqual((await cluster.active()).map((node) => node.id), ["b"], "a is past its deadline");
    assert.deepEqual((await cluster.all()).map((node) => node.id), ["a", "b"], "and still stored until a sweep");
    await rejectsWith(cluster.heartbeat("a"), "LEASE_LOST", '"cluster"', '"a"', "join again");
    await rejectsWith(cluster.update({ id: "a", address: "elsewhere" }), "LEASE_LOST", '"cluster"', '"a"');
    assert.equal((await cluster.update({ id: "b", address: "10.0.0.2:7000" })).address, "10.0.0.2:7000");
    assert.equal(await cluster.expire(), 1);
    assert.deepEqual((await cluster.all()).map((node) => node.id), ["b"]);
    assert.equal(await cluster.leave("b"), true);
    assert.equal(await cluster.leave("b"), false);
    assert.deepEqual(await cluster.all(), []);
    await rejectsWith(() => cluster.join({ id: "c", payload: "p".repeat(20_000) }), "LIMIT_EXCEEDED", '"cluster"', '"c"');
    await rejectsWith(() => cluster.join({ id: "" }), "INVALID_ARGUMENT", '"cluster"');
    assert.throws(() => new Membership(store, { ttlMs: 1_000, sweepIntervalMs: -1 }), /INVALID_ARGUMENT.*sweepIntervalMs/);
  },

  "membership: a watch starts with the members and reports each join, update and leave once, in commit order": needing(WATCHING, async ({ store, clock }) => {
    const cluster = new Membership(store, { ttlMs: 1_000, sweepIntervalMs: 0 });
    await cluster.join({ id: "before" });
    const aborts = new AbortController();
    try {
      const watch = await cluster.watch({ signal: aborts.signal });
      assert.deepEqual(watch.members.map((node) => node.id), ["before"]);
      assert.equal(watch.revision, 1);
      const feed = watch[Symbol.asyncIterator]();
      await cluster.join({ id: "a" });
      await cluster.join({ id: "a" }, { ttlMs: 1_000 });
      await cluster.heartbeat("a");
      await cluster.update({ id: "a", tags: ["t"] });
      await cluster.leave("before");
      assert.deepEqual(await nextEvents(feed, 3), [
        { type: "join", revision: 2, id: "a" },
        { type: "update", revision: 3, id: "a" },
        { type: "leave", revision: 4, id: "before", reason: "left" },
      ], "joining again unchanged and heartbeats report nothing");
      clock.advance(1_000);
      await cluster.join({ id: "a" });
      assert.deepEqual(await nextEvents(feed, 2), [
        { type: "leave", revision: 5, id: "a", reason: "expired" },
        { type: "join", revision: 5, id: "a" },
      ], "joining over an expired, unswept member reports its leave first, in one change");
    } finally {
      aborts.abort();
    }
  }),

  "membership: an expired member is reported leaving once, whichever handles sweep, and every watch agrees": needing(WATCHING, async ({ store, clock }) => {
    const one = new Membership(store, { ttlMs: 1_000, sweepIntervalMs: 0 });
    const two = new Membership(store, { ttlMs: 1_000, sweepIntervalMs: 0 });
    const aborts = new AbortController();
    try {
      const feeds = [await one.watch({ signal: aborts.signal }), await two.watch({ signal: aborts.signal })].map((watch) => watch[Symbol.asyncIterator]());
      await one.join({ id: "a" });
      await two.join({ id: "b" }, { ttlMs: 5_000 });
      clock.advance(1_000);
      const removed = await Promise.all([one.expire(), two.expire(), one.expire()]);
      assert.equal(removed.reduce((sum, n) => sum + n, 0), 1, "one sweep removed a, the others found nothing");
      await two.leave("b");
      for (const feed of feeds) {
        assert.deepEqual(await nextEvents(feed, 3), [
          { type: "join", revision: 1, id: "a" },
          { type: "join", revision: 2, id: "b" },
          { type: "leave", revision: 3, id: "a", reason: "expired" },
        ]);
        assert.deepEqual(await nextEvents(feed, 1), [{ type: "leave", revision: 4, id: "b", reason: "left" }], "no second leave of a came first");
      }
    } finally {
      aborts.abort();
    }
  }),
};
