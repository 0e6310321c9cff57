import { createHash } from "node:crypto";
import { StowageError } from "../../api/errors.js";
import type { WorkCounts, WorkPushed } from "../../api/types.js";
import type { Awaitable, LeaseRef, QueuePosition, StoredClaim, StoredSettle, StoredWorkPush, StoredWorkRow, WorkPoll, WorkRequeued, WorkSettled } from "../engine.js";
import { ask, type Program } from "../awaitable.js";
import { claimWindow, expiredOverLimit, failDecision, isClaimable, overLimitError, spreadOffset } from "../work-rules.js";
import type { OrderedContext } from "./kv-programs.js";
import type { OrderedEntry } from "./ordered-store.js";
import { prefixEnd, readNumber, successor, TAG, textOf, type KeyLayout } from "./key-layout.js";
import { numberAt, numbersAndTexts, numbersRecord, numbersTextBytes, readNumbersAndTexts, readNumbersTextBytes } from "./record-values.js";

/*
 * Work queues of the ordered-KV family (see the layout's table in key-layout.ts). An item is a state record (what
 * claims and settles rewrite), an immutable payload, and one index record: in the visibility index while live, under
 * its claim order (priority descending, visibleAt, id), or in the dead index once dead. A live item with a dedup key
 * also holds a dedup index record.
 *
 * Exclusivity rests on the state records: every program that changes an item reads its state first, and the commit
 * checks that read, so of two processes that claim or settle one item only one commits (the other runs again and
 * finds the item changed). Claims read the visibility index loosely (`rangeLoose`, unchecked): claimers of one key
 * conflict only when they take the same item, not whenever the index moved. A claim that finds nothing writes nothing.
 * Pushes check the namespace's id counter, as queue pushes do; claimers and settlers never touch it.
 */

const EMPTY = new Uint8Array(0);
const MAX_PRIORITY = 2 ** 31 - 1;
/** Records read a page at a time by counts: memory stays the same whatever a key holds. */
const PAGE = 1_000;
/** Records a dead-letter writes at most (state, visibility index, dedup index, dead index); a lease writes 3. */
const DEAD_LETTER_RECORDS = 4;
const LEASE_RECORDS = 3;
/**
 * Deletes of index records (visibility, dead, dedup) pass this: the item's state, which the program read as a checked
 * read, says the record is there, so a store that reads a key before deleting it (Azure Table) need not.
 */
const PRESENT = true;

/** A work item's state record, decoded. */
interface WorkState {
  dead: boolean;
  priority: number;
  visibleAt: number;
  attempts: number;
  maxAttempts: number;
  token: number | null;
  deadAt: number | null;
  /** Whether the payload carries a dedup key (then a live item holds a dedup index record): saves settles a payload read. */
  hasDedup: boolean;
  policy: string;
  lastError: string | null;
}

const stateRecord = (s: WorkState): Buffer =>
  numbersAndTexts([s.dead ? 1 : 0, s.priority, s.visibleAt, s.attempts, s.maxAttempts, s.token, s.deadAt, s.hasDedup ? 1 : 0], [s.policy, s.lastError]);

function readState(record: Uint8Array): WorkState {
  const { numbers, texts } = readNumbersAndTexts(record, 8, 2);
  return {
    dead: numbers[0] === 1,
    priority: numbers[1] as number,
    visibleAt: numbers[2] as number,
    attempts: numbers[3] as number,
    maxAttempts: numbers[4] as number,
    token: numbers[5] as number | null,
    deadAt: numbers[6] as number | null,
    hasDedup: numbers[7] === 1,
    policy: texts[0] as string,
    lastError: texts[1] as string | null,
  };
}

interface Payload {
  pushedAt: number;
  dedup: string | null;
  value: Uint8Array;
}

const payloadRecord = (pushedAt: number, dedup: string | null, value: Uint8Array): Buffer => numbersTextBytes([pushedAt], dedup, value);

