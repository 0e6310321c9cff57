/**
 * Multi-process scenarios shared by the engines several processes can open at once (SQLite on one file, PostgreSQL on
 * one schema): CAS racing on one slot, log appends followed live by a reader, and produce racing on one stream segment.
 * Each runs real `node` children on the compiled fixtures test/fixtures/cas-racer.ts, log-appender.ts and
 * stream-racer.ts, which open the store from the same options
 * (passed to them as JSON). The caller owns the engine's surroundings (a temporary folder, a server, a schema) and the
 * engine-specific knobs; every check here holds on every engine that passes them.
 */
import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import { json, openStore, utf8, type KvChange, type LogEntry, type PostgresStoreOptions, type SqliteStoreOptions } from "../../src/index.js";
import { watchFromNow } from "../../src/conformance/harness.js";
import { killAll, lastJson, sleep, startChild, waitAllFor, type Child, type ChildExit } from "./child.js";

/**
 * `openStore` options that can travel to a child as JSON (so no `clock`); the parent and the fixtures add
 * `sweepIntervalMs: 0`.
 */
export type SharedStoreOptions = Omit<SqliteStoreOptions, "clock" | "sweepIntervalMs"> | Omit<PostgresStoreOptions, "clock" | "sweepIntervalMs">;

/** Asserts that every child exited with code 0 and no signal; `what` names a child in the message. */
export function assertExitedCleanly(children: readonly Child[], exits: readonly ChildExit[], what: string): void {
  exits.forEach((exit, i) => assert.deepEqual(exit, { code: 0, signal: null }, `${what} ${i} failed\n${(children[i] as Child).describe()}`));
}

export interface CasRaceOptions {
  /** How the test itself opens the store (it opens it before the children, so the race is only about the slot). */
  store: SharedStoreOptions;
  /** How each racer opens it; default `store`. */
  racerStore?: SharedStoreOptions;
  processes: number;
  /** The version the racers drive the slot to. */
  target: number;
  /** The most a racer pauses after a win, in ms. */
  pauseMs: number;
  /** How long the racers may take to open their stores. */
  readyTimeoutMs: number;
  /** How long the racers may take to reach the target. */
  finishTimeoutMs: number;
}

/** Processes race CAS on `race/the-slot` up to `target`: every version is won by exactly one process. */
export async function casRaceScenario(t: TestContext, options: CasRaceOptions): Promise<void> {
  const { processes, target } = options;
  // A failed round means another racer advanced the slot between its get and its cas: at most TARGET + 1 rounds fail.
  const maxRounds = 2 * target + 10;
  const racerStore = JSON.stringify(options.racerStore ?? options.store);
  const children: Child[] = [];
  const store = await openStore({ ...options.store, sweepIntervalMs: 0 });
  const slot = store.slot<{ who: string; version: number }>("race", { codec: json<{ who: string; version: number }>() });
  try {
    for (let i = 0; i < processes; i++) {
      children.push(startChild("cas-racer", [racerStore, `racer-${i}`, String(target), String(maxRounds), String(options.pauseMs)]));
    }
    await waitAllFor(children, "ready", options.readyTimeoutMs);
    for (const child of children) child.send("go");
    const exits = await Promise.all(children.map((child) => child.finish(options.finishTimeoutMs)));
    assertExitedCleanly(children, exits, "racer");

    const reports = children.map((child) => lastJson<{ id: string; wins: number[]; rounds: number }>(child));
    const winnerOf = new Map<number, string>();
    for (const report of reports) {
      assert.ok(report.rounds < maxRounds, `${report.id} ran out of rounds (${report.rounds}) before version ${target}`);
      for (let i = 1; i < report.wins.length; i++) {
        assert.ok((report.wins[i] as number) > (report.wins[i - 1] as number), `${report.id}'s wins are not increasing`);
      }
      for (const version of report.wins) {
        assert.ok(!winnerOf.has(version), `version ${version} was won by both ${winnerOf.get(version)} and ${report.id}`);
        winnerOf.set(version, report.id);
      }
    }
    const missing = Array.from({ length: target }, (_, i) => i + 1).filter((version) => !winnerOf.has(version));
    assert.deepEqual(missing, [], "versions nobody won");
    assert.equal(winnerOf.size, target, "versions won beyond the target");

    const final = await slot.get("the-slot");
    assert.deepEqual(final, { version: target, value: { who: winnerOf.get(target), version: target } });
    t.diagnostic(`wins per racer: ${reports.map((r) => `${r.id}=${r.wins.length}`).join(", ")}`);
  } finally {
    await killAll(children);
    await store.close();
  }
}

