/**
 * The rate-limit wrapper, with a controllable clock and sleep: bucket arithmetic (burst, steady rate, refill cap, exact
 * retry delays), fail and wait modes (the wait bound, waiting calls served in turn, waits that hold nothing),
 * transactions failing fast, the bucket choices (namespace, key prefix, separator, function, overrides), writes-only
 * and per-namespace limiting, the bucket bound, refused calls leaving data untouched, synchronous answers kept, option
 * checks, and SQLite's group commit.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { openStore, utf8, withRateLimit, type RateLimitOptions, type Store } from "../src/index.js";
import { storeParts } from "../src/wrappers/layer.js";
import { TokenBucket } from "../src/wrappers/token-bucket.js";

const dir = mkdtempSync(join(tmpdir(), "stowage-rate-limit-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * The limiter's clock and sleep, like real time but instant: a sleep is recorded, and when it ends (a turn later, as
 * a timer would) the clock stands at least at the time it was due — so concurrent sleeps overlap, as they do.
 */
function manualTime() {
  const time = { now: 0, sleeps: [] as number[] };
  return {
    time,
    clock: () => time.now,
    sleep: async (ms: number) => {
      time.sleeps.push(ms);
      const due = time.now + ms;
      await new Promise((resolve) => setImmediate(resolve));
      time.now = Math.max(time.now, due);
    },
  };
}

async function limited(options: Omit<RateLimitOptions, "clock" | "sleep">, base?: Store) {
  const inner = base ?? (await openStore({ backend: "memory", sweepIntervalMs: 0 }));
  const { time, clock, sleep } = manualTime();
  return { inner, store: withRateLimit(inner, { ...options, clock, sleep }), time };
}

/** Asserts a RATE_LIMITED refusal with these fields. */
async function refused(call: Promise<unknown>, retryAfterMs: number, namespace: string, key?: string, bucket?: string): Promise<void> {
  await assert.rejects(call, (error: Error & Record<string, unknown>) => {
    assert.equal(error.code, "RATE_LIMITED", error.message);
    assert.equal(error.retryAfterMs, retryAfterMs, error.message);
    assert.equal(error.namespace, namespace);
    assert.equal(error.key, key);
    if (bucket !== undefined) assert.match(error.message, new RegExp(`bucket "${bucket}"`));
    return true;
  });
}

test("a full bucket allows a burst, then the steady rate; refill stops at the burst; retryAfterMs is the exact wait", async () => {
  const { store, time } = await limited({ ratePerSec: 10, burst: 3, overrides: { slow: { ratePerSec: 0.5, burst: 1 } } });
  const kv = store.kv("events", { codec: utf8 });
  for (const key of ["a", "b", "c"]) await kv.put(key, "v");
  await refused(kv.put("d", "v"), 100, "events", "d", "events");
  time.now += 40;
  await refused(kv.put("d", "v"), 60, "events", "d");
  time.now += 59;
  await refused(kv.get("d"), 1, "events", "d");
  time.now += 1;
  await kv.put("d", "v");
  await refused(kv.put("e", "v"), 100, "events", "e");
  time.now += 250; // 2.5 tokens: two calls now, the third in 50 ms
  await kv.put("e", "v");
  await kv.put("f", "v");
  await refused(kv.put("g", "v"), 50, "events", "g");
  time.now += 3_600_000; // an hour refills only up to the burst
  for (const key of ["g", "h", "i"]) await kv.put(key, "v");
  await refused(kv.put("j", "v"), 100, "events", "j");

  const slow = store.log("slow", { codec: utf8 });
  await slow.append("k", "1");
  await refused(slow.append("k", "2"), 2_000, "slow", "k", "slow");
  assert.deepEqual(store.rateLimit.stats(), { allowed: 10, limited: 7, waited: 0, waitedMs: 0, buckets: 2 });
  await store.close();
});

