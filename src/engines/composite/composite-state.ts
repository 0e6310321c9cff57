import { StowageError } from "../../api/errors.js";
import type { Engine, EngineLimits } from "../engine.js";
import { Mutex } from "../mutex.js";
import type { Batch } from "./batches.js";
import type { SideState } from "./side-state.js";

/** How a composite mirrors its primary: see the README's "Composite failover". */
export interface CompositeSettings {
  /** `sync`: a write resolves once both sides committed it; `async`: once the primary did, the backup follows. */
  mode: "sync" | "async";
  /** Async mode: ms between applications of the queued batches to the backup (and retries after a failure). */
  replicateIntervalMs: number;
  /** Ms between probes of the primary (and, after a failover, of the primary's return). */
  probeIntervalMs: number;
  /** Consecutive failed probes of the primary that make the composite fail over to the backup. */
  failAfter: number;
  /** `manual`: fail back when told (`compositeControl(store).failback()`); `auto`: as soon as the primary answers again. */
  failback: "manual" | "auto";
  /** Most batches held in memory: unapplied ones (async lag) and those served by the backup since a failover. */
  maxPendingBatches: number;
}

/** The two sides' provider names, for messages and health. */
export interface CompositeNames {
  primary: string;
  backup: string;
}

/**
 * What a composite knows in memory: which side serves, the last batch, how the standby stands and the batches held
 * for it. Shared by the batch pump, the replication and the failover; the lock orders their changes.
 */
export class CompositeState {
  /** Held by each batch's commit, and by failover, failback, resync and close. */
  readonly lock = new Mutex();
  servingSide: "primary" | "backup" = "primary";
  batchNumber = 0;
  /** The identity of the last batch committed on the serving side. */
  lastId = "";
  failoverId: string | undefined;
  /** Why the standby needs a resync; undefined while it mirrors (or, after a failover, can catch up). */
  staleReason: string | undefined;
  /** Batches committed on the primary and not yet on the backup. */
  queue: Batch[] = [];
  /** After a failover: the batches the backup committed since (undefined once more than the bound: a resync then). */
  sinceFailover: Batch[] | undefined = [];
  failoverAt: number | undefined;
  failovers = 0;
  failbacks = 0;
  lastRefusal: string | undefined;
  autoFailbackBlocked = false;
  closed = false;

  constructor(
    readonly primary: Engine,
    readonly backup: Engine,
    readonly names: CompositeNames,
    readonly settings: CompositeSettings,
    /** The composite's own limits (room left for the batch number), which bound a batch and a replayed group. */
    readonly limits: Readonly<EngineLimits>,
  ) {}

  serving(): Engine {
    return this.servingSide === "primary" ? this.primary : this.backup;
  }

  /** The state the serving side records with batch `number`. */
  servingState(number: number, id: string): SideState {
    if (this.servingSide === "backup") return { batch: number, id, serving: true, failoverAt: this.failoverAt ?? number, failoverId: this.failoverId ?? id };
    return { batch: number, id, serving: false, ...(this.staleReason === undefined ? {} : { backupStale: this.staleReason }) };
  }

  /** The state of a side that holds everything the serving side committed. */
  mirroredState(): SideState {
    return { batch: this.batchNumber, id: this.lastId, serving: false };
  }

  /** A CONFLICT for a refused failover or failback, remembered for health and status. */
  refusal(message: string): StowageError {
    this.lastRefusal = message;
    return new StowageError("CONFLICT", message);
  }

  keepSinceFailover(batch: Batch): void {
    if (this.sinceFailover === undefined) return;
    if (this.sinceFailover.length >= this.settings.maxPendingBatches) this.sinceFailover = undefined;
    else this.sinceFailover.push(batch);
  }

  /** The backup stops mirroring until a resync: waiting sync-mode callers resolve (the primary committed their writes). */
  markStale(reason: string): void {
    this.staleReason = reason;
    const queued = this.queue;
    this.queue = [];
    for (const batch of queued) batch.settle?.();
  }
}

/** The message of a thrown value, for a stale reason or a warning. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