export interface LogFollowOptions {
  /** How the test itself opens the store (the reader, and the final checks). */
  store: SharedStoreOptions;
  /** How a writer keeping `inFlight` appends outstanding opens it; default `store`. */
  writerStore?: (inFlight: number) => SharedStoreOptions;
  /** Appends outstanding per writer, one writer per element. */
  inFlight: readonly number[];
  /** Entries each writer appends. */
  entries: number;
  /** The keys the entries spread over (`k0`, `k1`, …). */
  keys: number;
  /** The most a writer pauses between batches, in ms. */
  pauseMs: number;
  /**
   * Whether the appends one writer has in flight at once get seqs in the order it issued them (as when one connection
   * commits them in order, SQLite's group commit). Without it, a writer's seqs are only checked to grow from batch to
   * batch (with one in flight that is every append).
   */
  inFlightCommitInIssueOrder: boolean;
  /** How long the writers may take to open their stores. */
  readyTimeoutMs: number;
  /** How long the writers may take to append everything, and the reader to see it. */
  finishTimeoutMs: number;
  /** The most rounds (one `since` per key) the reader makes. */
  maxReaderRounds: number;
}

/**
 * Processes append to the log namespace `events`, each to every key, while the test follows `since` on every key:
 * seqs are unique and exactly 1..total in commit order, each writer's grow, the reader sees every entry in order and
 * never an entry below one it saw a whole round earlier (the outbox gap), and `list` agrees.
 */
