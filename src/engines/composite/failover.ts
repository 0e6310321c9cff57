import { randomUUID } from "node:crypto";
import { StowageError } from "../../api/errors.js";
import { probeEngine } from "../../store/health.js";
import { replayBatches, withinLimits, type Batch } from "./batches.js";
import type { CompositeState } from "./composite-state.js";
import { copySide } from "./copy-side.js";
import type { Replication } from "./replication.js";
import { readState, userNamespacesOf, writeState, type SideState } from "./side-state.js";

/**
 * Which side serves, and the moves between them: the state recorded on the sides read at open, the probes of the
 * primary, failover, failback and resync (see the README's "Composite failover").
 */
export class Failover {
  private probeFailures = 0;
  private probing = false;

  constructor(
    private readonly state: CompositeState,
    private readonly replication: Replication,
  ) {}

  /**
   * Reads each side's state to learn which side serves and whether the backup mirrors, and copies the primary into an
   * empty backup that has never mirrored it.
   */
  async resume(): Promise<void> {
    const state = this.state;
    const primaryState = await readState(state.primary).catch(async (error: unknown) => {
      // A primary that cannot be read is fine only when the backup serves already.
      const backupState = await readState(state.backup);
      if (backupState?.serving !== true) throw error;
      return undefined;
    });
    const backupState = await readState(state.backup);
    if (backupState?.serving === true) {
      state.servingSide = "backup";
      state.batchNumber = backupState.batch;
      state.lastId = backupState.id ?? "";
      state.failoverAt = backupState.failoverAt ?? backupState.batch;
      state.failoverId = backupState.failoverId ?? state.lastId;
      // The batches since the failover were in the memory of the process that served them; none since: none to replay.
      state.sinceFailover = backupState.batch === state.failoverAt ? [] : undefined;
    } else if (primaryState === undefined && backupState === undefined) {
      await this.startFresh();
    } else if (primaryState === undefined) {
      throw new StowageError(
        "CONFLICT",
        `the primary ${state.names.primary} holds no composite state while the backup ${state.names.backup} mirrored batch ${backupState!.batch}: the primary is not the store the backup mirrored; name ${state.names.backup} as the primary to serve its data, or restore the primary`,
      );
    } else {
      state.batchNumber = primaryState.batch;
      state.lastId = primaryState.id ?? "";
      if (primaryState.backupStale !== undefined) state.staleReason = primaryState.backupStale;
      else if (backupState === undefined) await this.startBackupWithoutState();
      else if (backupState.batch !== primaryState.batch || backupState.id !== primaryState.id) {
        state.staleReason = `the backup is at batch ${backupState.batch}, the primary at batch ${primaryState.batch}${backupState.batch === primaryState.batch ? " of another identity" : ""}`;
      }
    }
  }

  /**
   * Serves from the backup from now on (the probes call this after `failAfter` failures; an operator may call it for
   * maintenance). The batches the backup has not applied yet are applied first, and the failover is recorded in the
   * backup, so that a restart goes on serving from it. Refused (CONFLICT) when the backup is stale or cannot take
   * the queued batches: serving it would lose writes.
   */
  failover(reason = "asked to"): Promise<void> {
    const state = this.state;
    return state.lock.run(async () => {
      if (state.servingSide === "backup") return;
      await this.replication.drain();
      if (state.staleReason !== undefined || state.queue.length > 0) {
        throw state.refusal(`cannot fail over to the backup ${state.names.backup} (${reason}): ${state.staleReason ?? `it did not take the ${state.queue.length} batches it lags by`}`);
      }
      await writeState(state.backup, { batch: state.batchNumber, id: state.lastId, serving: true, failoverAt: state.batchNumber, failoverId: state.lastId });
      state.servingSide = "backup";
      state.failoverAt = state.batchNumber;
      state.failoverId = state.lastId;
      state.sinceFailover = [];
      state.failovers += 1;
      this.probeFailures = 0;
      state.lastRefusal = undefined;
      state.autoFailbackBlocked = false;
    });
  }

  /**
   * Serves from the primary again. The primary must hold exactly what the backup held at the failover: the batches
   * the backup committed since are replayed on it (compared, as in mirroring), then it serves. Refused with CONFLICT
   * when the primary committed batches the backup never got (it diverged), missed some, or the batches since are no
   * longer all in memory (a restart, or more than `maxPendingBatches`): resync it first ({@link resync}).
   */
  failback(): Promise<void> {
    const state = this.state;
    return state.lock.run(async () => {
      if (state.servingSide === "primary") return;
      if (state.staleReason !== undefined) throw state.refusal(`cannot fail back: the primary ${state.names.primary} needs a resync (${state.staleReason})`);
      const missing = this.missingOnPrimary(await readState(state.primary));
      // In commits the primary takes: a failback cut short leaves it at one of these batches, where a retry resumes.
      for (const group of withinLimits(missing, state.limits)) {
        const last = group[group.length - 1]!;
        await replayBatches(state.primary, group, { batch: last.number, id: last.id, serving: false });
      }
      if (missing.length === 0) await writeState(state.primary, state.mirroredState());
      await writeState(state.backup, state.mirroredState());
      state.servingSide = "primary";
      state.failoverAt = undefined;
      state.failoverId = undefined;
      state.sinceFailover = [];
      state.failbacks += 1;
      state.lastRefusal = undefined;
    });
  }

