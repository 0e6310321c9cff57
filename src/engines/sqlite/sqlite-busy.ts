/**
 * Waiting for another connection's lock without blocking the event loop. better-sqlite3's own busy handler sleeps
 * inside the native call, freezing the whole process: no timer fires, and a transaction of another store in the same
 * process, which would release the lock, cannot resume. So the connections have no busy handler (timeout 0) and a
 * statement that finds the database locked is tried again after a short asynchronous pause, until the busy timeout.
 */

/** The first pause after SQLITE_BUSY, in ms; each next one doubles, up to {@link MAX_PAUSE_MS}. */
const FIRST_PAUSE_MS = 1;
/** The longest pause between attempts: bounds how late a waiter notices that the lock was released. */
const MAX_PAUSE_MS = 20;

/** True for SQLite's "database is locked" (SQLITE_BUSY and its extended codes), raw or mapped (as the cause). */
export function isBusy(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e !== null && typeof e === "object" && depth < 3; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && code.startsWith("SQLITE_BUSY")) return true;
  }
  return false;
}

/**
 * Runs `attempt` until it does not fail with SQLITE_BUSY, pausing asynchronously between attempts (growing, jittered
 * pauses, so that waiters do not retry in lockstep). After `timeoutMs` of waiting, the last SQLITE_BUSY is thrown.
 */
export function waitWhileBusy<T>(attempt: () => T, timeoutMs: number): Promise<Awaited<T>> {
  return retry(attempt, Date.now() + timeoutMs, false);
}

/** As {@link waitWhileBusy}, for an `attempt` that has just failed with SQLITE_BUSY: pauses before trying again. */
export function retryWhileBusy<T>(attempt: () => T, timeoutMs: number): Promise<Awaited<T>> {
  return retry(attempt, Date.now() + timeoutMs, true);
}

/**
 * Runs `attempt` at once and, only if it finds the database locked, goes on waiting as {@link waitWhileBusy} does:
 * the common case stays synchronous (no promise, no pause).
 */
export function unlessBusy<T>(attempt: () => T, timeoutMs: number): T | Promise<Awaited<T>> {
  try {
    return attempt();
  } catch (error) {
    if (!isBusy(error) || timeoutMs <= 0) throw error;
    return retryWhileBusy(attempt, timeoutMs);
  }
}

async function retry<T>(attempt: () => T, deadline: number, pauseFirst: boolean): Promise<Awaited<T>> {
  for (let pause = FIRST_PAUSE_MS; ; pause = Math.min(pause * 2, MAX_PAUSE_MS)) {
    if (pauseFirst) await sleep(Math.min(deadline - Date.now(), pause * (0.5 + Math.random())));
    pauseFirst = true;
    try {
      return await attempt();
    } catch (error) {
      if (!isBusy(error) || Date.now() >= deadline) throw error;
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
