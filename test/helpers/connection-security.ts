/**
 * Assertions for the connection-security tests of the networked engines: an open that must be refused with a given
 * code, texts (messages, info, health) that must not hold a secret, and a live feed that must hear another store
 * over a secured connection.
 */
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { isStowageError, type ErrorCode } from "../../src/api/errors.js";
import { utf8, type Store } from "../../src/index.js";

/** Asserts that no secret occurs in `text` (a message, a stack, a JSON report). */
export function assertNoSecret(text: string, secrets: readonly string[], what: string): void {
  for (const secret of secrets) assert.ok(!text.includes(secret), `${what} holds a secret: ${text}`);
}

/**
 * The error `open` rejects with, asserted to carry `code` and to hold none of `secrets` anywhere a log could show
 * it: its message, its stack, its causes and their properties (as `console.error` prints them). A store that opens
 * is closed, and fails the test.
 */
export async function refusedOpen(open: Promise<Store>, code: ErrorCode, secrets: readonly string[] = []): Promise<Error> {
  const error = await open.then(
    async (store) => {
      await store.close();
      throw new Error("the store opened, where the connection had to be refused");
    },
    (failure: unknown) => failure as Error,
  );
  assert.ok(isStowageError(error, code), `${code} expected, got ${String((error as { code?: unknown }).code)}: ${error.message}`);
  assertNoSecret(inspect(error, { depth: Infinity }), secrets, "the error");
  return error;
}

/** How long {@link feedHearsAnotherStore} waits for the other store's entry before the test fails. */
const FEED_WAIT_MS = 10_000;

/**
 * Two stores from `open`: a tail on the first, once it has replayed an entry, must yield the entry the second
 * appends next. The tail learns of it only through the engine's notification of other processes' commits (an etcd
 * watch, a Redis subscription), which thus works with the same credentials and TLS as the store's connection.
 */
export async function feedHearsAnotherStore(open: () => Promise<Store>): Promise<void> {
  const reader = await open();
  const writer = await open();
  try {
    const log = (store: Store) => store.log<string>("feed", { codec: utf8 });
    await log(writer).append("k", "replayed");
    const heard: string[] = [];
    const stop = AbortSignal.timeout(FEED_WAIT_MS);
    for await (const entry of log(reader).tail("k", { since: 0, signal: stop })) {
      heard.push(entry.value);
      if (heard.length === 1) await log(writer).append("k", "heard live");
      if (heard.length === 2) break;
    }
    assert.deepEqual(heard, ["replayed", "heard live"], `the feed heard ${JSON.stringify(heard)} within ${FEED_WAIT_MS} ms`);
  } finally {
    await reader.close();
    await writer.close();
  }
}

/**
 * Puts and reads one value through `store`, checks that its health is not unhealthy, and that neither `info` nor
 * `health` shows a secret; closes the store.
 */
export async function worksWithoutShowing(store: Store, secrets: readonly string[]): Promise<void> {
  try {
    const kv = store.kv<string>("security", { codec: utf8 });
    await kv.put("a", "guarded");
    assert.equal(await kv.get("a"), "guarded");
    // A generous probe bound: a slow machine must not make the report unhealthy.
    const health = await store.health({ degradedMs: 60_000, timeoutMs: 60_000 });
    assert.notEqual(health.status, "unhealthy", health.reasons.join("; "));
    assertNoSecret(JSON.stringify(await store.info()), secrets, "info");
    assertNoSecret(JSON.stringify(health), secrets, "health");
  } finally {
    await store.close();
  }
}
