/**
 * A throwaway etcd server for tests: finds the `etcd` binary (installing Debian's `etcd-server` package with apt-get
 * when it is missing), starts a one-member cluster on 127.0.0.1 (client and peer ports both free loopback ports) with
 * its data in a fresh temporary folder, and stops it by its own pid. It can be stopped (SIGTERM) or killed (SIGKILL)
 * and started again on the same data and ports, for restart and crash tests. Options add TLS on the client URL (with
 * certificates made for the server in its folder, client certificates required or not) and auth (a root user and an
 * `app` user kept to one prefix). Nothing is mocked.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeCertificates, type TestCertificates } from "./certificates.js";
import { freePort } from "./postgres-server.js";
import { findOrInstall, startServerProcess } from "./server-process.js";
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

/** Starts a fresh server. Throws (never skips) when etcd cannot be installed or started. */
export async function startEtcd(options: EtcdServerOptions = {}): Promise<EtcdServer> {
  // $ETCD_BIN, /usr/bin/etcd (Debian's etcd-server), /usr/local/bin/etcd, or the PATH.
  const binary = findOrInstall("etcd", "etcd-server", [process.env.ETCD_BIN, "/usr/bin/etcd", "/usr/local/bin/etcd"]);
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
  const server = await startServerProcess({
    name: "etcd",
    command: binary,
    args,
    ready: () => healthy(endpoint, certificates),
    cleanUp: () => rmSync(dir, { recursive: true, force: true }),
  });
  try {
    if (auth !== undefined) await enableAuth(endpoint, certificates, auth);
  } catch (error) {
    server.destroy();
    throw error;
  }
  return {
    endpoint,
    port,
    dataDir,
    certificates,
    auth,
    get running() {
      return server.running;
    },
    stop: () => server.halt("SIGTERM"),
    kill: () => server.halt("SIGKILL"),
    start: () => server.start(),
    destroy: () => server.destroy(),
  };
}

/** A real server for the calling test file (see useServer). */
export function useEtcdServer(options: EtcdServerOptions = {}): () => EtcdServer {
  return useServer("etcd test server", () => startEtcd(options));
}
