/**
 * The work-queue rules every engine and the handle share (src/engines/work-rules.ts): retry policies, backoff and
 * jitter, dead-letter decisions, failure text, and the ordered family's claim spread. Bounded property tests drive
 * them with a seeded PRNG, so a failure replays from its seed.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { LIMITS, StowageError } from "../src/index.js";
import {
  ATTEMPTS_USED_UP_ERROR,
  DEFAULT_RETRY_POLICY,
  LEASE_EXPIRED_ERROR,
  backoffMs,
  claimWindow,
  decodeBackoff,
  encodeBackoff,
  expiredOverLimit,
  failDecision,
  overLimitError,
  resolveRetryPolicy,
  retryDecision,
  spreadOffset,
  truncateUtf8,
  workErrorText,
  type BackoffPolicy,
} from "../src/engines/work-rules.js";
import { seeded } from "./helpers/register-workload.js";

const SEED = 2112;
const ROUNDS = 2_000;

function invalid(body: () => unknown, mentions: string): void {
  assert.throws(body, (error: unknown) => {
    assert.ok(error instanceof StowageError);
    assert.equal(error.code, "INVALID_ARGUMENT");
    assert.match(error.message, new RegExp(mentions.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
    assert.match(error.message, /namespace "jobs"/);
    return true;
  });
}

describe("retry policies", () => {
  test("an absent policy is the fallback; given fields replace the fallback's, a backoff as a whole", () => {
    assert.equal(resolveRetryPolicy("jobs", "retry", undefined, DEFAULT_RETRY_POLICY), DEFAULT_RETRY_POLICY);
    assert.deepEqual(resolveRetryPolicy("jobs", "retry", { maxAttempts: 2 }, DEFAULT_RETRY_POLICY), {
      maxAttempts: 2,
      backoff: DEFAULT_RETRY_POLICY.backoff,
    });
    assert.deepEqual(resolveRetryPolicy("jobs", "retry", { backoff: { type: "fixed", delayMs: 250 } }, DEFAULT_RETRY_POLICY), {
      maxAttempts: 5,
      backoff: { type: "fixed", delayMs: 250, maxDelayMs: 300_000, jitter: "full" },
    });
    // A first wait longer than the default ceiling raises the ceiling, rather than refusing an exponential backoff.
    const long = resolveRetryPolicy("jobs", "retry", { backoff: { type: "exponential", delayMs: 600_000, jitter: "none" } }, DEFAULT_RETRY_POLICY);
    assert.equal(long.backoff.maxDelayMs, 600_000);
  });

  test("bad policies are INVALID_ARGUMENT naming the field and the namespace", () => {
    const fallback = DEFAULT_RETRY_POLICY;
    invalid(() => resolveRetryPolicy("jobs", "retry", 3, fallback), "retry must be an object");
    invalid(() => resolveRetryPolicy("jobs", "retry", { attempts: 3 }, fallback), `unknown field "attempts"`);
    invalid(() => resolveRetryPolicy("jobs", "retry", { maxAttempts: 0 }, fallback), "retry.maxAttempts must be a whole number from 1 to 1000");
    invalid(() => resolveRetryPolicy("jobs", "retry", { maxAttempts: LIMITS.maxWorkAttempts + 1 }, fallback), "retry.maxAttempts");
    invalid(() => resolveRetryPolicy("jobs", "retry", { maxAttempts: 1.5 }, fallback), "retry.maxAttempts");
    invalid(() => resolveRetryPolicy("jobs", "retry", { backoff: { type: "linear", delayMs: 1 } }, fallback), `retry.backoff.type must be "fixed" or "exponential", got "linear"`);
    invalid(() => resolveRetryPolicy("jobs", "retry", { backoff: { type: "fixed" } }, fallback), "retry.backoff.delayMs");
    invalid(() => resolveRetryPolicy("jobs", "retry", { backoff: { type: "fixed", delayMs: -1 } }, fallback), "retry.backoff.delayMs");
    invalid(() => resolveRetryPolicy("jobs", "retry", { backoff: { type: "fixed", delayMs: LIMITS.maxTtlMs + 1 } }, fallback), "retry.backoff.delayMs");
    invalid(() => resolveRetryPolicy("jobs", "retry", { backoff: { type: "exponential", delayMs: 100, maxDelayMs: 99 } }, fallback), "retry.backoff.maxDelayMs must be a whole number from 100");
    invalid(() => resolveRetryPolicy("jobs", "retry", { backoff: { type: "fixed", delayMs: 1, jitter: "half" } }, fallback), "retry.backoff.jitter");
  });

  test("the stored form reads back as it was, and unreadable stored text is CORRUPT", () => {
    const backoff: BackoffPolicy = { type: "exponential", delayMs: 10, maxDelayMs: 1_000, jitter: "equal" };
    assert.deepEqual(decodeBackoff(encodeBackoff(backoff), "jobs", "k"), backoff);
    for (const text of ["", "{", "null", `{"type":"fixed"}`, `{"type":"fixed","delayMs":1,"maxDelayMs":1,"jitter":"full","x":1}`]) {
      assert.throws(() => decodeBackoff(text, "jobs", "k"), (error: unknown) => error instanceof StowageError && error.code === "CORRUPT");
    }
  });
});

describe("backoff", () => {
  test("fixed waits delayMs; exponential doubles from delayMs up to maxDelayMs; no jitter is exact", () => {
    const fixed: BackoffPolicy = { type: "fixed", delayMs: 700, maxDelayMs: 700, jitter: "none" };
    const exponential: BackoffPolicy = { type: "exponential", delayMs: 100, maxDelayMs: 1_000, jitter: "none" };
    assert.deepEqual([1, 2, 3, 50].map((n) => backoffMs(fixed, n, 0.5)), [700, 700, 700, 700]);
    assert.deepEqual([1, 2, 3, 4, 5, 6, 1_000].map((n) => backoffMs(exponential, n, 0.5)), [100, 200, 400, 800, 1_000, 1_000, 1_000]);
    // A zero first wait stays zero at any attempt (0 · 2^n must not become NaN).
    assert.equal(backoffMs({ type: "exponential", delayMs: 0, maxDelayMs: 0, jitter: "full" }, LIMITS.maxWorkAttempts, 0.99), 0);
  });

  test("jitter: full is d·r, equal is d/2 + d/2·r, whole ms, within [0, d] and [d/2, d]", () => {
    const random = seeded(SEED);
    for (let round = 0; round < ROUNDS; round++) {
      const delayMs = Math.floor(random() * 10_000);
      const maxDelayMs = delayMs + Math.floor(random() * LIMITS.maxTtlMs / 2);
      const attempt = 1 + Math.floor(random() * LIMITS.maxWorkAttempts);
      const type = random() < 0.5 ? "fixed" : "exponential";
      const r = random();
      const exact = backoffMs({ type, delayMs, maxDelayMs, jitter: "none" }, attempt, r);
      const full = backoffMs({ type, delayMs, maxDelayMs, jitter: "full" }, attempt, r);
      const equal = backoffMs({ type, delayMs, maxDelayMs, jitter: "equal" }, attempt, r);
      const at = `seed ${SEED} round ${round}`;
      assert.ok(Number.isSafeInteger(exact) && Number.isSafeInteger(full) && Number.isSafeInteger(equal), at);
      assert.ok(exact >= delayMs || type === "fixed", at);
      assert.ok(exact <= (type === "fixed" ? delayMs : maxDelayMs), at);
      assert.equal(full, Math.floor(exact * r), at);
      assert.ok(full >= 0 && full <= exact, at);
      assert.ok(equal >= Math.floor(exact / 2) && equal <= exact, at);
    }
  });

  test("a random number outside [0, 1) is a bug, not a wait", () => {
    const backoff = DEFAULT_RETRY_POLICY.backoff;
    for (const r of [1, -0.1, Number.NaN]) {
      assert.throws(() => backoffMs(backoff, 1, r), (error: unknown) => error instanceof StowageError && error.code === "INTERNAL");
    }
  });
});

describe("dead-letter decisions", () => {
  const item = { maxAttempts: 3, backoff: { type: "fixed", delayMs: 1_000, maxDelayMs: 1_000, jitter: "none" } as BackoffPolicy };

  test("a failure retries after the backoff until the attempts are used up; final and retryAfterMs steer it", () => {
    assert.deepEqual(retryDecision(1, item, 5_000, 0.3), { to: "retry", visibleAt: 6_000 });
    assert.deepEqual(retryDecision(2, item, 5_000, 0.3, { retryAfterMs: 0 }), { to: "retry", visibleAt: 5_000 });
    assert.deepEqual(retryDecision(3, item, 5_000, 0.3), { to: "dead", visibleAt: null });
    assert.deepEqual(retryDecision(3, item, 5_000, 0.3, { retryAfterMs: 10 }), { to: "dead", visibleAt: null });
    assert.deepEqual(retryDecision(1, item, 5_000, 0.3, { final: true }), { to: "dead", visibleAt: null });
    assert.deepEqual(retryDecision(1, { ...item, maxAttempts: 1 }, 5_000, 0.3), { to: "dead", visibleAt: null });
  });

  test("an engine applies a fail settle on the item's stored policy; unreadable stored policy is CORRUPT", () => {
    const stored = { maxAttempts: 3, policy: encodeBackoff(item.backoff) };
    const settle = { attempt: 1, random: 0.3, final: false, retryAfterMs: null };
    assert.deepEqual(failDecision(stored, settle, 5_000, "ns", "k"), { to: "retry", visibleAt: 6_000 });
    assert.deepEqual(failDecision(stored, { ...settle, retryAfterMs: 7 }, 5_000, "ns", "k"), { to: "retry", visibleAt: 5_007 });
    assert.deepEqual(failDecision(stored, { ...settle, final: true }, 5_000, "ns", "k"), { to: "dead", visibleAt: null });
    assert.deepEqual(failDecision(stored, { ...settle, attempt: 3 }, 5_000, "ns", "k"), { to: "dead", visibleAt: null });
    assert.throws(() => failDecision({ maxAttempts: 3, policy: "{" }, settle, 5_000, "ns", "k"), (error: unknown) => error instanceof StowageError && error.code === "CORRUPT" && error.namespace === "ns" && error.key === "k");
  });

  test("an item is dead exactly when its attempts are used up, and a retry is never before now", () => {
    const random = seeded(SEED + 1);
    for (let round = 0; round < ROUNDS; round++) {
      const maxAttempts = 1 + Math.floor(random() * 10);
      const attempt = 1 + Math.floor(random() * 12);
      const now = Math.floor(random() * 1e12);
      const decision = retryDecision(attempt, { maxAttempts, backoff: DEFAULT_RETRY_POLICY.backoff }, now, random());
      const at = `seed ${SEED + 1} round ${round}`;
      assert.equal(decision.to === "dead", attempt >= maxAttempts, at);
      if (decision.to === "retry") assert.ok(decision.visibleAt >= now && decision.visibleAt <= now + DEFAULT_RETRY_POLICY.backoff.maxDelayMs, at);
    }
  });

  test("a claim dead-letters a claimable item with its attempts used up, and only that", () => {
    const now = 10_000;
    const leased = { dead: false, visibleAt: now, attempts: 3, maxAttempts: 3, token: 77, lastError: "boom" };
    assert.equal(expiredOverLimit(leased, now), true);
    assert.equal(overLimitError(leased), LEASE_EXPIRED_ERROR);
    assert.equal(expiredOverLimit({ ...leased, visibleAt: now + 1 }, now), false, "a lease still running");
    assert.equal(expiredOverLimit({ ...leased, attempts: 2 }, now), false, "an attempt left");
    assert.equal(expiredOverLimit({ ...leased, dead: true }, now), false, "already dead");
    const released = { ...leased, token: null };
    assert.equal(overLimitError(released), "boom");
    assert.equal(overLimitError({ ...released, lastError: null }), ATTEMPTS_USED_UP_ERROR);
  });
});

describe("failure text", () => {
  test("an Error is its name and message without the stack; strings as they are; other values as JSON", () => {
    const error = new TypeError("bad input");
    assert.equal(workErrorText(error), "TypeError: bad input");
    assert.equal(workErrorText(new StowageError("CONFLICT", "lost", { namespace: "jobs" })), `StowageError: CONFLICT: lost (namespace "jobs")`);
    assert.equal(workErrorText("plain"), "plain");
    assert.equal(workErrorText({ code: 7 }), `{"code":7}`);
    assert.equal(workErrorText(undefined), "undefined");
    assert.equal(workErrorText(10n), "10");
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    assert.equal(workErrorText(cycle), "[object Object]");
  });

  test("a long failure is cut to maxWorkErrorBytes at a character boundary, never refused", () => {
    const long = workErrorText("é".repeat(LIMITS.maxWorkErrorBytes)); // 2 bytes each
    assert.equal(Buffer.byteLength(long), LIMITS.maxWorkErrorBytes);
    const random = seeded(SEED + 2);
    const alphabet = ["a", "é", "€", "😀"]; // 1, 2, 3 and 4 UTF-8 bytes
    for (let round = 0; round < 300; round++) {
      let text = "";
      const length = Math.floor(random() * 60);
      for (let i = 0; i < length; i++) text += alphabet[Math.floor(random() * alphabet.length)];
      const maxBytes = Math.floor(random() * 80);
      const cut = truncateUtf8(text, maxBytes);
      const at = `seed ${SEED + 2} round ${round}`;
      assert.ok(text.startsWith(cut), at);
      assert.ok(Buffer.byteLength(cut) <= maxBytes, at);
      assert.ok(Buffer.byteLength(cut) > maxBytes - 4 || cut === text, at);
    }
  });
});

describe("ordered-family claim spread", () => {
  test("the first try starts at the head; retries stay inside the window and differ between claimers", () => {
    assert.equal(claimWindow(25), 100);
    const random = seeded(SEED + 3);
    const starts = new Set<number>();
    for (let round = 0; round < ROUNDS; round++) {
      // Two draws: the PRNG has 32 bits, and one draw scaled to 2^48 would leave the low 16 bits zero.
      const token = 1 + Math.floor(random() * 2 ** 24) * 2 ** 24 + Math.floor(random() * 2 ** 24);
      const window = 1 + Math.floor(random() * 4_000);
      assert.equal(spreadOffset(token, 0, window), 0);
      const retry = 1 + Math.floor(random() * 20);
      const offset = spreadOffset(token, retry, window);
      assert.ok(Number.isSafeInteger(offset) && offset >= 0 && offset < window, `seed ${SEED + 3} round ${round}`);
      starts.add(spreadOffset(token, 1, 64));
    }
    assert.ok(starts.size > 32, `claimers with random tokens start at many offsets (${starts.size} of 64)`);
  });

  test("one claimer's successive retries visit different offsets", () => {
    const offsets = new Set<number>();
    for (const window of [16, 100, 999]) {
      offsets.clear();
      for (let retry = 1; retry <= window; retry++) offsets.add(spreadOffset(123_456_789_012, retry, window));
      assert.equal(offsets.size, window, `window ${window}`);
    }
  });
});
