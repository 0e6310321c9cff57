/**
 * `store.workQueue` before the engines have work queues (issue 21, stage A): every call on today's engines is
 * NOT_SUPPORTED naming the engine and `supports.workQueues`, before any I/O, in and out of transactions; and on an
 * engine that declares work queues, bad input is a typed error before any I/O.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createStore, LIMITS, type Lease, type Store, type WorkQueue } from "../src/index.js";
import { rejectsWith as failsWith } from "../src/conformance/harness.js";
import { DeclaredEngine, declaring } from "./helpers/declared-engine.js";

const lease = (overrides: Partial<Lease> = {}): Lease => ({ namespace: "jobs", key: "email", id: 1, token: 7, attempt: 1, deadline: 1_000, ...overrides });

/** One call of every WorkQueue method, with valid arguments. */
const EVERY_CALL: Record<string, (queue: WorkQueue) => Promise<unknown>> = {
  push: (q) => q.push("email", new Uint8Array([1])),
  pushMany: (q) => q.pushMany("email", [{ value: new Uint8Array([1]) }, { value: new Uint8Array([2]), priority: 3 }]),
  claim: (q) => q.claim("email", { limit: 10 }),
  ack: (q) => q.ack(lease()),
  ackMany: (q) => q.ackMany([lease()]),
  extend: (q) => q.extend(lease(), 5_000),
  extendMany: (q) => q.extendMany([lease()]),
  release: (q) => q.release(lease(), { delayMs: 10 }),
  fail: (q) => q.fail(lease(), new Error("boom")),
  counts: (q) => q.counts("email"),
  keys: (q) => q.keys(),
  dead: (q) => q.dead("email"),
  requeue: (q) => q.requeue("email"),
  purgeDead: (q) => q.purgeDead("email", [1, 2]),
};

/** Every built-in engine serves work queues now: an engine declaring none stands for a third-party one. */
const ENGINES: Record<string, () => Promise<Store>> = {
  "no-work": async () => createStore(new DeclaredEngine("no-work", declaring({ workQueues: false })), { sweepIntervalMs: 0 }),
};

describe("work queues on engines without them", () => {
  for (const [name, open] of Object.entries(ENGINES)) {
    test(`${name}: every call is NOT_SUPPORTED naming the engine and supports.workQueues, in and out of transactions`, async () => {
      const store = await open();
      try {
        const engine = store.engine;
        for (const [method, call] of Object.entries(EVERY_CALL)) {
          await failsWith(() => call(store.workQueue("jobs")), "NOT_SUPPORTED", `${engine} engine`, "supports.workQueues", 'namespace "jobs"');
          await failsWith(() => store.transaction(async (tx) => call(tx.workQueue("jobs"))), "NOT_SUPPORTED", `${engine} engine`, "workQueues", method === "keys" ? "" : "jobs");
        }
        assert.deepEqual((await store.info()).namespaces, [], "nothing was written");
      } finally {
        await store.close();
      }
    });
  }

  test("the refusal comes before any engine call, even for bad input", async () => {
    const engine = new DeclaredEngine("no-work", declaring({ workQueues: false }));
    const store = createStore(engine, { sweepIntervalMs: 0 });
    try {
      for (const call of Object.values(EVERY_CALL)) await failsWith(() => call(store.workQueue("jobs")), "NOT_SUPPORTED", "no-work engine", "workQueues");
      await failsWith(() => store.workQueue("jobs").claim("", { limit: -1 }), "NOT_SUPPORTED", "workQueues");
      assert.equal(engine.calls, 0, `the refusals reached no engine call: ${engine.ops.join(", ")}`);
    } finally {
      await store.close();
    }
  });
});

