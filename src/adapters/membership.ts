import { StowageError } from "../api/errors.js";
import { LIMITS } from "../api/limits.js";
import type { Clock, Kv, Store } from "../api/types.js";
import { checkInteger, checkOptions, checkSignal } from "../store/validate.js";
import {
  checkInfo,
  CLUSTER_NAMESPACE,
  EVENTS_KEY,
  listNodes,
  MAX_NODE_INFO_BYTES,
  NODE_PREFIX,
  readNode,
  sameInfo,
  scoped,
  type ClusterNode,
  type EventBatch,
  type NodeInfo,
} from "./membership-records.js";
import { startWatch, type MembershipWatch, type MembershipWatchOptions } from "./membership-watch.js";
import { checkNodeId } from "./node-id.js";
import { storeClock, commitLimits } from "./store-parts.js";

export { CLUSTER_NAMESPACE, MAX_NODE_INFO_BYTES, type ClusterNode, type MembershipEvent, type NodeInfo } from "./membership-records.js";
export type { MembershipWatch, MembershipWatchOptions } from "./membership-watch.js";

/** The sweep interval of a {@link Membership} without `sweepIntervalMs`. */
export const DEFAULT_MEMBERSHIP_SWEEP_MS = 1_000;

/** Options of {@link Membership}. */
export interface MembershipOptions {
  /** A node's default lease, in ms: it leaves this long after its last heartbeat (plus one sweep interval at most). */
  ttlMs: number;
  /**
   * How often this handle removes expired nodes and reports their leaves (default 1,000 ms; 0: never, call
   * `expire()`). Every process may sweep: each leave is still reported once.
   */
  sweepIntervalMs?: number;
  /** The clock deadlines are judged by (default: the store's). */
  clock?: Clock;
}

/**
 * Cluster membership in the KV namespace `cluster`: nodes join with their info and a TTL, heartbeat to stay, and leave
 * by calling `leave` or by missing their deadline (judged by the store's clock; a sweep removes them). `watch()`
 * reports every join, update and leave (expiries included) once, from any process.
 *
 * Layout: `node/<id>` holds a member (its deadline in the value, so that only a sweep that reports it removes it);
 * `events` holds the last batch of events and the membership revision, rewritten by every change in the same
 * transaction, so that a watch of that one key sees every change in commit order. Heartbeats write no event.
 *
 * @example
 * ```ts
 * const cluster = new Membership(store, { ttlMs: 10_000 });
 * await cluster.join({ id: "node-a", address: "10.0.0.5:7000" });
 * setInterval(() => cluster.heartbeat("node-a"), 3_000);
 * const feed = await cluster.watch({ signal });
 * const members = new Map(feed.members.map((node) => [node.id, node]));
 * for await (const event of feed) console.log(event.type, event.node.id);
 * ```
 */
export class Membership {
  private readonly store: Store;
  private readonly ttlMs: number;
  private readonly clock: Clock;
  private readonly kv: Kv<unknown>;
  private readonly sweeper: NodeJS.Timeout | undefined;
  private sweeping = false;

  constructor(store: Store, options: MembershipOptions) {
    const opts = checkOptions(CLUSTER_NAMESPACE, "Membership options", options, ["ttlMs", "sweepIntervalMs", "clock"]);
    this.ttlMs = checkTtl(opts.ttlMs);
    const interval = opts.sweepIntervalMs === undefined ? DEFAULT_MEMBERSHIP_SWEEP_MS : checkInteger(CLUSTER_NAMESPACE, "sweepIntervalMs", opts.sweepIntervalMs, 0, LIMITS.maxTimerMs);
    if (opts.clock !== undefined && typeof opts.clock !== "function") {
      throw new StowageError("INVALID_ARGUMENT", "clock must be a function returning ms since the epoch", { namespace: CLUSTER_NAMESPACE });
    }
    this.store = store;
    this.clock = (opts.clock as Clock | undefined) ?? storeClock(store);
    this.kv = scoped(store);
    if (interval > 0) {
      this.sweeper = setInterval(() => void this.sweepInBackground(), interval);
      this.sweeper.unref();
    }
  }

