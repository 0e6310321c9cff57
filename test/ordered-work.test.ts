/**
 * Work queues on the ordered-KV family, beyond the conformance group: claimers in several "processes" (engines over one
 * key space, and LMDB stores over one file) never hold live leases on one item at once; what a claim reads, checks and
 * writes (three records per item, no check of the index it reads); a claim stays within a store's commit limit;
 * `check` finds damaged work records; and restores, dumps on held snapshots and polls through the engine.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { createStore, isStowageError, openStore, utf8, type ClaimedItem, type Store } from "../src/index.js";
import { OrderedEngine, orderedSupports } from "../src/engines/ordered/ordered-engine.js";
import type { OrderedCommit } from "../src/engines/ordered/ordered-store.js";
import { TAG, writeNumber } from "../src/engines/ordered/key-layout.js";
import { numbersRecord } from "../src/engines/ordered/record-values.js";
import { claimWindow, spreadOffset } from "../src/engines/work-rules.js";
import { SortedKeySpace, SortedOrderedStore, type SortedStoreOptions } from "./helpers/sorted-ordered-store.js";
import { FIXED_POLICY, storedWorkRow } from "./helpers/work-rows.js";

const dir = mkdtempSync(join(tmpdir(), "stowage-ordered-work-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A sorted store that records every commit it is asked for. */
class RecordingStore extends SortedOrderedStore {
  readonly commits: OrderedCommit[] = [];
  override commit(commit: OrderedCommit): Promise<boolean> {
    this.commits.push(commit);
    return super.commit(commit);
  }
}

/**
 * `claimers` stores each claiming from one queue key until every item is held: each claimer stops after a claim that
 * found nothing once all items were handed out, and in any case after `maxRounds` claims (the loop ends by itself).
 */
async function claimAll(stores: readonly Store[], key: string, total: number, maxRounds: number): Promise<Array<ClaimedItem<string>>> {
  const claimed: Array<ClaimedItem<string>> = [];
  await Promise.all(
    stores.map(async (store) => {
      const queue = store.workQueue("jobs", { codec: utf8 });
      for (let round = 0; round < maxRounds && claimed.length < total; round++) claimed.push(...(await queue.claim(key, { limit: 3, visibilityMs: 60_000 })));
    }),
  );
  return claimed;
}

/** Every item claimed exactly once, with the attempt expected, and the holders' leases all distinct. */
function assertEachOnce(claimed: ReadonlyArray<ClaimedItem<string>>, total: number, attempt: number): void {
  const ids = claimed.map((item) => item.id).sort((a, b) => a - b);
  assert.deepEqual(ids, Array.from({ length: total }, (_, i) => i + 1), "each item handed out once while its lease is live");
  assert.ok(claimed.every((item) => item.attempt === attempt && item.value === `job ${item.id}`));
}

/** An item record's key with another id. */
function withId(recordKey: Uint8Array, id: number): Buffer {
  const out = Buffer.from(recordKey);
  writeNumber(out, out.length - 8, id);
  return out;
}

async function pushJobs(store: Store, key: string, total: number): Promise<void> {
  await store.workQueue("jobs", { codec: utf8 }).pushMany(key, Array.from({ length: total }, (_, i) => ({ value: `job ${i + 1}` })));
}

