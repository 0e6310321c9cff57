/**
 * The batteries of a networked engine under server and network faults, shared by the PostgreSQL, etcd, Redis and
 * Azure Table fault tests:
 * - {@link serverCrashBattery}: the server goes down (a crash or a stop) and comes back, several times, while three
 *   processes write the crash workload; calls fail BACKEND_UNAVAILABLE within their timeouts, every process recovers
 *   by itself, and (where the server's durability promises it) nothing that resolved is lost;
 * - {@link proxyFaultBattery}: a loopback TCP proxy (test/helpers/tcp-proxy.ts) between a store and its server delays,
 *   stalls and resets its connections, and loses replies: delayed calls succeed, stalled and reset ones fail
 *   BACKEND_UNAVAILABLE within their timeouts, the same store works again by itself, and nothing that resolved is
 *   lost, nor applied twice.
 */
import assert from "node:assert/strict";
import { isStowageError, openStore, utf8, type OpenStoreOptions, type Store } from "../../src/index.js";
import { killAll, sleep, startChild, type Child } from "./child.js";
import { checkRound, CrashLedger, parseReports, type CrashReport } from "./crash-check.js";
import type { FaultProxy } from "./tcp-proxy.js";

interface Diagnostics {
  diagnostic(message: string): void;
}

const WRITERS = 3;
/** Each writer's operation numbers start at its own offset within round 0. */
const WRITER_STRIDE = 100_000;
const WRITER_IN_FLIGHT = 4;
/** How long every writer has to make progress again after the last outage. */
const RECOVER_WITHIN_MS = 20_000;

export interface ServerCrashSpec {
  /** What the writers and the final check open. */
  options: OpenStoreOptions;
  /** Outages, one after the other, each of `down` then `up`. */
  outages: number;
  /** Takes the server down (a crash, or a clean stop). */
  down(): Promise<void> | void;
  /** Starts it again on the same data; resolves once it serves. */
  up(): Promise<void> | void;
  /** A call made during an outage must fail within this long (its timeouts plus scheduling slack). */
  failWithinMs: number;
  /**
   * Whether the server's durability promises every resolved write across these outages: then the final check finds
   * every resolved step and no half-applied one; otherwise it only counts the resolved steps lost, for the diagnostic.
   */
  nothingLost: boolean;
}

/** The server down and up `spec.outages` times while 3 processes write; see the file comment. */
export async function serverCrashBattery(t: Diagnostics, spec: ServerCrashSpec): Promise<void> {
  const children: Child[] = [];
  const phases: string[] = [];
  let phaseStart = Date.now();
  const phase = (name: string) => {
    phases.push(`${name} ${Date.now() - phaseStart} ms`);
    phaseStart = Date.now();
  };
  try {
    for (let w = 0; w < WRITERS; w++) {
      children.push(startChild("crash-worker", [JSON.stringify(spec.options), String(w * WRITER_STRIDE), String(WRITER_IN_FLIGHT), String(WRITER_STRIDE - 1), "tolerant"]));
    }
    for (const child of children) assert.ok(await child.waitFor((lines) => lines.includes("ready"), 30_000), `a writer did not start\n${child.describe()}`);
    phase("start");
    // Before each outage, and after the last, every writer must resolve steps again on its own: each outage then
    // interrupts writers in full flow, and every one recovers from each.
    const resolvedAgain = async (after: string) => {
      const before = children.map((child) => resolvedLines(child.lines));
      const ok = await Promise.all(children.map((child, i) => child.waitFor((lines) => resolvedLines(lines) >= (before[i] as number) + 5, RECOVER_WITHIN_MS)));
      ok.forEach((done, i) => assert.ok(done, `writer ${i} resolved no 5 steps within ${RECOVER_WITHIN_MS} ms ${after}\n${(children[i] as Child).describe()}`));
    };
    for (let outage = 0; outage < spec.outages; outage++) {
      await resolvedAgain(outage === 0 ? "after its start" : `after outage ${outage}`);
      phase("writing");
      await spec.down();
      await sleep(300);
      await spec.up();
      phase("outage");
    }
    await resolvedAgain("after the last outage");
    phase("recovery");
  } finally {
    await killAll(children);
  }

  const ledger = new CrashLedger();
  const reports = children.map((child) => parseReports(child.lines));
  const problems = ledger.add(reports.flat());
  const failures = reports.flat().filter((r): r is Extract<CrashReport, { type: "failed" }> => r.type === "failed");
  for (const failure of failures) {
    assert.equal(failure.code, "BACKEND_UNAVAILABLE", `op ${failure.n} failed with ${failure.code}`);
    assert.ok(failure.ms <= spec.failWithinMs, `op ${failure.n} took ${failure.ms} ms to fail`);
  }
  assert.ok(failures.length > 0, "no call failed: the outages did not happen while the writers ran");

  const store = await openStore({ ...spec.options, sweepIntervalMs: 0 });
  try {
    problems.push(...(await store.check()).problems);
    for (let w = 0; w < WRITERS; w++) {
      const mine = reports[w] as CrashReport[];
      const first = w * WRITER_STRIDE;
      const maxN = Math.max(first - 1, ...mine.map((r) => r.n));
      problems.push(...(await checkRound(store, ledger, 0, first, maxN - first + 1 + WRITER_IN_FLIGHT)));
    }
  } finally {
    await store.close();
  }
  phase("check");
  const resolved = reports.flat().filter((r) => r.type !== "failed").length;
  const slowest = Math.max(0, ...failures.map((f) => f.ms));
  const failed = `${failures.length} calls failed BACKEND_UNAVAILABLE (slowest after ${slowest} ms)`;
  if (spec.nothingLost) {
    assert.deepEqual(problems, []);
    t.diagnostic(`${spec.outages} outages: ${resolved} resolved steps all present, ${failed}`);
  } else {
    t.diagnostic(`${spec.outages} outages: ${resolved} resolved steps, ${problems.length} problems found (losses the server does not promise to avoid), ${failed}`);
  }
  t.diagnostic(`phases: ${phases.join(", ")}`);
}

