/**
 * The work-queue commands of the model-based test (test/model.test.ts): fast-check arbitraries for every work call —
 * push (delay, priority, dedup key, onDuplicate, its own policy), pushMany, claim (limit, lease length), ack,
 * ackMany, extend, extendMany, release (delayed, attempt counted or given back), fail (final, retryAfterMs), requeue,
 * purgeDead, counts, dead, keys — and how to run them on one store so that two stores' answers compare exactly.
 *
 * Two things differ between stores by design and are made comparable here: lease tokens are random, so each answer
 * shows a token as the order in which its store first saw it; and fail's jitter is random, so every retry policy is
 * deterministic (jitter "none", or "full" on a zero wait).
 */
import fc from "fast-check";
import { isStowageError, type Lease, type RetryPolicy, type TransactionScope, type WorkQueue, type WorkQueueOptions } from "../../src/index.js";
import { utf8 } from "../../src/index.js";

/** Retry policies whose waits are the same on every store (see the file comment). */
const POLICIES: readonly RetryPolicy[] = [
  { maxAttempts: 2, backoff: { type: "fixed", delayMs: 10, jitter: "none" } },
  { maxAttempts: 3, backoff: { type: "exponential", delayMs: 5, maxDelayMs: 20, jitter: "none" } },
  { maxAttempts: 1, backoff: { type: "fixed", delayMs: 0, jitter: "full" } },
];

/** The queue options of every sequence: leases about as long as a few clock moves, the queue's own policy fixed. */
const QUEUE_OPTIONS: WorkQueueOptions<string> = {
  codec: utf8,
  visibilityMs: 30,
  retry: { maxAttempts: 3, backoff: { type: "exponential", delayMs: 4, maxDelayMs: 30, jitter: "none" } },
};

/** The work queue of namespace `ns` in a store or a transaction. */
export function workQueueOf(scope: TransactionScope, ns: string): WorkQueue<string> {
  return scope.workQueue(ns, QUEUE_OPTIONS);
}

const workKey = fc.constantFrom("a", "a", "a", "a", "b", "日本");
const workValue = fc.constantFrom("", "j1", "j2", "é€");
/**
 * A lease by how recent it is among those the sequence claimed (0 = the last; modulo their number), mostly one of
 * the last few, which are likelier current; a made-up lease when none yet.
 */
const leaseIndex = fc.oneof({ weight: 4, arbitrary: fc.nat({ max: 2 }) }, { weight: 1, arbitrary: fc.nat({ max: 11 }) });
/** Lease indexes below this pick open leases (see {@link WorkLeases.pick}). */
const OPEN_PICKS = 3;

interface PushOptions {
  delayMs?: number;
  priority?: number;
  dedupKey?: string;
  onDuplicate?: "return" | "reject";
  policy?: number;
}

const pushOptions: fc.Arbitrary<PushOptions> = fc.record(
  {
    delayMs: fc.constantFrom(0, 5, 25),
    priority: fc.constantFrom(-1, 0, 2),
    dedupKey: fc.constantFrom("x", "y"),
    onDuplicate: fc.constantFrom("return" as const, "reject" as const),
    policy: fc.nat({ max: POLICIES.length - 1 }),
  },
  { requiredKeys: [] },
);

/** Item ids, or (half the time) none: every dead item. */
const someIds = fc.option(fc.array(fc.integer({ min: 1, max: 6 }), { maxLength: 3 }), { nil: undefined, freq: 2 });

export type WorkWrite =
  | { op: "workPush"; key: string; value: string; options: PushOptions }
  | { op: "workPushMany"; key: string; items: Array<{ value: string } & PushOptions> }
  | { op: "workClaim"; key: string; limit?: number; visibilityMs?: number }
  | { op: "workAck"; lease: number }
  | { op: "workAckMany"; leases: number[] }
  | { op: "workExtend"; lease: number; ms?: number }
  | { op: "workExtendMany"; leases: number[]; ms?: number }
  | { op: "workRelease"; lease: number; delayMs?: number; countAttempt?: boolean }
  | { op: "workFail"; lease: number; error: string; final?: boolean; retryAfterMs?: number }
  | { op: "workRequeue"; key: string; ids?: number[] }
  | { op: "workPurgeDead"; key: string; ids?: number[] };