export async function logFollowScenario(t: TestContext, options: LogFollowOptions): Promise<void> {
  const { entries: ENTRIES, inFlight: IN_FLIGHT } = options;
  const KEYS = Array.from({ length: options.keys }, (_, i) => `k${i}`);
  const PROCESSES = IN_FLIGHT.length;
  const TOTAL = PROCESSES * ENTRIES;
  type Value = { w: string; i: number };
  const children: Child[] = [];
  const store = await openStore({ ...options.store, sweepIntervalMs: 0 });
  const log = store.log<Value>("events", { codec: json<Value>() });
  try {
    IN_FLIGHT.forEach((inFlight, i) => {
      const writerStore = JSON.stringify(options.writerStore?.(inFlight) ?? options.store);
      children.push(startChild("log-appender", [writerStore, `w${i}`, String(ENTRIES), String(KEYS.length), String(inFlight), String(options.pauseMs)]));
    });
    await waitAllFor(children, "ready", options.readyTimeoutMs);
    assert.equal(await log.lastSeq(), 0);
    for (const child of children) child.send("go");

    // The reader follows `since` on every key while the writers run, until it has seen every entry.
    const seen = new Map<string, LogEntry<Value>[]>(KEYS.map((key) => [key, []]));
    const follow = async () => {
      const cursor = new Map<string, number>(KEYS.map((key) => [key, 0]));
      const deadline = Date.now() + options.finishTimeoutMs;
      let count = 0;
      let fruitfulPolls = 0;
      // The highest seq seen by the end of the round before the previous one. Seqs follow commit order, so every
      // entry at or below it had committed before the previous round began, and that round read every key: a new
      // entry at or below it would be an entry committed after a higher seq (the outbox gap).
      let settledHigh = 0;
      let previousRoundHigh = 0;
      let high = 0;
      let rounds = 0;
      for (; count < TOTAL && rounds < options.maxReaderRounds && Date.now() < deadline; rounds++) {
        let fresh = 0;
        for (const key of KEYS) {
          const hwm = cursor.get(key) as number;
          const entries = await log.since(key, hwm);
          let last = hwm;
          for (const entry of entries) {
            assert.equal(entry.key, key);
            assert.ok(entry.seq > hwm, `since(${key}, ${hwm}) returned seq ${entry.seq}, not above the key's high-water mark`);
            assert.ok(entry.seq > last, `since(${key}, ${hwm}) returned seq ${entry.seq} after ${last}`);
            assert.ok(
              entry.seq > settledHigh,
              `outbox gap: seq ${entry.seq} on ${key} appeared after seq ${settledHigh} had been visible for a whole round`,
            );
            last = entry.seq;
            high = Math.max(high, entry.seq);
          }
          (seen.get(key) as LogEntry<Value>[]).push(...entries);
          cursor.set(key, last);
          fresh += entries.length;
        }
        settledHigh = previousRoundHigh;
        previousRoundHigh = high;
        count += fresh;
        if (fresh > 0) fruitfulPolls++;
        else await sleep(2);
      }
      return { count, fruitfulPolls, rounds };
    };
    const [followed, ...exits] = await Promise.all([follow(), ...children.map((child) => child.finish(options.finishTimeoutMs))]);
    assertExitedCleanly(children, exits, "writer");
    assert.equal(followed.count, TOTAL, "the reader did not see every entry before its deadline");
    t.diagnostic(`reader: ${followed.rounds} rounds, new entries on ${followed.fruitfulPolls}`);

    // What the writers report: seqs unique, each writer's increasing from batch to batch (a batch started after the
    // previous one resolved, so it committed later); with one in flight, every append is above the previous one, and
    // where in-flight appends commit in issue order, every append is above the previous one whatever the batch.
    const bySeq = new Map<number, { key: string; value: Value }>();
    for (const child of children) {
      const report = lastJson<{ id: string; appended: Array<[number, string, number, number]> }>(child);
      assert.equal(report.appended.length, ENTRIES);
      let previousBatchMax = 0;
      let batchMax = 0;
      let batch = 0;
      let previous = 0;
      report.appended.forEach(([i, key, seq, b], position) => {
        assert.equal(i, position);
        if (b !== batch) {
          assert.equal(b, batch + 1);
          batch = b;
          previousBatchMax = batchMax;
        }
        assert.ok(seq > previousBatchMax, `${report.id}: seq ${seq} of entry ${i} (batch ${b}) is not above ${previousBatchMax}, an earlier batch's`);
        if (options.inFlightCommitInIssueOrder) assert.ok(seq > previous, `${report.id}: seq ${seq} of entry ${i} is not above ${previous}`);
        previous = seq;
        batchMax = Math.max(batchMax, seq);
        assert.ok(!bySeq.has(seq), `seq ${seq} handed out twice`);
        bySeq.set(seq, { key, value: { w: report.id, i } });
      });
    }
    const seqs = [...bySeq.keys()].sort((a, b) => a - b);
    assert.equal(seqs.length, TOTAL);
    // The counter is bumped inside each append's transaction, so nothing that committed leaves a hole.
    assert.deepEqual(seqs, Array.from({ length: TOTAL }, (_, i) => i + 1), "seqs are not exactly 1..total");
    assert.equal(await log.lastSeq(), seqs.at(-1), "lastSeq is not the highest seq handed out");
    assert.equal(await log.lastSeq(), TOTAL);
    let switches = 0;
    for (let seq = 2; seq <= TOTAL; seq++) if (bySeq.get(seq)?.value.w !== bySeq.get(seq - 1)?.value.w) switches++;
    t.diagnostic(`the seq order switches writer ${switches} times`);

    for (const key of KEYS) {
      const expected = [...bySeq.entries()]
        .filter(([, entry]) => entry.key === key)
        .sort(([a], [b]) => a - b)
        .map(([seq, entry]) => ({ seq, key, value: entry.value }));
      const strip = (entries: LogEntry<Value>[]) => entries.map(({ seq, key: k, value }) => ({ seq, key: k, value }));
      const followedView = strip(seen.get(key) as LogEntry<Value>[]);
      const missed = expected.filter((entry) => !followedView.some((s) => s.seq === entry.seq)).map((entry) => entry.seq);
      assert.deepEqual(missed, [], `the reader never saw these seqs of ${key} (committed after a higher seq it had seen)`);
      assert.deepEqual(followedView, expected, `the reader's view of ${key}`);
      assert.deepEqual(strip(await log.list(key)), expected, `list(${key})`);
    }
  } finally {
    await killAll(children);
    await store.close();
  }
}

