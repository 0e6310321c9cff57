import { randomInt } from "node:crypto";
import type { Codec } from "../api/codec.js";
import { StowageError } from "../api/errors.js";
import { LIMITS } from "../api/limits.js";
import type {
  ClaimOptions,
  ClaimedItem,
  DeadItem,
  FailOptions,
  Lease,
  ReleaseOptions,
  WorkCounts,
  WorkPushOptions,
  WorkPushed,
  WorkHandler,
  WorkOptions,
  WorkQueue,
  WorkQueueOptions,
  Worker,
} from "../api/types.js";
import type { LeaseRef, StoredSettle, StoredWorkPush, WorkSettled } from "../engines/engine.js";
import {
  DEFAULT_RETRY_POLICY,
  encodeBackoff,
  resolveRetryPolicy,
  workErrorText,
  type ResolvedRetryPolicy,
} from "../engines/work-rules.js";
import { checkKeyFits, requireCapability } from "./capabilities.js";
import type { Executor } from "./executor.js";
import { HandleBase } from "./handle-base.js";
import { QueueWorker, type WorkerPort } from "./work-worker.js";
import { resolveWorkOptions } from "./work-worker-options.js";
import { checkBoolean, checkInteger, checkKey, checkOptionalInteger, checkOptions, describeType, utf8Length } from "./validate.js";

const DEFAULT_VISIBILITY_MS = 30_000;
const MAX_PRIORITY = 2 ** 31 - 1;
/** Lease tokens: random, below 2^48 so that every engine stores them exactly (a double, a BIGINT, 6 bytes). */
const TOKEN_LIMIT = 2 ** 48;

/**
 * The store's {@link WorkQueue}: every argument is checked, and the engine's `workQueues` capability required, before
 * any I/O; items carry their retry policy from the push on.
 */
export class WorkQueueHandle<T> extends HandleBase<T> implements WorkQueue<T> {
  private readonly visibilityMs: number;
  private readonly retry: ResolvedRetryPolicy;

  constructor(exec: Executor, namespace: string, options: WorkQueueOptions<T> | undefined) {
    const opts = checkOptions(namespace, "work queue options", options, ["codec", "visibilityMs", "retry"]);
    super(exec, namespace, opts.codec as Codec<T> | undefined);
    this.visibilityMs = checkOptionalInteger(namespace, "visibilityMs", opts.visibilityMs, DEFAULT_VISIBILITY_MS, 1, LIMITS.maxTimerMs);
    this.retry = resolveRetryPolicy(namespace, "retry", opts.retry, DEFAULT_RETRY_POLICY);
  }

  async push(key: string, value: T, options?: WorkPushOptions): Promise<WorkPushed> {
    this.requireWork(key);
    checkKey(this.namespace, key);
    const [pushed] = await this.pushAll(key, [this.storedPush(key, value, options, "push options")]);
    return pushed!;
  }

  async pushMany(key: string, items: ReadonlyArray<{ value: T } & WorkPushOptions>): Promise<WorkPushed[]> {
    const ns = this.namespace;
    this.requireWork(key);
    checkKey(ns, key);
    if (!Array.isArray(items)) throw new StowageError("INVALID_ARGUMENT", `items must be an array, got ${describeType(items)}`, { namespace: ns, key });
    if (items.length > LIMITS.maxPageSize) throw new StowageError("LIMIT_EXCEEDED", `pushMany takes at most ${LIMITS.maxPageSize} items, got ${items.length}`, { namespace: ns, key });
    const stored = items.map((item, at) => {
      const { value, ...options } = checkOptions(ns, `items[${at}]`, item, ["value", ...PUSH_FIELDS], key);
      if (!("value" in (item as object))) throw new StowageError("INVALID_ARGUMENT", `items[${at}] has no value`, { namespace: ns, key });
      return this.storedPush(key, value as T, options as WorkPushOptions, `items[${at}]`);
    });
    if (stored.length === 0) {
      await this.exec.idle();
      return [];
    }
    return this.pushAll(key, stored);
  }

