/**
 * Runs the list-append workload in child processes (test/fixtures/txn-client.ts) over an engine several processes
 * share, and, on PostgreSQL, a lock holder that makes the clients wait for row locks (and the ones with a short
 * statement timeout time out) while they run.
 */
import pg from "pg";
import { openStore, type OpenStoreOptions } from "../../../src/index.js";
import { killAll, lastJson, startChild, waitAllFor, type Child } from "../child.js";
import type { Txn } from "./history.js";
import { finalReads, KV_NAMESPACE, logNamespace, workloadKeys, type WorkloadOptions } from "./workload.js";

export interface ProcessRun {
  /** How the test opens the store (it migrates it before the clients start, and makes the final reads). */
  store: OpenStoreOptions;
  /** How client `i` opens it. */
  clientStore: (i: number) => OpenStoreOptions;
  clients: number;
  workload: WorkloadOptions;
  readyTimeoutMs: number;
  finishTimeoutMs: number;
  /** Runs while the clients run, until the signal aborts (the lock holder). */
  alongside?: (signal: AbortSignal) => Promise<void>;
}

/** One history from `clients` processes, plus the final reads. Every child is stopped before this returns. */
export async function runInProcesses(run: ProcessRun): Promise<Txn[]> {
  const store = await openStore({ ...run.store, sweepIntervalMs: 0 });
  const children: Child[] = [];
  const stop = new AbortController();
  let beside: Promise<void> = Promise.resolve();
  try {
    for (let i = 0; i < run.clients; i++) children.push(startChild("txn-client", [JSON.stringify(run.clientStore(i)), `p${i}`, JSON.stringify(run.workload)]));
    await waitAllFor(children, "ready", run.readyTimeoutMs);
    beside = run.alongside?.(stop.signal) ?? beside;
    for (const child of children) child.send("go");
    const exits = await Promise.all(children.map((child) => child.finish(run.finishTimeoutMs)));
    exits.forEach((exit, i) => {
      if (exit.code !== 0) throw new Error(`client ${i} failed (${exit.code ?? exit.signal})\n${(children[i] as Child).describe()}`);
    });
    stop.abort();
    await beside;
    const histories = children.map((child) => lastJson<{ history: Txn[] }>(child).history);
    return [...histories.flat(), ...(await finalReads(store, run.workload))];
  } finally {
    stop.abort();
    await beside.catch(() => undefined);
    await killAll(children);
    await store.close();
  }
}

/** Holds of the lock holder at most, so that its loop is bounded whatever the clients do. */
const MAX_HOLDS = 10_000;

/**
 * On PostgreSQL: until `signal` aborts, takes a random workload row's lock — a KV row, or a log namespace's counter
 * row that every append takes — and holds it for `maxHoldMs` at most (random, with `pg_sleep`), in a READ COMMITTED
 * transaction of its own connection, pausing between holds. Writers of that row wait meanwhile.
 */
export async function holdLocks(dsn: string, schema: string, workload: WorkloadOptions, maxHoldMs: number, signal: AbortSignal): Promise<void> {
  const client = new pg.Client({ connectionString: dsn, connectionTimeoutMillis: 10_000, options: `-c search_path=${schema}` });
  client.on("error", () => undefined);
  await client.connect();
  try {
    const keys = workloadKeys(workload);
    for (let hold = 0; hold < MAX_HOLDS && !signal.aborted; hold++) {
      const key = keys[Math.floor(Math.random() * keys.length)] as (typeof keys)[number];
      await client.query("BEGIN");
      if (key.kind === "kv") await client.query("SELECT 1 FROM stowage_kv WHERE ns = $1 AND key = $2 FOR UPDATE", [KV_NAMESPACE, key.name]);
      else await client.query("SELECT 1 FROM stowage_counter WHERE ns = $1 AND kind = 'log' FOR UPDATE", [logNamespace(key.index)]);
      await client.query("SELECT pg_sleep($1)", [(Math.random() * maxHoldMs) / 1000]);
      await client.query("COMMIT");
      await new Promise((resolve) => setTimeout(resolve, Math.random() * maxHoldMs));
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}
