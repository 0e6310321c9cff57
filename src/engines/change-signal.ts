/**
 * What live feeds wait on: a generation number that grows whenever committed data may have changed — at once for
 * this process's own commits, and, while at least one feed watches, for other processes' commits as the engine
 * learns of them (a poll, LISTEN/NOTIFY). Feeds read from their own position on every change, so a spurious signal
 * costs one read and a missed one cannot lose data, only delay it until the next signal.
 */
export interface ChangeSource {
  readonly generation: number;
  /** Starts watching other processes' commits; the returned function ends this watch. */
  watch(): () => void;
  /** Resolves once `generation` has passed `seen`, or when `signal` aborts, whichever comes first. */
  wait(seen: number, signal: AbortSignal): Promise<void>;
}

/** How an engine starts and stops learning of other processes' commits (called on the first watch and the last unwatch). */
export interface WatchHooks {
  start(notify: () => void): void;
  stop(): void;
}

/** The {@link ChangeSource} every engine shares; the engine calls `notify` after its own commits. */
export class ChangeSignal implements ChangeSource {
  private current = 0;
  private watchers = 0;
  private readonly waiters = new Set<() => void>();

  constructor(private readonly hooks?: WatchHooks) {}

  get generation(): number {
    return this.current;
  }

  readonly notify = (): void => {
    this.current += 1;
    const woken = [...this.waiters];
    this.waiters.clear();
    for (const wake of woken) wake();
  };

  watch(): () => void {
    this.watchers += 1;
    if (this.watchers === 1) this.hooks?.start(this.notify);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.watchers -= 1;
      if (this.watchers === 0) this.hooks?.stop();
    };
  }

  wait(seen: number, signal: AbortSignal): Promise<void> {
    if (this.current > seen || signal.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      // Whichever comes first removes the other, so a long-lived feed accumulates no listeners.
      const wake = () => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = () => {
        this.waiters.delete(wake);
        resolve();
      };
      this.waiters.add(wake);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Ends every watch (the engine is closing). */
  stopAll(): void {
    if (this.watchers > 0) this.hooks?.stop();
    this.watchers = 0;
  }
}