function readPayload(record: Uint8Array): Payload {
  const { numbers, text, bytes } = readNumbersTextBytes(record, 1);
  return { pushedAt: numbers[0] as number, dedup: text, value: bytes ?? new Uint8Array(0) };
}

// ---- keys

const itemKey = (keys: KeyLayout, tag: number, ns: string, key: string, id: number): Buffer => keys.key(tag, ns, [key, id], key);
const stateKey = (keys: KeyLayout, ns: string, key: string, id: number) => itemKey(keys, TAG.workState, ns, key, id);
const payloadKey = (keys: KeyLayout, ns: string, key: string, id: number) => itemKey(keys, TAG.workPayload, ns, key, id);
const deadKey = (keys: KeyLayout, ns: string, key: string, id: number) => itemKey(keys, TAG.workDead, ns, key, id);
/** tag · ns · 0x00 · key · 0x00: where the records of one queue key start. */
const keyPrefix = (c: OrderedContext, tag: number, ns: string, key: string): Buffer => c.keys.key(tag, ns, [key, EMPTY], key);

/** The visibility index key: priority inverted so that the highest comes first, then visibleAt, then id. */
const visibleKey = (keys: KeyLayout, ns: string, key: string, priority: number, visibleAt: number, id: number): Buffer =>
  keys.key(TAG.workVisible, ns, [key, MAX_PRIORITY - priority, visibleAt, id], key);

/** The start of the visibility index's entries of priorities below `priority` (inverted: after it). */
const belowPriority = (c: OrderedContext, ns: string, key: string, priority: number): Buffer => c.keys.key(TAG.workVisible, ns, [key, MAX_PRIORITY - priority + 1], key);

/** Dedup keys are hashed (16 bytes of SHA-256) so that the index key stays short; the full key is in the payload. */
const dedupKey = (keys: KeyLayout, ns: string, key: string, dedup: string): Buffer =>
  keys.key(TAG.workDedup, ns, [key, createHash("sha256").update(dedup, "utf8").digest().subarray(0, 16)], key);

/** An index entry of the visibility index, decoded from its key's last 24 bytes. */
interface Visible {
  priority: number;
  visibleAt: number;
  id: number;
}

const visibleOf = (indexKey: Uint8Array): Visible => ({
  priority: MAX_PRIORITY - readNumber(indexKey, indexKey.length - 24),
  visibleAt: readNumber(indexKey, indexKey.length - 16),
  id: readNumber(indexKey, indexKey.length - 8),
});

const idOfItemKey = (recordKey: Uint8Array): number => readNumber(recordKey, recordKey.length - 8);

/** Refuses a queue key too long for the store before any read: the visibility index's key is the longest an item has. */
const checkKeyFits = (c: OrderedContext, ns: string, key: string): void => void visibleKey(c.keys, ns, key, 0, 0, 0);

// ---- shared steps

/** The id of the live item of `key` holding `dedup`, read as a checked read (undefined: none). */
function* dedupHolder(c: OrderedContext, ns: string, key: string, dedup: string): Program<number | undefined> {
  const record = yield* ask(c.tx.get(dedupKey(c.keys, ns, key, dedup)));
  if (record === undefined) return undefined;
  const id = numberAt(record, 0);
  const payload = yield* ask(c.tx.getLoose(payloadKey(c.keys, ns, key, id)));
  // Another dedup key with the same 128-bit hash: never met in practice, and refused rather than merged.
  if (payload !== undefined && readPayload(payload).dedup !== dedup) {
    throw new StowageError("INTERNAL", `two dedup keys of one queue key share a hash; the push is refused`, { namespace: ns, key });
  }
  return id;
}

/** The dedup key of an item whose state says it has one (a loose read of its immutable payload). */
function* dedupOf(c: OrderedContext, ns: string, key: string, id: number, state: WorkState): Program<string | null> {
  if (!state.hasDedup) return null;
  const payload = yield* ask(c.tx.getLoose(payloadKey(c.keys, ns, key, id)));
  return payload === undefined ? null : readPayload(payload).dedup;
}

