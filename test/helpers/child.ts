/**
 * Test helpers for running real `node` child processes on the compiled fixtures (dist/test/fixtures/*.js) and for
 * temporary folders. Every child is tracked so that a test can always kill and await it, even when it fails.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The compiled fixture `name` (without extension), next to this helper's compiled folder. */
export function fixturePath(name: string): string {
  return fileURLToPath(new URL(`../fixtures/${name}.js`, import.meta.url));
}

/** A fresh temporary folder; `remove` deletes it (and everything in it). */
export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `stowage-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 }) };
}

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A running fixture: its stdout lines as they come, stderr, and its exit. */
export class Child {
  readonly process: ChildProcess;
  readonly lines: string[] = [];
  stderr = "";
  readonly exited: Promise<ChildExit>;
  private partial = "";
  private exit: ChildExit | undefined;
  private readonly waiters: Array<() => void> = [];

  constructor(name: string, args: string[]) {
    this.process = spawn(process.execPath, [fixturePath(name), ...args], { stdio: ["pipe", "pipe", "pipe"] });
    this.process.stdout!.setEncoding("utf8");
    this.process.stderr!.setEncoding("utf8");
    this.process.stdout!.on("data", (chunk: string) => {
      this.partial += chunk;
      const parts = this.partial.split("\n");
      this.partial = parts.pop() ?? "";
      for (const line of parts) if (line.length > 0) this.lines.push(line);
      this.wake();
    });
    this.process.stderr!.on("data", (chunk: string) => {
      this.stderr += chunk;
    });
    // A child that dies makes its stdin pipe fail on the next write; that is reported by the exit, not by this.
    this.process.stdin!.on("error", () => undefined);
    this.exited = new Promise<ChildExit>((resolve) => {
      // "close", not "exit": every stdout line has been read by then.
      this.process.on("close", (code, signal) => {
        if (this.partial.length > 0) this.lines.push(this.partial);
        this.partial = "";
        this.exit = { code, signal };
        this.wake();
        resolve(this.exit);
      });
    });
  }

  get hasExited(): boolean {
    return this.exit !== undefined;
  }

  /** Sends one line on the child's stdin. */
  send(line: string): void {
    if (!this.hasExited) this.process.stdin!.write(`${line}\n`);
  }

  /**
   * Waits until `predicate` holds over the lines read so far, the child exits, or `timeoutMs` passes. Returns whether
   * the predicate held.
   */
  async waitFor(predicate: (lines: readonly string[]) => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.lines)) {
      if (this.hasExited) return predicate(this.lines);
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.waiters.push(done);
      });
    }
    return true;
  }

  /** Waits for the exit, killing the child with SIGKILL if it has not exited within `timeoutMs`. */
  async finish(timeoutMs: number): Promise<ChildExit> {
    if (!this.hasExited) {
      const timer = setTimeout(() => this.kill("SIGKILL"), timeoutMs);
      try {
        return await this.exited;
      } finally {
        clearTimeout(timer);
      }
    }
    return this.exited;
  }

  kill(signal: NodeJS.Signals = "SIGKILL"): void {
    if (!this.hasExited) this.process.kill(signal);
  }

  /** What the child printed, for assertion messages. */
  describe(): string {
    return `stdout (last lines): ${this.lines.slice(-5).join(" | ")}\nstderr: ${this.stderr.slice(-2000)}`;
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }
}

/** Starts a compiled fixture as a real `node` process. */
export function startChild(name: string, args: string[]): Child {
  return new Child(name, args);
}

/** Kills and awaits every child that is still running: for `finally` blocks. */
export async function killAll(children: readonly Child[]): Promise<void> {
  for (const child of children) child.kill("SIGKILL");
  await Promise.all(children.map((child) => child.exited));
}

/** The last stdout line of `child` parsed as JSON (fixtures print their result last). */
export function lastJson<T>(child: Child): T {
  const line = child.lines.at(-1);
  if (line === undefined) throw new Error(`the child printed nothing\n${child.describe()}`);
  return JSON.parse(line) as T;
}

/** Waits until every child has printed a line equal to `word`, or throws after `timeoutMs`. */
export async function waitAllFor(children: readonly Child[], word: string, timeoutMs: number): Promise<void> {
  const results = await Promise.all(children.map((child) => child.waitFor((lines) => lines.includes(word), timeoutMs)));
  results.forEach((ok, i) => {
    if (!ok) throw new Error(`child ${i} did not print "${word}" within ${timeoutMs} ms\n${(children[i] as Child).describe()}`);
  });
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
