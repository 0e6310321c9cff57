/**
 * The worker beyond the conformance group: how it batches its calls (one settle call per turn, one extend call per
 * heartbeat), how it survives failures of its own calls (reported, retried after a pause, never thrown), and how it
 * wakes without a change signal (a delayed item's time, idlePollMs) and by another store's commit. Over the memory
 * engine, with failures injected at the engine boundary where a case needs them, and over one SQLite file.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { StowageError } from "../src/api/errors.js";
import type { Awaitable } from "../src/engines/engine.js";
import type { CallResult, EngineCall } from "../src/engines/engine-calls.js";
import { createStore, openStore, utf8, type WorkerEvent } from "../src/index.js";
import { pauseAfterFailures } from "../src/store/worker-waits.js";
import { DeclaredEngine, declaring } from "./helpers/declared-engine.js";

/** The memory engine, failing the next calls of chosen operations with BACKEND_UNAVAILABLE. */
class FailingEngine extends DeclaredEngine {
  /** Operation name → how many of its next calls fail. */
  readonly failNext = new Map<string, number>();

  override read<C extends EngineCall>(call: C): Awaitable<CallResult<C>> {
    this.failIfChosen(call.op);
    return super.read(call);
  }

  override write<C extends EngineCall>(call: C): Promise<CallResult<C>> {
    try {
      this.failIfChosen(call.op);
    } catch (error) {
      return Promise.reject(error);
    }
    return super.write(call);
  }

  private failIfChosen(op: string): void {
    const left = this.failNext.get(op) ?? 0;
    if (left === 0) return;
    this.failNext.set(op, left - 1);
    throw new StowageError("BACKEND_UNAVAILABLE", `injected failure of ${op}`);
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Resolves once `events` holds `count` of `type`; fails after 10 s. */
function until(events: WorkerEvent[], type: WorkerEvent["type"], count = 1): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const check = () => {
      if (events.filter((e) => e.type === type).length >= count) return resolve();
      if (Date.now() - started > 10_000) return reject(new Error(`no ${count} ${type} events: ${events.map((e) => e.type).join(", ")}`));
      setImmediate(check);
    };
    check();
  });
}

test("the pause after failed calls is jittered within 1 … 1,000 ms and grows with the failures", () => {
  for (let failures = 1; failures <= 20; failures++) {
    for (const random of [0, 0.25, 0.999999]) {
      const ms = pauseAfterFailures(failures, random);
      assert.ok(Number.isInteger(ms) && ms >= 1 && ms <= 1_000, `${failures} failures, r=${random}: ${ms}`);
    }
  }
  assert.ok(pauseAfterFailures(1, 0.999999) <= 5);
  assert.equal(pauseAfterFailures(20, 0.999999), 1_000);
});

test("settles of handlers that end in one turn go in one call; due leases are extended in one call", async () => {
  let now = 1_000_000;
  const engine = new DeclaredEngine("counted", declaring({}));
  const store = createStore(engine, { clock: () => now, sweepIntervalMs: 0 });
  try {
    const queue = store.workQueue("jobs", { codec: utf8 });
    await queue.pushMany("k", ["1", "2", "3", "4", "5"].map((value) => ({ value })));
    const gate = deferred();
    const events: WorkerEvent[] = [];
    const worker = queue.work("k", () => gate.promise, { concurrency: 5, visibilityMs: 60_000, onEvent: (e) => events.push(e) });
    await until(events, "claimed", 5);
    now += 20_000;
    engine.ops.length = 0;
    worker.wake();
    await until(events, "extended", 5);
    assert.deepEqual(engine.ops.filter((op) => op === "workExtend"), ["workExtend"], "five leases, one extend call");
    engine.ops.length = 0;
    gate.resolve();
    await until(events, "acked", 5);
    assert.deepEqual(engine.ops.filter((op) => op === "workSettle"), ["workSettle"], "five acks, one settle call");
    const [claimed] = events;
    assert.ok(claimed?.type === "claimed" && claimed.invokedAt <= claimed.resolvedAt && claimed.deadline === 1_000_000 + 60_000);
    await worker.stop();
  } finally {
    await store.close();
  }
});

