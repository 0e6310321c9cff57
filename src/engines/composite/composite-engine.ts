import { randomUUID } from "node:crypto";
import { StowageError } from "../../api/errors.js";
import { LIMITS } from "../../api/limits.js";
import { probeEngine } from "../../store/health.js";
import type { ChangeSource } from "../change-signal.js";
import { dumpRefused } from "../dump-refused.js";
import type { Awaitable, Engine, EngineDescription, EngineFacts, EngineOps, EngineSupports } from "../engine.js";
import { opsCalling, runCall, type CallResult, type EngineCall } from "../engine-calls.js";
import { Mutex } from "../mutex.js";
import { commonSupports, MergedChanges } from "../routed/routed-engine.js";
import { ALONE_OPS, Divergence, outcomeOf, recordingOps, replayBatches, weightOf, withinLimits, type Batch, type Outcome, type RecordedWrite } from "./batches.js";
import { copySide } from "./copy-side.js";
import { hideState, readState, userNamespacesOf, writeState, putState, type SideState } from "./side-state.js";

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

/** Which side serves, and how the other one stands. */
export interface CompositeStatus {
  serving: "primary" | "backup";
  mode: CompositeSettings["mode"];
  /** The last batch committed on the serving side. */
  batch: number;
  /**
   * The side that does not serve: `mirroring` (the backup follows the primary), `awaiting-failback` (after a
   * failover: the primary can catch up from the batches kept since), or `stale` (it needs a resync; see `staleReason`).
   */
  standby: "mirroring" | "awaiting-failback" | "stale";
  staleReason?: string;
  /** Batches, write calls and age (ms) of the oldest batch committed on the primary and not yet on the backup. */
  lag: { batches: number; items: number; ageMs: number };
  failovers: number;
  failbacks: number;
  /** After a failover: the batch at which the backup took over. */
  failoverAt?: number;
  /** Why the last failover or failback attempt did not happen. */
  lastRefusal?: string;
}

/**
 * What a composite over engines with these manifests supports: what both do but use by several processes, with room
 * in every commit for the batch number the composite writes with it (one write fewer; 1 KiB fewer where an engine limits bytes itself).
 */
export function compositeSupports(primary: EngineSupports, backup: EngineSupports): EngineSupports {
  const common = commonSupports([primary, backup]);
  // Bytes only where an engine enforces a limit of its own, tighter than the store's.
  const bytes = common.limits.maxTransactionBytes < LIMITS.maxTransactionBytes ? common.limits.maxTransactionBytes - 1_024 : common.limits.maxTransactionBytes;
  const limits = { ...common.limits, maxTransactionWrites: common.limits.maxTransactionWrites - 1, maxTransactionBytes: bytes };
  // One process orders the writes of both sides: another process writing through its own composite would interleave
  // batches the sides then replay in different orders.
  return Object.freeze({ ...common, crossProcess: false, limits: Object.freeze(limits) });
}

/** A write or a user transaction waiting for its batch. */
type Work =
  | { kind: "call"; call: EngineCall; resolve: (value: unknown) => void; reject: (error: unknown) => void }
  | { kind: "txn"; body: (ops: EngineOps) => Promise<unknown>; resolve: (value: unknown) => void; reject: (error: unknown) => void };

/** Most calls one batch takes: beyond it a batch's commit would hold the serving side for too long. */
const MAX_BATCH_CALLS = 256;

/**
 * One engine over two (a primary and a backup, each any engine) that keeps the backup a copy of the primary and
 * serves from the backup when the primary fails.
 *
 * The composite orders the writes: those that arrive while a batch commits form the next batch, which runs on the
 * serving side as one transaction, in arrival order (a failing call fails alone, under the engine's savepoint), with
 * the batch's number written to a reserved namespace in the same transaction. The same write calls, in the same
 * order, with their recorded arguments (every write carries the store clock's `now`), are then replayed on the
 * backup as one transaction that writes the same number: equal data gives equal answers, and an answer that differs
 * marks the backup diverged (it stops mirroring; it is never served). A user transaction is a batch of its own, its
 * writes recorded as it makes them.
 */
