/**
 * A throwaway etcd server for tests: finds the `etcd` binary (installing Debian's `etcd-server` package with apt-get
 * when it is missing), starts a one-member cluster on 127.0.0.1 (client and peer ports both free loopback ports) with
 * its data in a fresh temporary folder, and stops it by its own pid. It can be stopped (SIGTERM) or killed (SIGKILL)
 * and started again on the same data and ports, for restart and crash tests. Options add TLS on the client URL (with
 * certificates made for the server in its folder, client certificates required or not) and auth (a root user and an
 * `app` user kept to one prefix). Nothing is mocked.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeCertificates, type TestCertificates } from "./certificates.js";
import { freePort } from "./postgres-server.js";
import { useServer } from "./use-server.js";

export interface EtcdServerOptions {
  /**
   * TLS on the client URL (`https://`): a CA, a server certificate for 127.0.0.1 and a client certificate made in the
   * server's folder; with `clientCertificates` (`--client-cert-auth`) the server refuses clients without a certificate
   * its CA signed.
   */
  tls?: { clientCertificates: boolean };
  /** Auth enabled, with the users of {@link EtcdAuth}. */
  auth?: boolean;
}

/** The users of a server started with `auth`. */
export interface EtcdAuth {
  /** `root`, with the root role: everything. */
  readonly rootPassword: string;
  /** A user allowed to read and write the keys under {@link appPrefix} only. */
  readonly appUser: string;
  readonly appPassword: string;
  readonly appPrefix: string;
}

export interface EtcdServer {
  /** The client URL, `http://127.0.0.1:<port>` (`https://` with `tls`). */
  readonly endpoint: string;
  readonly port: number;
  readonly dataDir: string;
  /** Whether the server process is running. */
  readonly running: boolean;
  /** Stops the server with SIGTERM (a clean shutdown), keeping its data; waits until it exited. */
  stop(): Promise<void>;
  /** Kills the server with SIGKILL (a crash), keeping its data; waits until it exited. */
  kill(): Promise<void>;
  /** Starts it again on the same ports and data; resolves once it answers. */
  start(): Promise<void>;
  /** Kills the server and removes its folder. Idempotent. */
  destroy(): void;
  /** With `tls`: the certificates, in the server's folder. */
  readonly certificates?: TestCertificates;
  /** With `auth`: its users. */
  readonly auth?: EtcdAuth;
}

const STARTUP_MS = 30_000;
const EXIT_MS = 15_000;

/** The etcd binary: $ETCD_BIN, /usr/bin/etcd (Debian's etcd-server), /usr/local/bin/etcd, or the PATH. */
function findEtcd(): string | undefined {
  for (const candidate of [process.env.ETCD_BIN, "/usr/bin/etcd", "/usr/local/bin/etcd"]) {
    if (candidate !== undefined && existsSync(candidate)) return candidate;
  }
  const which = spawnSync("sh", ["-c", "command -v etcd"], { encoding: "utf8" });
  const found = which.stdout.trim();
  return which.status === 0 && found !== "" ? found : undefined;
}

function installEtcd(): void {
  if (process.getuid?.() !== 0) throw new Error("etcd is not installed and installing it needs root: apt-get install -y etcd-server");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  execFileSync("apt-get", ["update"], { stdio: "ignore", env, timeout: 300_000 });
  execFileSync("apt-get", ["install", "-y", "--no-install-recommends", "etcd-server"], { stdio: "ignore", env, timeout: 600_000 });
}

/**
 * Whether the server at `endpoint` reports itself healthy (it has a leader and serves reads); over TLS with the
 * client certificate, which a server with `--client-cert-auth` asks for.
 */
async function healthy(endpoint: string, certificates: TestCertificates | undefined): Promise<boolean> {
  if (certificates === undefined) {
    try {
      const response = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(1_000) });
      const body = (await response.json()) as { health?: string };
      return body.health === "true";
    } catch {
      return false;
    }
  }
  const tls = { ca: readFileSync(certificates.caFile), cert: readFileSync(certificates.clientCertFile), key: readFileSync(certificates.clientKeyFile) };
  return new Promise((resolve) => {
    const asked = request(`${endpoint}/health`, { ...tls, timeout: 1_000 }, (response) => {
      let body = "";
      response.on("data", (chunk: Buffer) => (body += chunk.toString()));
      response.on("end", () => resolve(/"health":\s*"true"/.test(body)));
      response.on("error", () => resolve(false));
    });
    asked.on("timeout", () => asked.destroy());
    asked.on("error", () => resolve(false));
    asked.end();
  });
}

/**
 * Turns auth on through etcd's own API (etcd3, so that no etcdctl is needed): the roles `root` and `app` (read and
 * write under `auth.appPrefix`), their users, then auth.
 */
