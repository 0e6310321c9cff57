/**
 * The list-append workload the transactional checker (./checker.ts) judges, run by one client over any store.
 *
 * Lists live in two primitives, so that both are covered: a KV key whose value is a JSON list (an append reads the
 * list and puts it back longer, inside the transaction) and a log key (an append is `log.append` of the element, a
 * read is `since(key, 0)`), each log key in a namespace of its own. Each call of a client is one of:
 * - a transaction of 1 to `maxOpsPerTxn` reads and appends on random keys, its body either plain (a failed call
 *   fails the transaction), catching (it catches every failed call, records it, and goes on; it also makes one call
 *   the store refuses), or aborting (it throws after its writes, so the store must roll them back);
 * - a plain call outside transactions: a KV read, a log read or a log append (a plain KV read-modify-write is not
 *   atomic, so the workload has none).
 * Every element is `<client>.<counter>`, unique per client. A body the store runs again records each earlier run as a
 * failed transaction of its own (its writes must never be seen).
 */
import { isStowageError, json, type Store, type TransactionScope } from "../../../src/index.js";
import { sharedClock, type AppendOp, type Outcome, type Txn } from "./history.js";

export const KV_NAMESPACE = "txn-kv";
/** The key of every log list; each log list has a namespace of its own. */
export const LOG_KEY = "list";
export const logNamespace = (i: number) => `txn-log-${i}`;

export interface WorkloadOptions {
  kvKeys: number;
  logKeys: number;
  /** Calls this client makes (transactions and plain calls). */
  calls: number;
  /** Reads and appends per transaction at most (at least 1). */
  maxOpsPerTxn: number;
  /** Share of calls made outside transactions. */
  plainShare: number;
  /** Share of transaction bodies that catch failed calls and go on. */
  catchShare: number;
  /** Share of transaction bodies that throw after their writes. */
  abortShare: number;
  /** The most a client pauses between calls, in ms (random). */
  pauseMs: number;
  /** The most a body pauses between its calls, in ms (random), so that transactions overlap others' calls. */
  bodyPauseMs: number;
}

/** The error an aborting body throws. */
export class DeliberateAbort extends Error {
  constructor() {
    super("deliberate abort");
  }
}

type Key = { name: string; kind: "kv" | "log"; index: number };

const keyOf = (kind: "kv" | "log", index: number): Key => ({ name: `${kind}${index}`, kind, index });

/** Every list key of the workload. */
export function workloadKeys(options: Pick<WorkloadOptions, "kvKeys" | "logKeys">): Key[] {
  return [...Array.from({ length: options.kvKeys }, (_, i) => keyOf("kv", i)), ...Array.from({ length: options.logKeys }, (_, i) => keyOf("log", i))];
}

/**
 * A failed call's outcome: `fail` for the errors that mean nothing was written (CONFLICT, INVALID_ARGUMENT,
 * LIMIT_EXCEEDED, INTERNAL, a deliberate abort), `info` for the rest — BACKEND_UNAVAILABLE (a timeout, a lost
 * connection) may have committed all the same.
 */
export function failureOutcome(error: unknown): Outcome {
  if (error instanceof DeliberateAbort) return "fail";
  return isStowageError(error, "CONFLICT") || isStowageError(error, "INVALID_ARGUMENT") || isStowageError(error, "LIMIT_EXCEEDED") || isStowageError(error, "INTERNAL") ? "fail" : "info";
}

async function readList(scope: TransactionScope | Store, key: Key): Promise<string[]> {
  if (key.kind === "kv") return (await scope.kv<string[]>(KV_NAMESPACE, { codec: json<string[]>() }).get(key.name)) ?? [];
  return (await scope.log<string>(logNamespace(key.index), { codec: json<string>() }).since(LOG_KEY, 0)).map((entry) => entry.value);
}

const sleep = (ms: number) => (ms <= 0 ? Promise.resolve() : new Promise<void>((resolve) => setTimeout(resolve, ms)));

/**
 * What a client reports as it goes, so that the history survives its crash: `begin` before each call (each run of a
 * body) with the elements it may append, `done` with its record once it settled. A call begun and never done has an
 * unknown outcome (see {@link historyFromJournal}).
 */
export type JournalLine = { begin: Pick<Txn, "id" | "process" | "single" | "start"> & { appends: Array<[string, string]> } } | { done: Txn };

