/**
 * Model-based property tests: fast-check generates random sequences of operations — KV put (with and without TTL),
 * get, delete, list, count, delete-range; log append, since, lastSeq; slot get, upsert, CAS; queue push (bounded,
 * both overflow policies), peek, ack, drop-oldest, len; transactions of several writes that commit or throw; clock
 * moves and sweeps; stream produce (with and without an expected sequence), segment and space reads, status, peek and
 * listings; work queues (test/helpers/work-model.ts: pushes with delays, priorities and dedup keys, claims, acks,
 * extends, releases, fails, requeues, purges, counts and dead letters, lease tokens compared by first-seen order) —
 * and runs each against the memory engine (the model) and a durable engine, sharing one controlled clock.
 * Every answer, and every error code, must be the same. The KV namespace keeps a change history, followed by a watch
 * of every key: the changes it reports, at random points and at the end of a sequence, must be the model's too, and
 * a replay of the sequence's history must report the same. The durable engines: SQLite, PostgreSQL, the ordered-KV
 * family (a sorted in-memory store, LMDB, LevelDB), and etcd, Redis and Azure Table (azurite) on real servers started
 * for this file. `MODEL_CASES` sets the sequences per engine (the soak runs 10,000); without it the networked engines,
 * where every command is a round trip or more, run fewer.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import fc from "fast-check";
import { createStore, isStowageError, openStore, utf8, type Kv, type KvChange, type Store } from "../src/index.js";
import { applyWorkWrite, errorItemId, flattenBursts, readWork, WorkLeases, WorkTally, workBurst, workQueueOf, workWrite, type WorkRead, type WorkWrite } from "./helpers/work-model.js";
import { OrderedEngine } from "../src/engines/ordered/ordered-engine.js";
import { tempDir } from "./helpers/child.js";
import { SortedOrderedStore } from "./helpers/sorted-ordered-store.js";
import { openLmdbStore } from "../src/engines/lmdb/lmdb-store.js";
import { openLevelDbStore } from "../src/engines/leveldb/leveldb-store.js";
import { NETWORKED_ENGINES, shortRun, useNetworkedServers } from "./helpers/networked-stores.js";
import { usePostgresServer } from "./helpers/postgres-server.js";

const CASES = Number(process.env.MODEL_CASES ?? 150);
/** Sequences on a networked engine, unless `MODEL_CASES` is set (azurite runs half: see `shortRun`). */
const NETWORKED_CASES = 40;

// A real server for this file; if it cannot start, every test that needs it fails rather than skips.
const pgServer = usePostgresServer();
const networkedStore = useNetworkedServers();

const KEYS = ["a", "b", "c", "a/1", "a/2", "b/1", "é", "日本"];
const key = fc.constantFrom(...KEYS);
const value = fc.constantFrom("", "x", "y", "zz", "é€", "long ".repeat(20));
const limit = fc.integer({ min: 1, max: 5 });
const streamSpace = fc.constantFrom("s1", "s2");
const streamSegment = fc.constantFrom("g1", "g2", "g10");

type Write =
  | { op: "put"; key: string; value: string; ttlMs?: number }
  | { op: "delete"; key: string }
  | { op: "deleteRange"; prefix: string }
  | { op: "append"; key: string; value: string }
  | { op: "upsert"; key: string; value: string }
  | { op: "cas"; key: string; expected: number; value: string }
  | { op: "push"; key: string; value: string; maxLen?: number; overflow: "reject" | "drop-oldest" }
  | { op: "ack"; key: string; id: number }
  | { op: "dropOldest"; key: string; count: number }
  | { op: "produce"; space: string; segment: string; values: string[]; headers?: Record<string, string>; expectedSeq?: number }
  | WorkWrite;

