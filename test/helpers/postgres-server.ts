/**
 * A throwaway PostgreSQL server for tests: finds `initdb` and `pg_ctl` (installing Debian's `postgresql` package with
 * apt-get when they are missing), creates a cluster in a temporary folder, starts it on 127.0.0.1 on a free port and
 * stops it when asked, or when the process exits. Nothing is mocked: the tests talk to a real server.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { makeCertificates } from "./certificates.js";
import { useServer } from "./use-server.js";

export interface PostgresServer {
  /** A DSN for the superuser `stowage` on 127.0.0.1, database `postgres`. */
  readonly dsn: string;
  readonly port: number;
  /** Stops the server, keeping its data (for restart tests): "fast" (the default) or "immediate", a crash without a shutdown checkpoint. */
  stop(mode?: "fast" | "immediate"): void;
  /** Starts it again on the same port and data. */
  start(): void;
  /** Stops the server and removes its folder. Idempotent. */
  destroy(): void;
  /** With `{ tls: true }`: the server takes TLS connections only, with a certificate made for this run. */
  readonly tls?: PostgresTls;
}

/** A TLS-only server's certificates and its password-protected role. */
export interface PostgresTls {
  /** The CA that signed the server's certificate (PEM file), for `sslrootcert`. */
  readonly caFile: string;
  /** A second CA that signed nothing of this server's, for tests of an untrusted certificate. */
  readonly otherCaFile: string;
  /** The role `app`, which logs in with this password (SCRAM), over TLS only. */
  readonly user: string;
  readonly password: string;
  /** A DSN for `app` on 127.0.0.1 with `sslmode=verify-full` and the CA; `password` may be replaced (a wrong one). */
  dsn(password?: string, host?: string): string;
}

export interface PostgresServerOptions {
  /**
   * TLS only: a CA and a server certificate for IP 127.0.0.1 (and no host name) are made with openssl; pg_hba.conf
   * accepts TLS connections from 127.0.0.1 only (the superuser without a password, `app` with one) and rejects any
   * other; local socket connections stay open for the helper.
   */
  tls?: boolean;
}

const SEARCH_DIRS = ["/usr/lib/postgresql"];

/** The folder holding initdb and pg_ctl: $PG_BIN, the newest /usr/lib/postgresql/N/bin, or the PATH. */
function findBinDir(): string | undefined {
  const fromEnv = process.env.PG_BIN;
  if (fromEnv !== undefined && existsSync(join(fromEnv, "pg_ctl"))) return fromEnv;
  for (const root of SEARCH_DIRS) {
    if (!existsSync(root)) continue;
    const versions = readdirSync(root)
      .filter((name) => /^\d+$/.test(name) && existsSync(join(root, name, "bin", "pg_ctl")))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0] !== undefined) return join(root, versions[0], "bin");
  }
  const which = spawnSync("sh", ["-c", "command -v pg_ctl"], { encoding: "utf8" });
  const found = which.stdout.trim();
  return which.status === 0 && found !== "" ? join(found, "..") : undefined;
}

function installPostgres(): void {
  if (process.getuid?.() !== 0) {
    throw new Error("PostgreSQL (initdb, pg_ctl) is not installed and installing it needs root: apt-get install -y postgresql");
  }
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  execFileSync("apt-get", ["update"], { stdio: "ignore", env, timeout: 300_000 });
  execFileSync("apt-get", ["install", "-y", "--no-install-recommends", "postgresql"], { stdio: "ignore", env, timeout: 600_000 });
}

/** initdb refuses to run as root: run the server tools as the `postgres` user then. */
function runAs(): { wrap: (cmd: string, args: string[]) => [string, string[]]; uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return { wrap: (cmd, args) => [cmd, args] };
  const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
  const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
  return { wrap: (cmd, args) => ["runuser", ["-u", "postgres", "--", cmd, ...args]], uid, gid };
}