export class CompositeEngine implements Engine {
  readonly name = "composite";
  readonly location: string;
  readonly supports: EngineSupports;
  readonly changes?: ChangeSource;

  private readonly lock = new Mutex();
  private pending: Work[] = [];
  private pumping = false;
  private servingSide: "primary" | "backup" = "primary";
  private batchNumber = 0;
  /** The identity of the last batch committed on the serving side. */
  private lastId = "";
  private failoverId: string | undefined;
  /** Why the standby needs a resync; undefined while it mirrors (or, after a failover, can catch up). */
  private staleReason: string | undefined;
  /** Batches committed on the primary and not yet on the backup. */
  private queue: Batch[] = [];
  private replicating: Promise<void> | undefined;
  private replicateAgain = false;
  /** After a failover: the batches the backup committed since (undefined once more than the bound: a resync then). */
  private sinceFailover: Batch[] | undefined = [];
  private failoverAt: number | undefined;
  private failovers = 0;
  private failbacks = 0;
  private probeFailures = 0;
  private probing = false;
  private lastRefusal: string | undefined;
  private autoFailbackBlocked = false;
  private closed = false;
  private readonly timers: NodeJS.Timeout[] = [];

  private constructor(
    private readonly primary: Engine,
    private readonly backup: Engine,
    readonly names: CompositeNames,
    readonly settings: CompositeSettings,
  ) {
    this.location = `primary ${names.primary} (${primary.name}), backup ${names.backup} (${backup.name}), ${settings.mode}`;
    this.supports = compositeSupports(primary.supports, backup.supports);
    if (this.supports.liveFeeds && primary.changes !== undefined && backup.changes !== undefined) this.changes = new MergedChanges([primary.changes, backup.changes]);
  }

  /**
   * Opens a composite over two open engines: reads each side's state to learn which side serves and whether the
   * backup mirrors, copies the primary into an empty backup that has never mirrored it, and starts the probes (and,
   * in async mode, the replication timer). Closes neither side on failure (the caller opened them).
   */
  static async open(primary: Engine, backup: Engine, names: CompositeNames, settings: CompositeSettings): Promise<CompositeEngine> {
    const engine = new CompositeEngine(primary, backup, names, settings);
    await engine.start();
    return engine;
  }

  read<C extends EngineCall>(call: C): Awaitable<CallResult<C>> {
    if (call.op === "describe") return this.describe(this.serving(), call.args[0] as number) as Promise<CallResult<C>>;
    return this.serving().read(call);
  }

  write<C extends EngineCall>(call: C): Promise<CallResult<C>> {
    return new Promise((resolve, reject) => this.enqueue({ kind: "call", call, resolve: resolve as (value: unknown) => void, reject }));
  }

  transaction<T>(body: (ops: EngineOps) => Promise<T>): Promise<T> {
    return new Promise((resolve, reject) => this.enqueue({ kind: "txn", body, resolve: resolve as (value: unknown) => void, reject }));
  }

  /** The serving side's snapshot, the composite's own namespace hidden. */
  snapshot<T>(body: (ops: EngineOps) => Promise<T>): Promise<T> {
    const side = this.serving();
    if (side.snapshot === undefined) return Promise.reject(dumpRefused(`the ${side.name} engine`));
    return side.snapshot((ops) => body(this.hidingState(ops)));
  }

  async check(): Promise<string[]> {
    const [primary, backup] = await Promise.all([this.primary.check(), this.backup.check()]);
    return [...primary.map((problem) => `${this.names.primary}: ${problem}`), ...backup.map((problem) => `${this.names.backup}: ${problem}`)];
  }

  /** The serving side's probe: the composite answers while it does. */
  probe(): Promise<unknown> {
    return probeEngine(this.serving());
  }