type Command =
  | Write
  | { op: "get"; key: string }
  | { op: "list"; prefix?: string; start?: string; end?: string; limit: number; reverse: boolean; keysOnly: boolean; pages: number }
  | { op: "count"; prefix?: string }
  | { op: "since"; key: string; seq: number; limit: number }
  | { op: "lastSeq" }
  | { op: "slotGet"; key: string }
  | { op: "peek"; key: string; limit: number; afterId: number | undefined }
  | { op: "len"; key: string }
  | { op: "tick"; ms: number }
  | { op: "sweep" }
  | { op: "changes" }
  | { op: "readSegment"; space: string; segment: string; fromSeq: number; toSeq?: number; limit: number }
  | { op: "readSpace"; space: string; fromTimestamp: number; limit: number; pages: number }
  | { op: "streamStatus" | "streamPeek"; space: string; segment: string }
  | { op: "spaces" }
  | { op: "segments"; space: string }
  | WorkRead
  | { op: "tx"; writes: Write[]; fail: boolean };

const kvWrite: fc.Arbitrary<Write> = fc.oneof(
  fc.record({ op: fc.constant("put" as const), key, value }),
  fc.record({ op: fc.constant("put" as const), key, value, ttlMs: fc.integer({ min: 1, max: 50 }) }),
  fc.record({ op: fc.constant("delete" as const), key }),
  fc.record({ op: fc.constant("deleteRange" as const), prefix: fc.constantFrom("a", "a/", "b", "") }),
  fc.record({ op: fc.constant("append" as const), key, value }),
  fc.record({ op: fc.constant("upsert" as const), key, value }),
  fc.record({ op: fc.constant("cas" as const), key, expected: fc.integer({ min: 0, max: 4 }), value }),
  fc.record({ op: fc.constant("push" as const), key, value, overflow: fc.constantFrom("reject" as const, "drop-oldest" as const) }),
  fc.record({ op: fc.constant("push" as const), key, value, maxLen: fc.integer({ min: 1, max: 3 }), overflow: fc.constantFrom("reject" as const, "drop-oldest" as const) }),
  fc.record({ op: fc.constant("ack" as const), key, id: fc.integer({ min: 1, max: 12 }) }),
  fc.record({ op: fc.constant("dropOldest" as const), key, count: fc.integer({ min: 1, max: 3 }) }),
  fc.record(
    {
      op: fc.constant("produce" as const),
      space: streamSpace,
      segment: streamSegment,
      values: fc.array(value, { minLength: 1, maxLength: 3 }),
      headers: fc.constantFrom<Record<string, string>>({ type: "a" }, { type: "b", trace: "t" }),
      expectedSeq: fc.integer({ min: 0, max: 6 }),
    },
    { requiredKeys: ["op", "space", "segment", "values"] },
  ),
);

/**
 * Work writes in a transaction: a requeue or purge without ids counts as many writes as it may make (up to the engine's
 * maxTransactionWrites: all 25 of etcd's), so the transaction's next write would pass the limit there and not on
 * memory — a limit of the engine, not a disagreement: in a transaction they name their ids.
 */
const workTxWrite = workWrite.filter((w) => !((w.op === "workRequeue" || w.op === "workPurgeDead") && w.ids === undefined));

/** Writes of every primitive (in transactions: the work queue's ones a quarter of them). */
const write: fc.Arbitrary<Write> = fc.oneof({ weight: 3, arbitrary: kvWrite }, { weight: 1, arbitrary: workTxWrite });

