/**
 * The composite's promise at failover, on a real PostgreSQL primary killed mid-load (an immediate stop: a crash) with
 * a SQLite backup: in sync mode no write that resolved is lost; in async mode at most the lag the composite reported
 * when the primary died. The probes fail the composite over by themselves, writes go on against the backup, health
 * shows which side serves; once the server is back, a failback either succeeds (and the sides then hold the same
 * data) or is refused because the primary committed a batch whose answer the crash lost (it diverged).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { compositeControl, isStowageError, openStore, utf8, type CompositeStatus, type Store } from "../src/index.js";
import { validateStores } from "../src/operations/store-dumps.js";
import { usePostgresServer } from "./helpers/postgres-server.js";

const pgServer = usePostgresServer();
const dir = mkdtempSync(join(tmpdir(), "stowage-composite-pg-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const WRITERS = 4;
/** Writes resolved before the kill, and after the failover, before the writers stop. */
const BEFORE_KILL = 300;
const AFTER_FAILOVER = 200;
const DEADLINE_MS = 30_000;

/** Waits (bounded by `ms`) until `done()` holds. */
async function until(done: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done() && Date.now() < deadline) await sleep(10);
  assert.ok(done(), `${what} within ${ms} ms`);
}

for (const mode of ["sync", "async"] as const) {
  test(`${mode} mode: the PostgreSQL primary killed mid-load; failover to the SQLite backup loses ${mode === "sync" ? "no resolved write" : "at most the reported lag"}`, async (t) => {
    const srv = pgServer();
    const started = Date.now();
    const main = { backend: "postgres", dsn: srv.dsn, schema: `ha_${mode}`, poolSize: 4, connectTimeoutMs: 1_000, statementTimeoutMs: 2_000 } as const;
    const spare = { backend: "sqlite", path: join(dir, `spare-${mode}.db`) } as const;
    const options = {
      providers: { main, spare, ha: { backend: "composite", primary: "main", standby: "spare", mode, probeIntervalMs: 100, failAfter: 2, replicateIntervalMs: 50, failback: mode === "async" ? "auto" : "manual" } as const },
      defaultProvider: "ha",
      sweepIntervalMs: 0,
    };
    const store = await openStore(options);
    const ha = compositeControl(store);
    const resolved: string[] = [];
    let failed = 0;
    let stop = false;
    /** The writers stop once this many writes resolved (set at the kill). */
    let target = Number.POSITIVE_INFINITY;
    let lagAtKill: CompositeStatus["lag"] | undefined;
    try {
      const writers = Array.from({ length: WRITERS }, async (_, w) => {
        for (let i = 0; !stop && resolved.length < target && Date.now() - started < DEADLINE_MS; i++) {
          const key = `w${w}-${i}`;
          try {
            await store.kv("load").put(key, utf8.encode(key));
            resolved.push(key);
          } catch (error) {
            assert.ok(isStowageError(error), String(error));
            failed += 1;
            await sleep(10);
          }
        }
      });
      await until(() => resolved.length >= BEFORE_KILL, DEADLINE_MS, "the load started");
      lagAtKill = ha.status().lag;
      const resolvedAtKill = resolved.length;
      target = resolvedAtKill + AFTER_FAILOVER;
      const killedAt = Date.now();
      srv.stop("immediate");
      await until(() => ha.status().serving === "backup", 10_000, "the composite failed over");
      const failoverMs = Date.now() - killedAt;
      await Promise.all(writers);
      assert.ok(resolved.length >= target, "writes resolved on the backup after the failover");

      const health = await store.health();
      assert.equal(health.facts["ha.serving"], "spare");
      assert.equal(health.facts["ha.failovers"], 1);
      assert.equal(health.status, "degraded");
      let lost = 0;
      for (const key of resolved) if ((await store.kv("load").get(key)) === undefined) lost += 1;
      t.diagnostic(`${resolved.length} writes resolved (${resolvedAtKill} before the kill), ${failed} failed during the outage; lag at the kill ${JSON.stringify(lagAtKill)}; failover ${failoverMs} ms after the kill; ${lost} resolved writes lost`);
      if (mode === "sync") assert.equal(lost, 0);
      else assert.ok(lost <= lagAtKill.items, `lost ${lost} > the reported lag of ${lagAtKill.items} writes`);

      srv.start();
      await checkFailback(t, store, main, mode === "async");
    } finally {
      stop = true;
      await store.close();
    }
    t.diagnostic(`wall time ${Date.now() - started} ms`);
  });
}

/**
 * A failback once the server is back (asked for, or by the probes with `auto`): it succeeds and the sides agree, or
 * it is refused because the primary diverged.
 */
