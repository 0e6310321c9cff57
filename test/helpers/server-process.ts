/**
 * A test server run as a child process on 127.0.0.1 (etcd, redis-server, azurite, s3rver): started until its
 * readiness probe answers, stopped or killed by its own pid and awaited, and killed (then its folder removed) when
 * the test process exits or is ended by a signal. Each server's helper gives its command, its probe and its folder.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { connect } from "node:net";

export interface ServerProcessSpec {
  /** What the errors call it ("etcd", "azurite table"). */
  readonly name: string;
  /** The program and its arguments. */
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** Whether the started server serves; asked every {@link pollMs} until it does or {@link startupMs} passed. */
  readonly ready: () => Promise<boolean>;
  readonly pollMs?: number;
  readonly startupMs?: number;
  /** The server's own words on a failed start where it writes them to a file (its log); default: its output. */
  readonly diagnostics?: () => string;
  /** Runs once when the server is destroyed, synchronously (it may run from the exit handler): remove its folder. */
  readonly cleanUp: () => void;
}

export interface ServerProcess {
  readonly running: boolean;
  /** Starts it (if it is not running) on the same arguments and data; resolves once it is ready. */
  start(): Promise<void>;
  /** Sends `signal` and waits until it exited (a stop, or a crash with SIGKILL), keeping its data. */
  halt(signal: NodeJS.Signals): Promise<void>;
  /** Kills it, waits until it is dead, and runs cleanUp. Synchronous and idempotent. */
  destroy(): void;
}

const STARTUP_MS = 30_000;
const EXIT_MS = 15_000;
const SIGNALS: readonly NodeJS.Signals[] = ["SIGTERM", "SIGINT", "SIGHUP"];

/** A readiness probe: whether 127.0.0.1:`port` accepts a TCP connection. */
export function accepts(port: number): Promise<boolean> {
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

/**
 * The path of `binary` (from `candidates`, then the PATH), installing the Debian package `debianPackage` with apt-get
 * when it is missing. Throws, naming the command to run, when it cannot.
 */
export function findOrInstall(binary: string, debianPackage: string, candidates: readonly (string | undefined)[] = []): string {
  const find = () => {
    for (const candidate of candidates) {
      if (candidate !== undefined && spawnSync("test", ["-x", candidate]).status === 0) return candidate;
    }
    const which = spawnSync("sh", ["-c", `command -v ${binary}`], { encoding: "utf8" });
    const found = which.stdout.trim();
    return which.status === 0 && found !== "" ? found : undefined;
  };
  const found = find();
  if (found !== undefined) return found;
  if (process.getuid?.() !== 0) throw new Error(`${binary} is not installed and installing it needs root: apt-get install -y ${debianPackage}`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  execFileSync("apt-get", ["update"], { stdio: "ignore", env, timeout: 300_000 });
  execFileSync("apt-get", ["install", "-y", "--no-install-recommends", debianPackage], { stdio: "ignore", env, timeout: 600_000 });
  const installed = find();
  if (installed === undefined) throw new Error(`apt-get installed ${debianPackage} but no ${binary} binary was found`);
  return installed;
}

function exited(child: ChildProcess, name: string): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} (pid ${child.pid}) did not exit within ${EXIT_MS} ms`)), EXIT_MS);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Kills `pid` and waits (bounded) until it is dead, so that it writes nothing into a folder removed next. */
function killAndWait(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    return; // It exited in the meantime.
  }
  // Node reaps the child only later, so a dead child stays a zombie (state Z) meanwhile.
  const dead = `[ ! -e /proc/${pid} ] || grep -q '^State:[[:space:]]*Z' /proc/${pid}/status`;
  spawnSync("sh", ["-c", `until ${dead}; do sleep 0.02; done`], { timeout: 5_000 });
}

/** Starts the server; throws (never skips) when it cannot start, after cleaning up. */
export async function startServerProcess(spec: ServerProcessSpec): Promise<ServerProcess> {
  const { name, command, args } = spec;
  const startupMs = spec.startupMs ?? STARTUP_MS;
  let child: ChildProcess | undefined;
  let output = "";
  const diagnostics = () => spec.diagnostics?.() ?? output;

  const start = async () => {
    if (child !== undefined) return;
    output = "";
    const started = spawn(command, [...args], { stdio: ["ignore", "pipe", "pipe"], env: spec.env ?? process.env });
    child = started;
    const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4_000));
    started.stdout?.on("data", keep);
    started.stderr?.on("data", keep);
    started.once("exit", () => {
      if (child === started) child = undefined;
    });
    const deadline = Date.now() + startupMs;
    while (Date.now() < deadline) {
      if (child !== started) throw new Error(`${name} exited while starting (${started.exitCode ?? started.signalCode}): ${diagnostics()}`);
      if (await spec.ready()) return;
      await new Promise((resolve) => setTimeout(resolve, spec.pollMs ?? 100));
    }
    started.kill("SIGKILL");
    throw new Error(`${name} was not ready within ${startupMs} ms: ${diagnostics()}`);
  };
  const halt = async (signal: NodeJS.Signals) => {
    const running = child;
    if (running === undefined) return;
    running.kill(signal);
    await exited(running, name);
    child = undefined;
  };
  let destroyed = false;
  const destroy = () => {
    if (destroyed) return;
    destroyed = true;
    // Synchronous, so that it also runs from the process's exit handler.
    if (child?.pid !== undefined && child.exitCode === null) killAndWait(child.pid);
    child = undefined;
    spec.cleanUp();
    process.off("exit", destroy);
    for (const signal of SIGNALS) process.off(signal, onSignal);
  };
  // A test process ended by a signal runs no exit handlers: stop the server, then end as the signal would.
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
    get running() {
      return child !== undefined;
    },
    start,
    halt,
    destroy,
  };
}
