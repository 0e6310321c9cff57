/**
 * Duration options past the longest timer Node honours (2^31 − 1 ms): Node runs such a timer after 1 ms, so a month's
 * sweepIntervalMs swept constantly, a PostgreSQL statementTimeoutMs whose client timeout (1 s more) overflowed timed
 * out every query, and a SQLite busyTimeoutMs of 3e9 failed INTERNAL inside the driver. Each is now INVALID_ARGUMENT
 * naming the option and its bound, checked before any file or connection is made; the bound itself works.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { createStore, isStowageError, LIMITS, openStore } from "../src/index.js";
import { MemoryEngine } from "../src/engines/memory/memory-engine.js";

const dir = mkdtempSync(join(tmpdir(), "stowage-durations-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const MONTH_MS = 30 * 24 * 3_600_000;

async function rejectsNaming(open: () => Promise<unknown>, option: string, bound: number): Promise<void> {
  await assert.rejects(open, (error: unknown) => {
    assert.ok(isStowageError(error, "INVALID_ARGUMENT"), `expected INVALID_ARGUMENT, got ${String(error)}`);
    assert.match((error as Error).message, new RegExp(`${option}.*${bound}`));
    return true;
  });
}

test("LIMITS.maxTimerMs is the longest delay Node's timers honour", () => {
  assert.equal(LIMITS.maxTimerMs, 2 ** 31 - 1);
});

test("sweepIntervalMs past LIMITS.maxTimerMs is refused by openStore and createStore; the bound itself opens", async () => {
  await rejectsNaming(() => openStore({ backend: "memory", sweepIntervalMs: MONTH_MS }), "sweepIntervalMs", LIMITS.maxTimerMs);
  await rejectsNaming(async () => createStore(new MemoryEngine(), { sweepIntervalMs: LIMITS.maxTimerMs + 1 }), "sweepIntervalMs", LIMITS.maxTimerMs);
  const store = await openStore({ backend: "memory", sweepIntervalMs: LIMITS.maxTimerMs });
  await store.close();
});

test("SQLite busyTimeoutMs past LIMITS.maxTimerMs is refused before the file is made; the bound itself opens and writes", async () => {
  const path = join(dir, "busy.db");
  await rejectsNaming(() => openStore({ backend: "sqlite", path, busyTimeoutMs: 3e9, sweepIntervalMs: 0 }), "busyTimeoutMs", LIMITS.maxTimerMs);
  assert.equal(existsSync(path), false);
  const store = await openStore({ backend: "sqlite", path, busyTimeoutMs: LIMITS.maxTimerMs, sweepIntervalMs: 0 });
  try {
    await store.kv("k").put("a", new Uint8Array([1]));
    assert.deepEqual(await store.kv("k").get("a"), new Uint8Array([1]));
  } finally {
    await store.close();
  }
});

test("PostgreSQL connectTimeoutMs and statementTimeoutMs past their bounds are refused before connecting", async () => {
  // Port 9 on 127.0.0.1: nothing listens; a check that let the value through would fail BACKEND_UNAVAILABLE instead.
  const dsn = "postgres://nobody@127.0.0.1:9/none";
  await rejectsNaming(() => openStore({ backend: "postgres", dsn, connectTimeoutMs: LIMITS.maxTimerMs + 1 }), "connectTimeoutMs", LIMITS.maxTimerMs);
  // The client-side query timeout is 1 s longer, so the statement timeout leaves room for it.
  await rejectsNaming(() => openStore({ backend: "postgres", dsn, statementTimeoutMs: 2_147_482_648 }), "statementTimeoutMs", LIMITS.maxTimerMs - 1_000);
});
