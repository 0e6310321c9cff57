/**
 * Stable error codes. Match on `error.code`, never on the message.
 *
 * - `INVALID_ARGUMENT`: a bad namespace, key, value, option or cursor; nothing was written.
 * - `CONFLICT`: a concurrent writer got there first (for example a lock that could not be taken in time).
 * - `LIMIT_EXCEEDED`: a documented limit (key, value, transaction size, full queue with `overflow: "reject"`).
 * - `CLOSED`: the store (or the transaction) was closed before the call.
 * - `BACKEND_UNAVAILABLE`: the engine could not be reached or was busy past its timeout; the call may be retried.
 * - `CORRUPT`: stored data or the file cannot be read as stowage data.
 * - `INCOMPATIBLE`: the file or database belongs to another program or to a newer stowage schema.
 * - `RATE_LIMITED`: a rate-limit wrapper refused the call; `retryAfterMs` says when it would be allowed.
 * - `UNAUTHORIZED`: the server refused the credentials, or the connection's security check failed (its TLS certificate
 *   is not trusted or names another host, or it offers no TLS where TLS is required); retrying does not help.
 * - `NOT_FOUND`: a named object outside the store (a backup in a backup target) does not exist.
 * - `LEASE_LOST`: a work-queue lease is no longer current (the item was claimed again after the lease's deadline, or was
 *   already settled, released, requeued or purged); `itemId` names the item. A refusal: nothing was written.
 *   Also a lease of the coordination adapters: a `LeaseDirectory` lease renewed or transferred after it expired, was
 *   released or passed to another owner (`key` names it), or a `Membership` heartbeat of a node that left or expired.
 * - `NOT_SUPPORTED`: the engine cannot serve this call or capability (or its driver package is not installed); the message names the engine and what is missing.
 * - `INTERNAL`: an engine failure that stowage could not classify (a bug; please report it).
 */
export type ErrorCode =
  | "INVALID_ARGUMENT"
  | "CONFLICT"
  | "LIMIT_EXCEEDED"
  | "CLOSED"
  | "BACKEND_UNAVAILABLE"
  | "CORRUPT"
  | "INCOMPATIBLE"
  | "RATE_LIMITED"
  | "UNAUTHORIZED"
  | "NOT_FOUND"
  | "LEASE_LOST"
  | "NOT_SUPPORTED"
  | "INTERNAL";

/** Where an error happened, so the message and the fields can name it. */
export interface ErrorContext {
  namespace?: string;
  key?: string;
  cause?: unknown;
  /** On a CONFLICT of an expected sequence: the actual current sequence. */
  currentSeq?: number;
  /** On RATE_LIMITED: how long to wait before the call would be allowed, in ms. */
  retryAfterMs?: number;
  /** On LEASE_LOST, and on a CONFLICT of a work push refused as a duplicate: the work item's id. */
  itemId?: number;
}

/**
 * The one error class stowage throws. Every failure carries a stable {@link ErrorCode}.
 *
 * @example
 * ```ts
 * try { await q.push("pipe/orders", item); }
 * catch (e) { if (isStowageError(e, "LIMIT_EXCEEDED")) shed(item); else throw e; }
 * ```
 */
export class StowageError extends Error {
  readonly code: ErrorCode;
  readonly namespace: string | undefined;
  readonly key: string | undefined;
  /** On a CONFLICT of an expected sequence (`stream.produce`): the actual current sequence. */
  readonly currentSeq: number | undefined;
  /** On RATE_LIMITED: how long to wait before the call would be allowed, in ms. */
  readonly retryAfterMs: number | undefined;
  /** On LEASE_LOST, and on a CONFLICT of a work push refused as a duplicate: the work item's id. */
  readonly itemId: number | undefined;

  constructor(code: ErrorCode, message: string, context: ErrorContext = {}) {
    super(`${code}: ${message}${describeContext(context)}`, context.cause === undefined ? undefined : { cause: context.cause });
    this.name = "StowageError";
    this.code = code;
    this.namespace = context.namespace;
    this.key = context.key;
    this.currentSeq = context.currentSeq;
    this.retryAfterMs = context.retryAfterMs;
    this.itemId = context.itemId;
  }
}

function describeContext(context: ErrorContext): string {
  const parts: string[] = [];
  if (context.namespace !== undefined) parts.push(`namespace "${context.namespace}"`);
  if (context.key !== undefined) parts.push(`key ${JSON.stringify(truncate(context.key))}`);
  if (context.itemId !== undefined) parts.push(`item ${context.itemId}`);
  return parts.length === 0 ? "" : ` (${parts.join(", ")})`;
}

function truncate(key: string): string {
  return key.length > 120 ? `${key.slice(0, 120)}…` : key;
}

/** True when `error` is a {@link StowageError}, optionally with the given code. */
export function isStowageError(error: unknown, code?: ErrorCode): error is StowageError {
  return error instanceof StowageError && (code === undefined || error.code === code);
}
