/**
 * The rules of work queues that must be the same everywhere: retry policies (defaults, checks, the stored form),
 * backoff with jitter, when a failure or an expired lease dead-letters an item, the failure text kept, and how
 * contending ordered-family claimers spread. Pure functions: randomness and the clock come in as arguments, so an
 * engine program that reruns (a SQLite group commit, an ordered-family retry) computes the same thing again.
 */
import { StowageError } from "../api/errors.js";
import { LIMITS } from "../api/limits.js";
import type { RetryPolicy } from "../api/types.js";
import { checkInteger, checkOptions, describeType } from "../store/validate.js";

/** A backoff with every field set: what an item stores (as {@link encodeBackoff}'s text). */
export interface BackoffPolicy {
  type: "fixed" | "exponential";
  delayMs: number;
  maxDelayMs: number;
  jitter: "full" | "equal" | "none";
}

/** A retry policy with every field set. */
export interface ResolvedRetryPolicy {
  maxAttempts: number;
  backoff: BackoffPolicy;
}

const DEFAULT_MAX_DELAY_MS = 5 * 60_000;

/** 5 attempts; exponential backoff from 1 s to 5 min with full jitter. */
export const DEFAULT_RETRY_POLICY: ResolvedRetryPolicy = Object.freeze({
  maxAttempts: 5,
  backoff: Object.freeze({ type: "exponential", delayMs: 1_000, maxDelayMs: DEFAULT_MAX_DELAY_MS, jitter: "full" }),
});

const BACKOFF_TYPES: readonly string[] = ["fixed", "exponential"];
const JITTERS: readonly string[] = ["full", "equal", "none"];

/** The failure text of an item whose last lease expired with its attempts used up, dead-lettered by a claim. */
export const LEASE_EXPIRED_ERROR = "lease expired: the last attempt's holder neither settled nor extended it";
/** The failure text of an item released (with its attempt counted) after its attempts were used up, and no error. */
export const ATTEMPTS_USED_UP_ERROR = "released with its attempts used up";

/**
 * `value` (a {@link RetryPolicy} from the caller) checked and completed: a field it leaves out comes from `fallback`
 * (the queue's policy, or {@link DEFAULT_RETRY_POLICY}). A backoff given replaces the fallback's whole; its
 * `maxDelayMs` defaults to 5 min, or `delayMs` when that is longer. INVALID_ARGUMENT naming `argument`.
 */
export function resolveRetryPolicy(namespace: string, argument: string, value: unknown, fallback: ResolvedRetryPolicy, key?: string): ResolvedRetryPolicy {
  if (value === undefined) return fallback;
  const options = checkOptions(namespace, argument, value, ["maxAttempts", "backoff"], key);
  const maxAttempts = options.maxAttempts === undefined
    ? fallback.maxAttempts
    : checkInteger(namespace, `${argument}.maxAttempts`, options.maxAttempts, 1, LIMITS.maxWorkAttempts, key);
  const backoff = options.backoff === undefined ? fallback.backoff : checkBackoff(namespace, `${argument}.backoff`, options.backoff, key);
  return { maxAttempts, backoff };
}

function checkBackoff(namespace: string, argument: string, value: unknown, key: string | undefined): BackoffPolicy {
  const options = checkOptions(namespace, argument, value, ["type", "delayMs", "maxDelayMs", "jitter"], key);
  const type = checkChoice(namespace, `${argument}.type`, options.type, BACKOFF_TYPES, key) as BackoffPolicy["type"];
  const delayMs = checkInteger(namespace, `${argument}.delayMs`, options.delayMs, 0, LIMITS.maxTtlMs, key);
  const maxDelayMs = options.maxDelayMs === undefined
    ? Math.max(DEFAULT_MAX_DELAY_MS, delayMs)
    : checkInteger(namespace, `${argument}.maxDelayMs`, options.maxDelayMs, delayMs, LIMITS.maxTtlMs, key);
  const jitter = options.jitter === undefined ? "full" : checkChoice(namespace, `${argument}.jitter`, options.jitter, JITTERS, key) as BackoffPolicy["jitter"];
  return { type, delayMs, maxDelayMs, jitter };
}

function checkChoice(namespace: string, argument: string, value: unknown, choices: readonly string[], key: string | undefined): string {
  if (typeof value === "string" && choices.includes(value)) return value;
  const shown = typeof value === "string" ? JSON.stringify(value) : describeType(value);
  throw new StowageError("INVALID_ARGUMENT", `${argument} must be ${choices.map((c) => JSON.stringify(c)).join(" or ")}, got ${shown}`, { namespace, key });
}

/** The stored form of a backoff: JSON with a fixed field order, opaque to engines. */
export function encodeBackoff(backoff: BackoffPolicy): string {
  return JSON.stringify({ type: backoff.type, delayMs: backoff.delayMs, maxDelayMs: backoff.maxDelayMs, jitter: backoff.jitter });
}

/** A stored backoff read back; CORRUPT when the text is not one {@link encodeBackoff} makes. */
export function decodeBackoff(text: string, namespace: string, key: string): BackoffPolicy {
  try {
    const parsed: unknown = JSON.parse(text);
    return checkBackoff(namespace, "stored backoff", parsed, key);
  } catch (error) {
    throw new StowageError("CORRUPT", `a work item's stored retry backoff cannot be read: ${JSON.stringify(text.slice(0, 200))}`, { namespace, key, cause: error });
  }
}

/**
 * The wait, in whole ms, before the attempt after `attempt` (1 = after the first claim failed). `random` is uniform in
 * [0, 1): full jitter waits d·r, equal jitter d/2 + d/2·r, none d.
 */
