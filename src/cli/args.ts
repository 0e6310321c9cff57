import { parseArgs, type ParseArgsConfig } from "node:util";
import { configFlagOptions } from "../config/flag-options.js";
import { UsageError } from "./errors.js";

/** Options some commands take, as `parseArgs` options. Which command takes which is in the command table. */
export const COMMAND_OPTIONS = {
  json: { type: "boolean" },
  file: { type: "string" },
  "ttl-ms": { type: "string" },
  prefix: { type: "string" },
  start: { type: "string" },
  end: { type: "string" },
  limit: { type: "string" },
  cursor: { type: "string" },
  reverse: { type: "boolean" },
  "keys-only": { type: "boolean" },
  "max-len": { type: "string" },
  overflow: { type: "string" },
  from: { type: "string" },
  to: { type: "string" },
  "allow-non-empty": { type: "boolean" },
  journal: { type: "string" },
  keep: { type: "string" },
  "max-age-ms": { type: "string" },
  "name-prefix": { type: "string" },
  "delay-ms": { type: "string" },
  priority: { type: "string" },
  dedup: { type: "string" },
  after: { type: "string" },
  all: { type: "boolean" },
} as const;

/** The name of a command-specific option. */
export type CommandOption = keyof typeof COMMAND_OPTIONS;

/**
 * Options every command takes: help and the configuration flags (`--config`, `--storage-*`) of every engine
 * registered when the command line is parsed.
 */
export function globalOptions(): NonNullable<ParseArgsConfig["options"]> {
  return { help: { type: "boolean", short: "h" }, ...configFlagOptions() };
}

/** Option values as parsed: strings for options with a value, `true` for switches. */
export type OptionValues = Readonly<Record<string, string | boolean | undefined>>;

/** A parsed command line, not yet matched to a command. */
export interface CommandLine {
  positionals: string[];
  values: OptionValues;
  /** The names of the options every command takes (see {@link globalOptions}). */
  globalNames: ReadonlySet<string>;
}

/**
 * Parses the whole command line at once with every option known, so that options may come anywhere (before or after
 * the command words) and a value such as `--config ./x` is never mistaken for a command word. Whether the command
 * takes each option is checked once the command is known.
 */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  const global = globalOptions();
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      options: { ...global, ...COMMAND_OPTIONS },
      allowPositionals: true,
      strict: true,
    });
    return { positionals, values: values as OptionValues, globalNames: new Set(Object.keys(global)) };
  } catch (error) {
    // parseArgs reports unknown options and missing option values as ERR_PARSE_ARGS_* TypeErrors: the user's mistake.
    if (String((error as NodeJS.ErrnoException)?.code ?? "").startsWith("ERR_PARSE_ARGS")) {
      throw new UsageError((error as Error).message);
    }
    throw error;
  }
}

/** A string option's value, or undefined when not given. */
export function stringOption(values: OptionValues, name: CommandOption): string | undefined {
  const value = values[name];
  return typeof value === "string" ? value : undefined;
}

/** A switch's value. */
export function flagOption(values: OptionValues, name: CommandOption): boolean {
  return values[name] === true;
}

/**
 * A whole-number argument or option. Only digits are accepted (`Number` would take "", "1e3" or "0x10"); the range
 * is left to the library, which reports it with the limit.
 */
export function wholeNumber(text: string, name: string): number {
  const value = /^[0-9]+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value)) throw new UsageError(`${name} must be a whole number, got ${JSON.stringify(text)}`);
  return value;
}

/** A signed whole-number option's value (`--priority=-5`: parseArgs refuses `--priority -5` as ambiguous), or undefined. */
export function integerOption(values: OptionValues, name: CommandOption): number | undefined {
  const text = stringOption(values, name);
  if (text === undefined) return undefined;
  const value = /^-?[0-9]+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value)) throw new UsageError(`--${name} must be a whole number, negative or not, got ${JSON.stringify(text)}`);
  return value;
}

/** A whole-number option's value, or undefined when not given. */
export function numberOption(values: OptionValues, name: CommandOption): number | undefined {
  const text = stringOption(values, name);
  return text === undefined ? undefined : wholeNumber(text, `--${name}`);
}