test("claimers in four processes over one key space never hold live leases on one item at once; expired leases are claimed again, once each", async () => {
  let now = 1_000_000;
  const clock = () => now;
  const space = new SortedKeySpace();
  const options: SortedStoreOptions = { asyncReads: true };
  const ordered = Array.from({ length: 4 }, () => new SortedOrderedStore(space, options));
  const stores = await Promise.all(ordered.map(async (store) => createStore(await OrderedEngine.open(store), { sweepIntervalMs: 0, clock })));
  try {
    const total = 60;
    await pushJobs(stores[0] as Store, "k", total);
    const first = await claimAll(stores, "k", total, 200);
    assertEachOnce(first, total, 1);
    assert.ok(ordered.some((store) => store.conflicts > 0), "the claimers contended (some commit lost and ran again)");

    // Past every deadline: the items are claimable again, each by one claimer, on its second attempt; the first
    // leases are lost.
    now += 60_001;
    const second = await claimAll(stores, "k", total, 200);
    assertEachOnce(second, total, 2);
    const queue = (stores[1] as Store).workQueue("jobs", { codec: utf8 });
    await assert.rejects(queue.ack(first[0] as ClaimedItem<string>), (error: unknown) => isStowageError(error, "LEASE_LOST"));
    const { acked, lost } = await queue.ackMany(second);
    assert.equal(acked, total);
    assert.deepEqual(lost, []);
    assert.deepEqual(await queue.counts("k"), { ready: 0, delayed: 0, leased: 0, dead: 0 });
    assert.deepEqual((await (stores[2] as Store).check()).problems, []);
  } finally {
    for (const store of stores) await store.close();
  }
});

test("LMDB: claimers over two stores on one file never hold live leases on one item at once", async () => {
  const path = join(dir, "claimers.lmdb");
  const stores = [await openStore({ backend: "lmdb", path }), await openStore({ backend: "lmdb", path })];
  try {
    const total = 40;
    await pushJobs(stores[0] as Store, "k", total);
    assertEachOnce(await claimAll([...stores, ...stores], "k", total, 200), total, 1);
    assert.deepEqual(await (stores[1] as Store).workQueue("jobs").counts("k"), { ready: 0, delayed: 0, leased: total, dead: 0 });
    assert.deepEqual((await (stores[0] as Store).check()).problems, []);
  } finally {
    for (const store of stores) await store.close();
  }
});

test("a claim checks only the states of the items it takes and writes three records per item; a claim that finds nothing commits nothing", async () => {
  const ordered = new RecordingStore();
  const store = createStore(await OrderedEngine.open(ordered), { sweepIntervalMs: 0 });
  try {
    const queue = store.workQueue("jobs", { codec: utf8 });
    await pushJobs(store, "k", 5);
    const before = ordered.commits.length;
    const claimed = await queue.claim("k", { limit: 2 });
    assert.deepEqual(claimed.map((item) => item.id), [1, 2], "one claimer takes the head, in order");
    const [commit] = ordered.commits.slice(before);
    assert.equal(ordered.commits.length - before, 1);
    assert.deepEqual(commit?.checks.map((check) => [check.kind, check.kind === "get" ? check.key[0] : check.start[0]]), [["get", TAG.workState], ["get", TAG.workState]], "no range check: the index is read loosely");
    assert.equal(commit?.writes.length, 6, "three records per claimed item");
    assert.deepEqual([...new Set(commit?.writes.map((write) => write.key[0]))].sort(), [TAG.workState, TAG.workVisible]);

    await queue.claim("k", { limit: 3 });
    const idle = ordered.commits.length;
    assert.deepEqual(await queue.claim("k", { limit: 3 }), []);
    assert.equal(ordered.commits.length, idle, "nothing to claim: no commit");
  } finally {
    await store.close();
  }
});

test("a claim on a store with a commit limit stays within it, dead-lettering and leasing in one commit", async () => {
  let now = 1_000;
  const ordered = new RecordingStore(undefined, { limits: { maxWritesPerCommit: 20 } });
  const store = createStore(await OrderedEngine.open(ordered), { sweepIntervalMs: 0, clock: () => now });
  try {
    assert.equal(orderedSupports(ordered).workQueues, true);
    assert.equal(orderedSupports(ordered).limits.maxTransactionWrites, 4);
    const queue = store.workQueue("jobs", { codec: utf8, retry: { maxAttempts: 1 } });
    await queue.pushMany("k", ["a", "b", "c", "d"].map((value) => ({ value })));
    assert.equal((await queue.claim("k", { limit: 4, visibilityMs: 10 })).length, 4);
    now += 10;
    await queue.pushMany("k", ["e", "f", "g", "h"].map((value) => ({ value })));
    // First in claim order, four expired leases with their attempts used up, then four fresh items. A dead-letter takes
    // up to 4 records (3 here: no dedup key), a lease 3: the claim takes what surely fits 20 records and leaves the rest.
    const before = ordered.commits.length;
    const claimed = await queue.claim("k", { limit: 4 });
    assert.deepEqual(claimed.map((item) => item.value), ["e"]);
    assert.deepEqual(ordered.commits.slice(before).map((commit) => commit.writes.length), [4 * 3 + 3]);
    assert.deepEqual(await queue.counts("k"), { ready: 3, delayed: 0, leased: 1, dead: 4 });
    assert.deepEqual((await store.check()).problems, []);
  } finally {
    await store.close();
  }
});