export interface ProduceRaceOptions {
  store: SharedStoreOptions;
  processes: number;
  /** The sequence the racers drive the segment to (even: each win writes two entries). */
  target: number;
  readyTimeoutMs: number;
  finishTimeoutMs: number;
}

/**
 * Processes race `produce` with an expected sequence on one segment: each expectation is met by exactly one batch, so
 * the segment holds 1…target with no gap, each pair written whole by one racer, exactly the wins the racers report.
 */
export async function produceRaceScenario(t: TestContext, options: ProduceRaceOptions): Promise<void> {
  const { processes, target } = options;
  const children: Child[] = [];
  const store = await openStore({ ...options.store, sweepIntervalMs: 0 });
  try {
    for (let i = 0; i < processes; i++) {
      children.push(startChild("stream-racer", [JSON.stringify(options.store), `racer-${i}`, String(target), String(target * processes + 10)]));
    }
    await waitAllFor(children, "ready", options.readyTimeoutMs);
    for (const child of children) child.send("go");
    const exits = await Promise.all(children.map((child) => child.finish(options.finishTimeoutMs)));
    assertExitedCleanly(children, exits, "racer");
    const reports = children.map((child) => lastJson<{ id: string; wins: number[]; conflicts: number; rounds: number }>(child));

    const entries = await store.stream("race", { codec: json<{ who: string; part: number }>() }).readSegment("space", "segment", { limit: 10_000 });
    assert.deepEqual(entries.map((e) => e.seq), Array.from({ length: target }, (_, i) => i + 1), "the segment holds 1…target, no gap");
    const winnerOf = new Map<number, string>();
    for (const report of reports) for (const lastSeq of report.wins) {
      assert.equal(winnerOf.get(lastSeq), undefined, `the batch ending at ${lastSeq} was reported by two racers`);
      winnerOf.set(lastSeq, report.id);
    }
    for (let seq = 2; seq <= target; seq += 2) {
      const [first, second] = [entries[seq - 2], entries[seq - 1]];
      assert.equal(winnerOf.get(seq), first?.value.who, `batch ending at ${seq}: reported winner and stored entries differ`);
      assert.deepEqual([first?.value, second?.value], [{ who: first?.value.who, part: 1 }, { who: first?.value.who, part: 2 }], `batch ending at ${seq} is not whole`);
    }
    const conflicts = reports.reduce((sum, report) => sum + report.conflicts, 0);
    const winners = new Set(winnerOf.values()).size;
    assert.ok(winners > 1, "only one racer ever won: the processes did not race");
    t.diagnostic(`${target / 2} batches, each won by exactly one of ${processes} processes (${winners} distinct winners); ${conflicts} CONFLICTs with the current sequence`);
  } finally {
    await killAll(children);
    await store.close();
  }
}

export interface LogTailOptions {
  store: SharedStoreOptions;
  /** Writer processes, each appending `entries` entries over `keys` keys. */
  processes: number;
  entries: number;
  keys: number;
  readyTimeoutMs: number;
  finishTimeoutMs: number;
}

/** Collects a feed into `into` until `done(into)` holds; the feed must then still be open (it ends only when aborted). */
async function collect<E>(feed: AsyncIterable<E>, into: E[], done: (items: readonly E[]) => boolean): Promise<void> {
  // Already done (nothing left to wait for) must not wait for an item that never comes.
  if (done(into)) return;
  for await (const item of feed) {
    into.push(item);
    if (done(into)) return;
  }
}

