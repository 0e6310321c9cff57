import { LIMITS } from "../../api/limits.js";
import { probeEngine } from "../../store/health.js";
import type { ChangeSource } from "../change-signal.js";
import { dumpRefused } from "../dump-refused.js";
import type { Awaitable, Engine, EngineDescription, EngineFacts, EngineOps, EngineSupports } from "../engine.js";
import { opsCalling, runCall, type CallResult, type EngineCall } from "../engine-calls.js";
import { commonSupports, MergedChanges } from "../routed/routed-engine.js";
import { BatchPump } from "./batch-pump.js";
import { CompositeState, messageOf, type CompositeNames, type CompositeSettings } from "./composite-state.js";
import { Failover } from "./failover.js";
import { Replication } from "./replication.js";
import { hideState } from "./side-state.js";

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

  private readonly state: CompositeState;
  private readonly replication: Replication;
  private readonly pump: BatchPump;
  /** Which side serves and the moves between them (probes, failover, failback, resync). */
  private readonly sides: Failover;
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
    this.state = new CompositeState(primary, backup, names, settings, this.supports.limits);
    this.replication = new Replication(this.state);
    this.pump = new BatchPump(this.state, this.replication);
    this.sides = new Failover(this.state, this.replication);
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
    if (call.op === "describe") return this.describe(this.state.serving(), call.args[0] as number) as Promise<CallResult<C>>;
    return this.state.serving().read(call);
  }

  write<C extends EngineCall>(call: C): Promise<CallResult<C>> {
    return new Promise((resolve, reject) => this.pump.enqueue({ kind: "call", call, resolve: resolve as (value: unknown) => void, reject }));
  }

  transaction<T>(body: (ops: EngineOps) => Promise<T>): Promise<T> {
    return new Promise((resolve, reject) => this.pump.enqueue({ kind: "txn", body, resolve: resolve as (value: unknown) => void, reject }));
  }

  /** The serving side's snapshot, the composite's own namespace hidden. */
  snapshot<T>(body: (ops: EngineOps) => Promise<T>): Promise<T> {
    const side = this.state.serving();
    if (side.snapshot === undefined) return Promise.reject(dumpRefused(`the ${side.name} engine`));
    return side.snapshot((ops) => body(this.hidingState(ops)));
  }

  async check(): Promise<string[]> {
    const [primary, backup] = await Promise.all([this.primary.check(), this.backup.check()]);
    return [...primary.map((problem) => `${this.names.primary}: ${problem}`), ...backup.map((problem) => `${this.names.backup}: ${problem}`)];
  }

  /** The serving side's probe: the composite answers while it does. */
  probe(): Promise<unknown> {
    return probeEngine(this.state.serving());
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
    const state = this.state;
    const oldest = state.queue[0];
    const standby = state.staleReason !== undefined ? "stale" : state.servingSide === "primary" ? "mirroring" : "awaiting-failback";
    return {
      serving: state.servingSide,
      mode: this.settings.mode,
      batch: state.batchNumber,
      standby,
      ...(state.staleReason === undefined ? {} : { staleReason: state.staleReason }),
      lag: { batches: state.queue.length, items: state.queue.reduce((sum, batch) => sum + batch.writes.length, 0), ageMs: oldest === undefined ? 0 : Date.now() - oldest.committedAt },
      failovers: state.failovers,
      failbacks: state.failbacks,
      ...(state.failoverAt === undefined ? {} : { failoverAt: state.failoverAt }),
      ...(state.lastRefusal === undefined ? {} : { lastRefusal: state.lastRefusal }),
    };
  }

  /** Serves from the backup from now on; see {@link Failover.failover}. */
  failover(reason = "asked to"): Promise<void> {
    return this.sides.failover(reason);
  }

  /** Serves from the primary again once it caught up; see {@link Failover.failback}. */
  failback(): Promise<void> {
    return this.sides.failback();
  }

  /** Copies the serving side into the (empty) stale side; see {@link Failover.resync}. */
  resync(): Promise<void> {
    return this.sides.resync();
  }

  async close(): Promise<void> {
    this.state.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    await this.state.lock.run(async () => {
      // The last queued batches go to the backup before it closes (async mode).
      await this.replication.drain().catch(() => undefined);
    });
    const closed = await Promise.allSettled([this.primary.close(), this.backup.close()]);
    const failed = closed.find((outcome) => outcome.status === "rejected");
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
  }

  private async start(): Promise<void> {
    await this.sides.resume();
    if (this.settings.mode === "async") this.every(this.settings.replicateIntervalMs, () => this.replication.kick());
    this.every(this.settings.probeIntervalMs, () => void this.sides.probePrimary());
  }

  private every(ms: number, run: () => void): void {
    const timer = setInterval(run, ms);
    timer.unref();
    this.timers.push(timer);
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
}
