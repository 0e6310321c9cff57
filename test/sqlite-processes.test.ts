/**
 * Several real `node` processes on one SQLite file: CAS on one slot, and appends to one log namespace followed live
 * by a reader. The scenarios are shared with PostgreSQL (test/helpers/process-scenarios.ts); children are the compiled
 * fixtures test/fixtures/cas-racer.ts and log-appender.ts.
 */
import { join } from "node:path";
import { test } from "node:test";
import { casRaceScenario, logFollowScenario, logTailScenario, kvWatchScenario, produceRaceScenario, streamSubscribeScenario, type SharedStoreOptions } from "./helpers/process-scenarios.js";
import { tempDir } from "./helpers/child.js";

const PROCESSES = 4;

function sqlite(path: string): SharedStoreOptions {
  return { backend: "sqlite", path, busyTimeoutMs: 10_000 };
}

test("processes racing CAS on one slot: every version is won by exactly one process", async (t) => {
  const tmp = tempDir("cas");
  try {
    // The test creates the file before the racers start, so the race is only about the slot.
    await casRaceScenario(t, {
      store: sqlite(join(tmp.dir, "race.db")),
      processes: PROCESSES,
      target: 400,
      pauseMs: 1,
      readyTimeoutMs: 15_000,
      finishTimeoutMs: 25_000,
    });
  } finally {
    tmp.remove();
  }
});

test("processes appending to one log: gapless unique seqs, followed live by a reader", async (t) => {
  const tmp = tempDir("log");
  try {
    await logFollowScenario(t, {
      store: sqlite(join(tmp.dir, "log.db")),
      // Every writer keeps 5 appends in flight; one process's connection commits them in the order issued.
      inFlight: Array.from({ length: PROCESSES }, () => 5),
      inFlightCommitInIssueOrder: true,
      entries: 250,
      keys: 4,
      pauseMs: 2,
      readyTimeoutMs: 15_000,
      finishTimeoutMs: 25_000,
      maxReaderRounds: 200_000,
    });
  } finally {
    tmp.remove();
  }
});

test("processes producing to one stream segment with an expected sequence: each sequence won by exactly one batch", async (t) => {
  const tmp = tempDir("stream-race");
  try {
    await produceRaceScenario(t, { store: sqlite(join(tmp.dir, "race.db")), processes: PROCESSES, target: 300, readyTimeoutMs: 15_000, finishTimeoutMs: 30_000 });
  } finally {
    tmp.remove();
  }
});

test("a live log tail across processes: from the start, from a past position, and on one key, every entry once and in order", async (t) => {
  const tmp = tempDir("tail");
  try {
    await logTailScenario(t, { store: sqlite(join(tmp.dir, "tail.db")), processes: PROCESSES, entries: 150, keys: 4, readyTimeoutMs: 15_000, finishTimeoutMs: 30_000 });
  } finally {
    tmp.remove();
  }
});

test("stream subscriptions across processes: on a segment, on a space and joining late, every entry once and in order", async (t) => {
  const tmp = tempDir("subscribe");
  try {
    await streamSubscribeScenario(t, { store: sqlite(join(tmp.dir, "sub.db")), processes: PROCESSES, target: 200, readyTimeoutMs: 15_000, finishTimeoutMs: 30_000 });
  } finally {
    tmp.remove();
  }
});

test("kv.watch across processes: every write once and in order, a feed joining from a past seq, and history turned on mid-run", async (t) => {
  const tmp = tempDir("watch");
  try {
    await kvWatchScenario(t, { store: sqlite(join(tmp.dir, "watch.db")), processes: PROCESSES, ops: 120, readyTimeoutMs: 15_000, finishTimeoutMs: 60_000 });
  } finally {
    tmp.remove();
  }
});