/** A port on 127.0.0.1 that nothing listens on at the moment of the call. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Starts a fresh server. Throws (never skips) when PostgreSQL cannot be installed or started. */
export async function startPostgres(serverOptions: PostgresServerOptions = {}): Promise<PostgresServer> {
  let bin = findBinDir();
  if (bin === undefined) {
    installPostgres();
    bin = findBinDir();
    if (bin === undefined) throw new Error("apt-get installed postgresql but pg_ctl was not found under /usr/lib/postgresql");
  }
  const user = runAs();
  const dir = mkdtempSync(join(tmpdir(), "stowage-pg-"));
  if (user.uid !== undefined && user.gid !== undefined) chownSync(dir, user.uid, user.gid);
  const data = join(dir, "data");
  const port = await freePort();
  const tool = (name: string, args: string[], timeout = 60_000) => {
    const [cmd, argv] = user.wrap(join(bin as string, name), args);
    const result = spawnSync(cmd, argv, { encoding: "utf8", timeout });
    if (result.status !== 0) {
      throw new Error(`${name} ${args.join(" ")} failed (${result.status ?? result.signal}): ${result.stderr || result.stdout}`);
    }
  };
  tool("initdb", ["-D", data, "-U", "stowage", "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync"]);
  let options = `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir} -c max_connections=200 -c fsync=on`;
  let certificates: ReturnType<typeof makeCertificates> | undefined;
  if (serverOptions.tls === true) {
    certificates = makeCertificates(join(dir, "tls"));
    // The server refuses a key file others can read; it runs as the tool user.
    chmodSync(certificates.keyFile, 0o600);
    if (user.uid !== undefined && user.gid !== undefined) chownSync(certificates.keyFile, user.uid, user.gid);
    options += ` -c ssl=on -c ssl_cert_file=${certificates.certFile} -c ssl_key_file=${certificates.keyFile}`;
    const hba = [
      "local all all trust",
      "hostssl all stowage 127.0.0.1/32 trust",
      "hostssl all app 127.0.0.1/32 scram-sha-256",
      "hostnossl all all 127.0.0.1/32 reject",
      "host all all ::1/128 reject",
    ];
    writeFileSync(join(data, "pg_hba.conf"), `${hba.join("\n")}\n`);
  }
  let running = false;
  const start = () => {
    tool("pg_ctl", ["-D", data, "-o", options, "-l", join(dir, "server.log"), "-w", "-t", "60", "start"]);
    running = true;
  };
  const stop = (mode: "fast" | "immediate" = "fast") => {
    if (!running) return;
    tool("pg_ctl", ["-D", data, "-m", mode, "-w", "-t", "60", "stop"]);
    running = false;
  };
  let destroyed = false;
  const destroy = () => {
    if (destroyed) return;
    destroyed = true;
    try {
      stop();
    } catch {
      // An immediate stop is the last resort, so the folder can go.
      spawnSync(...user.wrap(join(bin as string, "pg_ctl"), ["-D", data, "-m", "immediate", "-w", "stop"]));
    }
    rmSync(dir, { recursive: true, force: true });
    process.off("exit", destroy);
  };
  process.on("exit", destroy);
  try {
    start();
  } catch (error) {
    destroy();
    throw error;
  }
  if (certificates === undefined) return { dsn: `postgres://stowage@127.0.0.1:${port}/postgres`, port, stop, start, destroy };
  const { caFile, otherCaFile } = certificates;
  const tlsQuery = `sslmode=verify-full&sslrootcert=${encodeURIComponent(caFile)}`;
  const password = `pw-${Math.random().toString(36).slice(2)}-secret`;
  try {
    // Over the local socket (trust): the role the TLS tests log in as.
    const admin = new pg.Client({ host: dir, port, user: "stowage", database: "postgres" });
    await admin.connect();
    try {
      await admin.query(`CREATE ROLE app LOGIN PASSWORD '${password}'`);
      await admin.query("GRANT CREATE ON DATABASE postgres TO app");
    } finally {
      await admin.end();
    }
  } catch (error) {
    destroy();
    throw error;
  }
  return {
    dsn: `postgres://stowage@127.0.0.1:${port}/postgres?${tlsQuery}`,
    port,
    stop,
    start,
    destroy,
    tls: {
      caFile,
      otherCaFile,
      user: "app",
      password,
      dsn: (given = password, host = "127.0.0.1") => `postgres://app:${encodeURIComponent(given)}@${host}:${port}/postgres?${tlsQuery}`,
    },
  };
}

/** A real server for the calling test file (see useServer). */
export function usePostgresServer(options: PostgresServerOptions = {}): () => PostgresServer {
  return useServer("PostgreSQL test server", () => startPostgres(options));
}

/**
 * Waits until no other client backend is connected to the server at `dsn`. A client killed with SIGKILL leaves its
 * backends running the statements it had sent — which may still commit — until they notice the closed socket; a
 * check reading in several statements must start after them, or it sees a commit land between two of its reads.
 */
export async function waitForOtherClientsToEnd(dsn: string, timeoutMs = 10_000): Promise<void> {
  const client = new pg.Client({ connectionString: dsn, connectionTimeoutMillis: timeoutMs });
  await client.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { rows } = await client.query<{ n: string }>(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
      );
      if (Number(rows[0]?.n) === 0) return;
      if (Date.now() > deadline) throw new Error(`other clients still connected after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  } finally {
    await client.end();
  }
}