/** Writes a live item's new state, moving its visibility index record from where `before` had it. */
function moveLive(c: OrderedContext, ns: string, key: string, id: number, before: WorkState, after: WorkState): void {
  if (before.visibleAt !== after.visibleAt || before.priority !== after.priority) {
    c.tx.delete(visibleKey(c.keys, ns, key, before.priority, before.visibleAt, id), PRESENT);
    c.tx.put(visibleKey(c.keys, ns, key, after.priority, after.visibleAt, id), EMPTY);
  }
  c.tx.put(stateKey(c.keys, ns, key, id), stateRecord(after));
}

/** Dead-letters a live item: its state marked dead at `now` with `error`, out of the visibility and dedup indexes, into the dead index. */
function* deadLetter(c: OrderedContext, ns: string, key: string, id: number, state: WorkState, now: number, error: string): Program<void> {
  const dedup = yield* dedupOf(c, ns, key, id, state);
  if (dedup !== null) c.tx.delete(dedupKey(c.keys, ns, key, dedup), PRESENT);
  c.tx.delete(visibleKey(c.keys, ns, key, state.priority, state.visibleAt, id), PRESENT);
  c.tx.put(stateKey(c.keys, ns, key, id), stateRecord({ ...state, dead: true, token: null, deadAt: now, lastError: error }));
  c.tx.put(deadKey(c.keys, ns, key, id), EMPTY);
}

/** The state of a current lease (read as a checked read), or undefined when the lease is not current. */
function* currentState(c: OrderedContext, ns: string, lease: LeaseRef): Program<WorkState | undefined> {
  const record = yield* ask(c.tx.get(stateKey(c.keys, ns, lease.key, lease.id)));
  if (record === undefined) return undefined;
  const state = readState(record);
  return !state.dead && state.token === lease.token && state.attempts === lease.attempt ? state : undefined;
}

/** Asks for the state records of `leases` at once (one round trip on a networked store): each is read anyway. */
function prefetchStates(c: OrderedContext, ns: string, leases: readonly { key: string; id: number }[]): void {
  if (leases.length > 1) c.tx.prefetch?.(leases.map((lease) => stateKey(c.keys, ns, lease.key, lease.id)));
}

/** A read started ahead of the step that takes it: one the program never takes must not fail the process. */
function readAhead<T>(read: Awaitable<T>): Awaitable<T> {
  if (read instanceof Promise) read.catch(() => undefined);
  return read;
}

// ---- push

export function* workPush(c: OrderedContext, ns: string, items: readonly StoredWorkPush[], now: number): Program<WorkPushed[]> {
  for (const item of items) checkKeyFits(c, ns, item.key);
  const counterKey = c.keys.prefix(TAG.workCounter, ns);
  const counter = yield* ask(c.tx.get(counterKey));
  let last = numberAt(counter, 0);
  const out: WorkPushed[] = [];
  for (const item of items) {
    if (item.dedup !== null) {
      // Earlier items of this call are in the transaction's writes, which the read sees.
      const holder = yield* dedupHolder(c, ns, item.key, item.dedup);
      if (holder !== undefined) {
        if (item.reject) {
          throw new StowageError("CONFLICT", `work queue "${ns}": item ${holder} of key ${JSON.stringify(item.key)} holds the dedup key ${JSON.stringify(item.dedup)}; nothing was pushed`, {
            namespace: ns,
            key: item.key,
            itemId: holder,
          });
        }
        out.push({ id: holder, duplicate: true });
        continue;
      }
    }
    const id = ++last;
    const state: WorkState = {
      dead: false,
      priority: item.priority,
      visibleAt: item.visibleAt,
      attempts: 0,
      maxAttempts: item.maxAttempts,
      token: null,
      deadAt: null,
      hasDedup: item.dedup !== null,
      policy: item.policy,
      lastError: null,
    };
    c.tx.put(stateKey(c.keys, ns, item.key, id), stateRecord(state));
    c.tx.put(payloadKey(c.keys, ns, item.key, id), payloadRecord(now, item.dedup, item.value));
    c.tx.put(visibleKey(c.keys, ns, item.key, item.priority, item.visibleAt, id), EMPTY);
    if (item.dedup !== null) c.tx.put(dedupKey(c.keys, ns, item.key, item.dedup), numbersRecord(id));
    out.push({ id, duplicate: false });
  }
  if (last !== numberAt(counter, 0)) c.tx.put(counterKey, numbersRecord(last));
  return out;
}

