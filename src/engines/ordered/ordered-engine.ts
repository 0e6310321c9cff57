import { StowageError } from "../../api/errors.js";
import { LIMITS } from "../../api/limits.js";
import { API_LIMITS } from "../api-limits.js";
import type { Awaitable, Engine, EngineFacts, EngineOps, EngineSupports } from "../engine.js";
import { opsCalling, runCall, type CallResult, type EngineCall } from "../engine-calls.js";
import { ChangeSignal } from "../change-signal.js";
import { Mutex } from "../mutex.js";
import { pauseBeforeRetry, serializationFailure, transactionFatal } from "../transaction-failure.js";
import { BufferedTx } from "./buffered-tx.js";
import { KeyLayout, TAG } from "./key-layout.js";
import { kvHistoryStateKey, kvPutReadsEntry, kvWriteReads, liveEntry, liveFreshEntry, liveFreshValue, liveValue } from "./kv-programs.js";
import { checkOrderedData } from "./ordered-check.js";
import { orderedOps } from "./ordered-ops.js";
import { openLayout } from "./layout-version.js";
import { ReaderPool } from "./reader-pool.js";
import type { OrderedSnapshot, OrderedStore } from "./ordered-store.js";
import { withHeldSnapshot } from "./held-snapshot.js";

interface PendingWrite {
  call: EngineCall;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** Most writes one group commit carries; a backlog beyond it goes in the next commit. */
const MAX_GROUP = 512;
/** Runs of a write whose commit keeps losing to other processes' commits before it fails with CONFLICT. */
export const MAX_COMMIT_ATTEMPTS = 100;
/** The longest pause between two runs of a write that lost, in ms. */
const MAX_RETRY_PAUSE_MS = 20;

/** Most namespaces {@link OrderedEngine} remembers as without history; beyond, it starts over. */
const MAX_HISTORYLESS = 1_000;

/** Room a record takes beside its value: numbers (deadline, timestamp) and, in log and change records, the key. */
const RECORD_HEADER_BYTES = 64 + LIMITS.maxKeyBytes;

/**
 * The most records one stowage write makes: a KV put replacing an entry that has a deadline writes the entry, removes
 * the old expiry index record, writes the new one and a change record, and updates its namespace's history state.
 */
const RECORDS_PER_WRITE = 5;
/** How many times a write's bytes may be stored: a KV put with history keeps the value in its entry and its change record. */
const COPIES_PER_WRITE = 2;

/**
 * The manifest of the family's engine over a store with these properties: everything, across processes unless the
 * store has one writer (LevelDB). Limits are stowage's, tightened to what the store's own leave: values by a record's
 * header, and for a store with commit limits (etcd), transactions to what always fits one commit whatever records
 * their writes make ({@link RECORDS_PER_WRITE}, {@link COPIES_PER_WRITE}), and values to half a transaction. Keys over
 * the store's key limit are refused by the key layout, and commits over its commit limits are split or refused by the
 * family. Descriptors declare the same manifest before any store opens.
 */
export function orderedSupports(store: Pick<OrderedStore, "singleWriter" | "limits">): EngineSupports {
  const { maxValueBytes, maxWritesPerCommit, maxBytesPerCommit } = store.limits;
  const maxTransactionWrites =
    maxWritesPerCommit === null ? API_LIMITS.maxTransactionWrites : Math.min(API_LIMITS.maxTransactionWrites, Math.max(1, Math.floor(maxWritesPerCommit / RECORDS_PER_WRITE)));
  // Each write's records may carry a header and a key beside its bytes; never less than half of the copies' room.
  const copiesRoom = maxBytesPerCommit === null ? 0 : Math.floor(maxBytesPerCommit / COPIES_PER_WRITE);
  const maxTransactionBytes =
    maxBytesPerCommit === null
      ? API_LIMITS.maxTransactionBytes
      : Math.min(API_LIMITS.maxTransactionBytes, Math.max(Math.floor(copiesRoom / 2), copiesRoom - maxTransactionWrites * RECORDS_PER_WRITE * RECORD_HEADER_BYTES));
  const valueRoom = maxBytesPerCommit === null ? maxValueBytes - RECORD_HEADER_BYTES : Math.floor(maxTransactionBytes / 2);
  return Object.freeze({
    liveFeeds: true,
    kvHistory: true,
    crossProcess: !store.singleWriter,
    crossNamespaceTransactions: true,
    // A work item's every write (a push with a dedup key, an ack, a dead-letter) makes at most RECORDS_PER_WRITE records.
    workQueues: maxWritesPerCommit === null || maxWritesPerCommit >= RECORDS_PER_WRITE,
    limits: Object.freeze({
      maxKeyBytes: API_LIMITS.maxKeyBytes,
      maxValueBytes: Math.max(1, Math.min(API_LIMITS.maxValueBytes, maxValueBytes - RECORD_HEADER_BYTES, valueRoom)),
      maxTransactionWrites,
      maxTransactionBytes,
    }),
  });
}

/**
 * The ordered-KV family's engine: every primitive over an {@link OrderedStore}, with the key layout of
 * `key-layout.ts`. Reads run against one snapshot (synchronously when the store's are). Writes run against a buffered
 * transaction and commit optimistically: the store applies them only if everything they read still holds, and a
 * write that lost to another process runs again. This process's writes take turns under one lock; writes that arrive
 * while a commit is in flight share the next one (group commit). Open with {@link OrderedEngine.open}.
 */
export class OrderedEngine implements Engine {
  readonly name: string;
  readonly location: string;
  /** See {@link orderedSupports}. */
  readonly supports: EngineSupports;
  private readonly keys: KeyLayout;
  private readonly lock = new Mutex();
  private readonly readers: ReaderPool;
  private pending: PendingWrite[] = [];
  private flushing = false;
  private unwatch: (() => void) | undefined;
  /**
   * On a store that verifies each check (`OrderedStore.verifiesEachCheck`): the namespaces that had no history when
   * this process last committed a KV write of theirs. A group's KV writes presume that instead of reading the
   * history state, so that a put without deadline takes one round trip (its commit); a history started meanwhile
   * fails that commit, and the group runs again with real reads. A namespace with a history is read each time: its
   * state changes with every write, of any process, so a presumed one would often be stale.
   */
  private readonly historyless = new Set<string>();
  /** A reader for calls that make one point read, when the store has one (`OrderedStore.singleReadSnapshot`). */
  private readonly singleRead: OrderedSnapshot | undefined;
  /** Own commits signal at once; other processes' through the store's `watchCommits`, when it has one. */
  readonly changes: ChangeSignal;