describe("work queue input checks (an engine that declares work queues)", () => {
  /** The memory engine under another name, declaring work queues: a call that passes the checks shows as an engine call. */
  const withDeclared = async (body: (store: Store, engine: DeclaredEngine) => Promise<void>) => {
    const engine = new DeclaredEngine("declared", declaring({ workQueues: true }));
    const store = createStore(engine, { sweepIntervalMs: 0 });
    try {
      await body(store, engine);
    } finally {
      await store.close();
    }
  };

  test("bad queue options fail INVALID_ARGUMENT when the handle is taken", async () => {
    await withDeclared(async (store) => {
      await failsWith(() => store.workQueue("jobs", { visibilityMs: 0 }), "INVALID_ARGUMENT", "visibilityMs", 'namespace "jobs"');
      await failsWith(() => store.workQueue("jobs", { visibilityMs: LIMITS.maxTimerMs + 1 }), "INVALID_ARGUMENT", "visibilityMs");
      await failsWith(() => store.workQueue("jobs", { retry: { maxAttempts: 0 } }), "INVALID_ARGUMENT", "retry.maxAttempts");
      await failsWith(() => store.workQueue("jobs", { retry: { backoff: { type: "linear" as "fixed", delayMs: 1 } } }), "INVALID_ARGUMENT", "retry.backoff.type");
      await failsWith(() => store.workQueue("jobs", { lease: 5 } as object), "INVALID_ARGUMENT", `unknown field "lease"`);
      await failsWith(() => store.workQueue("bad namespace"), "INVALID_ARGUMENT", "namespace");
    });
  });

  test("bad arguments fail with typed errors naming namespace and key, before any engine call", async () => {
    await withDeclared(async (store, engine) => {
      const q = store.workQueue("jobs");
      const value = new Uint8Array([1]);
      await failsWith(() => q.push("", value), "INVALID_ARGUMENT", "key must not be empty", 'namespace "jobs"');
      await failsWith(() => q.push("k".repeat(LIMITS.maxKeyBytes + 1), value), "LIMIT_EXCEEDED", "key");
      await failsWith(() => q.push("email", value, { delayMs: 5, notBefore: 10 }), "INVALID_ARGUMENT", "not both", 'key "email"');
      await failsWith(() => q.push("email", value, { delayMs: -1 }), "INVALID_ARGUMENT", "delayMs");
      await failsWith(() => q.push("email", value, { priority: 2 ** 31 }), "INVALID_ARGUMENT", "priority must be a whole number from -2147483648 to 2147483647");
      await failsWith(() => q.push("email", value, { dedupKey: "" }), "INVALID_ARGUMENT", "dedupKey must not be empty");
      await failsWith(() => q.push("email", value, { onDuplicate: "ignore" as "reject" }), "INVALID_ARGUMENT", "onDuplicate");
      await failsWith(() => q.push("email", value, { retry: { maxAttempts: LIMITS.maxWorkAttempts + 1 } }), "INVALID_ARGUMENT", "retry.maxAttempts");
      await failsWith(() => q.push("email", "text" as unknown as Uint8Array), "INVALID_ARGUMENT", "value");
      await failsWith(() => q.push("email", new Uint8Array(LIMITS.maxValueBytes + 1)), "LIMIT_EXCEEDED", "value");
      await failsWith(() => q.pushMany("email", [{ value }, { priority: 1 } as unknown as { value: Uint8Array }]), "INVALID_ARGUMENT", "items[1] has no value");
      await failsWith(() => q.pushMany("email", "x" as unknown as []), "INVALID_ARGUMENT", "items must be an array");
      await failsWith(() => q.claim("email", { limit: LIMITS.maxClaimLimit + 1 }), "INVALID_ARGUMENT", "limit");
      await failsWith(() => q.claim("email", { limit: 0 }), "INVALID_ARGUMENT", "limit");
      await failsWith(() => q.claim("email", { visibilityMs: 0 }), "INVALID_ARGUMENT", "visibilityMs");
      await failsWith(() => q.ack(lease({ namespace: "other" })), "INVALID_ARGUMENT", `belongs to namespace "other"`, 'namespace "jobs"');
      await failsWith(() => q.ack(null as unknown as Lease), "INVALID_ARGUMENT", "lease must be a lease");
      await failsWith(() => q.ack(lease({ token: 0 })), "INVALID_ARGUMENT", "lease.token");
      await failsWith(() => q.ack(lease({ token: 2 ** 48 })), "INVALID_ARGUMENT", "lease.token");
      await failsWith(() => q.ack(lease({ id: 1.5 })), "INVALID_ARGUMENT", "lease.id");
      await failsWith(() => q.ack(lease({ key: "" })), "INVALID_ARGUMENT", "lease.key");
      await failsWith(() => q.ackMany([lease(), lease({ namespace: "other" })]), "INVALID_ARGUMENT", "leases[1]");
      await failsWith(() => q.extend(lease(), 0), "INVALID_ARGUMENT", "ms");
      await failsWith(() => q.extendMany([lease({ attempt: 0 })]), "INVALID_ARGUMENT", "leases[0].attempt");
      await failsWith(() => q.release(lease(), { delayMs: LIMITS.maxTtlMs + 1 }), "INVALID_ARGUMENT", "delayMs");
      await failsWith(() => q.release(lease(), { countAttempt: "yes" as unknown as boolean }), "INVALID_ARGUMENT", "countAttempt");
      await failsWith(() => q.fail(lease(), new Error("x"), { retryAfterMs: -5 }), "INVALID_ARGUMENT", "retryAfterMs");
      await failsWith(() => q.fail(lease(), new Error("x"), { later: true } as object), "INVALID_ARGUMENT", `unknown field "later"`);
      await failsWith(() => q.keys({ limit: LIMITS.maxPageSize + 1 }), "INVALID_ARGUMENT", "limit");
      await failsWith(() => q.dead("email", { afterId: -1 }), "INVALID_ARGUMENT", "afterId");
      await failsWith(() => q.requeue("email", [0]), "INVALID_ARGUMENT", "ids[0]");
      await failsWith(() => q.purgeDead("email", 3 as unknown as number[]), "INVALID_ARGUMENT", "ids must be an array");
      assert.equal(engine.calls, 0, `bad input reached no engine call: ${engine.ops.join(", ")}`);
    });
  });

  test("valid calls pass the checks and reach the engine as the work operation each names", async () => {
    await withDeclared(async (store, engine) => {
      for (const [method, call] of Object.entries(EVERY_CALL)) {
        // The made-up lease was never claimed: settling or extending it alone is refused, by the engine.
        const refused = ["ack", "extend", "release", "fail"].includes(method);
        if (refused) await failsWith(() => call(store.workQueue("jobs")), "LEASE_LOST", "item 1");
        else await call(store.workQueue("jobs"));
      }
      assert.deepEqual(engine.ops, [
        "workPush", "workPush", "workClaim", "workSettle", "workSettle", "workExtend", "workExtend",
        "workSettle", "workSettle", "workCounts", "workKeys", "workDead", "workRequeue", "workPurge",
      ]);
    });
  });
});