// ---- claim

/**
 * Up to `window` claimable entries of the visibility index of `key` at `now`, in claim order, read loosely. Within a
 * priority, entries are in visibleAt order: at its first future entry the read skips to the next priority (one range
 * read per priority level met).
 */
function* claimableEntries(c: OrderedContext, ns: string, key: string, now: number, window: number): Program<Visible[]> {
  const prefix = keyPrefix(c, TAG.workVisible, ns, key);
  const end = prefixEnd(prefix);
  const found: Visible[] = [];
  let start: Uint8Array = prefix;
  while (found.length < window) {
    const want = window - found.length;
    const page: OrderedEntry[] = yield* ask(c.tx.rangeLoose(start, end, { limit: want }));
    let skipTo: Uint8Array | undefined;
    for (const [indexKey] of page) {
      const entry = visibleOf(indexKey);
      if (entry.visibleAt > now) {
        skipTo = belowPriority(c, ns, key, entry.priority);
        break;
      }
      found.push(entry);
    }
    if (skipTo === undefined) {
      if (page.length < want) break;
      start = successor((page[page.length - 1] as OrderedEntry)[0]);
    } else start = skipTo;
  }
  return found;
}

/**
 * Leases up to `limit` claimable items (see `EngineOps.workClaim`). The candidates are the first `claimWindow(limit)`
 * claimable entries of the index; a first run takes them from the head, in order (one claimer gets exact claim order),
 * and a run after a lost commit (`c.retry` > 0) starts at an offset drawn from the token, so that claimers that
 * collided spread over the window. Each candidate's state is read as a checked read: a state that no longer matches
 * its index entry (another claim of this group moved it) is passed over. On a store with a commit limit, the claim
 * stops when the next item could pass it.
 */
export function* workClaim(c: OrderedContext, ns: string, key: string, limit: number, now: number, deadline: number, token: number): Program<StoredClaim[]> {
  checkKeyFits(c, ns, key);
  const candidates = yield* claimableEntries(c, ns, key, now, claimWindow(limit));
  if (candidates.length === 0) return [];
  const offset = spreadOffset(token, c.retry ?? 0, candidates.length);
  const order = candidates.map((_, i) => (offset + i) % candidates.length);
  const room = c.maxWritesPerCommit ?? Number.POSITIVE_INFINITY;
  let written = 0;
  const taken: Array<[at: number, claim: StoredClaim]> = [];
  let next = 0;
  while (taken.length < limit && next < order.length && written + DEAD_LETTER_RECORDS <= room) {
    // The states of as many candidates as are still wanted, asked at once; only those read are checked.
    const batch = order.slice(next, next + (limit - taken.length));
    next += batch.length;
    prefetchStates(c, ns, batch.map((at) => ({ key, id: (candidates[at] as Visible).id })));
    // Their payloads too, asked beside the states rather than one by one after each (never checked: they never change).
    const payloads = batch.map((at) => readAhead(c.tx.getLoose(payloadKey(c.keys, ns, key, (candidates[at] as Visible).id))));
    for (const [i, at] of batch.entries()) {
      if (taken.length >= limit || written + DEAD_LETTER_RECORDS > room) break;
      const entry = candidates[at] as Visible;
      const record = yield* ask(c.tx.get(stateKey(c.keys, ns, key, entry.id)));
      if (record === undefined) continue;
      const state = readState(record);
      if (state.dead || state.visibleAt !== entry.visibleAt || state.priority !== entry.priority || !isClaimable(state, now)) continue;
      if (expiredOverLimit(state, now)) {
        yield* deadLetter(c, ns, key, entry.id, state, now, overLimitError(state));
        written += DEAD_LETTER_RECORDS;
        continue;
      }
      // The payload never changes once written: read loosely. Missing only on a torn read (Redis, Azure Table),
      // whose state check then fails the commit.
      const payload = yield* ask(payloads[i] as Awaitable<Uint8Array | undefined>);
      if (payload === undefined) continue;
      const { pushedAt, value } = readPayload(payload);
      const attempt = state.attempts + 1;
      moveLive(c, ns, key, entry.id, state, { ...state, token, attempts: attempt, visibleAt: deadline });
      written += LEASE_RECORDS;
      taken.push([
        at,
        { id: entry.id, token, deadline, value, pushedAt, priority: state.priority, attempt, maxAttempts: state.maxAttempts, policy: state.policy, lastError: state.lastError },
      ]);
    }
  }
  return taken.sort((a, b) => a[0] - b[0]).map(([, claim]) => claim);
}

