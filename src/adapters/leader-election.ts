import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { json } from "../api/codec.js";
import { StowageError } from "../api/errors.js";
import type { Slot, Store } from "../api/types.js";
import { runCampaign, type Campaign, type CampaignOptions } from "./campaign.js";
import { storeClock } from "./store-parts.js";

/** The Slot namespace leases live in (key = the election's name). */
export const LEASES_NAMESPACE = "leases";

/** A lease as stored: who holds it, its fencing token, and until when (ms since the epoch, by the holder's clock). */
interface Lease {
  holder: string;
  token: number;
  expiresAt: number;
}

/** Options of {@link LeaderElection}. */
export interface LeaderElectionOptions {
  /** The election (one leader per name). */
  name: string;
  /** How long a lease lasts without renewal; a crashed leader is replaced this long after its last renewal. */
  ttlMs: number;
  /** This candidate's id (default: host, process id and a random part). */
  holder?: string;
  /**
   * The clock leases are judged by (default: the store's, `Date.now` unless the store was given a `clock`); every
   * candidate must share it (one machine, or synced clocks).
   */
  clock?: () => number;
}

/**
 * Leader election by lease: a Slot in the `leases` namespace holds the current lease, and every change is a
 * compare-and-swap, so of candidates racing for a free or expired lease exactly one wins, across processes. Each new
 * leadership gets a fencing token greater than every earlier one; a leader that stalled past its lease can be refused
 * by checking its token (`isCurrent`) before acting on shared state. The expiry lives in the slot's value rather than
 * in a KV TTL, so that the token survives an expired lease and keeps growing.
 */
export class LeaderElection {
  readonly name: string;
  readonly holder: string;
  private readonly ttlMs: number;
  private readonly clock: () => number;
  private readonly slot: Slot<Lease>;
  private lease: Lease | undefined;
  /** The campaigns running now: `close()` stops them. */
  private readonly campaigns = new Set<Campaign>();
  /**
   * This candidate's calls that read and change the lease, run one at a time: two overlapping renewals would read the
   * same version, and the one that lost the CAS to the other — to this very candidate — would drop a live lease.
   */
  private turn: Promise<unknown> = Promise.resolve();

  constructor(store: Store, options: LeaderElectionOptions) {
    if (typeof options !== "object" || options === null || typeof options.name !== "string") {
      throw new StowageError("INVALID_ARGUMENT", "LeaderElection needs { name, ttlMs }", { namespace: LEASES_NAMESPACE });
    }
    if (!Number.isSafeInteger(options.ttlMs) || options.ttlMs < 1) {
      throw new StowageError("INVALID_ARGUMENT", `ttlMs must be a whole number ≥ 1, got ${String(options.ttlMs)}`, { namespace: LEASES_NAMESPACE, key: options.name });
    }
    this.name = options.name;
    this.ttlMs = options.ttlMs;
    this.holder = options.holder ?? `${hostname()}:${process.pid}:${randomUUID()}`;
    this.clock = options.clock ?? storeClock(store);
    this.slot = store.slot<Lease>(LEASES_NAMESPACE, { codec: json<Lease>() });
  }

  /** The fencing token of the leadership this candidate holds, or `undefined`. */
  get token(): number | undefined {
    return this.isLeader() ? this.lease?.token : undefined;
  }

  /** When the lease this candidate holds expires unless renewed (ms since the epoch), or `undefined`. */
  get expiresAt(): number | undefined {
    return this.isLeader() ? this.lease?.expiresAt : undefined;
  }

  /** True while this candidate holds an unexpired lease (by its own clock; no I/O). */
  isLeader(): boolean {
    return this.lease !== undefined && this.clock() < this.lease.expiresAt;
  }

  /**
   * Takes the lease if it is free or expired (or renews it if this candidate holds it); true when leader after.
   * Calls of one candidate (`acquire`, `renew`, `release`) run one after another, in the order they were made.
   */
  acquire(): Promise<boolean> {
    return this.inTurn(() => this.acquireNow());
  }