  async facts(): Promise<EngineFacts> {
    const status = this.status();
    const facts: Record<string, number | string | boolean> = {
      serving: status.serving === "primary" ? this.names.primary : this.names.backup,
      mode: status.mode,
      batch: status.batch,
      standby: status.standby,
      lagBatches: status.lag.batches,
      lagItems: status.lag.items,
      lagAgeMs: status.lag.ageMs,
      failovers: status.failovers,
      failbacks: status.failbacks,
    };
    const warnings: string[] = [];
    if (status.serving === "backup") warnings.push(`serving from the backup ${this.names.backup} since a failover at batch ${status.failoverAt}: the primary ${this.names.primary} is out of use`);
    if (status.standby === "stale") warnings.push(`${status.serving === "primary" ? `the backup ${this.names.backup}` : `the primary ${this.names.primary}`} needs a resync: ${status.staleReason}`);
    if (status.lastRefusal !== undefined) warnings.push(status.lastRefusal);
    for (const [side, engine] of [[this.names.primary, this.primary], [this.names.backup, this.backup]] as const) {
      const own: EngineFacts | undefined = await Promise.resolve(engine.facts?.()).catch((error: unknown) => ({ facts: {}, warnings: [`facts unavailable: ${messageOf(error)}`] }));
      for (const [fact, value] of Object.entries(own?.facts ?? {})) facts[`${side}.${fact}`] = value;
      warnings.push(...(own?.warnings ?? []).map((warning) => `${side}: ${warning}`));
    }
    return { facts, warnings };
  }

  /** Which side serves, how the other stands, the lag and the failovers. */
  status(): CompositeStatus {
    const oldest = this.queue[0];
    const standby = this.staleReason !== undefined ? "stale" : this.servingSide === "primary" ? "mirroring" : "awaiting-failback";
    return {
      serving: this.servingSide,
      mode: this.settings.mode,
      batch: this.batchNumber,
      standby,
      ...(this.staleReason === undefined ? {} : { staleReason: this.staleReason }),
      lag: { batches: this.queue.length, items: this.queue.reduce((sum, batch) => sum + batch.writes.length, 0), ageMs: oldest === undefined ? 0 : Date.now() - oldest.committedAt },
      failovers: this.failovers,
      failbacks: this.failbacks,
      ...(this.failoverAt === undefined ? {} : { failoverAt: this.failoverAt }),
      ...(this.lastRefusal === undefined ? {} : { lastRefusal: this.lastRefusal }),
    };
  }

  /**
   * Serves from the backup from now on (the probes call this after `failAfter` failures; an operator may call it for
   * maintenance). The batches the backup has not applied yet are applied first, and the failover is recorded in the
   * backup, so that a restart goes on serving from it. Refused (CONFLICT) when the backup is stale or cannot take
   * the queued batches: serving it would lose writes.
   */
  failover(reason = "asked to"): Promise<void> {
    return this.lock.run(async () => {
      if (this.servingSide === "backup") return;
      await this.drainReplication();
      if (this.staleReason !== undefined || this.queue.length > 0) {
        throw this.refusal(`cannot fail over to the backup ${this.names.backup} (${reason}): ${this.staleReason ?? `it did not take the ${this.queue.length} batches it lags by`}`);
      }
      await writeState(this.backup, { batch: this.batchNumber, id: this.lastId, serving: true, failoverAt: this.batchNumber, failoverId: this.lastId });
      this.servingSide = "backup";
      this.failoverAt = this.batchNumber;
      this.failoverId = this.lastId;
      this.sinceFailover = [];
      this.failovers += 1;
      this.probeFailures = 0;
      this.lastRefusal = undefined;
      this.autoFailbackBlocked = false;
    });
  }