/**
 * Live feeds across processes: the test follows a log with `tail` while writer processes append to it. A feed started
 * before the writers ends with every entry exactly once, in sequence order; a feed started later from a past position
 * replays what came after it, then goes live, with no gap at the join; a one-key feed sees exactly that key's entries.
 */
export async function logTailScenario(t: TestContext, options: LogTailOptions): Promise<void> {
  type Value = { w: string; i: number };
  const total = options.processes * options.entries;
  const children: Child[] = [];
  const store = await openStore({ ...options.store, sweepIntervalMs: 0 });
  const log = store.log<Value>("events", { codec: json<Value>() });
  const stop = new AbortController();
  const deadline = setTimeout(() => stop.abort(), options.finishTimeoutMs);
  try {
    for (let i = 0; i < options.processes; i++) {
      children.push(startChild("log-appender", [JSON.stringify(options.store), `w${i}`, String(options.entries), String(options.keys), "4", "2"]));
    }
    await waitAllFor(children, "ready", options.readyTimeoutMs);
    const fromStart: LogEntry<Value>[] = [];
    const oneKey: LogEntry<Value>[] = [];
    const keyTotal = options.processes * Array.from({ length: options.entries }, (_, i) => i).filter((i) => i % options.keys === 0).length;
    const following = collect(log.tail({ all: true }, { since: 0, signal: stop.signal }), fromStart, (items) => items.length >= total);
    const followingKey = collect(log.tail("k0", { since: 0, signal: stop.signal }), oneKey, (items) => items.length >= keyTotal);
    for (const child of children) child.send("go");

    // A second feed joins mid-stream, from a position already passed.
    while (fromStart.length < total / 3 && !stop.signal.aborted) await sleep(2);
    const joinAt = fromStart[Math.floor(fromStart.length / 2)]?.seq ?? 0;
    const joined: LogEntry<Value>[] = [];
    const joining = collect(log.tail({ all: true }, { since: joinAt, signal: stop.signal }), joined, (items) => items.length >= total - joinAt);

    await Promise.all([following, followingKey, joining]);
    const exits = await Promise.all(children.map((child) => child.finish(options.finishTimeoutMs)));
    assertExitedCleanly(children, exits, "writer");
    assert.ok(!stop.signal.aborted, `the feeds did not see every entry in time: ${fromStart.length}, ${joined.length}, ${oneKey.length}`);

    assert.deepEqual(fromStart.map((e) => e.seq), Array.from({ length: total }, (_, i) => i + 1), "the feed from the start: every entry once, in order");
    assert.equal(new Set(fromStart.map((e) => `${e.value.w}/${e.value.i}`)).size, total, "every append delivered once");
    assert.deepEqual(joined.map((e) => e.seq), Array.from({ length: total - joinAt }, (_, i) => joinAt + i + 1), "the joining feed: replay, then live, no gap");
    assert.deepEqual(oneKey.map((e) => e.seq), fromStart.filter((e) => e.key === "k0").map((e) => e.seq), "the one-key feed: exactly k0's entries");
    t.diagnostic(`${total} entries from ${options.processes} processes followed live: from the start, from seq ${joinAt} (replay then live), and on k0 (${keyTotal})`);
  } finally {
    clearTimeout(deadline);
    stop.abort();
    await killAll(children);
    await store.close();
  }
}

/**
 * Stream subscriptions across processes: while racers produce to one segment (test/fixtures/stream-racer.ts), a
 * segment subscription and a space subscription started before them, and a segment subscription joining later from
 * a past sequence, each end with every entry exactly once, in sequence order, the joining one with no gap.
 */
