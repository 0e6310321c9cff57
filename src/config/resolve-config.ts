import { resolve } from "node:path";
import { StowageError } from "../api/errors.js";
import type { EngineField } from "../engines/descriptor.js";
import { findEngine } from "../engines/registry.js";
import { DEFAULT_BACKEND, type OpenStoreOptions } from "../open-store.js";
import type { ConfigFile } from "./config-file.js";
import { settingsFromFile } from "./file-settings.js";
import type { ConfigEnv, ConfigFlags } from "./inputs.js";
import { settingsFromEnv, settingsFromFlags } from "./text-settings.js";

/** What {@link resolveConfig} combines. */
export interface ResolveConfigInput {
  /** Parsed CLI flags (`parseArgs` values); only the configuration flags are read. */
  argvFlags?: ConfigFlags;
  /** Environment variables; only `STOWAGE_STORAGE_*` are read. */
  env?: ConfigEnv;
  /** The folder relative paths from flags, variables and the default are resolved against. */
  cwd: string;
  /** The config file, already read (see {@link readConfigFile}); absent when none is configured. */
  file?: ConfigFile;
}

/**
 * Combines the configuration layers into `openStore` options: flags over environment over file over defaults, field
 * by field. Pure: it reads no file and no global state but the registered engines, so every precedence rule is
 * testable with plain objects. Every value is checked; a bad one is INVALID_ARGUMENT naming its source and what it
 * accepts. Paths are absolute.
 *
 * Each backend takes only its own settings: those of other backends from lower layers are dropped rather than refused,
 * so that `STOWAGE_STORAGE_BACKEND=memory` can override a file that configures a SQLite path.
 * A backend's required settings (the postgres DSN) must come from some layer.
 *
 * @example
 * ```ts
 * resolveConfig({ argvFlags: { "storage-backend": "memory" }, env: process.env, cwd: process.cwd() });
 * // { backend: "memory" }
 * ```
 */
export function resolveConfig(input: ResolveConfigInput): OpenStoreOptions {
  const { cwd } = input;
  // Every layer is parsed (and so checked) even where a higher one overrides it: a broken file should not go
  // unnoticed until the day the flag that masks it is removed.
  const fromFile = input.file === undefined ? {} : settingsFromFile(input.file);
  const fromEnv = settingsFromEnv(input.env ?? {}, cwd);
  const fromFlags = settingsFromFlags(input.argvFlags ?? {}, cwd);
  const settings: Record<string, unknown> = { backend: DEFAULT_BACKEND, ...fromFile, ...fromEnv, ...fromFlags };

  // The backend setting accepts registered names only.
  const engine = findEngine(settings.backend)!;
  const options: Record<string, unknown> = { backend: engine.name };
  for (const field of engine.fields) {
    const value = settings[field.file] ?? pathDefault(field, cwd);
    if (value !== undefined) options[field.option] = value;
    else if (field.required !== undefined) throw missing(engine.name, field);
  }
  return options as OpenStoreOptions;
}

/**
 * A path's default, resolved against `cwd` (openStore would resolve it against the process's working folder). Other
 * defaults stay unset, so that `openStore`'s (the engine descriptor's) apply and are never restated.
 */
function pathDefault(field: EngineField, cwd: string): string | undefined {
  return field.type === "path" && field.default !== undefined ? resolve(cwd, String(field.default)) : undefined;
}

function missing(backend: string, field: EngineField): StowageError {
  return new StowageError(
    "INVALID_ARGUMENT",
    `the ${backend} backend needs ${field.required}: set --${field.flag}, ${field.env} or storage.${field.file} in the config file`,
  );
}
