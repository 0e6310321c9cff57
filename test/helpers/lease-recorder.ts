/**
 * A work queue whose every claim, heartbeat, handler run and settle is recorded as lease events (lease-events.ts):
 * what a test worker — in process, or the battery's worker process writing each event — calls instead of the queue.
 * A call that fails with anything but LEASE_LOST records no answer (its outcome is unknown, as a killed call's is) and
 * rethrows.
 */
import { StowageError } from "../../src/api/errors.js";
import type { ClaimedItem, Lease, ReleaseOptions, WorkQueue } from "../../src/api/types.js";
import { workErrorText } from "../../src/engines/work-rules.js";
import { eventClock, type LeaseEvent, type SettleKind } from "./lease-events.js";

/** An ack or release applied (a release's new visibility is not returned, so it is not recorded). */
const APPLIED = Object.freeze({ dead: false, visibleAt: null });

const isLeaseLost = (error: unknown) => error instanceof StowageError && error.code === "LEASE_LOST";

/** `queue` as one worker `w` of this process uses it, each step recorded to a sink. */
export class LeaseRecorder<T> {
  private readonly worker: { w: string; pid: number };

  /** `sink` gets each event as it happens: `leaseEventWriter(fd)` in a worker process, an array's push in a test. */
  constructor(
    private readonly queue: WorkQueue<T>,
    w: string,
    private readonly sink: (event: LeaseEvent) => void,
  ) {
    this.worker = { w, pid: process.pid };
  }

  /** The worker's first line; `end` its last, which a killed worker never writes. */
  begin(): void {
    this.sink({ ...this.worker, ev: "begin", at: eventClock() });
  }

  end(): void {
    this.sink({ ...this.worker, ev: "end", at: eventClock() });
  }

  /** A claim with its lease length given (the record needs it to recover the claim's store-clock time). */
  async claim(key: string, limit: number, visibilityMs: number): Promise<Array<ClaimedItem<T>>> {
    const invoke = eventClock();
    const items = await this.queue.claim(key, { limit, visibilityMs });
    const resolve = eventClock();
    for (const item of items) this.sink({ ...this.worker, ev: "claim", invoke, resolve, ...leaseOf(item), deadline: item.deadline, visibilityMs });
    return items;
  }

  /** A heartbeat: the new lease, or null when it was lost. */
  async extend(lease: Lease, ms?: number): Promise<Lease | null> {
    const invoke = eventClock();
    let extended: Lease | null = null;
    try {
      extended = await this.queue.extend(lease, ms);
    } catch (error) {
      if (!isLeaseLost(error)) throw error;
    }
    this.sink({ ...this.worker, ev: "extend", invoke, resolve: eventClock(), ...leaseOf(lease), deadline: extended?.deadline ?? null, ok: extended !== null });
    return extended;
  }

  /** The handler of `lease` began; `done`: it resolved; `threw`: it threw `error` (written before the fail). */
  started(lease: Lease): void {
    this.sink({ ...this.worker, ev: "start", at: eventClock(), ...leaseOf(lease) });
  }

  done(lease: Lease): void {
    this.sink({ ...this.worker, ev: "done", at: eventClock(), ...leaseOf(lease) });
  }

  threw(lease: Lease, error: unknown): void {
    this.sink({ ...this.worker, ev: "threw", at: eventClock(), ...leaseOf(lease), error: workErrorText(error) });
  }

  /** Records a settle as a kill would leave it: announced, never called. For workers that play a killed one. */
  settleCutShort(lease: Lease, kind: SettleKind): void {
    this.sink({ ...this.worker, ev: "settling", invoke: eventClock(), kind, ...leaseOf(lease) });
  }

  /** Whether the ack was applied (false: the lease was lost). */
  async ack(lease: Lease): Promise<boolean> {
    return (await this.settle(lease, "ack", async () => (await this.queue.ack(lease), APPLIED))) !== null;
  }

  /** What the fail did, or null when the lease was lost. */
  fail(lease: Lease, error: unknown): Promise<{ dead: boolean; visibleAt: number | null } | null> {
    return this.settle(lease, "fail", () => this.queue.fail(lease, error));
  }

  /** Whether the release was applied. */
  async release(lease: Lease, options?: ReleaseOptions): Promise<boolean> {
    return (await this.settle(lease, "release", async () => (await this.queue.release(lease, options), APPLIED))) !== null;
  }

  private async settle(lease: Lease, kind: SettleKind, call: () => Promise<{ dead: boolean; visibleAt: number | null }>): Promise<{ dead: boolean; visibleAt: number | null } | null> {
    const invoke = eventClock();
    this.sink({ ...this.worker, ev: "settling", invoke, kind, ...leaseOf(lease) });
    let outcome: { dead: boolean; visibleAt: number | null } | null = null;
    try {
      outcome = await call();
    } catch (error) {
      if (!isLeaseLost(error)) throw error;
    }
    this.sink({ ...this.worker, ev: "settle", invoke, resolve: eventClock(), kind, ...leaseOf(lease), ok: outcome !== null, dead: outcome?.dead ?? false, visibleAt: outcome?.visibleAt ?? null });
    return outcome;
  }
}

function leaseOf(lease: Lease): { key: string; id: number; token: number; attempt: number } {
  return { key: lease.key, id: lease.id, token: lease.token, attempt: lease.attempt };
}
