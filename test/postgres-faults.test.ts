/**
 * PostgreSQL under faults, on a real throwaway server:
 * - the server is stopped in immediate mode (a crash: no shutdown checkpoint) and restarted, several times, while
 *   three processes write a mixed workload: calls fail with BACKEND_UNAVAILABLE within their timeouts, every process
 *   recovers by itself, and nothing that resolved is lost (the crash checks of test/helpers/crash-check.ts);
 * - a loopback TCP proxy between a store and the server delays, stalls and resets connections: delayed calls
 *   succeed, stalled and reset ones fail typed within their timeouts, and the same store works again afterwards.
 */
import assert from "node:assert/strict";
import { createServer, connect, type Server, type Socket } from "node:net";
import { test } from "node:test";
import { isStowageError, openStore, utf8, type OpenStoreOptions } from "../src/index.js";
import { killAll, sleep, startChild, type Child } from "./helpers/child.js";
import { checkRound, CrashLedger, parseReports, type CrashReport } from "./helpers/crash-check.js";
import { usePostgresServer } from "./helpers/postgres-server.js";

// A real server for this file; if it cannot start, every test that needs it fails rather than skips.
const pgServer = usePostgresServer();


const WRITERS = 3;
const RESTARTS = 3;
/** Each writer's operation numbers start at its own offset within round 0. */
const WRITER_STRIDE = 100_000;
const CONNECT_TIMEOUT_MS = 1_000;
const STATEMENT_TIMEOUT_MS = 2_000;
/** A call during an outage must fail within its timeouts plus scheduling slack. */
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
  const children: Child[] = [];
  try {
    for (let w = 0; w < WRITERS; w++) {
      children.push(startChild("crash-worker", [JSON.stringify(options), String(w * WRITER_STRIDE), "4", String(WRITER_STRIDE - 1), "tolerant"]));
    }
    for (const child of children) assert.ok(await child.waitFor((lines) => lines.includes("ready"), 30_000), `a writer did not start\n${child.describe()}`);
    const reportsSoFar = () => children.reduce((sum, child) => sum + child.lines.length, 0);
    for (let restart = 0; restart < RESTARTS; restart++) {
      await sleep(400);
      srv.stop("immediate");
      await sleep(300);
      srv.start();
    }
    // After the last restart every writer must make progress again on its own.
    const progress = children.map((child) => child.lines.length);
    const recovered = await Promise.all(children.map((child, i) => child.waitFor((lines) => lines.slice(progress[i]).some((line) => !line.includes('"failed"')), 15_000)));
    recovered.forEach((ok, i) => assert.ok(ok, `writer ${i} did not recover after the last restart\n${(children[i] as Child).describe()}`));
    assert.ok(reportsSoFar() > 0);
  } finally {
    await killAll(children);
  }

  const ledger = new CrashLedger();
  const reports = children.map((child) => parseReports(child.lines));
  const problems = ledger.add(reports.flat());
  const failures = reports.flat().filter((r): r is Extract<CrashReport, { type: "failed" }> => r.type === "failed");
  for (const failure of failures) {
    assert.equal(failure.code, "BACKEND_UNAVAILABLE", `op ${failure.n} failed with ${failure.code}`);
    assert.ok(failure.ms <= FAIL_WITHIN_MS, `op ${failure.n} took ${failure.ms} ms to fail`);
  }
  assert.ok(failures.length > 0, "no call failed: the outages did not happen while the writers ran");

  const store = await openStore({ ...options, sweepIntervalMs: 0 });
  try {
    problems.push(...(await store.check()).problems);
    for (let w = 0; w < WRITERS; w++) {
      const mine = reports[w] as CrashReport[];
      const first = w * WRITER_STRIDE;
      const maxN = Math.max(first - 1, ...mine.map((r) => r.n));
      problems.push(...(await checkRound(store, ledger, 0, first, maxN - first + 1 + 4)));
    }
  } finally {
    await store.close();
  }
  assert.deepEqual(problems, []);
  const resolved = reports.flat().filter((r) => r.type !== "failed").length;
  const slowest = Math.max(0, ...failures.map((f) => f.ms));
  t.diagnostic(`${RESTARTS} crashes: ${resolved} resolved steps all present, ${failures.length} calls failed BACKEND_UNAVAILABLE (slowest after ${slowest} ms)`);
});

/** A loopback TCP proxy to `target` whose behaviour can be switched while connections are open. */
class FaultProxy {
  mode: "pass" | "delay" | "stall" = "pass";
  delayMs = 50;
  private readonly pairs = new Set<[Socket, Socket]>();
  private readonly server: Server;

