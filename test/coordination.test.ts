/**
 * The coordination adapters beyond the conformance group every engine runs (src/conformance/coordination-cases.ts):
 * that group again on an ordered store whose commits hold 4 writes (so every bulk call splits); renewNode against an
 * interleaved commit of another connection; two SQLite connections racing for leases and watching each other; a
 * membership watch that falls behind the KV history's trim and resyncs; the runtime's wiring and periodic sweep; and
 * LeaderElection.campaign (its loop runs on real timers of a few ms; deadlines are judged by a ManualClock).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import { conformanceGroups, ManualClock } from "../src/conformance/index.js";
import { createRuntime, createStore, LeaderElection, LeaseDirectory, LIMITS, Membership, openStore, OrderedEngine, orderedSupports, type LeadershipLoss, type Store } from "../src/index.js";
import { SortedKeySpace, SortedOrderedStore } from "./helpers/sorted-ordered-store.js";
import { tempDir } from "./helpers/child.js";

/** A promise that a test resolves from a callback, and fails after `guardMs` (a guard, never a wait for order). */
function signalled<T>(what: string, guardMs = 10_000): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<T>((ok, fail) => {
    resolve = (value) => {
      clearTimeout(timer);
      ok(value);
    };
    timer = setTimeout(() => fail(new Error(`${what} did not happen within ${guardMs} ms`)), guardMs);
  });
  return { promise, resolve };
}

/** `promise`, or a failure naming `what` after `guardMs`: a watch that never reports fails instead of hanging. */
function guarded<T>(promise: Promise<T>, what: string, guardMs = 10_000): Promise<T> {
  const guard = signalled<T>(what, guardMs);
  void promise.then(guard.resolve, () => undefined);
  return Promise.race([promise, guard.promise]);
}

describe("coordination cases on an ordered store whose commits take 4 writes", () => {
  const small = { maxWritesPerCommit: 20 };
  const supports = orderedSupports(new SortedOrderedStore(undefined, { limits: small }));
  assert.equal(supports.limits.maxTransactionWrites, 4, "2 leases a commit: every bulk call of the cases splits");
  for (const [name, run] of Object.entries(conformanceGroups.coordination ?? {})) {
    test(name, async () => {
      const clock = new ManualClock();
      const opened: Store[] = [];
      const open = async (): Promise<Store> => {
        const store = createStore(await OrderedEngine.open(new SortedOrderedStore(undefined, { limits: small })), { clock: clock.now, sweepIntervalMs: 0 });
        opened.push(store);
        return store;
      };
      try {
        await run({ store: await open(), clock, open, supports });
      } finally {
        await Promise.allSettled(opened.map((store) => store.close()));
      }
    });
  }
});

test("renewNode reports a lease taken over between its listing and its commit as lost, and removes the stale index entry", async () => {
  const clock = new ManualClock();
  const space = new SortedKeySpace();
  let interleave: (() => Promise<void>) | undefined;
  const beforeCommit = async (): Promise<void> => {
    const step = interleave;
    interleave = undefined;
    await step?.();
  };
  // Two engines on one key space: two connections, as two processes would have.
  const ours = createStore(await OrderedEngine.open(new SortedOrderedStore(space, { beforeCommit })), { clock: clock.now, sweepIntervalMs: 0 });
  const theirs = createStore(await OrderedEngine.open(new SortedOrderedStore(space)), { clock: clock.now, sweepIntervalMs: 0 });
  try {
    const directory = new LeaseDirectory(ours, { ttlMs: 1_000 });
    const first = (await directory.acquire("k1", "n1"))!;
    await directory.acquire("k2", "n1");
    // Just before renewNode's commit is checked, the other connection hands k1 to n2: the commit fails and reruns.
    interleave = async () => void (await new LeaseDirectory(theirs, { ttlMs: 1_000 }).transfer(first, "n2"));
    const report = await directory.renewNode("n1");
    assert.deepEqual({ done: report.done, lost: report.lost }, { done: ["k2"], lost: ["k1"] });
    assert.equal(interleave, undefined, "the interleaved transfer ran");
    assert.deepEqual((await directory.listByNode("n1")).entries.map((lease) => lease.key), ["k2"]);
    assert.deepEqual((await directory.get("k1"))?.owner, "n2");
  } finally {
    await Promise.allSettled([ours.close(), theirs.close()]);
  }
});