test("failed calls of the worker's own are reported as error events and retried; the item is still done, and done resolves", async () => {
  let now = 1_000_000;
  const engine = new FailingEngine("failing", declaring({}));
  const store = createStore(engine, { clock: () => now, sweepIntervalMs: 0 });
  try {
    const queue = store.workQueue("jobs", { codec: utf8 });
    await queue.push("k", "x");
    engine.failNext.set("workClaim", 2);
    engine.failNext.set("workSettle", 1);
    engine.failNext.set("workExtend", 1);
    const gate = deferred();
    const events: WorkerEvent[] = [];
    const worker = queue.work("k", () => gate.promise, {
      visibilityMs: 60_000,
      onEvent: (e) => {
        events.push(e);
        throw new Error("an observer's failure is ignored");
      },
    });
    await until(events, "claimed");
    now += 20_000;
    worker.wake();
    await until(events, "error", 3);
    worker.wake(); // the heartbeat's retry, now rather than after its pause
    await until(events, "extended");
    gate.resolve();
    await until(events, "acked");
    const errors = events.flatMap((e) => (e.type === "error" ? [`${e.during}: ${(e.error as Error).message}`] : []));
    assert.deepEqual(errors, [
      "claim: BACKEND_UNAVAILABLE: injected failure of workClaim",
      "claim: BACKEND_UNAVAILABLE: injected failure of workClaim",
      "extend: BACKEND_UNAVAILABLE: injected failure of workExtend",
      "settle: BACKEND_UNAVAILABLE: injected failure of workSettle",
    ]);
    assert.deepEqual(await queue.counts("k"), { ready: 0, delayed: 0, leased: 0, dead: 0 });
    await worker.stop();
  } finally {
    await store.close();
  }
});

test("without a change signal a worker wakes at a delayed item's time, and at idlePollMs", async () => {
  const engine = new DeclaredEngine("no-feeds", declaring({ liveFeeds: false }));
  const store = createStore(engine, { sweepIntervalMs: 0 });
  try {
    const queue = store.workQueue("jobs", { codec: utf8 });
    const events: WorkerEvent[] = [];
    const started = Date.now();
    await queue.push("k", "delayed", { delayMs: 40 });
    const byTimer = queue.work("k", async () => undefined, { idlePollMs: 600_000, onEvent: (e) => events.push(e) });
    await until(events, "acked");
    assert.ok(Date.now() - started >= 40, "not before its time");
    await byTimer.stop();

    const polled: WorkerEvent[] = [];
    const byPoll = queue.work("k", async () => undefined, { idlePollMs: 20, onEvent: (e) => polled.push(e) });
    await queue.push("k", "pushed");
    await until(polled, "acked");
    await byPoll.stop();
  } finally {
    await store.close();
  }
});

test("the heartbeat's timer keeps a lease for longer than visibilityMs of real time, during a drain too", async () => {
  const store = createStore(new DeclaredEngine("real-clock", declaring({})), { sweepIntervalMs: 0 });
  try {
    const queue = store.workQueue("jobs", { codec: utf8 });
    await queue.push("k", "slow");
    const events: WorkerEvent[] = [];
    const halfway = deferred();
    const worker = queue.work("k", async () => {
      await new Promise((resolve) => setTimeout(resolve, 150));
      halfway.resolve();
      await new Promise((resolve) => setTimeout(resolve, 150));
    }, { visibilityMs: 60, drainMs: 5_000, onEvent: (e) => events.push(e) });
    await until(events, "claimed");
    const stopped = worker.stop();
    await halfway.promise;
    assert.deepEqual(await queue.claim("k"), [], "still leased to the worker, 150 ms into a 60 ms lease");
    await stopped;
    assert.ok(events.filter((e) => e.type === "extended").length >= 2, events.map((e) => e.type).join(", "));
    assert.deepEqual(events.filter((e) => e.type !== "extended").map((e) => e.type), ["claimed", "acked"]);
  } finally {
    await store.close();
  }
});

test("a worker is woken by a push another store (as another process would) commits to the same SQLite file", async () => {
  const dir = mkdtempSync(join(tmpdir(), "stowage-work-worker-"));
  const path = join(dir, "store.db");
  const workerStore = await openStore({ backend: "sqlite", path, sweepIntervalMs: 0 });
  const pusherStore = await openStore({ backend: "sqlite", path, sweepIntervalMs: 0 });
  try {
    const events: WorkerEvent[] = [];
    const worker = workerStore.workQueue("jobs", { codec: utf8 }).work("k", async () => undefined, { idlePollMs: 600_000, onEvent: (e) => events.push(e) });
    const pusher = pusherStore.workQueue("jobs", { codec: utf8 });
    await pusher.push("k", "first");
    await until(events, "acked");
    await new Promise((resolve) => setTimeout(resolve, 50)); // time to go idle: only the change signal can wake it now
    await pusher.push("k", "second");
    await until(events, "acked", 2);
    await worker.stop();
    assert.deepEqual(await pusher.counts("k"), { ready: 0, delayed: 0, leased: 0, dead: 0 });
  } finally {
    await workerStore.close();
    await pusherStore.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
