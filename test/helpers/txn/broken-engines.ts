/**
 * Deliberately broken engines for the transactional checker's own tests: each breaks one isolation promise, on the
 * memory engine's data, and the checker must catch it from a workload run alone. They implement only what the
 * list-append workload calls (KV get/put, log append/read) where they differ from the memory engine.
 */
import type { Awaitable, Engine, EngineOps, StoredLogEntry } from "../../../src/engines/engine.js";
import { runCall, type CallResult, type EngineCall } from "../../../src/engines/engine-calls.js";
import { MemoryEngine } from "../../../src/engines/memory/memory-engine.js";
import { MemoryData, MemoryOps } from "../../../src/engines/memory/memory-ops.js";
import { StowageError } from "../../../src/api/errors.js";

/** The memory engine, every call passed through; subclasses replace `transaction`. */
abstract class OverMemory implements Engine {
  abstract readonly name: string;
  readonly location = "memory";
  protected readonly inner = new MemoryEngine();
  readonly changes = this.inner.changes;
  readonly supports = MemoryEngine.supports;

  read<C extends EngineCall>(call: C): Awaitable<CallResult<C>> {
    return this.inner.read(call);
  }

  write<C extends EngineCall>(call: C): Promise<CallResult<C>> {
    return this.inner.write(call);
  }

  abstract transaction<T>(body: (ops: EngineOps) => Promise<T>): Promise<T>;

  check(): Promise<string[]> {
    return this.inner.check();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** (a) A rollback that keeps the writes: a body that throws still commits what it wrote, then the call rejects. */
export class LeakyRollbackEngine extends OverMemory {
  readonly name = "leaky-rollback";

  async transaction<T>(body: (ops: EngineOps) => Promise<T>): Promise<T> {
    const outcome = await this.inner.transaction(async (ops) => {
      try {
        return { value: await body(ops) };
      } catch (error) {
        return { error };
      }
    });
    if ("error" in outcome) throw outcome.error;
    return outcome.value;
  }
}

/**
 * (b) No isolation at all: a transaction writes straight into the shared data, without the lock, so everyone reads
 * its writes while it runs (dirty reads, intermediate states), and a rollback undoes them after others saw them.
 */
export class DirtyReadEngine implements Engine {
  readonly name = "dirty-read";
  readonly location = "memory";
  readonly supports = { ...MemoryEngine.supports, liveFeeds: false };
  private readonly data = new MemoryData();

  read<C extends EngineCall>(call: C): Awaitable<CallResult<C>> {
    return runCall(new MemoryOps(this.data, []), call);
  }

  write<C extends EngineCall>(call: C): Promise<CallResult<C>> {
    return this.transaction(async (ops) => runCall(ops, call) as CallResult<C>);
  }

  async transaction<T>(body: (ops: EngineOps) => Promise<T>): Promise<T> {
    const undo: Array<() => void> = [];
    try {
      return await body(new MemoryOps(this.data, undo));
    } catch (error) {
      for (let i = undo.length - 1; i >= 0; i--) (undo[i] as () => void)();
      throw error;
    }
  }

  async check(): Promise<string[]> {
    return [];
  }

  async close(): Promise<void> {}
}

/** Buffered writes of one transaction of {@link ReadCommittedEngine}. */
interface Buffer {
  writes: Array<(ops: EngineOps) => Awaitable<unknown>>;
  kv: Map<string, Uint8Array>;
  log: Map<string, StoredLogEntry[]>;
}

/**
 * (c) Lost updates: a transaction reads committed data as of each read (no snapshot, no locks), keeps its writes
 * to itself and applies them at commit without checking what changed meanwhile — READ COMMITTED with blind commits:
 * two read-modify-writes of one value both commit, the later overwriting the earlier.
 */
export class ReadCommittedEngine extends OverMemory {
  readonly name = "read-committed";

  async transaction<T>(body: (ops: EngineOps) => Promise<T>): Promise<T> {
    const buffer: Buffer = { writes: [], kv: new Map(), log: new Map() };
    const result = await body(this.bufferedOps(buffer));
    await this.inner.transaction(async (ops) => {
      for (const write of buffer.writes) await write(ops);
    });
    return result;
  }

  private bufferedOps(buffer: Buffer): EngineOps {
    const inner = this.inner;
    const id = (ns: string, key: string) => `${ns}\u0000${key}`;
    const own: Partial<EngineOps> = {
      kvGet: async (ns, key, now) => buffer.kv.get(id(ns, key)) ?? (await inner.read({ op: "kvGet", args: [ns, key, now] })),
      kvPut: (ns, key, value, expiresAt) => {
        buffer.kv.set(id(ns, key), value);
        buffer.writes.push((ops) => ops.kvPut(ns, key, value, expiresAt));
      },
      logAppend: (ns, key, value, now) => {
        const entries = buffer.log.get(id(ns, key)) ?? [];
        buffer.log.set(id(ns, key), entries);
        // A provisional sequence, above any committed one; the real one is taken at commit.
        const seq = Number.MAX_SAFE_INTEGER - 1_000 + entries.length;
        entries.push({ seq, key, value, timestamp: now });
        buffer.writes.push((ops) => ops.logAppend(ns, key, value, now));
        return seq;
      },
      logRead: async (ns, key, afterSeq, limit) => {
        const committed = await inner.read({ op: "logRead", args: [ns, key, afterSeq, limit] });
        return [...committed, ...(buffer.log.get(id(ns, key)) ?? [])].slice(0, limit);
      },
    };
    return new Proxy(own as EngineOps, {
      get(target, name: string) {
        const method = target[name as keyof EngineOps];
        if (method !== undefined) return method;
        return () => {
          throw new Error(`the read-committed test engine has no ${name} in transactions`);
        };
      },
    });
  }
}

/** Rolls an inner transaction back while handing its body's result out. */
class RolledBack<T> {
  constructor(readonly value: T) {}
}

/**
 * (d) A transaction that resolves but commits nothing (PostgreSQL's behaviour before issue 17, defect 1): one write
 * call in `failEvery` fails as a statement timeout would (BACKEND_UNAVAILABLE), after which the transaction is
 * doomed — its later calls fail, and at the end it rolls back — yet a body that caught the failure and returned
 * normally resolves.
 */
export class DoomedCommitEngine extends OverMemory {
  readonly name = "doomed-commit";
  private calls = 0;

  constructor(private readonly failEvery = 8) {
    super();
  }

  async transaction<T>(body: (ops: EngineOps) => Promise<T>): Promise<T> {
    try {
      return await this.inner.transaction(async (ops) => {
        const state = { doomed: false };
        const result = await body(this.dooming(ops, state));
        if (state.doomed) throw new RolledBack(result);
        return result;
      });
    } catch (error) {
      if (error instanceof RolledBack) return error.value as T;
      throw error;
    }
  }

  private dooming(ops: EngineOps, state: { doomed: boolean }): EngineOps {
    const writes = new Set<string>(["kvPut", "logAppend"]);
    return new Proxy(ops, {
      get: (target, name: string) => {
        const method = target[name as keyof EngineOps] as (...args: unknown[]) => unknown;
        return (...args: unknown[]) => {
          if (state.doomed) throw new StowageError("INTERNAL", "current transaction is aborted, commands ignored until end of transaction block");
          if (writes.has(name) && ++this.calls % this.failEvery === 0) {
            state.doomed = true;
            throw new StowageError("BACKEND_UNAVAILABLE", "the statement timed out (injected)");
          }
          return method.apply(target, args);
        };
      },
    });
  }
}
