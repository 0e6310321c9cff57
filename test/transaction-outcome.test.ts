/**
 * How the store settles a transaction whose calls failed (issue 17, defects 1 and 3), on an engine that fails on
 * demand: a failure the engine marks as ending its transaction rejects the transaction even when the body caught it
 * and returned; only the engine's own serialization failures run the body again — from a call of the body or from
 * the commit — never a CONFLICT the body throws itself.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { createStore, StowageError, type Store } from "../src/index.js";
import type { Engine, EngineOps } from "../src/engines/engine.js";
import { MemoryEngine } from "../src/engines/memory/memory-engine.js";
import { serializationFailure, transactionFatal } from "../src/engines/transaction-failure.js";

type Failure = "fatal" | "serialization" | "plain-conflict";

/** The memory engine, whose transactions fail their first `kvGet` (or their commit) the way they are told to. */
class FailingEngine implements Engine {
  readonly name = "failing";
  readonly location = "memory";
  readonly supports = { ...MemoryEngine.supports, liveFeeds: false };
  private readonly inner = new MemoryEngine();
  /** How the next transactions' first kvGet fails, one entry per transaction; none left: they do not fail. */
  callFailures: Failure[] = [];
  /** How the next commits fail, one entry per transaction. */
  commitFailures: Failure[] = [];

  read: Engine["read"] = (call) => this.inner.read(call);
  write: Engine["write"] = (call) => this.inner.write(call);
  check = () => this.inner.check();
  close = () => this.inner.close();

  transaction<T>(body: (ops: EngineOps) => Promise<T>): Promise<T> {
    const callFailure = this.callFailures.shift();
    const commitFailure = this.commitFailures.shift();
    return this.inner.transaction(async (ops) => {
      let failed = callFailure === undefined;
      const failing: EngineOps = {
        ...bound(ops),
        kvGet: (ns, key, now) => {
          if (!failed) {
            failed = true;
            throw failure(callFailure as Failure);
          }
          return ops.kvGet(ns, key, now);
        },
      };
      const result = await body(failing);
      if (commitFailure !== undefined) throw failure(commitFailure);
      return result;
    });
  }
}

function bound(ops: EngineOps): EngineOps {
  const copy: Record<string, unknown> = {};
  for (const name of Object.getOwnPropertyNames(Object.getPrototypeOf(ops)).concat(Object.keys(ops))) {
    const member = (ops as unknown as Record<string, unknown>)[name];
    if (typeof member === "function" && name !== "constructor") copy[name] = (member as (...args: unknown[]) => unknown).bind(ops);
  }
  return copy as unknown as EngineOps;
}

function failure(kind: Failure): Error {
  if (kind === "fatal") return transactionFatal(new StowageError("BACKEND_UNAVAILABLE", "the connection was lost"));
  if (kind === "serialization") return serializationFailure(new StowageError("CONFLICT", "a concurrent transaction conflicted"));
  return new StowageError("CONFLICT", "a conflict no engine flagged");
}

async function withEngine(body: (store: Store, engine: FailingEngine) => Promise<void>): Promise<void> {
  const engine = new FailingEngine();
  const store = createStore(engine, { sweepIntervalMs: 0 });
  try {
    await body(store, engine);
  } finally {
    await store.close();
  }
}

const enc = (text: string) => new TextEncoder().encode(text);

/** A body that writes, reads (the call that fails), catches the failure and returns normally. */
function catchingBody(runs: { n: number }) {
  return async (tx: Parameters<Parameters<Store["transaction"]>[0]>[0]) => {
    runs.n += 1;
    await tx.kv("a").put("k", enc(`run ${runs.n}`));
    await tx
      .kv("a")
      .get("other")
      .catch(() => undefined);
    return "returned";
  };
}

test("a failure that ends the transaction rejects it although the body caught it, and nothing of it stays", async () => {
  await withEngine(async (store, engine) => {
    engine.callFailures = ["fatal"];
    const runs = { n: 0 };
    await assert.rejects(store.transaction(catchingBody(runs)), (error: unknown) => (error as StowageError).code === "BACKEND_UNAVAILABLE");
    assert.equal(runs.n, 1);
    assert.equal(await store.kv("a").get("k"), undefined);
  });
});

test("later calls of a body whose transaction ended fail with the same failure", async () => {
  await withEngine(async (store, engine) => {
    engine.callFailures = ["fatal"];
    let later: unknown;
    await assert.rejects(
      store.transaction(async (tx) => {
        const first = await tx
          .kv("a")
          .get("x")
          .catch((error: unknown) => error);
        later = await tx
          .kv("a")
          .put("y", enc("y"))
          .catch((error: unknown) => error);
        return first;
      }),
    );
    assert.equal((later as StowageError).code, "BACKEND_UNAVAILABLE");
    assert.equal(await store.kv("a").get("y"), undefined);
  });
});

test("a serialization failure of a call runs the body again, even when the body caught it", async () => {
  await withEngine(async (store, engine) => {
    engine.callFailures = ["serialization"];
    const runs = { n: 0 };
    assert.equal(await store.transaction(catchingBody(runs)), "returned");
    assert.equal(runs.n, 2);
    assert.deepEqual(await store.kv("a").get("k"), enc("run 2"));
  });
});

test("a serialization failure at commit runs the body again", async () => {
  await withEngine(async (store, engine) => {
    engine.commitFailures = ["serialization"];
    const runs = { n: 0 };
    assert.equal(await store.transaction(catchingBody(runs)), "returned");
    assert.equal(runs.n, 2);
  });
});

test("a CONFLICT the engine did not flag as a serialization failure is not retried, from a call or from the commit", async () => {
  await withEngine(async (store, engine) => {
    engine.commitFailures = ["plain-conflict"];
    const runs = { n: 0 };
    await assert.rejects(store.transaction(catchingBody(runs)), (error: unknown) => (error as StowageError).code === "CONFLICT");
    assert.equal(runs.n, 1);
  });
});

test("a body that rethrows a serialization failure of another store is not run again", async () => {
  await withEngine(async (store) => {
    const foreign = serializationFailure(new StowageError("CONFLICT", "another store's conflict"));
    let runs = 0;
    await assert.rejects(
      store.transaction(async () => {
        runs += 1;
        throw foreign;
      }),
      (error) => error === foreign,
    );
    assert.equal(runs, 1);
  });
});

test("after maxAttempts serialization failures the last one reaches the caller", async () => {
  await withEngine(async (store, engine) => {
    engine.callFailures = ["serialization", "serialization", "serialization"];
    const runs = { n: 0 };
    await assert.rejects(store.transaction(catchingBody(runs), { maxAttempts: 3 }), (error: unknown) => (error as StowageError).code === "CONFLICT");
    assert.equal(runs.n, 3);
  });
});
