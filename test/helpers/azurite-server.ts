/**
 * A throwaway Azure Table emulator for tests: the devDependency azurite's table server (`azurite-table`) on
 * 127.0.0.1 and a free port, its workspace in a fresh temporary folder, telemetry off (no internet here), stopped by
 * its own pid when asked or when the process exits, its folder removed. It can be stopped (SIGINT: azurite saves its
 * database on the way out) or killed (SIGKILL) and started again on the same folder and port. Nothing is mocked.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { freePort } from "./postgres-server.js";
import { useServer } from "./use-server.js";

/** The emulator's well-known development account (documented by Microsoft; not a secret). */
export const AZURITE_ACCOUNT = "devstoreaccount1";
export const AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

export interface AzuriteServer {
  /** `http://127.0.0.1:<port>/devstoreaccount1`. */
  readonly endpoint: string;
  /** A connection string for the development account on this server. */
  readonly connectionString: string;
  readonly port: number;
  readonly running: boolean;
  /** Stops it with SIGINT (azurite's clean shutdown: it saves its database), keeping the folder; waits until it exited. */
  stop(): Promise<void>;
  /** Kills it with SIGKILL (a crash: azurite saves every 5 s, so the last seconds may be lost); waits until it exited. */
  kill(): Promise<void>;
  /** Starts it again on the same port and folder; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Kills it and removes its folder. Idempotent. */
  destroy(): void;
}

const STARTUP_MS = 30_000;
const SIGNALS: readonly NodeJS.Signals[] = ["SIGTERM", "SIGINT", "SIGHUP"];
const EXIT_MS = 15_000;

/** azurite's table server script, from the installed package. */
function tableServerScript(): string {
  const require = createRequire(import.meta.url);
  const script = join(dirname(require.resolve("azurite/package.json")), "dist", "src", "table", "main.js");
  if (!existsSync(script)) throw new Error(`azurite's table server is not at ${script} (is the azurite devDependency installed?)`);
  return script;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`azurite (pid ${child.pid}) did not exit within ${EXIT_MS} ms`)), EXIT_MS);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Starts a fresh emulator. Throws (never skips) when it cannot start. */
export async function startAzurite(): Promise<AzuriteServer> {
  const script = tableServerScript();
  const dir = mkdtempSync(join(tmpdir(), "stowage-azurite-"));
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  const connectionString = `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};TableEndpoint=${endpoint};`;
  const args = [script, "--tableHost", "127.0.0.1", "--tablePort", String(port), "--location", dir, "--disableTelemetry", "--skipApiVersionCheck", "--silent"];
  let child: ChildProcess | undefined;
  let output = "";

  const start = async () => {
    if (child !== undefined) return;
    output = "";
    const started = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, AZURITE_DB: "" } });
    child = started;
    const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4_000));
    started.stdout?.on("data", keep);
    started.stderr?.on("data", keep);
    started.once("exit", () => {
      if (child === started) child = undefined;
    });
    const deadline = Date.now() + STARTUP_MS;
    while (Date.now() < deadline) {
      if (child !== started) throw new Error(`azurite exited while starting: ${output}`);
      if (await accepts(port)) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    started.kill("SIGKILL");
    throw new Error(`azurite did not listen on 127.0.0.1:${port} within ${STARTUP_MS} ms: ${output}`);
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
    if (child?.pid !== undefined && child.exitCode === null) {
      try {
        process.kill(child.pid, "SIGKILL");
      } catch {
        // It exited in the meantime.
      }
    }
    child = undefined;
    rmSync(dir, { recursive: true, force: true });
    process.off("exit", destroy);
    for (const signal of SIGNALS) process.off(signal, onSignal);
  };
  // A test process ended by a signal runs no exit handlers: stop the emulator, then end as the signal would.
  const onSignal = (signal: NodeJS.Signals) => {
    destroy();
    process.kill(process.pid, signal);
  };
  process.on("exit", destroy);
  for (const signal of SIGNALS) process.once(signal, onSignal);
  try {
    await start();
  } catch (error) {
    destroy();
    throw error;
  }
  return {
    endpoint,
    connectionString,
    port,
    get running() {
      return child !== undefined;
    },
    // azurite-table saves its database on SIGINT only (SIGTERM ends it like a crash).
    stop: () => halt("SIGINT"),
    kill: () => halt("SIGKILL"),
    start,
    destroy,
  };
}

/** A real server for the calling test file (see useServer). */
export function useAzurite(): () => AzuriteServer {
  return useServer("azurite test server", () => startAzurite());
}