  async claim(key: string, options?: ClaimOptions): Promise<ClaimedItem<T>[]> {
    const ns = this.namespace;
    this.requireWork(key);
    checkKey(ns, key);
    const opts = checkOptions(ns, "claim options", options, ["limit", "visibilityMs"], key);
    const asked = checkOptionalInteger(ns, "limit", opts.limit, 1, 1, LIMITS.maxClaimLimit, key);
    const visibilityMs = checkOptionalInteger(ns, "visibilityMs", opts.visibilityMs, this.visibilityMs, 1, LIMITS.maxTimerMs, key);
    // Each item claimed is a write of its commit: never ask for more than the engine's commit holds.
    const limit = Math.min(asked, this.exec.engine.supports.limits.maxTransactionWrites);
    const now = this.exec.now();
    const token = randomInt(1, TOKEN_LIMIT);
    const claims = await this.exec.write({ op: "workClaim", args: [ns, key, limit, now, now + visibilityMs, token] }, utf8Length(key), limit);
    return claims.map((claim) => {
      const item: ClaimedItem<T> = Object.freeze({
        namespace: ns,
        key,
        id: claim.id,
        token: claim.token,
        attempt: claim.attempt,
        deadline: claim.deadline,
        value: this.codec.decode(key, claim.value),
        pushedAt: claim.pushedAt,
        priority: claim.priority,
        maxAttempts: claim.maxAttempts,
        lastError: claim.lastError,
      });
      return item;
    });
  }

  async ack(lease: Lease): Promise<void> {
    this.requireWork(keyOfLease(lease));
    const ref = this.leaseRef(lease, "lease");
    await this.settleOne({ ...ref, to: "ack" });
  }

  async ackMany(leases: readonly Lease[]): Promise<{ acked: number; lost: Lease[] }> {
    const refs = this.leaseRefs(leases);
    if (refs.length === 0) {
      await this.exec.idle();
      return { acked: 0, lost: [] };
    }
    const current = await this.settle(refs.map((ref) => ({ ...ref, to: "ack" as const })));
    return { acked: current.filter((outcome) => outcome !== null).length, lost: leases.filter((_, at) => current[at] === null) };
  }

  async extend(lease: Lease, ms?: number): Promise<Lease> {
    this.requireWork(keyOfLease(lease));
    const ref = this.leaseRef(lease, "lease");
    const deadline = this.exec.now() + this.leaseMs(ms, ref.key);
    const [current] = await this.exec.write({ op: "workExtend", args: [this.namespace, [ref], deadline] }, utf8Length(ref.key));
    if (current !== true) throw leaseLost(this.namespace, ref);
    return this.extended(ref, deadline);
  }

  async extendMany(leases: readonly Lease[], ms?: number): Promise<Array<Lease | null>> {
    const refs = this.leaseRefs(leases);
    const deadline = this.exec.now() + this.leaseMs(ms, undefined);
    if (refs.length === 0) {
      await this.exec.idle();
      return [];
    }
    const bytes = refs.reduce((sum, ref) => sum + utf8Length(ref.key), 0);
    const current = await this.exec.write({ op: "workExtend", args: [this.namespace, refs, deadline] }, bytes, refs.length);
    return refs.map((ref, at) => (current[at] === true ? this.extended(ref, deadline) : null));
  }

  async release(lease: Lease, options?: ReleaseOptions): Promise<void> {
    const ns = this.namespace;
    this.requireWork(keyOfLease(lease));
    const ref = this.leaseRef(lease, "lease");
    const opts = checkOptions(ns, "release options", options, ["delayMs", "countAttempt"], ref.key);
    const delayMs = checkOptionalInteger(ns, "delayMs", opts.delayMs, 0, 0, LIMITS.maxTtlMs, ref.key);
    const countAttempt = checkBoolean(ns, "countAttempt", opts.countAttempt, ref.key);
    await this.settleOne({ ...ref, to: "retry", visibleAt: this.exec.now() + delayMs, giveBack: !countAttempt });
  }