  /**
   * Opens the family over `store`: creates the layout version record, or refuses a newer or foreign layout with
   * INCOMPATIBLE. When opening fails, the store is closed.
   */
  static async open(store: OrderedStore): Promise<OrderedEngine> {
    try {
      await openLayout(store);
    } catch (error) {
      // A store that cannot be used (foreign data, a refused first read, a cluster gone) is closed with the failure:
      // no connection left reconnecting, no file left locked.
      await store.close().catch(() => undefined);
      throw error;
    }
    return new OrderedEngine(store);
  }

  private constructor(private readonly store: OrderedStore) {
    this.name = store.name;
    this.location = store.location;
    this.supports = orderedSupports(store);
    this.keys = new KeyLayout(store.limits.maxKeyBytes, store.name);
    this.readers = new ReaderPool(this.keys, store.synchronousPointReads === true);
    this.singleRead = store.singleReadSnapshot?.();
    const watch = store.watchCommits?.bind(store);
    this.changes = new ChangeSignal(
      watch === undefined
        ? undefined
        : {
            start: (notify) => (this.unwatch = watch(notify)),
            stop: () => {
              this.unwatch?.();
              this.unwatch = undefined;
            },
          },
    );
  }

  /** Against one snapshot, released when the work is done; no promise when the store's reads are synchronous. */
  read<C extends EngineCall>(call: C): Awaitable<CallResult<C>> {
    // A KV get reads one key: one read sees one point in time, with no consistency to check. A store that reads it
    // synchronously reads it straight, with the key in the layout's reused buffer (the store reads it only then).
    if (this.store.pointRead !== undefined && (call.op === "kvGet" || call.op === "kvGetEntry")) {
      const [ns, key, now] = call.args as EngineCall<"kvGet">["args"];
      const recordKey = this.keys.scratchTextKey(TAG.kv, ns, key);
      const fresh = this.store.freshPointReads === true;
      return (call.op === "kvGet" ? this.store.pointRead(recordKey, fresh ? liveFreshValue : liveValue, now) : this.store.pointRead(recordKey, fresh ? liveFreshEntry : liveEntry, now)) as CallResult<C>;
    }
    if (this.singleRead !== undefined && (call.op === "kvGet" || call.op === "kvGetEntry")) return this.readers.run(this.singleRead, call);
    const snapshot = this.store.snapshot();
    if (snapshot instanceof Promise) return snapshot.then((taken) => (taken.consistent === undefined ? this.readers.run(taken, call) : this.readChecked(taken, call)));
    return this.readers.run(snapshot, call);
  }

