/**
 * The worker of a work queue (`WorkQueue.work`): a loop that claims while it has free slots and runs a handler per
 * item, one heartbeat timer that extends every lease coming due in one call, settles batched per event-loop turn, an
 * idle wait on the engine's change signal, and a drain on stop. Every store call it makes is an ordinary handle call,
 * so it keeps every rule a caller would.
 */
import { isStowageError, StowageError } from "../api/errors.js";
import type { ClaimedItem, Lease, TransactionScope, WorkContext, WorkHandler, Worker, WorkerEvent, WorkerStats } from "../api/types.js";
import type { ChangeSource } from "../engines/change-signal.js";
import type { LeaseRef, StoredSettle, WorkPoll, WorkSettled } from "../engines/engine.js";
import { workErrorText } from "../engines/work-rules.js";
import { WorkFailure } from "./work-failure.js";
import type { WorkerSettings } from "./work-worker-options.js";
import { utf8Length } from "./validate.js";
import { delay, hostNow, Nudge, pauseAfterFailures } from "./worker-waits.js";

/** What a worker needs of its queue: the handle's calls, with the handle's checks. */
export interface WorkerPort<T> {
  readonly namespace: string;
  /** The store clock. */
  now(): number;
  /** The engine's change signal (absent on engines without live feeds: the worker then wakes by its timers). */
  readonly changes: ChangeSource | undefined;
  /** Most writes and bytes one call may commit. */
  readonly commit: { writes: number; bytes: number };
  claim(key: string, limit: number, visibilityMs: number): Promise<ClaimedItem<T>[]>;
  extend(leases: readonly Lease[], ms: number): Promise<Array<Lease | null>>;
  settle(settles: StoredSettle[]): Promise<Array<WorkSettled | null>>;
  poll(key: string): Promise<WorkPoll>;
  ackIn(tx: TransactionScope, lease: Lease): Promise<void>;
}

/** An item the worker holds: its handler runs, or its settle is under way. */
interface Held<T> {
  readonly item: ClaimedItem<T>;
  lease: Lease;
  readonly controller: AbortController;
  /** running: the handler runs; settling: its settle is queued or sent; gone: the worker is done with it. */
  phase: "running" | "settling" | "gone";
  /** A heartbeat found the lease no longer current: the handler's signal is aborted, nothing will be settled. */
  lost: boolean;
  /** Host time of the handler's `ctx.ackIn` call; from then on the item is the caller's transaction's to settle. */
  ackInAt: number | null;
  /** True once its ack committed inside the caller's transaction. */
  ackedIn: boolean;
  /** Its settle is in a call under way (queued settles are not yet). */
  settleSent: boolean;
}

/** A settle waiting for the next batch, with the item it ends. */
interface PendingSettle<T> {
  readonly held: Held<T>;
  readonly settle: StoredSettle;
}

/** The {@link Worker} of one queue key. Started by its constructor; `done` resolves once it has stopped. */
export class QueueWorker<T> implements Worker {
  readonly done: Promise<void>;
  private state: "running" | "draining" | "stopped" = "running";
  private readonly held = new Map<number, Held<T>>();
  private readonly nudge = new Nudge();
  private readonly counts: WorkerStats = { claimed: 0, acked: 0, failed: 0, dead: 0, released: 0, lost: 0, running: 0 };
  /** The store closed beneath the worker: its calls can only fail CLOSED now. */
  private halted = false;
  private pending: Array<PendingSettle<T>> = [];
  private flushing: Promise<void> | undefined;
  private beatTimer: NodeJS.Timeout | undefined;
  private beating = false;
  private beatAgain = false;
  private beatFailures = 0;
  /** Resolves when the worker holds nothing (during a drain). */
  private emptied: (() => void) | undefined;
  private readonly forgetSignal: () => void;

  constructor(
    private readonly port: WorkerPort<T>,
    private readonly key: string,
    private readonly handler: WorkHandler<T>,
    private readonly settings: WorkerSettings,
  ) {
    const signal = settings.signal;
    const onAbort = () => this.requestStop();
    signal?.addEventListener("abort", onAbort, { once: true });
    this.forgetSignal = () => signal?.removeEventListener("abort", onAbort);
    if (signal?.aborted) this.requestStop();
    this.done = this.run().catch((error: unknown) => this.emit({ type: "error", key, during: "claim", error, at: hostNow() }));
  }

  get stats(): Readonly<WorkerStats> {
    return { ...this.counts, running: this.held.size };
  }

  stop(): Promise<void> {
    this.requestStop();
    return this.done;
  }

  wake(): void {
    if (this.state === "stopped") return;
    this.nudge.poke();
    void this.beat();
  }

  private requestStop(): void {
    if (this.state !== "running") return;
    this.state = "draining";
    this.nudge.poke();
  }

