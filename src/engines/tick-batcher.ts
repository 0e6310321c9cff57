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
 *
 * With `runOne`, a call made while nothing runs or waits goes out at once, alone: one caller at a time (the common
 * case of a single client) then pays no deferral and no batch bookkeeping, and the calls that follow it while it runs
 * are gathered as above. A batch counts as running until the turn its answers came in ends, so that its callers'
 * next calls, made together, go as one batch again.
 */
export class TickBatcher<A, R> {
  private waiting: Array<Waiting<A, R>> = [];
  /** Requests (single calls and batches) sent and not settled yet. */
  private running = 0;
  private readonly settledOne = (result: R): R => {
    this.running--;
    return result;
  };
  private readonly failedOne = (error: unknown): never => {
    this.running--;
    throw error;
  };
  private readonly batchEnded = (): void => {
    this.running--;
  };

  constructor(
    private readonly runBatch: (items: A[]) => Promise<R[]>,
    /** Most calls in one batch; more made in the same turn go in further batches. */
    private readonly maxItems: number,
    /** One call alone (see the class comment); without it every call waits for its turn's end. */
    private readonly runOne?: (item: A) => Promise<R>,
  ) {}

  submit(item: A): Promise<R> {
    if (this.running === 0 && this.waiting.length === 0 && this.runOne !== undefined) {
      let running: Promise<R>;
      try {
        running = this.runOne(item);
      } catch (error) {
        return Promise.reject(error);
      }
      this.running++;
      return running.then(this.settledOne, this.failedOne);
    }
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
    this.running++;
    // A batch counts as running until its callers' turn ends: the calls they make on their answers (all at once, under
    // load) are then gathered into one batch, rather than the first going alone and the others in a second request.
    const ended = () => process.nextTick(this.batchEnded);
    running
      .then(
        (results) => {
          ended();
          if (results.length !== batch.length) throw new StowageError("INTERNAL", `a batch of ${batch.length} returned ${results.length} results`);
          batch.forEach((waiting, i) => waiting.resolve(results[i] as R));
        },
        (error: unknown) => {
          ended();
          for (const waiting of batch) waiting.reject(error);
        },
      )
      .catch((error: unknown) => {
        for (const waiting of batch) waiting.reject(error);
      });
  }
}