  write<C extends EngineCall>(call: C): Promise<CallResult<C>> {
    return new Promise<CallResult<C>>((resolve, reject) => {
      this.pending.push({ call: this.withinCommit(call), resolve: resolve as (value: unknown) => void, reject });
      if (this.flushing) return;
      this.flushing = true;
      // commitGroup settles every write itself; should anything escape it, no write may wait forever.
      void this.lock.run(() => this.flush()).catch((error: unknown) => {
        this.flushing = false;
        for (const write of this.pending.splice(0)) write.reject(error);
      });
    });
  }

  /**
   * The body against one buffered transaction, under this process's lock (so that its transactions never conflict
   * with each other). Each call of the body runs under a savepoint: a refusal leaves nothing and the body may go on.
   * A commit that finds a read changed by another process fails with a CONFLICT marked as a serialization failure
   * (the store runs the body again); a failure of the store itself is marked as ending the transaction.
   */
  transaction<T>(body: (ops: EngineOps) => Promise<T>): Promise<T> {
    return this.lock.run(async () => {
      const tx = await this.begin();
      let released = false;
      const release = () => {
        if (!released) tx.snapshot.release();
        released = true;
      };
      try {
        let result: T;
        try {
          result = await body(withSavepoints(orderedOps(tx.buffer, this.keys, { maxWritesPerCommit: this.store.limits.maxWritesPerCommit }), tx.buffer));
        } catch (error) {
          // A body that failed on reads of a torn snapshot failed on data that never was: it runs again.
          if (!(await this.readsHeld(tx))) throw serializationFailure(new StowageError("CONFLICT", `another process changed what the transaction read (${this.name}) while it ran; nothing was written`));
          throw error;
        }
        this.checkCommitSize(tx.buffer, "the transaction");
        // Without writes nothing needs committing, unless the snapshot was torn: then the commit only checks the reads.
        if (tx.buffer.writeCount === 0 && (await tx.snapshot.consistent?.()) !== false) return result;
        let committed: boolean;
        try {
          committed = await this.store.commit({ checks: tx.buffer.checks, writes: tx.buffer.writes(), snapshot: tx.snapshot });
        } catch (error) {
          throw transactionFatal(asError(error));
        } finally {
          release();
        }
        if (!committed) throw serializationFailure(new StowageError("CONFLICT", `another process changed what the transaction read (${this.name}); nothing was written`));
        if (tx.buffer.writeCount > 0) {
          // A transaction may have written history states: the next group reads them again.
          this.historyless.clear();
          this.changes.notify();
        }
        return result;
      } finally {
        release();
      }
    });
  }

  /**
   * `body` over one read-only view of the store, held until it settles (also when it throws). What holds, by store:
   * LMDB keeps one read transaction (a reader slot) for the whole body, never blocking writers, but pages freed by
   * commits made meanwhile cannot be reused until it ends, so a long read under heavy writes grows the file by what
   * they write. LevelDB keeps one LevelDB snapshot (taken before the first commit that would change what it sees).
   * etcd reads at one revision, fixed at the call: etcd does not hold it back from compaction, so a body that outlives
   * the cluster's history (`--auto-compaction-retention`) fails CONFLICT at its next read and can run again. Redis and
   * Azure Table cannot hold a snapshot: when any commit (of any namespace) landed between the first read and the end,
   * the body's outcome is refused with CONFLICT.
   */
  snapshot<T>(body: (ops: EngineOps) => Promise<T>): Promise<T> {
    return withHeldSnapshot(this.store, this.keys, body);
  }