test("a bucket told to wait retryAfterMs allows the call then, at any rate (no floating-point shortfall)", () => {
  for (const ratePerSec of [0.3, 3, 7, 10, 333, 3_000, 1e6]) {
    let now = 1_000.5;
    const bucket = new TokenBucket({ ratePerSec, burst: 2 }, now);
    for (let call = 0; call < 200; call++) {
      const delay = bucket.delayMs(now);
      assert.ok(Number.isSafeInteger(delay) && delay >= 0, `rate ${ratePerSec}: whole ms`);
      if (call >= 2) assert.ok(delay <= Math.ceil(1000 / ratePerSec), `rate ${ratePerSec}: never more than one token's time`);
      now += delay;
      assert.equal(bucket.delayMs(now), 0, `rate ${ratePerSec}: allowed after waiting ${delay} ms (call ${call})`);
      bucket.take();
    }
    // 200 calls at the rate, the first two free: the waits add up to the time 198 tokens take, rounded up per wait.
    assert.ok(now - 1_000.5 >= (198 * 1000) / ratePerSec - 1e-3, `rate ${ratePerSec}: the rate holds`);
  }
});

test("wait mode: over the limit a call waits for its token, waiting calls are served in turn, and past waitMaxMs it fails at once", async () => {
  const { inner, store, time } = await limited({ ratePerSec: 10, burst: 1, onLimit: { waitMaxMs: 250 } });
  const kv = store.kv("jobs", { codec: utf8 });
  const calls = ["p1", "p2", "p3", "p4"].map((key) => kv.put(key, key));
  const outcomes = await Promise.allSettled(calls);
  assert.deepEqual(outcomes.slice(0, 3).map((o) => o.status), ["fulfilled", "fulfilled", "fulfilled"]);
  assert.deepEqual(time.sleeps, [100, 200], "the second waits one token's time, the third two: tokens are reserved in turn");
  assert.ok(time.sleeps.every((ms) => ms <= 250), "no wait is longer than waitMaxMs");
  await refused(calls[3] as Promise<void>, 300, "jobs", "p4", "jobs");
  await assert.rejects(calls[3] as Promise<void>, /retry in 300 ms \(more than waitMaxMs, 250 ms\)/);
  assert.equal(time.now, 200, "the waits overlapped, and the fourth did not sleep: it would have waited 300 ms, more than allowed");
  assert.deepEqual(
    (await inner.kv("jobs", { codec: utf8 }).list()).entries.map((e) => e.key),
    ["p1", "p2", "p3"],
  );
  assert.deepEqual(store.rateLimit.stats(), { allowed: 3, limited: 1, waited: 2, waitedMs: 300, buckets: 1 });
  // At 200 ms the reservations are paid back, and the next token is due at 300 ms.
  await kv.put("p5", "p5");
  assert.deepEqual(time.sleeps, [100, 200, 100]);
  await kv.put("p6", "p6");
  assert.deepEqual(time.sleeps, [100, 200, 100, 100], "the steady rate: one token every 100 ms");
  await store.close();
});

// The timeout turns a regression (a wait that holds the engine, so the other calls never run) into a failure, not a hang.
test("a waiting call holds nothing: calls of other buckets, transactions included, complete meanwhile", { timeout: 10_000 }, async () => {
  const inner = await openStore({ backend: "memory", sweepIntervalMs: 0 });
  let now = 0;
  let wake: (() => void) | undefined;
  const asked: number[] = [];
  const store = withRateLimit(inner, {
    ratePerSec: 1,
    burst: 1,
    onLimit: { waitMaxMs: 5_000 },
    clock: () => now,
    sleep: (ms) => {
      asked.push(ms);
      return new Promise<void>((resolve) => (wake = resolve));
    },
  });
  const a = store.kv("tenant-a", { codec: utf8 });
  await a.put("1", "first");
  let done = false;
  const waiting = a.put("2", "second").then(() => (done = true));
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(asked, [1_000], "the second call of tenant-a waits a second");
  const b = store.kv("tenant-b", { codec: utf8 });
  await b.put("1", "x");
  await store.transaction(async (tx) => tx.log("tenant-c").append("k", new Uint8Array([1])));
  assert.equal(done, false, "tenant-a's call is still waiting");
  now = 1_000;
  assert.ok(wake !== undefined);
  wake();
  await waiting;
  assert.equal(await inner.kv("tenant-a", { codec: utf8 }).get("2"), "second");
  await store.close();
});