const command = fc.oneof(
  { weight: 6, arbitrary: kvWrite },
  { weight: 3, arbitrary: workBurst },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("get" as const), key }) },
  {
    weight: 1,
    arbitrary: fc.record(
      {
        op: fc.constant("list" as const),
        prefix: fc.constantFrom("a", "a/", "b"),
        start: key,
        end: key,
        limit,
        reverse: fc.boolean(),
        keysOnly: fc.boolean(),
        pages: fc.integer({ min: 1, max: 3 }),
      },
      { requiredKeys: ["op", "limit", "reverse", "keysOnly", "pages"] },
    ),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("count" as const), prefix: fc.constantFrom("a", "b", "") }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("since" as const), key, seq: fc.integer({ min: 0, max: 10 }), limit }) },
  { weight: 1, arbitrary: fc.constant({ op: "lastSeq" as const }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("slotGet" as const), key }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("peek" as const), key, limit, afterId: fc.option(fc.integer({ min: 0, max: 40 }), { nil: undefined }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("len" as const), key }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("tick" as const), ms: fc.integer({ min: 1, max: 40 }) }) },
  { weight: 1, arbitrary: fc.constantFrom({ op: "sweep" as const }, { op: "changes" as const }) },
  {
    weight: 1,
    arbitrary: fc.record(
      { op: fc.constant("readSegment" as const), space: streamSpace, segment: streamSegment, fromSeq: fc.integer({ min: 1, max: 5 }), toSeq: fc.integer({ min: 0, max: 6 }), limit },
      { requiredKeys: ["op", "space", "segment", "fromSeq", "limit"] },
    ),
  },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant("readSpace" as const), space: streamSpace, fromTimestamp: fc.constantFrom(0, Date.UTC(2026, 0, 1) + 20), limit, pages: fc.integer({ min: 1, max: 3 }) }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constantFrom("streamStatus" as const, "streamPeek" as const), space: streamSpace, segment: streamSegment }) },
  { weight: 1, arbitrary: fc.constantFrom({ op: "spaces" as const }, { op: "segments" as const, space: "s1" }, { op: "segments" as const, space: "s2" }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("tx" as const), writes: fc.array(write, { minLength: 1, maxLength: 5 }), fail: fc.boolean() }) },
);

/**
 * The KV namespace of every sequence, which each leaves empty. Not one per sequence: each namespace with a change
 * history adds to the cost of every KV write and of turning another history on, which would make the soak quadratic.
 */
const KV_NS = "kv";

/** The handles of one case: its own namespace on a shared store (the KV one excepted: see `KV_NS`). */
function handles(store: Store | Parameters<Parameters<Store["transaction"]>[0]>[0], ns: string, leases: WorkLeases) {
  return {
    work: workQueueOf(store, ns),
    leases,
    kv: store.kv(KV_NS, { codec: utf8 }),
    log: store.log(ns, { codec: utf8 }),
    slot: store.slot(ns, { codec: utf8 }),
    stream: store.stream(ns, { codec: utf8 }),
    queue: (maxLen?: number, overflow?: "reject" | "drop-oldest") =>
      store.queue(ns, maxLen === undefined ? { codec: utf8 } : { codec: utf8, maxLen, overflow }),
  };
}

async function applyWrite(h: ReturnType<typeof handles>, w: Write): Promise<unknown> {
  switch (w.op) {
    case "put":
      return h.kv.put(w.key, w.value, w.ttlMs === undefined ? undefined : { ttlMs: w.ttlMs });
    case "delete":
      return h.kv.delete(w.key);
    case "deleteRange":
      return h.kv.deleteRange(w.prefix === "" ? {} : { prefix: w.prefix });
    case "append":
      return h.log.append(w.key, w.value);
    case "upsert":
      return h.slot.upsert(w.key, w.value);
    case "cas":
      return h.slot.cas(w.key, w.expected, w.value);
    case "push":
      return h.queue(w.maxLen, w.overflow).push(w.key, w.value);
    case "ack":
      return h.queue().ack(w.key, w.id);
    case "dropOldest":
      return h.queue().dropOldest(w.key, w.count);
    case "produce":
      return h.stream.produce(
        w.space,
        w.segment,
        w.values.map((v) => (w.headers === undefined ? { value: v } : { value: v, headers: w.headers })),
        w.expectedSeq === undefined ? undefined : { expectedSeq: w.expectedSeq },
      );
    default:
      return applyWorkWrite(h.work, h.leases, w);
  }
}

class Rollback extends Error {}

/** Not a generated key: written and removed again to learn where a watch has caught up, so no other answer sees it. */
const MARK = "~mark";

/**
 * A store's live watch of the KV namespace, and what it reported of the current sequence. It watches every key the
 * namespace ever holds, so it sees every change: where seqs are consecutive (memory, SQLite, not PostgreSQL), no
 * number may be missing — a rolled-back transaction leaves none behind.
 */
interface History {
  kv: Kv<string>;
  feed: AsyncIterator<KvChange<string>>;
  stop: AbortController;
  consecutive: boolean;
  /** Marks written, each with its number as value. */
  marks: number;
  /** The seq the sequence's changes follow. */
  base: number;
  /** The last seq the watch reported. */
  last: number;
  /** The sequence's changes of generated keys. */
  seen: KvChange<string>[];
}

