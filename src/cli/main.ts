#!/usr/bin/env node
/**
 * The `stowage` command. All logic is in {@link runCli}; this file only binds it to the process.
 * @packageDocumentation
 */
import { runCli } from "./run-cli.js";

// A reader that stops early (`stowage kv list ns | head -1`) closes the pipe: later writes fail with EPIPE. That is
// not an error of the command, and the store must still close cleanly, so the failed writes are ignored.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
  });
}

// exitCode, not process.exit(): pending stdout writes to a pipe are flushed before the process ends.
process.exitCode = await runCli(process.argv.slice(2), {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
  env: process.env,
  cwd: process.cwd(),
  stderrIsTTY: process.stderr.isTTY === true,
});
