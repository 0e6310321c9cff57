/**
 * The Redis engine's connection security, against real servers (test/helpers/redis-server.ts): one with a password
 * (`requirepass`), an ACL user kept to its keys and no AOF; one that takes TLS only, with certificates made by the
 * test; one that also requires a client certificate. The right credentials and certificates work; wrong, missing or
 * unknown ones, and failed TLS checks of either side, fail UNAUTHORIZED naming the engine and the server; no password
 * ever shows in an error, `info` or `health`. Health is degraded without the AOF or with an evicting policy, and its
 * facts say what an AOF fsynced every second costs.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { Redis } from "ioredis";
import { resolveConfig } from "../src/config/index.js";
import { openStore, type Store } from "../src/index.js";
import { assertNoSecret, feedHearsAnotherStore, refusedOpen, worksWithoutShowing } from "./helpers/connection-security.js";
import { useRedisServer, type RedisServer } from "./helpers/redis-server.js";

const PASSWORD = "default-Pa55-word";
const USER = { name: "app", password: "app-Pa55-word", keys: "app:" };
const SECRETS = [PASSWORD, USER.password];

const guarded = useRedisServer({ password: PASSWORD, user: USER, appendonly: false });
const tlsOnly = useRedisServer({ tls: { clientCertificates: false } });
const clientCertificates = useRedisServer({ tls: { clientCertificates: true } });

/** A URL of `server` with `credentials` (`user:password`, or `:password` for the default user). */
const urlOf = (server: RedisServer, credentials = "", host = "127.0.0.1"): string => {
  const scheme = server.certificates === undefined ? "redis" : "rediss";
  return `${scheme}://${credentials === "" ? "" : `${credentials}@`}${host}:${server.port}`;
};

let prefixes = 0;
/** Opens a store on `url` under a prefix of its own inside `app:` (the ACL user's keys). */
const open = (url: string, options: Record<string, unknown> = {}): Promise<Store> => openStore({ backend: "redis", url, prefix: `app:sec${++prefixes}:`, ...options });
/** Opens stores on `url` that share one prefix, for {@link feedHearsAnotherStore}. */
const sharing = (url: string, options: Record<string, unknown> = {}): (() => Promise<Store>) => {
  const prefix = `app:feed${++prefixes}:`;
  return () => openStore({ backend: "redis", url, prefix, ...options });
};

const works = (store: Store): Promise<void> => worksWithoutShowing(store, SECRETS);

const temp = mkdtempSync(join(tmpdir(), "stowage-redis-security-"));
after(() => rmSync(temp, { recursive: true, force: true }));

