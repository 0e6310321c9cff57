import { randomUUID } from "node:crypto";
import { json } from "../api/codec.js";
import { isStowageError, StowageError } from "../api/errors.js";
import { LIMITS } from "../api/limits.js";
import type { Clock, Kv, KvChange, Store } from "../api/types.js";
import { checkInteger, checkOptions, checkSignal, describeType } from "../store/validate.js";
import { checkNodeId } from "./node-id.js";
import type { JsonValue } from "./schema-fingerprint.js";
import { commitLimits, storeClock } from "./store-parts.js";

/** The KV namespace of the cluster membership. */
export const CLUSTER_NAMESPACE = "cluster";

/** Largest node info (address, tags and payload as JSON), in bytes: leave events of a sweep carry several. */
export const MAX_NODE_INFO_BYTES = 16 * 1024;

/** The sweep interval of a {@link Membership} without `sweepIntervalMs`. */
export const DEFAULT_MEMBERSHIP_SWEEP_MS = 1_000;

const NODE_PREFIX = "node/";
/** The key whose every write is one batch of membership events: `kv.watch` follows it. */
const EVENTS_KEY = "events";
/** Keys a starting watch writes in its snapshot's transaction, to learn where the snapshot stands in the feed. */
const MARK_PREFIX = "watch/";
/** A mark outlives its watch's start by this much at most (the store's sweep removes it after). */
const MARK_TTL_MS = 60_000;
/** How long a starting watch waits for its mark before it takes the snapshot again (doubling each time). */
const FIRST_MARK_WAIT_MS = 10;
const MAX_MARK_ATTEMPTS = 12;

/** What a node tells the cluster about itself. */
export interface NodeInfo {
  /** The node's id: 1 to 128 bytes, without `/`. */
  id: string;
  /** Where to reach it (default ""). */
  address?: string;
  /** Labels (default none). */
  tags?: string[];
  /** Anything else, as JSON (default null). */
  payload?: JsonValue;
}

/** A member as the cluster stores it. */
export interface ClusterNode extends Required<NodeInfo> {
  /** Its lease: it leaves this long after its last heartbeat. */
  ttlMs: number;
  /** When it joined, by the store's clock. */
  joinedAt: number;
  /** When it expires unless it heartbeats, by the store's clock. */
  expiresAt: number;
  /** The membership revision of its last join or update. */
  revision: number;
}

/** A membership change as `watch` reports it. */
export interface MembershipEvent {
  type: "join" | "update" | "leave";
  /** The node as it joined or was updated; for a leave, as it last was. */
  node: ClusterNode;
  /** The membership revision the change made: one per committed change, growing by one. */
  revision: number;
  /** When the change committed, by the store's clock of the process that made it. */
  at: number;
  /**
   * For a leave: `"left"` (it called `leave`) or `"expired"` (a sweep removed it after its deadline). `"resync"`:
   * derived by comparing a fresh snapshot, after the watch lost track of the history (any type).
   */
  reason?: "left" | "expired" | "resync";
}

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

/** Options of `watch`. */
export interface MembershipWatchOptions {
  /** Aborting it ends the feed. */
  signal?: AbortSignal;
}

interface EventBatch {
  revision: number;
  at: number;
  events: Array<Omit<MembershipEvent, "revision" | "at">>;
}

/** A started `watch`: the members when it started, then (iterating it) every change after. */
export interface MembershipWatch extends AsyncIterable<MembershipEvent> {
  /** The members (every stored one, past their deadline or not) at the point the events start after. */
  members: ClusterNode[];
  /** The membership revision of that point. */
  revision: number;
}

interface StartedFeed {
  feed: AsyncIterator<KvChange<unknown>>;
  snapshot: Snapshot;
}

