/** A stored work row for engine-level tests (restore, dump): a ready item of key "k" with a fixed, unjittered policy. */
import type { StoredWorkRow } from "../../src/engines/engine.js";

export const FIXED_POLICY = JSON.stringify({ type: "fixed", delayMs: 1, maxDelayMs: 1, jitter: "none" });

export const storedWorkRow = (overrides: Partial<StoredWorkRow>): StoredWorkRow => ({
  key: "k",
  id: 1,
  value: new Uint8Array([1]),
  pushedAt: 5,
  priority: 0,
  visibleAt: 10,
  attempts: 0,
  maxAttempts: 5,
  policy: FIXED_POLICY,
  token: null,
  dedup: null,
  dead: false,
  lastError: null,
  deadAt: null,
  ...overrides,
});