  async fail(lease: Lease, error: unknown, options?: FailOptions): Promise<{ dead: boolean; visibleAt: number | null }> {
    const ns = this.namespace;
    this.requireWork(keyOfLease(lease));
    const ref = this.leaseRef(lease, "lease");
    const opts = checkOptions(ns, "fail options", options, ["final", "retryAfterMs"], ref.key);
    const final = checkBoolean(ns, "final", opts.final, ref.key);
    const retryAfterMs = opts.retryAfterMs === undefined ? undefined : checkInteger(ns, "retryAfterMs", opts.retryAfterMs, 0, LIMITS.maxTtlMs, ref.key);
    // The engine applies the item's own stored policy: a lease rebuilt elsewhere (another process, JSON) fails alike.
    const outcome = await this.settleOne({ ...ref, to: "fail", error: workErrorText(error), random: Math.random(), final, retryAfterMs: retryAfterMs ?? null });
    return { dead: outcome.dead, visibleAt: outcome.visibleAt };
  }

  async counts(key: string): Promise<WorkCounts> {
    this.requireWork(key);
    checkKey(this.namespace, key);
    return this.exec.read({ op: "workCounts", args: [this.namespace, key, this.exec.now()] });
  }

  async keys(options?: { after?: string; limit?: number }): Promise<string[]> {
    const ns = this.namespace;
    this.requireWork(undefined);
    const opts = checkOptions(ns, "keys options", options, ["after", "limit"]);
    const after = opts.after === undefined ? null : checkKey(ns, opts.after, "after");
    const limit = checkOptionalInteger(ns, "limit", opts.limit, LIMITS.defaultPageSize, 1, LIMITS.maxPageSize);
    return this.exec.read({ op: "workKeys", args: [ns, after, limit] });
  }

  async dead(key: string, options?: { afterId?: number; limit?: number }): Promise<DeadItem<T>[]> {
    const ns = this.namespace;
    this.requireWork(key);
    checkKey(ns, key);
    const opts = checkOptions(ns, "dead options", options, ["afterId", "limit"], key);
    const afterId = checkOptionalInteger(ns, "afterId", opts.afterId, 0, 0, Number.MAX_SAFE_INTEGER, key);
    const limit = checkOptionalInteger(ns, "limit", opts.limit, LIMITS.defaultPageSize, 1, LIMITS.maxPageSize, key);
    const rows = await this.exec.read({ op: "workDead", args: [ns, key, afterId, limit] });
    return rows.map((row) => ({
      id: row.id,
      value: this.codec.decode(key, row.value),
      pushedAt: row.pushedAt,
      attempts: row.attempts,
      lastError: row.lastError ?? "",
      deadAt: row.deadAt ?? row.visibleAt,
      dedupKey: row.dedup,
    }));
  }

  async requeue(key: string, ids?: readonly number[]): Promise<{ requeued: number; skipped: number[]; more: boolean }> {
    this.requireWork(key);
    checkKey(this.namespace, key);
    const chosen = this.itemIds(key, ids);
    const limit = this.batchLimit(chosen);
    return this.exec.write({ op: "workRequeue", args: [this.namespace, key, chosen, this.exec.now(), limit] }, utf8Length(key), limit);
  }

  async purgeDead(key: string, ids?: readonly number[]): Promise<{ purged: number; more: boolean }> {
    this.requireWork(key);
    checkKey(this.namespace, key);
    const chosen = this.itemIds(key, ids);
    const limit = this.batchLimit(chosen);
    return this.exec.write({ op: "workPurge", args: [this.namespace, key, chosen, limit] }, utf8Length(key), limit);
  }

  work(key: string, handler: WorkHandler<T>, options?: WorkOptions): Worker {
    const ns = this.namespace;
    this.requireWork(key);
    checkKey(ns, key);
    const workers = this.exec.workers;
    if (workers === undefined) {
      throw new StowageError("INVALID_ARGUMENT", "work() is not available inside a transaction: start workers on store.workQueue(...)", { namespace: ns, key });
    }
    if (typeof handler !== "function") throw new StowageError("INVALID_ARGUMENT", `handler must be a function, got ${describeType(handler)}`, { namespace: ns, key });
    const settings = resolveWorkOptions(ns, key, options, this.visibilityMs);
    workers.admit(ns, key);
    // CLOSED on a closed store; INVALID_ARGUMENT inside a transaction body over this store's engine (a deadlock).
    void this.exec.idle();
    const worker = new QueueWorker(this.workerPort(), key, handler, settings);
    workers.add(worker);
    return worker;
  }

