import type { Awaitable, Engine, EngineOps, EngineSupports } from "../../src/engines/engine.js";
import type { CallResult, EngineCall } from "../../src/engines/engine-calls.js";
import { MemoryEngine } from "../../src/engines/memory/memory-engine.js";

/**
 * The memory engine under another name and manifest: an engine that declares capabilities unsupported or limits
 * tighter, for the NOT_SUPPORTED and limit checks of the store and the conformance suite's skips. Every call goes to
 * the memory engine; `calls` counts those that reached it, so a test can prove a refusal did no I/O.
 */
export class DeclaredEngine implements Engine {
  readonly location = "memory";
  readonly inner = new MemoryEngine();
  readonly changes = this.inner.changes;
  /** Engine calls (reads, writes, transactions) that reached the memory engine. */
  calls = 0;
  /** The operations those calls ran, by name, in order. */
  readonly ops: string[] = [];

  constructor(
    readonly name: string,
    readonly supports: EngineSupports,
  ) {}

  read<C extends EngineCall>(call: C): Awaitable<CallResult<C>> {
    this.calls++;
    this.ops.push(call.op);
    return this.inner.read(call);
  }

  write<C extends EngineCall>(call: C): Promise<CallResult<C>> {
    this.calls++;
    this.ops.push(call.op);
    return this.inner.write(call);
  }

  transaction<T>(body: (ops: EngineOps) => Promise<T>): Promise<T> {
    this.calls++;
    return this.inner.transaction((ops) => body(this.recorded(ops)));
  }

  /** `ops`, noting the name of each operation called. */
  private recorded(ops: EngineOps): EngineOps {
    return new Proxy(ops, {
      get: (target, name: keyof EngineOps) => {
        const op = target[name] as (...args: unknown[]) => unknown;
        return (...args: unknown[]) => {
          this.ops.push(name);
          return op.apply(target, args);
        };
      },
    });
  }

  check(): Promise<string[]> {
    return this.inner.check();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** The memory engine's manifest with some changes: `declaring({ kvHistory: false })`. */
export function declaring(changes: Partial<EngineSupports>): EngineSupports {
  return { ...MemoryEngine.supports, ...changes };
}