describe("Redis with a password and an ACL user", () => {
  test("the default user's password and the ACL user (on its own keys and channels) open stores that put, read and hear each other", async () => {
    await works(await open(urlOf(guarded(), `:${PASSWORD}`)));
    await works(await open(urlOf(guarded(), `${USER.name}:${USER.password}`)));
    await feedHearsAnotherStore(sharing(urlOf(guarded(), `${USER.name}:${USER.password}`)));
  });

  test("a wrong password, an unknown user and a missing password are UNAUTHORIZED, naming the server and no password", async () => {
    const server = guarded();
    for (const credentials of [":not-the-password", `${USER.name}:not-the-password`, "nobody:not-the-password", ""]) {
      const error = await refusedOpen(open(urlOf(server, credentials)), "UNAUTHORIZED", [...SECRETS, "not-the-password"]);
      assert.match(error.message, new RegExp(`refused the credentials .*\\(redis engine, redis://127\\.0\\.0\\.1:${server.port} `));
    }
  });

  test("the ACL user outside its keys is UNAUTHORIZED (NOPERM); so is a commit by a user who may not publish on the store's channel", async () => {
    const error = await refusedOpen(openStore({ backend: "redis", url: urlOf(guarded(), `${USER.name}:${USER.password}`), prefix: "elsewhere:" }), "UNAUTHORIZED", SECRETS);
    assert.match(error.message, /lacks a permission/);
    const admin = new Redis(urlOf(guarded(), `:${PASSWORD}`), { lazyConnect: true, maxRetriesPerRequest: 1 });
    await admin.connect();
    try {
      await admin.acl("SETUSER", "mute", "on", ">mute-Pa55-word", `~${USER.keys}*`, "resetchannels", "+@all");
      // Opening a new store commits its layout record, and every commit publishes.
      const refused = await refusedOpen(open(urlOf(guarded(), "mute:mute-Pa55-word")), "UNAUTHORIZED", [...SECRETS, "mute-Pa55-word"]);
      assert.match(refused.message, /lacks a permission .*can't publish to the channel/);
    } finally {
      admin.disconnect();
    }
  });

  test("health is degraded without the AOF and with an evicting policy, saying why; an AOF fsynced every second is healthy, its cost in the facts", async () => {
    const admin = new Redis(urlOf(guarded(), `:${PASSWORD}`), { lazyConnect: true, maxRetriesPerRequest: 1 });
    await admin.connect();
    const store = await open(urlOf(guarded(), `:${PASSWORD}`));
    // A generous probe bound: only the server's settings may make these reports degraded, never a slow machine.
    const health = () => store.health({ degradedMs: 60_000, timeoutMs: 60_000 });
    try {
      const withoutAof = await health();
      assert.equal(withoutAof.status, "degraded");
      assert.equal(withoutAof.facts.appendonly, false);
      assert.match(withoutAof.reasons.join("\n"), /runs without its AOF \(appendonly no\): a restart loses every commit/);
      assert.match(String(withoutAof.facts.durability), /^no AOF/);
      assertNoSecret(JSON.stringify(withoutAof), SECRETS, "health");

      await admin.config("SET", "appendonly", "yes");
      await admin.config("SET", "appendfsync", "everysec");
      const everysec = await health();
      assert.deepEqual([everysec.status, everysec.reasons], ["healthy", []]);
      assert.equal(everysec.facts.appendfsync, "everysec");
      assert.match(String(everysec.facts.durability), /once a second: .*may lose the last 1-2 s of commits/);

      await admin.config("SET", "maxmemory-policy", "allkeys-lru");
      const evicting = await health();
      assert.equal(evicting.status, "degraded");
      assert.match(evicting.reasons.join("\n"), /may evict this store's keys \(maxmemory-policy allkeys-lru/);
    } finally {
      await store.close();
      await admin.config("SET", "maxmemory-policy", "noeviction");
      await admin.config("SET", "appendonly", "no");
      admin.disconnect();
    }
  });
});

describe("Redis over TLS", () => {
  test("rediss:// with the test CA works, from openStore options and from the environment", async () => {
    const server = tlsOnly();
    await works(await open(urlOf(server), { tlsCaFile: server.certificates!.caFile }));
    const options = resolveConfig({
      cwd: temp,
      env: { STOWAGE_STORAGE_BACKEND: "redis", STOWAGE_STORAGE_URL: urlOf(server), STOWAGE_STORAGE_PREFIX: "app:env:", STOWAGE_STORAGE_TLS_CA_FILE: server.certificates!.caFile },
    });
    await works(await openStore(options));
  });

  test("a server certificate the client cannot verify (system CAs, another CA, another host name) is UNAUTHORIZED", async () => {
    const server = tlsOnly();
    const { caFile, otherCaFile } = server.certificates!;
    for (const [url, options] of [
      [urlOf(server), {}],
      [urlOf(server), { tlsCaFile: otherCaFile }],
      [urlOf(server, "", "localhost"), { tlsCaFile: caFile }],
    ] as const) {
      const error = await refusedOpen(open(url, options), "UNAUTHORIZED");
      assert.match(error.message, /the TLS check of the connection to the Redis server failed .*\(redis engine, rediss:\/\/(127\.0\.0\.1|localhost):/);
    }
  });

  test("a server that checks client certificates takes the test's (feeds' own connection too), and refuses a client without one: UNAUTHORIZED", async () => {
    const server = clientCertificates();
    const { caFile, clientCertFile, clientKeyFile } = server.certificates!;
    const withCertificate = { tlsCaFile: caFile, tlsCertFile: clientCertFile, tlsKeyFile: clientKeyFile };
    await works(await open(urlOf(server), withCertificate));
    await feedHearsAnotherStore(sharing(urlOf(server), withCertificate));
    // Three times: the server's refusal reaches the client after its handshake, which must not make the code vary.
    for (let attempt = 0; attempt < 3; attempt++) {
      const error = await refusedOpen(open(urlOf(server), { tlsCaFile: caFile }), "UNAUTHORIZED");
      assert.match(error.message, /TLS check .*certificate required/s);
    }
  });

  test("TLS files that cannot be used are INVALID_ARGUMENT naming the option and the path, never a file's content", async () => {
    const server = tlsOnly();
    const { caFile, clientCertFile, clientKeyFile } = server.certificates!;
    const notPem = join(temp, "not-a-certificate.pem");
    writeFileSync(notPem, "SECRET-CONTENT-not-pem\n");
    const missing = join(temp, "missing.pem");
    const cases: Array<[options: Record<string, unknown>, says: RegExp]> = [
      [{ tlsCaFile: missing }, new RegExp(`tlsCaFile ${missing} cannot be read \\(ENOENT\\)`)],
      [{ tlsCaFile: notPem }, new RegExp(`tlsCaFile ${notPem} holds no PEM certificate`)],
      [{ tlsCaFile: caFile, tlsCertFile: clientCertFile }, /tlsCertFile and tlsKeyFile go together/],
      [{ tlsCaFile: caFile, tlsCertFile: notPem, tlsKeyFile: clientKeyFile }, new RegExp(`cannot use its TLS files \\(.*tlsCertFile ${notPem}`)],
      [{ tlsCaFile: caFile, tlsCertFile: clientCertFile, tlsKeyFile: server.certificates!.keyFile }, /cannot use its TLS files .*(mismatch|key)/i],
    ];
    for (const [options, says] of cases) {
      const error = await refusedOpen(open(urlOf(server), options), "INVALID_ARGUMENT", ["SECRET-CONTENT"]);
      assert.match(error.message, says);
    }
    const plain = await refusedOpen(open(urlOf(guarded(), `:${PASSWORD}`), { tlsCaFile: caFile }), "INVALID_ARGUMENT", SECRETS);
    assert.match(plain.message, /need a rediss:\/\/ url/);
  });
});