  check(): Promise<string[]> {
    return checkOrderedData(this.store, this.keys);
  }

  async facts(): Promise<EngineFacts> {
    const facts = (await this.store.facts?.()) ?? {};
    return { facts, warnings: this.store.warnings?.(facts) ?? [] };
  }

  async close(): Promise<void> {
    this.changes.stopAll();
    await this.lock.run(() => undefined);
    await this.store.close();
  }

  /**
   * A read on a store whose snapshots may be torn (`OrderedSnapshot.consistent`, Redis): run as on any store, and its
   * outcome (a value or a refusal) kept when the snapshot held one point in time, which a single read always does;
   * else run again, validated ({@link readValidated}). What it read is recorded only in that rare second run.
   */
  private async readChecked<C extends EngineCall>(snapshot: OrderedSnapshot, call: C): Promise<CallResult<C>> {
    let outcome: Outcome;
    try {
      outcome = { ok: true, value: await this.readers.run(snapshot, call, true) };
    } catch (error) {
      outcome = { ok: false, error };
    }
    let held: boolean;
    try {
      held = (await snapshot.consistent?.()) !== false;
    } finally {
      snapshot.release();
    }
    if (!held) return this.readValidated(await this.store.snapshot(), call);
    if (outcome.ok) return outcome.value as CallResult<C>;
    throw outcome.error;
  }

  /**
   * A read on a store whose snapshots may be torn, recording what it reads: run against a buffered
   * transaction that records what it reads. Its outcome (a value or a refusal) stands when the snapshot was consistent
   * or every read still holds; otherwise the read runs again on a new snapshot, at most {@link MAX_COMMIT_ATTEMPTS} times.
   */
  private async readValidated<C extends EngineCall>(first: OrderedSnapshot, call: C): Promise<CallResult<C>> {
    let snapshot = first;
    for (let attempt = 1; ; attempt++) {
      const tx = { snapshot, buffer: new BufferedTx(snapshot, true, this.store.limits, this.name) };
      let outcome: Outcome;
      try {
        outcome = { ok: true, value: await runCall(orderedOps(tx.buffer, this.keys), call) };
      } catch (error) {
        outcome = { ok: false, error };
      } finally {
        snapshot.release();
      }
      if (await this.readsHeld(tx)) {
        if (outcome.ok) return outcome.value as CallResult<C>;
        throw outcome.error;
      }
      if (attempt >= MAX_COMMIT_ATTEMPTS) throw new StowageError("CONFLICT", `the read lost to other processes' commits ${attempt} times in a row (${this.name})`);
      await pauseBeforeRetry(attempt, MAX_RETRY_PAUSE_MS);
      snapshot = await this.store.snapshot();
    }
  }

  /** Whether what `tx` read holds at one point in time: its snapshot was consistent, or the store confirms every read. */
  private async readsHeld(tx: { snapshot: OrderedSnapshot; buffer: BufferedTx }): Promise<boolean> {
    return (await tx.snapshot.consistent?.()) !== false || this.store.commit({ checks: tx.buffer.checks, writes: [] });
  }

  private async begin(): Promise<{ snapshot: Awaited<ReturnType<OrderedStore["snapshot"]>>; buffer: BufferedTx }> {
    const snapshot = await this.store.snapshot();
    return { snapshot, buffer: new BufferedTx(snapshot, !this.store.singleWriter, this.store.limits, this.name) };
  }

  /** Commits everything pending, a group at a time. Runs under the lock; the last step clears `flushing` in the same turn as it finds nothing pending. */
  private async flush(): Promise<void> {
    for (;;) {
      if (this.pending.length === 0) {
        this.flushing = false;
        return;
      }
      await this.commitGroup(this.pending.splice(0, MAX_GROUP));
    }
  }

