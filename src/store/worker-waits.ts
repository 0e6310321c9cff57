/**
 * How a worker waits: nudges (`wake()`, a freed slot, a stop) that are never lost between waits, timers that end with
 * the wait, and the jittered pause after failed calls.
 */
import { performance } from "node:perf_hooks";

/** The host clock events carry: one clock for every process of a host. */
export const hostNow = (): number => performance.timeOrigin + performance.now();

/** The longest pause after failed calls of the worker's own (it starts at a few ms and doubles). */
const MAX_PAUSE_MS = 1_000;

/** A pause of 1 … 1,000 ms after `failures` failed calls in a row, jittered so that workers do not retry in step. */
export function pauseAfterFailures(failures: number, random = Math.random()): number {
  const ceiling = Math.min(MAX_PAUSE_MS, 5 * 2 ** Math.min(Math.max(failures - 1, 0), 10));
  return Math.max(1, Math.ceil(ceiling * random));
}

/** Resolves at the next `poke` — or at once when one came while nobody waited, so no wake-up is lost between waits. */
export class Nudge {
  private poked = false;
  private readonly waiters = new Set<() => void>();

  poke(): void {
    if (this.waiters.size === 0) {
      this.poked = true;
      return;
    }
    const woken = [...this.waiters];
    this.waiters.clear();
    for (const wake of woken) wake();
  }

  /** The next poke; a wait that `signal` ends first is forgotten, so it consumes no later poke. */
  next(signal?: AbortSignal): Promise<void> {
    if (this.poked || signal?.aborted) {
      this.poked = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const onAbort = () => {
        this.waiters.delete(wake);
        resolve();
      };
      const wake = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      this.waiters.add(wake);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
}

/** A timer as a promise, cleared when `signal` aborts. */
export function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