// ---- extend and settle

export function* workExtend(c: OrderedContext, ns: string, leases: readonly LeaseRef[], deadline: number): Program<boolean[]> {
  prefetchStates(c, ns, leases);
  const out: boolean[] = [];
  for (const lease of leases) {
    const state = yield* currentState(c, ns, lease);
    if (state !== undefined) moveLive(c, ns, lease.key, lease.id, state, { ...state, visibleAt: deadline });
    out.push(state !== undefined);
  }
  return out;
}

export function* workSettle(c: OrderedContext, ns: string, settles: readonly StoredSettle[], now: number): Program<Array<WorkSettled | null>> {
  prefetchStates(c, ns, settles);
  const out: Array<WorkSettled | null> = [];
  for (const settle of settles) {
    const { key, id } = settle;
    const state = yield* currentState(c, ns, settle);
    if (state === undefined) {
      out.push(null);
      continue;
    }
    if (settle.to === "ack") {
      const dedup = yield* dedupOf(c, ns, key, id, state);
      if (dedup !== null) c.tx.delete(dedupKey(c.keys, ns, key, dedup), PRESENT);
      c.tx.delete(visibleKey(c.keys, ns, key, state.priority, state.visibleAt, id), PRESENT);
      c.tx.delete(stateKey(c.keys, ns, key, id));
      c.tx.delete(payloadKey(c.keys, ns, key, id));
      out.push({ dead: false, visibleAt: null });
    } else if (settle.to === "retry") {
      const attempts = settle.giveBack ? state.attempts - 1 : state.attempts;
      moveLive(c, ns, key, id, state, { ...state, token: null, attempts, visibleAt: settle.visibleAt });
      out.push({ dead: false, visibleAt: settle.visibleAt });
    } else {
      const decision = failDecision(state, settle, now, ns, key);
      if (decision.to === "dead") {
        yield* deadLetter(c, ns, key, id, state, now, settle.error);
        out.push({ dead: true, visibleAt: null });
      } else {
        moveLive(c, ns, key, id, state, { ...state, token: null, visibleAt: decision.visibleAt, lastError: settle.error });
        out.push({ dead: false, visibleAt: decision.visibleAt });
      }
    }
  }
  return out;
}

// ---- reads

export function* workPoll(c: OrderedContext, ns: string, key: string, now: number): Program<WorkPoll> {
  checkKeyFits(c, ns, key);
  const prefix = keyPrefix(c, TAG.workVisible, ns, key);
  const end = prefixEnd(prefix);
  let start: Uint8Array = prefix;
  let nextVisibleAt: number | null = null;
  // The head of each priority level: the first is claimable, or the earliest of them is when one next becomes so.
  for (;;) {
    const [first] = yield* ask(c.tx.range(start, end, { limit: 1 }));
    if (first === undefined) return { claimable: false, nextVisibleAt };
    const entry = visibleOf(first[0]);
    if (entry.visibleAt <= now) return { claimable: true, nextVisibleAt: null };
    nextVisibleAt = nextVisibleAt === null ? entry.visibleAt : Math.min(nextVisibleAt, entry.visibleAt);
    start = belowPriority(c, ns, key, entry.priority);
  }
}

