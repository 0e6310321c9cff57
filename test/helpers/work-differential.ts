/**
 * A differential check of an engine's work operations against the memory engine's (the reference): a seeded sequence
 * of every work operation — pushes with priorities, delays and dedup keys, claims, extends, settles of current and
 * stale leases, requeues, purges, restores and every read — with the clock moving, run on both engines through
 * `engine.write` / `engine.read` with the same arguments (tokens and jitter included), each answer compared.
 */
import assert from "node:assert/strict";
import type { Engine, LeaseRef, StoredSettle, StoredWorkPush } from "../../src/engines/engine.js";
import type { EngineCall } from "../../src/engines/engine-calls.js";
import { encodeBackoff } from "../../src/engines/work-rules.js";
import { seeded } from "./register-workload.js";


const POLICIES = [
  encodeBackoff({ type: "fixed", delayMs: 10, maxDelayMs: 10, jitter: "none" }),
  encodeBackoff({ type: "exponential", delayMs: 5, maxDelayMs: 40, jitter: "full" }),
];

/** What a call answered, or the code of the error it threw. */
async function outcome(engine: Engine, call: EngineCall, kind: "read" | "write"): Promise<unknown> {
  try {
    return await (kind === "read" ? engine.read(call) : engine.write(call));
  } catch (error) {
    return { error: (error as { code?: string }).code ?? String(error) };
  }
}

/**
 * Runs `steps` seeded operations on both engines, asserting equal answers at each, and equal dumps and clean checks at
 * the end. Returns how many operations of each name ran (so a caller can see the mix covered every path).
 */
export async function runWorkDifferential(reference: Engine, subject: Engine, seed: number, steps: number): Promise<Record<string, number>> {
  const random = seeded(seed);
  const pick = <T>(choices: readonly T[]): T => choices[Math.floor(random() * choices.length)] as T;
  const int = (below: number) => Math.floor(random() * below);
  const ns = "jobs";
  const leases: LeaseRef[] = [];
  const ran: Record<string, number> = {};
  let now = 1_000;
  let restores = 0;

  const both = async (call: EngineCall, kind: "read" | "write", step: number): Promise<unknown> => {
    ran[call.op] = (ran[call.op] ?? 0) + 1;
    const expected = await outcome(reference, call, kind);
    const actual = await outcome(subject, call, kind);
    assert.deepEqual(actual, expected, `step ${step} (seed ${seed}): ${call.op}(${JSON.stringify(call.args).slice(0, 400)})`);
    return expected;
  };
  const someLeases = (most: number): LeaseRef[] => {
    const chosen: LeaseRef[] = [];
    for (let i = 1 + int(most); i > 0 && leases.length > 0; i--) chosen.push(pick(leases));
    return chosen;
  };
  const someIds = (): number[] | null => (random() < 0.5 ? null : Array.from({ length: 1 + int(3) }, () => 1 + int(30)));

  for (let step = 0; step < steps; step++) {
    const key = pick(["a", "a", "b"]);
    const roll = random();
    if (roll < 0.2) {
      const items = Array.from({ length: 1 + int(3) }, (): StoredWorkPush => ({
        key,
        value: new Uint8Array([int(256), step & 0xff]),
        priority: pick([-1, 0, 0, 2]),
        visibleAt: now + pick([0, 0, 0, 30]),
        maxAttempts: pick([1, 2, 3]),
        policy: pick(POLICIES),
        dedup: pick([null, null, null, "x", "y"]),
        reject: random() < 0.2,
      }));
      await both({ op: "workPush", args: [ns, items, now] }, "write", step);
    } else if (roll < 0.4) {
      const claimed = (await both({ op: "workClaim", args: [ns, key, 1 + int(3), now, now + pick([20, 50]), 1 + int(2 ** 48 - 1)] }, "write", step)) as Array<{ id: number; token: number; attempt: number }>;
      if (Array.isArray(claimed)) for (const item of claimed) leases.push({ key, id: item.id, token: item.token, attempt: item.attempt });
    } else if (roll < 0.47) {
      await both({ op: "workExtend", args: [ns, someLeases(2), now + 40] }, "write", step);
    } else if (roll < 0.65) {
      const settles = someLeases(3).map((lease): StoredSettle => {
        const to = pick(["ack", "retry", "fail", "fail"] as const);
        if (to === "ack") return { ...lease, to };
        if (to === "retry") return { ...lease, to, visibleAt: now + pick([0, 15]), giveBack: random() < 0.5 };
        return { ...lease, to, error: `failure ${step}`, random: random(), final: random() < 0.1, retryAfterMs: random() < 0.3 ? 5 : null };
      });
      await both({ op: "workSettle", args: [ns, settles, now] }, "write", step);
    } else if (roll < 0.7) {
      await both({ op: "workRequeue", args: [ns, key, someIds(), now, 1 + int(3)] }, "write", step);
    } else if (roll < 0.73) {
      await both({ op: "workPurge", args: [ns, key, someIds(), 1 + int(3)] }, "write", step);
    } else if (roll < 0.75) {
      // A copy of the namespace as a dump reads it, into a namespace of its own (restores refuse held ids).
      const rows = await both({ op: "workDump", args: [ns, null, 1_000] }, "read", step);
      const lastId = await both({ op: "workLastId", args: [ns] }, "read", step);
      await both({ op: "workRestore", args: [`copy${++restores}`, rows as never, lastId as number] }, "write", step);
      await both({ op: "workRestore", args: [`copy${restores}`, rows as never, 0] }, "write", step); // every id held: CONFLICT
      await both({ op: "workDump", args: [`copy${restores}`, null, 1_000] }, "read", step);
    } else if (roll < 0.9) {
      const read = pick(["workCounts", "workPoll", "workDead", "workKeys", "workDump"] as const);
      const call: EngineCall =
        read === "workCounts" || read === "workPoll"
          ? { op: read, args: [ns, key, now] }
          : read === "workDead"
            ? { op: read, args: [ns, key, int(5), 1 + int(4)] }
            : read === "workKeys"
              ? { op: read, args: [ns, pick([null, "a"]), 1 + int(2)] }
              : { op: read, args: [ns, pick([null, { key: "a", id: int(10) }]), 1 + int(6)] };
      await both(call, "read", step);
    } else {
      now += pick([1, 5, 10, 20, 40]);
    }
  }
  const all = (engine: Engine, space: string) => engine.read({ op: "workDump", args: [space, null, 10_000] });
  for (const space of [ns, ...Array.from({ length: restores }, (_, i) => `copy${i + 1}`)]) assert.deepEqual(await all(subject, space), await all(reference, space), `final dump of ${space}`);
  assert.deepEqual(await subject.check(), []);
  assert.deepEqual(await reference.check(), []);

  // A snapshot reads the items as they were when it began, while a purge and a push commit meanwhile.
  const before = await all(reference, ns);
  assert.ok(subject.snapshot !== undefined, "the engine takes snapshots");
  const seen = await subject.snapshot(async (ops) => {
    const lastId = await ops.workLastId(ns);
    await subject.write({ op: "workPurge", args: [ns, "a", null, 1_000] });
    const push = { key: "a", value: new Uint8Array([1]), priority: 0, visibleAt: now, maxAttempts: 1, policy: POLICIES[0] as string, dedup: null, reject: false };
    await subject.write({ op: "workPush", args: [ns, [push], now] });
    return { lastId, rows: await ops.workDump(ns, null, 10_000) };
  });
  assert.deepEqual(seen, { lastId: await reference.read({ op: "workLastId", args: [ns] }), rows: before }, "a snapshot's work items");
  return ran;
}