test("a membership watch that fell behind the history's trim resyncs: it reports what it missed, once, as resync", async () => {
  const clock = new ManualClock();
  const store = await openStore({ backend: "memory", clock: clock.now, sweepIntervalMs: 0 });
  const aborts = new AbortController();
  try {
    const cluster = new Membership(store, { ttlMs: 1_000, sweepIntervalMs: 0 });
    await cluster.join({ id: "gone" });
    const feed = (await cluster.watch({ signal: aborts.signal }))[Symbol.asyncIterator]();
    await cluster.join({ id: "new" });
    await cluster.leave("gone");
    // Every write of the namespace is a change of its history (heartbeats too): enough push the events out of it.
    for (let half = 0; half < 2; half++) {
      await store.transaction(async (tx) => {
        const kv = tx.kv("cluster");
        for (let i = 0; i <= LIMITS.kvChangesKept / 2; i++) await kv.put("noise", new Uint8Array(0));
      });
    }
    await store.sweep();
    const events = [(await guarded(feed.next(), "the resync's leave")).value, (await guarded(feed.next(), "the resync's join")).value].map((e) => `${e.type} ${e.node.id} ${e.reason} r${e.revision}`);
    assert.deepEqual(events, ["leave gone resync r3", "join new resync r3"]);
    await cluster.join({ id: "later" });
    assert.equal((await guarded(feed.next(), "the live join")).value?.node.id, "later", "and goes on live after it");
  } finally {
    aborts.abort();
    await store.close();
  }
});

test("sqlite, two stores on one file (two connections, as two processes): one owner among racing acquirers, and each watch reports the other's changes once", async () => {
  const { dir, remove } = tempDir("stowage-coordination-");
  const clock = new ManualClock();
  const path = join(dir, "cluster.db");
  const stores = [await openStore({ backend: "sqlite", path, clock: clock.now, sweepIntervalMs: 0 }), await openStore({ backend: "sqlite", path, clock: clock.now, sweepIntervalMs: 0 })];
  const aborts = new AbortController();
  try {
    const directories = stores.map((store) => new LeaseDirectory(store, { ttlMs: 1_000 }));
    for (let round = 0; round < 5; round++) {
      const outcomes = await Promise.all(directories.flatMap((directory, i) => [directory.acquire(`actor/${round}`, `s${i}a`), directory.acquire(`actor/${round}`, `s${i}b`)]));
      assert.equal(outcomes.filter((lease) => lease !== undefined).length, 1, `round ${round}: one owner`);
    }
    const [one, two] = stores.map((store) => new Membership(store, { ttlMs: 1_000, sweepIntervalMs: 0 })) as [Membership, Membership];
    const feeds = [await one.watch({ signal: aborts.signal }), await two.watch({ signal: aborts.signal })].map((watch) => watch[Symbol.asyncIterator]());
    await one.join({ id: "a" });
    await two.join({ id: "b" });
    clock.advance(1_000);
    assert.deepEqual(await Promise.all([one.expire(), two.expire()]).then((counts) => counts.reduce((sum, n) => sum + n, 0)), 2);
    for (const feed of feeds) {
      const seen: string[] = [];
      for (let i = 0; i < 4; i++) {
        const { value } = await guarded(feed.next(), `event ${i + 1} of 4`);
        seen.push(`${value?.type} ${value?.node.id}`);
      }
      assert.deepEqual(seen.slice(0, 2), ["join a", "join b"]);
      assert.deepEqual(seen.slice(2).sort(), ["leave a", "leave b"]);
    }
  } finally {
    aborts.abort();
    await Promise.allSettled(stores.map((store) => store.close()));
    remove();
  }
});

test("createRuntime hands out the membership and the directory; a membership's own sweep reports an expiry by itself", async () => {
  const clock = new ManualClock();
  const store = await openStore({ backend: "memory", clock: clock.now, sweepIntervalMs: 0 });
  const aborts = new AbortController();
  try {
    const runtime = await createRuntime(store);
    const cluster = runtime.membership({ ttlMs: 1_000, sweepIntervalMs: 5 });
    const directory = runtime.directory({ ttlMs: 1_000 });
    await cluster.join({ id: "a" });
    const lease = await directory.acquire("actor/1", "a");
    assert.equal(lease?.token, 1);
    const feed = (await cluster.watch({ signal: aborts.signal }))[Symbol.asyncIterator]();
    clock.advance(1_000);
    const leave = signalled<string>("the sweep's leave");
    void feed.next().then((next) => leave.resolve(`${next.value?.type} ${next.value?.node.id} ${next.value?.reason}`));
    assert.equal(await leave.promise, "leave a expired", "no expire() call: the handle's periodic sweep reported it");
    assert.deepEqual(await cluster.all(), []);
    await runtime.close();
  } finally {
    aborts.abort();
    await store.close();
  }
});