/**
 * Every record of `tag` under `key`, a page at a time, handed to `each` (no copy kept). `loose`: pages read as
 * `rangeLoose`, recorded for no check.
 */
function* eachOfKey(c: OrderedContext, tag: number, ns: string, key: string, each: (entry: OrderedEntry) => void, loose = false): Program<void> {
  const prefix = keyPrefix(c, tag, ns, key);
  const end = prefixEnd(prefix);
  let start: Uint8Array = prefix;
  for (;;) {
    const page: OrderedEntry[] = yield* ask(loose ? c.tx.rangeLoose(start, end, { limit: PAGE }) : c.tx.range(start, end, { limit: PAGE }));
    page.forEach(each);
    if (page.length < PAGE) return;
    start = successor((page[page.length - 1] as OrderedEntry)[0]);
  }
}

/**
 * Counted from the states of `key` (no count record: every claim and ack of the key would rewrite it, and conflict).
 * The pages are read loosely: on a store without snapshot reads (Redis, Azure Table), commits landing between the
 * pages of a busy key would otherwise fail every validation of the read, and `counts` would starve. State records are
 * found by id, so each item is still counted exactly once, in a state it held during the read (judged at `now`: one
 * released after it counts as delayed); where snapshots hold
 * (LMDB, etcd) the read is one point in time as before.
 */
export function* workCounts(c: OrderedContext, ns: string, key: string, now: number): Program<WorkCounts> {
  checkKeyFits(c, ns, key);
  const counts: WorkCounts = { ready: 0, delayed: 0, leased: 0, dead: 0 };
  yield* eachOfKey(c, TAG.workState, ns, key, ([, record]) => {
    const state = readState(record);
    if (state.dead) counts.dead += 1;
    else if (state.visibleAt <= now) counts.ready += 1;
    else if (state.token !== null) counts.leased += 1;
    else counts.delayed += 1;
  }, true);
  return counts;
}

export function* workKeys(c: OrderedContext, ns: string, afterKey: string | null, limit: number): Program<string[]> {
  const prefix = c.keys.prefix(TAG.workState, ns);
  const end = prefixEnd(prefix);
  let start: Uint8Array = afterKey === null ? prefix : prefixEnd(keyPrefix(c, TAG.workState, ns, afterKey));
  const out: string[] = [];
  // One read per key: each jumps past the records of the key it found.
  while (out.length < limit) {
    const [first] = yield* ask(c.tx.range(start, end, { limit: 1 }));
    if (first === undefined) break;
    const key = textOf(first[0], prefix.length, first[0].length - 9);
    out.push(key);
    start = prefixEnd(keyPrefix(c, TAG.workState, ns, key));
  }
  return out;
}

/** The full row of item `id` of `key` whose state record is `record` (its payload read). */
function* rowOf(c: OrderedContext, ns: string, key: string, id: number, record: Uint8Array): Program<StoredWorkRow | undefined> {
  const state = readState(record);
  const payload = yield* ask(c.tx.get(payloadKey(c.keys, ns, key, id)));
  if (payload === undefined) return undefined;
  const { pushedAt, dedup, value } = readPayload(payload);
  return {
    key,
    id,
    value,
    pushedAt,
    priority: state.priority,
    visibleAt: state.visibleAt,
    attempts: state.attempts,
    maxAttempts: state.maxAttempts,
    policy: state.policy,
    token: state.token,
    dedup,
    dead: state.dead,
    lastError: state.lastError,
    deadAt: state.deadAt,
  };
}