/** Runs one client's calls on `store`; its history, in the order the calls were made. */
export async function runClient(
  store: Store,
  client: string,
  options: WorkloadOptions,
  journal: (line: JournalLine) => void = () => undefined,
  random: () => number = Math.random,
): Promise<Txn[]> {
  const keys = workloadKeys(options);
  const history: Txn[] = [];
  let counter = 0;
  const element = () => `${client}.${counter++}`;
  const pick = () => keys[Math.floor(random() * keys.length)] as Key;
  const ended = (txns: Txn[]) => {
    for (const done of txns) journal({ done });
    history.push(...txns);
  };

  for (let call = 0; call < options.calls; call++) {
    await sleep(Math.floor(random() * (options.pauseMs + 1)));
    const id = `${client}:${call}`;
    if (random() < options.plainShare) {
      ended(await plainCall(store, id, client, pick(), random() < 0.5, element, journal));
      continue;
    }
    const plan = Array.from({ length: 1 + Math.floor(random() * options.maxOpsPerTxn) }, () => ({ key: pick(), append: random() < 0.5 }));
    const mode = random() < options.catchShare ? "catch" : random() < options.abortShare / (1 - options.catchShare) ? "abort" : "plain";
    ended(await transactionCall(store, id, client, plan, mode, options.bodyPauseMs, random, element, journal));
  }
  return history;
}

/** One plain call: a read of `key`, or (`append`, log keys only) an append. */
async function plainCall(store: Store, id: string, client: string, key: Key, append: boolean, element: () => string, journal: (line: JournalLine) => void): Promise<Txn[]> {
  const start = sharedClock();
  const txn: Txn = { id, process: client, single: true, outcome: "ok", start, end: null, ops: [] };
  if (append && key.kind === "log") {
    const value = element();
    journal({ begin: { id, process: client, single: true, start, appends: [[key.name, value]] } });
    try {
      await store.log<string>(logNamespace(key.index), { codec: json<string>() }).append(LOG_KEY, value);
      txn.ops.push({ f: "a", key: key.name, value, outcome: "ok" });
    } catch (error) {
      txn.outcome = failureOutcome(error);
      txn.ops.push({ f: "a", key: key.name, value, outcome: txn.outcome });
    }
    // An unknown outcome may still take effect later: it has no known end.
    txn.end = txn.outcome === "info" ? null : sharedClock();
    return [txn];
  }
  try {
    txn.ops.push({ f: "r", key: key.name, value: await readList(store, key) });
  } catch {
    // A failed read tells nothing.
    return [];
  }
  txn.end = sharedClock();
  return [txn];
}

/** One transaction call; a body run more than once gives a failed transaction per earlier run. */
async function transactionCall(
  store: Store,
  id: string,
  client: string,
  plan: Array<{ key: Key; append: boolean }>,
  mode: "plain" | "catch" | "abort",
  bodyPauseMs: number,
  random: () => number,
  element: () => string,
  journal: (line: JournalLine) => void,
): Promise<Txn[]> {
  const runs: Txn[] = [];
  let bodyThrew = false;
  const invoked = sharedClock();
  const body = async (tx: TransactionScope) => {
    const previous = runs.at(-1);
    if (previous !== undefined) {
      // The store runs a body again only after the engine rolled the previous run back.
      previous.outcome = "fail";
      previous.end = sharedClock();
    }
    const run: Txn = { id: `${id}${runs.length === 0 ? "" : `.${runs.length}`}`, process: client, single: false, outcome: "info", start: invoked, end: null, ops: [] };
    runs.push(run);
    bodyThrew = false;
    // Each run appends elements of its own, announced before it writes.
    const appends = plan.filter((step) => step.append).map((step): [string, string] => [step.key.name, element()]);
    const elements = appends.map(([, value]) => value);
    journal({ begin: { id: run.id, process: client, single: false, start: invoked, appends } });
    try {
      await runBody(tx, run, plan, mode, bodyPauseMs, random, elements);
    } catch (error) {
      bodyThrew = true;
      throw error;
    }
  };
  let outcome: Outcome;
  try {
    await store.transaction(body);
    outcome = "ok";
  } catch (error) {
    // A body that threw is rolled back whatever the error; a failed commit is known only for a conflict.
    outcome = bodyThrew ? "fail" : failureOutcome(error);
  }
  const last = runs.at(-1);
  if (last !== undefined) {
    last.outcome = outcome;
    last.end = outcome === "info" ? null : sharedClock();
  }
  return runs;
}

