import { resolve } from "node:path";
import { StowageError } from "../api/errors.js";
import type { EngineField } from "../engines/descriptor.js";
import { findEngine } from "../engines/registry.js";
import { DEFAULT_BACKEND, type OpenStoreOptions, type RoutedStoreOptions } from "../open-store.js";
import type { ConfigFile } from "./config-file.js";
import { storageSettings } from "./fields.js";
import { providersFromFile, settingsFromFile } from "./file-settings.js";
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
  const { cwd } = input;
  // Every layer is parsed (and so checked) even where a higher one overrides it: a broken file should not go
  // unnoticed until the day the flag that masks it is removed.
  const fromFile = input.file === undefined ? {} : settingsFromFile(input.file);
  const fromEnv = settingsFromEnv(input.env ?? {}, cwd);
  const fromFlags = settingsFromFlags(input.argvFlags ?? {}, cwd);
  const routed = input.file === undefined ? undefined : providersFromFile(input.file);
  if (routed !== undefined) {
    const single = [...Object.keys(fromFlags).map((field) => `--${flagOf(field)}`), ...Object.keys(fromEnv).map((field) => envOf(field))];
    if (single.length > 0) {
      throw new StowageError(
        "INVALID_ARGUMENT",
        `config file ${input.file!.path} names providers, but ${single.join(", ")} configure${single.length === 1 ? "s" : ""} one store: set a provider's fields as STOWAGE_PROVIDERS_<NAME>_<FIELD> instead`,
      );
    }
    return resolveProviders(routed, input.env ?? {}, cwd);
  }
  return optionsOf({ backend: DEFAULT_BACKEND, ...fromFile, ...fromEnv, ...fromFlags }, cwd, "storage.");
}

/**
 * A store over the file's providers: each provider's settings from the file, under its variables
 * (`STOWAGE_PROVIDERS_COORD_ENDPOINTS` for provider `coord`), with `STOWAGE_ROUTES` (`leases=coord,jobs.*=shared`)
 * and `STOWAGE_DEFAULT_PROVIDER` over the file's routing.
 */
function resolveProviders(routed: NonNullable<ReturnType<typeof providersFromFile>>, env: ConfigEnv, cwd: string): RoutedStoreOptions {
  const providers: Record<string, OpenStoreOptions> = {};
  for (const [name, fromFile] of Object.entries(routed.providers)) {
    const fromEnv = settingsFromEnv(env, cwd, providerEnvPrefix(name));
    providers[name] = optionsOf({ backend: DEFAULT_BACKEND, ...fromFile, ...fromEnv }, cwd, `providers.${name}.`);
  }
  const routes = env.STOWAGE_ROUTES ? routesFromText(env.STOWAGE_ROUTES) : routed.routes;
  const defaultProvider = env.STOWAGE_DEFAULT_PROVIDER || routed.defaultProvider;
  return { providers, routes, ...(defaultProvider === undefined ? {} : { defaultProvider }) };
}

/** How a provider's variables start: `STOWAGE_PROVIDERS_COORD_` for `coord` (`-` becomes `_`). */
export function providerEnvPrefix(name: string): string {
  return `STOWAGE_PROVIDERS_${name.toUpperCase().replace(/-/g, "_")}_`;
}

/** `leases=coord,jobs.*=shared` as routes; a pair without `=` is INVALID_ARGUMENT. */
function routesFromText(text: string): Record<string, string> {
  const routes: Record<string, string> = {};
  for (const pair of text.split(",").map((part) => part.trim()).filter((part) => part !== "")) {
    const at = pair.indexOf("=");
    if (at <= 0 || at === pair.length - 1) {
      throw new StowageError("INVALID_ARGUMENT", `STOWAGE_ROUTES must be namespace=provider pairs separated by commas (leases=coord,jobs.*=shared); got ${JSON.stringify(pair)}`);
    }
    routes[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
  }
  return routes;
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