test("inside a transaction a call over the limit fails at once, even in wait mode, and the transaction stores nothing", async () => {
  for (const onLimit of ["fail", { waitMaxMs: 10_000 }] as const) {
    const { inner, store, time } = await limited({ ratePerSec: 1, burst: 2, onLimit });
    await assert.rejects(
      store.transaction(async (tx) => {
        const kv = tx.kv("orders", { codec: utf8 });
        await kv.put("a", "1");
        await kv.put("b", "2");
        await kv.put("c", "3");
      }),
      (error: Error & { code?: string; retryAfterMs?: number }) =>
        error.code === "RATE_LIMITED" && error.retryAfterMs === 1_000 && (onLimit === "fail" || /inside a transaction never waits/.test(error.message)),
    );
    assert.deepEqual(time.sleeps, [], "nothing waited inside the transaction");
    assert.equal(await inner.kv("orders").count(), 0, "rolled back: nothing stored");
    // A body that catches the refusal goes on, and commits the rest.
    time.now += 2_000;
    const stored = await store.transaction(async (tx) => {
      const kv = tx.kv("orders", { codec: utf8 });
      await kv.put("a", "1");
      await kv.put("b", "2");
      return kv.put("c", "3").then(
        () => "all",
        (error: { code?: string }) => error.code,
      );
    });
    assert.equal(stored, "RATE_LIMITED");
    assert.equal(await inner.kv("orders").count(), 2);
    await store.close();
  }
});

test("buckets by namespace, key prefix, separator or function: one tenant over its limit does not limit another", async () => {
  {
    const { store } = await limited({ ratePerSec: 1, burst: 1 });
    await store.kv("a").put("k", new Uint8Array());
    await refused(store.kv("a").put("k", new Uint8Array()), 1_000, "a", "k", "a");
    await store.kv("b").put("k", new Uint8Array());
    await store.close();
  }
  {
    const { store } = await limited({ ratePerSec: 1, burst: 1, by: { prefixLength: 4 } });
    const kv = store.kv("orders", { codec: utf8 });
    await kv.put("acme-1", "x");
    await refused(kv.put("acme-2", "x"), 1_000, "orders", "acme-2", "orders:acme");
    await kv.put("beta-1", "x");
    await kv.count(); // no key: the namespace's own bucket
    await refused(kv.list(), 1_000, "orders", undefined, "orders");
    await store.close();
  }
  {
    const { store, time } = await limited({
      ratePerSec: 1,
      burst: 1,
      by: { separator: "/" },
      overrides: { "orders:vip": { ratePerSec: 100, burst: 3 }, audit: { ratePerSec: 1, burst: 2 } },
    });
    const kv = store.kv("orders", { codec: utf8 });
    await kv.put("acme/1", "x");
    await refused(kv.get("acme/2"), 1_000, "orders", "acme/2", "orders:acme");
    await kv.put("beta/1", "x");
    await kv.put("plain", "x"); // no separator: the whole key names the bucket
    await refused(kv.put("plain", "x"), 1_000, "orders", "plain", "orders:plain");
    for (let i = 0; i < 3; i++) await kv.put(`vip/${i}`, "x"); // an override by bucket name
    await refused(kv.put("vip/3", "x"), 10, "orders", "vip/3", "orders:vip");
    const audit = store.log("audit", { codec: utf8 }); // an override by namespace, for each of its buckets
    await audit.append("t1/a", "x");
    await audit.append("t1/b", "x");
    await refused(audit.append("t1/c", "x"), 1_000, "audit", "t1/c", "audit:t1");
    await audit.append("t2/a", "x");
    time.now += 1_000;
    await kv.put("acme/2", "x");
    await store.close();
  }
  {
    const seen: Array<[string, string | undefined]> = [];
    const { store } = await limited({
      ratePerSec: 1,
      burst: 2,
      by: (namespace, key) => {
        seen.push([namespace, key]);
        return key?.startsWith("internal") ? undefined : "everyone";
      },
    });
    await store.kv("a").put("x", new Uint8Array());
    await store.log("b").append("y", new Uint8Array());
    await refused(store.slot("c").upsert("z", new Uint8Array()), 1_000, "c", "z", "everyone");
    for (let i = 0; i < 5; i++) await store.kv("a").put(`internal-${i}`, new Uint8Array()); // undefined: unlimited
    assert.deepEqual(seen.slice(0, 3), [
      ["a", "x"],
      ["b", "y"],
      ["c", "z"],
    ]);
    assert.equal(store.rateLimit.stats().buckets, 1);
    await store.close();
  }
});

