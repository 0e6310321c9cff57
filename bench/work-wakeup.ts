/**
 * Wake-up latency of a work queue: a worker (concurrency 1) idles in another process (in this one for the memory
 * engine); this process pushes jobs one at a time at seeded gaps of 30–120 ms and notes the host clock
 * (performance.timeOrigin + performance.now()) just before it calls each push; the worker notes the same clock when
 * its handler starts. The figure per job is start − push call: the push's own commit included, never negative (from
 * the push's resolve it was, on PostgreSQL: NOTIFY woke the worker before the pusher heard its commit); median and
 * p99 per engine. What wakes the worker is each engine's change signal (issue 21 design §4).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { openStore, type OpenStoreOptions, type Store } from "../src/index.js";
import { randomInts, valueFor } from "./fixtures.js";
import { percentile } from "./stats.js";
import { WAKEUP_KEY, WAKEUP_NS } from "./work-wakeup-shared.js";

export interface WakeupResult {
  engine: string;
  /** Jobs pushed, and how many of them the worker started. */
  jobs: number;
  started: number;
  medianMs: number;
  p99Ms: number;
  maxMs: number;
  error?: string;
}

const WORKER_FILE = fileURLToPath(new URL("./work-wakeup-worker.js", import.meta.url));
/** Seed of the gaps, so every engine and every run sees the same push schedule. */
const GAP_SEED = 21;
/** Longest wait for the worker to start, and for the last handler start after the last push (a lost signal costs the worker's 5 s idle poll). */
const READY_TIMEOUT_MS = 30_000;
const DRAIN_TIMEOUT_MS = 15_000;
/** Time for the idle worker's first (empty) claim to finish before the first push. */
const SETTLE_MS = 300;

const now = (): number => performance.timeOrigin + performance.now();

/** The host-clock start of each job's handler, by item id, as the worker reports them. */
class Starts {
  readonly at = new Map<number, number>();
  private waiter: (() => void) | undefined;
  record(id: number, t: number): void {
    this.at.set(id, t);
    this.waiter?.();
  }
  /** Resolves when every id of `ids` has started, or after `timeoutMs`. */
  async all(ids: readonly number[], timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (ids.some((id) => !this.at.has(id)) && performance.now() < deadline) {
      await Promise.race([new Promise<void>((resolve) => (this.waiter = resolve)), sleep(Math.max(1, deadline - performance.now()))]);
      this.waiter = undefined;
    }
  }
}

/** Pushes `jobs` jobs at the seeded gaps; the host clock just before each push was called, by id. */
async function pushAll(store: Store, jobs: number): Promise<Map<number, number>> {
  const queue = store.workQueue(WAKEUP_NS);
  const random = randomInts(GAP_SEED);
  const called = new Map<number, number>();
  for (let n = 0; n < jobs; n++) {
    await sleep(30 + (random() % 91));
    const before = now();
    const { id } = await queue.push(WAKEUP_KEY, valueFor(n));
    called.set(id, before);
  }
  return called;
}

function summarise(engine: string, pushed: Map<number, number>, starts: Starts): WakeupResult {
  const latencies = [...pushed].flatMap(([id, t]) => {
    const start = starts.at.get(id);
    return start === undefined ? [] : [start - t];
  });
  const result: WakeupResult = {
    engine,
    jobs: pushed.size,
    started: latencies.length,
    medianMs: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies.length === 0 ? NaN : Math.max(...latencies),
  };
  if (latencies.length < pushed.size) result.error = `${pushed.size - latencies.length} of ${pushed.size} jobs never started within ${DRAIN_TIMEOUT_MS} ms`;
  return result;
}

/** The memory engine: pusher and worker share one store in this process. */
async function inProcess(jobs: number): Promise<WakeupResult> {
  const store = await openStore({ backend: "memory" });
  try {
    const starts = new Starts();
    const worker = store.workQueue(WAKEUP_NS).work(WAKEUP_KEY, async (item) => starts.record(item.id, now()), { concurrency: 1 });
    await sleep(SETTLE_MS);
    const pushed = await pushAll(store, jobs);
    await starts.all([...pushed.keys()], DRAIN_TIMEOUT_MS);
    await worker.stop();
    return summarise("memory", pushed, starts);
  } finally {
    await store.close();
  }
}

/** `promise`, or a rejection after `ms`. */
async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Stops the child: ends its stdin (it stops its worker and closes its store), then kills it by its id if it lingers. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.stdin?.end();
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}

/** Another process's worker on the store `descriptor` opens; this process pushes through its own store. */
async function crossProcess(engine: string, descriptor: OpenStoreOptions, jobs: number): Promise<WakeupResult> {
  const child = spawn(process.execPath, [WORKER_FILE, JSON.stringify(descriptor)], { stdio: ["pipe", "pipe", "inherit"] });
  const starts = new Starts();
  let ready!: () => void;
  const isReady = new Promise<void>((resolve) => (ready = resolve));
  const exitedEarly = once(child, "exit").then(([code]) => {
    throw new Error(`the worker process exited with ${String(code)} before the jobs were done`);
  });
  exitedEarly.catch(() => undefined);
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
    const event = JSON.parse(line) as { ready?: boolean; id?: number; t?: number };
    if (event.ready === true) ready();
    else if (event.id !== undefined && event.t !== undefined) starts.record(event.id, event.t);
  });
  let store: Store | undefined;
  try {
    await withTimeout(Promise.race([isReady, exitedEarly]), READY_TIMEOUT_MS, "the worker process did not start in time");
    store = await openStore(descriptor);
    await sleep(SETTLE_MS);
    const pushed = await Promise.race([pushAll(store, jobs), exitedEarly]);
    await starts.all([...pushed.keys()], DRAIN_TIMEOUT_MS);
    return summarise(engine, pushed, starts);
  } finally {
    await store?.close();
    await stopChild(child);
  }
}

/**
 * The wake-up latency on `engine`: with `descriptor` null, in this process on the memory engine; otherwise a worker
 * process opens `descriptor` and this process opens it too to push. Never throws: a failure is the result's `error`.
 */
export async function measureWakeup(engine: string, descriptor: OpenStoreOptions | null, jobs: number): Promise<WakeupResult> {
  try {
    return descriptor === null ? await inProcess(jobs) : await crossProcess(engine, descriptor, jobs);
  } catch (error) {
    return { engine, jobs, started: 0, medianMs: NaN, p99Ms: NaN, maxMs: NaN, error: (error as Error).message };
  }
}