async function runBody(
  tx: TransactionScope,
  run: Txn,
  plan: Array<{ key: Key; append: boolean }>,
  mode: "plain" | "catch" | "abort",
  bodyPauseMs: number,
  random: () => number,
  elements: readonly string[],
): Promise<void> {
  let next = 0;
  const attempt = async (call: () => Promise<void>) => {
    if (mode !== "catch") return call();
    try {
      await call();
    } catch (error) {
      // The call recorded its own outcome; the body goes on.
      (run.caught ??= []).push(isStowageError(error) ? error.code : String(error));
    }
  };
  const ops = run.ops;
  for (const [i, { key, append }] of plan.entries()) {
    if (i > 0) await sleep(Math.floor(random() * (bodyPauseMs + 1)));
    if (mode === "catch" && i === 1) {
      // A call the store refuses: the body catches it and goes on.
      await attempt(() => tx.kv(KV_NAMESPACE).put("", new Uint8Array(1)));
    }
    await attempt(async () => {
      if (!append) {
        ops.push({ f: "r", key: key.name, value: await readList(tx, key) });
        return;
      }
      const value = elements[next++] as string;
      const op: AppendOp = { f: "a", key: key.name, value, outcome: "info" };
      if (key.kind === "kv") {
        const list = await readList(tx, key);
        ops.push({ f: "r", key: key.name, value: list });
        ops.push(op);
        await record(op, () => tx.kv<string[]>(KV_NAMESPACE, { codec: json<string[]>() }).put(key.name, [...list, value]));
      } else {
        ops.push(op);
        await record(op, () => tx.log<string>(logNamespace(key.index), { codec: json<string>() }).append(LOG_KEY, value));
      }
    });
  }
  if (mode === "abort") throw new DeliberateAbort();
}

/** Runs an append, setting its outcome; rethrows its failure. */
async function record(op: AppendOp, call: () => Promise<unknown>): Promise<void> {
  try {
    await call();
    op.outcome = "ok";
  } catch (error) {
    op.outcome = failureOutcome(error);
    throw error;
  }
}

/** A plain read of every key, after every client has finished: the last word on each list. */
export async function finalReads(store: Store, options: Pick<WorkloadOptions, "kvKeys" | "logKeys">): Promise<Txn[]> {
  const history: Txn[] = [];
  for (const key of workloadKeys(options)) {
    const start = sharedClock();
    const value = await readList(store, key);
    history.push({ id: `final:${key.name}`, process: "final", single: true, outcome: "ok", start, end: sharedClock(), ops: [{ f: "r", key: key.name, value }] });
  }
  return history;
}

/** `clients` clients as concurrent async loops over one store, then the final reads: one history. */
export async function runInProcess(store: Store, clients: number, options: WorkloadOptions, prefix = "c"): Promise<Txn[]> {
  const histories = await Promise.all(Array.from({ length: clients }, (_, i) => runClient(store, `${prefix}${i}`, options)));
  return [...histories.flat(), ...(await finalReads(store, options))];
}

/**
 * A client's history from its journal lines (JSON, other lines ignored): its records, plus a transaction of unknown
 * outcome for each call it began and never reported done (it crashed in it), with the appends it may have made.
 */
export function historyFromJournal(lines: readonly string[]): Txn[] {
  const begun = new Map<string, Extract<JournalLine, { begin: unknown }>["begin"]>();
  const done: Txn[] = [];
  for (const line of lines) {
    if (!line.startsWith("{")) continue;
    const entry = JSON.parse(line) as JournalLine;
    if ("begin" in entry) begun.set(entry.begin.id, entry.begin);
    else {
      begun.delete(entry.done.id);
      done.push(entry.done);
    }
  }
  const unknown = [...begun.values()].map(
    (b): Txn => ({ id: b.id, process: b.process, single: b.single, outcome: "info", start: b.start, end: null, ops: b.appends.map(([key, value]) => ({ f: "a", key, value, outcome: "info" })) }),
  );
  return [...done, ...unknown];
}
