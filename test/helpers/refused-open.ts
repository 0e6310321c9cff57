/**
 * Assertions for the connection-security tests of the networked engines: an open that must be refused with a given
 * code, and texts (messages, info, health) that must not hold a secret.
 */
import assert from "node:assert/strict";
import { isStowageError, type ErrorCode } from "../../src/api/errors.js";
import type { Store } from "../../src/index.js";

/** Asserts that no secret occurs in `text` (a message, a stack, a JSON report). */
export function assertNoSecret(text: string, secrets: readonly string[], what: string): void {
  for (const secret of secrets) assert.ok(!text.includes(secret), `${what} holds a secret: ${text}`);
}

/**
 * The error `open` rejects with, asserted to carry `code` and to hold none of `secrets` in its message, its stack or
 * its cause's message. A store that opens is closed, and fails the test.
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
  assertNoSecret(`${error.message}\n${error.stack ?? ""}\n${(error.cause as Error | undefined)?.message ?? ""}`, secrets, "the error");
  return error;
}