async function checkFailback(t: { diagnostic(message: string): void }, store: Store, main: Record<string, unknown>, auto: boolean): Promise<void> {
  const ha = compositeControl(store);
  if (auto) {
    await until(() => ha.status().serving === "primary" || ha.status().lastRefusal !== undefined, 10_000, "the probes failed back (or refused)");
    if (ha.status().lastRefusal !== undefined) {
      assert.match(ha.status().lastRefusal!, /diverged/);
      t.diagnostic(`automatic failback refused: ${ha.status().lastRefusal}`);
      return;
    }
  } else {
    try {
      await ha.failback();
    } catch (error) {
      assert.ok(isStowageError(error, "CONFLICT") && /diverged/.test(String(error)), String(error));
      t.diagnostic(`failback refused: ${(error as Error).message}`);
      return;
    }
  }
  assert.equal(ha.status().serving, "primary");
  await store.kv("load").put("after-failback", utf8.encode("x"));
  for (let tries = 0; ha.status().lag.batches > 0 && tries < 200; tries++) await sleep(10);
  const primary = await openStore(main as never);
  const backup = await openStore({ backend: "sqlite", path: join(dir, `spare-${ha.status().mode}.db`) });
  try {
    const report = await validateStores(primary, backup, { left: "main", right: "spare" });
    assert.ok(report.equal, report.firstDifference);
  } finally {
    await Promise.all([primary.close(), backup.close()]);
  }
  t.diagnostic("failed back; the sides hold the same data");
}

test("sync mode: the PostgreSQL backup killed mid-load; writes go on on the primary, the backup is reported stale", async (t) => {
  const srv = pgServer();
  const started = Date.now();
  const options = {
    providers: {
      main: { backend: "sqlite", path: join(dir, "main-backup-killed.db") },
      spare: { backend: "postgres", dsn: srv.dsn, schema: "ha_backup_killed", poolSize: 2, connectTimeoutMs: 1_000, statementTimeoutMs: 2_000 },
      ha: { backend: "composite", primary: "main", standby: "spare", probeIntervalMs: 100 },
    },
    defaultProvider: "ha",
    sweepIntervalMs: 0,
  } as const;
  const store = await openStore(options);
  const ha = compositeControl(store);
  const resolved: string[] = [];
  try {
    for (let i = 0; i < 100; i++) {
      await store.kv("load").put(`a${i}`, utf8.encode("x"));
      resolved.push(`a${i}`);
    }
    srv.stop("immediate");
    for (let i = 0; i < 100; i++) {
      await store.kv("load").put(`b${i}`, utf8.encode("x"));
      resolved.push(`b${i}`);
    }
    assert.equal(ha.status().standby, "stale");
    assert.match(ha.status().staleReason ?? "", /failed to commit batch/);
    const health = await store.health();
    assert.equal(health.status, "degraded");
    assert.equal(health.facts["ha.serving"], "main");
    for (const key of resolved) assert.ok((await store.kv("load").get(key)) !== undefined, key);
    await assert.rejects(ha.failover(), (error: unknown) => isStowageError(error, "CONFLICT"));
  } finally {
    await store.close();
    srv.start();
  }
  t.diagnostic(`wall time ${Date.now() - started} ms`);
});

test("kv.watch through a composite over PostgreSQL: the history turns on outside a transaction and is mirrored", async () => {
  const srv = pgServer();
  const spare = join(dir, "spare-watch.db");
  const main = { backend: "postgres", dsn: srv.dsn, schema: "ha_watch", poolSize: 2 } as const;
  const store = await openStore({ providers: { main, spare: { backend: "sqlite", path: spare }, ha: { backend: "composite", primary: "main", standby: "spare" } }, defaultProvider: "ha", sweepIntervalMs: 0 });
  const abort = new AbortController();
  try {
    const feed = store.kv("watched").watch(["k"], { signal: abort.signal })[Symbol.asyncIterator]();
    const first = feed.next();
    for (let i = 0; i < 50 && (await Promise.race([first.then(() => true), sleep(10).then(() => false)])) === false; i++) await store.kv("watched").put("k", utf8.encode(`v${i}`));
    const change = await first;
    assert.equal(change.done, false);
    assert.equal(compositeControl(store).status().standby, "mirroring");
  } finally {
    abort.abort();
    await store.close();
  }
  const [primary, backup] = [await openStore(main), await openStore({ backend: "sqlite", path: spare })];
  try {
    const report = await validateStores(primary, backup, { left: "main", right: "spare" });
    assert.ok(report.equal, report.firstDifference);
  } finally {
    await Promise.all([primary.close(), backup.close()]);
  }
});
