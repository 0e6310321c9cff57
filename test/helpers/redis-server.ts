/**
 * A throwaway Redis server for tests: finds `redis-server` (installing Debian's `redis-server` package with apt-get
 * when it is missing), starts it on 127.0.0.1 on a free port with a fresh data folder of its own and the AOF fsynced
 * on every write, and stops it when asked, or when the process exits. Nothing is mocked: the tests talk to a real
 * server. `kill()` (SIGKILL) and `start()` on the same folder serve crash tests.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./postgres-server.js";
import { useServer } from "./use-server.js";

export interface RedisServer {
  /** `redis://127.0.0.1:<port>`. */
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
  /** Stops the server and removes its folder. Idempotent. */
  destroy(): Promise<void>;
}

/** How long a start may take before the test fails (an AOF replay of test data takes milliseconds). */
const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;

function findRedisServer(): string | undefined {
  const which = spawnSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" });
  const found = which.stdout.trim();
  return which.status === 0 && found !== "" ? found : undefined;
}

function installRedis(): void {
  if (process.getuid?.() !== 0) {
    throw new Error("redis-server is not installed and installing it needs root: apt-get install -y redis-server");
  }
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  execFileSync("apt-get", ["update"], { stdio: "ignore", env, timeout: 300_000 });
  execFileSync("apt-get", ["install", "-y", "--no-install-recommends", "redis-server"], { stdio: "ignore", env, timeout: 600_000 });
}

/** One PING over a raw socket: true when the server answered PONG within `timeoutMs`. */
function pings(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    let answer = "";
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (data) => {
      answer += data.toString("latin1");
      if (answer.includes("\r\n")) done(answer.startsWith("+PONG"));
    });
    socket.on("error", () => done(false));
  });
}

function exited(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server (pid ${child.pid}) did not exit within ${timeoutMs} ms`)), timeoutMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Starts a fresh server. Throws (never skips) when Redis cannot be installed or started. */
export async function startRedis(): Promise<RedisServer> {
  let binary = findRedisServer();
  if (binary === undefined) {
    installRedis();
    binary = findRedisServer();
    if (binary === undefined) throw new Error("apt-get installed redis-server but it is not on the PATH");
  }
  const dir = mkdtempSync(join(tmpdir(), "stowage-redis-"));
  const port = await freePort();
  const log = join(dir, "server.log");
  const args = [
    "--port", String(port),
    "--bind", "127.0.0.1",
    "--protected-mode", "yes",
    "--dir", dir,
    "--appendonly", "yes",
    "--appendfsync", "always",
    "--save", "",
    "--daemonize", "no",
    "--logfile", log,
  ];
  let child: ChildProcess | undefined;

  const start = async () => {
    if (child !== undefined) return;
    const started = spawn(binary as string, args, { stdio: "ignore" });
    child = started;
    started.once("exit", () => {
      if (child === started) child = undefined;
    });
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (started.exitCode !== null || started.signalCode !== null) {
        child = undefined;
        throw new Error(`redis-server exited on start (${started.exitCode ?? started.signalCode}): ${readLog()}`);
      }
      if (await pings(port, 1000)) return;
      if (Date.now() > deadline) throw new Error(`redis-server did not answer PING within ${START_TIMEOUT_MS} ms: ${readLog()}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  };
  const readLog = () => {
    try {
      return readFileSync(log, "utf8").split("\n").slice(-10).join("\n");
    } catch {
      return "(no log)";
    }
  };
  const signal = async (name: NodeJS.Signals) => {
    const running = child;
    if (running === undefined) return;
    running.kill(name);
    await exited(running, STOP_TIMEOUT_MS);
    child = undefined;
  };
  let destroyed = false;
  /** On process exit only synchronous work runs: the server is killed by its own pid and the folder removed. */
  const onExit = () => {
    child?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  const destroy = async () => {
    if (destroyed) return;
    destroyed = true;
    process.off("exit", onExit);
    try {
      await signal("SIGTERM");
    } catch {
      await signal("SIGKILL");
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.on("exit", onExit);
  try {
    await start();
  } catch (error) {
    await destroy();
    throw error;
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    stop: () => signal("SIGTERM"),
    kill: () => signal("SIGKILL"),
    start,
    destroy,
  };
}

/** A real server for the calling test file (see useServer). */
export function useRedisServer(): () => RedisServer {
  return useServer("Redis test server", () => startRedis());
}
