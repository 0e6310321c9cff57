import { StowageError } from "../api/errors.js";

interface Waiting<A, R> {
  item: A;
  resolve(result: R): void;
  reject(error: unknown): void;
}

/**
 * Gathers the calls made in one turn of the event loop (until its microtasks drain) and runs them as one batch: the
 * point reads of a networked store, sent as one request (a Redis HMGET) instead of one request each. Unlike
 * `KeyedBatcher` (`keyed-batcher.ts`) no batch waits for another: batches run side by side, so a lone call costs only the turn's
 * end, and calls that arrive together (the callers of a batch whose answers came in one network read) share one
 * request. Each call settles with its own result, or with the error of its whole batch.
 */
export class TickBatcher<A, R> {
  private waiting: Array<Waiting<A, R>> = [];

  constructor(
    private readonly runBatch: (items: A[]) => Promise<R[]>,
    /** Most calls in one batch; more made in the same turn go in further batches. */
    private readonly maxItems: number,
  ) {}

  submit(item: A): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      // process.nextTick from a microtask runs once the microtasks drain: the turn's later calls join this batch.
      if (this.waiting.length === 0) process.nextTick(() => this.flush());
      this.waiting.push({ item, resolve, reject });
      if (this.waiting.length >= this.maxItems) this.flush();
    });
  }

  private flush(): void {
    const batch = this.waiting;
    if (batch.length === 0) return;
    this.waiting = [];
    let running: Promise<R[]>;
    try {
      running = this.runBatch(batch.map((waiting) => waiting.item));
    } catch (error) {
      running = Promise.reject(error);
    }
    running.then(
      (results) => {
        if (results.length !== batch.length) throw new StowageError("INTERNAL", `a batch of ${batch.length} returned ${results.length} results`);
        batch.forEach((waiting, i) => waiting.resolve(results[i] as R));
      },
      (error: unknown) => {
        for (const waiting of batch) waiting.reject(error);
      },
    ).catch((error: unknown) => {
      for (const waiting of batch) waiting.reject(error);
    });
  }
}
