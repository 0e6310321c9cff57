/**
 * The composite provider over two in-process engines: the conformance suite through it in sync and async mode, the
 * backup equal to the primary after a load, a restart after a failover serving from the backup, failback, divergence
 * detection and bad configurations.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { runConformance } from "../src/conformance/index.js";
import { CompositeEngine, compositeSupports } from "../src/engines/composite/composite-engine.js";
import { OrderedEngine } from "../src/engines/ordered/ordered-engine.js";
import { compareSources } from "../src/operations/compare-sources.js";
import { engineSource } from "../src/operations/store-source.js";
import { STATE_SECTION } from "../src/engines/composite/side-state.js";
import { SortedOrderedStore } from "./helpers/sorted-ordered-store.js";
import { MemoryEngine } from "../src/engines/memory/memory-engine.js";
import { putState } from "../src/engines/composite/side-state.js";
import { SqliteEngine } from "../src/engines/sqlite/sqlite-engine.js";
import { compositeControl, createStore, isStowageError, openStore, resolveConfig, utf8, type RoutedStoreOptions, type Store } from "../src/index.js";
import { withMetrics } from "../src/wrappers/metrics.js";
import { killAll, startChild } from "./helpers/child.js";
import { runCli } from "../src/cli/run-cli.js";
import { validateStores } from "../src/operations/store-dumps.js";
import type { ValidationReport } from "../src/operations/compare-sources.js";

const dir = mkdtempSync(join(tmpdir(), "stowage-composite-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A composite `ha` over two memory providers. */
function memoryPair(mode: "sync" | "async"): RoutedStoreOptions {
  return {
    providers: { main: { backend: "memory" }, spare: { backend: "memory" }, ha: { backend: "composite", primary: "main", standby: "spare", mode, replicateIntervalMs: 5 } },
    defaultProvider: "ha",
  };
}

const supports = compositeSupports(MemoryEngine.supports, MemoryEngine.supports);
runConformance("composite (memory + memory, sync)", (options) => openStore({ ...memoryPair("sync"), ...options }), { supports });
runConformance("composite (memory + memory, async)", (options) => openStore({ ...memoryPair("async"), ...options }), { supports });

let pairs = 0;

/** A composite `ha` over two SQLite files, `main` (the primary) and `spare` (the backup). */
function sqlitePair(settings: Record<string, unknown> = {}): { options: RoutedStoreOptions; main: string; spare: string } {
  const n = ++pairs;
  const main = join(dir, `main-${n}.db`);
  const spare = join(dir, `spare-${n}.db`);
  const options: RoutedStoreOptions = {
    providers: {
      main: { backend: "sqlite", path: main },
      spare: { backend: "sqlite", path: spare },
      ha: { backend: "composite", primary: "main", standby: "spare", replicateIntervalMs: 5, probeIntervalMs: 60_000, ...settings } as RoutedStoreOptions["providers"][string],
    },
    defaultProvider: "ha",
  };
  return { options, main, spare };
}

/** Compares the two SQLite files namespace by namespace (the composite's state record included). */
async function sidesEqual(main: string, spare: string): Promise<ValidationReport> {
  const [left, right] = [await openStore({ backend: "sqlite", path: main }), await openStore({ backend: "sqlite", path: spare })];
  try {
    return await validateStores(left, right, { left: "main", right: "spare" });
  } finally {
    await Promise.all([left.close(), right.close()]);
  }
}

/** Every primitive, concurrently, with calls that fail inside their batch (a full queue) and a user transaction. */
async function mixedLoad(store: Store, rounds: number): Promise<void> {
  const queue = store.queue("jobs", { maxLen: 3 });
  await Promise.all(
    Array.from({ length: rounds }, async (_, i) => {
      await store.kv("kv").put(`k${i}`, utf8.encode(`v${i}`), i % 3 === 0 ? { ttlMs: 60_000 } : {});
      await store.log("events").append(`e${i % 4}`, utf8.encode(`event ${i}`));
      await store.slot("slots").cas(`s${i % 5}`, 0, utf8.encode(`first ${i}`)).catch(() => undefined);
      await queue.push(`q${i % 2}`, utf8.encode(`job ${i}`)).catch((error: unknown) => assert.ok(isStowageError(error, "LIMIT_EXCEEDED")));
      await store.stream("metrics").produce(`space${i % 2}`, `seg${i % 3}`, [{ value: utf8.encode(`m${i}`) }]);
      if (i % 10 === 0) {
        await store.transaction(async (tx) => {
          const seen = await tx.kv("kv").get(`k${i}`);
          await tx.kv("kv").put(`tx${i}`, seen ?? utf8.encode("none"));
          await tx.log("events").append("tx", utf8.encode(`in tx ${i}`));
        });
      }
      if (i % 7 === 0) await store.kv("kv").delete(`k${i - 1}`);
    }),
  );
}