  /**
   * Runs the group's writes one after another into one buffered transaction and commits it once. A write that throws
   * (a full queue, an expected sequence that does not hold) has its buffered writes undone, and the others still
   * commit. A write that would take the commit past the store's limits goes to the next commit with those after it;
   * alone, it is refused with LIMIT_EXCEEDED. When the commit loses to another process, the group runs again.
   */
  private async commitGroup(group: PendingWrite[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      let tx: Awaited<ReturnType<OrderedEngine["begin"]>>;
      try {
        tx = await this.begin();
      } catch (error) {
        for (const write of group) write.reject(error);
        return;
      }
      const outcomes: Outcome[] = [];
      let carried: PendingWrite[] = [];
      const ops = orderedOps(tx.buffer, this.keys, { retry: attempt - 1, maxWritesPerCommit: this.store.limits.maxWritesPerCommit });
      // The group's writes run one after another; on a store whose reads are round trips, their KV reads go at once,
      // and the history states this process knows are presumed rather than read.
      const presuming = this.store.verifiesEachCheck === true;
      if (presuming) this.presumeStates(group, tx.buffer);
      if (group.length > 1 && this.store.synchronousPointReads !== true) tx.buffer.prefetch(kvReadsOf(group, this.keys));
      try {
        for (let i = 0; i < group.length; i++) {
          const mark = tx.buffer.mark();
          const outcome = await this.runOne((group[i] as PendingWrite).call, ops, tx.buffer, mark);
          if (outcome === "carry") {
            carried = group.slice(i);
            break;
          }
          outcomes.push(outcome);
        }
        // A group whose every write was refused commits nothing, unless its snapshot was torn or it presumed a value:
        // then the commit checks the reads (and presumed values) those refusals rest on.
        const committed =
          (tx.buffer.writeCount === 0 && !tx.buffer.presumes && (await tx.snapshot.consistent?.()) !== false) ||
          (await this.store.commit({ checks: tx.buffer.checks, writes: tx.buffer.writes(), snapshot: tx.snapshot }));
        if (presuming) this.learnStates(group, tx.buffer, committed);
        if (committed) {
          if (tx.buffer.writeCount > 0) this.changes.notify();
          outcomes.forEach((outcome, i) => settle(group[i] as PendingWrite, outcome));
          if (carried.length > 0) this.pending.unshift(...carried);
          return;
        }
      } catch (error) {
        // The store failed to read or commit: nothing of the group was written (or, a commit's outcome unknown, what
        // it wrote is read again).
        this.historyless.clear();
        for (const write of group) write.reject(error);
        return;
      } finally {
        tx.snapshot.release();
      }
      if (attempt >= MAX_COMMIT_ATTEMPTS) {
        const error = new StowageError("CONFLICT", `the write lost to other processes' commits ${attempt} times in a row (${this.name}); nothing was written`);
        for (const write of group) write.reject(error);
        return;
      }
      if (attempt > 1) await pauseBeforeRetry(attempt, MAX_RETRY_PAUSE_MS);
    }
  }

  /** Presumes no history for each namespace the group's KV writes touch that had none at this process's last commit. */
  private presumeStates(group: readonly PendingWrite[], buffer: BufferedTx): void {
    if (this.historyless.size === 0) return;
    for (const { call } of group) {
      if (call.op !== "kvPut" && call.op !== "kvDelete") continue;
      const ns = call.args[0] as string;
      if (this.historyless.has(ns)) buffer.presume(kvHistoryStateKey(this.keys, ns), undefined);
    }
  }

  /**
   * After a group's commit: the namespaces whose history state it committed as absent (read, presumed or left so)
   * are presumed so by the next groups; after a failed commit, their states are read again.
   */
  private learnStates(group: readonly PendingWrite[], buffer: BufferedTx, committed: boolean): void {
    for (const { call } of group) {
      if (call.op !== "kvPut" && call.op !== "kvDelete" && call.op !== "kvDeleteRange" && call.op !== "kvHistoryStart") continue;
      const ns = call.args[0] as string;
      const known = committed ? buffer.committedValue(kvHistoryStateKey(this.keys, ns)) : "unseen";
      if (known === "unseen" || known.value !== undefined) this.historyless.delete(ns);
      else {
        if (!this.historyless.has(ns) && this.historyless.size >= MAX_HISTORYLESS) this.historyless.clear();
        this.historyless.add(ns);
      }
    }
  }

