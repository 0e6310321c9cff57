import type { Store } from "../api/types.js";
import type { OpenStoreOptions, RoutedStoreOptions } from "../open-store.js";
import type { CommandOption, OptionValues } from "./args.js";
import { UsageError } from "./errors.js";
import type { Output } from "./output.js";

/** What a command's {@link Command.prepare} gets: its arguments (after the command words) and options. */
export interface PrepareInput {
  args: readonly string[];
  options: OptionValues;
  /** The working folder, for relative `--file` paths. */
  cwd: string;
}

/** The work of a command, run against an open store; the CLI closes the store afterwards, whatever happens. */
export type Action = (store: Store, out: Output) => Promise<void>;

/** The work of a command that opens stores of its own from the configuration (`migrate`: two named providers). */
export type ConfigAction = (config: OpenStoreOptions | RoutedStoreOptions, out: Output) => Promise<void>;

/** How usage shows a command, and which options it takes. */
export interface CommandText {
  /** The command words, such as `["kv", "get"]`. */
  words: readonly string[];
  /** The arguments and options after the words, as usage shows them. */
  synopsis: string;
  /** One line (or a few) for the usage text. */
  summary: string;
  /** The command-specific options it takes; every command also takes the global ones. */
  options: readonly CommandOption[];
}

/** One CLI command that works on the configured store. */
export interface Command extends CommandText {
  /**
   * Checks the arguments and options and returns the work. It runs before the store opens, so that a usage error
   * never creates a database file or waits on a lock.
   */
  prepare(input: PrepareInput): Action;
}

/** One CLI command that opens what it needs from the configuration itself (the CLI opens no store for it). */
export interface ConfigCommand extends CommandText {
  /** As {@link Command.prepare}: checks the arguments before anything opens. */
  prepareWithConfig(input: PrepareInput): ConfigAction;
}

/** Any CLI command. */
export type AnyCommand = Command | ConfigCommand;

/** The command's name as messages show it: `kv get`. */
export function commandName(command: CommandText): string {
  return command.words.join(" ");
}

/**
 * The command's positional arguments by name, when there are exactly as many as names; `optional` names may be
 * missing at the end (their entries are then undefined).
 */
export function takeArgs<const R extends readonly string[], const O extends readonly string[] = []>(
  command: CommandText,
  args: readonly string[],
  required: R,
  optional?: O,
): { [K in R[number]]: string } & { [K in O[number]]: string | undefined } {
  const optionalNames: readonly string[] = optional ?? [];
  if (args.length < required.length || args.length > required.length + optionalNames.length) {
    // The synopsis without its options is what the user needs to see: `<ns> <key> <value>`, `<ns> [<key>]`.
    const expected = command.synopsis.split(/ ?\[--/)[0] || "no arguments";
    throw new UsageError(
      `${commandName(command)} takes ${expected}; got ${args.length} argument${args.length === 1 ? "" : "s"}` +
        (args.length > 0 ? `: ${args.map((a) => JSON.stringify(a)).join(" ")}` : ""),
    );
  }
  const named: Record<string, string | undefined> = {};
  [...required, ...optionalNames].forEach((name, i) => (named[name] = args[i]));
  return named as { [K in R[number]]: string } & { [K in O[number]]: string | undefined };
}
