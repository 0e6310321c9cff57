/**
 * The lease-history checker (test/helpers/lease-history.ts), proved before the SIGKILL battery relies on it: forged
 * histories it must accept and must refuse, and real runs of in-process workers over the memory engine — unbroken
 * (accepted) and broken so that its claims ignore leases (the double lease caught), as linearizability.test.ts proves
 * its checker on deliberately broken engines.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import type { StoredSettle } from "../src/engines/engine.js";
import type { EngineCall, CallResult } from "../src/engines/engine-calls.js";
import { MemoryEngine } from "../src/engines/memory/memory-engine.js";
import { LEASE_EXPIRED_ERROR } from "../src/engines/work-rules.js";
import { createStore, type ClaimedItem, type Store } from "../src/index.js";
import { killAll, sleep, startChild, tempDir } from "./helpers/child.js";
import {
  checkLeaseHistory,
  describeViolations,
  formatLeaseEvent,
  historyStats,
  parseLeaseEvents,
  type ClaimEvent,
  type ExpectedJob,
  type FinalState,
  type LeaseEvent,
  type SettleKind,
  type Violation,
} from "./helpers/lease-history.js";
import { LeaseRecorder } from "./helpers/lease-recorder.js";

const V = 1_000; // every forged claim's lease length
const PID: Record<string, number> = { w1: 101, w2: 102, w3: 103 };

/** A forged worker: its claims, handler runs and settles, at the event times given. Store time = event time here. */
function forge(w: string) {
  const base = { w, pid: PID[w]! };
  return {
    claim: (id: number, attempt: number, token: number, now: number, resolve = now + 5): ClaimEvent => ({ ...base, ev: "claim", invoke: now, resolve, key: "k", id, token, attempt, deadline: now + V, visibilityMs: V }),
    extend: (lease: ClaimEvent, invoke: number, ok = true, resolve = invoke + 5): LeaseEvent => ({ ...base, ev: "extend", invoke, resolve, ...ref(lease), deadline: ok ? invoke + V : null, ok }),
    done: (lease: ClaimEvent, atTime: number): LeaseEvent => ({ ...base, ev: "done", at: atTime, ...ref(lease) }),
    /** Both lines of a settle; `ok` undefined: cut short (only the settling line). */
    settle: (lease: ClaimEvent, kind: SettleKind, invoke: number, ok?: boolean, outcome: { dead?: boolean; visibleAt?: number | null } = {}): LeaseEvent[] => [
      { ...base, ev: "settling", invoke, kind, ...ref(lease) },
      ...(ok === undefined ? [] : [{ ...base, ev: "settle" as const, invoke, resolve: invoke + 5, kind, ...ref(lease), ok, dead: outcome.dead ?? false, visibleAt: outcome.visibleAt ?? null }]),
    ],
  };
}
const ref = (lease: ClaimEvent) => ({ key: lease.key, id: lease.id, token: lease.token, attempt: lease.attempt });
const [w1, w2] = [forge("w1"), forge("w2")];

const complete = (...ids: number[]): ExpectedJob[] => ids.map((id) => ({ id, fate: "complete", maxAttempts: 3 }));
const end = (jobs: ExpectedJob[], dead: FinalState["dead"] = [], left: Partial<FinalState["counts"]> = {}): FinalState => ({
  counts: { ready: 0, delayed: 0, leased: 0, dead: dead.length, ...left },
  dead,
  jobs,
});
const accepted = (events: LeaseEvent[], final: FinalState) => assert.deepEqual(checkLeaseHistory(events, final), [], describeViolations(checkLeaseHistory(events, final)));
function refused(events: LeaseEvent[], final: FinalState, check: Violation["check"], pattern: RegExp): void {
  const violations = checkLeaseHistory(events, final);
  assert.ok(violations.some((v) => v.check === check && pattern.test(v.message)), `expected a ${check} violation matching ${pattern}; got ${describeViolations(violations)}`);
}