  /** One write of a group: its outcome, or "carry" when it must wait for the next commit to stay within the limits. */
  private async runOne(call: EngineCall, ops: EngineOps, buffer: BufferedTx, mark: number): Promise<Outcome | "carry"> {
    try {
      const result = runCall(ops, call);
      const value = result instanceof Promise ? await result : result;
      if (this.fitsCommit(buffer)) return { ok: true, value };
      const error = this.tooLarge("one write", buffer);
      buffer.undoTo(mark);
      return mark > 0 ? "carry" : { ok: false, error };
    } catch (error) {
      buffer.undoTo(mark);
      return { ok: false, error };
    }
  }

  /**
   * A sweep or history trim step with its batch held to what one commit of the store takes (etcd: 127 writes), each
   * entry removed costing up to {@link RECORDS_PER_WRITE} records; the store's sweep repeats steps until none is left.
   */
  private withinCommit<C extends EngineCall>(call: C): C {
    const maxWrites = this.store.limits.maxWritesPerCommit;
    if (maxWrites === null || (call.op !== "kvSweepExpired" && call.op !== "kvHistoryTrim")) return call;
    const [first, limit] = call.args as [number, number];
    const batch = Math.max(1, Math.floor(maxWrites / RECORDS_PER_WRITE));
    return limit <= batch ? call : ({ op: call.op, args: [first, batch] } as unknown as C);
  }

  private fitsCommit(buffer: BufferedTx): boolean {
    const { maxWritesPerCommit, maxBytesPerCommit } = this.store.limits;
    return (maxWritesPerCommit === null || buffer.writeCount <= maxWritesPerCommit) && (maxBytesPerCommit === null || buffer.bytes <= maxBytesPerCommit);
  }

  /** Refuses a commit larger than the store takes, naming the limit. */
  private checkCommitSize(buffer: BufferedTx, what: string): void {
    if (!this.fitsCommit(buffer)) throw this.tooLarge(what, buffer);
  }

  /** The refusal of a buffer that does not fit one commit (`fitsCommit` is false), naming the limit it passes. */
  private tooLarge(what: string, buffer: BufferedTx): StowageError {
    const { maxWritesPerCommit } = this.store.limits;
    const detail =
      maxWritesPerCommit !== null && buffer.writeCount > maxWritesPerCommit
        ? `${buffer.writeCount} records; the ${this.name} engine's limit (maxWritesPerCommit) is ${maxWritesPerCommit}`
        : `${buffer.bytes} bytes; the ${this.name} engine's limit (maxBytesPerCommit) is ${this.store.limits.maxBytesPerCommit}`;
    return new StowageError("LIMIT_EXCEEDED", `${what} would write ${detail}; nothing was written`);
  }
}

/**
 * The keys the group's KV puts and deletes will read (see `kvWriteReads`). A key the layout refuses is left out: its
 * write is refused on its own when it runs.
 */
function kvReadsOf(group: readonly PendingWrite[], keys: KeyLayout): Uint8Array[] {
  const reads: Uint8Array[] = [];
  for (const { call } of group) {
    if (call.op !== "kvPut" && call.op !== "kvDelete") continue;
    const [ns, key, , expiresAt] = call.args as unknown as [string, string, unknown, number | null];
    try {
      reads.push(...kvWriteReads(keys, ns, key, call.op === "kvDelete" || kvPutReadsEntry(expiresAt)));
    } catch {
      // Refused again, with its own error, when the write runs.
    }
  }
  return reads;
}

function settle(write: PendingWrite, outcome: Outcome): void {
  if (outcome.ok) write.resolve(outcome.value);
  else write.reject(outcome.error);
}

const asError = (error: unknown): Error => (error instanceof Error ? error : new StowageError("INTERNAL", String(error)));

/**
 * The ops of a transaction body, each call under a savepoint of the buffered transaction: a call that throws leaves
 * none of its writes (a queue push refused as full after it had read and dropped nothing, an expected sequence that
 * did not hold), so the body may catch the refusal and go on.
 */
function withSavepoints(ops: EngineOps, buffer: BufferedTx): EngineOps {
  return opsCalling((call) => {
    const mark = buffer.mark();
    try {
      const result = runCall(ops, call);
      if (!(result instanceof Promise)) return result;
      return result.catch((error: unknown) => {
        buffer.undoTo(mark);
        throw error;
      });
    } catch (error) {
      buffer.undoTo(mark);
      throw error;
    }
  });
}
