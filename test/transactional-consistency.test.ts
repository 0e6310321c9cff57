/**
 * The transactional consistency battery: the list-append workload (test/helpers/txn/workload.ts) from concurrent
 * clients — async clients in one process on memory, child processes on SQLite (one file) and PostgreSQL (one
 * schema, with a lock holder making clients wait and the short-timeout ones time out; every other history one
 * client is killed mid-run), on LMDB (one file), and on etcd, Redis and Azure Table (azurite), one prefix or table on
 * a real server — judged by the checker (test/helpers/txn/checker.ts): every history must be free of anomalies,
 * strictly serializable, on every engine. `TXN_HISTORIES` sets the histories per engine (a few by default; the soak
 * runs 100). Each engine's figures are printed as diagnostics.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import { createStore, openStore, type OpenStoreOptions, type Store } from "../src/index.js";
import { OrderedEngine } from "../src/engines/ordered/ordered-engine.js";
import { SortedKeySpace, SortedOrderedStore } from "./helpers/sorted-ordered-store.js";
import { openLevelDbStore } from "../src/engines/leveldb/leveldb-store.js";
import { tempDir } from "./helpers/child.js";
import { NETWORKED_ENGINES, shortRun, useNetworkedServers } from "./helpers/networked-stores.js";
import { usePostgresServer, waitForOtherClientsToEnd } from "./helpers/postgres-server.js";
import { checkHistory, describeAnomalies, describeFigures, type CheckReport } from "./helpers/txn/checker.js";
import type { Txn } from "./helpers/txn/history.js";
import { holdLocks, runInProcesses } from "./helpers/txn/processes.js";
import { finalReads, runClient, runInProcess, type WorkloadOptions } from "./helpers/txn/workload.js";

const HISTORIES = process.env.TXN_HISTORIES === undefined ? undefined : Number(process.env.TXN_HISTORIES);
const CLIENTS = 5;

const WORKLOAD: WorkloadOptions = { kvKeys: 3, logKeys: 3, calls: 40, maxOpsPerTxn: 4, plainShare: 0.35, catchShare: 0.25, abortShare: 0.15, pauseMs: 2, bodyPauseMs: 3 };
/**
 * On PostgreSQL transactions run concurrently (SERIALIZABLE, optimistic), so longer bodies and more plain calls give
 * plain writes and reads the time to land inside a transaction.
 */
const PG_WORKLOAD: WorkloadOptions = { ...WORKLOAD, plainShare: 0.5, bodyPauseMs: 25 };
/**
 * Calls per client on a networked engine when `TXN_HISTORIES` is not set: every call is one or more round trips to
 * the server, and conflicting commits run again (azurite: half, see `shortRun`). The soak makes as many as elsewhere.
 */
const NETWORKED_CALLS = 25;

/** Checks each history, prints the engine's figures, and asserts that no history had an anomaly. */
async function battery(t: TestContext, engine: string, histories: number, history: (run: number) => Promise<Txn[]>): Promise<void> {
  const reports: CheckReport[] = [];
  const bad: string[] = [];
  for (let run = 0; run < histories; run++) {
    const report = checkHistory(await history(run));
    reports.push(report);
    if (report.anomalies.length > 0) bad.push(`history ${run}: ${describeFigures(report)}\n${describeAnomalies(report)}`);
  }
  const total = sumReports(reports);
  t.diagnostic(`${engine}: ${histories} histories, ${describeFigures(total)}`);
  assert.ok(total.committed > 0 && total.edges.rw > 0 && total.edges.wr > 0, `${engine}: the workload did not exercise the engine: ${describeFigures(total)}`);
  assert.deepEqual(bad, [], `${engine}: anomalies in ${bad.length} of ${histories} histories`);
}

function sumReports(reports: readonly CheckReport[]): CheckReport {
  const total: CheckReport = { txns: 0, committed: 0, aborted: 0, unknown: 0, edges: { ww: 0, wr: 0, rw: 0, rt: 0 }, anomalies: [], counts: {} };
  for (const r of reports) {
    total.txns += r.txns;
    total.committed += r.committed;
    total.aborted += r.aborted;
    total.unknown += r.unknown;
    for (const kind of ["ww", "wr", "rw", "rt"] as const) total.edges[kind] += r.edges[kind];
    for (const [name, n] of Object.entries(r.counts)) total.counts[name] = (total.counts[name] ?? 0) + n;
  }
  return total;
}