interface Snapshot {
  revision: number;
  nodes: Map<string, ClusterNode>;
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
    this.kv = store.kv(CLUSTER_NAMESPACE, { codec: json<unknown>() });
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
    const started = await this.startFeed(signal);
    return {
      members: started === undefined ? [] : [...started.snapshot.nodes.values()],
      revision: started?.snapshot.revision ?? 0,
      [Symbol.asyncIterator]: () => this.follow(started, signal),
    };
  }

  private async *follow(first: StartedFeed | undefined, signal: AbortSignal | undefined): AsyncGenerator<MembershipEvent> {
    let started = first;
    let view: Map<string, ClusterNode> | undefined;
    while (started !== undefined) {
      const { feed, snapshot } = started;
      if (view !== undefined) yield* resyncEvents(view, snapshot, this.clock());
      view = new Map(snapshot.nodes);
      let revision = snapshot.revision;
      let lostTrack = false;
      try {
        for (;;) {
          const next = await feed.next();
          if (next.done === true) return;
          const batch = next.value.key === EVENTS_KEY ? (next.value.value as EventBatch | undefined) : undefined;
          if (batch === undefined || batch.revision <= revision) continue;
          // Revisions grow by one per change: a larger step means changes the feed no longer holds.
          if (batch.revision !== revision + 1) {
            lostTrack = true;
            break;
          }
          revision = batch.revision;
          for (const event of batch.events) {
            if (event.type === "leave") view.delete(event.node.id);
            else view.set(event.node.id, event.node);
            yield { ...event, revision, at: batch.at };
          }
        }
      } catch (error) {
        if (!isStowageError(error, "LIMIT_EXCEEDED")) throw error;
        lostTrack = true;
      } finally {
        await feed.return?.();
      }
      if (!lostTrack) return;
      started = await this.startFeed(signal);
    }
  }

  /** Stops this handle's periodic sweep (the members stay). */
  close(): void {
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
  }

  /**
   * A feed of the `events` key from the oldest change kept, and a snapshot taken after the feed is known to record:
   * the snapshot's transaction writes a mark the feed also follows, so the changes after the mark are exactly those
   * the snapshot lacks. A mark the feed never reports was written before the history recorded: try again.
   */
  private async startFeed(signal: AbortSignal | undefined): Promise<StartedFeed | undefined> {
    const mark = MARK_PREFIX + randomUUID();
    const feed = this.kv.watch([EVENTS_KEY, mark], { since: 0, ...(signal === undefined ? {} : { signal }) })[Symbol.asyncIterator]();
    let pending = feed.next();
    let wait = FIRST_MARK_WAIT_MS;
    try {
      for (let attempt = 1; attempt <= MAX_MARK_ATTEMPTS; attempt++, wait *= 2) {
        const snapshot = await this.snapshotMarked(mark, attempt);
        for (;;) {
          const next = await raceTimeout(pending, wait);
          if (next === undefined) break;
          if (next.done === true) return undefined;
          // Only this attempt's mark: an earlier one stands before changes this snapshot already holds.
          if (next.value.key === mark && next.value.value === attempt) return { feed, snapshot };
          pending = feed.next();
        }
      }
    } catch (error) {
      await feed.return?.();
      throw error;
    }
    await feed.return?.();
    throw new StowageError("BACKEND_UNAVAILABLE", `membership watch: the change feed did not report its start within ${MAX_MARK_ATTEMPTS} attempts`, { namespace: CLUSTER_NAMESPACE, key: mark });
  }

  private snapshotMarked(mark: string, attempt: number): Promise<Snapshot> {
    return this.store.transaction(async (tx) => {
      const kv = scoped(tx);
      const batch = (await kv.get(EVENTS_KEY)) as EventBatch | undefined;
      const nodes = await listNodes(kv);
      await kv.put(mark, attempt, { ttlMs: MARK_TTL_MS });
      return { revision: batch?.revision ?? 0, nodes };
    });
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

/** The events that turn `view` into `snapshot`, each `resync`, in id order. */
function* resyncEvents(view: ReadonlyMap<string, ClusterNode>, snapshot: Snapshot, at: number): Generator<MembershipEvent> {
  const revision = snapshot.revision;
  for (const [id, node] of view) {
    if (!snapshot.nodes.has(id)) yield { type: "leave", node, revision, at, reason: "resync" };
  }
  for (const [id, node] of snapshot.nodes) {
    const known = view.get(id);
    if (known === undefined) yield { type: "join", node, revision, at, reason: "resync" };
    else if (known.revision !== node.revision) yield { type: "update", node, revision, at, reason: "resync" };
  }
}

function scoped(tx: Pick<Store, "kv">): Kv<unknown> {
  return tx.kv(CLUSTER_NAMESPACE, { codec: json<unknown>() });
}

async function readNode(kv: Kv<unknown>, id: string): Promise<ClusterNode | undefined> {
  return (await kv.get(NODE_PREFIX + id)) as ClusterNode | undefined;
}

async function listNodes(kv: Kv<unknown>): Promise<Map<string, ClusterNode>> {
  const nodes = new Map<string, ClusterNode>();
  let cursor: string | undefined;
  do {
    const page = await kv.list({ prefix: NODE_PREFIX, limit: LIMITS.maxPageSize, ...(cursor === undefined ? {} : { cursor }) });
    for (const { value } of page.entries) nodes.set((value as ClusterNode).id, value as ClusterNode);
    cursor = page.cursor;
  } while (cursor !== undefined);
  return nodes;
}

function liveOrLost(node: ClusterNode | undefined, id: string, now: number): ClusterNode {
  if (node !== undefined && node.expiresAt > now) return node;
  const why = node === undefined ? "it is no member (it left, or a sweep removed it)" : `its deadline passed ${now - node.expiresAt} ms ago`;
  throw new StowageError("LEASE_LOST", `node ${JSON.stringify(id)} must join again: ${why}`, { namespace: CLUSTER_NAMESPACE, key: id });
}

function sameInfo(node: ClusterNode, info: Required<NodeInfo>): boolean {
  return node.address === info.address && JSON.stringify(node.tags) === JSON.stringify(info.tags) && JSON.stringify(node.payload) === JSON.stringify(info.payload);
}

function checkInfo(info: NodeInfo): Required<NodeInfo> {
  const opts = checkOptions(CLUSTER_NAMESPACE, "node info", info, ["id", "address", "tags", "payload"]);
  const id = checkNodeId(CLUSTER_NAMESPACE, opts.id);
  const address = opts.address ?? "";
  if (typeof address !== "string") throw new StowageError("INVALID_ARGUMENT", `address must be a string, got ${describeType(address)}`, { namespace: CLUSTER_NAMESPACE, key: id });
  const tags = opts.tags ?? [];
  if (!Array.isArray(tags) || tags.some((tag) => typeof tag !== "string")) {
    throw new StowageError("INVALID_ARGUMENT", `tags must be an array of strings, got ${describeType(tags)}`, { namespace: CLUSTER_NAMESPACE, key: id });
  }
  const payload = (opts.payload ?? null) as JsonValue;
  if (typeof payload === "function" || typeof payload === "symbol" || typeof payload === "bigint") {
    throw new StowageError("INVALID_ARGUMENT", `payload must be JSON, got ${describeType(payload)}`, { namespace: CLUSTER_NAMESPACE, key: id });
  }
  let text: string | undefined;
  try {
    text = JSON.stringify({ address, tags, payload });
  } catch (cause) {
    throw new StowageError("INVALID_ARGUMENT", "payload must be JSON (it could not be serialized)", { namespace: CLUSTER_NAMESPACE, key: id, cause });
  }
  const size = Buffer.byteLength(text);
  if (size > MAX_NODE_INFO_BYTES) {
    throw new StowageError("LIMIT_EXCEEDED", `node info is ${size} bytes as JSON; the limit is ${MAX_NODE_INFO_BYTES}`, { namespace: CLUSTER_NAMESPACE, key: id });
  }
  // Stored as it reads back from JSON, so that comparing it with a stored member is exact.
  return { id, ...(JSON.parse(text) as Omit<Required<NodeInfo>, "id">) };
}

function checkTtl(ttlMs: unknown, key?: string): number {
  return checkInteger(CLUSTER_NAMESPACE, "ttlMs", ttlMs, 1, LIMITS.maxTtlMs, key);
}

/** `promise`'s outcome, or `undefined` when it takes longer than `ms` (it goes on; await it again later). */
async function raceTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