/** A feed's next item; an engine that loses a change fails the test instead of hanging it. */
async function nextOf(feed: AsyncIterator<KvChange<string>>): Promise<KvChange<string>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error("the watch reported nothing for 5 s")), 5_000)));
  try {
    const next = await Promise.race([feed.next(), timeout]);
    assert.ok(next.done !== true, "the watch goes on");
    return next.value;
  } finally {
    clearTimeout(timer);
  }
}

/** Reads a watch from `after` past the removal of the mark numbered `mark`: the generated keys' changes, and its seq. */
async function readToMark(history: History, feed: AsyncIterator<KvChange<string>>, after: number, mark: number): Promise<{ changes: KvChange<string>[]; last: number }> {
  const changes: KvChange<string>[] = [];
  let marked = false;
  for (let last = after; ; ) {
    const change = await nextOf(feed);
    assert.ok(history.consecutive ? change.seq === last + 1 : change.seq > last, `seq ${change.seq} follows ${last}`);
    last = change.seq;
    if (change.key !== MARK) changes.push(change);
    else if (change.value === String(mark)) marked = true;
    else if (marked && change.value === undefined) return { changes, last };
  }
}

/** Writes and removes a new mark, and reads the watch past it: what it reported since the last catch-up. */
async function catchUp(history: History): Promise<KvChange<string>[]> {
  await history.kv.put(MARK, String(++history.marks));
  await history.kv.delete(MARK);
  const { changes, last } = await readToMark(history, history.feed, history.last, history.marks);
  history.last = last;
  return changes;
}

/**
 * Turns the KV namespace's history on (if no earlier watch did) with a watch of every key: a watch starts at its
 * first read, some time after the first next(), so marks are written until it reports one.
 */
async function startHistory(store: Store, consecutive: boolean): Promise<History> {
  const kv = store.kv(KV_NS, { codec: utf8 });
  const stop = new AbortController();
  const feed = kv.watch([...KEYS, MARK], { signal: stop.signal })[Symbol.asyncIterator]();
  const history: History = { kv, feed, stop, consecutive, marks: 0, base: 0, last: 0, seen: [] };
  const first = feed.next();
  let reported: IteratorResult<KvChange<string>> | undefined;
  while (reported === undefined) {
    assert.ok(history.marks < 500, "the watch started");
    await kv.put(MARK, String(++history.marks));
    reported = await Promise.race([first, sleep(1).then(() => undefined)]);
  }
  assert.ok(reported.done !== true, "the watch goes on");
  history.last = reported.value.seq;
  await kv.deleteRange({}); // what a failed sequence left (a passing one ends empty)
  await catchUp(history);
  return history;
}

/** Ends a watch, whether it waits for a change or pauses at an item (either way it holds the engine's change watch). */
async function endHistory(history: History): Promise<void> {
  history.stop.abort();
  await history.feed.return?.();
}

/**
 * The changes the watch reported since the last call, as [key, value]. One statement (a deleteRange, a sweep) removes
 * its rows in an order of the engine's choosing, so a run of removals — which removes each key at most once — is
 * compared in key order.
 */
async function newChanges(history: History): Promise<unknown[]> {
  const changes = await catchUp(history);
  history.seen.push(...changes);
  const keys = changes.map((c) => c.key);
  for (let start = 0; start < changes.length; start++) {
    let end = start;
    while (end < changes.length && changes[end]?.value === undefined) end++;
    keys.splice(start, end - start, ...keys.slice(start, end).sort());
    start = end;
  }
  return changes.map((c, i) => [keys[i], c.value]);
}

/** A replay of the sequence's history reports what the live watch did, seqs included. */
async function checkReplay(history: History): Promise<void> {
  const replay = history.kv.watch([...KEYS, MARK], { since: history.base, signal: history.stop.signal })[Symbol.asyncIterator]();
  try {
    assert.deepEqual((await readToMark(history, replay, history.base, history.marks)).changes, history.seen);
  } finally {
    await replay.return?.();
  }
}

