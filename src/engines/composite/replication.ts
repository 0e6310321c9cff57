import { Divergence, replayBatches, withinLimits, type Batch } from "./batches.js";
import { messageOf, type CompositeState } from "./composite-state.js";

/**
 * Applies the batches the primary committed to the backup, in order: in sync mode as soon as each is queued (the
 * backup applies batch N while the primary commits N+1), in async mode at every `replicateIntervalMs`.
 */
export class Replication {
  private replicating: Promise<void> | undefined;
  private again = false;

  constructor(private readonly state: CompositeState) {}

  /** Starts an application of the queue, or asks the running one to go on (sync mode) once it ends. */
  kick(): void {
    if (this.replicating !== undefined) {
      this.again = true;
      return;
    }
    this.again = false;
    this.replicating = this.replicate().finally(() => {
      this.replicating = undefined;
      if (this.again && this.state.queue.length > 0 && this.state.settings.mode === "sync") this.kick();
    });
  }

  async idle(): Promise<void> {
    while (this.replicating !== undefined) await this.replicating;
  }

  /** Waits for replication, then applies whatever is still queued (async mode), once. */
  async drain(): Promise<void> {
    await this.idle();
    if (this.state.queue.length > 0 && this.state.staleReason === undefined) {
      this.replicating = this.replicate();
      try {
        await this.replicating;
      } finally {
        this.replicating = undefined;
      }
    }
  }

  /**
   * Applies the queued batches to the backup, as many per transaction as its commit limits take. A divergence, or in
   * sync mode any failure, marks the backup stale; in async mode a failed application is tried again at the next
   * interval, the batches kept (up to the bound).
   */
  private async replicate(): Promise<void> {
    const state = this.state;
    // Async mode applies what is queued now; batches committed meanwhile wait for the next interval.
    const through = state.settings.mode === "async" ? (state.queue.at(-1)?.number ?? 0) : Number.POSITIVE_INFINITY;
    while (state.queue.length > 0 && state.queue[0]!.number <= through && state.staleReason === undefined && state.servingSide === "primary") {
      const batches = this.replicable(through);
      const last = batches[batches.length - 1]!;
      try {
        await replayBatches(state.backup, batches, { batch: last.number, id: last.id, serving: false });
      } catch (error) {
        if (error instanceof Divergence) state.markStale(`it diverged: ${error.message}`);
        else if (state.settings.mode === "sync") state.markStale(`it failed to commit batch ${batches[0]!.number}: ${messageOf(error)}`);
        return;
      }
      state.queue.splice(0, batches.length);
      for (const batch of batches) batch.settle?.();
    }
  }

  /** The first queued batches (up to `through`) that fit one commit of the backup. */
  private replicable(through: number): Batch[] {
    const queue = this.state.queue;
    const upTo = queue.findIndex((batch) => batch.number > through);
    return withinLimits(upTo < 0 ? queue : queue.slice(0, upTo), this.state.limits)[0] ?? [];
  }
}
