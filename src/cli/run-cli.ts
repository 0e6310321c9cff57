import { isStowageError, StowageError } from "../api/errors.js";
import type { Store } from "../api/types.js";
import { loadConfig } from "../config/load-config.js";
import { openStore } from "../open-store.js";
import { COMMAND_OPTIONS, type CommandOption, parseCommandLine } from "./args.js";
import { type AnyCommand, commandName } from "./command.js";
import { findCommand } from "./command-table.js";
import { EXIT, NegativeAnswer, UsageError } from "./errors.js";
import { type CliIo, Output } from "./output.js";
import { shortUsage, usageText } from "./usage.js";

/**
 * Runs one CLI invocation and returns its exit status; see the usage text for the statuses. Never throws. The store
 * is opened only after the command line checks out, and is always closed, whatever the command does.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  // Known once the command words are matched, so that a usage error can show that command's synopsis.
  let command: AnyCommand | undefined;
  try {
    const line = parseCommandLine(argv);
    if (line.values.help === true || line.positionals[0] === "help") {
      io.stdout(usageText());
      return EXIT.ok;
    }
    if (line.positionals.length === 0) throw new UsageError("missing command");
    const found = findCommand(line.positionals);
    command = found.command;
    const args = found.args;
    for (const name of Object.keys(line.values)) {
      if (line.globalNames.has(name)) continue;
      if (!(name in COMMAND_OPTIONS) || !command.options.includes(name as CommandOption)) {
        throw new UsageError(`${commandName(command)} does not take --${name}`);
      }
    }
    const input = { args, options: line.values, cwd: io.cwd };
    if ("prepareWithConfig" in command) {
      const configAction = command.prepareWithConfig(input);
      await configAction(loadConfig({ argvFlags: line.values, env: io.env, cwd: io.cwd }), new Output(io, line.values.json === true));
      return EXIT.ok;
    }
    const action = command.prepare(input);
    const options = loadConfig({ argvFlags: line.values, env: io.env, cwd: io.cwd });
    const out = new Output(io, line.values.json === true);
    const store = await openStore(options);
    await runAndClose(store, () => action(store, out));
    return EXIT.ok;
  } catch (error) {
    return report(error, io, command);
  }
}

/** Runs the work and closes the store; a close failure is reported only when the work itself succeeded. */
async function runAndClose(store: Store, work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error) {
    await store.close().catch(() => undefined);
    throw error;
  }
  await store.close();
}

/** Prints `error CODE: message` (and the usage, for usage errors) and picks the exit status. */
function report(error: unknown, io: CliIo, command: AnyCommand | undefined): number {
  if (error instanceof UsageError) {
    io.stderr(`error ${error.code}: ${error.message}\n\n${shortUsage(command)}`);
    return EXIT.usage;
  }
  if (error instanceof NegativeAnswer) {
    io.stderr(`error ${error.code}: ${error.message}\n`);
    return EXIT.negative;
  }
  if (isStowageError(error)) {
    io.stderr(`error ${error.code}: ${stripCode(error)}\n`);
    return EXIT.stowageError;
  }
  // Not ours to classify: an engine or CLI bug. Keep the stack, it is what a bug report needs.
  const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
  io.stderr(`error INTERNAL: ${detail}\n`);
  return EXIT.stowageError;
}

/** StowageError messages already start with `CODE: `; the CLI prints the code itself, once. */
function stripCode(error: StowageError): string {
  const prefix = `${error.code}: `;
  return error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message;
}