  /** Claims while running, then drains. Never throws: failed calls are reported and retried after a pause. */
  private async run(): Promise<void> {
    const unwatch = this.port.changes?.watch();
    try {
      await this.claimLoop();
      await this.drain();
    } finally {
      unwatch?.();
      this.forgetSignal();
      this.state = "stopped";
      clearTimeout(this.beatTimer);
    }
  }

  private async claimLoop(): Promise<void> {
    // After a short claim, the next round first asks whether anything is claimable (a read), and waits when not.
    let probe = false;
    let failures = 0;
    // Claims that found nothing although a poll said something was claimable (rows another claimer holds locked):
    // paused after like failures, so that such a spell is no busy loop.
    let emptyClaims = 0;
    while (this.state === "running") {
      const free = this.settings.concurrency - this.held.size;
      if (free <= 0) {
        await this.nudge.next();
        continue;
      }
      const seen = this.port.changes?.generation ?? 0;
      let during: "poll" | "claim" = "poll";
      try {
        if (probe) {
          const poll = await this.port.poll(this.key);
          if (!poll.claimable) {
            await this.idle(seen, poll.nextVisibleAt);
            continue;
          }
        }
        if (this.state !== "running") break;
        during = "claim";
        // One claim commits a write per item: never more than the engine's commit holds (the handle caps it alike).
        const limit = Math.min(this.settings.batchSize, free, this.port.commit.writes);
        const claimed = await this.claim(limit);
        failures = 0;
        emptyClaims = probe && claimed === 0 ? emptyClaims + 1 : 0;
        probe = claimed < limit;
        if (emptyClaims > 0) await this.pause(pauseAfterFailures(emptyClaims));
      } catch (error) {
        if (this.failedTerminally(error, during)) break;
        await this.pause(pauseAfterFailures(++failures));
      }
    }
  }

  /** One claim call; starts a handler per item; the number of items. */
  private async claim(limit: number): Promise<number> {
    const invokedAt = hostNow();
    const items = await this.port.claim(this.key, limit, this.settings.visibilityMs);
    const resolvedAt = hostNow();
    for (const item of items) {
      this.counts.claimed += 1;
      this.emit({ type: "claimed", ...this.step(item, invokedAt, resolvedAt), deadline: item.deadline });
      this.start(item);
    }
    if (items.length > 0) this.scheduleBeat();
    return items.length;
  }

  /**
   * The idle wait: the first of a commit signalled since `seen`, the time the next delayed item (or lease) becomes
   * claimable, `idlePollMs`, `wake()`, or a stop.
   */
  private async idle(seen: number, nextVisibleAt: number | null): Promise<void> {
    const untilVisible = nextVisibleAt === null ? Infinity : Math.max(1, nextVisibleAt - this.port.now());
    const ms = Math.min(this.settings.idlePollMs, untilVisible);
    const end = new AbortController();
    const waits = [delay(ms, end.signal), this.nudge.next(end.signal)];
    if (this.port.changes !== undefined) waits.push(this.port.changes.wait(seen, end.signal));
    await Promise.race(waits);
    end.abort();
  }

  /** A pause after failed calls, cut short by `wake()` or a stop. */
  private async pause(ms: number): Promise<void> {
    const end = new AbortController();
    await Promise.race([delay(ms, end.signal), this.nudge.next(end.signal)]);
    end.abort();
  }

  /** Reports a failed call of the worker's own; true when it cannot succeed again (the store closed beneath it). */
  private failedTerminally(error: unknown, during: "claim" | "poll" | "extend" | "settle"): boolean {
    this.emit({ type: "error", key: this.key, during, error, at: hostNow() });
    if (!isStowageError(error, "CLOSED")) return false;
    this.halted = true;
    this.requestStop();
    return true;
  }

  private start(item: ClaimedItem<T>): void {
    const held: Held<T> = { item, lease: item, controller: new AbortController(), phase: "running", lost: false, ackInAt: null, ackedIn: false, settleSent: false };
    this.held.set(item.id, held);
    const ctx: WorkContext = {
      signal: held.controller.signal,
      lease: () => held.lease,
      ackIn: (tx) => this.ackIn(held, tx),
    };
    void this.runHandler(held, ctx);
  }

  private async runHandler(held: Held<T>, ctx: WorkContext): Promise<void> {
    try {
      await this.handler(held.item, ctx);
    } catch (error) {
      this.handlerEnded(held, { error });
      return;
    }
    this.handlerEnded(held, undefined);
  }

  private async ackIn(held: Held<T>, tx: TransactionScope): Promise<void> {
    held.ackInAt ??= hostNow();
    await this.port.ackIn(tx, held.lease);
    held.ackedIn = true;
  }