  /**
   * Adds the node (or, when it is a member already, updates its info and renews it). Over a member whose deadline
   * passed but that no sweep removed yet, its leave (`expired`) is reported before the join.
   */
  join(info: NodeInfo, options?: { ttlMs?: number }): Promise<ClusterNode> {
    const given = checkInfo(info);
    const ttlMs = this.ttlOf(options, given.id);
    return this.change(async (kv, revision, now) => {
      const events: EventBatch["events"] = [];
      let held = await readNode(kv, given.id);
      if (held !== undefined && held.expiresAt <= now) {
        events.push({ type: "leave", node: held, reason: "expired" });
        held = undefined;
      }
      const changed = held === undefined || !sameInfo(held, given) || held.ttlMs !== ttlMs;
      const node: ClusterNode = { ...given, ttlMs, joinedAt: held?.joinedAt ?? now, expiresAt: now + ttlMs, revision: changed ? revision : (held?.revision ?? revision) };
      await kv.put(NODE_PREFIX + node.id, node);
      if (changed) events.push({ type: held === undefined ? "join" : "update", node });
      return { result: node, events };
    });
  }

  /** Renews the node's lease; LEASE_LOST when it is no member (it left, or its deadline passed): it must join again. */
  heartbeat(id: string): Promise<ClusterNode> {
    checkNodeId(CLUSTER_NAMESPACE, id);
    return this.store.transaction(async (tx) => {
      const kv = scoped(tx);
      const now = this.clock();
      const held = liveOrLost(await readNode(kv, id), id, now);
      const node = { ...held, expiresAt: now + held.ttlMs };
      await kv.put(NODE_PREFIX + id, node);
      return node;
    });
  }

  /** Replaces a member's info (and renews it); LEASE_LOST when it is no member. */
  update(info: NodeInfo): Promise<ClusterNode> {
    const given = checkInfo(info);
    return this.change(async (kv, revision, now) => {
      const held = liveOrLost(await readNode(kv, given.id), given.id, now);
      const changed = !sameInfo(held, given);
      const node: ClusterNode = { ...held, ...given, expiresAt: now + held.ttlMs, revision: changed ? revision : held.revision };
      await kv.put(NODE_PREFIX + node.id, node);
      return { result: node, events: changed ? [{ type: "update", node }] : [] };
    });
  }

  /** Removes the node at once; false when it was no member. */
  leave(id: string): Promise<boolean> {
    checkNodeId(CLUSTER_NAMESPACE, id);
    return this.change(async (kv, _revision, now) => {
      const held = await readNode(kv, id);
      if (held === undefined) return { result: false, events: [] };
      await kv.delete(NODE_PREFIX + id);
      return { result: true, events: [{ type: "leave", node: held, reason: held.expiresAt <= now ? "expired" : "left" }] };
    });
  }

  /** The member `id`, or `undefined` (never joined, left, or past its deadline). */
  async get(id: string): Promise<ClusterNode | undefined> {
    checkNodeId(CLUSTER_NAMESPACE, id);
    const node = await readNode(this.kv, id);
    return node !== undefined && node.expiresAt > this.clock() ? node : undefined;
  }

  /** Every member whose deadline has not passed, in id byte order. */
  async active(): Promise<ClusterNode[]> {
    const now = this.clock();
    return (await this.all()).filter((node) => node.expiresAt > now);
  }

  /** Every member stored, in id byte order: those past their deadline that no sweep removed yet included. */
  async all(): Promise<ClusterNode[]> {
    return [...(await listNodes(this.kv)).values()];
  }

