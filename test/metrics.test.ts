/**
 * The metrics wrapper: counts and errors per operation and namespace, latency percentiles against known latencies,
 * the sliding window, the bound on samples and on namespaces, transactions, Prometheus exposition, stacking, and a
 * SQLite store under a cache.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { Registry } from "prom-client";
import { isStowageError, openStore, utf8, withCache, withMetrics, type MetricsOptions, type SeriesSnapshot, type Store } from "../src/index.js";

/** A metrics clock that returns scripted readings in order, then keeps returning the last one. */
class ScriptedClock {
  private readings: number[] = [];
  private last = 0;
  readonly now = (): number => (this.last = this.readings.shift() ?? this.last);
  /** The next two readings make one call take `ms`, starting at `at`. */
  call(at: number, ms: number): void {
    this.readings.push(at, at + ms);
  }
  /** Every reading from now on is `t`, until more are scripted. */
  set(t: number): void {
    this.readings = [];
    this.last = t;
  }
}

async function metered(options: MetricsOptions = {}) {
  const base = await openStore({ backend: "memory", sweepIntervalMs: 0 });
  return withMetrics(base, options);
}

/** The series of `op` in `namespace`, or a failure. */
function seriesOf(store: { metrics: { snapshot(): { series: SeriesSnapshot[] } } }, op: string, namespace: string): SeriesSnapshot {
  const found = store.metrics.snapshot().series.find((s) => s.op === op && s.namespace === namespace);
  assert.ok(found, `a series for ${op} in ${namespace}`);
  return found;
}

const counts = (series: SeriesSnapshot[]) => series.map(({ op, namespace, calls, errors, samples }) => ({ op, namespace, calls, errors, samples }));

test("calls and errors by code are counted per operation and namespace", async () => {
  const store = await metered();
  const kv = store.kv("a", { codec: utf8 });
  await kv.put("x", "1");
  await kv.put("y", "2");
  await kv.put("x", "3");
  assert.equal(await kv.get("x"), "3");
  assert.equal(await kv.get("missing"), undefined);
  assert.equal((await kv.list()).entries.length, 2);
  assert.equal(await kv.delete("y"), true);

  const queue = store.queue("q", { maxLen: 1, overflow: "reject" });
  await queue.push("jobs", utf8.encode("one"));
  await assert.rejects(queue.push("jobs", utf8.encode("two")), (e) => isStowageError(e, "LIMIT_EXCEEDED"));

  const stream = store.stream("s", { codec: utf8 });
  await stream.produce("orders", "p0", [{ value: "a" }], { expectedSeq: 0 });
  await assert.rejects(stream.produce("orders", "p0", [{ value: "b" }], { expectedSeq: 0 }), (e) => isStowageError(e, "CONFLICT"));

  const slot = store.slot("c", { codec: utf8 });
  await slot.upsert("cfg", "v1");
  assert.equal(await slot.cas("cfg", 7, "v2"), false, "a lost CAS is an answer, not an error");

  // Rejected by validation above the engine: never reaches the layer, so not counted.
  await assert.rejects(kv.put("", "empty key"), (e) => isStowageError(e, "INVALID_ARGUMENT"));

  assert.deepEqual(counts(store.metrics.snapshot().series), [
    { op: "kv.delete", namespace: "a", calls: 1, errors: {}, samples: 1 },
    { op: "kv.get", namespace: "a", calls: 2, errors: {}, samples: 2 },
    { op: "kv.list", namespace: "a", calls: 1, errors: {}, samples: 1 },
    { op: "kv.put", namespace: "a", calls: 3, errors: {}, samples: 3 },
    { op: "slot.cas", namespace: "c", calls: 1, errors: {}, samples: 1 },
    { op: "slot.upsert", namespace: "c", calls: 1, errors: {}, samples: 1 },
    { op: "queue.push", namespace: "q", calls: 2, errors: { LIMIT_EXCEEDED: 1 }, samples: 2 },
    { op: "stream.produce", namespace: "s", calls: 2, errors: { CONFLICT: 1 }, samples: 2 },
  ]);
  const snapshot = store.metrics.snapshot();
  assert.equal(snapshot.windowMs, 60_000);
  assert.equal(snapshot.namespaces, 4);
  assert.equal(snapshot.foldedNamespaces, 0);
  assert.ok(snapshot.series.every((s) => s.p50Ms !== null && s.p50Ms >= 0), "real latencies are measured");
  await store.close();
});