test("forged histories that must pass", () => {
  // Overlapping leases of different items.
  const a = w1.claim(1, 1, 11, 0);
  const b = w2.claim(2, 1, 22, 2);
  accepted([a, b, w1.done(a, 50), w2.done(b, 60), ...w1.settle(a, "ack", 51, true), ...w2.settle(b, "ack", 61, true)], end(complete(1, 2)));
  // An ack after the deadline of a lease nobody took again.
  const late = w1.claim(1, 1, 11, 0);
  accepted([late, w1.done(late, 1_500), ...w1.settle(late, "ack", 1_600, true)], end(complete(1)));
  // An expired lease taken again at its deadline, its holder's ack racing the claim and losing.
  const first = w1.claim(1, 1, 11, 0);
  const again = w2.claim(1, 2, 12, V);
  accepted([first, again, w1.done(first, 990), ...w1.settle(first, "ack", 995, false), w2.done(again, 1_100), ...w2.settle(again, "ack", 1_101, true)], end(complete(1)));
  // A fail (retry now) racing a claim before the deadline: the fail may have come first, so the claim is legal.
  const failed = w1.claim(1, 1, 11, 0);
  const retried = w2.claim(1, 2, 12, 500, 520);
  accepted([failed, ...w1.settle(failed, "fail", 499, true, { visibleAt: 499 }), retried, w2.done(retried, 600), ...w2.settle(retried, "ack", 601, true)], end(complete(1)));
  // Two heartbeats in flight at once: the earlier one (deadline 1,600) may have landed last, so 1,620 is legal.
  const beat = w2.claim(1, 2, 12, 1_620);
  accepted([first, w1.extend(first, 600, true, 700), w1.extend(first, 650, true, 660), beat, w2.done(beat, 1_700), ...w2.settle(beat, "ack", 1_701, true)], end(complete(1)));
  // A race tighter than the clock tolerance between processes is not judged (conservative): claimed 3 ms after the
  // first claim answered, in another process. Within one process there is no tolerance.
  const close = w2.claim(1, 2, 12, 8);
  const closeHistory = [first, close, w2.done(close, 20), ...w2.settle(close, "ack", 21, true)];
  accepted(closeHistory, end(complete(1)));
  assert.equal(checkLeaseHistory(closeHistory, end(complete(1)), { clockToleranceMs: 0 })[0]?.check, "lease");
});

test("forged: a killed worker's partial last line, and only that, is dropped; its cut-short fail excuses an early claim", () => {
  const held = w1.claim(1, 1, 11, 0);
  const cut = formatLeaseEvent(w1.settle(held, "fail", 300, true)[1]!).slice(0, 40);
  const output = ["ready", formatLeaseEvent(held), formatLeaseEvent(w1.settle(held, "fail", 300)[0]!), cut].join("\n");
  const events = parseLeaseEvents(output, { source: "w1", killed: true, words: ["ready"] });
  assert.deepEqual(events.map((e) => e.ev), ["claim", "settling"]);
  assert.throws(() => parseLeaseEvents(output, { source: "w1", killed: false, words: ["ready"] }), /w1, line 4: not JSON/);
  assert.throws(() => parseLeaseEvents(`${cut}\n${formatLeaseEvent(held)}`, { source: "w1", killed: true }), /w1, line 1: not JSON/);
  assert.throws(() => parseLeaseEvents(JSON.stringify({ ...held, deadline: "soon" }), { source: "w1", killed: false }), /field deadline/);
  // The fail was cut short after its settling line: it may have been applied (retry at once), so w2's claim at 310 is
  // legal. Without the settling line the same claim would be a double lease.
  const next = w2.claim(1, 2, 12, 310);
  const rest = [next, w2.done(next, 400), ...w2.settle(next, "ack", 401, true)];
  accepted([...events, ...rest], end(complete(1)));
  refused([held, ...rest], end(complete(1)), "lease", /two live leases/);
  // A worker that writes settles only once they answer: its handler's threw line announces the fail instead.
  const threw: LeaseEvent = { w: "w1", pid: PID.w1!, ev: "threw", at: 290, ...ref(held), error: "Error: boom" };
  accepted([held, threw, ...rest], end(complete(1)));
});

test("a worker process killed while writing its events loses at most its last line", async () => {
  const tmp = tempDir("lease-events");
  const file = join(tmp.dir, "events.jsonl");
  const child = startChild("lease-event-writer", [file, "200000"]);
  try {
    const lines = () => (existsSync(file) ? readFileSync(file, "utf8").split("\n").length : 0);
    for (let wait = 0; wait < 200 && lines() < 500; wait++) await sleep(10);
    child.kill("SIGKILL");
    assert.equal((await child.exited).signal, "SIGKILL", child.describe());
    const events = parseLeaseEvents(readFileSync(file, "utf8"), { source: "writer", killed: true });
    const ids = events.flatMap((e) => (e.ev === "claim" ? [e.id] : []));
    assert.ok(ids.length >= 500, `only ${ids.length} events were written`);
    assert.deepEqual(ids, ids.map((_, i) => i + 1), "an event other than the last was lost or cut");
  } finally {
    await killAll([child]);
    tmp.remove();
  }
});