export async function streamSubscribeScenario(t: TestContext, options: ProduceRaceOptions): Promise<void> {
  type Value = { who: string; part: number };
  const { processes, target } = options;
  const children: Child[] = [];
  const store = await openStore({ ...options.store, sweepIntervalMs: 0 });
  const stream = store.stream("race", { codec: json<Value>() });
  const stop = new AbortController();
  const deadline = setTimeout(() => stop.abort(), options.finishTimeoutMs);
  try {
    for (let i = 0; i < processes; i++) {
      children.push(startChild("stream-racer", [JSON.stringify(options.store), `racer-${i}`, String(target), String(target * processes + 10)]));
    }
    await waitAllFor(children, "ready", options.readyTimeoutMs);
    const onSegment: Array<{ seq: number; value: Value }> = [];
    const onSpace: Array<{ seq: number; segment: string }> = [];
    const segmentFeed = collect(stream.subscribe("space", "segment", { from: "start", signal: stop.signal }), onSegment, (items) => items.length >= target);
    const spaceFeed = collect(stream.subscribe("space", { from: "start", signal: stop.signal }), onSpace, (items) => items.length >= target);
    for (const child of children) child.send("go");
    const joinAt = Math.floor(target / 3);
    // A past position: replayed first, then live for whatever the racers still produce (all of it is replay on a
    // machine slow enough that they finished first; the order and no-gap checks hold either way).
    while (onSegment.length < joinAt && !stop.signal.aborted) await sleep(2);
    const joined: Array<{ seq: number }> = [];
    const joining = collect(stream.subscribe("space", "segment", { from: joinAt, signal: stop.signal }), joined, (items) => items.length >= target - joinAt);
    await Promise.all([segmentFeed, spaceFeed, joining]);
    const exits = await Promise.all(children.map((child) => child.finish(options.finishTimeoutMs)));
    assertExitedCleanly(children, exits, "racer");
    assert.ok(!stop.signal.aborted, `the subscriptions did not see every entry in time: ${onSegment.length}, ${onSpace.length}, ${joined.length}`);
    const seqs = Array.from({ length: target }, (_, i) => i + 1);
    assert.deepEqual(onSegment.map((e) => e.seq), seqs, "the segment subscription: every entry once, in order");
    assert.deepEqual(onSpace.map((e) => `${e.segment}:${e.seq}`), seqs.map((seq) => `segment:${seq}`), "the space subscription: every entry once, in order");
    assert.deepEqual(joined.map((e) => e.seq), seqs.slice(joinAt), "the joining subscription: replay, then live, no gap");
    for (let i = 0; i < target; i += 2) assert.equal(onSegment[i]?.value.who, onSegment[i + 1]?.value.who, `batch at ${i + 1} delivered whole`);
    t.diagnostic(`${target} entries from ${processes} racing processes delivered live to 3 subscriptions (one joining at seq ${joinAt})`);
  } finally {
    clearTimeout(deadline);
    stop.abort();
    await killAll(children);
    await store.close();
  }
}

export interface KvWatchOptions {
  store: SharedStoreOptions;
  processes: number;
  /** Steps per writer (see test/fixtures/kv-writer.ts). */
  ops: number;
  readyTimeoutMs: number;
  finishTimeoutMs: number;
}

/** A key the scenario writes to each namespace first and last, so that a feed knows where it stands. */
const END = "~end";

/**
 * kv.watch across processes: writers (test/fixtures/kv-writer.ts) put and delete keys of their own, alone and in
 * transactions, in two namespaces. Three feeds watch every writer's keys but not the unwatched ones:
 * - on `watched`, started (history turned on) before the writers go: every writer's changes, exactly once, each
 *   writer's in its own order, seqs ascending;
 * - on `watched`, joining later from a seq already passed: exactly the first feed's changes after it (replay, then live);
 * - on `late`, whose history the watch turns on while the writers are writing: for each writer, a suffix of its
 *   changes with nothing missing after the first one reported (no gap at the start, whatever commits meanwhile).
 */
