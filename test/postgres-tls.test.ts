/**
 * The PostgreSQL engine against a server that takes TLS connections only, with a certificate made by the test for
 * 127.0.0.1 and a role that logs in with a password: a store works over verified TLS; a wrong password, an untrusted
 * certificate, a certificate for another host and a connection without TLS each fail UNAUTHORIZED; and the password
 * never shows in `info`, `health` or any error message.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isStowageError, openStore, type Store } from "../src/index.js";
import { redact } from "../src/engines/postgres/postgres-engine.js";
import { usePostgresServer } from "./helpers/postgres-server.js";

const server = usePostgresServer({ tls: true });

/** Opens a store over `dsn` with short timeouts: a refusal comes at once, and nothing may hang. */
const openAt = (dsn: string, schema: string): Promise<Store> => openStore({ backend: "postgres", dsn, schema, connectTimeoutMs: 5_000 });

/** The error `open` rejects with, asserted to be UNAUTHORIZED and to hold no password. */
async function refusal(open: Promise<Store>, secrets: readonly string[]): Promise<Error> {
  const error = await open.then(
    async (store) => {
      await store.close();
      throw new Error("the store opened, where the connection had to be refused");
    },
    (failure: unknown) => failure as Error,
  );
  assert.ok(isStowageError(error, "UNAUTHORIZED"), `UNAUTHORIZED expected, got ${String((error as { code?: unknown }).code)}: ${error.message}`);
  for (const secret of secrets) assert.ok(!error.message.includes(secret), `the message holds a password: ${error.message}`);
  return error;
}

describe("PostgreSQL over TLS, with a password", () => {
  test("a store works over verified TLS, and info, health and errors never show the password", async () => {
    const { tls } = server();
    assert.ok(tls !== undefined);
    const store = await openAt(tls.dsn(), "tls_ok");
    try {
      const kv = store.kv<string>("tls", { codec: (await import("../src/index.js")).utf8 });
      await kv.put("a", "over TLS");
      assert.equal(await kv.get("a"), "over TLS");
      await store.transaction(async (tx) => {
        await tx.kv("tls").put("b", new TextEncoder().encode("in a transaction"));
      });
      const info = JSON.stringify(await store.info());
      const health = JSON.stringify(await store.health());
      for (const text of [info, health]) assert.ok(!text.includes(tls.password), "the password is not shown");
      assert.match(info, /postgres:\/\/app:\*\*\*@127\.0\.0\.1/);
      // A failing call names the store's location, redacted.
      const failure = await kv.put("", "x").catch((error: Error) => error);
      assert.ok(failure instanceof Error && !failure.message.includes(tls.password));
    } finally {
      await store.close();
    }
  });

  test("a wrong password is UNAUTHORIZED, naming neither password", async () => {
    const { tls } = server();
    assert.ok(tls !== undefined);
    const error = await refusal(openAt(tls.dsn("not-the-password"), "tls_wrong"), [tls.password, "not-the-password"]);
    assert.match(error.message, /refused the credentials/);
  });

  test("a certificate signed by another CA is UNAUTHORIZED", async () => {
    const { tls } = server();
    assert.ok(tls !== undefined);
    const dsn = tls.dsn().replace(encodeURIComponent(tls.caFile), encodeURIComponent(tls.otherCaFile));
    const error = await refusal(openAt(dsn, "tls_other_ca"), [tls.password]);
    assert.match(error.message, /TLS check/);
  });

  test("a certificate for another host (127.0.0.1, reached as localhost) is UNAUTHORIZED", async () => {
    const { tls } = server();
    assert.ok(tls !== undefined);
    const error = await refusal(openAt(tls.dsn(tls.password, "localhost"), "tls_host"), [tls.password]);
    assert.match(error.message, /TLS check/);
  });

  test("a connection without TLS is refused by the server: UNAUTHORIZED", async () => {
    const { tls } = server();
    assert.ok(tls !== undefined);
    const dsn = tls.dsn().replace(/\?.*$/, "?sslmode=disable");
    const error = await refusal(openAt(dsn, "tls_none"), [tls.password]);
    assert.match(error.message, /refused the credentials/);
  });

  test("redact hides the password in the user part and in the query", () => {
    assert.equal(redact("postgres://app:s3cret@db:5432/x?sslmode=verify-full"), "postgres://app:***@db:5432/x?sslmode=verify-full");
    assert.equal(redact("postgres://app@db/x?password=s3cret&sslpassword=k3y"), "postgres://app@db/x?password=***&sslpassword=***");
  });
});
