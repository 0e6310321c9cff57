import { StowageError } from "../api/errors.js";
import type { Worker } from "../api/types.js";

/** The workers of one store: `close()` stops them all, and awaits them, before it refuses calls. */
export class WorkerSet {
  private readonly running = new Set<Worker>();
  private closing = false;

  /** CLOSED once the store has started closing: a worker started then would outlive it. */
  admit(namespace: string, key: string): void {
    if (this.closing) throw new StowageError("CLOSED", "the store is closing: no worker starts now", { namespace, key });
  }

  add(worker: Worker): void {
    this.running.add(worker);
    void worker.done.then(() => this.running.delete(worker));
  }

  get size(): number {
    return this.running.size;
  }

  async stopAll(): Promise<void> {
    this.closing = true;
    await Promise.all([...this.running].map((worker) => worker.stop()));
  }
}
