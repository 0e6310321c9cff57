/**
 * Crash safety: a child process runs a mixed workload (KV puts with and without TTL, log appends, slot CAS, queue
 * push and ack, transactions) and is killed with SIGKILL mid-workload; the reopened store must hold every operation
 * the child reported and no half-done one (the rounds of test/helpers/crash-rounds.ts). `CRASH_ROUNDS` sets the kills
 * per engine (10 here; the soak runs 200, with `CRASH_MAX_STEPS=300`). The networked engines (etcd, Redis, Azure
 * Table) run the same rounds in their fault tests (test/*-faults.test.ts).
 */
import { join } from "node:path";
import { test } from "node:test";
import { tempDir } from "./helpers/child.js";
import { crashRounds } from "./helpers/crash-rounds.js";
import { usePostgresServer, waitForOtherClientsToEnd } from "./helpers/postgres-server.js";
import type { OpenStoreOptions } from "../src/index.js";

const ROUNDS = Number(process.env.CRASH_ROUNDS ?? 10);
/** The kill comes once the child has reported this many resolved steps or fewer, at random (at least 1). */
const MAX_STEPS = Number(process.env.CRASH_MAX_STEPS ?? 100);

// A real server for this file; if it cannot start, every test that needs it fails rather than skips.
const pgServer = usePostgresServer();

/** The rounds on `options`; a killed worker's PostgreSQL backends may still commit what it had sent: the checks start after them. */
function rounds(t: { diagnostic(message: string): void }, options: OpenStoreOptions, seed: number): Promise<void> {
  const settle = options.backend === "postgres" ? () => waitForOtherClientsToEnd(options.dsn) : undefined;
  return crashRounds(t, options, seed, { rounds: ROUNDS, maxSteps: MAX_STEPS, settle });
}

test("sqlite: a process killed mid-workload loses nothing it reported and leaves no half-done write", async (t) => {
  const tmp = tempDir("crash");
  try {
    await rounds(t, { backend: "sqlite", path: join(tmp.dir, "store.db"), durability: "full", busyTimeoutMs: 10_000 }, 11);
  } finally {
    tmp.remove();
  }
});

test("postgres: a process killed mid-workload loses nothing it reported and leaves no half-done write", async (t) => {
  await rounds(t, { backend: "postgres", dsn: pgServer().dsn, schema: "crash", poolSize: 4, connectTimeoutMs: 10_000 }, 12);
});

test("lmdb (ordered-KV family): a process killed mid-workload loses nothing it reported and leaves no half-done write", async (t) => {
  const tmp = tempDir("crash-lmdb");
  try {
    await rounds(t, { backend: "lmdb", path: join(tmp.dir, "store.lmdb") }, 13);
  } finally {
    tmp.remove();
  }
});

test("leveldb (ordered-KV family): a process killed mid-workload loses nothing it reported and leaves no half-done write", async (t) => {
  const tmp = tempDir("crash-leveldb");
  try {
    await rounds(t, { backend: "leveldb", path: join(tmp.dir, "store.leveldb") }, 14);
  } finally {
    tmp.remove();
  }
});