export function backoffMs(backoff: BackoffPolicy, attempt: number, random: number): number {
  if (!(random >= 0 && random < 1)) throw new StowageError("INTERNAL", `a backoff's random number must be in [0, 1), got ${random}`);
  // maxDelayMs < 2^42, so an exponent past 52 changes nothing and 2^n stays finite (0·∞ would be NaN).
  const doublings = Math.min(Math.max(attempt - 1, 0), 52);
  const wait = backoff.type === "fixed" ? backoff.delayMs : Math.min(backoff.maxDelayMs, backoff.delayMs * 2 ** doublings);
  if (backoff.jitter === "none") return wait;
  if (backoff.jitter === "full") return Math.floor(wait * random);
  return Math.floor(wait / 2 + (wait / 2) * random);
}

/** What `fail` does with an item: dead, or claimable again at `visibleAt`. */
export type RetryDecision = { to: "dead"; visibleAt: null } | { to: "retry"; visibleAt: number };

/**
 * The failure of claim `attempt` of an item allowed `maxAttempts`: dead when `final` or the attempts are used up, else
 * a retry after `retryAfterMs` when given, else after the item's backoff.
 */
export function retryDecision(
  attempt: number,
  item: { maxAttempts: number; backoff: BackoffPolicy },
  now: number,
  random: number,
  options: { final?: boolean; retryAfterMs?: number } = {},
): RetryDecision {
  if (options.final === true || attempt >= item.maxAttempts) return { to: "dead", visibleAt: null };
  const wait = options.retryAfterMs ?? backoffMs(item.backoff, attempt, random);
  return { to: "retry", visibleAt: now + wait };
}

/**
 * What an engine does with a `fail` settle of a current lease: {@link retryDecision} on the item's own stored policy
 * (`maxAttempts`, and `policy` as {@link encodeBackoff} made it). CORRUPT when the stored policy cannot be read.
 */
export function failDecision(
  item: { maxAttempts: number; policy: string },
  settle: { attempt: number; random: number; final: boolean; retryAfterMs: number | null },
  now: number,
  namespace: string,
  key: string,
): RetryDecision {
  const backoff = decodeBackoff(item.policy, namespace, key);
  const options = settle.retryAfterMs === null ? { final: settle.final } : { final: settle.final, retryAfterMs: settle.retryAfterMs };
  return retryDecision(settle.attempt, { maxAttempts: item.maxAttempts, backoff }, now, settle.random, options);
}

/** The parts of a stored item the claim rules read. */
export interface ClaimableRow {
  dead: boolean;
  visibleAt: number;
  attempts: number;
  maxAttempts: number;
  /** The current lease's token; null when the item is not leased (never claimed, released, or requeued). */
  token: number | null;
}

/** Claimable: not dead, and visible (a leased item's deadline passed, or a ready item's time came). */
export function isClaimable(row: ClaimableRow, now: number): boolean {
  return !row.dead && row.visibleAt <= now;
}

/**
 * A claimable item a claim must dead-letter instead of leasing: it has had all its claims. This is how an item whose
 * last lease expired ends, with no sweeper.
 */
export function expiredOverLimit(row: ClaimableRow, now: number): boolean {
  return isClaimable(row, now) && row.attempts >= row.maxAttempts;
}

/** The failure text a claim stores when it dead-letters an {@link expiredOverLimit} item. */
export function overLimitError(row: ClaimableRow & { lastError: string | null }): string {
  if (row.token !== null) return LEASE_EXPIRED_ERROR;
  return row.lastError ?? ATTEMPTS_USED_UP_ERROR;
}

/**
 * A failure as the text an item keeps: an Error's `name: message` (its stack dropped), a string as is, anything else
 * as JSON where it has one; cut at a character boundary to {@link LIMITS.maxWorkErrorBytes} UTF-8 bytes, never
 * refused, since refusing would lose the failure.
 */
export function workErrorText(error: unknown): string {
  return truncateUtf8(describeFailure(error), LIMITS.maxWorkErrorBytes);
}

function describeFailure(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  if (typeof error === "string") return error;
  try {
    const json = JSON.stringify(error);
    if (json !== undefined) return json;
  } catch {
    // a cycle or a BigInt: the plain conversion below still names it
  }
  return String(error);
}

const ENCODER = new TextEncoder();
const DECODER = new TextDecoder("utf-8", { fatal: false });

/** `text` cut to at most `maxBytes` UTF-8 bytes at a character boundary (lone surrogates become U+FFFD). */
export function truncateUtf8(text: string, maxBytes: number): string {
  const encoded = ENCODER.encode(text);
  if (encoded.length <= maxBytes) return DECODER.decode(encoded);
  let end = maxBytes;
  while (end > 0 && (encoded[end]! & 0xc0) === 0x80) end--; // back off continuation bytes to a character's start
  return DECODER.decode(encoded.subarray(0, end));
}

/** How many items from the head of the visibility order a contending ordered-family claim may choose among. */
export function claimWindow(limit: number): number {
  return 4 * limit;
}

const SPREAD_STRIDE = 0x9e3779b1; // a prime (2,654,435,761), so successive retries of one claimer walk any smaller window whole

/**
 * Where in a window of `window` items an ordered-family claim starts: the head on its first try (`retry` 0), so one
 * claimer takes items in strict order; after a conflict, an offset drawn from its token, so contending claimers spread.
 * Small operands throughout: tokens reach 2^48, and their product with the stride would not be an exact double.
 */
export function spreadOffset(token: number, retry: number, window: number): number {
  if (retry <= 0 || window <= 1) return 0;
  return ((token % window) + ((retry - 1) % window) * (SPREAD_STRIDE % window)) % window;
}
