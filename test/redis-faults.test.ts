/**
 * Redis under faults, on a real throwaway server (test/helpers/redis-server.ts: AOF with `appendfsync always`), with
 * the batteries of test/helpers/server-faults.ts and test/helpers/crash-rounds.ts:
 * - the server killed with SIGKILL and restarted on its data folder, several times, while three processes write a
 *   mixed workload: calls fail BACKEND_UNAVAILABLE within their timeouts, every process recovers by itself, and
 *   nothing that resolved is lost (Redis fsyncs each commit to its AOF before it replies);
 * - a loopback TCP proxy between a store and the server delays, stalls and resets its connection and loses replies:
 *   delayed calls succeed, stalled ones fail BACKEND_UNAVAILABLE within `requestTimeoutMs`, reset ones fail typed, the same store
 *   works again by itself, and nothing applies twice;
 * - client processes killed with SIGKILL mid-workload lose nothing they reported and leave nothing half-applied.
 * `NETWORKED_OUTAGES` and `NETWORKED_CRASH_ROUNDS` set the server outages and client kills (the soak raises them).
 */
import { test } from "node:test";
import { openStore, type OpenStoreOptions } from "../src/index.js";
import { sleep } from "./helpers/child.js";
import { crashRounds } from "./helpers/crash-rounds.js";
import { useRedisServer } from "./helpers/redis-server.js";
import { proxyFaultBattery, serverCrashBattery } from "./helpers/server-faults.js";
import { FaultProxy } from "./helpers/tcp-proxy.js";

const server = useRedisServer();

const OUTAGES = Number(process.env.NETWORKED_OUTAGES ?? 2);
const CRASH_ROUNDS = Number(process.env.NETWORKED_CRASH_ROUNDS ?? 4);
const REQUEST_TIMEOUT_MS = 1_500;
/** A call makes several requests, but only one can wait for its deadline: the rest fail at once. */
const FAIL_WITHIN_MS = REQUEST_TIMEOUT_MS + 3_000;

test("Redis killed with SIGKILL and restarted while 3 processes write: typed failures, recovery, nothing resolved lost", async (t) => {
  const redis = server();
  const options: OpenStoreOptions = { backend: "redis", url: redis.url, prefix: "faults:", requestTimeoutMs: REQUEST_TIMEOUT_MS };
  await serverCrashBattery(t, { options, outages: OUTAGES, down: () => redis.kill(), up: () => redis.start(), failWithinMs: FAIL_WITHIN_MS, nothingLost: true });
});

test("Redis behind a TCP proxy that delays, stalls, resets and loses replies: typed failures within the request timeout, the same store works again, nothing applied twice", async (t) => {
  const { proxy, port } = await FaultProxy.start(server().port);
  try {
    await proxyFaultBattery(t, () => openStore({ backend: "redis", url: `redis://127.0.0.1:${port}`, prefix: "proxied:", requestTimeoutMs: REQUEST_TIMEOUT_MS, sweepIntervalMs: 0 }), proxy, { failWithinMs: FAIL_WITHIN_MS });
  } finally {
    await proxy.close();
  }
});

test("Redis: a client process killed mid-workload loses nothing it reported and leaves no half-done write", async (t) => {
  const options: OpenStoreOptions = { backend: "redis", url: server().url, prefix: "crash:" };
  // Redis runs a script it received whole even when its client is gone: a moment for it to land before the checks.
  await crashRounds(t, options, 22, { rounds: CRASH_ROUNDS, maxSteps: 100, settle: () => sleep(200) });
});
