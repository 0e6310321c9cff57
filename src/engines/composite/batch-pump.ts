import { randomUUID } from "node:crypto";
import { StowageError } from "../../api/errors.js";
import type { EngineOps } from "../engine.js";
import { runCall, type EngineCall } from "../engine-calls.js";
import { ALONE_OPS, outcomeOf, recordingOps, weightOf, type Batch, type Outcome, type RecordedWrite } from "./batches.js";
import type { CompositeState } from "./composite-state.js";
import type { Replication } from "./replication.js";
import { putState, writeState } from "./side-state.js";

/** A write or a user transaction waiting for its batch. */
type Work =
  | { kind: "call"; call: EngineCall; resolve: (value: unknown) => void; reject: (error: unknown) => void }
  | { kind: "txn"; body: (ops: EngineOps) => Promise<unknown>; resolve: (value: unknown) => void; reject: (error: unknown) => void };

/** What a batch's commit wrote and answered; undefined once its callers were answered (it failed). */
type Committed = { writes: RecordedWrite[]; outcomes: Outcome[] } | undefined;

/** Most calls one batch takes: beyond it a batch's commit would hold the serving side for too long. */
const MAX_BATCH_CALLS = 256;

/**
 * Orders the writes into batches: those that arrive while a batch commits form the next batch, committed on the
 * serving side as one transaction with its number, then handed to replication (or, after a failover, kept for the
 * failback).
 */
export class BatchPump {
  private pending: Work[] = [];
  private pumping = false;

  constructor(
    private readonly state: CompositeState,
    private readonly replication: Replication,
  ) {}

  enqueue(work: Work): void {
    if (this.state.closed) {
      work.reject(new StowageError("CLOSED", "the composite is closed"));
      return;
    }
    this.pending.push(work);
    void this.pump();
  }

  /** Runs the pending work batch after batch, one batch at a time, under the lock (which failover and resync take too). */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.pending.length > 0) {
        const batch = this.takeBatch();
        await this.state.lock.run(() => this.runBatch(batch));
      }
    } finally {
      this.pumping = false;
    }
  }

  /** The next batch: a user transaction alone, or the calls that wait, in order, as many as one commit takes. */
  private takeBatch(): Work[] {
    const first = this.pending.shift()!;
    if (first.kind === "txn" || ALONE_OPS.has(first.call.op)) return [first];
    const batch: Work[] = [first];
    const limits = this.state.limits;
    let { writes, bytes } = weightOf(first.call);
    while (batch.length < MAX_BATCH_CALLS) {
      const next = this.pending[0];
      if (next === undefined || next.kind !== "call" || ALONE_OPS.has(next.call.op)) break;
      const weight = weightOf(next.call);
      if (writes + weight.writes > limits.maxTransactionWrites || bytes + weight.bytes > limits.maxTransactionBytes / 2) break;
      writes += weight.writes;
      bytes += weight.bytes;
      batch.push(this.pending.shift()!);
    }
    return batch;
  }

  /**
   * Commits a batch on the serving side with its number; then hands it to replication (or to the failback log). A
   * batch whose commit failed for another reason than an unreachable backend runs again call by call, so that one
   * call whose failure aborted the transaction (on engines without a savepoint for it) fails alone.
   */
  private async runBatch(work: Work[]): Promise<void> {
    const state = this.state;
    const number = state.batchNumber + 1;
    const id = randomUUID();
    const first = work[0]!;
    const alone = first.kind === "call" && ALONE_OPS.has(first.call.op) ? first : undefined;
    const committed = alone !== undefined ? await this.commitAlone(alone, number, id) : await this.commitTogether(work, number, id);
    if (committed === undefined) return;
    const { writes, outcomes } = committed;
    const settle = () => work.forEach((item, i) => settleWith(item, outcomes[i]!));
    if (writes.length === 0) return settle();
    state.batchNumber = number;
    state.lastId = id;
    const batch: Batch = { number, id, writes, committedAt: Date.now(), ...(alone !== undefined ? { alone: true } : {}) };
    if (state.servingSide === "backup") {
      state.keepSinceFailover(batch);
      settle();
    } else if (state.staleReason !== undefined) {
      settle();
    } else if (state.settings.mode === "sync") {
      batch.settle = settle;
      state.queue.push(batch);
      this.replication.kick();
    } else {
      settle();
      state.queue.push(batch);
      if (state.queue.length > state.settings.maxPendingBatches) state.markStale(`the backup fell more than ${state.settings.maxPendingBatches} batches behind`);
      // The timer alone could starve: writers whose calls never leave the microtask queue (synchronous engines) keep
      // the event loop from reaching it.
      else if (batch.committedAt - state.queue[0]!.committedAt >= state.settings.replicateIntervalMs) this.replication.kick();
    }
  }

  /** Commits the batch's calls as one transaction with its number; undefined once its callers were answered (it failed). */
  private async commitTogether(work: Work[], number: number, id: string): Promise<Committed> {
    const writes: RecordedWrite[] = [];
    const outcomes: Outcome[] = [];
    try {
      await this.state.serving().transaction(async (ops) => {
        for (const item of work) {
          if (item.kind === "call") {
            const outcome = await outcomeOf(() => runCall(ops, item.call));
            outcomes.push(outcome);
            writes.push({ call: item.call, outcome });
          } else {
            outcomes.push({ ok: true, value: await item.body(recordingOps(ops, writes)) });
          }
        }
        if (writes.length > 0) await putState(ops, this.state.servingState(number, id));
      });
    } catch (error) {
      if (work.length > 1 && !isUnavailable(error)) {
        for (const item of work) await this.runBatch([item]);
        return undefined;
      }
      const own = outcomes[0];
      const reason = work.length === 1 && own !== undefined && !own.ok ? own.error : error;
      for (const item of work) item.reject(reason);
      return undefined;
    }
    return { writes, outcomes };
  }

  /** Runs a call that must run outside a transaction (`ALONE_OPS`), then records its batch number; undefined when it failed. */
  private async commitAlone(work: Extract<Work, { kind: "call" }>, number: number, id: string): Promise<Committed> {
    const side = this.state.serving();
    const outcome = await outcomeOf(() => side.write(work.call));
    // A refused call changed nothing: there is nothing to mirror.
    if (!outcome.ok) return void work.reject(outcome.error);
    const recorded = await outcomeOf(() => writeState(side, this.state.servingState(number, id)));
    if (!recorded.ok) return void work.reject(recorded.error);
    return { writes: [{ call: work.call, outcome }], outcomes: [outcome] };
  }
}

function settleWith(work: Work, outcome: Outcome): void {
  if (outcome.ok) work.resolve(outcome.value);
  else work.reject(outcome.error);
}

function isUnavailable(error: unknown): boolean {
  return error instanceof StowageError && (error.code === "BACKEND_UNAVAILABLE" || error.code === "CLOSED");
}