test("ops: writes lets reads through; namespaces limits only those; calls without a namespace are never limited", async () => {
  {
    const { store } = await limited({ ratePerSec: 1, burst: 1, ops: "writes" });
    const kv = store.kv("ckpt", { codec: utf8 });
    await kv.put("a", "1");
    await refused(kv.put("b", "2"), 1_000, "ckpt", "b");
    await refused(kv.delete("a"), 1_000, "ckpt", "a");
    for (let i = 0; i < 20; i++) assert.equal(await kv.get("a"), "1");
    assert.equal(await kv.count(), 1);
    assert.equal((await kv.list()).entries.length, 1);
    await store.close();
  }
  {
    const { store } = await limited({ ratePerSec: 1, burst: 1, namespaces: ["limited"] });
    await store.kv("limited").put("a", new Uint8Array());
    await refused(store.kv("limited").get("a"), 1_000, "limited", "a");
    for (let i = 0; i < 20; i++) await store.kv("free").put(`k${i}`, new Uint8Array());
    assert.deepEqual(store.rateLimit.stats(), { allowed: 1, limited: 1, waited: 0, waitedMs: 0, buckets: 1 });
    await store.close();
  }
  {
    const { store } = await limited({ ratePerSec: 1, burst: 1 });
    await store.kv("a").put("k", new Uint8Array(), { ttlMs: 1 });
    await refused(store.kv("a").get("k"), 1_000, "a", "k");
    for (let i = 0; i < 5; i++) {
      assert.equal(typeof (await store.sweep()), "number");
      assert.equal((await store.info()).engine, "memory");
    }
    await store.close();
  }
});

test("at most maxBuckets buckets are kept: the least recently used goes, and comes back full", async () => {
  const { store } = await limited({ ratePerSec: 1, burst: 1, maxBuckets: 2 });
  const put = (ns: string) => store.kv(ns).put("k", new Uint8Array());
  await put("a");
  await put("b");
  await refused(put("a"), 1_000, "a", "k"); // a is now the most recently used, b the least
  await put("c"); // drops b
  assert.equal(store.rateLimit.stats().buckets, 2);
  await put("b"); // back, full; drops a
  await put("a"); // back, full; drops c
  await refused(put("b"), 1_000, "b", "k");
  for (let i = 0; i < 50; i++) await put(`n${i}`);
  assert.equal(store.rateLimit.stats().buckets, 2);
  await store.close();
});