test("percentiles by nearest rank over known latencies: 1..100 ms gives p50 50, p95 95, p99 99", async () => {
  const clock = new ScriptedClock();
  const store = await metered({ now: clock.now });
  const kv = store.kv("lat");
  // The latencies arrive out of order: the percentiles depend on the values only.
  const latencies = Array.from({ length: 100 }, (_, i) => ((i * 37) % 100) + 1);
  assert.equal(new Set(latencies).size, 100);
  for (const [i, ms] of latencies.entries()) {
    clock.call(i * 100, ms);
    await kv.get("k");
  }
  const get = seriesOf(store, "kv.get", "lat");
  assert.deepEqual({ ...get, errors: {} }, { op: "kv.get", namespace: "lat", calls: 100, errors: {}, samples: 100, p50Ms: 50, p95Ms: 95, p99Ms: 99, maxMs: 100 });

  // A write is timed until it settles (committed), as its caller sees it.
  clock.call(20_000, 7.5);
  await kv.put("k", new Uint8Array([1]));
  const put = seriesOf(store, "kv.put", "lat");
  assert.deepEqual([put.p50Ms, put.p99Ms, put.samples], [7.5, 7.5, 1]);

  // Few samples: the nearest rank is an actual sample (p50 of 1, 2, 3, 4 is the 2nd).
  for (const [i, ms] of [4, 1, 3, 2].entries()) {
    clock.call(30_000 + i * 100, ms);
    await store.log("few").lastSeq();
  }
  const few = seriesOf(store, "log.lastSeq", "few");
  assert.deepEqual([few.p50Ms, few.p95Ms, few.p99Ms, few.maxMs], [2, 4, 4, 4]);
  await store.close();
});

test("the window drops old samples but keeps the counts; a series keeps only its most recent samples", async () => {
  const clock = new ScriptedClock();
  const store = await metered({ now: clock.now, windowMs: 1_000, samplesPerSeries: 10 });
  const kv = store.kv("w");
  clock.call(0, 100); // taken at t = 100
  await kv.get("k");
  clock.set(1_099);
  assert.equal(seriesOf(store, "kv.get", "w").samples, 1, "999 ms old: inside the window");
  clock.set(1_100);
  assert.deepEqual(seriesOf(store, "kv.get", "w"), {
    op: "kv.get",
    namespace: "w",
    calls: 1,
    errors: {},
    samples: 0,
    p50Ms: null,
    p95Ms: null,
    p99Ms: null,
    maxMs: null,
  });
  clock.call(1_200, 5);
  await kv.get("k");
  assert.deepEqual([seriesOf(store, "kv.get", "w").samples, seriesOf(store, "kv.get", "w").p50Ms], [1, 5]);

  // 25 calls of 1..25 ms into a ring of 10: the percentiles cover the last 10 (16..25 ms).
  for (let ms = 1; ms <= 25; ms++) {
    clock.call(2_000 + ms * 10, ms);
    await kv.put("k", new Uint8Array([ms]));
  }
  const put = seriesOf(store, "kv.put", "w");
  assert.deepEqual([put.calls, put.samples, put.p50Ms, put.p99Ms, put.maxMs], [25, 10, 20, 25, 25]);
  await store.close();
});