  private handlerEnded(held: Held<T>, failure: { error: unknown } | undefined): void {
    if (held.phase !== "running") return; // released at the end of a drain: the worker is done with it
    if (held.lost) return this.forget(held);
    const ref = leaseRefOf(held.lease);
    if (failure === undefined && held.ackedIn) {
      this.counts.acked += 1;
      this.emit({ type: "acked", ...this.step(held.lease, held.ackInAt!, hostNow()), inTransaction: true });
      return this.forget(held);
    }
    if (failure === undefined) return this.queueSettle(held, { ...ref, to: "ack" });
    const steer = failure.error instanceof WorkFailure ? failure.error : undefined;
    this.queueSettle(held, {
      ...ref,
      to: "fail",
      error: workErrorText(failure.error),
      random: Math.random(),
      final: steer?.final ?? false,
      retryAfterMs: steer?.retryAfterMs ?? null,
    });
  }

  private forget(held: Held<T>): void {
    held.phase = "gone";
    this.held.delete(held.item.id);
    this.nudge.poke();
    if (this.held.size === 0) this.emptied?.();
  }

  // ---- settles: those queued in one event-loop turn (and while a batch is under way) go in one call

  private queueSettle(held: Held<T>, settle: StoredSettle): void {
    held.phase = "settling";
    this.pending.push({ held, settle });
    this.flushing ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.flush());
  }

  private async flush(): Promise<void> {
    let failures = 0;
    while (this.pending.length > 0) {
      const batch = this.takeBatch();
      const invokedAt = hostNow();
      let outcomes: Array<WorkSettled | null>;
      try {
        outcomes = await this.port.settle(batch.map((p) => p.settle));
      } catch (error) {
        for (const p of batch) p.held.settleSent = false;
        // A worker that has stopped (or whose store closed) tries once: the leases it could not settle expire.
        if (this.failedTerminally(error, "settle") || this.state === "stopped") {
          for (const p of batch) this.forget(p.held);
          continue;
        }
        this.pending.unshift(...batch);
        await delay(pauseAfterFailures(++failures), new AbortController().signal);
        continue;
      }
      failures = 0;
      const resolvedAt = hostNow();
      batch.forEach((p, at) => this.settled(p, outcomes[at] ?? null, invokedAt, resolvedAt));
    }
    // Cleared in the same turn as the last check, so a settle queued after it starts a new flush.
    this.flushing = undefined;
  }

  /** The settles of the next call: as many as one commit of the engine holds. */
  private takeBatch(): Array<PendingSettle<T>> {
    let bytes = 0;
    let count = 0;
    while (count < this.pending.length && count < this.port.commit.writes) {
      const settle = this.pending[count]!.settle;
      const size = utf8Length(settle.key) + (settle.to === "fail" ? utf8Length(settle.error) : 0);
      if (count > 0 && bytes + size > this.port.commit.bytes) break;
      bytes += size;
      count += 1;
    }
    const batch = this.pending.splice(0, count);
    for (const p of batch) p.held.settleSent = true;
    return batch;
  }

  private settled(p: PendingSettle<T>, outcome: WorkSettled | null, invokedAt: number, resolvedAt: number): void {
    const step = this.step(p.held.lease, invokedAt, resolvedAt);
    const settle = p.settle;
    if (outcome === null) {
      this.counts.lost += 1;
      this.emit({ type: "lost", ...step, during: "settle" });
    } else if (settle.to === "ack") {
      this.counts.acked += 1;
      this.emit({ type: "acked", ...step, inTransaction: false });
    } else if (settle.to === "retry") {
      this.counts.released += 1;
      this.emit({ type: "released", ...step });
    } else if (outcome.dead) {
      this.counts.dead += 1;
      this.emit({ type: "dead", ...step, error: settle.error });
    } else {
      this.counts.failed += 1;
      this.emit({ type: "failed", ...step, error: settle.error, visibleAt: outcome.visibleAt ?? this.port.now() });
    }
    this.forget(p.held);
  }

  // ---- heartbeat: one timer; every lease within 2/3 of visibilityMs of its deadline is extended in one call

  /** How close to its deadline (in ms) a lease is extended. */
  private get refreshWithin(): number {
    return Math.floor((2 * this.settings.visibilityMs) / 3);
  }

  /** Leases the worker keeps alive: not lost, not handed to a transaction, no settle sent for them. */
  private extendable(held: Held<T>): boolean {
    if (held.lost || held.ackInAt !== null || held.phase === "gone") return false;
    return !held.settleSent;
  }

  private scheduleBeat(afterMs?: number): void {
    clearTimeout(this.beatTimer);
    this.beatTimer = undefined;
    if (this.state === "stopped") return;
    let ms = afterMs;
    if (ms === undefined) {
      const now = this.port.now();
      let soonest = Infinity;
      for (const held of this.held.values()) {
        if (this.extendable(held)) soonest = Math.min(soonest, held.lease.deadline - this.refreshWithin - now);
      }
      if (soonest === Infinity) return;
      ms = Math.max(1, soonest);
    }
    this.beatTimer = setTimeout(() => void this.beat(), Math.min(ms, 2_147_483_647));
  }

  private async beat(): Promise<void> {
    if (this.beating) {
      this.beatAgain = true;
      return;
    }
    this.beating = true;
    let retryAfter: number | undefined;
    try {
      do {
        this.beatAgain = false;
        const now = this.port.now();
        const due = [...this.held.values()].filter((held) => this.extendable(held) && held.lease.deadline - now <= this.refreshWithin);
        for (let at = 0; at < due.length; at += this.port.commit.writes) {
          if (!(await this.extend(due.slice(at, at + this.port.commit.writes)))) {
            retryAfter = this.halted ? undefined : pauseAfterFailures(++this.beatFailures);
            break;
          }
          this.beatFailures = 0;
        }
      } while (this.beatAgain && retryAfter === undefined);
    } finally {
      this.beating = false;
      if (!this.halted) this.scheduleBeat(retryAfter);
    }
  }

  /** One extend call; false when it failed (reported). */
  private async extend(due: Array<Held<T>>): Promise<boolean> {
    const invokedAt = hostNow();
    let extended: Array<Lease | null>;
    try {
      extended = await this.port.extend(due.map((held) => held.lease), this.settings.visibilityMs);
    } catch (error) {
      this.failedTerminally(error, "extend");
      return false;
    }
    const resolvedAt = hostNow();
    due.forEach((held, at) => {
      const lease = extended[at] ?? null;
      // Settled meanwhile (a settle sent, a transaction's ack, the drain's release): that call reports the item.
      if (!this.extendable(held)) return;
      if (lease !== null) {
        held.lease = lease;
        this.emit({ type: "extended", ...this.step(lease, invokedAt, resolvedAt), deadline: lease.deadline });
        return;
      }
      this.loseLease(held, invokedAt, resolvedAt);
    });
    return true;
  }

  private loseLease(held: Held<T>, invokedAt: number, resolvedAt: number): void {
    held.lost = true;
    this.counts.lost += 1;
    this.emit({ type: "lost", ...this.step(held.lease, invokedAt, resolvedAt), during: "extend" });
    held.controller.abort(leaseLostReason(this.port.namespace, held.lease));
    if (held.phase === "settling") {
      // Its settle was still queued: it would only find the lease lost.
      this.pending = this.pending.filter((p) => p.held !== held);
      this.forget(held);
    }
  }

  // ---- shutdown

  /** Stop claiming; let handlers finish for `drainMs` while heartbeats go on; then abort them and release their items. */
  private async drain(): Promise<void> {
    if (this.held.size > 0 && !this.halted) {
      const end = new AbortController();
      const emptied = new Promise<void>((resolve) => (this.emptied = resolve));
      await Promise.race([emptied, delay(this.settings.drainMs, end.signal)]);
      end.abort();
      this.emptied = undefined;
    }
    const reason = new StowageError("CLOSED", `the worker of work queue "${this.port.namespace}" key "${this.key}" stopped before its handler finished; the item was released`, {
      namespace: this.port.namespace,
      key: this.key,
    });
    for (const held of [...this.held.values()]) {
      if (held.phase !== "running") continue;
      held.controller.abort(reason);
      // A lost lease is not the worker's any more; a transaction's ack may yet commit: neither is released.
      if (held.lost || held.ackInAt !== null || this.halted) this.forget(held);
      else this.queueSettle(held, { ...leaseRefOf(held.lease), to: "retry", visibleAt: this.port.now(), giveBack: true });
    }
    clearTimeout(this.beatTimer);
    this.state = "stopped";
    while (this.flushing !== undefined) await this.flushing;
    for (const held of [...this.held.values()]) this.forget(held);
  }

  private step(lease: Lease, invokedAt: number, resolvedAt: number) {
    return { key: lease.key, id: lease.id, token: lease.token, attempt: lease.attempt, invokedAt, resolvedAt };
  }

  private emit(event: WorkerEvent): void {
    try {
      this.settings.onEvent?.(event);
    } catch {
      // An observer's failure must not stop the worker, nor lose the item.
    }
  }
}

function leaseRefOf(lease: Lease): LeaseRef {
  return { key: lease.key, id: lease.id, token: lease.token, attempt: lease.attempt };
}

function leaseLostReason(namespace: string, lease: Lease): StowageError {
  return new StowageError("LEASE_LOST", `the lease of item ${lease.id} (attempt ${lease.attempt}) is no longer current: the worker stopped keeping it and will not settle the item`, {
    namespace,
    key: lease.key,
    itemId: lease.id,
  });
}
