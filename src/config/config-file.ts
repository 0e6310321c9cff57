import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { extname, resolve } from "node:path";
import { StowageError } from "../api/errors.js";
import { describeSource, type SettingSource } from "./sources.js";
import type { ConfigEnv, ConfigFlags } from "./inputs.js";

/** The CLI flag (without `--`) naming the config file. */
export const CONFIG_FILE_FLAG = "config";
/** The environment variable naming the config file. */
export const CONFIG_FILE_ENV = "STOWAGE_CONFIG";

/** A config file to read: the path as the user gave it (for messages), where it came from, and its absolute path. */
export interface ConfigFileLocation {
  given: string;
  source: SettingSource;
  absolutePath: string;
}

/** A config file read and parsed, not yet checked: {@link settingsFromFile} checks its fields. */
export interface ConfigFile {
  /** The path as the user gave it; messages quote it so it matches what they typed. */
  path: string;
  /** Where relative paths inside the file are resolved from: the file's folder. */
  absolutePath: string;
  /** The parsed YAML or JSON document. */
  contents: unknown;
}

/**
 * Which config file applies: `--config`, else `STOWAGE_CONFIG`, else none. There is no implicit file name, so a
 * stray file in the working folder never changes where data goes. An empty `STOWAGE_CONFIG` counts as unset, as
 * shells and container runtimes often export empty variables.
 */
export function locateConfigFile(input: { argvFlags?: ConfigFlags; env?: ConfigEnv; cwd: string }): ConfigFileLocation | undefined {
  const flagValue = input.argvFlags?.[CONFIG_FILE_FLAG];
  if (flagValue !== undefined) {
    const source: SettingSource = { kind: "flag", flag: CONFIG_FILE_FLAG };
    if (typeof flagValue !== "string" || flagValue.length === 0) {
      throw new StowageError("INVALID_ARGUMENT", `${describeSource(source)} must be the path of a YAML or JSON config file`);
    }
    return { given: flagValue, source, absolutePath: resolve(input.cwd, flagValue) };
  }
  const envValue = input.env?.[CONFIG_FILE_ENV];
  if (envValue !== undefined && envValue !== "") {
    return { given: envValue, source: { kind: "env", variable: CONFIG_FILE_ENV }, absolutePath: resolve(input.cwd, envValue) };
  }
  return undefined;
}

/**
 * Reads and parses a config file: `.json` as JSON, `.toml` as TOML, anything else as YAML. Failures are
 * INVALID_ARGUMENT naming the file.
 */
export function readConfigFile(location: ConfigFileLocation): ConfigFile {
  const named = `config file ${location.given} (from ${describeSource(location.source)})`;
  let text: string;
  try {
    text = readFileSync(location.absolutePath, "utf8");
  } catch (cause) {
    throw new StowageError("INVALID_ARGUMENT", `cannot read ${named}: ${describeReadError(cause)}`, { cause });
  }
  return { path: location.given, absolutePath: location.absolutePath, contents: parseConfigText(text, location.given, named) };
}

/** The config formats, by how a file's name ends; any other name is YAML. */
const FORMATS: Record<string, { name: string; parse: (text: string) => unknown }> = {
  ".json": { name: "JSON", parse: (text) => JSON.parse(text) as unknown },
  ".toml": { name: "TOML", parse: (text) => load<typeof import("smol-toml")>("smol-toml").parse(text) },
};
const YAML = { name: "YAML", parse: (text: string) => load<typeof import("yaml")>("yaml").parse(text) as unknown };

/**
 * Parses config text by its file's name (see {@link FORMATS}). JSON files get JSON's stricter parser and messages;
 * YAML 1.2 reads JSON too, so an oddly named JSON file still works. Duplicate keys and multiple documents are errors,
 * not silently merged (TOML forbids redefining a key or table).
 */
export function parseConfigText(text: string, path: string, named = `config file ${path}`): unknown {
  // Editors on Windows may save a byte-order mark, which JSON.parse rejects.
  const body = text.startsWith("\uFEFF") ? text.slice(1) : text;
  const format = FORMATS[extname(path).toLowerCase()] ?? YAML;
  try {
    return format.parse(body);
  } catch (cause) {
    // yaml's and smol-toml's messages end in a multi-line code frame; the first line has the reason and the place.
    const reason = String((cause as Error)?.message ?? cause).split("\n")[0]?.replace(/:$/, "");
    const { line, column } = (cause ?? {}) as { line?: unknown; column?: unknown };
    const place = format.name === "TOML" && typeof line === "number" ? ` (line ${line}, column ${String(column)})` : "";
    throw new StowageError("INVALID_ARGUMENT", `${named} is not valid ${format.name}: ${reason}${place}`, { cause });
  }
}

/**
 * A parser package, loaded on first use: yaml is a third of the CLI's start-up time, and most runs have no config
 * file. `require` keeps config loading synchronous, which a dynamic `import()` would not.
 */
function load<T>(name: string): T {
  return createRequire(import.meta.url)(name) as T;
}

function describeReadError(cause: unknown): string {
  const code = (cause as NodeJS.ErrnoException)?.code;
  if (code === "ENOENT") return "no such file";
  if (code === "EISDIR") return "it is a folder";
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  return String((cause as Error)?.message ?? cause);
}