  /**
   * Copies the serving side into the standby: a stale backup, or after a failover the primary (diverged, behind, or
   * unable to catch up; emptied by the operator). The standby must hold no data (CONFLICT otherwise: nothing is deleted automatically).
   * Writes wait while it copies; the copy is compared with the serving side before it counts.
   */
  resync(): Promise<void> {
    const state = this.state;
    return state.lock.run(async () => {
      // While the primary serves, only a stale backup needs one; after a failover, the primary may have diverged.
      if (state.servingSide === "primary" && state.staleReason === undefined) return;
      await this.replication.idle();
      await this.copyIntoStandby();
    });
  }

  /** One probe of the primary: failures in a row fail over; after a failover, an answer fails back (`failback: auto`). */
  async probePrimary(): Promise<void> {
    const state = this.state;
    if (this.probing || state.closed) return;
    this.probing = true;
    try {
      const answered = await withTimeout(probeEngine(state.primary), Math.max(1_000, state.settings.probeIntervalMs)).then(
        () => true,
        () => false,
      );
      if (state.servingSide === "primary") {
        this.probeFailures = answered ? 0 : this.probeFailures + 1;
        if (this.probeFailures >= state.settings.failAfter) {
          await this.failover(`the primary failed ${this.probeFailures} probes in a row`).catch(() => undefined);
          this.probeFailures = 0;
        }
      } else if (answered && state.settings.failback === "auto" && !state.autoFailbackBlocked && !state.closed) {
        await this.failback().catch(() => (state.autoFailbackBlocked = true));
      }
    } finally {
      this.probing = false;
    }
  }

  /**
   * The batches the primary lacks of those the backup committed since the failover, from the primary's state: none
   * when it is up to date, all of them when it stands at the failover, the rest when an earlier failback was cut
   * short. CONFLICT (a refusal) when it diverged, is behind the failover, or the batches are not all in memory.
   */
  private missingOnPrimary(side: SideState | undefined): Batch[] {
    const state = this.state;
    const primary = state.names.primary;
    if (side === undefined) throw state.refusal(`cannot fail back: the primary ${primary} holds no composite state; resync it (empty) first`);
    if (side.batch === state.batchNumber && side.id === state.lastId) return [];
    const failoverAt = state.failoverAt ?? 0;
    if (side.batch < failoverAt) throw state.refusal(`cannot fail back: the primary ${primary} is at batch ${side.batch}, behind the failover at batch ${failoverAt}; empty it and resync`);
    const since = state.sinceFailover;
    const atFailover = side.batch === failoverAt && side.id === state.failoverId;
    const at = atFailover ? -1 : (since?.findIndex((batch) => batch.number === side.batch && batch.id === side.id) ?? -1);
    if (!atFailover && at < 0) {
      throw state.refusal(
        `cannot fail back: the primary ${primary} diverged: it holds batch ${side.batch}, which is not one the backup committed since the failover at batch ${failoverAt}${since === undefined ? " (as far as the batches in memory tell)" : ""}; empty it and resync`,
      );
    }
    if (since === undefined) {
      throw state.refusal(`cannot fail back: the batches since the failover at batch ${failoverAt} are not all held in memory (a restart, or more than ${state.settings.maxPendingBatches}); empty the primary ${primary} and resync`);
    }
    return since.slice(at + 1);
  }

  /** Neither side has mirrored yet: an empty backup gets a copy of the primary; a backup with data is stale. */
  private async startFresh(): Promise<void> {
    const state = this.state;
    state.lastId = randomUUID();
    if (!(await this.startBackupWithoutState())) await writeState(state.primary, { batch: 0, id: state.lastId, serving: false, backupStale: state.staleReason! });
  }

  /** Copies the primary into a backup that holds no state, if it holds no data either; else marks it stale. True when copied. */
  private async startBackupWithoutState(): Promise<boolean> {
    const state = this.state;
    if ((await userNamespacesOf(state.backup, Date.now())).length > 0) {
      state.staleReason = `the backup ${state.names.backup} holds data the composite did not write; empty it and resync`;
      return false;
    }
    state.staleReason = "it has never mirrored the primary";
    await this.copyIntoStandby();
    return true;
  }

  /** Copies the serving side into the standby (which must hold no user data), validates the copy and records it. */
  private async copyIntoStandby(): Promise<void> {
    const state = this.state;
    const [source, target, targetName] = state.servingSide === "primary" ? [state.primary, state.backup, state.names.backup] : [state.backup, state.primary, state.names.primary];
    await copySide(source, target, targetName, Date.now());
    if (state.servingSide === "primary") {
      await writeState(state.backup, state.mirroredState());
      await writeState(state.primary, state.mirroredState());
      state.queue = [];
    } else {
      await writeState(state.primary, state.mirroredState());
      state.failoverAt = state.batchNumber;
      state.failoverId = state.lastId;
      state.sinceFailover = [];
      state.autoFailbackBlocked = false;
    }
    state.staleReason = undefined;
    state.lastRefusal = undefined;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StowageError("BACKEND_UNAVAILABLE", `no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}
