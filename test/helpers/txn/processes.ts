/**
 * Runs the list-append workload in child processes (test/fixtures/txn-client.ts) over an engine several processes
 * share — optionally killing one client mid-run, whose call in flight then has an unknown outcome — and, on
 * PostgreSQL, a lock holder that makes the clients wait for row locks (and the ones with a short statement timeout
 * time out) while they run.
 */
import pg from "pg";
import { openStore, type OpenStoreOptions } from "../../../src/index.js";
import { killAll, startChild, waitAllFor, type Child } from "../child.js";
import type { Txn } from "./history.js";
import { finalReads, historyFromJournal, KV_NAMESPACE, logNamespace, workloadKeys, type WorkloadOptions } from "./workload.js";

export interface ProcessRun {
  /** How the test opens the store (it migrates it before the clients start, and makes the final reads). */
  store: OpenStoreOptions;
  /** How client `i` opens it. */
  clientStore: (i: number) => OpenStoreOptions;
  clients: number;
  workload: WorkloadOptions;
  /** Kill client 0 with SIGKILL after a random number of its calls settled. */
  crash: boolean;
  readyTimeoutMs: number;
  finishTimeoutMs: number;
  /** Runs while the clients run, until the signal aborts (the lock holder). */
  alongside?: (signal: AbortSignal) => Promise<void>;
  /** Waits, after the clients ended, until nothing a killed client started can still commit. */
  settle?: () => Promise<void>;
}

/** One history from `clients` processes, plus the final reads. Every child is stopped before this returns. */
export async function runInProcesses(run: ProcessRun): Promise<Txn[]> {
  // Opened once before the clients, so that they do not race the migration; closed, so that `settle` sees only theirs.
  await (await openStore({ ...run.store, sweepIntervalMs: 0 })).close();
  const children: Child[] = [];
  const stop = new AbortController();
  let beside: Promise<void> = Promise.resolve();
  try {
    for (let i = 0; i < run.clients; i++) children.push(startChild("txn-client", [JSON.stringify(run.clientStore(i)), `p${i}`, JSON.stringify(run.workload)]));
    await waitAllFor(children, "ready", run.readyTimeoutMs);
    beside = run.alongside?.(stop.signal) ?? beside;
    for (const child of children) child.send("go");
    if (run.crash) await crashAfterSomeCalls(children[0] as Child, run.workload.calls, run.finishTimeoutMs);
    const exits = await Promise.all(children.map((child) => child.finish(run.finishTimeoutMs)));
    exits.forEach((exit, i) => {
      if (exit.code !== 0 && !(run.crash && i === 0)) throw new Error(`client ${i} failed (${exit.code ?? exit.signal})\n${(children[i] as Child).describe()}`);
    });
    stop.abort();
    await beside;
    await run.settle?.();
    const store = await openStore({ ...run.store, sweepIntervalMs: 0 });
    try {
      return [...children.flatMap((child) => historyFromJournal(child.lines)), ...(await finalReads(store, run.workload))];
    } finally {
      await store.close();
    }
  } finally {
    stop.abort();
    await beside.catch(() => undefined);
    await killAll(children);
  }
}

/**
 * Kills `child` in the middle of a call, once it reported between 1 and `calls` - 1 calls settled (random), or when
 * it has finished.
 */
async function crashAfterSomeCalls(child: Child, calls: number, timeoutMs: number): Promise<void> {
  const after = 1 + Math.floor(Math.random() * Math.max(1, calls - 1));
  const inCall = (lines: readonly string[]) => lines.filter((line) => line.startsWith('{"done"')).length >= after && lines.at(-1)?.startsWith('{"begin"') === true;
  await child.waitFor(inCall, timeoutMs);
  child.kill("SIGKILL");
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