  /**
   * Serves from the primary again. The primary must hold exactly what the backup held at the failover: the batches
   * the backup committed since are replayed on it (compared, as in mirroring), then it serves. Refused with CONFLICT
   * when the primary committed batches the backup never got (it diverged), missed some, or the batches since are no
   * longer all in memory (a restart, or more than `maxPendingBatches`): resync it first ({@link resync}).
   */
  failback(): Promise<void> {
    return this.lock.run(async () => {
      if (this.servingSide === "primary") return;
      if (this.staleReason !== undefined) throw this.refusal(`cannot fail back: the primary ${this.names.primary} needs a resync (${this.staleReason})`);
      const missing = this.missingOnPrimary(await readState(this.primary));
      // In commits the primary takes: a failback cut short leaves it at one of these batches, where a retry resumes.
      for (const group of withinLimits(missing, this.supports.limits)) {
        const last = group[group.length - 1]!;
        await replayBatches(this.primary, group, { batch: last.number, id: last.id, serving: false });
      }
      if (missing.length === 0) await writeState(this.primary, this.mirroredState());
      await writeState(this.backup, this.mirroredState());
      this.servingSide = "primary";
      this.failoverAt = undefined;
      this.failoverId = undefined;
      this.sinceFailover = [];
      this.failbacks += 1;
      this.lastRefusal = undefined;
    });
  }

  /**
   * Copies the serving side into the standby: a stale backup, or after a failover the primary (diverged, behind, or
   * unable to catch up; emptied by the operator). The standby must hold no data (CONFLICT otherwise: nothing is deleted automatically).
   * Writes wait while it copies; the copy is compared with the serving side before it counts.
   */
  resync(): Promise<void> {
    return this.lock.run(async () => {
      // While the primary serves, only a stale backup needs one; after a failover, the primary may have diverged.
      if (this.servingSide === "primary" && this.staleReason === undefined) return;
      await this.replicationIdle();
      await this.copyIntoStandby();
    });
  }

  /**
   * The batches the primary lacks of those the backup committed since the failover, from the primary's state: none
   * when it is up to date, all of them when it stands at the failover, the rest when an earlier failback was cut
   * short. CONFLICT (a refusal) when it diverged, is behind the failover, or the batches are not all in memory.
   */
  private missingOnPrimary(state: SideState | undefined): Batch[] {
    if (state === undefined) throw this.refusal(`cannot fail back: the primary ${this.names.primary} holds no composite state; resync it (empty) first`);
    if (state.batch === this.batchNumber && state.id === this.lastId) return [];
    const failoverAt = this.failoverAt ?? 0;
    if (state.batch < failoverAt) throw this.refusal(`cannot fail back: the primary ${this.names.primary} is at batch ${state.batch}, behind the failover at batch ${failoverAt}; empty it and resync`);
    const since = this.sinceFailover;
    const atFailover = state.batch === failoverAt && state.id === this.failoverId;
    const at = atFailover ? -1 : (since?.findIndex((batch) => batch.number === state.batch && batch.id === state.id) ?? -1);
    if (!atFailover && at < 0) {
      throw this.refusal(
        `cannot fail back: the primary ${this.names.primary} diverged: it holds batch ${state.batch}, which is not one the backup committed since the failover at batch ${failoverAt}${since === undefined ? " (as far as the batches in memory tell)" : ""}; empty it and resync`,
      );
    }
    if (since === undefined) {
      throw this.refusal(`cannot fail back: the batches since the failover at batch ${failoverAt} are not all held in memory (a restart, or more than ${this.settings.maxPendingBatches}); empty the primary ${this.names.primary} and resync`);
    }
    return since.slice(at + 1);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    await this.lock.run(async () => {
      // The last queued batches go to the backup before it closes (async mode).
      await this.drainReplication().catch(() => undefined);
    });
    const closed = await Promise.allSettled([this.primary.close(), this.backup.close()]);
    const failed = closed.find((outcome) => outcome.status === "rejected");
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
  }