test("check finds damaged work records: a lost index record, a dedup record naming another item, a payload without its item, two holders of a dedup key, an id past the counter", async () => {
  const ordered = new SortedOrderedStore();
  const store = createStore(await OrderedEngine.open(ordered), { sweepIntervalMs: 0 });
  try {
    const queue = store.workQueue("jobs", { codec: utf8 });
    await queue.push("k", "a", { dedupKey: "d" });
    await queue.push("k", "b");
    assert.deepEqual((await store.check()).problems, []);
    const rows = ordered.space.rows;
    const tagged = (tag: number) => rows.filter(([, key]) => key[0] === tag);
    const [visible] = tagged(TAG.workVisible);
    const [dedup] = tagged(TAG.workDedup);
    const payloads = tagged(TAG.workPayload);
    const [state] = tagged(TAG.workState);
    type Row = (typeof rows)[number];
    await ordered.commit({
      checks: [],
      writes: [
        { key: (visible as (typeof rows)[number])[1], value: undefined },
        { key: (dedup as (typeof rows)[number])[1], value: numbersRecord(2) },
        { key: withId((payloads[1] as Row)[1], 100), value: (payloads[1] as Row)[2] },
        // A copy of item 1 as item 3: a second live holder of its dedup key, past the counter.
        { key: withId((state as Row)[1], 3), value: (state as Row)[2] },
        { key: withId((payloads[0] as Row)[1], 3), value: (payloads[0] as Row)[2] },
      ],
    });
    const problems = (await store.check()).problems;
    assert.ok(problems.some((line) => /lacks its work visibility index record/.test(line)), problems.join("\n"));
    assert.ok(problems.some((line) => /work dedup index record .* names item 2, not/.test(line)), problems.join("\n"));
    assert.ok(problems.some((line) => /work payload record .* without its work item/.test(line)), problems.join("\n"));
    assert.ok(problems.some((line) => /live work items 1 and 3 of "jobs" hold one dedup key/.test(line)), problems.join("\n"));
    assert.ok(problems.some((line) => /work item 3 of "jobs" beyond its namespace's last id 2/.test(line)), problems.join("\n"));
  } finally {
    await store.close();
  }
});

const row = storedWorkRow;

test("engine: restore keeps rows as they were (leases, dead letters, dedup keys) or refuses them whole; dump pages by (key, id) on a held snapshot; poll skips over priorities", async () => {
  const engine = await OrderedEngine.open(new SortedOrderedStore(undefined, { asyncReads: true }));
  const read = <T>(op: string, ...args: unknown[]) => engine.read({ op, args } as never) as Promise<T>;
  try {
    const rows = [
      row({ key: "a", id: 3, dead: true, deadAt: 8, lastError: "gone", attempts: 5, dedup: "x" }),
      row({ key: "a", id: 9, token: 42, attempts: 1, visibleAt: 500, priority: -7 }),
      row({ key: "b", id: 7, dedup: "x", priority: 2 ** 31 - 1 }),
    ];
    await engine.write({ op: "workRestore", args: ["jobs", rows, 4] });
    assert.equal(await read("workLastId", "jobs"), 9);
    assert.deepEqual(await read("workDump", "jobs", null, 10), rows);
    assert.deepEqual(await read("workDump", "jobs", { key: "a", id: 3 }, 1), [rows[1]]);
    assert.deepEqual(await read("workKeys", "jobs", null, 10), ["a", "b"]);
    assert.deepEqual(await read("workKeys", "jobs", "a", 10), ["b"]);
    assert.deepEqual(await read("workDead", "jobs", "a", 0, 10), [rows[0]]);
    for (const bad of [[row({ key: "a", id: 9 })], [row({ id: 30 }), row({ key: "z", id: 30 })], [row({ id: 31 }), row({ key: "b", id: 32, dedup: "x" })]]) {
      await assert.rejects(engine.write({ op: "workRestore", args: ["jobs", bad, 50] }), (error: unknown) => isStowageError(error, "CONFLICT") && /nothing was written/.test(error.message));
    }
    assert.equal(await read("workLastId", "jobs"), 9, "refused restores wrote nothing");
    assert.deepEqual(await engine.check(), []);

    assert.deepEqual(await read("workPoll", "jobs", "a", 499), { claimable: false, nextVisibleAt: 500 }, "a lease's deadline, not a dead item's time");
    assert.deepEqual(await read("workPoll", "jobs", "a", 500), { claimable: true, nextVisibleAt: null });
    const push = (key: string, priority: number, visibleAt: number) => ({ key, value: new Uint8Array([2]), priority, visibleAt, maxAttempts: 5, policy: FIXED_POLICY, dedup: null, reject: false });
    await engine.write({ op: "workPush", args: ["jobs", [push("c", 5, 40), push("c", 1, 30), push("c", -(2 ** 31), 20)], 0] });
    assert.deepEqual(await read("workPoll", "jobs", "c", 19), { claimable: false, nextVisibleAt: 20 }, "the earliest time over every priority, the lowest included");
    assert.deepEqual(await read("workPoll", "jobs", "c", 20), { claimable: true, nextVisibleAt: null });
    const [claimed] = await engine.write({ op: "workClaim", args: ["jobs", "c", 3, 35, 100, 7] });
    assert.equal(claimed?.priority, 1, "a future item of a higher priority is skipped, not waited for");

    const seen = await engine.snapshot(async (ops) => {
      await engine.write({ op: "workPurge", args: ["jobs", "a", null, 10] });
      return ops.workDump("jobs", null, 10);
    });
    assert.equal(seen.length, 6, "a held snapshot sees the items as they were when it began");
    assert.equal((await read<unknown[]>("workDump", "jobs", null, 10)).length, 5);
    assert.deepEqual(await engine.check(), []);
  } finally {
    await engine.close();
  }
});

test("a claim whose commit lost to another process's claim runs again from an offset drawn from its token; alone, it takes the head", async () => {
  const space = new SortedKeySpace();
  const rival = await OrderedEngine.open(new SortedOrderedStore(space));
  let interleave = true;
  const engine = await OrderedEngine.open(
    new SortedOrderedStore(space, {
      // Before this engine's first claim commits, the rival claims the head item.
      beforeCommit: async () => {
        if (!interleave) return;
        interleave = false;
        await rival.write({ op: "workClaim", args: ["jobs", "k", 1, 0, 100, 1] });
      },
    }),
  );
  try {
    const push = { key: "k", value: new Uint8Array([1]), priority: 0, visibleAt: 0, maxAttempts: 5, policy: FIXED_POLICY, dedup: null, reject: false };
    interleave = false;
    await engine.write({ op: "workPush", args: ["jobs", Array.from({ length: 8 }, () => push), 0] });
    interleave = true;
    const token = 3;
    const [claimed] = await engine.write({ op: "workClaim", args: ["jobs", "k", 1, 0, 100, token] });
    // The rerun's candidates are items 2–5 (a window of 4 for a limit of 1): it starts at spreadOffset(3, 1, 4) = 3.
    assert.equal(claimed?.id, 2 + spreadOffset(token, 1, claimWindow(1)));
    assert.notEqual(claimed?.id, 2, "not the head, which a first run would take");
    const [next] = await engine.write({ op: "workClaim", args: ["jobs", "k", 1, 0, 100, token] });
    assert.equal(next?.id, 2, "a first run takes the head");
    assert.deepEqual(await engine.check(), []);
  } finally {
    await engine.close();
    await rival.close();
  }
});