test("forged histories that must fail", () => {
  // Two live leases of one item: claimed again at 500 while the first held it until 1,000.
  const a = w1.claim(1, 1, 11, 0);
  const b = w2.claim(1, 2, 12, 500);
  refused([a, b, w1.done(a, 600), w2.done(b, 600), ...w2.settle(b, "ack", 601, true)], end(complete(1)), "lease", /two live leases.*live until 1000/);
  // ... the same past a heartbeat that moved the deadline to 1,600.
  const c = w2.claim(1, 2, 12, 1_200);
  refused([a, w1.extend(a, 600), c, w2.done(c, 1_300), ...w2.settle(c, "ack", 1_301, true)], end(complete(1)), "lease", /live until 1600/);
  // ... and the stale holder's ack accepted after the new claim.
  refused([a, c, ...w1.settle(a, "ack", 1_250, true), w2.done(c, 1_300)], end(complete(1)), "lease", /ack\) of attempt 1 .* succeeded after attempt 2/);
  // An ack cut short does not excuse an early claim (applied, it would have left nothing to claim) ...
  refused([a, ...w1.settle(a, "ack", 300), b, w2.done(b, 600), ...w2.settle(b, "ack", 601, true)], end(complete(1)), "lease", /two live leases/);
  // ... and a retry is not claimable before its time.
  const early = w2.claim(1, 2, 12, 400);
  refused([a, ...w1.settle(a, "fail", 300, true, { visibleAt: 600 }), early, w2.done(early, 500), ...w2.settle(early, "ack", 501, true)], end(complete(1)), "lease", /claimed at store time 400, before 600/);
  // A reused token: one (token, attempt) handed out twice.
  const twin = w2.claim(1, 1, 11, 2_000);
  refused([a, twin, w2.done(twin, 2_100), ...w2.settle(twin, "ack", 2_101, true)], end(complete(1)), "identity", /same token and attempt/);
  // A lost job: claimed, never done, yet nothing is left in the store.
  refused([a], end(complete(1)), "lost", /job 1 is neither dead nor done/);
  refused([a, w1.done(a, 50), ...w1.settle(a, "ack", 51, true)], end(complete(1), [], { ready: 1 }), "lost", /1 ready/);
  // An unexpected dead letter: a job meant to complete, dead of its handler's error.
  const boom = { id: 1, attempts: 3, lastError: "Error: boom" };
  refused([a, ...w1.settle(a, "fail", 50, true, { dead: true })], end(complete(1), [boom]), "dead", /meant to complete died/);
  // A dead item with fewer attempts than its limit.
  const doomed: ExpectedJob[] = [{ id: 1, fate: "dead", maxAttempts: 3, error: "Error: boom" }];
  refused([a, ...w1.settle(a, "fail", 50, true, { dead: true })], end(doomed, [{ ...boom, attempts: 2 }]), "dead", /2 attempts, not its 3/);
  // A dead item one of whose acks succeeded.
  refused([a, w1.done(a, 40), ...w1.settle(a, "ack", 50, true)], end(doomed, [boom]), "dead", /an ack of it succeeded/);
  // A job meant to fail every time that is not dead, and one whose error is not its handler's.
  refused([a, ...w1.settle(a, "fail", 50, true, { visibleAt: 60 })], end(doomed), "dead", /not a dead letter/);
  refused([a], end(doomed, [{ ...boom, lastError: "Error: other" }]), "dead", /not its handler's/);
  // An expired lease may end a job of either fate, but not one a fail dead-lettered.
  accepted([a], end(complete(1), [{ ...boom, lastError: LEASE_EXPIRED_ERROR }]));
  refused([a, ...w1.settle(a, "fail", 50, true, { dead: true })], end(doomed, [{ ...boom, lastError: LEASE_EXPIRED_ERROR }]), "dead", /lease expired, but a fail/);
});

/**
 * A deliberately broken engine: its claims take a leased item first, as if its lease had ended (done here by ending it
 * behind the holder's back: a retry visible at 0, so the claim that follows takes it). Everything else is the memory
 * engine's.
 */
class LeaseBlindEngine extends MemoryEngine {
  override async write<C extends EngineCall>(call: C): Promise<CallResult<C>> {
    if (call.op !== "workClaim") return super.write(call);
    const [ns, key, , now] = call.args;
    const rows = await this.read({ op: "workDump", args: [ns, null, 1_000] });
    const held = rows.find((row) => row.key === key && !row.dead && row.token !== null && row.visibleAt > now && row.attempts < row.maxAttempts);
    if (held !== undefined) {
      const steal: StoredSettle = { key, id: held.id, token: held.token!, attempt: held.attempts, to: "retry", visibleAt: 0, giveBack: false };
      await super.write({ op: "workSettle", args: [ns, [steal], now] });
    }
    return super.write(call);
  }
}

