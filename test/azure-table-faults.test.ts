/**
 * Azure Table storage under faults, on the azurite emulator (test/helpers/azurite-server.ts), with the batteries of
 * test/helpers/server-faults.ts and test/helpers/crash-rounds.ts:
 * - the emulator stopped with SIGINT (it saves its database on the way out) and restarted, several times, while three
 *   processes write a mixed workload: calls fail BACKEND_UNAVAILABLE within their timeouts, every process recovers by
 *   itself, and nothing that resolved is lost;
 * - the emulator killed with SIGKILL and restarted, the same way: typed failures and recovery only, since azurite
 *   keeps its data in memory and saves it every 5 s, so a kill loses the last seconds of resolved writes (a loss of
 *   the emulator's: Azure stores a batch in its replicas before it answers);
 * - a loopback TCP proxy between a store and the emulator delays, stalls and resets its connections and loses
 *   replies: delayed calls succeed, stalled ones fail BACKEND_UNAVAILABLE within `requestTimeoutMs`, reset ones fail
 *   typed, the same store works again by itself, and nothing applies twice; a commit whose reply is lost fails
 *   BACKEND_UNAVAILABLE and is not sent again (the SDK would resend it);
 * - client processes killed with SIGKILL mid-workload lose nothing they reported and leave nothing half-applied.
 * `NETWORKED_OUTAGES` and `NETWORKED_CRASH_ROUNDS` set the server outages and client kills (the soak raises them).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { isStowageError, openStore, utf8, type OpenStoreOptions } from "../src/index.js";
import { sleep } from "./helpers/child.js";
import { crashRounds } from "./helpers/crash-rounds.js";
import { useAzurite } from "./helpers/azurite-server.js";
import { proxyFaultBattery, serverCrashBattery } from "./helpers/server-faults.js";
import { FaultProxy } from "./helpers/tcp-proxy.js";

const server = useAzurite();

const OUTAGES = Number(process.env.NETWORKED_OUTAGES ?? 2);
const CRASH_ROUNDS = Number(process.env.NETWORKED_CRASH_ROUNDS ?? 4);
const REQUEST_TIMEOUT_MS = 1_500;
/**
 * A call makes several requests, but only one can wait for its deadline (a batch's is 4 times the request timeout, a
 * listing's 6 times), plus slack: a failed call's time also counts what it spent before the outage, queued behind
 * its process's other calls and rerun after conflicts with the other writers (all commit to one version entity).
 */
const FAIL_WITHIN_MS = 6 * REQUEST_TIMEOUT_MS + 6_000;

const options = (table: string, connectionString = server().connectionString, requestTimeoutMs = REQUEST_TIMEOUT_MS): OpenStoreOptions => ({
  backend: "azure-table",
  connectionString,
  table,
  requestTimeoutMs,
});

test("azurite stopped (SIGINT) and restarted while 3 processes write: typed failures, recovery, nothing resolved lost", async (t) => {
  const azurite = server();
  await serverCrashBattery(t, { options: options("faultsStopped"), outages: OUTAGES, down: () => azurite.stop(), up: () => azurite.start(), failWithinMs: FAIL_WITHIN_MS, nothingLost: true });
});

test("azurite killed with SIGKILL and restarted while 3 processes write: typed failures and recovery (the emulator may lose its last seconds)", async (t) => {
  const azurite = server();
  // The table and its version entity must be in the emulator's saved state before a kill, or a restart finds no table.
  await (await openStore({ ...options("faultsKilled"), sweepIntervalMs: 0 })).close();
  await azurite.stop();
  await azurite.start();
  await serverCrashBattery(t, { options: options("faultsKilled"), outages: OUTAGES, down: () => azurite.kill(), up: () => azurite.start(), failWithinMs: FAIL_WITHIN_MS, nothingLost: false });
});

test("azurite behind a TCP proxy that delays, stalls, resets and loses replies: typed failures within the request timeout, the same store works again, nothing applied twice", async (t) => {
  const azurite = server();
  const { proxy, port } = await FaultProxy.start(azurite.port);
  try {
    await proxyFaultBattery(t, () => openStore({ ...options("proxied", azurite.connectionString.replace(`:${azurite.port}/`, `:${port}/`)), sweepIntervalMs: 0 }), proxy, { failWithinMs: FAIL_WITHIN_MS });
  } finally {
    await proxy.close();
  }
});

test("azurite: a commit whose reply is lost (its connection reset after the emulator applied it) fails typed and is not sent again", async () => {
  const azurite = server();
  const { proxy, port } = await FaultProxy.start(azurite.port);
  try {
    const store = await openStore({ ...options("lostReply", azurite.connectionString.replace(`:${azurite.port}/`, `:${port}/`)), sweepIntervalMs: 0 });
    try {
      const log = store.log("p", { codec: utf8 });
      assert.equal(await log.append("l", "first"), 1);
      const batchSent = proxy.holdRepliesAfter((request) => request.includes("$batch"));
      const append = log.append("l", "second").then(
        (seq) => ({ seq }),
        (error: unknown) => ({ code: isStowageError(error) ? error.code : String(error) }),
      );
      await batchSent;
      await sleep(200);
      proxy.resetAll();
      // Its outcome is unknown to the caller: it fails, and the batch, which applied, is not sent again.
      assert.deepEqual(await append, { code: "BACKEND_UNAVAILABLE" });
      assert.deepEqual((await log.since("l", 0)).map((entry) => [entry.seq, entry.value]), [[1, "first"], [2, "second"]]);
    } finally {
      await store.close();
    }
  } finally {
    await proxy.close();
  }
});

test("azure-table: a client process killed mid-workload loses nothing it reported and leaves no half-done write", async (t) => {
  // azurite applies a request it received whole even when its client is gone: a moment for it to land before the checks.
  await crashRounds(t, options("crash", server().connectionString, 10_000), 23, { rounds: CRASH_ROUNDS, maxSteps: 100, settle: () => sleep(200) });
});