/** How many of a writer's lines report a resolved step. */
function resolvedLines(lines: readonly string[]): number {
  let count = 0;
  for (const line of lines) if (line.startsWith("{") && !line.includes('"failed"')) count++;
  return count;
}

/** What one call of the proxy battery did. */
interface Outcome {
  ok: boolean;
  code?: string;
  ms: number;
}

export interface ProxyFaultSpec {
  /** A call through a stalled connection must fail within this long (its timeouts plus scheduling slack). */
  failWithinMs: number;
}

/** Rounds of calls whose replies are lost, and the stores (of one process) whose calls are in flight in each. */
const LOST_REPLY_ROUNDS = 10;
const LOST_REPLY_STORES = 4;
/** How long the store has to work again after a fault heals (a client may wait before it reconnects). */
const PROXY_RECOVER_WITHIN_MS = 15_000;

/**
 * Delays, stalls and resets the connections of stores that `open` opens, all of which go through `proxy`; see the
 * file comment. The calls alternate between KV puts and log appends, so that a call applied twice (a commit sent
 * again after a lost answer) shows as a second log entry.
 */
export async function proxyFaultBattery(t: Diagnostics, open: () => Promise<Store>, proxy: FaultProxy, spec: ProxyFaultSpec): Promise<void> {
  const stores = [await open()];
  const resolvedPuts = new Map<string, string>();
  const resolvedAppends = new Map<number, string>();
  let n = 0;
  /** One call on `store`, recording what resolved; its outcome (ok or the error code) and how long it took. */
  const call = async (store = stores[0] as Store): Promise<Outcome> => {
    const i = n++;
    const value = `v-${i}`;
    const started = Date.now();
    try {
      if (i % 2 === 0) {
        await store.kv("p", { codec: utf8 }).put(`k${i}`, value);
        resolvedPuts.set(`k${i}`, value);
      } else {
        resolvedAppends.set(await store.log("p", { codec: utf8 }).append("l", value), value);
      }
      return { ok: true, ms: Date.now() - started };
    } catch (error) {
      return { ok: false, code: isStowageError(error) ? error.code : `untyped: ${String(error)}`, ms: Date.now() - started };
    }
  };
  /** Calls one at a time until 5 in a row succeed; every failure on the way must be BACKEND_UNAVAILABLE. */
  const recovers = async (after: string): Promise<void> => {
    const deadline = Date.now() + PROXY_RECOVER_WITHIN_MS;
    let inARow = 0;
    const outcomes: Outcome[] = [];
    while (inARow < 5) {
      assert.ok(Date.now() < deadline, `the store does not work again ${PROXY_RECOVER_WITHIN_MS} ms after ${after}: ${JSON.stringify(outcomes.slice(-5))}`);
      const outcome = await call();
      outcomes.push(outcome);
      if (outcome.ok) inARow++;
      else {
        inARow = 0;
        assert.equal(outcome.code, "BACKEND_UNAVAILABLE", `after ${after}: ${JSON.stringify(outcome)}`);
        await sleep(50);
      }
    }
  };
  const allFailTyped = (outcomes: readonly Outcome[], what: string) => {
    for (const o of outcomes) {
      assert.equal(o.ok, false, `a call through a ${what} connection succeeded`);
      assert.equal(o.code, "BACKEND_UNAVAILABLE", `a call through a ${what} connection: ${JSON.stringify(o)}`);
      assert.ok(o.ms <= spec.failWithinMs, `a call through a ${what} connection took ${o.ms} ms to fail`);
    }
  };
  try {
    for (let i = 0; i < 20; i++) {
      const outcome = await call();
      assert.ok(outcome.ok, JSON.stringify(outcome));
    }

    // Delay: every chunk arrives 50 ms late each way; calls are slower but succeed.
    proxy.mode = "delay";
    const delayed = await Promise.all(Array.from({ length: 6 }, call));
    assert.ok(delayed.every((o) => o.ok), `delayed calls failed: ${JSON.stringify(delayed)}`);
    assert.ok(delayed.every((o) => o.ms >= proxy.delayMs), "the delay was not applied");

    // Stall: connections stay open but carry nothing; calls fail typed within their timeouts. Then the stall ends
    // (what the connections held arrives, as after a partition heals): the store works again.
    proxy.mode = "stall";
    const stalled = await Promise.all(Array.from({ length: 3 }, call));
    allFailTyped(stalled, "stalled");
    t.diagnostic(`stalled calls failed after ${stalled.map((o) => o.ms).join(", ")} ms`);
    proxy.mode = "pass";
    await recovers("a stall ended");

    // A stall that ends in a reset of every connection (a middlebox gave up on them): calls fail typed, then work.
    proxy.mode = "stall";
    const stalledThenReset = Array.from({ length: 3 }, call);
    await sleep(100);
    proxy.resetAll();
    proxy.mode = "pass";
    for (const o of await Promise.all(stalledThenReset)) if (!o.ok) assert.equal(o.code, "BACKEND_UNAVAILABLE", JSON.stringify(o));
    await recovers("a reset of stalled connections");

    // Resets in the middle of a stream of calls, several times.
    for (let round = 0; round < 3; round++) {
      const inFlight = Array.from({ length: 6 }, call);
      await sleep(2);
      proxy.resetAll();
      for (const o of await Promise.all(inFlight)) if (!o.ok) assert.equal(o.code, "BACKEND_UNAVAILABLE", JSON.stringify(o));
    }
    await recovers("resets mid-call");

    // Lost replies: calls reach the server, which applies them, but their replies are held and the connections then
    // reset. Each call fails typed or resolves, and none may apply twice (a client that sends a commit again after
    // losing its answer would). Several stores commit (each one commit at a time), and the replies stall at a random
    // moment of a round's time, measured first without faults: most rounds lose the reply of a commit.
    while (stores.length < LOST_REPLY_STORES) stores.push(await open());
    const roundStarted = Date.now();
    const faultless = await Promise.all(stores.flatMap((store) => [call(store), call(store)]));
    assert.ok(faultless.every((o) => o.ok), JSON.stringify(faultless));
    const roundMs = Date.now() - roundStarted;
    for (let round = 0; round < LOST_REPLY_ROUNDS; round++) {
      const inFlight = stores.flatMap((store) => [call(store), call(store)]);
      await sleep(Math.floor(Math.random() * roundMs));
      proxy.mode = "stall-replies";
      await sleep(100);
      proxy.resetAll();
      proxy.mode = "pass";
      for (const o of await Promise.all(inFlight)) if (!o.ok) assert.equal(o.code, "BACKEND_UNAVAILABLE", JSON.stringify(o));
    }
    await recovers("lost replies");

    // Nothing that resolved is lost, and nothing is applied twice.
    const kv = (stores[0] as Store).kv("p", { codec: utf8 });
    for (const [key, value] of resolvedPuts) assert.equal(await kv.get(key), value, `${key} resolved but is missing`);
    const entries = await (stores[0] as Store).log("p", { codec: utf8 }).since("l", 0, { limit: 10_000 });
    for (const [seq, value] of resolvedAppends) assert.equal(entries.find((e) => e.seq === seq)?.value, value, `append ${value} resolved as seq ${seq} but is not there`);
    const values = entries.map((e) => e.value);
    assert.equal(new Set(values).size, values.length, `a log entry was applied twice: ${JSON.stringify(values)}`);
    t.diagnostic(`${resolvedPuts.size + resolvedAppends.size} of ${n} calls resolved, all present once after the faults`);
  } finally {
    proxy.mode = "pass";
    await Promise.all(stores.map((store) => store.close()));
  }
}