const VISIBILITY_MS = 40;
const MAX_ATTEMPTS = 3;
const JOBS = 24;
/** Most claim rounds per worker: the run ends when the queue is empty, this only bounds a run that never would. */
const ROUNDS = 400;
/** Handler failures per job, by job number: 3 = every attempt (a dead letter). */
const FAIL_FIRST = [0, 0, 1, 3];

/**
 * Three in-process workers over `store`, each claim, heartbeat, handler run and settle recorded: w1 and w2 work until
 * the queue is empty (some handlers outlive their lease, some extend it); w3 plays a killed worker — on its second
 * claim it starts its handlers and stops dead, one ack announced but never called.
 */
async function recordedRun(store: Store): Promise<{ events: LeaseEvent[]; final: FinalState }> {
  const queue = store.workQueue("jobs", { retry: { maxAttempts: MAX_ATTEMPTS, backoff: { type: "fixed", delayMs: 5, jitter: "none" } } });
  const pushed = await queue.pushMany("k", Array.from({ length: JOBS }, (_, n) => ({ value: Uint8Array.of(n) })));
  const failFirst = new Map(pushed.map(({ id }, n) => [id, FAIL_FIRST[n % FAIL_FIRST.length]!]));
  const events: LeaseEvent[] = [];
  const handle = async (rec: LeaseRecorder<Uint8Array>, item: ClaimedItem<Uint8Array>) => {
    rec.started(item);
    let lease = item;
    await sleep(item.attempt === 1 && item.id % 7 === 0 ? VISIBILITY_MS + 15 : 2 + (item.id % 4));
    if (item.id % 5 === 0) lease = { ...item, ...(await rec.extend(item)) };
    if (item.attempt <= failFirst.get(item.id)!) {
      const error = new Error(`job ${item.id} fails`);
      rec.threw(lease, error);
      await rec.fail(lease, error);
    } else {
      rec.done(lease);
      await rec.ack(lease);
    }
  };
  const work = async (w: string) => {
    const rec = new LeaseRecorder(queue, w, (event) => events.push(event));
    rec.begin();
    for (let round = 0; round < ROUNDS; round++) {
      const { ready, delayed, leased } = await queue.counts("k");
      if (ready + delayed + leased === 0) break;
      const items = await rec.claim("k", 2, VISIBILITY_MS);
      if (w === "w3" && round > 0 && items.length > 0) {
        for (const item of items) rec.started(item);
        rec.settleCutShort(items[0]!, "ack");
        return; // killed: no end line, its leases left to expire
      }
      if (items.length === 0) await sleep(2);
      await Promise.all(items.map((item) => handle(rec, item)));
    }
    rec.end();
  };
  await Promise.all(["w1", "w2", "w3"].map(work));
  const counts = await queue.counts("k");
  const dead = (await queue.dead("k", { limit: JOBS })).map(({ id, attempts, lastError }) => ({ id, attempts, lastError }));
  const jobs = pushed.map(({ id }): ExpectedJob => ({ id, fate: failFirst.get(id)! >= MAX_ATTEMPTS ? "dead" : "complete", maxAttempts: MAX_ATTEMPTS, error: `Error: job ${id} fails` }));
  return { events, final: { counts, dead, jobs } };
}

test("real run: in-process workers over the memory engine make a history the checker accepts", async (t) => {
  const store = createStore(new MemoryEngine(), { sweepIntervalMs: 0 });
  try {
    const { events, final } = await recordedRun(store);
    accepted(events, final);
    const stats = historyStats(events);
    t.diagnostic(JSON.stringify(stats));
    // The run exercised what the checker judges: items claimed again after an expired lease, and dead letters.
    assert.ok(stats.reclaims! > 0 && final.dead.length > 0, JSON.stringify(stats));
  } finally {
    await store.close();
  }
});

test("real run: a broken engine whose claims ignore leases is caught handing out a second live lease", async () => {
  const store = createStore(new LeaseBlindEngine(), { sweepIntervalMs: 0 });
  try {
    const { events, final } = await recordedRun(store);
    const violations = checkLeaseHistory(events, final);
    assert.ok(violations.some((v) => v.check === "lease" && /two live leases/.test(v.message)), describeViolations(violations));
  } finally {
    await store.close();
  }
});