/** Waits (bounded) until the backup has taken every batch. */
async function caughtUp(store: Store): Promise<void> {
  const ha = compositeControl(store);
  for (let tries = 0; ha.status().lag.batches > 0 && tries < 200; tries++) await sleep(10);
  assert.equal(ha.status().lag.batches, 0, "the backup did not catch up within 2 s");
}

describe("composite provider", () => {
  for (const mode of ["sync", "async"] as const) {
    it(`${mode}: after a concurrent load the backup holds what the primary holds`, async () => {
      const { options, main, spare } = sqlitePair({ mode });
      const store = await openStore(options);
      try {
        await mixedLoad(store, 60);
        await caughtUp(store);
        const status = compositeControl(store).status();
        assert.equal(status.serving, "primary");
        assert.equal(status.standby, "mirroring");
        assert.ok(status.batch > 0);
        const health = await store.health();
        assert.equal(health.status, "healthy", health.reasons.join("; "));
        assert.equal(health.facts["ha.serving"], "main");
        assert.equal(health.facts["ha.mode"], mode);
      } finally {
        await store.close();
      }
      const report = await sidesEqual(main, spare);
      assert.ok(report.equal, report.firstDifference);
      assert.ok(report.namespaces.length >= 5);
    });
  }

  it("a restart after a failover goes on serving from the backup; the primary then needs a resync into an empty store", async () => {
    const { options, main, spare } = sqlitePair();
    let store = await openStore(options);
    await store.kv("kv").put("before", utf8.encode("1"));
    await compositeControl(store).failover();
    await store.kv("kv").put("after", utf8.encode("2"));
    assert.equal(compositeControl(store).status().serving, "backup");
    await store.close();

    store = await openStore(options);
    try {
      const ha = compositeControl(store);
      assert.equal(ha.status().serving, "backup");
      assert.equal(utf8.decode((await store.kv("kv").get("after"))!), "2");
      const health = await store.health();
      assert.equal(health.status, "degraded");
      assert.ok(health.reasons.some((reason) => reason.includes("serving from the backup spare")), health.reasons.join("; "));
      // The batches since the failover were in the memory of the process before: the primary cannot catch up.
      await assert.rejects(ha.failback(), (error: unknown) => isStowageError(error, "CONFLICT") && /not all held in memory/.test(String(error)));
      await assert.rejects(ha.resync(), (error: unknown) => isStowageError(error, "CONFLICT") && /holds data/.test(String(error)));
    } finally {
      await store.close();
    }
    // The operator empties the primary; the composite copies the backup into it, then fails back.
    rmSync(main);
    store = await openStore(options);
    try {
      const ha = compositeControl(store);
      assert.equal(ha.status().serving, "backup");
      await ha.resync();
      await ha.failback();
      assert.deepEqual([ha.status().serving, ha.status().standby, ha.status().failbacks], ["primary", "mirroring", 1]);
      await store.kv("kv").put("back", utf8.encode("3"));
      assert.equal(utf8.decode((await store.kv("kv").get("after"))!), "2");
    } finally {
      await store.close();
    }
    const report = await sidesEqual(main, spare);
    assert.ok(report.equal, report.firstDifference);
  });

  it("failback replays on the primary what the backup committed since the failover", async () => {
    const { options, main, spare } = sqlitePair({ mode: "async" });
    const store = await openStore(options);
    try {
      await mixedLoad(store, 20);
      const ha = compositeControl(store);
      await ha.failover();
      await mixedLoad(store, 30);
      assert.equal(ha.status().standby, "awaiting-failback");
      await ha.failback();
      assert.deepEqual([ha.status().serving, ha.status().failovers, ha.status().failbacks], ["primary", 1, 1]);
      await store.kv("kv").put("after-failback", utf8.encode("x"));
      await caughtUp(store);
    } finally {
      await store.close();
    }
    const report = await sidesEqual(main, spare);
    assert.ok(report.equal, report.firstDifference);
  });

  it("failback is refused when the primary committed a batch the backup never got; it goes through after a resync", async () => {
    const { options, main } = sqlitePair();
    const store = await openStore(options);
    try {
      await store.kv("kv").put("a", utf8.encode("1"));
      const ha = compositeControl(store);
      await ha.failover();
      await store.kv("kv").put("b", utf8.encode("2"));
      // A batch that reached the primary only (its commit's answer lost as the primary failed).
      const primary = await SqliteEngine.open({ path: main });
      await primary.transaction(async (ops) => {
        await ops.kvPut("kv", "lost", utf8.encode("?"), null);
        await putState(ops, { batch: ha.status().failoverAt! + 1, id: randomUUID(), serving: false });
      });
      await primary.close();
      await assert.rejects(ha.failback(), (error: unknown) => isStowageError(error, "CONFLICT") && /diverged/.test(String(error)));
      assert.equal(ha.status().serving, "backup");
      assert.match(ha.status().lastRefusal ?? "", /diverged/);
      // The operator empties the primary; a resync copies the backup into it, and the failback goes through.
      await assert.rejects(ha.resync(), (error: unknown) => isStowageError(error, "CONFLICT") && /holds data \(kv:kv\)/.test(String(error)));
      const plain = await openStore({ backend: "sqlite", path: main });
      await plain.kv("kv").deleteRange({});
      await plain.close();
      await ha.resync();
      await ha.failback();
      assert.equal(ha.status().serving, "primary");
      assert.deepEqual((await store.kv("kv").list()).entries.map((entry) => entry.key), ["a", "b"]);
    } finally {
      await store.close();
    }
  });

  it("a backup that answers a write differently is marked diverged, never served, and failover is refused", async () => {
    const { options, spare } = sqlitePair();
    const store = await openStore(options);
    try {
      await store.slot("slots").upsert("s", utf8.encode("1"));
      // Someone writes to the backup behind the composite's back: its slot version moves on.
      const backup = await openStore({ backend: "sqlite", path: spare });
      await backup.slot("slots").upsert("s", utf8.encode("elsewhere"));
      await backup.close();
      await store.slot("slots").upsert("s", utf8.encode("2"));
      const ha = compositeControl(store);
      assert.equal(ha.status().standby, "stale");
      assert.match(ha.status().staleReason ?? "", /diverged/);
      const health = await store.health();
      assert.equal(health.status, "degraded");
      assert.ok(health.reasons.some((reason) => /needs a resync/.test(reason)), health.reasons.join("; "));
      await assert.rejects(ha.failover(), (error: unknown) => isStowageError(error, "CONFLICT"));
      assert.equal(ha.status().serving, "primary");
      assert.equal(utf8.decode((await store.slot("slots").get("s"))!.value), "2");
    } finally {
      await store.close();
    }
  });

  it("a first open copies a non-empty primary into an empty backup; a backup holding other data is stale, not overwritten", async () => {
    const { options, main, spare } = sqlitePair();
    const plain = await openStore({ backend: "sqlite", path: main });
    await mixedLoad(plain, 10);
    await plain.close();
    let store = await openStore(options);
    assert.equal(compositeControl(store).status().standby, "mirroring");
    await store.close();
    assert.ok((await sidesEqual(main, spare)).equal);

    const other = sqlitePair();
    const foreign = await openStore({ backend: "sqlite", path: other.spare });
    await foreign.kv("theirs").put("k", utf8.encode("v"));
    await foreign.close();
    store = await openStore(other.options);
    try {
      assert.equal(compositeControl(store).status().standby, "stale");
      await store.kv("kv").put("k", utf8.encode("v"));
    } finally {
      await store.close();
    }
    const kept = await openStore({ backend: "sqlite", path: other.spare });
    assert.deepEqual((await kept.info()).namespaces.map((info) => info.namespace).filter((name) => name !== "_composite"), ["theirs"]);
    await kept.close();
  });

  it("async: a crash of the composite's process loses at most the lag it reported; the restart reports the backup stale", async (t) => {
    const { options, main, spare } = sqlitePair({ mode: "async", replicateIntervalMs: 30 });
    const child = startChild("composite-writer", [JSON.stringify(options), "20000"]);
    try {
      assert.ok(await child.waitFor((lines) => lines.length > 3_000, 30_000), `the writer did not write\n${child.describe()}`);
      child.kill("SIGKILL");
      await child.exited;
    } finally {
      await killAll([child]);
    }
    const written = child.lines.slice(1).filter((line) => line !== "done").map((line) => line.split(" ") as [string, string]);
    const lagAtKill = Number(written.at(-1)![1]);
    const backup = await openStore({ backend: "sqlite", path: spare });
    const primary = await openStore({ backend: "sqlite", path: main });
    let lost = 0;
    try {
      for (const [key] of written) {
        assert.ok((await primary.kv("load").get(key)) !== undefined, `the primary lacks ${key}`);
        if ((await backup.kv("load").get(key)) === undefined) lost += 1;
      }
    } finally {
      await Promise.all([backup.close(), primary.close()]);
    }
    t.diagnostic(`${written.length} writes resolved; the backup lacks ${lost}; the lag reported last was ${lagAtKill} write calls`);
    assert.ok(lost <= lagAtKill, `the backup lacks ${lost} resolved writes; the lag reported last was ${lagAtKill}`);
    const store = await openStore(options);
    try {
      const ha = compositeControl(store);
      assert.deepEqual([ha.status().serving, ha.status().standby], ["primary", lost > 0 ? "stale" : ha.status().standby]);
      if (lost > 0) assert.match(ha.status().staleReason ?? "", /the backup is at batch \d+, the primary at batch \d+/);
    } finally {
      await store.close();
    }
  });

  it("metrics show which side serves, the lag and the failovers", async () => {
    const store = withMetrics(await openStore(memoryPair("async")));
    try {
      await store.kv("kv").put("k", utf8.encode("v"));
      assert.equal(store.metrics.snapshot().composites?.ha?.serving, "primary");
      await compositeControl(store).failover();
      assert.deepEqual([store.metrics.snapshot().composites?.ha?.serving, store.metrics.snapshot().composites?.ha?.failovers], ["backup", 1]);
      const text = await store.metrics.prometheus();
      assert.match(text, /^stowage_composite_serving_backup\{provider="ha"\} 1$/m);
      assert.match(text, /^stowage_composite_failovers\{provider="ha"\} 1$/m);
      assert.match(text, /^stowage_composite_lag_batches\{provider="ha"\} 0$/m);
    } finally {
      await store.close();
    }
  });

  it("the CLI shows a composite's state and fails over and back", async () => {
    const { main, spare } = sqlitePair();
    const flags = ["--provider", "main.backend=sqlite", "--provider", `main.path=${main}`, "--provider", "spare.backend=sqlite", "--provider", `spare.path=${spare}`];
    flags.push("--provider", "ha.backend=composite", "--provider", "ha.primary=main", "--provider", "ha.standby=spare", "--default-provider", "ha");
    const cli = async (...args: string[]) => {
      let stdout = "";
      let stderr = "";
      const code = await runCli([...args, ...flags], { stdout: (text) => void (stdout += text), stderr: (text) => void (stderr += text), env: {}, cwd: dir });
      return { code, stdout, stderr };
    };
    assert.equal((await cli("kv", "put", "kv", "k", "v")).code, 0);
    const status = await cli("composite", "status", "--json");
    assert.equal(status.code, 0, status.stderr);
    assert.deepEqual([JSON.parse(status.stdout).serving, JSON.parse(status.stdout).standby], ["primary", "mirroring"]);
    assert.match((await cli("composite", "failover", "ha")).stdout, /^serving: backup/);
    assert.match((await cli("composite", "status")).stdout, /^serving: backup \(batch \d+, sync\)\nstandby: awaiting-failback\nfailover at batch \d+/);
    assert.match((await cli("composite", "failback")).stdout, /^serving: primary/);
    const wrong = await cli("composite", "status", "main");
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /INVALID_ARGUMENT: provider "main" is not a composite provider of the store \(ha\)/);
  });

  it("is configured from environment variables like any provider", async () => {
    const { main, spare } = sqlitePair();
    const env = {
      STOWAGE_PROVIDERS_MAIN_BACKEND: "sqlite",
      STOWAGE_PROVIDERS_MAIN_PATH: main,
      STOWAGE_PROVIDERS_SPARE_BACKEND: "sqlite",
      STOWAGE_PROVIDERS_SPARE_PATH: spare,
      STOWAGE_PROVIDERS_HA_BACKEND: "composite",
      STOWAGE_PROVIDERS_HA_PRIMARY: "main",
      STOWAGE_PROVIDERS_HA_STANDBY: "spare",
      STOWAGE_PROVIDERS_HA_MODE: "async",
      STOWAGE_PROVIDERS_HA_FAIL_AFTER: "2",
      STOWAGE_DEFAULT_PROVIDER: "ha",
    };
    const resolved = resolveConfig({ cwd: dir, env }) as RoutedStoreOptions;
    assert.deepEqual(resolved.providers.ha, { backend: "composite", primary: "main", standby: "spare", mode: "async", failAfter: 2 });
    const store = await openStore(resolved);
    try {
      await store.kv("kv").put("k", utf8.encode("v"));
      assert.equal(compositeControl(store, "ha").status().mode, "async");
    } finally {
      await store.close();
    }
  });

  it("bad configurations are refused with INVALID_ARGUMENT naming the provider, before anything opens", async () => {
    const { options, main } = sqlitePair();
    const providers = options.providers;
    const ha = providers.ha as RoutedStoreOptions["providers"][string];
    const cases: Array<[RoutedStoreOptions, RegExp]> = [
      [{ providers, defaultProvider: "main" }, /provider main is a side of composite provider ha, so it cannot be the default provider/],
      [{ providers, routes: { leases: "spare" }, defaultProvider: "ha" }, /provider spare is a side of composite provider ha, so route "leases" cannot name it/],
      [{ providers: { ...providers, ha: { ...ha, primary: "nope" } }, defaultProvider: "ha" }, /composite provider ha: its primary "nope" is not one of the providers/],
      [{ providers: { ...providers, ha: { ...ha, standby: "main" } }, defaultProvider: "ha" }, /provider main is a side of composite provider ha already/],
      [{ providers: { ...providers, ha2: { ...ha } }, defaultProvider: "ha" }, /provider main is a side of composite provider ha already; composite provider ha2 cannot use it too/],
      [{ providers: { ...providers, ha2: { ...ha, primary: "ha", standby: "x" } as never, x: { backend: "memory" } }, defaultProvider: "ha2" }, /its primary ha is a composite provider itself/],
      [{ providers: { ...providers, ha: { ...ha, mode: "eventual" } }, defaultProvider: "ha" }, /mode must be one of sync, async/],
      [{ providers: { ...providers, ha: { ...ha, failAfter: 0 } }, defaultProvider: "ha" }, /failAfter/],
      [{ providers: { ...providers, ha: { backend: "composite", primary: "main" } as never }, defaultProvider: "ha" }, /standby/],
    ];
    for (const [bad, message] of cases) {
      await assert.rejects(openStore(bad), (error: unknown) => isStowageError(error, "INVALID_ARGUMENT") && message.test(String(error)), `${message}`);
    }
    await assert.rejects(openStore({ backend: "composite", primary: "main", standby: "spare" }), (error: unknown) => isStowageError(error, "INVALID_ARGUMENT") && /as a provider/.test(String(error)));
    assert.equal(existsSync(main), false, "a refused configuration opened nothing");
  });
});

