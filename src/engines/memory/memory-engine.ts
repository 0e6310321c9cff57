import type { Awaitable, Engine, EngineFacts, EngineOps, EngineSupports } from "../engine.js";
import { runCall, type CallResult, type EngineCall } from "../engine-calls.js";
import { ChangeSignal } from "../change-signal.js";
import { Mutex } from "../mutex.js";
import { checkMemoryData } from "./memory-check.js";
import { MemoryData, MemoryOps } from "./memory-ops.js";
import { API_LIMITS } from "../api-limits.js";
import { readOnlyOps } from "../read-only-ops.js";

/** Keeps a memory engine's data across restarts (see `SnapshotFile` in operations/snapshot-file.ts). */
export interface MemoryPersistence {
  readonly path: string;
  /** Writes the last snapshot. */
  close(): Promise<void>;
  facts(): EngineFacts;
}

/**
 * The reference engine: everything in process memory, lost on exit. Writes and transactions take one lock and undo
 * themselves on failure; reads run at once unless a write or transaction is under way, so no read ever sees a
 * half-done transaction.
 */
export class MemoryEngine implements Engine {
  readonly name = "memory";
  location = "memory";
  /** Everything but other processes: the data lives in this one. */
  static readonly supports: EngineSupports = Object.freeze({
    liveFeeds: true,
    kvHistory: true,
    crossProcess: false,
    crossNamespaceTransactions: true,
    workQueues: true,
    limits: API_LIMITS,
  });
  readonly supports = MemoryEngine.supports;
  private readonly data = new MemoryData();
  private readonly lock = new Mutex();
  private readonly readOps = new MemoryOps(this.data, []);
  /** Only this process can write, so its own commits are every change there is. */
  readonly changes = new ChangeSignal();
  /** Where the data is kept across restarts, when it is (`snapshotPath`): told at close, before the data goes. */
  private persistence: MemoryPersistence | undefined;

  /** Hands the engine's data to `persistence` (the memory engine's snapshot file): its `close` runs first at close. */
  persistWith(persistence: MemoryPersistence): void {
    this.persistence = persistence;
    this.location = `memory (snapshots to ${persistence.path})`;
  }

  /** The snapshot file's state for `store.health()`: when it last wrote, and whether its last write failed. */
  facts(): EngineFacts {
    return this.persistence?.facts() ?? { facts: {}, warnings: [] };
  }

  /** Answers synchronously unless a write or transaction holds the data, which it then waits for. */
  read<C extends EngineCall>(call: C): Awaitable<CallResult<C>> {
    if (this.lock.busy) return this.lock.run(() => runCall(this.readOps, call));
    // The most frequent call, made straight: runCall's lookup of the operation by name and its spread of the
    // arguments are a generic call, slower than this one known method.
    if (call.op === "kvGet") {
      const [ns, key, now] = (call as EngineCall<"kvGet">).args;
      return this.readOps.kvGet(ns, key, now) as CallResult<C>;
    }
    return runCall(this.readOps, call);
  }

  /** Nobody else holds the data and memory ops are synchronous: a write completes at once, in one turn, with no lock. */
  write<C extends EngineCall>(call: C): Promise<CallResult<C>> {
    if (this.lock.busy) return this.lock.run(() => this.atomically((ops) => runCall(ops, call)));
    const undo: Array<() => void> = [];
    let result: CallResult<C>;
    try {
      result = runCall(new MemoryOps(this.data, undo), call) as CallResult<C>;
    } catch (error) {
      rollBack(undo);
      return Promise.reject(error);
    }
    this.committed(undo);
    return Promise.resolve(result);
  }

  transaction<T>(body: (ops: EngineOps) => Promise<T>): Promise<T> {
    return this.lock.run(() => this.atomically(body));
  }

  /**
   * Runs `body` over a copy of the data taken under the lock (so between commits, never inside a transaction): the
   * memory engine changes its data in place, and the alternative, holding the lock for the whole body, would make
   * every read and write wait for a dump (a backup to a file takes as long as its I/O). The copy is of the containers
   * only (Maps, arrays, the key order); rows and values are shared, since writes replace them and never change them,
   * so it costs one synchronous pass over the entries and their bookkeeping, not their bytes: the event loop pauses
   * for it (about 0.65 s per million KV entries on a slow CI core, nearly all of it the copy of the key → row Map).
   * Writers go on meanwhile. Writes through the snapshot's ops fail INTERNAL.
   */
  async snapshot<T>(body: (ops: EngineOps) => Promise<T>): Promise<T> {
    const copy = this.lock.busy ? await this.lock.run(() => this.data.copy()) : this.data.copy();
    return body(readOnlyOps(new MemoryOps(copy, []), "the memory engine"));
  }

  /** Under the lock, so that no write is half done while the data is checked. */
  check(): Promise<string[]> {
    return this.lock.run(async () => checkMemoryData(this.data));
  }

  async close(): Promise<void> {
    await this.lock.run(() => undefined);
    // The last snapshot goes out before the data is dropped; should it fail, the data is dropped all the same (the
    // store is closing) and the failure is the close's.
    const saved = this.persistence?.close();
    await saved?.catch(() => undefined);
    this.changes.stopAll();
    this.data.kv.clear();
    this.data.log.clear();
    this.data.slot.clear();
    this.data.queue.clear();
    this.data.stream.clear();
    this.data.work.clear();
    await saved;
  }

  private async atomically<T>(work: (ops: EngineOps) => Awaitable<T>): Promise<T> {
    const undo: Array<() => void> = [];
    try {
      const result = await work(new MemoryOps(this.data, undo));
      this.committed(undo);
      return result;
    } catch (error) {
      rollBack(undo);
      throw error;
    }
  }

  /** A write that changed something wakes the live feeds. */
  private committed(undo: ReadonlyArray<() => void>): void {
    if (undo.length > 0) this.changes.notify();
  }
}

/** Undoes recorded mutations, newest first. */
function rollBack(undo: Array<() => void>): void {
  for (let i = undo.length - 1; i >= 0; i--) (undo[i] as () => void)();
}
