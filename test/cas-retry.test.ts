/**
 * withCasRetry and updateSlot on the memory engine: real slots and streams racing, retries that give up with the last
 * CONFLICT, errors that are not retried, and the jittered pauses between attempts.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { isStowageError, json, StowageError } from "../src/index.js";
import { CAS_LOST, updateSlot, withCasRetry } from "../src/wrappers/cas-retry.js";
import { withMemoryStore } from "./helpers/memory-store.js";


/** A sleep that records the pauses asked for and takes none. */
function recordingSleep(): { pauses: number[]; sleep: (ms: number) => Promise<void> } {
  const pauses: number[] = [];
  return { pauses, sleep: async (ms: number) => void pauses.push(ms) };
}

const isConflict = (error: unknown) => isStowageError(error, "CONFLICT");

test("two updaters racing on one slot both finish: each lost CAS is retried on fresh state, no increment is lost", async () => {
  await withMemoryStore(async (store) => {
    const slot = store.slot("counters", { codec: json<number>() });
    const { sleep } = recordingSleep();
    let lost = 0;
    const increment = () =>
      withCasRetry(
        async () => {
          const current = await slot.get("hits");
          if (await slot.cas("hits", current?.version ?? 0, (current?.value ?? 0) + 1)) return true;
          lost += 1;
          return CAS_LOST;
        },
        { attempts: 100, sleep },
      );
    const updater = async () => {
      for (let i = 0; i < 10; i++) await increment();
    };
    await Promise.all([updater(), updater()]);
    assert.deepEqual(await slot.get("hits"), { version: 20, value: 20 });
    assert.ok(lost > 0, "the updaters did race: some CAS was lost and retried");
  });
});

test("updateSlot succeeds after k lost CASes and resolves to what it wrote", async () => {
  await withMemoryStore(async (store) => {
    const slot = store.slot("config", { codec: json<{ n: number }>() });
    const { pauses, sleep } = recordingSleep();
    let calls = 0;
    const written = await updateSlot(
      slot,
      "app",
      async (current) => {
        calls += 1;
        // A rival writes between this read and its CAS, the first three times.
        if (calls <= 3) await slot.upsert("app", { n: 100 * calls });
        return { n: (current?.n ?? 0) + 1 };
      },
      { sleep, random: () => 0.5 },
    );
    assert.equal(calls, 4);
    assert.equal(pauses.length, 3, "a pause after each lost attempt");
    assert.deepEqual(written, { version: 4, value: { n: 301 } });
    assert.deepEqual(await slot.get("app"), written);
  });
});

test("gives up after `attempts` lost CASes with a CONFLICT naming the slot", async () => {
  await withMemoryStore(async (store) => {
    const slot = store.slot("config", { codec: json<number>() });
    const { pauses, sleep } = recordingSleep();
    let calls = 0;
    const giveUp = updateSlot(
      slot,
      "app",
      async (current) => {
        calls += 1;
        await slot.upsert("app", -calls); // always a step ahead
        return (current ?? 0) + 1;
      },
      { attempts: 4, sleep },
    );
    await assert.rejects(giveUp, (error: unknown) => {
      assert.ok(error instanceof StowageError && error.code === "CONFLICT");
      assert.equal(error.namespace, "config");
      assert.equal(error.key, "app");
      assert.match(error.message, /lost to a concurrent writer 4 times in 4 attempts/);
      return true;
    });
    assert.equal(calls, 4);
    assert.equal(pauses.length, 3, "no pause after the last attempt");
    assert.equal((await slot.get("app"))?.value, -4, "no write of the updater landed");
  });
});

test("a thrown CONFLICT (stream produce with a stale expectedSeq) is retried, and the last one is thrown on giving up", async () => {
  await withMemoryStore(async (store) => {
    const events = store.stream("events", { codec: json<string>() });
    const { sleep } = recordingSleep();
    const conflicts: unknown[] = [];
    let rivalRounds = 3;
    const produce = (attempts: number) =>
      withCasRetry(
        async () => {
          const { lastSeq } = await events.status("orders", "shard-1");
          if (rivalRounds-- > 0) await events.produce("orders", "shard-1", [{ value: "rival" }]);
          try {
            return await events.produce("orders", "shard-1", [{ value: "mine" }], { expectedSeq: lastSeq });
          } catch (error) {
            conflicts.push(error);
            throw error;
          }
        },
        { attempts, sleep },
      );
    await assert.rejects(produce(3), (error: unknown) => {
      assert.equal(error, conflicts[2], "the last CONFLICT itself, with its currentSeq");
      assert.ok(error instanceof StowageError && error.code === "CONFLICT" && error.currentSeq === 3);
      return true;
    });
    assert.equal(conflicts.length, 3);
    rivalRounds = 2;
    const status = await produce(5);
    assert.deepEqual({ lastSeq: status.lastSeq, count: status.count }, { lastSeq: 6, count: 6 }, "three rivals, two more, then mine");
    assert.equal((await events.peek("orders", "shard-1"))?.value, "mine");
  });
});