describe("LeaderElection.campaign", () => {
  const TTL = 1_000;

  test("elected, renewed while healthy, reports a refused renewal (fencing), and is elected again after", async () => {
    const clock = new ManualClock();
    const store = await openStore({ backend: "memory", clock: clock.now, sweepIntervalMs: 0 });
    const events: string[] = [];
    const elected = [signalled<number>("first election"), signalled<number>("second election")];
    const lost = signalled<LeadershipLoss>("the loss");
    try {
      const election = new LeaderElection(store, { name: "main", ttlMs: TTL, holder: "a" });
      const campaign = election.campaign({
        renewEveryMs: 2,
        onElected: (token) => {
          events.push(`elected ${token}`);
          elected[events.filter((e) => e.startsWith("elected")).length - 1]?.resolve(token);
        },
        onLost: (reason, token) => {
          events.push(`lost ${token} ${reason}`);
          lost.resolve(reason);
        },
      });
      assert.equal(await elected[0]!.promise, 1);
      assert.equal(campaign.token, 1);
      // Another writer takes the slot over: the next renewal finds another holder and reports the loss.
      await store.slot("leases").upsert("main", new TextEncoder().encode(JSON.stringify({ holder: "intruder", token: 7, expiresAt: clock.time + 10 })));
      assert.equal(await lost.promise, "refused");
      clock.advance(10);
      assert.equal(await elected[1]!.promise, 8, "taken again when the intruder's lease expired, with a larger token");
      await campaign.stop();
      assert.deepEqual(events, ["elected 1", "lost 1 refused", "elected 8", "lost 8 stopped"]);
      assert.equal(await new LeaderElection(store, { name: "main", ttlMs: TTL, holder: "b" }).acquire(), true, "stop released the lease");
    } finally {
      await store.close();
    }
  });

  test("sqlite, two stores on one file: a leader whose store fails reports the loss before the other can be elected", async () => {
    const { dir, remove } = tempDir("stowage-campaign-");
    const clock = new ManualClock();
    const path = join(dir, "leases.db");
    const stores = [await openStore({ backend: "sqlite", path, clock: clock.now, sweepIntervalMs: 0 }), await openStore({ backend: "sqlite", path, clock: clock.now, sweepIntervalMs: 0 })];
    const events: string[] = [];
    const aElected = signalled<number>("a's election");
    const aLost = signalled<LeadershipLoss>("a's loss");
    const bElected = signalled<number>("b's election");
    const aborts = new AbortController();
    try {
      const [a, b] = stores.map((store, i) => new LeaderElection(store, { name: "main", ttlMs: TTL, holder: `n${i}` })) as [LeaderElection, LeaderElection];
      a.campaign({ renewEveryMs: 2, signal: aborts.signal, onElected: (t) => aElected.resolve(t), onLost: (reason, t) => (events.push(`a lost ${t} ${reason}`), aLost.resolve(reason)) });
      assert.equal(await aElected.promise, 1);
      b.campaign({ renewEveryMs: 2, signal: aborts.signal, onElected: (t) => (events.push(`b elected ${t}`), bElected.resolve(t)) });
      await stores[0]!.close();
      // Into the safety margin: a can no longer confirm a renewal, the lease has not expired, so b cannot take it.
      clock.advance(TTL - TTL / 5 + 1);
      assert.equal(await aLost.promise, "deadline");
      clock.advance(TTL / 5);
      assert.equal(await bElected.promise, 2);
      assert.deepEqual(events, ["a lost 1 deadline", "b elected 2"]);
    } finally {
      aborts.abort();
      await Promise.allSettled(stores.map((store) => store.close()));
      remove();
    }
  });

  test("runtime.close() stops the campaigns and releases their leases; bad options are refused", async () => {
    const clock = new ManualClock();
    const store = await openStore({ backend: "memory", clock: clock.now, sweepIntervalMs: 0 });
    try {
      const runtime = await createRuntime(store);
      const elected = signalled<number>("the election");
      const lost = signalled<LeadershipLoss>("the stop");
      const election = runtime.election({ name: "main", ttlMs: TTL });
      assert.throws(() => election.campaign({ renewEveryMs: TTL }), /INVALID_ARGUMENT.*renewEveryMs.*"leases".*"main"/);
      assert.throws(() => election.campaign({ onElected: 1 } as never), /INVALID_ARGUMENT.*onElected/);
      const probe = new LeaderElection(store, { name: "main", ttlMs: TTL, holder: "probe" });
      let takenDuringLoss: boolean | undefined;
      const onLost = async (reason: LeadershipLoss): Promise<void> => {
        takenDuringLoss = await probe.acquire();
        lost.resolve(reason);
      };
      election.campaign({ renewEveryMs: 2, onElected: (t) => elected.resolve(t), onLost });
      assert.equal(await elected.promise, 1);
      await runtime.close();
      assert.equal(await lost.promise, "stopped");
      assert.equal(takenDuringLoss, false, "the lease is released only after onLost returned");
      assert.equal(await new LeaderElection(store, { name: "main", ttlMs: TTL }).acquire(), true, "released at once");
    } finally {
      await store.close();
    }
  });
});