export type WorkRead =
  | { op: "workCounts"; key: string }
  | { op: "workDead"; key: string; afterId?: number; limit?: number }
  | { op: "workKeys"; after?: string; limit?: number };

/** Work writes: claims and settles the most, so that leases expire, retry and die. */
export const workWrite: fc.Arbitrary<WorkWrite> = fc.oneof(
  { weight: 7, arbitrary: fc.record({ op: fc.constant("workPush" as const), key: workKey, value: workValue, options: pushOptions }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("workPushMany" as const),
      key: workKey,
      items: fc.array(fc.tuple(workValue, pushOptions).map(([value, options]) => ({ value, ...options })), { maxLength: 3 }),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record(
      { op: fc.constant("workClaim" as const), key: workKey, limit: fc.integer({ min: 1, max: 4 }), visibilityMs: fc.constantFrom(10, 60) },
      { requiredKeys: ["op", "key"] },
    ),
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("workAck" as const), lease: leaseIndex }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("workAckMany" as const), leases: fc.array(leaseIndex, { maxLength: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("workExtend" as const), lease: leaseIndex, ms: fc.constantFrom(5, 50) }, { requiredKeys: ["op", "lease"] }) },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant("workExtendMany" as const), leases: fc.array(leaseIndex, { maxLength: 3 }), ms: fc.constantFrom(5, 50) }, { requiredKeys: ["op", "leases"] }),
  },
  {
    weight: 1,
    arbitrary: fc.record(
      { op: fc.constant("workRelease" as const), lease: leaseIndex, delayMs: fc.constantFrom(0, 15), countAttempt: fc.boolean() },
      { requiredKeys: ["op", "lease"] },
    ),
  },
  {
    weight: 3,
    arbitrary: fc.record(
      { op: fc.constant("workFail" as const), lease: leaseIndex, error: fc.constantFrom("boom", "é".repeat(3)), final: fc.boolean(), retryAfterMs: fc.constantFrom(0, 7) },
      { requiredKeys: ["op", "lease", "error"] },
    ),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("workRequeue" as const), key: workKey, ids: someIds }, { requiredKeys: ["op", "key"] }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("workPurgeDead" as const), key: workKey, ids: someIds }, { requiredKeys: ["op", "key"] }) },
);

const workRead: fc.Arbitrary<WorkRead> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant("workCounts" as const), key: workKey }) },
  {
    weight: 2,
    arbitrary: fc.record(
      { op: fc.constant("workDead" as const), key: workKey, afterId: fc.integer({ min: 0, max: 6 }), limit: fc.integer({ min: 1, max: 3 }) },
      { requiredKeys: ["op", "key"] },
    ),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("workKeys" as const), after: fc.constantFrom("a", "b"), limit: fc.integer({ min: 1, max: 2 }) }, { requiredKeys: ["op"] }) },
);

/**
 * One store's leases of a sequence, and its tokens in the order it first showed them: the n-th token a store shows is
 * written as `n` in every answer, so two stores that agree on everything else agree on these. A lease a settle took
 * is retired (the same on both stores, as long as they agree): most settles then aim at a lease that may be current.
 */
export class WorkLeases {
  private readonly open: Lease[] = [];
  private readonly all: Lease[] = [];
  private readonly tokens = new Map<number, number>();

  constructor(private readonly namespace: string) {}

  /**
   * An open lease (0 = the last claimed), or for an index past {@link OPEN_PICKS} any lease of the sequence, settled
   * ones too; with none yet, one the store never made, whose settles are all LEASE_LOST.
   */
  pick(index: number): Lease {
    const from = index < OPEN_PICKS && this.open.length > 0 ? this.open : this.all;
    return from[from.length - 1 - (index % Math.max(1, from.length))] ?? { namespace: this.namespace, key: "a", id: 1, token: 1, attempt: 1, deadline: 0 };
  }

  add(lease: Lease): void {
    this.open.push(lease);
    this.all.push(lease);
  }

