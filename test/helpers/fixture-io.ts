/**
 * The child side of the fixtures' protocol: one JSON (or word) line per message on stdout, commands on stdin.
 * stdout on a pipe is synchronous on Linux, so a line printed is in the pipe before the next statement runs.
 */
import { createInterface } from "node:readline";
import { openStore, type OpenStoreOptions, type Store } from "../../src/index.js";

/** Prints one line on stdout. */
export function say(message: unknown): void {
  process.stdout.write(`${typeof message === "string" ? message : JSON.stringify(message)}\n`);
}

/**
 * Resolves when the parent sends `go` on stdin. If the parent goes away (stdin ends) first, the child exits: a
 * fixture never outlives its test.
 */
export function waitForGo(): Promise<void> {
  return new Promise<void>((resolve) => {
    const input = createInterface({ input: process.stdin });
    let started = false;
    input.on("line", (line) => {
      if (line.trim() === "go" && !started) {
        started = true;
        resolve();
      }
    });
    input.on("close", () => {
      if (!started) process.exit(3);
      // After the start, a closed stdin means the parent is gone: stop too.
      process.exit(4);
    });
  });
}

/** Runs the fixture's main; any failure is printed on stderr and exits with code 1. */
export function runFixture(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      const detail = error instanceof Error ? `${error.stack ?? error.message}${"code" in error ? ` [code ${String(error.code)}]` : ""}` : String(error);
      process.stderr.write(`fixture failed: ${detail}\n`);
      process.exit(1);
    },
  );
}

/** The command-line argument `index` (after the script), or a failure naming it. */
export function arg(index: number, name: string): string {
  const value = process.argv[2 + index];
  if (value === undefined) {
    process.stderr.write(`missing argument ${index}: ${name}\n`);
    process.exit(2);
  }
  return value;
}

/**
 * The arguments every racer fixture takes — `<openStore options, JSON> <id> <target> <max rounds>` — and its store,
 * opened from those options with the background sweep off.
 */
export async function racerSetup(): Promise<{ store: Store; id: string; target: number; maxRounds: number }> {
  const options = JSON.parse(arg(0, "options")) as OpenStoreOptions;
  const store = await openStore({ ...options, sweepIntervalMs: 0 });
  return { store, id: arg(1, "id"), target: Number(arg(2, "target")), maxRounds: Number(arg(3, "maxRounds")) };
}