test("at most maxNamespaces namespaces are tracked (default 100): the 101st and later are folded into _other", async () => {
  const store = await metered();
  for (let i = 1; i <= 100; i++) await store.kv(`ns${i}`).get("k");
  assert.equal(store.metrics.snapshot().foldedNamespaces, 0);
  await store.kv("ns101").get("k");
  await store.kv("ns102").get("k");
  await store.kv("ns101").put("k", new Uint8Array([1]));
  await store.kv("ns5").get("k"); // a tracked one stays tracked
  const snapshot = store.metrics.snapshot();
  assert.equal(snapshot.namespaces, 100);
  assert.equal(snapshot.maxNamespaces, 100);
  assert.equal(snapshot.foldedNamespaces, 2);
  assert.equal(snapshot.series.length, 102);
  assert.ok(!snapshot.series.some((s) => s.namespace === "ns101" || s.namespace === "ns102"));
  assert.equal(seriesOf(store, "kv.get", "_other").calls, 2);
  assert.equal(seriesOf(store, "kv.put", "_other").calls, 1);
  assert.equal(seriesOf(store, "kv.get", "ns5").calls, 2);
  assert.match(await store.metrics.prometheus(), /^stowage_metrics_folded_namespaces 2$/m);

  store.metrics.reset();
  assert.deepEqual(store.metrics.snapshot(), { windowMs: 60_000, maxNamespaces: 100, namespaces: 0, foldedNamespaces: 0, series: [] });
  await store.kv("ns101").get("k");
  assert.equal(seriesOf(store, "kv.get", "ns101").calls, 1, "after a reset, namespaces are tracked afresh");
  await store.close();
});

test("a transaction is timed once under _tx; the operations inside it are counted, their failures too", async () => {
  const clock = new ScriptedClock();
  const store = await metered({ now: clock.now });
  clock.call(0, 12);
  await store.transaction(async (tx) => {
    await tx.kv("t").put("a", new Uint8Array([1]));
    await tx.kv("t").put("b", new Uint8Array([2]));
    const queue = tx.queue("tq", { maxLen: 1 });
    await queue.push("k", new Uint8Array([1]));
    await assert.rejects(queue.push("k", new Uint8Array([2])), (e) => isStowageError(e, "LIMIT_EXCEEDED"));
    await tx.log("tl").append("k", new Uint8Array([3]));
  });
  clock.call(100, 3);
  await assert.rejects(
    store.transaction(async (tx) => {
      await tx.kv("t").put("c", new Uint8Array([1]));
      throw new Error("the body gives up");
    }),
    /gives up/,
  );
  assert.deepEqual(counts(store.metrics.snapshot().series), [
    { op: "transaction", namespace: "_tx", calls: 2, errors: { ABORTED: 1 }, samples: 2 },
    { op: "kv.put", namespace: "t", calls: 3, errors: {}, samples: 0 },
    { op: "log.append", namespace: "tl", calls: 1, errors: {}, samples: 0 },
    { op: "queue.push", namespace: "tq", calls: 2, errors: { LIMIT_EXCEEDED: 1 }, samples: 0 },
  ]);
  const tx = seriesOf(store, "transaction", "_tx");
  assert.deepEqual([tx.p50Ms, tx.maxMs], [3, 12]);

  // Store-wide calls have no namespace of their own.
  await store.sweep();
  await store.info();
  // A sweep is two engine calls: expired entries removed, then KV change histories trimmed.
  assert.equal(seriesOf(store, "store.sweep", "_store").calls, 2);
  assert.equal(seriesOf(store, "store.info", "_store").calls, 1);
  await store.close();
});