async function apply(store: Store, ns: string, c: Command, clock: { now: number }, history: History, leases: WorkLeases): Promise<unknown> {
  const h = handles(store, ns, leases);
  switch (c.op) {
    case "get":
      return h.kv.get(c.key);
    case "list": {
      // Follows the cursor for a few pages, so that cursors are compared by what they lead to.
      const pages: unknown[] = [];
      let cursor: string | undefined;
      for (let i = 0; i < c.pages; i++) {
        const range = c.prefix !== undefined ? { prefix: c.prefix } : { start: c.start, end: c.end };
        const page = await h.kv.list({ ...range, limit: c.limit, reverse: c.reverse, keysOnly: c.keysOnly, cursor });
        pages.push(page.entries);
        cursor = page.cursor;
        if (cursor === undefined) break;
      }
      return { pages, more: cursor !== undefined };
    }
    case "count":
      return h.kv.count(c.prefix === "" ? {} : { prefix: c.prefix });
    case "since":
      return h.log.since(c.key, c.seq, { limit: c.limit });
    case "lastSeq":
      return h.log.lastSeq();
    case "slotGet":
      return h.slot.get(c.key);
    case "peek":
      return c.afterId === undefined ? h.queue().peek(c.key, c.limit) : h.queue().peek(c.key, c.limit, { afterId: c.afterId });
    case "len":
      return h.queue().len(c.key);
    case "tick":
      clock.now += c.ms;
      return clock.now;
    case "sweep":
      return store.sweep();
    case "changes":
      return newChanges(history);
    case "readSegment":
      return h.stream.readSegment(c.space, c.segment, c.toSeq === undefined ? { fromSeq: c.fromSeq, limit: c.limit } : { fromSeq: c.fromSeq, toSeq: c.toSeq, limit: c.limit });
    case "readSpace": {
      const pages: unknown[] = [];
      let after: string | undefined;
      for (let i = 0; i < c.pages; i++) {
        const page = await h.stream.readSpace(c.space, after === undefined ? { fromTimestamp: c.fromTimestamp, limit: c.limit } : { fromTimestamp: c.fromTimestamp, limit: c.limit, after });
        pages.push(page);
        after = page.position;
      }
      return pages;
    }
    case "streamStatus":
      return h.stream.status(c.space, c.segment);
    case "streamPeek":
      return h.stream.peek(c.space, c.segment);
    case "spaces":
      return h.stream.spaces();
    case "segments":
      return h.stream.segments(c.space);
    case "workCounts":
    case "workDead":
    case "workKeys":
      return readWork(h.work, c);
    case "tx":
      try {
        return await store.transaction(async (tx) => {
          const inside = handles(tx, ns, leases);
          const results: unknown[] = [];
          for (const w of c.writes) results.push(await outcome(() => applyWrite(inside, w)));
          if (c.fail) throw new Rollback("rolled back on purpose");
          return results;
        });
      } catch (error) {
        if (error instanceof Rollback) return "rolled back";
        throw error;
      }
    default:
      return applyWrite(h, c);
  }
}

/** A call's result or its error code, so that the two engines' answers compare with deepEqual. */
async function outcome(call: () => Promise<unknown>): Promise<unknown> {
  try {
    return { ok: await call() };
  } catch (error) {
    if (isStowageError(error)) return { error: error.code, ...(error.currentSeq === undefined ? {} : { currentSeq: error.currentSeq }), ...errorItemId(error) };
    throw error;
  }
}

