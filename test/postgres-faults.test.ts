/**
 * PostgreSQL under faults, on a real throwaway server (the batteries of test/helpers/server-faults.ts):
 * - the server is stopped in immediate mode (a crash: no shutdown checkpoint) and restarted, several times, while
 *   three processes write a mixed workload: calls fail with BACKEND_UNAVAILABLE within their timeouts, every process
 *   recovers by itself, and nothing that resolved is lost;
 * - a loopback TCP proxy between a store and the server delays, stalls and resets connections and loses replies:
 *   delayed calls succeed, stalled and reset ones fail typed within their timeouts, the same store works again
 *   afterwards, and nothing applies twice.
 */
import { test } from "node:test";
import { openStore, type OpenStoreOptions } from "../src/index.js";
import { usePostgresServer } from "./helpers/postgres-server.js";
import { proxyFaultBattery, serverCrashBattery } from "./helpers/server-faults.js";
import { FaultProxy } from "./helpers/tcp-proxy.js";

// A real server for this file; if it cannot start, every test that needs it fails rather than skips.
const pgServer = usePostgresServer();

const CONNECT_TIMEOUT_MS = 1_000;
const STATEMENT_TIMEOUT_MS = 2_000;
/** A call during an outage must fail within its timeouts (the client's is the statement's plus 1 s) plus scheduling slack. */
const FAIL_WITHIN_MS = STATEMENT_TIMEOUT_MS + 1_000 + CONNECT_TIMEOUT_MS + 3_000;

test("server crashes (immediate stop) and restarts while 3 processes write: typed failures, recovery, nothing resolved lost", async (t) => {
  const srv = pgServer();
  const options: OpenStoreOptions = {
    backend: "postgres",
    dsn: srv.dsn,
    schema: "faults",
    poolSize: 4,
    connectTimeoutMs: CONNECT_TIMEOUT_MS,
    statementTimeoutMs: STATEMENT_TIMEOUT_MS,
  };
  await serverCrashBattery(t, { options, outages: 3, down: () => srv.stop("immediate"), up: () => srv.start(), failWithinMs: FAIL_WITHIN_MS, nothingLost: true });
});

test("a TCP proxy that delays, stalls, resets and loses replies: typed failures within the timeouts, the same store works again, nothing applied twice", async (t) => {
  const srv = pgServer();
  const { proxy, port } = await FaultProxy.start(srv.port);
  try {
    await proxyFaultBattery(t, () => openStore({
      backend: "postgres",
      dsn: srv.dsn.replace(`:${srv.port}/`, `:${port}/`),
      schema: "proxied",
      poolSize: 3,
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
      statementTimeoutMs: STATEMENT_TIMEOUT_MS,
      sweepIntervalMs: 0,
    }), proxy, { failWithinMs: FAIL_WITHIN_MS });
  } finally {
    await proxy.close();
  }
});
