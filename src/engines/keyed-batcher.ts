import { StowageError } from "../api/errors.js";

/** Limits of one batch: it closes at `maxItems` items or once its items weigh `maxBytes` (it always takes one). */
export interface BatchLimits {
  maxItems: number;
  maxBytes: number;
}

interface Waiting<A, R> {
  item: A;
  resolve(result: R): void;
  reject(error: unknown): void;
}

/**
 * Group commit for calls that serialise on a key anyway (a PostgreSQL namespace's counter row): per key, one batch
 * runs at a time; a call that arrives while its key is idle runs at once, alone (no added latency at low load), and
 * the calls that arrive while a batch runs go together in the next one. Each call settles with its own result, or
 * with the error of its whole batch (the batch is one statement, so then none of it was written).
 */
export class KeyedBatcher<A, R> {
  private readonly waiting = new Map<string, Array<Waiting<A, R>>>();

  constructor(
    private readonly runBatch: (key: string, items: A[]) => Promise<R[]>,
    private readonly weigh: (item: A) => number,
    private readonly limits: BatchLimits,
  ) {}

  submit(key: string, item: A): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const queue = this.waiting.get(key);
      if (queue !== undefined) {
        queue.push({ item, resolve, reject });
        return;
      }
      this.waiting.set(key, [{ item, resolve, reject }]);
      void this.drain(key);
    });
  }

  /** Runs the key's batches back to back until nobody waits; the key's entry exists exactly while this runs. */
  private async drain(key: string): Promise<void> {
    const queue = this.waiting.get(key) as Array<Waiting<A, R>>;
    while (queue.length > 0) {
      let batch: Array<Waiting<A, R>> = [];
      try {
        batch = queue.splice(0, this.batchLength(queue));
        const results = await this.runBatch(
          key,
          batch.map((waiting) => waiting.item),
        );
        if (results.length !== batch.length) throw new StowageError("INTERNAL", `a batch of ${batch.length} returned ${results.length} results`);
        batch.forEach((waiting, i) => waiting.resolve(results[i] as R));
      } catch (error) {
        for (const waiting of batch) waiting.reject(error);
      }
    }
    this.waiting.delete(key);
  }

  private batchLength(queue: ReadonlyArray<Waiting<A, R>>): number {
    let bytes = 0;
    let n = 0;
    while (n < queue.length && n < this.limits.maxItems) {
      bytes += this.weigh((queue[n] as Waiting<A, R>).item);
      if (n > 0 && bytes > this.limits.maxBytes) break;
      n++;
    }
    return n;
  }
}
