import type { Engine, EngineOps, EngineWork } from "../engine.js";
import { Mutex } from "../mutex.js";
import { MemoryData, MemoryOps } from "./memory-ops.js";

/**
 * The reference engine: everything in process memory, lost on exit. Writes and transactions take one lock and undo
 * themselves on failure; reads run at once unless a write or transaction is under way, so no read ever sees a
 * half-done transaction.
 */
export class MemoryEngine implements Engine {
  readonly name = "memory";
  readonly location = "memory";
  private readonly data = new MemoryData();
  private readonly lock = new Mutex();
  private readonly readOps = new MemoryOps(this.data, []);

  async read<T>(work: EngineWork<T>): Promise<T> {
    if (this.lock.busy) return this.lock.run(() => work(this.readOps));
    return work(this.readOps);
  }

  write<T>(work: EngineWork<T>): Promise<T> {
    return this.lock.run(() => this.atomically(work));
  }

  transaction<T>(body: (ops: EngineOps) => Promise<T>): Promise<T> {
    return this.lock.run(() => this.atomically(body));
  }

  async close(): Promise<void> {
    await this.lock.run(() => undefined);
    this.data.kv.clear();
    this.data.log.clear();
    this.data.slot.clear();
    this.data.queue.clear();
  }

  private async atomically<T>(work: EngineWork<T>): Promise<T> {
    const undo: Array<() => void> = [];
    try {
      return await work(new MemoryOps(this.data, undo));
    } catch (error) {
      for (let i = undo.length - 1; i >= 0; i--) (undo[i] as () => void)();
      throw error;
    }
  }
}