  /** The lease was settled: later picks among open leases skip it. */
  retire(lease: Lease): void {
    const at = this.open.indexOf(lease);
    if (at >= 0) this.open.splice(at, 1);
  }

  /** A lease (or claimed item) with its token shown as its first-seen order. */
  shown<L extends Lease>(lease: L): L & { token: number } {
    let order = this.tokens.get(lease.token);
    if (order === undefined) this.tokens.set(lease.token, (order = this.tokens.size + 1));
    return { ...lease, token: order };
  }
}

function pushOptionsOf(options: PushOptions): Record<string, unknown> {
  const { policy, ...rest } = options;
  return policy === undefined ? rest : { ...rest, retry: POLICIES[policy] };
}

/** Runs a work write on `queue`, keeping the leases it makes, and answers with tokens shown as `leases` orders them. */
export async function applyWorkWrite(queue: WorkQueue<string>, leases: WorkLeases, w: WorkWrite): Promise<unknown> {
  switch (w.op) {
    case "workPush":
      return queue.push(w.key, w.value, pushOptionsOf(w.options));
    case "workPushMany":
      return queue.pushMany(w.key, w.items.map((item) => ({ value: item.value, ...pushOptionsOf(item) })));
    case "workClaim": {
      const options: { limit?: number; visibilityMs?: number } = {};
      if (w.limit !== undefined) options.limit = w.limit;
      if (w.visibilityMs !== undefined) options.visibilityMs = w.visibilityMs;
      const items = await queue.claim(w.key, options);
      for (const item of items) leases.add(item);
      return items.map((item) => leases.shown(item));
    }
    case "workAck": {
      const lease = leases.pick(w.lease);
      await queue.ack(lease);
      return leases.retire(lease);
    }
    case "workAckMany": {
      const chosen = w.leases.map((i) => leases.pick(i));
      const { acked, lost } = await queue.ackMany(chosen);
      for (const lease of chosen) if (!lost.includes(lease)) leases.retire(lease);
      return { acked, lost: lost.map((lease) => leases.shown(lease)) };
    }
    case "workExtend":
      return leases.shown(await queue.extend(leases.pick(w.lease), w.ms));
    case "workExtendMany": {
      const extended = await queue.extendMany(w.leases.map((i) => leases.pick(i)), w.ms);
      return extended.map((lease) => (lease === null ? null : leases.shown(lease)));
    }
    case "workRelease": {
      const options: { delayMs?: number; countAttempt?: boolean } = {};
      if (w.delayMs !== undefined) options.delayMs = w.delayMs;
      if (w.countAttempt !== undefined) options.countAttempt = w.countAttempt;
      const lease = leases.pick(w.lease);
      await queue.release(lease, options);
      return leases.retire(lease);
    }
    case "workFail": {
      const options: { final?: boolean; retryAfterMs?: number } = {};
      if (w.final !== undefined) options.final = w.final;
      if (w.retryAfterMs !== undefined) options.retryAfterMs = w.retryAfterMs;
      const lease = leases.pick(w.lease);
      const failed = await queue.fail(lease, new Error(w.error), options);
      leases.retire(lease);
      return failed;
    }
    case "workRequeue":
      return queue.requeue(w.key, w.ids);
    case "workPurgeDead":
      return queue.purgeDead(w.key, w.ids);
  }
}

export async function readWork(queue: WorkQueue<string>, r: WorkRead): Promise<unknown> {
  switch (r.op) {
    case "workCounts":
      return queue.counts(r.key);
    case "workDead": {
      const options: { afterId?: number; limit?: number } = {};
      if (r.afterId !== undefined) options.afterId = r.afterId;
      if (r.limit !== undefined) options.limit = r.limit;
      return queue.dead(r.key, options);
    }
    case "workKeys": {
      const options: { after?: string; limit?: number } = {};
      if (r.after !== undefined) options.after = r.after;
      if (r.limit !== undefined) options.limit = r.limit;
      return queue.keys(options);
    }
  }
}

/** The item an error names (CONFLICT of a rejected duplicate, LEASE_LOST), for answers that compare errors. */
export function errorItemId(error: unknown): { itemId: number } | Record<string, never> {
  return isStowageError(error) && error.itemId !== undefined ? { itemId: error.itemId } : {};
}

