/**
 * store.health(): one probe read plus engine facts; healthy, degraded when slow or warned, unhealthy when the probe
 * fails or times out — including a PostgreSQL server that is stopped, and healthy again once it is back.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { createStore, openStore, withCache, type Engine, type Store } from "../src/index.js";
import { storeParts } from "../src/wrappers/layer.js";
import { usePostgresServer } from "./helpers/postgres-server.js";

const pgServer = usePostgresServer();

/** The engine beneath `store`, with a probe that takes `ms` first. */
function slowProbe(store: Store, ms: number): Engine {
  const engine = storeParts(store).engine;
  return Object.create(engine, {
    probe: { value: () => new Promise((resolve) => setTimeout(() => resolve(engine.read({ op: "logLastSeq", args: ["x"] })), ms)) },
  }) as Engine;
}

test("memory and sqlite: healthy with engine facts; a closed store is unhealthy; bad options are typed errors", async () => {
  const memory = await openStore({ backend: "memory" });
  const report = await memory.health();
  assert.equal(report.status, "healthy");
  assert.equal(report.engine, "memory");
  assert.deepEqual(report.reasons, []);
  assert.ok(report.probeMs >= 0 && report.probeMs < 1_000);
  await assert.rejects(memory.health({ timeoutMs: 0 }), { code: "INVALID_ARGUMENT" });
  await memory.close();
  const closed = await memory.health();
  assert.equal(closed.status, "unhealthy");
  assert.match(closed.reasons[0] ?? "", /closed/);

  const dir = mkdtempSync(join(tmpdir(), "stowage-health-"));
  try {
    const sqlite = withCache(await openStore({ backend: "sqlite", path: join(dir, "s.db") }));
    await sqlite.kv("ns").put("k", new Uint8Array(10_000));
    const facts = (await sqlite.health()).facts;
    assert.equal((await sqlite.health()).status, "healthy", "through a wrapper too");
    assert.ok((facts.fileBytes as number) > 0 || (facts.walBytes as number) > 10_000, JSON.stringify(facts));
    assert.ok((facts.diskFreeBytes as number) > 0);
    await sqlite.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a slow probe is degraded, one past the timeout is unhealthy", async () => {
  const base = await openStore({ backend: "memory" });
  const slow = createStore(slowProbe(base, 30));
  const degraded = await slow.health({ degradedMs: 10 });
  assert.equal(degraded.status, "degraded");
  assert.match(degraded.reasons.join("\n"), /degraded from 10 ms/);
  const unhealthy = await slow.health({ timeoutMs: 5 });
  assert.equal(unhealthy.status, "unhealthy");
  assert.match(unhealthy.reasons.join("\n"), /longer than 5 ms/);
  await slow.close();
});

test("postgres: pool facts; unhealthy while the server is stopped, healthy again once it is back", async () => {
  const server = pgServer();
  const store = withCache(await openStore({ backend: "postgres", dsn: server.dsn, schema: "health", poolSize: 3, sweepIntervalMs: 0 }));
  try {
    await store.kv("ns").put("k", new Uint8Array([1]));
    const up = await store.health();
    assert.equal(up.status, "healthy", up.reasons.join("; "));
    assert.equal(up.facts.poolMax, 3);
    assert.equal(up.facts.poolWaiting, 0);
    server.stop("fast");
    const down = await store.health({ timeoutMs: 5_000 });
    assert.equal(down.status, "unhealthy");
    assert.match(down.reasons.join("\n"), /BACKEND_UNAVAILABLE/);
    server.start();
    let again = await store.health({ timeoutMs: 5_000 });
    // The pool drops connections the stop broke as it meets them: a bounded number of probes gets through them.
    for (let i = 0; i < 10 && again.status !== "healthy"; i++) again = await store.health({ timeoutMs: 5_000 });
    assert.equal(again.status, "healthy", again.reasons.join("; "));
  } finally {
    await store.close();
  }
});