  private async start(): Promise<void> {
    const primaryState = await readState(this.primary).catch(async (error: unknown) => {
      // A primary that cannot be read is fine only when the backup serves already.
      const backupState = await readState(this.backup);
      if (backupState?.serving !== true) throw error;
      return undefined;
    });
    const backupState = await readState(this.backup);
    if (backupState?.serving === true) {
      this.servingSide = "backup";
      this.batchNumber = backupState.batch;
      this.lastId = backupState.id ?? "";
      this.failoverAt = backupState.failoverAt ?? backupState.batch;
      this.failoverId = backupState.failoverId ?? this.lastId;
      // The batches since the failover were in the memory of the process that served them; none since: none to replay.
      this.sinceFailover = backupState.batch === this.failoverAt ? [] : undefined;
    } else if (primaryState === undefined && backupState === undefined) {
      await this.startFresh();
    } else if (primaryState === undefined) {
      throw new StowageError(
        "CONFLICT",
        `the primary ${this.names.primary} holds no composite state while the backup ${this.names.backup} mirrored batch ${backupState!.batch}: the primary is not the store the backup mirrored; name ${this.names.backup} as the primary to serve its data, or restore the primary`,
      );
    } else {
      this.batchNumber = primaryState.batch;
      this.lastId = primaryState.id ?? "";
      if (primaryState.backupStale !== undefined) this.staleReason = primaryState.backupStale;
      else if (backupState === undefined) await this.startBackupWithoutState();
      else if (backupState.batch !== primaryState.batch || backupState.id !== primaryState.id) {
        this.staleReason = `the backup is at batch ${backupState.batch}, the primary at batch ${primaryState.batch}${backupState.batch === primaryState.batch ? " of another identity" : ""}`;
      }
    }
    if (this.settings.mode === "async") this.every(this.settings.replicateIntervalMs, () => this.kickReplication());
    this.every(this.settings.probeIntervalMs, () => void this.probePrimary());
  }

  /** Neither side has mirrored yet: an empty backup gets a copy of the primary; a backup with data is stale. */
  private async startFresh(): Promise<void> {
    this.lastId = randomUUID();
    if (!(await this.startBackupWithoutState())) await writeState(this.primary, { batch: 0, id: this.lastId, serving: false, backupStale: this.staleReason! });
  }

  /** Copies the primary into a backup that holds no state, if it holds no data either; else marks it stale. True when copied. */
  private async startBackupWithoutState(): Promise<boolean> {
    if ((await userNamespacesOf(this.backup, Date.now())).length > 0) {
      this.staleReason = `the backup ${this.names.backup} holds data the composite did not write; empty it and resync`;
      return false;
    }
    this.staleReason = "it has never mirrored the primary";
    await this.copyIntoStandby();
    return true;
  }

  /** Copies the serving side into the standby (which must hold no user data), validates the copy and records it. */
  private async copyIntoStandby(): Promise<void> {
    const [source, target, targetName] = this.servingSide === "primary" ? [this.primary, this.backup, this.names.backup] : [this.backup, this.primary, this.names.primary];
    await copySide(source, target, targetName, Date.now());
    if (this.servingSide === "primary") {
      await writeState(this.backup, this.mirroredState());
      await writeState(this.primary, this.mirroredState());
      this.queue = [];
    } else {
      await writeState(this.primary, this.mirroredState());
      this.failoverAt = this.batchNumber;
      this.failoverId = this.lastId;
      this.sinceFailover = [];
      this.autoFailbackBlocked = false;
    }
    this.staleReason = undefined;
    this.lastRefusal = undefined;
  }

  private every(ms: number, run: () => void): void {
    const timer = setInterval(run, ms);
    timer.unref();
    this.timers.push(timer);
  }

  private serving(): Engine {
    return this.servingSide === "primary" ? this.primary : this.backup;
  }

  private refusal(message: string): StowageError {
    this.lastRefusal = message;
    return new StowageError("CONFLICT", message);
  }

  private async describe(side: Engine, now: number): Promise<EngineDescription> {
    return hideState(await side.read({ op: "describe", args: [now] }));
  }

  private hidingState(ops: EngineOps): EngineOps {
    return opsCalling((call) => (call.op === "describe" ? this.hidden(ops, call.args[0] as number) : runCall(ops, call)));
  }