  /** Removes the members past their deadline and reports their leaves (`expired`); the number removed. */
  async expire(): Promise<number> {
    const now = this.clock();
    const due = (await this.all()).filter((node) => node.expiresAt <= now).map((node) => node.id);
    const limits = commitLimits(this.store);
    // One write per node and one for the batch; the batch value holds every node's info.
    const perCommit = Math.max(1, Math.min(limits.maxTransactionWrites - 1, Math.floor(limits.maxTransactionBytes / 2 / (MAX_NODE_INFO_BYTES + 1_024))));
    let removed = 0;
    for (let start = 0; start < due.length; start += perCommit) {
      const chunk = due.slice(start, start + perCommit);
      removed += await this.change(async (kv, _revision, at) => {
        const events: EventBatch["events"] = [];
        for (const id of chunk) {
          const held = await readNode(kv, id);
          if (held === undefined || held.expiresAt > at) continue;
          await kv.delete(NODE_PREFIX + id);
          events.push({ type: "leave", node: held, reason: "expired" });
        }
        return { result: events.length, events };
      });
    }
    return removed;
  }

  /**
   * Starts a watch: resolves once it follows the history, with the members at that point (`members`, `revision`);
   * iterating it then yields every change that commits after that point — joins, updates and leaves (expiries
   * included, when a sweep removes the node) — each once, in commit order, from any process. A watch that loses track
   * of the history (it fell behind the KV history's trim) compares a fresh snapshot with what it reported and reports
   * the difference (`reason: "resync"`), so that `members` and the events always add up to the stored membership.
   * Iterate it once; it ends on abort, `break` or store close (abort it if you do not iterate it).
   */
  async watch(options?: MembershipWatchOptions): Promise<MembershipWatch> {
    const opts = checkOptions(CLUSTER_NAMESPACE, "watch options", options, ["signal"]);
    const signal = checkSignal(CLUSTER_NAMESPACE, opts.signal);
    return startWatch({ store: this.store, clock: this.clock }, signal);
  }

  /** Stops this handle's periodic sweep (the members stay). */
  close(): void {
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
  }

  /** Runs `body` in a transaction that, when it reports events, writes them as the next revision's batch. */
  private change<R>(body: (kv: Kv<unknown>, revision: number, now: number) => Promise<{ result: R; events: EventBatch["events"] }>): Promise<R> {
    return this.store.transaction(async (tx) => {
      const kv = scoped(tx);
      const revision = (((await kv.get(EVENTS_KEY)) as EventBatch | undefined)?.revision ?? 0) + 1;
      const now = this.clock();
      const { result, events } = await body(kv, revision, now);
      if (events.length > 0) await kv.put(EVENTS_KEY, { revision, at: now, events } satisfies EventBatch);
      return result;
    });
  }

  private async sweepInBackground(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      await this.expire();
    } catch {
      // A failed sweep (the store closing, a busy engine) is retried by the next tick; nothing was half-written.
    } finally {
      this.sweeping = false;
    }
  }

  private ttlOf(options: { ttlMs?: number } | undefined, id: string): number {
    const opts = checkOptions(CLUSTER_NAMESPACE, "join options", options, ["ttlMs"], id);
    return opts.ttlMs === undefined ? this.ttlMs : checkTtl(opts.ttlMs, id);
  }
}

function liveOrLost(node: ClusterNode | undefined, id: string, now: number): ClusterNode {
  if (node !== undefined && node.expiresAt > now) return node;
  const why = node === undefined ? "it is no member (it left, or a sweep removed it)" : `its deadline passed ${now - node.expiresAt} ms ago`;
  throw new StowageError("LEASE_LOST", `node ${JSON.stringify(id)} must join again: ${why}`, { namespace: CLUSTER_NAMESPACE, key: id });
}

function checkTtl(ttlMs: unknown, key?: string): number {
  return checkInteger(CLUSTER_NAMESPACE, "ttlMs", ttlMs, 1, LIMITS.maxTtlMs, key);
}

