/**
 * A test server that is a Node script (azurite, s3rver) run in a child process on 127.0.0.1 and a given port:
 * started until it accepts connections, stopped or killed by its own pid and awaited, and killed when the test
 * process exits or is ended by a signal. Shared by the emulator helpers (azurite-server.ts, s3-server.ts).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { connect } from "node:net";

export interface NodeServerSpec {
  /** What the errors call it ("azurite", "s3rver"). */
  readonly name: string;
  /** `node`'s arguments: its flags, the script and the script's arguments. */
  readonly args: readonly string[];
  readonly port: number;
  readonly env?: NodeJS.ProcessEnv;
  /** Runs once when the server is destroyed, synchronously (it may run from the exit handler): remove its folder. */
  readonly cleanUp: () => void;
}

export interface NodeServerProcess {
  readonly running: boolean;
  /** Starts it (if it is not running); resolves once it accepts connections. */
  start(): Promise<void>;
  /** Sends `signal` and waits until it exited. */
  halt(signal: NodeJS.Signals): Promise<void>;
  /** Kills it and runs cleanUp. Idempotent. */
  destroy(): void;
}

const STARTUP_MS = 30_000;
const EXIT_MS = 15_000;
const SIGNALS: readonly NodeJS.Signals[] = ["SIGTERM", "SIGINT", "SIGHUP"];

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

/** Starts the server; throws (never skips) when it cannot start, after cleaning up. */
export async function startNodeServer(spec: NodeServerSpec): Promise<NodeServerProcess> {
  const { name, args, port } = spec;
  let child: ChildProcess | undefined;
  let output = "";

  const start = async () => {
    if (child !== undefined) return;
    output = "";
    const started = spawn(process.execPath, [...args], { stdio: ["ignore", "pipe", "pipe"], env: spec.env ?? process.env });
    child = started;
    const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4_000));
    started.stdout?.on("data", keep);
    started.stderr?.on("data", keep);
    started.once("exit", () => {
      if (child === started) child = undefined;
    });
    const deadline = Date.now() + STARTUP_MS;
    while (Date.now() < deadline) {
      if (child !== started) throw new Error(`${name} exited while starting: ${output}`);
      if (await accepts(port)) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    started.kill("SIGKILL");
    throw new Error(`${name} did not listen on 127.0.0.1:${port} within ${STARTUP_MS} ms: ${output}`);
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
    if (child?.pid !== undefined && child.exitCode === null) {
      try {
        process.kill(child.pid, "SIGKILL");
      } catch {
        // It exited in the meantime.
      }
    }
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