  private async hidden(ops: EngineOps, now: number): Promise<EngineDescription> {
    return hideState(await ops.describe(now));
  }

  private enqueue(work: Work): void {
    if (this.closed) {
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
        await this.lock.run(() => this.runBatch(batch));
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
    const limits = this.supports.limits;
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
    const number = this.batchNumber + 1;
    const id = randomUUID();
    const first = work[0]!;
    const alone = first.kind === "call" && ALONE_OPS.has(first.call.op) ? first : undefined;
    const committed = alone !== undefined ? await this.commitAlone(alone, number, id) : await this.commitTogether(work, number, id);
    if (committed === undefined) return;
    const { writes, outcomes } = committed;
    const settle = () => work.forEach((item, i) => settleWith(item, outcomes[i]!));
    if (writes.length === 0) return settle();
    this.batchNumber = number;
    this.lastId = id;
    const batch: Batch = { number, id, writes, committedAt: Date.now(), ...(alone !== undefined ? { alone: true } : {}) };
    if (this.servingSide === "backup") {
      this.keepSinceFailover(batch);
      settle();
    } else if (this.staleReason !== undefined) {
      settle();
    } else if (this.settings.mode === "sync") {
      batch.settle = settle;
      this.queue.push(batch);
      this.kickReplication();
    } else {
      settle();
      this.queue.push(batch);
      if (this.queue.length > this.settings.maxPendingBatches) this.markStale(`the backup fell more than ${this.settings.maxPendingBatches} batches behind`);
      // The timer alone could starve: writers whose calls never leave the microtask queue (synchronous engines) keep
      // the event loop from reaching it.
      else if (batch.committedAt - this.queue[0]!.committedAt >= this.settings.replicateIntervalMs) this.kickReplication();
    }
  }

  /** Commits the batch's calls as one transaction with its number; undefined once its callers were answered (it failed). */
  private async commitTogether(work: Work[], number: number, id: string): Promise<{ writes: RecordedWrite[]; outcomes: Outcome[] } | undefined> {
    const writes: RecordedWrite[] = [];
    const outcomes: Outcome[] = [];
    try {
      await this.serving().transaction(async (ops) => {
        for (const item of work) {
          if (item.kind === "call") {
            const outcome = await outcomeOf(() => runCall(ops, item.call));
            outcomes.push(outcome);
            writes.push({ call: item.call, outcome });
          } else {
            outcomes.push({ ok: true, value: await item.body(recordingOps(ops, writes)) });
          }
        }
        if (writes.length > 0) await putState(ops, this.servingState(number, id));
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
  private async commitAlone(work: Extract<Work, { kind: "call" }>, number: number, id: string): Promise<{ writes: RecordedWrite[]; outcomes: Outcome[] } | undefined> {
    const side = this.serving();
    const outcome = await outcomeOf(() => side.write(work.call));
    // A refused call changed nothing: there is nothing to mirror.
    if (!outcome.ok) return void work.reject(outcome.error);
    const recorded = await outcomeOf(() => writeState(side, this.servingState(number, id)));
    if (!recorded.ok) return void work.reject(recorded.error);
    return { writes: [{ call: work.call, outcome }], outcomes: [outcome] };
  }

  private servingState(number: number, id: string): SideState {
    if (this.servingSide === "backup") return { batch: number, id, serving: true, failoverAt: this.failoverAt ?? number, failoverId: this.failoverId ?? id };
    return { batch: number, id, serving: false, ...(this.staleReason === undefined ? {} : { backupStale: this.staleReason }) };
  }

  /** The state of a side that holds everything the serving side committed. */
  private mirroredState(): SideState {
    return { batch: this.batchNumber, id: this.lastId, serving: false };
  }

  private keepSinceFailover(batch: Batch): void {
    if (this.sinceFailover === undefined) return;
    if (this.sinceFailover.length >= this.settings.maxPendingBatches) this.sinceFailover = undefined;
    else this.sinceFailover.push(batch);
  }

  /** The backup stops mirroring until a resync: waiting sync-mode callers resolve (the primary committed their writes). */
  private markStale(reason: string): void {
    this.staleReason = reason;
    const queued = this.queue;
    this.queue = [];
    for (const batch of queued) batch.settle?.();
  }

  private kickReplication(): void {
    if (this.replicating !== undefined) {
      this.replicateAgain = true;
      return;
    }
    this.replicateAgain = false;
    this.replicating = this.replicate().finally(() => {
      this.replicating = undefined;
      if (this.replicateAgain && this.queue.length > 0 && this.settings.mode === "sync") this.kickReplication();
    });
  }

  /**
   * Applies the queued batches to the backup, as many per transaction as its commit limits take. A divergence, or in
   * sync mode any failure, marks the backup stale; in async mode a failed application is tried again at the next
   * interval, the batches kept (up to the bound).
   */
  private async replicate(): Promise<void> {
    // Async mode applies what is queued now; batches committed meanwhile wait for the next interval.
    const through = this.settings.mode === "async" ? (this.queue.at(-1)?.number ?? 0) : Number.POSITIVE_INFINITY;
    while (this.queue.length > 0 && this.queue[0]!.number <= through && this.staleReason === undefined && this.servingSide === "primary") {
      const batches = this.replicable(through);
      const last = batches[batches.length - 1]!;
      try {
        await replayBatches(this.backup, batches, { batch: last.number, id: last.id, serving: false });
      } catch (error) {
        if (error instanceof Divergence) this.markStale(`it diverged: ${error.message}`);
        else if (this.settings.mode === "sync") this.markStale(`it failed to commit batch ${batches[0]!.number}: ${messageOf(error)}`);
        return;
      }
      this.queue.splice(0, batches.length);
      for (const batch of batches) batch.settle?.();
    }
  }

  /** The first queued batches (up to `through`) that fit one commit of the backup. */
  private replicable(through: number): Batch[] {
    const upTo = this.queue.findIndex((batch) => batch.number > through);
    return withinLimits(upTo < 0 ? this.queue : this.queue.slice(0, upTo), this.supports.limits)[0] ?? [];
  }

  private async replicationIdle(): Promise<void> {
    while (this.replicating !== undefined) await this.replicating;
  }

  /** Waits for replication, then applies whatever is still queued (async mode), once. */
  private async drainReplication(): Promise<void> {
    await this.replicationIdle();
    if (this.queue.length > 0 && this.staleReason === undefined) {
      this.replicating = this.replicate();
      try {
        await this.replicating;
      } finally {
        this.replicating = undefined;
      }
    }
  }

  /** One probe of the primary: failures in a row fail over; after a failover, an answer fails back (`failback: auto`). */
  private async probePrimary(): Promise<void> {
    if (this.probing || this.closed) return;
    this.probing = true;
    try {
      const answered = await withTimeout(probeEngine(this.primary), Math.max(1_000, this.settings.probeIntervalMs)).then(
        () => true,
        () => false,
      );
      if (this.servingSide === "primary") {
        this.probeFailures = answered ? 0 : this.probeFailures + 1;
        if (this.probeFailures >= this.settings.failAfter) {
          await this.failover(`the primary failed ${this.probeFailures} probes in a row`).catch(() => undefined);
          this.probeFailures = 0;
        }
      } else if (answered && this.settings.failback === "auto" && !this.autoFailbackBlocked && !this.closed) {
        await this.failback().catch(() => (this.autoFailbackBlocked = true));
      }
    } finally {
      this.probing = false;
    }
  }
}

function settleWith(work: Work, outcome: Outcome): void {
  if (outcome.ok) work.resolve(outcome.value);
  else work.reject(outcome.error);
}

function isUnavailable(error: unknown): boolean {
  return error instanceof StowageError && (error.code === "BACKEND_UNAVAILABLE" || error.code === "CLOSED");
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StowageError("BACKEND_UNAVAILABLE", `no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}