async function enableAuth(endpoint: string, certificates: TestCertificates | undefined, auth: EtcdAuth): Promise<void> {
  const { Etcd3 } = await import("etcd3");
  const credentials = certificates === undefined ? undefined : { rootCertificate: readFileSync(certificates.caFile), certChain: readFileSync(certificates.clientCertFile), privateKey: readFileSync(certificates.clientKeyFile) };
  const admin = new Etcd3({ hosts: endpoint, ...(credentials === undefined ? {} : { credentials }) });
  try {
    await admin.role("root").create();
    await admin.user("root").create(auth.rootPassword);
    await admin.user("root").addRole("root");
    const app = await admin.role("app").create();
    await app.grant({ permission: "Readwrite", range: admin.range({ prefix: auth.appPrefix }) });
    await admin.user(auth.appUser).create(auth.appPassword);
    await admin.user(auth.appUser).addRole("app");
    await admin.auth.authEnable();
  } finally {
    admin.close();
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`etcd (pid ${child.pid}) did not exit within ${EXIT_MS} ms`)), EXIT_MS);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Starts a fresh server. Throws (never skips) when etcd cannot be installed or started. */
export async function startEtcd(options: EtcdServerOptions = {}): Promise<EtcdServer> {
  let binary = findEtcd();
  if (binary === undefined) {
    installEtcd();
    binary = findEtcd();
    if (binary === undefined) throw new Error("apt-get installed etcd-server but no etcd binary was found (looked in /usr/bin, /usr/local/bin, the PATH)");
  }
  const dir = mkdtempSync(join(tmpdir(), "stowage-etcd-"));
  const dataDir = join(dir, "data");
  const port = await freePort();
  let peerPort = await freePort();
  while (peerPort === port) peerPort = await freePort();
  const certificates = options.tls === undefined ? undefined : makeCertificates(join(dir, "certs"));
  const endpoint = `${certificates === undefined ? "http" : "https"}://127.0.0.1:${port}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const auth: EtcdAuth | undefined = options.auth === true ? { rootPassword: "root-Pa55-test", appUser: "app", appPassword: "app-Pa55-test", appPrefix: "app/" } : undefined;
  const args = [
    "--name", "stowage-test",
    "--data-dir", dataDir,
    "--listen-client-urls", endpoint,
    "--advertise-client-urls", endpoint,
    "--listen-peer-urls", peer,
    "--initial-advertise-peer-urls", peer,
    "--initial-cluster", `stowage-test=${peer}`,
    "--initial-cluster-state", "new",
    "--log-level", "error",
    "--logger", "zap",
    ...(certificates === undefined ? [] : ["--cert-file", certificates.certFile, "--key-file", certificates.keyFile]),
    ...(options.tls?.clientCertificates === true && certificates !== undefined ? ["--trusted-ca-file", certificates.caFile, "--client-cert-auth"] : []),
  ];
  let child: ChildProcess | undefined;
  let output = "";

  const start = async () => {
    if (child !== undefined) return;
    output = "";
    const started = spawn(binary as string, args, { stdio: ["ignore", "pipe", "pipe"] });
    child = started;
    const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4_000));
    started.stdout?.on("data", keep);
    started.stderr?.on("data", keep);
    started.once("exit", () => {
      if (child === started) child = undefined;
    });
    const deadline = Date.now() + STARTUP_MS;
    while (Date.now() < deadline) {
      if (child !== started) throw new Error(`etcd exited while starting: ${output}`);
      if (await healthy(endpoint, certificates)) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    started.kill("SIGKILL");
    throw new Error(`etcd did not answer on ${endpoint} within ${STARTUP_MS} ms: ${output}`);
  };
  const halt = async (signal: NodeJS.Signals) => {
    const running = child;
    if (running === undefined) return;
    running.kill(signal);
    await exited(running);
    child = undefined;
  };
  let destroyed = false;
  const destroy = () => {
    if (destroyed) return;
    destroyed = true;
    // Synchronous, so that it also runs from the process's exit handler.
    const pid = child?.pid;
    if (pid !== undefined && child?.exitCode === null) {
      try {
        process.kill(pid, "SIGKILL");
        // Until it is dead (bounded), so that it writes nothing into the folder after it was removed. Node reaps it
        // only later, so a dead child stays a zombie (state Z) meanwhile.
        const dead = `[ ! -e /proc/${pid} ] || grep -q '^State:[[:space:]]*Z' /proc/${pid}/status`;
        spawnSync("sh", ["-c", `until ${dead}; do sleep 0.02; done`], { timeout: 5_000 });
      } catch {
        // It exited in the meantime.
      }
    }
    child = undefined;
    rmSync(dir, { recursive: true, force: true });
    process.off("exit", destroy);
  };
  process.on("exit", destroy);
  try {
    await start();
    if (auth !== undefined) await enableAuth(endpoint, certificates, auth);
  } catch (error) {
    destroy();
    throw error;
  }
  return {
    endpoint,
    port,
    dataDir,
    certificates,
    auth,
    get running() {
      return child !== undefined;
    },
    stop: () => halt("SIGTERM"),
    kill: () => halt("SIGKILL"),
    start,
    destroy,
  };
}

/** A real server for the calling test file (see useServer). */
export function useEtcdServer(options: EtcdServerOptions = {}): () => EtcdServer {
  return useServer("etcd test server", () => startEtcd(options));
}