test("a refused call changes nothing, whatever it writes", async () => {
  const { inner, store } = await limited({ ratePerSec: 1, burst: 1, ops: "writes", by: (_ns, key) => key ?? "keyless" });
  const kv = store.kv("kv", { codec: utf8 });
  const log = store.log("log", { codec: utf8 });
  const slot = store.slot("slot", { codec: utf8 });
  const queue = store.queue("queue", { codec: utf8 });
  const stream = store.stream("stream", { codec: utf8 });
  // Each bucket (here: each key) allows one write: the seed. Every further write to it is refused.
  await kv.put("k", "seed");
  await log.append("l", "seed");
  await slot.upsert("s", "seed");
  const id = await queue.push("q", "seed");
  await stream.produce("sp", "seg", [{ value: "seed" }]);
  await store.kv("kv2", { codec: utf8 }).deleteRange({}); // spends the keyless bucket
  const refusals = [
    kv.put("k", "changed"),
    kv.delete("k"),
    kv.deleteRange({}),
    log.append("l", "more"),
    slot.upsert("s", "changed"),
    slot.cas("s", 1, "changed"),
    queue.push("q", "more"),
    queue.ack("q", id),
    queue.dropOldest("q", 1),
    stream.produce("sp", "seg", [{ value: "more" }], { expectedSeq: 1 }),
  ];
  for (const call of await Promise.allSettled(refusals)) {
    assert.equal(call.status, "rejected");
    assert.equal((call as PromiseRejectedResult).reason.code, "RATE_LIMITED");
  }
  assert.deepEqual((await inner.kv("kv", { codec: utf8 }).list()).entries, [{ key: "k", value: "seed" }]);
  assert.deepEqual((await inner.log("log", { codec: utf8 }).list("l")).map((e) => e.value), ["seed"]);
  assert.equal(await inner.log("log").lastSeq(), 1);
  assert.deepEqual(await inner.slot("slot", { codec: utf8 }).get("s"), { version: 1, value: "seed" });
  assert.deepEqual((await inner.queue("queue", { codec: utf8 }).peek("q", 10)).map((i) => [i.id, i.value]), [[id, "seed"]]);
  assert.equal((await inner.stream("stream").status("sp", "seg")).lastSeq, 1);
  assert.equal(store.rateLimit.stats().limited, refusals.length);
  await store.close();
});

test("an allowed read on a synchronous engine keeps its synchronous answer, in fail and in wait mode", async () => {
  for (const onLimit of ["fail", { waitMaxMs: 1_000 }] as const) {
    const { store, time } = await limited({ ratePerSec: 1, burst: 1, onLimit });
    const engine = storeParts(store).engine;
    const answer = engine.read({ op: "kvGet", args: ["ns", "k", 0] });
    assert.ok(!(answer instanceof Promise), "allowed: answered at once");
    assert.equal(answer, undefined);
    if (onLimit === "fail") {
      assert.throws(() => engine.read({ op: "kvGet", args: ["ns", "k", 0] }), { code: "RATE_LIMITED" });
    } else {
      const waited = engine.read({ op: "kvGet", args: ["ns", "k", 0] });
      assert.ok(waited instanceof Promise, "only a call that waits answers later");
      assert.equal(await waited, undefined);
      assert.deepEqual(time.sleeps, [1_000]);
    }
    await store.close();
  }
});

