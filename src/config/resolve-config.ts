import { resolve } from "node:path";
import { StowageError } from "../api/errors.js";
import type { EngineField } from "../engines/descriptor.js";
import { findEngine } from "../engines/registry.js";
import { DEFAULT_BACKEND, type OpenStoreOptions, type RoutedStoreOptions } from "../open-store.js";
import type { ConfigFile } from "./config-file.js";
import { storageSettings } from "./fields.js";
import { backupFromFile, providersFromFile, settingsFromFile } from "./file-settings.js";
import { checkBackupOptions, type ScheduledBackupOptions } from "../wrappers/scheduled-backups.js";
import { targetRelativeTo } from "../operations/backup-targets/target-url.js";
import { providersFromEnv, providersFromFlags, routesFromFlags, routesFromPairs } from "./provider-text.js";
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
export function resolveConfig(input: ResolveConfigInput): OpenStoreOptions | RoutedStoreOptions {
  const backup = backupOf(input);
  const options = storeOptionsOf(input);
  return backup === undefined ? options : { ...options, backup };
}

/** The environment variables of scheduled backups, by option. */
const BACKUP_ENV = { to: "STOWAGE_BACKUP_TO", intervalMs: "STOWAGE_BACKUP_INTERVAL_MS", keep: "STOWAGE_BACKUP_KEEP", maxAgeMs: "STOWAGE_BACKUP_MAX_AGE_MS", namePrefix: "STOWAGE_BACKUP_NAME_PREFIX" } as const;

/** Scheduled backups: the file's `backup` section under the `STOWAGE_BACKUP_*` variables, field by field; checked. */
function backupOf(input: ResolveConfigInput): ScheduledBackupOptions | undefined {
  const settings: Record<string, unknown> = { ...(input.file === undefined ? {} : backupFromFile(input.file)) };
  for (const [option, variable] of Object.entries(BACKUP_ENV)) {
    const text = input.env?.[variable];
    if (text === undefined || text === "") continue;
    if (option === "to") settings.to = targetRelativeTo(input.cwd, text);
    else if (option === "namePrefix") settings.namePrefix = text;
    else if (/^[0-9]+$/.test(text)) settings[option] = Number(text);
    else throw new StowageError("INVALID_ARGUMENT", `${variable} must be a whole number; got ${JSON.stringify(text)}`);
  }
  if (Object.keys(settings).length === 0) return undefined;
  checkBackupOptions(settings);
  return settings as unknown as ScheduledBackupOptions;
}

function storeOptionsOf(input: ResolveConfigInput): OpenStoreOptions | RoutedStoreOptions {
  const { cwd } = input;
  // Every layer is parsed (and so checked) even where a higher one overrides it: a broken file should not go
  // unnoticed until the day the flag that masks it is removed.
  const env = input.env ?? {};
  const flags = input.argvFlags ?? {};
  const fromFile = input.file === undefined ? {} : settingsFromFile(input.file);
  const fromEnv = settingsFromEnv(env, cwd);
  const fromFlags = settingsFromFlags(flags, cwd);
  const fileProviders = input.file === undefined ? undefined : providersFromFile(input.file);
  const envProviders = providersFromEnv(env, cwd, Object.keys(fileProviders?.providers ?? {}));
  const flagProviders = providersFromFlags(flags, cwd);
  const flagRoutes = routesFromFlags(flags);
  const flagDefault = flags["default-provider"];
  const routedByText = envProviders.size > 0 || flagProviders.size > 0 || flagRoutes !== undefined || flagDefault !== undefined || Boolean(env.STOWAGE_ROUTES) || Boolean(env.STOWAGE_DEFAULT_PROVIDER);
  if (fileProviders !== undefined || routedByText) {
    const single = [...Object.keys(fromFlags).map((field) => `--${flagOf(field)}`), ...Object.keys(fromEnv).map((field) => envOf(field)), ...(Object.keys(fromFile).length > 0 ? [`storage in ${input.file!.path}`] : [])];
    if (single.length > 0) {
      throw new StowageError(
        "INVALID_ARGUMENT",
        `providers are configured, but ${single.join(", ")} configure${single.length === 1 ? "s" : ""} one store: set a provider's fields in the file's providers section, as STOWAGE_PROVIDERS_<NAME>_<FIELD> or as --provider <name>.<field>=<value> instead`,
      );
    }
    if (flagDefault !== undefined && typeof flagDefault !== "string") throw new StowageError("INVALID_ARGUMENT", "--default-provider needs a provider name");
    const names = [...new Set([...Object.keys(fileProviders?.providers ?? {}), ...envProviders.keys(), ...flagProviders.keys()])];
    const providers: Record<string, OpenStoreOptions> = {};
    for (const name of names) {
      const settings = { backend: DEFAULT_BACKEND, ...fileProviders?.providers[name], ...envProviders.get(name), ...flagProviders.get(name) };
      providers[name] = optionsOf(settings, cwd, `providers.${name}.`);
    }
    const routes = flagRoutes ?? (env.STOWAGE_ROUTES ? routesFromPairs(env.STOWAGE_ROUTES.split(","), "STOWAGE_ROUTES") : (fileProviders?.routes ?? {}));
    const defaultProvider = (flagDefault as string | undefined) || env.STOWAGE_DEFAULT_PROVIDER || fileProviders?.defaultProvider;
    return { providers, routes, ...(defaultProvider === undefined ? {} : { defaultProvider }) };
  }
  return optionsOf({ backend: DEFAULT_BACKEND, ...fromFile, ...fromEnv, ...fromFlags }, cwd, "storage.");
}

/** One store's options from its settings by file field name: the chosen backend's fields, with their defaults. */
function optionsOf(settings: Record<string, unknown>, cwd: string, fileSection: string): OpenStoreOptions {
  // The backend setting accepts registered names only.
  const engine = findEngine(settings.backend)!;
  const options: Record<string, unknown> = { backend: engine.name };
  for (const field of engine.fields) {
    const value = settings[field.file] ?? pathDefault(field, cwd);
    if (value !== undefined) options[field.option] = value;
    else if (field.required !== undefined) throw missing(engine.name, field, fileSection);
  }
  return options as OpenStoreOptions;
}

function flagOf(file: string): string {
  return storageSettings().find((setting) => setting.file === file)?.flag ?? file;
}

function envOf(file: string): string {
  return storageSettings().find((setting) => setting.file === file)?.env ?? file;
}

/**
 * A path's default, resolved against `cwd` (openStore would resolve it against the process's working folder). Other
 * defaults stay unset, so that `openStore`'s (the engine descriptor's) apply and are never restated.
 */
function pathDefault(field: EngineField, cwd: string): string | undefined {
  return field.type === "path" && field.default !== undefined ? resolve(cwd, String(field.default)) : undefined;
}

function missing(backend: string, field: EngineField, fileSection: string): StowageError {
  const where = fileSection === "storage." ? `--${field.flag}, ${field.env} or storage.${field.file} in the config file` : `${fileSection}${field.file} in the config file`;
  return new StowageError("INVALID_ARGUMENT", `the ${backend} backend needs ${field.required}: set ${where}`);
}
