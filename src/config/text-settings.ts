import { resolve } from "node:path";
import { invalidSetting, storageSettings, type FieldSpec } from "./fields.js";
import type { ConfigEnv, ConfigFlags } from "./inputs.js";
import type { SettingSource } from "./sources.js";

/**
 * The settings given as CLI flags, by file field name. A relative path (`--storage-path`) is resolved against `cwd`,
 * where the user typed it. A flag given with an empty value is an error (it was typed on purpose), unlike an empty
 * environment variable.
 */
export function settingsFromFlags(flags: ConfigFlags, cwd: string): Record<string, unknown> {
  return settingsFromText(cwd, (setting) => ({ value: flags[setting.flag], source: { kind: "flag", flag: setting.flag } }));
}

/** How a storage variable's name starts: `STOWAGE_STORAGE_PATH`. */
export const STORAGE_ENV_PREFIX = "STOWAGE_STORAGE_";

/**
 * The settings given as `STOWAGE_STORAGE_*` variables (or, with another `prefix`, a provider's:
 * `STOWAGE_PROVIDERS_COORD_ENDPOINTS`). Empty variables count as unset: shells, compose files and CI systems export
 * empty values for "not configured". A relative path is resolved against `cwd`.
 */
export function settingsFromEnv(env: ConfigEnv, cwd: string, prefix = STORAGE_ENV_PREFIX): Record<string, unknown> {
  return settingsFromText(cwd, (setting) => {
    const variable = prefix + setting.env.slice(STORAGE_ENV_PREFIX.length);
    const value = env[variable];
    return { value: value === "" ? undefined : value, source: { kind: "env", variable } };
  });
}

function settingsFromText(cwd: string, lookup: (setting: FieldSpec) => { value: unknown; source: SettingSource }): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const setting of storageSettings()) {
    const { value, source } = lookup(setting);
    if (value === undefined) continue;
    // A boolean here means a caller declared the flag without a value; report it like any other bad value.
    const parsed = typeof value === "string" ? setting.fromText(value) : undefined;
    if (parsed === undefined) throw invalidSetting(setting, source, value);
    values[setting.file] = setting.type === "path" ? resolve(cwd, parsed as string) : parsed;
  }
  return values;
}
