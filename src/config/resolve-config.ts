import { resolve } from "node:path";
import { StowageError } from "../api/errors.js";
import type { OpenStoreOptions, PostgresStoreOptions } from "../open-store.js";
import type { ConfigFile } from "./config-file.js";
import { CONFIG_DEFAULTS } from "./defaults.js";
import type { StorageSettings } from "./fields.js";
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
 * by field. Pure: it reads no file and no global state, so every precedence rule is testable with plain objects.
 * Every value is checked; a bad one is INVALID_ARGUMENT naming its source and what it accepts. The returned path is
 * absolute.
 *
 * Each backend takes only its own settings: those of other backends from lower layers are dropped rather than refused,
 * so that `STOWAGE_STORAGE_BACKEND=memory` can override a file that configures a SQLite path.
 * The postgres backend needs a DSN from some layer.
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
  const defaults = { ...CONFIG_DEFAULTS, path: resolve(cwd, CONFIG_DEFAULTS.path) };
  const settings: Partial<StorageSettings> & typeof defaults = { ...defaults, ...fromFile, ...fromEnv, ...fromFlags };

  if (settings.backend === "memory") return { backend: "memory" };
  if (settings.backend === "postgres") return postgresOptions(settings);
  const options: OpenStoreOptions = { backend: "sqlite", path: settings.path };
  // Unset values stay absent so that openStore's defaults apply.
  if (settings.durability !== undefined) options.durability = settings.durability;
  if (settings.busyTimeoutMs !== undefined) options.busyTimeoutMs = settings.busyTimeoutMs;
  return options;
}

function postgresOptions(settings: Partial<StorageSettings>): PostgresStoreOptions {
  if (settings.dsn === undefined) {
    throw new StowageError(
      "INVALID_ARGUMENT",
      "the postgres backend needs a DSN: set --storage-dsn, STOWAGE_STORAGE_DSN or storage.dsn in the config file",
    );
  }
  const options: PostgresStoreOptions = { backend: "postgres", dsn: settings.dsn };
  if (settings.schema !== undefined) options.schema = settings.schema;
  if (settings.poolSize !== undefined) options.poolSize = settings.poolSize;
  if (settings.connectTimeoutMs !== undefined) options.connectTimeoutMs = settings.connectTimeoutMs;
  if (settings.statementTimeoutMs !== undefined) options.statementTimeoutMs = settings.statementTimeoutMs;
  return options;
}