async function checkAgainstModel(
  t: { diagnostic(message: string): void },
  openSubject: (clock: () => number) => Promise<Store>,
  consecutiveSeqs: boolean,
  cases = CASES,
): Promise<void> {
  const clock = { now: Date.UTC(2026, 0, 1) };
  const now = () => clock.now;
  const model = await openStore({ backend: "memory", clock: now, sweepIntervalMs: 0 });
  const subject = await openSubject(now);
  let run = 0;
  let commands = 0;
  let histories: [History, History] | undefined;
  const workTally = new WorkTally();
  try {
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 30, size: "large" }).map(flattenBursts<Command>), async (sequence) => {
        const ns = `m${run++}`; // each sequence starts from empty namespaces of its own (the KV one: emptied)
        histories ??= [await startHistory(model, true), await startHistory(subject, consecutiveSeqs)];
        const [expectedHistory, actualHistory] = histories;
        const [expectedLeases, actualLeases] = [new WorkLeases(ns), new WorkLeases(ns)];
        try {
          // The watches have read all before: the last sequence ended with a "changes", a new watch with a catch-up.
          for (const history of histories) {
            history.base = history.last;
            history.seen = [];
          }
          // Last, every entry left is removed (expired ones too) and the histories compared to the end.
          for (const [i, c] of [...sequence, { op: "deleteRange" as const, prefix: "" }, { op: "changes" as const }].entries()) {
            commands++;
            const expected = await outcome(() => apply(model, ns, c, clock, expectedHistory, expectedLeases));
            workTally.count(c, expected);
            if (c.op === "tick") continue; // the clock is shared: moved once
            const actual = await outcome(() => apply(subject, ns, c, clock, actualHistory, actualLeases));
            assert.deepEqual(actual, expected, `command ${i} ${JSON.stringify(c)} of ${JSON.stringify(sequence)}`);
          }
          for (const history of histories) await checkReplay(history);
        } catch (error) {
          // A failure may leave a watch broken or mid-read: the next sequence starts new ones.
          await Promise.all(histories.map(endHistory));
          histories = undefined;
          throw error;
        }
      }),
      { numRuns: cases, seed: Number(process.env.MODEL_SEED ?? 20261125) },
    );
  } finally {
    await Promise.all((histories ?? []).map(endHistory));
    await subject.close();
    await model.close();
  }
  t.diagnostic(`${cases} sequences, ${commands} commands: every answer equal to the memory model's`);
  t.diagnostic(`work answers: ${workTally.summary()}`);
  // Not vacuous: a run of the default size reaches every work outcome (a claim that took items, an ack, a death…).
  if (cases >= CASES) assert.deepEqual(workTally.missing(), [], `work outcomes never reached; reached: ${workTally.summary()}`);
}

test("sqlite agrees with the memory model on random operation sequences", async (t) => {
  const tmp = tempDir("model");
  try {
    await checkAgainstModel(t, (clock) => openStore({ backend: "sqlite", path: join(tmp.dir, "store.db"), clock, sweepIntervalMs: 0 }), true);
  } finally {
    tmp.remove();
  }
});

test("postgres agrees with the memory model on random operation sequences", async (t) => {
  const dsn = pgServer().dsn;
  await checkAgainstModel(t, (clock) => openStore({ backend: "postgres", dsn, schema: "model", clock, sweepIntervalMs: 0 }), false);
});

test("the ordered-KV family (sorted store) agrees with the memory model on random operation sequences", async (t) => {
  await checkAgainstModel(t, async (clock) => createStore(await OrderedEngine.open(new SortedOrderedStore()), { clock, sweepIntervalMs: 0 }), true);
});

test("lmdb agrees with the memory model on random operation sequences", async (t) => {
  const tmp = tempDir("model-lmdb");
  try {
    await checkAgainstModel(t, async (clock) => createStore(await OrderedEngine.open(await openLmdbStore({ path: join(tmp.dir, "store.lmdb") })), { clock, sweepIntervalMs: 0 }), true);
  } finally {
    tmp.remove();
  }
});

test("leveldb agrees with the memory model on random operation sequences", async (t) => {
  const tmp = tempDir("model-leveldb");
  try {
    await checkAgainstModel(t, async (clock) => createStore(await OrderedEngine.open(await openLevelDbStore({ path: join(tmp.dir, "store.leveldb") })), { clock, sweepIntervalMs: 0 }), true);
  } finally {
    tmp.remove();
  }
});

for (const engine of NETWORKED_ENGINES) {
  test(`${engine} (on a real server) agrees with the memory model on random operation sequences`, async (t) => {
    const options = networkedStore(engine, "model");
    const cases = process.env.MODEL_CASES === undefined ? shortRun(engine, NETWORKED_CASES) : CASES;
    await checkAgainstModel(t, (clock) => openStore({ ...options, clock, sweepIntervalMs: 0 }), true, cases);
  });
}