test("errors other than CONFLICT are not retried", async () => {
  await withMemoryStore(async (store) => {
    const slot = store.slot("config");
    const { pauses, sleep } = recordingSleep();
    let calls = 0;
    const tooLong = withCasRetry(
      async () => {
        calls += 1;
        return (await slot.cas("k".repeat(2_000), 0, new Uint8Array())) ? "won" : CAS_LOST;
      },
      { sleep },
    );
    await assert.rejects(tooLong, (error: unknown) => isStowageError(error, "LIMIT_EXCEEDED"));
    const plain = withCasRetry(
      async () => {
        calls += 1;
        throw new TypeError("a bug in the attempt");
      },
      { sleep },
    );
    await assert.rejects(plain, TypeError);
    assert.equal(calls, 2, "each ran once");
    assert.deepEqual(pauses, []);
  });
});

test("pauses grow exponentially with full jitter and stop at maxDelayMs", async () => {
  const { pauses, sleep } = recordingSleep();
  const shares = [0.5, 0.5, 0.5, 0.5, 0.999, 0];
  const lose = withCasRetry(async () => CAS_LOST, { attempts: 7, baseDelayMs: 10, maxDelayMs: 60, sleep, random: () => shares.shift() ?? 0.5 });
  await assert.rejects(lose, isConflict);
  // Caps 10, 20, 40, 60, 60, 60; each pause a share of its cap (a share of 0 takes no pause at all).
  assert.deepEqual(pauses, [5, 10, 20, 30, 60 * 0.999]);
  assert.ok(pauses.every((ms) => ms < 60));
});

test("an abort ends the retries, also in the middle of a pause", { timeout: 5_000 }, async () => {
  const stop = new AbortController();
  let calls = 0;
  const retrying = withCasRetry(
    async () => {
      calls += 1;
      setTimeout(() => stop.abort(new Error("shutting down")), 10);
      return CAS_LOST;
    },
    // A 20 s pause: only the abort can end it within the test's timeout.
    { baseDelayMs: 20_000, maxDelayMs: 20_000, random: () => 1, signal: stop.signal },
  );
  await assert.rejects(retrying, /shutting down/);
  assert.equal(calls, 1);
  await assert.rejects(withCasRetry(async () => "never", { signal: stop.signal }), /shutting down/, "aborted before the first attempt");
});

test("bad options are INVALID_ARGUMENT", async () => {
  const run = async () => "x";
  for (const options of [{ attempts: 0 }, { attempts: 1.5 }, { baseDelayMs: -1 }, { maxDelayMs: Number.NaN }, { random: 3 }, { signal: "no" }]) {
    await assert.rejects(withCasRetry(run, options as never), (error: unknown) => isStowageError(error, "INVALID_ARGUMENT"), JSON.stringify(options));
  }
  await assert.rejects(withCasRetry("run" as never), (error: unknown) => isStowageError(error, "INVALID_ARGUMENT"));
  assert.equal(await withCasRetry(run, { attempts: 1 }), "x");
});

test("an attempt resolving false (slot.cas lost) counts as a lost CAS: withCasRetry(() => slot.cas(…)) retries", async () => {
  await withMemoryStore(async (store) => {
    const slot = store.slot("config", { codec: json<number>() });
    await slot.upsert("app", 1);
    const { pauses, sleep } = recordingSleep();
    let runs = 0;
    const result = await withCasRetry(
      async () => {
        runs += 1;
        // The first two attempts expect a stale version, as if a rival wrote between read and CAS.
        const current = await slot.get("app");
        return slot.cas("app", runs <= 2 ? 0 : (current?.version ?? 0), 2);
      },
      { sleep, random: () => 0.5 },
    );
    assert.equal(result, true);
    assert.equal(runs, 3);
    assert.equal(pauses.length, 2);
    assert.deepEqual(await slot.get("app"), { version: 2, value: 2 });
  });
});

test("an attempt that always resolves false gives up with CONFLICT counting the lost CASes", async () => {
  const { sleep } = recordingSleep();
  let runs = 0;
  await assert.rejects(
    withCasRetry(async () => {
      runs += 1;
      return false;
    }, { attempts: 4, sleep, namespace: "config", key: "app" }),
    (error: unknown) => isConflict(error) && /lost to a concurrent writer 4 times in 4 attempts/.test((error as StowageError).message),
  );
  assert.equal(runs, 4);
});