  /** What a worker calls: this handle's own checked calls, and the engine's idle probe. */
  private workerPort(): WorkerPort<T> {
    const limits = this.exec.engine.supports.limits;
    return {
      namespace: this.namespace,
      now: () => this.exec.now(),
      changes: this.exec.feeds?.changes,
      commit: { writes: Math.min(limits.maxTransactionWrites, LIMITS.maxPageSize), bytes: limits.maxTransactionBytes },
      claim: (key, limit, visibilityMs) => this.claim(key, { limit, visibilityMs }),
      extend: (leases, ms) => this.extendMany(leases, ms),
      settle: (settles) => this.settle(settles),
      poll: async (key) => this.exec.read({ op: "workPoll", args: [this.namespace, key, this.exec.now()] }),
      ackIn: (tx, lease) => tx.workQueue(this.namespace).ack(lease),
    };
  }

  /** NOT_SUPPORTED, naming the engine and `supports.workQueues`, before anything else of a call. */
  private requireWork(key: unknown): void {
    requireCapability(this.exec.engine, "workQueues", this.namespace, typeof key === "string" ? key : undefined);
  }

  private storedPush(key: string, value: T, options: WorkPushOptions | undefined, argument: string): StoredWorkPush {
    const ns = this.namespace;
    const opts = checkOptions(ns, argument, options, PUSH_FIELDS, key);
    if (opts.delayMs !== undefined && opts.notBefore !== undefined) {
      throw new StowageError("INVALID_ARGUMENT", `${argument}: give delayMs or notBefore, not both`, { namespace: ns, key });
    }
    const now = this.exec.now();
    const delayMs = checkOptionalInteger(ns, "delayMs", opts.delayMs, 0, 0, LIMITS.maxTtlMs, key);
    const visibleAt = opts.notBefore === undefined ? now + delayMs : checkInteger(ns, "notBefore", opts.notBefore, 0, Number.MAX_SAFE_INTEGER, key);
    const priority = checkOptionalInteger(ns, "priority", opts.priority, 0, -MAX_PRIORITY - 1, MAX_PRIORITY, key);
    const dedup = opts.dedupKey === undefined ? null : checkKey(ns, opts.dedupKey, "dedupKey");
    if (dedup !== null) checkKeyFits(this.sizes, ns, dedup, "dedupKey");
    const onDuplicate = opts.onDuplicate === undefined ? "return" : opts.onDuplicate;
    if (onDuplicate !== "return" && onDuplicate !== "reject") {
      throw new StowageError("INVALID_ARGUMENT", `onDuplicate must be "return" or "reject", got ${JSON.stringify(onDuplicate)}`, { namespace: ns, key });
    }
    const retry = resolveRetryPolicy(ns, "retry", opts.retry, this.retry, key);
    checkKeyFits(this.sizes, ns, key);
    return {
      key,
      value: this.codec.encode(key, value),
      priority,
      visibleAt,
      maxAttempts: retry.maxAttempts,
      policy: encodeBackoff(retry.backoff),
      dedup,
      reject: onDuplicate === "reject",
    };
  }

  private pushAll(key: string, items: StoredWorkPush[]): Promise<WorkPushed[]> {
    const bytes = items.reduce((sum, item) => sum + utf8Length(key) + item.value.byteLength + (item.dedup === null ? 0 : utf8Length(item.dedup)), 0);
    return this.exec.write({ op: "workPush", args: [this.namespace, items, this.exec.now()] }, bytes, items.length);
  }

