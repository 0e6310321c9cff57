import { randomUUID } from "node:crypto";
import { isStowageError, StowageError } from "../api/errors.js";
import type { Clock, KvChange, Store } from "../api/types.js";
import { CLUSTER_NAMESPACE, EVENTS_KEY, listNodes, scoped, type ClusterNode, type EventBatch, type MembershipEvent } from "./membership-records.js";

/** Keys a starting watch writes in its snapshot's transaction, to learn where the snapshot stands in the feed. */
const MARK_PREFIX = "watch/";
/** A mark outlives its watch's start by this much at most (the store's sweep removes it after). */
const MARK_TTL_MS = 60_000;
/** How long a starting watch waits for its mark before it takes the snapshot again (doubling each time). */
const FIRST_MARK_WAIT_MS = 10;
const MAX_MARK_ATTEMPTS = 12;

/** Options of `watch`. */
export interface MembershipWatchOptions {
  /** Aborting it ends the feed. */
  signal?: AbortSignal;
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

/** What a watch reads through. */
export interface WatchSource {
  store: Store;
  clock: Clock;
}

/** Starts a watch of the membership (see `Membership.watch`). */
export async function startWatch(source: WatchSource, signal: AbortSignal | undefined): Promise<MembershipWatch> {
  const started = await startFeed(source, signal);
  return {
    members: started === undefined ? [] : [...started.snapshot.nodes.values()],
    revision: started?.snapshot.revision ?? 0,
    [Symbol.asyncIterator]: () => follow(source, started, signal),
  };
}

/** The events after the feed's start, and after a loss of track, the difference a new snapshot shows. */
async function* follow(source: WatchSource, first: StartedFeed | undefined, signal: AbortSignal | undefined): AsyncGenerator<MembershipEvent> {
  let started = first;
  let view: Map<string, ClusterNode> | undefined;
  while (started !== undefined) {
    const { feed, snapshot } = started;
    if (view !== undefined) yield* resyncEvents(view, snapshot, source.clock());
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
    started = await startFeed(source, signal);
  }
}

/**
 * A feed of the `events` key from the oldest change kept, and a snapshot taken after the feed is known to record:
 * the snapshot's transaction writes a mark the feed also follows, so the changes after the mark are exactly those
 * the snapshot lacks. A mark the feed never reports was written before the history recorded: try again.
 */
async function startFeed(source: WatchSource, signal: AbortSignal | undefined): Promise<StartedFeed | undefined> {
  const mark = MARK_PREFIX + randomUUID();
  const feed = scoped(source.store).watch([EVENTS_KEY, mark], { since: 0, ...(signal === undefined ? {} : { signal }) })[Symbol.asyncIterator]();
  let pending = feed.next();
  let wait = FIRST_MARK_WAIT_MS;
  try {
    for (let attempt = 1; attempt <= MAX_MARK_ATTEMPTS; attempt++, wait *= 2) {
      const snapshot = await snapshotMarked(source.store, mark, attempt);
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

function snapshotMarked(store: Store, mark: string, attempt: number): Promise<Snapshot> {
  return store.transaction(async (tx) => {
    const kv = scoped(tx);
    const batch = (await kv.get(EVENTS_KEY)) as EventBatch | undefined;
    const nodes = await listNodes(kv);
    await kv.put(mark, attempt, { ttlMs: MARK_TTL_MS });
    return { revision: batch?.revision ?? 0, nodes };
  });
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

/** `promise`'s outcome, or `undefined` when it takes longer than `ms` (it goes on; await it again later). */
async function raceTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