  private constructor(private readonly targetPort: number) {
    this.server = createServer((client) => {
      const upstream = connect(this.targetPort, "127.0.0.1");
      const pair: [Socket, Socket] = [client, upstream];
      this.pairs.add(pair);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        this.pairs.delete(pair);
      };
      client.on("error", drop).on("close", drop);
      upstream.on("error", drop).on("close", drop);
      this.pipe(client, upstream);
      this.pipe(upstream, client);
    });
  }

  static async start(targetPort: number): Promise<{ proxy: FaultProxy; port: number }> {
    const proxy = new FaultProxy(targetPort);
    await new Promise<void>((resolve) => proxy.server.listen(0, "127.0.0.1", resolve));
    const address = proxy.server.address();
    return { proxy, port: typeof address === "object" && address !== null ? address.port : 0 };
  }

  /** Resets every open connection (RST), as a dying middlebox would. */
  resetAll(): void {
    for (const [a, b] of this.pairs) {
      a.resetAndDestroy();
      b.resetAndDestroy();
    }
    this.pairs.clear();
  }

  get connections(): number {
    return this.pairs.size;
  }

  async close(): Promise<void> {
    this.resetAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Forwards `from` to `to` as the mode says: at once, after a delay, or not at all (bytes held back while stalled are dropped). */
  private pipe(from: Socket, to: Socket): void {
    from.on("data", (chunk: Buffer) => {
      if (this.mode === "stall") return;
      if (this.mode === "delay") {
        setTimeout(() => to.destroyed || to.write(chunk), this.delayMs);
        return;
      }
      if (!to.destroyed) to.write(chunk);
    });
  }
}

test("a TCP proxy that delays, stalls and resets connections: typed failures within the timeouts, then the same store works", async (t) => {
  const srv = pgServer();
  const { proxy, port } = await FaultProxy.start(srv.port);
  const dsn = srv.dsn.replace(`:${srv.port}/`, `:${port}/`);
  const store = await openStore({
    backend: "postgres",
    dsn,
    schema: "proxied",
    poolSize: 3,
    connectTimeoutMs: CONNECT_TIMEOUT_MS,
    statementTimeoutMs: STATEMENT_TIMEOUT_MS,
    sweepIntervalMs: 0,
  });
  const kv = store.kv("p", { codec: utf8 });
  const log = store.log("p", { codec: utf8 });
  const resolved = new Map<string, string>();
  let n = 0;
  /** A put that records what resolved; the outcome (ok or the error code) and how long it took. */
  const put = async (): Promise<{ ok: boolean; code?: string; ms: number }> => {
    const key = `k${n++}`;
    const started = Date.now();
    try {
      await kv.put(key, `v-${key}`);
      resolved.set(key, `v-${key}`);
      return { ok: true, ms: Date.now() - started };
    } catch (error) {
      return { ok: false, code: isStowageError(error) ? error.code : `untyped: ${String(error)}`, ms: Date.now() - started };
    }
  };
  try {
    for (let i = 0; i < 20; i++) assert.ok((await put()).ok);

    // Delay: every byte arrives 50 ms late; calls are slower but succeed.
    proxy.mode = "delay";
    const delayed = await Promise.all(Array.from({ length: 6 }, put));
    assert.ok(delayed.every((o) => o.ok), `delayed calls failed: ${JSON.stringify(delayed)}`);
    assert.ok(delayed.every((o) => o.ms >= 50), "the delay was not applied");
    assert.ok((await log.append("l", "delayed")) > 0);

    // Stall: connections stay open but carry nothing; calls fail typed within statement timeout + 1 s (client side).
    proxy.mode = "stall";
    const stalled = await Promise.all(Array.from({ length: 3 }, put));
    for (const o of stalled) {
      assert.equal(o.ok, false, "a call through a stalled connection succeeded");
      assert.equal(o.code, "BACKEND_UNAVAILABLE");
      assert.ok(o.ms <= FAIL_WITHIN_MS, `a stalled call took ${o.ms} ms to fail`);
    }
    t.diagnostic(`stalled calls failed after ${stalled.map((o) => o.ms).join(", ")} ms`);

    // Reset: back to passing bytes, but every open connection is reset; a call may meet one, then works.
    proxy.mode = "pass";
    proxy.resetAll();
    const afterReset: Array<{ ok: boolean; code?: string; ms: number }> = [];
    for (let i = 0; i < 10; i++) afterReset.push(await put());
    for (const o of afterReset) if (!o.ok) assert.equal(o.code, "BACKEND_UNAVAILABLE");
    assert.ok(afterReset.slice(-5).every((o) => o.ok), `calls still fail after the reset: ${JSON.stringify(afterReset)}`);

    // Resets in the middle of a stream of calls, several times.
    for (let round = 0; round < 3; round++) {
      const inFlight = Array.from({ length: 6 }, put);
      await sleep(2);
      proxy.resetAll();
      for (const o of await Promise.all(inFlight)) if (!o.ok) assert.equal(o.code, "BACKEND_UNAVAILABLE", JSON.stringify(o));
    }
    // A call may still meet a pooled connection whose reset it is the first to notice; within a few calls all work.
    const settled: Array<{ ok: boolean; code?: string; ms: number }> = [];
    for (let i = 0; i < 10; i++) settled.push(await put());
    for (const o of settled) if (!o.ok) assert.equal(o.code, "BACKEND_UNAVAILABLE");
    assert.ok(settled.slice(-5).every((o) => o.ok), `calls still fail after the resets: ${JSON.stringify(settled)}`);

    // Nothing that resolved is lost.
    for (const [key, value] of resolved) assert.equal(await kv.get(key), value, `${key} resolved but is missing`);
    t.diagnostic(`${resolved.size} of ${n} puts resolved, all present after the faults`);
  } finally {
    proxy.mode = "pass";
    await store.close();
    await proxy.close();
  }
});