test("options are checked when the store is wrapped", async () => {
  const inner = await openStore({ backend: "memory", sweepIntervalMs: 0 });
  const bad: unknown[] = [
    undefined,
    null,
    {},
    { ratePerSec: 0, burst: 1 },
    { ratePerSec: -1, burst: 1 },
    { ratePerSec: Number.POSITIVE_INFINITY, burst: 1 },
    { ratePerSec: "10", burst: 1 },
    { ratePerSec: 10, burst: 0 },
    { ratePerSec: 10, burst: 1.5 },
    { ratePerSec: 10, burst: 5, extra: true },
    { ratePerSec: 10, burst: 5, by: "key" },
    { ratePerSec: 10, burst: 5, by: { prefixLength: 0 } },
    { ratePerSec: 10, burst: 5, by: { separator: "" } },
    { ratePerSec: 10, burst: 5, by: { prefixLength: 2, separator: "/" } },
    { ratePerSec: 10, burst: 5, onLimit: "wait" },
    { ratePerSec: 10, burst: 5, onLimit: { waitMaxMs: -1 } },
    { ratePerSec: 10, burst: 5, onLimit: { waitMaxMs: 3_600_001 } },
    { ratePerSec: 10, burst: 5, onLimit: { waitMs: 10 } },
    { ratePerSec: 10, burst: 5, ops: "reads" },
    { ratePerSec: 10, burst: 5, namespaces: [] },
    { ratePerSec: 10, burst: 5, namespaces: ["not a namespace"] },
    { ratePerSec: 10, burst: 5, namespaces: "orders" },
    { ratePerSec: 10, burst: 5, overrides: { orders: { ratePerSec: 0, burst: 1 } } },
    { ratePerSec: 10, burst: 5, overrides: { orders: { ratePerSec: 1 } } },
    { ratePerSec: 10, burst: 5, overrides: { orders: null } },
    { ratePerSec: 10, burst: 5, maxBuckets: 0 },
    { ratePerSec: 10, burst: 5, clock: 5 },
    { ratePerSec: 10, burst: 5, sleep: "later" },
  ];
  for (const options of bad) {
    assert.throws(() => withRateLimit(inner, options as RateLimitOptions), { code: "INVALID_ARGUMENT" }, JSON.stringify(options));
  }
  assert.throws(() => withRateLimit({} as Store, { ratePerSec: 1, burst: 1 }), { code: "INVALID_ARGUMENT" });
  const store = withRateLimit(inner, { ratePerSec: 1, burst: 5, by: () => 42 as unknown as string });
  await assert.rejects(store.kv("a").get("k"), { code: "INVALID_ARGUMENT" });
  await store.close();
});

test("SQLite: in a group commit a refused write is counted once, its neighbours commit once, and waits are taken outside the writer", async () => {
  {
    const base = await openStore({ backend: "sqlite", path: join(dir, "fail.db"), sweepIntervalMs: 0 });
    const { inner, store } = await limited({ ratePerSec: 1, burst: 3 }, base);
    const kv = store.kv("events", { codec: utf8 });
    // Issued in one turn: one group commit, which SQLite runs again write by write when one of them fails.
    const outcomes = await Promise.allSettled(["a", "b", "c", "d", "e"].map((key) => kv.put(key, key)));
    assert.deepEqual(outcomes.map((o) => o.status), ["fulfilled", "fulfilled", "fulfilled", "rejected", "rejected"]);
    assert.deepEqual(store.rateLimit.stats(), { allowed: 3, limited: 2, waited: 0, waitedMs: 0, buckets: 1 });
    assert.equal(await inner.kv("events").count(), 3);
    await store.close();
  }
  {
    const base = await openStore({ backend: "sqlite", path: join(dir, "wait.db"), sweepIntervalMs: 0 });
    const { inner, store, time } = await limited({ ratePerSec: 10, burst: 1, onLimit: { waitMaxMs: 1_000 } }, base);
    const log = store.log("events", { codec: utf8 });
    const seqs = await Promise.all(["a", "b", "c"].map((value) => log.append("k", value)));
    assert.deepEqual([...seqs].sort(), [1, 2, 3]);
    assert.deepEqual(time.sleeps, [100, 200]);
    assert.deepEqual((await inner.log("events", { codec: utf8 }).list("k")).map((e) => e.value).sort(), ["a", "b", "c"]);
    assert.deepEqual(store.rateLimit.stats(), { allowed: 3, limited: 0, waited: 2, waitedMs: 300, buckets: 1 });
    await store.close();
  }
});

test("a call waiting for its token when the store beneath is closed fails CLOSED and writes nothing", async () => {
  const base = await openStore({ backend: "memory", sweepIntervalMs: 0 });
  const store = withRateLimit(base, { ratePerSec: 10, burst: 1, onLimit: { waitMaxMs: 1_000 } });
  await store.kv("ns").put("first", new Uint8Array([1]));
  const waiting = store.kv("ns").put("second", new Uint8Array([2])); // waits ~100 ms for its token
  await base.close();
  await assert.rejects(waiting, { code: "CLOSED" });
  await store.close();
});
