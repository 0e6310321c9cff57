/**
 * A throwaway Redis server for tests: finds `redis-server` (installing Debian's `redis-server` package with apt-get
 * when it is missing), starts it on 127.0.0.1 on a free port with a fresh data folder of its own and the AOF fsynced
 * on every write, and stops it when asked, or when the process exits. Nothing is mocked: the tests talk to a real
 * server. `kill()` (SIGKILL) and `start()` on the same folder serve crash tests. Options add a password, an ACL user,
 * TLS (with certificates made for the server in its folder) or turn the AOF off.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createConnection } from "node:net";
import { connect as connectTls } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeCertificates, type TestCertificates } from "./certificates.js";
import { freePort } from "./postgres-server.js";
import { findOrInstall, startServerProcess } from "./server-process.js";
import { useServer } from "./use-server.js";

export interface RedisServerOptions {
  /** `--requirepass`: the default user's password (a URL then needs `redis://:<password>@…`). */
  password?: string;
  /** An ACL user allowed every command on keys and channels that start with `keys` only. */
  user?: { name: string; password: string; keys: string };
  /**
   * TLS only (no plain port): a CA, a server certificate for 127.0.0.1 and a client certificate made in the server's
   * folder; with `clientCertificates` the server refuses clients without a certificate its CA signed.
   */
  tls?: { clientCertificates: boolean };
  /** `false`: the server runs without its AOF (`appendonly no`, no RDB either). Default true. */
  appendonly?: boolean;
}

export interface RedisServer {
  /** `redis://127.0.0.1:<port>` (`rediss://` with `tls`), without credentials. */
  readonly url: string;
  readonly port: number;
  /** The server's data folder (its AOF lives in it). */
  readonly dir: string;
  /** Stops the server with SHUTDOWN semantics (SIGTERM), keeping its data; resolves once the process exited. */
  stop(): Promise<void>;
  /** Kills the server (SIGKILL): a crash, nothing flushed on the way out. Resolves once the process exited. */
  kill(): Promise<void>;
  /** Starts it again on the same port and data folder, resolving once it answers PING. */
  start(): Promise<void>;
  /** Kills the server and removes its folder. Idempotent. */
  destroy(): void;
  /** With `tls`: the certificates, in the server's folder. */
  readonly certificates?: TestCertificates;
}

/** How the helper itself reaches the server: TLS material, and the password to AUTH with first. */
interface HelperAccess {
  certificates?: TestCertificates;
  password?: string;
}

/**
 * One PING over a raw socket (TLS with the client certificate where the server has TLS, after AUTH where it has a
 * password): true when the server answered PONG within `timeoutMs`.
 */
function pings(port: number, timeoutMs: number, access: HelperAccess = {}): Promise<boolean> {
  return new Promise((resolve) => {
    const { certificates, password } = access;
    const socket =
      certificates === undefined
        ? createConnection({ host: "127.0.0.1", port })
        : connectTls({ host: "127.0.0.1", port, ca: readFileSync(certificates.caFile), cert: readFileSync(certificates.clientCertFile), key: readFileSync(certificates.clientKeyFile) });
    let answer = "";
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on(certificates === undefined ? "connect" : "secureConnect", () => socket.write(`${password === undefined ? "" : `AUTH ${password}\r\n`}PING\r\n`));
    socket.on("data", (data) => {
      answer += data.toString("latin1");
      const replies = answer.split("\r\n").slice(0, -1);
      if (replies.some((reply) => reply.startsWith("-"))) done(false);
      else if (replies.includes("+PONG")) done(true);
    });
    socket.on("error", () => done(false));
  });
}

/** Starts a fresh server. Throws (never skips) when Redis cannot be installed or started. */
export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  const binary = findOrInstall("redis-server", "redis-server");
  const dir = mkdtempSync(join(tmpdir(), "stowage-redis-"));
  const port = await freePort();
  const log = join(dir, "server.log");
  const certificates = options.tls === undefined ? undefined : makeCertificates(join(dir, "certs"));
  const args = [
    "--bind", "127.0.0.1",
    "--protected-mode", "yes",
    "--dir", dir,
    "--appendonly", options.appendonly === false ? "no" : "yes",
    "--appendfsync", "always",
    "--save", "",
    "--daemonize", "no",
    "--logfile", log,
    ...securityArgs(port, options, certificates),
  ];
  const access: HelperAccess = { certificates, password: options.password };
  const readLog = () => {
    try {
      return readFileSync(log, "utf8").split("\n").slice(-10).join("\n");
    } catch {
      return "(no log)";
    }
  };
  const server = await startServerProcess({
    name: "redis-server",
    command: binary,
    args,
    // An AOF replay of test data takes milliseconds.
    ready: () => pings(port, 1000, access),
    pollMs: 25,
    startupMs: 20_000,
    diagnostics: readLog,
    cleanUp: () => rmSync(dir, { recursive: true, force: true }),
  });
  return {
    url: `${certificates === undefined ? "redis" : "rediss"}://127.0.0.1:${port}`,
    port,
    dir,
    certificates,
    stop: () => server.halt("SIGTERM"),
    kill: () => server.halt("SIGKILL"),
    start: () => server.start(),
    destroy: () => server.destroy(),
  };
}

/** The arguments for the port (plain, or TLS only), the password and the ACL user of `options`. */
function securityArgs(port: number, options: RedisServerOptions, certificates: TestCertificates | undefined): string[] {
  const args =
    certificates === undefined
      ? ["--port", String(port)]
      : [
          "--port", "0",
          "--tls-port", String(port),
          "--tls-cert-file", certificates.certFile,
          "--tls-key-file", certificates.keyFile,
          "--tls-ca-cert-file", certificates.caFile,
          "--tls-auth-clients", options.tls?.clientCertificates === true ? "yes" : "no",
        ];
  if (options.password !== undefined) args.push("--requirepass", options.password);
  // Each word of the ACL rule is an argument of its own: Redis joins them into one config line.
  if (options.user !== undefined) args.push("--user", options.user.name, "on", `>${options.user.password}`, `~${options.user.keys}*`, `&${options.user.keys}*`, "+@all");
  return args;
}

/** A real server for the calling test file (see useServer). */
export function useRedisServer(options: RedisServerOptions = {}): () => RedisServer {
  return useServer("Redis test server", () => startRedis(options));
}