describe("composite provider: work queues", () => {
  it("claims, settles and dead letters replay on the backup; after a failover it honours the leases; a resync copies the work queues", async () => {
    const { options, main, spare } = sqlitePair({ mode: "async" });
    let store = await openStore(options);
    const retry = { maxAttempts: 2, backoff: { type: "exponential" as const, delayMs: 10, jitter: "full" as const } };
    const queueOf = (s: Store) => s.workQueue("jobs", { codec: utf8, visibilityMs: 60_000, retry });
    let held: Awaited<ReturnType<ReturnType<typeof queueOf>["claim"]>> = [];
    let heldExtended = 0;
    try {
      const jobs = queueOf(store);
      await Promise.all(Array.from({ length: 24 }, (_, i) => jobs.push(`k${i % 2}`, `job ${i}`, { priority: i % 3, ...(i % 5 === 0 ? { dedupKey: `d${i}` } : {}) })));
      // Concurrent claims share batches; tokens and the jitter's randomness are arguments, so the backup replays them alike.
      const claimed = (await Promise.all([jobs.claim("k0", { limit: 4 }), jobs.claim("k1", { limit: 4 }), jobs.claim("k0", { limit: 3 }), jobs.claim("k1", { limit: 3 })])).flat();
      assert.equal(claimed.length, 14);
      await Promise.all(claimed.slice(0, 3).map((item) => jobs.ack(item)));
      const [retried, doomed, extended, released] = claimed.slice(3, 7) as [(typeof claimed)[number], (typeof claimed)[number], (typeof claimed)[number], (typeof claimed)[number]];
      assert.equal((await jobs.fail(retried, new Error("flaky"))).dead, false);
      assert.equal((await jobs.fail(doomed, new Error("fatal"), { final: true })).dead, true);
      await jobs.extend(extended, 120_000);
      await jobs.release(released, { delayMs: 5 });
      await jobs.requeue(doomed.key);
      await jobs.fail(claimed[7]!, new Error("fatal"), { final: true });
      assert.equal((await jobs.purgeDead(claimed[7]!.key)).purged, 1);
      held = claimed.slice(8);
      heldExtended = extended.id;
      await caughtUp(store);
      assert.equal(compositeControl(store).status().standby, "mirroring");
    } finally {
      await store.close();
    }
    const mirrored = await sidesEqual(main, spare);
    assert.ok(mirrored.equal, mirrored.firstDifference);
    assert.ok(mirrored.namespaces.some((ns) => ns.primitive === "work" && ns.namespace === "jobs" && ns.left!.count === 20));

    store = await openStore(options);
    try {
      await compositeControl(store).failover();
      // The backup holds the leases the primary handed out: their holders settle them there.
      const jobs = queueOf(store);
      await jobs.ack(held[0]!);
      await jobs.extend(held[1]!, 1_000);
      // 19 items: 6 leased (5 held, 1 extended), 2 perhaps still delayed (the retried and the released one), the rest ready.
      const taken = [...(await jobs.claim("k0", { limit: 20 })), ...(await jobs.claim("k1", { limit: 20 }))];
      assert.ok(taken.length >= 11 && taken.length <= 13, `${taken.length} claimed`);
      const leased = new Set([...held.map((item) => item.id), heldExtended]);
      assert.deepEqual(taken.filter((item) => leased.has(item.id)), [], "no leased item is handed out again");
    } finally {
      await store.close();
    }
    rmSync(main);
    store = await openStore(options);
    try {
      const ha = compositeControl(store);
      await ha.resync();
      await ha.failback();
      assert.equal(ha.status().serving, "primary");
      const total = async (key: string) => Object.values(await queueOf(store).counts(key)).reduce((sum, n) => sum + n, 0);
      assert.equal((await total("k0")) + (await total("k1")), 19, "the primary holds what the backup held");
    } finally {
      await store.close();
    }
    const copied = await sidesEqual(main, spare);
    assert.ok(copied.equal, copied.firstDifference);
    assert.ok(copied.namespaces.some((ns) => ns.primitive === "work" && ns.namespace === "jobs" && ns.left!.count === 19));
  });

  it("async over engines with commit limits: a claim weighs its limit, so batches of concurrent claims still fit the backup's commits", async () => {
    const side = () => OrderedEngine.open(new SortedOrderedStore(undefined, { limits: { maxWritesPerCommit: 40 } }));
    const settings = { mode: "async", replicateIntervalMs: 5, probeIntervalMs: 60_000, failAfter: 3, failback: "manual", maxPendingBatches: 1_000 } as const;
    const [primary, backup] = [await side(), await side()];
    const engine = await CompositeEngine.open(primary, backup, { primary: "a", backup: "b" }, settings);
    const store = createStore(engine, { sweepIntervalMs: 0 });
    try {
      const limit = engine.supports.limits.maxTransactionWrites;
      assert.equal(limit, 7);
      const jobs = store.workQueue("jobs");
      for (let i = 0; i < 12; i++) await jobs.pushMany("k", Array.from({ length: limit }, (_, j) => ({ value: new Uint8Array([i, j]) })));
      const claimed = await Promise.all(Array.from({ length: 12 }, () => jobs.claim("k", { limit })));
      assert.deepEqual(claimed.map((items) => items.length), Array(12).fill(limit));
      await jobs.ackMany(claimed.flat().slice(0, limit));
      for (let tries = 0; engine.status().lag.batches > 0 && tries < 200; tries++) await sleep(10);
      assert.deepEqual([engine.status().standby, engine.status().lag.batches], ["mirroring", 0], "the backup took every batch");
      const skip = new Set([STATE_SECTION]);
      const report = await compareSources(engineSource(primary, 0, skip), engineSource(backup, 0, skip));
      assert.ok(report.equal, report.firstDifference);
    } finally {
      await store.close();
    }
  });
});