  /** A lease checked: an object of this namespace, with whole numbers where the store made them. */
  private leaseRef(lease: unknown, argument: string): LeaseRef {
    const ns = this.namespace;
    if (typeof lease !== "object" || lease === null) throw new StowageError("INVALID_ARGUMENT", `${argument} must be a lease (a claimed item), got ${describeType(lease)}`, { namespace: ns });
    const given = lease as Partial<Record<keyof Lease, unknown>>;
    if (given.namespace !== ns) {
      const shown = typeof given.namespace === "string" ? `namespace "${given.namespace}"` : describeType(given.namespace);
      throw new StowageError("INVALID_ARGUMENT", `${argument} belongs to ${shown}, not to this work queue`, { namespace: ns });
    }
    const key = checkKey(ns, given.key, `${argument}.key`);
    return {
      key,
      id: checkInteger(ns, `${argument}.id`, given.id, 1, Number.MAX_SAFE_INTEGER, key),
      token: checkInteger(ns, `${argument}.token`, given.token, 1, TOKEN_LIMIT - 1, key),
      attempt: checkInteger(ns, `${argument}.attempt`, given.attempt, 1, LIMITS.maxWorkAttempts, key),
    };
  }

  private leaseRefs(leases: unknown): LeaseRef[] {
    const ns = this.namespace;
    this.requireWork(undefined);
    if (!Array.isArray(leases)) throw new StowageError("INVALID_ARGUMENT", `leases must be an array, got ${describeType(leases)}`, { namespace: ns });
    if (leases.length > LIMITS.maxPageSize) throw new StowageError("LIMIT_EXCEEDED", `at most ${LIMITS.maxPageSize} leases a call, got ${leases.length}`, { namespace: ns });
    return leases.map((lease, at) => this.leaseRef(lease, `leases[${at}]`));
  }

  private leaseMs(ms: unknown, key: string | undefined): number {
    return checkOptionalInteger(this.namespace, "ms", ms, this.visibilityMs, 1, LIMITS.maxTimerMs, key);
  }

  private extended(ref: LeaseRef, deadline: number): Lease {
    return Object.freeze({ namespace: this.namespace, ...ref, deadline });
  }

  private settle(settles: StoredSettle[]): Promise<Array<WorkSettled | null>> {
    const bytes = settles.reduce((sum, settle) => sum + utf8Length(settle.key) + (settle.to === "fail" ? utf8Length(settle.error) : 0), 0);
    return this.exec.write({ op: "workSettle", args: [this.namespace, settles, this.exec.now()] }, bytes, settles.length);
  }

  private async settleOne(settle: StoredSettle): Promise<WorkSettled> {
    const [outcome] = await this.settle([settle]);
    if (outcome === null || outcome === undefined) throw leaseLost(this.namespace, settle);
    return outcome;
  }

  private itemIds(key: string, ids: unknown): number[] | null {
    const ns = this.namespace;
    if (ids === undefined) return null;
    if (!Array.isArray(ids)) throw new StowageError("INVALID_ARGUMENT", `ids must be an array of item ids, got ${describeType(ids)}`, { namespace: ns, key });
    if (ids.length > LIMITS.maxClaimLimit) throw new StowageError("LIMIT_EXCEEDED", `at most ${LIMITS.maxClaimLimit} ids a call, got ${ids.length}`, { namespace: ns, key });
    return ids.map((id, at) => checkInteger(ns, `ids[${at}]`, id, 1, Number.MAX_SAFE_INTEGER, key));
  }

  /** Items one requeue or purge may change: what one commit of the engine holds, at most `LIMITS.maxClaimLimit`. */
  private batchLimit(ids: number[] | null): number {
    const most = Math.min(LIMITS.maxClaimLimit, this.exec.engine.supports.limits.maxTransactionWrites);
    return ids === null ? most : Math.max(1, Math.min(ids.length, most));
  }
}

const PUSH_FIELDS = ["delayMs", "notBefore", "priority", "dedupKey", "onDuplicate", "retry"];

/** A lease's key for a NOT_SUPPORTED message, before the lease is checked. */
function keyOfLease(lease: unknown): unknown {
  return typeof lease === "object" && lease !== null ? (lease as { key?: unknown }).key : undefined;
}

function leaseLost(namespace: string, ref: LeaseRef): StowageError {
  return new StowageError(
    "LEASE_LOST",
    `the lease of item ${ref.id} (attempt ${ref.attempt}) is no longer current: the item was claimed again after the lease's deadline, or settled, released, requeued or purged`,
    { namespace, key: ref.key, itemId: ref.id },
  );
}
