/**
 * A FIFO async lock. Engines with one writer (memory, a SQLite connection) hold it for each commit and for the whole
 * of a user transaction, so that nothing else sees or touches a half-done transaction.
 */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();
  private holders = 0;

  /** True while someone holds the lock or waits for it. */
  get busy(): boolean {
    return this.holders > 0;
  }

  /** Waits for the lock; call the returned function exactly once to release it. */
  lock(): Promise<() => void> {
    this.holders += 1;
    let release!: () => void;
    const next = new Promise<void>((resolve) => {
      release = () => {
        this.holders -= 1;
        resolve();
      };
    });
    const acquired = this.tail.then(() => release);
    this.tail = this.tail.then(() => next);
    return acquired;
  }

  /** Runs `fn` under the lock. */
  async run<T>(fn: () => Promise<T> | T): Promise<T> {
    const release = await this.lock();
    try {
      return await fn();
    } finally {
      release();
    }
  }
}
