/**
 * The etcd engine's connection security, against real servers (test/helpers/etcd-server.ts): one with TLS on its
 * client URL (certificates made by the test) and auth enabled, with `root` and an `app` user kept to the prefix
 * `app/`; one that requires a client certificate its CA signed (`--client-cert-auth`). The right user, password,
 * CA and client certificate work; a wrong, unknown or missing user or password, a user outside its prefix, and failed
 * TLS checks of either side fail UNAUTHORIZED naming the engine and the endpoints; no password ever shows in an
 * error, `info` or `health`.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { resolveConfig } from "../src/config/index.js";
import { openStore, type Store } from "../src/index.js";
import { useEtcdServer } from "./helpers/etcd-server.js";
import { feedHearsAnotherStore, refusedOpen, worksWithoutShowing } from "./helpers/connection-security.js";

const authed = useEtcdServer({ tls: { clientCertificates: false }, auth: true });
const certified = useEtcdServer({ tls: { clientCertificates: true } });

/** The passwords of the server's users, which nothing may show. */
const secrets = (): string[] => [authed().auth!.rootPassword, authed().auth!.appPassword, "not-the-password"];

let prefixes = 0;
/** Opens a store on `endpoint` under a prefix of its own inside `app/` (the app user's). */
const open = (endpoint: string, options: Record<string, unknown> = {}): Promise<Store> =>
  openStore({ backend: "etcd", endpoints: endpoint, prefix: `app/sec${++prefixes}/`, requestTimeoutMs: 5_000, ...options });

/** Opens stores on `endpoint` that share one prefix, for {@link feedHearsAnotherStore}. */
const sharing = (endpoint: string, options: Record<string, unknown>): (() => Promise<Store>) => {
  const prefix = `app/feed${++prefixes}/`;
  return () => openStore({ backend: "etcd", endpoints: endpoint, prefix, requestTimeoutMs: 5_000, ...options });
};

/** The authed server's CA and a user's name and password. */
const as = (username: string, password: string) => ({ tlsCaFile: authed().certificates!.caFile, username, password });

const works = (store: Store): Promise<void> => worksWithoutShowing(store, secrets());

const temp = mkdtempSync(join(tmpdir(), "stowage-etcd-security-"));
after(() => rmSync(temp, { recursive: true, force: true }));

describe("etcd with auth, over TLS", () => {
  test("root, and a user kept to its prefix, open stores that put, read and hear each other; the location names the user only", async () => {
    const { endpoint, auth } = authed();
    await works(await open(endpoint, as("root", auth!.rootPassword)));
    const store = await open(endpoint, as(auth!.appUser, auth!.appPassword));
    assert.match((await store.info()).location, new RegExp(`^${endpoint} prefix "app/sec\\d+/" user "app"$`));
    await works(store);
    await feedHearsAnotherStore(sharing(endpoint, as(auth!.appUser, auth!.appPassword)));
  });

  test("the user and password from the environment, the CA from a flag", async () => {
    const { endpoint, auth, certificates } = authed();
    const options = resolveConfig({
      cwd: temp,
      env: { STOWAGE_STORAGE_BACKEND: "etcd", STOWAGE_STORAGE_ENDPOINTS: endpoint, STOWAGE_STORAGE_PREFIX: "app/env/", STOWAGE_STORAGE_USERNAME: auth!.appUser, STOWAGE_STORAGE_PASSWORD: auth!.appPassword },
      argvFlags: { "storage-tls-ca-file": certificates!.caFile },
    });
    await works(await openStore(options));
  });

  test("a wrong password, an unknown user and no user at all are UNAUTHORIZED, naming the endpoint and no password", async () => {
    const { endpoint } = authed();
    for (const options of [as("root", "not-the-password"), as("nobody", "not-the-password"), { tlsCaFile: authed().certificates!.caFile }]) {
      const error = await refusedOpen(open(endpoint, options), "UNAUTHORIZED", secrets());
      assert.match(error.message, new RegExp(`^UNAUTHORIZED: the etcd engine at ${endpoint} prefix .*: etcd refused the credentials`));
    }
  });

  test("the user outside its prefix is UNAUTHORIZED (permission denied)", async () => {
    const { endpoint, auth } = authed();
    const error = await refusedOpen(open(endpoint, { ...as(auth!.appUser, auth!.appPassword), prefix: "elsewhere/" }), "UNAUTHORIZED", secrets());
    assert.match(error.message, /permission denied/);
  });

  test("a server certificate the client cannot verify (system CAs, another CA, another host name) is UNAUTHORIZED", async () => {
    const { endpoint, auth, certificates } = authed();
    const root = { username: "root", password: auth!.rootPassword };
    for (const [at, options] of [
      [endpoint, root],
      [endpoint, { ...root, tlsCaFile: certificates!.otherCaFile }],
      [endpoint.replace("127.0.0.1", "localhost"), { ...root, tlsCaFile: certificates!.caFile }],
    ] as const) {
      const error = await refusedOpen(open(at, options), "UNAUTHORIZED", secrets());
      assert.match(error.message, /the TLS check of the connection failed/);
    }
  });

  test("options that cannot work are INVALID_ARGUMENT before any connection, never quoting the password", async () => {
    const { endpoint, certificates } = authed();
    const cases: Array<[options: Record<string, unknown>, says: RegExp]> = [
      [{ username: "root" }, /user "root" needs a password/],
      [{ password: "not-the-password" }, /a password needs its username/],
      [{ endpoints: endpoint.replace("https", "http"), tlsCaFile: certificates!.caFile }, /need https:\/\/ endpoints/],
      [{ tlsCaFile: join(temp, "missing.pem") }, /etcd engine's tlsCaFile .*missing\.pem cannot be read \(ENOENT\)/],
    ];
    for (const [options, says] of cases) {
      const error = await refusedOpen(open(endpoint, options), "INVALID_ARGUMENT", secrets());
      assert.match(error.message, says);
    }
  });
});

describe("etcd requiring client certificates", () => {
  test("the client certificate its CA signed works (its watch too); a client without one is refused: UNAUTHORIZED", async () => {
    const { endpoint, certificates } = certified();
    const { caFile, clientCertFile, clientKeyFile } = certificates!;
    const withCertificate = { tlsCaFile: caFile, tlsCertFile: clientCertFile, tlsKeyFile: clientKeyFile };
    await works(await open(endpoint, withCertificate));
    await feedHearsAnotherStore(sharing(endpoint, withCertificate));
    const error = await refusedOpen(open(endpoint, { tlsCaFile: caFile }), "UNAUTHORIZED");
    assert.match(error.message, /the TLS check of the connection failed .*(certificate|alert)/s);
  });
});