/** Outcomes a default-size run must reach, so that the comparison is not only of refusals and empty claims. */
const OUTCOMES = [
  "workPush:new", "workPush:duplicate", "workPush:CONFLICT", "workPushMany", "workClaim:items", "workClaim:none", "workAck", "workAck:LEASE_LOST",
  "workAckMany", "workExtend", "workExtendMany", "workRelease", "workFail:retry", "workFail:dead", "workRequeue:requeued", "workPurgeDead:purged",
  "workCounts", "workDead:items", "workKeys",
];

/** Counts what the model answered to work commands (inside transactions too). */
export class WorkTally {
  private readonly seen = new Map<string, number>();

  count(command: { op: string; writes?: ReadonlyArray<{ op: string }> }, answer: unknown): void {
    if (command.op === "tx" && command.writes !== undefined) {
      const results = (answer as { ok?: unknown }).ok;
      if (Array.isArray(results)) command.writes.forEach((w, at) => this.count(w, results[at]));
      return;
    }
    if (!command.op.startsWith("work")) return;
    const { ok, error } = answer as { ok?: unknown; error?: string };
    for (const label of error !== undefined ? [`${command.op}:${error}`] : [command.op, ...this.details(command.op, ok)]) {
      this.seen.set(label, (this.seen.get(label) ?? 0) + 1);
    }
  }

  private details(op: string, ok: unknown): string[] {
    const o = ok as Record<string, unknown>;
    if (op === "workPush") return [o.duplicate === true ? "workPush:duplicate" : "workPush:new"];
    if (op === "workClaim" || op === "workDead") return [`${op}:${(ok as unknown[]).length > 0 ? "items" : "none"}`];
    if (op === "workFail") return [o.dead === true ? "workFail:dead" : "workFail:retry"];
    if (op === "workRequeue") return [(o.requeued as number) > 0 ? "workRequeue:requeued" : "workRequeue:none"];
    if (op === "workPurgeDead") return [(o.purged as number) > 0 ? "workPurgeDead:purged" : "workPurgeDead:none"];
    return [];
  }

  missing(): string[] {
    return OUTCOMES.filter((label) => !this.seen.has(label));
  }

  summary(): string {
    return [...this.seen].sort(([a], [b]) => a.localeCompare(b)).map(([label, n]) => `${label}=${n}`).join(" ");
  }
}

/** A clock move (run by the model test, which shares one clock between the stores). */
export interface Tick {
  op: "tick";
  ms: number;
}

/**
 * A run of work commands in a row, clock moves among them, so that a sequence builds up a queue's state (leases that
 * expire, delays and backoffs that pass) between its other commands.
 */
export interface WorkBurst {
  op: "workBurst";
  commands: Array<WorkWrite | WorkRead | Tick>;
}

/**
 * Each burst starts with a push and a claim of key "a", so that its settles have a lease that may be current, and ends
 * with a read of the key's dead letters.
 */
export const workBurst: fc.Arbitrary<WorkBurst> = fc
  .tuple(
    workValue,
    pushOptions,
    fc.integer({ min: 1, max: 3 }),
    fc.array(
      fc.oneof(
        { weight: 6, arbitrary: workWrite },
        { weight: 2, arbitrary: workRead },
        { weight: 1, arbitrary: fc.record({ op: fc.constant("tick" as const), ms: fc.integer({ min: 1, max: 40 }) }) },
      ),
      { minLength: 1, maxLength: 6 },
    ),
  )
  .map(([value, options, limit, rest]) => ({
    op: "workBurst" as const,
    commands: [{ op: "workPush" as const, key: "a", value, options }, { op: "workClaim" as const, key: "a", limit }, ...rest, { op: "workDead" as const, key: "a" }],
  }));

/** A sequence with its bursts spread out: each of their commands is run, and compared, on its own. */
export function flattenBursts<C extends { op: string }>(sequence: ReadonlyArray<C | WorkBurst>): C[] {
  return sequence.flatMap((c) => (c.op === "workBurst" ? ((c as WorkBurst).commands as unknown as C[]) : [c as C]));
}