export function* workDead(c: OrderedContext, ns: string, key: string, afterId: number, limit: number): Program<StoredWorkRow[]> {
  checkKeyFits(c, ns, key);
  const start = deadKey(c.keys, ns, key, afterId + 1);
  const index = yield* ask(c.tx.range(start, prefixEnd(keyPrefix(c, TAG.workDead, ns, key)), { limit }));
  const out: StoredWorkRow[] = [];
  for (const [indexKey] of index) {
    const id = idOfItemKey(indexKey);
    const record = yield* ask(c.tx.get(stateKey(c.keys, ns, key, id)));
    const row = record === undefined ? undefined : yield* rowOf(c, ns, key, id, record);
    if (row !== undefined) out.push(row);
  }
  return out;
}

export function* workDump(c: OrderedContext, ns: string, after: QueuePosition | null, limit: number): Program<StoredWorkRow[]> {
  const prefix = c.keys.prefix(TAG.workState, ns);
  const start = after === null ? prefix : successor(stateKey(c.keys, ns, after.key, after.id));
  const states = yield* ask(c.tx.range(start, prefixEnd(prefix), { limit }));
  const out: StoredWorkRow[] = [];
  for (const [recordKey, record] of states) {
    const row = yield* rowOf(c, ns, textOf(recordKey, prefix.length, recordKey.length - 9), idOfItemKey(recordKey), record);
    if (row !== undefined) out.push(row);
  }
  return out;
}

export function* workLastId(c: OrderedContext, ns: string): Program<number> {
  return numberAt(yield* ask(c.tx.get(c.keys.prefix(TAG.workCounter, ns))), 0);
}

// ---- dead letters: requeue and purge

/**
 * The dead items of `key` a requeue or purge acts on, with their states: `ids` (those dead, at most `limit`), or the
 * first `limit` of the dead index. `more`: dead items are left beyond them.
 */
function* deadItems(c: OrderedContext, ns: string, key: string, ids: readonly number[] | null, limit: number): Program<{ items: Array<[number, WorkState]>; more: boolean }> {
  const items: Array<[number, WorkState]> = [];
  if (ids === null) {
    const index = yield* ask(c.tx.range(keyPrefix(c, TAG.workDead, ns, key), prefixEnd(keyPrefix(c, TAG.workDead, ns, key)), { limit: limit + 1 }));
    for (const [indexKey] of index.slice(0, limit)) {
      const id = idOfItemKey(indexKey);
      const record = yield* ask(c.tx.get(stateKey(c.keys, ns, key, id)));
      if (record !== undefined) items.push([id, readState(record)]);
    }
    return { items, more: index.length > limit };
  }
  const unique = [...new Set(ids)];
  prefetchStates(c, ns, unique.map((id) => ({ key, id })));
  let more = false;
  for (const id of unique) {
    const record = yield* ask(c.tx.get(stateKey(c.keys, ns, key, id)));
    if (record === undefined) continue;
    const state = readState(record);
    if (!state.dead) continue;
    if (items.length < limit) items.push([id, state]);
    else more = true;
  }
  return { items, more };
}

export function* workRequeue(c: OrderedContext, ns: string, key: string, ids: readonly number[] | null, now: number, limit: number): Program<WorkRequeued> {
  checkKeyFits(c, ns, key);
  const { items, more } = yield* deadItems(c, ns, key, ids, limit);
  let requeued = 0;
  const skipped: number[] = [];
  for (const [id, state] of items) {
    const dedup = yield* dedupOf(c, ns, key, id, state);
    if (dedup !== null) {
      if ((yield* dedupHolder(c, ns, key, dedup)) !== undefined) {
        skipped.push(id);
        continue;
      }
      c.tx.put(dedupKey(c.keys, ns, key, dedup), numbersRecord(id));
    }
    c.tx.delete(deadKey(c.keys, ns, key, id), PRESENT);
    c.tx.put(visibleKey(c.keys, ns, key, state.priority, now, id), EMPTY);
    c.tx.put(stateKey(c.keys, ns, key, id), stateRecord({ ...state, dead: false, visibleAt: now, attempts: 0, token: null, deadAt: null }));
    requeued += 1;
  }
  return { requeued, skipped, more };
}