describe("transactional consistency: list-append histories checked for anomalies", () => {
  const pgServer = usePostgresServer();
  const networkedStore = useNetworkedServers();
  const dsn = () => pgServer().dsn;

  it("memory: async clients in one process", async (t) => {
    await battery(t, "memory", HISTORIES ?? 4, async () => {
      const store = await openStore({ backend: "memory", sweepIntervalMs: 0 });
      try {
        return await runInProcess(store, CLIENTS, WORKLOAD);
      } finally {
        await store.close();
      }
    });
  });

  it("ordered-KV family: clients on separate engines over one sorted key space (optimistic commits that conflict)", async (t) => {
    await battery(t, "ordered", HISTORIES ?? 4, async () => {
      const space = new SortedKeySpace();
      // Each client has an engine of its own over the shared key space, as processes over one LMDB file have.
      const stores = await Promise.all(
        Array.from({ length: CLIENTS + 1 }, async () => createStore(await OrderedEngine.open(new SortedOrderedStore(space)), { sweepIntervalMs: 0 })),
      );
      try {
        const histories = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => runClient(stores[i] as Store, `c${i}`, WORKLOAD)));
        return [...histories.flat(), ...(await finalReads(stores[CLIENTS] as Store, WORKLOAD))];
      } finally {
        await Promise.all(stores.map((store) => store.close()));
      }
    });
  });

  it("lmdb: client processes on one file (optimistic commits that conflict)", async (t) => {
    await battery(t, "lmdb", HISTORIES ?? 2, async (run) => {
      const tmp = tempDir("txn-lmdb");
      try {
        const store: OpenStoreOptions = { backend: "lmdb", path: join(tmp.dir, "store.lmdb") };
        // Every other history, a client is killed mid-run: its call in flight has an unknown outcome.
        return await runInProcesses({ store, clientStore: () => store, clients: CLIENTS, workload: WORKLOAD, crash: run % 2 === 1, readyTimeoutMs: 30_000, finishTimeoutMs: 60_000 });
      } finally {
        tmp.remove();
      }
    });
  });

  it("leveldb: async clients in one process (one opener at a time)", async (t) => {
    await battery(t, "leveldb", HISTORIES ?? 2, async () => {
      const tmp = tempDir("txn-leveldb");
      const store = createStore(await OrderedEngine.open(await openLevelDbStore({ path: join(tmp.dir, "store.leveldb") })), { sweepIntervalMs: 0 });
      try {
        return await runInProcess(store, CLIENTS, WORKLOAD);
      } finally {
        await store.close();
        tmp.remove();
      }
    });
  });

  for (const engine of NETWORKED_ENGINES) {
    it(`${engine}: client processes on one store of a real server (optimistic commits that conflict)`, async (t) => {
      await battery(t, engine, HISTORIES ?? 2, async (run) => {
        const store = networkedStore(engine, "txn");
        return runInProcesses({
          store,
          clientStore: () => store,
          clients: CLIENTS,
          workload: { ...WORKLOAD, calls: HISTORIES === undefined ? shortRun(engine, NETWORKED_CALLS) : WORKLOAD.calls },
          // Every other history, a client is killed mid-run: its call in flight has an unknown outcome.
          crash: run % 2 === 1,
          readyTimeoutMs: 30_000,
          finishTimeoutMs: 60_000,
          // A killed client's commit may have reached the server and still apply: the final reads come after it would.
          settle: () => new Promise((resolve) => setTimeout(resolve, 500)),
        });
      });
    });
  }

  it("sqlite: client processes on one file", async (t) => {
    await battery(t, "sqlite", HISTORIES ?? 2, async (run) => {
      const tmp = tempDir("txn");
      try {
        const store: OpenStoreOptions = { backend: "sqlite", path: join(tmp.dir, "store.db"), busyTimeoutMs: 10_000 };
        // Every other history, a client is killed mid-run: its call in flight has an unknown outcome.
        return await runInProcesses({ store, clientStore: () => store, clients: CLIENTS, workload: WORKLOAD, crash: run % 2 === 1, readyTimeoutMs: 30_000, finishTimeoutMs: 60_000 });
      } finally {
        tmp.remove();
      }
    });
  });

  it("postgres: client processes on one schema, with lock waits and statement timeouts", async (t) => {
    await battery(t, "postgres", HISTORIES ?? 2, async (run) => {
      const schema = `txn_${run}`;
      const store: OpenStoreOptions = { backend: "postgres", dsn: dsn(), schema, poolSize: 2, connectTimeoutMs: 10_000 };
      // Two clients of five time out waiting for a lock the holder keeps longer than their statement timeout.
      const clientStore = (i: number): OpenStoreOptions => (i < 2 ? { ...store, statementTimeoutMs: 150 } : store);
      return runInProcesses({
        store,
        clientStore,
        clients: CLIENTS,
        workload: PG_WORKLOAD,
        crash: run % 2 === 1,
        readyTimeoutMs: 30_000,
        finishTimeoutMs: 120_000,
        alongside: (signal) => holdLocks(dsn(), schema, PG_WORKLOAD, 250, signal),
        // A killed client's backend may still commit the statement it was running: the final reads come after it.
        settle: () => waitForOtherClientsToEnd(dsn()),
      });
    });
  });
});