/** One sample line of the text exposition format. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus text exposition (format 0.0.4), failing on any line that is not in it. */
function parseExposition(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  const name = "[a-zA-Z_:][a-zA-Z0-9_:]*";
  const sampleLine = new RegExp(`^(${name})(?:\\{(.*)\\})? (-?[0-9.eE+-]+|NaN|[+-]Inf)$`);
  const label = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/gy;
  assert.ok(text.endsWith("\n"), "the exposition ends with a newline");
  for (const line of text.split("\n")) {
    if (line === "" || new RegExp(`^# HELP ${name} `).test(line)) continue;
    const type = new RegExp(`^# TYPE (${name}) (counter|gauge|summary|histogram|untyped)$`).exec(line);
    if (type !== null) {
      types.set(type[1] as string, type[2] as string);
      continue;
    }
    const match = sampleLine.exec(line);
    assert.ok(match, `an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    const body = match[2] ?? "";
    label.lastIndex = 0;
    while (label.lastIndex < body.length) {
      const pair = label.exec(body);
      assert.ok(pair, `labels of: ${line}`);
      labels[pair[1] as string] = pair[2] as string;
    }
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return { types, samples };
}

test("prometheus() is text exposition with counters by op, namespace and code, and latency quantiles in seconds", async () => {
  const clock = new ScriptedClock();
  const store = await metered({ now: clock.now });
  const kv = store.kv("orders.v1");
  for (let ms = 1; ms <= 100; ms++) {
    clock.call(ms * 100, ms);
    await kv.put(`k${ms}`, new Uint8Array([ms]));
  }
  const queue = store.queue("jobs", { maxLen: 1 });
  clock.call(20_000, 1);
  await queue.push("k", new Uint8Array([1]));
  clock.call(21_000, 2);
  await assert.rejects(queue.push("k", new Uint8Array([2])));
  clock.set(22_000);

  const { types, samples } = parseExposition(await store.metrics.prometheus());
  assert.deepEqual(Object.fromEntries(types), {
    stowage_operations_total: "counter",
    stowage_operation_errors_total: "counter",
    stowage_operation_duration_seconds: "gauge",
    stowage_metrics_folded_namespaces: "gauge",
  });
  const value = (metric: string, labels: Record<string, string>) =>
    samples.find((s) => s.name === metric && JSON.stringify(s.labels) === JSON.stringify(labels))?.value;
  assert.equal(value("stowage_operations_total", { op: "kv.put", namespace: "orders.v1" }), 100);
  assert.equal(value("stowage_operations_total", { op: "queue.push", namespace: "jobs" }), 2);
  assert.equal(value("stowage_operation_errors_total", { op: "queue.push", namespace: "jobs", code: "LIMIT_EXCEEDED" }), 1);
  assert.equal(samples.filter((s) => s.name === "stowage_operation_errors_total").length, 1, "only codes that occurred");
  assert.equal(value("stowage_operation_duration_seconds", { op: "kv.put", namespace: "orders.v1", quantile: "0.5" }), 0.05);
  assert.equal(value("stowage_operation_duration_seconds", { op: "kv.put", namespace: "orders.v1", quantile: "0.95" }), 0.095);
  assert.equal(value("stowage_operation_duration_seconds", { op: "kv.put", namespace: "orders.v1", quantile: "0.99" }), 0.099);
  assert.equal(value("stowage_metrics_folded_namespaces", {}), 0);
  assert.match(store.metrics.contentType, /^text\/plain; version=0\.0\.4/);

  // Past the window the quantiles go, the counters stay.
  clock.set(1_000_000);
  const later = parseExposition(await store.metrics.prometheus()).samples;
  assert.equal(later.filter((s) => s.name === "stowage_operation_duration_seconds").length, 0);
  assert.equal(later.find((s) => s.name === "stowage_operations_total" && s.labels.op === "kv.put")?.value, 100);
  await store.close();
});

test("stacked, the outer store.metrics is exposed and both layers count; a shared registry needs distinct prefixes", async () => {
  const base = await openStore({ backend: "memory", sweepIntervalMs: 0 });
  const inner = withMetrics(base);
  const outer = withMetrics(inner);
  assert.notEqual(outer.metrics, inner.metrics);
  await outer.kv("a").put("k", new Uint8Array([1]));
  await inner.kv("a").put("k", new Uint8Array([2])); // beneath the outer layer: the outer one does not see it
  assert.equal(seriesOf(outer, "kv.put", "a").calls, 1);
  assert.equal(seriesOf(inner, "kv.put", "a").calls, 2);

  const registry = new Registry();
  const first = withMetrics(base, { registry });
  assert.throws(() => withMetrics(base, { registry }), (e) => isStowageError(e, "INVALID_ARGUMENT") && /give each store/.test(e.message));
  const second = withMetrics(first, { registry, prefix: "cached_" });
  await second.kv("a").get("k");
  const text = await second.metrics.prometheus();
  assert.match(text, /^stowage_operations_total\{op="kv.get",namespace="a"\} 1$/m);
  assert.match(text, /^cached_operations_total\{op="kv.get",namespace="a"\} 1$/m);

  // Closing a store takes its metrics out of the registry; its snapshot still answers.
  await second.close();
  assert.equal(registry.getSingleMetric("cached_operations_total"), undefined);
  assert.equal(registry.getSingleMetric("stowage_operations_total"), undefined);
  assert.equal(seriesOf(second, "kv.get", "a").calls, 1);
  const again = withMetrics(await openStore({ backend: "memory", sweepIntervalMs: 0 }), { registry });
  await again.close();
  await outer.close();
});

test("bad options are INVALID_ARGUMENT", async () => {
  const base = await openStore({ backend: "memory", sweepIntervalMs: 0 });
  const bad: unknown[] = [
    null,
    { window: 10 },
    { windowMs: 0 },
    { samplesPerSeries: 1.5 },
    { maxNamespaces: -1 },
    { now: 5 },
    { prefix: "9x" },
    { registry: {} },
  ];
  for (const options of bad) {
    assert.throws(() => withMetrics(base, options as MetricsOptions), (e) => isStowageError(e, "INVALID_ARGUMENT"), JSON.stringify(options));
  }
  assert.throws(() => withMetrics({} as Store), (e) => isStowageError(e, "INVALID_ARGUMENT"));
  await base.close();
});

test("SQLite: outside a cache, metrics time cache hits as gets; beneath it, they see only the misses", async () => {
  const dir = mkdtempSync(join(tmpdir(), "stowage-metrics-"));
  try {
    const base = await openStore({ backend: "sqlite", path: join(dir, "metrics.db"), sweepIntervalMs: 0 });
    const beneath = withMetrics(base, { prefix: "engine_" });
    const outside = withMetrics(withCache(beneath));
    const kv = outside.kv("checkpoints", { codec: utf8 });
    await kv.put("orders", "42");
    assert.equal(await kv.get("orders"), "42");
    assert.equal(await kv.get("orders"), "42");
    await outside.transaction(async (tx) => {
      await tx.kv("checkpoints", { codec: utf8 }).put("orders", "43");
      await tx.log("audit").append("orders", utf8.encode("43"));
    });
    assert.equal(outside.cache.stats().hits, 1);

    const seen = counts(outside.metrics.snapshot().series);
    assert.deepEqual(seen, [
      { op: "transaction", namespace: "_tx", calls: 1, errors: {}, samples: 1 },
      { op: "log.append", namespace: "audit", calls: 1, errors: {}, samples: 0 },
      { op: "kv.get", namespace: "checkpoints", calls: 2, errors: {}, samples: 2 },
      { op: "kv.put", namespace: "checkpoints", calls: 2, errors: {}, samples: 1 },
    ]);
    assert.equal(seriesOf(beneath, "kv.get", "checkpoints").calls, 1, "the hit never reached the layer beneath the cache");
    const put = seriesOf(outside, "kv.put", "checkpoints");
    assert.ok(put.p50Ms !== null && put.p50Ms > 0, "a durable put takes time");
    await outside.close();
    assert.throws(() => base.kv("x"), (e) => isStowageError(e, "CLOSED"), "closing the outer store closes the ones beneath");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("above a rate or size limit, refused calls are counted with their code under the call they refused", async () => {
  const { withRateLimit, withSizeLimits } = await import("../src/index.js");
  const base = await openStore({ backend: "memory", sweepIntervalMs: 0 });
  const store = withMetrics(withSizeLimits(withRateLimit(base, { ratePerSec: 0.001, burst: 2 }), { maxValueBytes: 4 }));
  const kv = store.kv("tenant");
  const outcomes = await Promise.allSettled([
    kv.put("a", new Uint8Array(1)),
    kv.put("b", new Uint8Array(9)), // over the size limit
    kv.put("c", new Uint8Array(1)),
    kv.put("d", new Uint8Array(1)), // over the rate
    kv.put("e", new Uint8Array(1)), // over the rate
  ]);
  assert.deepEqual(outcomes.map((o) => o.status), ["fulfilled", "rejected", "fulfilled", "rejected", "rejected"]);
  const put = store.metrics.snapshot().series.find((s) => s.op === "kv.put" && s.namespace === "tenant");
  assert.equal(put?.calls, 5);
  assert.deepEqual(put?.errors, { LIMIT_EXCEEDED: 1, RATE_LIMITED: 2 });
  await store.close();
});