export function* workPurge(c: OrderedContext, ns: string, key: string, ids: readonly number[] | null, limit: number): Program<{ purged: number; more: boolean }> {
  checkKeyFits(c, ns, key);
  const { items, more } = yield* deadItems(c, ns, key, ids, limit);
  for (const [id] of items) {
    c.tx.delete(deadKey(c.keys, ns, key, id), PRESENT);
    c.tx.delete(stateKey(c.keys, ns, key, id));
    c.tx.delete(payloadKey(c.keys, ns, key, id));
  }
  return { purged: items.length, more };
}

// ---- restore

/**
 * The rows written as they are (see `EngineOps.workRestore`): each checked first (an id its key holds, an id twice in
 * the rows, a dedup key a live item holds or two live rows share), so that a refusal throws before anything is
 * written. Held ids are checked per key, as queue restores do: items are found by key and id.
 */
export function* workRestore(c: OrderedContext, ns: string, rows: readonly StoredWorkRow[], lastId: number): Program<void> {
  for (const row of rows) checkKeyFits(c, ns, row.key);
  const counterKey = c.keys.prefix(TAG.workCounter, ns);
  const counter = yield* ask(c.tx.get(counterKey));
  prefetchStates(c, ns, rows);
  const seen = new Set<number>();
  const dedups = new Set<string>();
  const refuse = (row: StoredWorkRow, why: string) =>
    new StowageError("CONFLICT", `work queue "${ns}" cannot take restored item ${row.id} of key ${JSON.stringify(row.key)}: ${why}; nothing was written`, {
      namespace: ns,
      key: row.key,
      itemId: row.id,
    });
  for (const row of rows) {
    if (seen.has(row.id)) throw refuse(row, "the restore carries that id twice");
    if ((yield* ask(c.tx.get(stateKey(c.keys, ns, row.key, row.id)))) !== undefined) throw refuse(row, "it holds that item already");
    seen.add(row.id);
    if (row.dead || row.dedup === null) continue;
    const dedup = `${row.key}\u0000${row.dedup}`;
    if (dedups.has(dedup) || (yield* dedupHolder(c, ns, row.key, row.dedup)) !== undefined) throw refuse(row, `a live item holds its dedup key ${JSON.stringify(row.dedup)}`);
    dedups.add(dedup);
  }
  for (const row of rows) {
    const state: WorkState = {
      dead: row.dead,
      priority: row.priority,
      visibleAt: row.visibleAt,
      attempts: row.attempts,
      maxAttempts: row.maxAttempts,
      token: row.token,
      deadAt: row.deadAt,
      hasDedup: row.dedup !== null,
      policy: row.policy,
      lastError: row.lastError,
    };
    c.tx.put(stateKey(c.keys, ns, row.key, row.id), stateRecord(state));
    c.tx.put(payloadKey(c.keys, ns, row.key, row.id), payloadRecord(row.pushedAt, row.dedup, row.value));
    if (row.dead) c.tx.put(deadKey(c.keys, ns, row.key, row.id), EMPTY);
    else {
      c.tx.put(visibleKey(c.keys, ns, row.key, row.priority, row.visibleAt, row.id), EMPTY);
      if (row.dedup !== null) c.tx.put(dedupKey(c.keys, ns, row.key, row.dedup), numbersRecord(row.id));
    }
  }
  const highest = rows.reduce((max, row) => Math.max(max, row.id), Math.max(lastId, numberAt(counter, 0)));
  if (highest !== numberAt(counter, 0)) c.tx.put(counterKey, numbersRecord(highest));
}

/** Exported for the family's check (ordered-check.ts): the decoders and key makers of the work records. */
export const workRecords = { readState, readPayload, visibleKey, dedupKey, deadKey, payloadKey, stateKey };