  /** Extends the lease this candidate holds; false (and no longer leader) when it has lost it. */
  renew(): Promise<boolean> {
    return this.inTurn(() => this.renewNow());
  }

  /** Gives the lease up at once (another candidate may take it without waiting for the expiry). */
  release(): Promise<void> {
    return this.inTurn(() => this.releaseNow());
  }

  private inTurn<T>(call: () => Promise<T>): Promise<T> {
    const run = this.turn.then(call);
    this.turn = run.catch(() => undefined);
    return run;
  }

  private async acquireNow(): Promise<boolean> {
    const now = this.clock();
    const current = await this.slot.get(this.name);
    const held = current?.value;
    if (held !== undefined && held.expiresAt > now) {
      if (held.holder === this.holder && held.token === this.lease?.token) return this.extend(current?.version ?? 0, held, now);
      this.lease = undefined;
      return false;
    }
    const lease: Lease = { holder: this.holder, token: (held?.token ?? 0) + 1, expiresAt: now + this.ttlMs };
    if (!(await this.slot.cas(this.name, current?.version ?? 0, lease))) return false;
    this.lease = lease;
    return true;
  }

  private async renewNow(): Promise<boolean> {
    const now = this.clock();
    const current = await this.slot.get(this.name);
    const held = current?.value;
    if (this.lease === undefined || held === undefined || held.holder !== this.holder || held.token !== this.lease.token || held.expiresAt <= now) {
      this.lease = undefined;
      return false;
    }
    return this.extend(current?.version ?? 0, held, now);
  }

  private async releaseNow(): Promise<void> {
    const mine = this.lease;
    this.lease = undefined;
    if (mine === undefined) return;
    const current = await this.slot.get(this.name);
    if (current === undefined || current.value.holder !== this.holder || current.value.token !== mine.token) return;
    await this.slot.cas(this.name, current.version, { holder: "", token: mine.token, expiresAt: 0 });
  }

  /**
   * Campaigns for leadership until stopped: tries to acquire every `renewEveryMs` (default ttl / 3), and while leader
   * renews at that pace. `onElected(token)` runs on winning; `onLost(reason, token)` when a renewal is refused
   * (fencing), when none was confirmed a safety margin (a fifth of the ttl) before the deadline — so before any other
   * candidate can take the lease, on a shared clock — and when the campaign stops. Stopping (abort, `stop()`,
   * `close()`, `runtime.close()`) releases the lease.
   *
   * @example
   * ```ts
   * const campaign = election.campaign({ onElected: (token) => startLeading(token), onLost: () => stopLeading(), signal });
   * ```
   */
  campaign(options?: CampaignOptions): Campaign {
    const election = this;
    const campaign = runCampaign(
      {
        name: this.name,
        ttlMs: this.ttlMs,
        clock: this.clock,
        acquire: () => this.acquire(),
        renew: () => this.renew(),
        release: () => this.release(),
        get token() {
          return election.token;
        },
        get expiresAt() {
          return election.expiresAt;
        },
      },
      options,
    );
    this.campaigns.add(campaign);
    void campaign.done.catch(() => undefined).finally(() => this.campaigns.delete(campaign));
    return campaign;
  }

  /** Stops this candidate's campaigns and releases its lease. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.campaigns].map((campaign) => campaign.stop()));
    await this.release();
  }

  /** Whether `token` is the current, unexpired leadership: check it before acting on shared state as leader. */
  async isCurrent(token: number): Promise<boolean> {
    const current = await this.slot.get(this.name);
    return current !== undefined && current.value.token === token && current.value.expiresAt > this.clock();
  }

  private async extend(version: number, held: Lease, now: number): Promise<boolean> {
    const lease: Lease = { ...held, expiresAt: now + this.ttlMs };
    if (!(await this.slot.cas(this.name, version, lease))) {
      this.lease = undefined;
      return false;
    }
    this.lease = lease;
    return true;
  }
}