export async function kvWatchScenario(t: TestContext, options: KvWatchOptions): Promise<void> {
  const KEYS = 4;
  const children: Child[] = [];
  const store = await openStore({ ...options.store, sweepIntervalMs: 0 });
  const watched = store.kv("watched", { codec: utf8 });
  const late = store.kv("late", { codec: utf8 });
  const ids = Array.from({ length: options.processes }, (_, i) => `w${i}`);
  const keys = [...ids.flatMap((id) => Array.from({ length: KEYS }, (_, k) => `${id}-k${k}`)), END];
  const stop = new AbortController();
  const deadline = setTimeout(() => stop.abort(), options.finishTimeoutMs);
  const untilEnd = (items: readonly KvChange<string>[]) => items.at(-1)?.key === END;
  try {
    for (const id of ids) children.push(startChild("kv-writer", [JSON.stringify(options.store), id, String(options.ops), String(KEYS), "2"]));
    await waitAllFor(children, "ready", options.readyTimeoutMs);
    // The first feed starts at its first read, which turns the history on; before any writer goes.
    const first = await watchFromNow(watched, keys, stop.signal, END);
    const firstItems: KvChange<string>[] = [];
    const firstFeed = collect({ [Symbol.asyncIterator]: () => first }, firstItems, untilEnd);
    for (const child of children) child.send("go");

    while (firstItems.length < (options.processes * options.ops) / 4 && !stop.signal.aborted) await sleep(2);
    const lateItems: KvChange<string>[] = [];
    const lateFeed = collect(late.watch(keys, { signal: stop.signal }), lateItems, untilEnd);
    const joinAt = (firstItems[Math.floor(firstItems.length / 2)] as KvChange<string>).seq;
    const joinedItems: KvChange<string>[] = [];
    const joinedFeed = collect(watched.watch(keys, { since: joinAt, signal: stop.signal }), joinedItems, untilEnd);

    const exits = await Promise.all(children.map((child) => child.finish(options.finishTimeoutMs)));
    assertExitedCleanly(children, exits, "writer");
    await watched.put(END, "end");
    await late.put(END, "end");
    await Promise.all([firstFeed, lateFeed, joinedFeed]);
    assert.ok(!stop.signal.aborted, `the watches did not see every change in time: ${firstItems.length}, ${joinedItems.length}, ${lateItems.length}`);

    const reports = children.map((child) => lastJson<{ id: string; changes: Array<[string, string | null]> }>(child));
    const brief = (c: { key: string; value: string | undefined | null }) => `${c.key}=${c.value ?? "-"}`;
    const ofWriter = (items: readonly KvChange<string>[], id: string) => items.filter((c) => c.key.startsWith(`${id}-`)).map(brief);
    const ascending = (items: readonly KvChange<string>[]) => items.every((c, i) => i === 0 || c.seq > (items[i - 1] as KvChange<string>).seq);
    let lateCaught = 0;
    let expectedTotal = 0;
    for (const { id, changes } of reports) {
      const expected = changes.filter(([key]) => !key.endsWith("-x")).map(([key, value]) => brief({ key, value }));
      expectedTotal += expected.length;
      assert.deepEqual(ofWriter(firstItems, id), expected, `the first feed: ${id}'s changes exactly once, in its order`);
      const seen = ofWriter(lateItems, id);
      assert.deepEqual(seen, expected.slice(expected.length - seen.length), `the late feed: a suffix of ${id}'s changes, no gap`);
      lateCaught += seen.length;
    }
    assert.equal(firstItems.length, expectedTotal + 1, "nothing else (but the end mark)");
    assert.ok(ascending(firstItems) && ascending(lateItems) && ascending(joinedItems), "seqs ascend in every feed");
    assert.deepEqual(joinedItems, firstItems.filter((c) => c.seq > joinAt), "the joining feed: replay, then live, no gap");
    assert.deepEqual((await store.check()).problems, []);
    t.diagnostic(
      `${expectedTotal} changes from ${options.processes} processes watched live; joined at seq ${joinAt} (${joinedItems.length - 1} after it); the late watch turned history on mid-run and caught ${lateCaught}`,
    );
  } finally {
    clearTimeout(deadline);
    stop.abort();
    await killAll(children);
    await store.close();
  }
}
