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
 * The settings given as `STOWAGE_STORAGE_*` variables. Empty variables count as unset: shells, compose files and
 * CI systems export empty values for "not configured". A relative path is resolved against `cwd`.
 */
export function settingsFromEnv(env: ConfigEnv, cwd: string): Record<string, unknown> {
  return settingsFromText(cwd, (setting) => {
    const value = env[setting.env];
    return { value: value === "" ? undefined : value, source: { kind: "env", variable: setting.env } };
  });
}

/**
 * One setting's value given as text (a flag, a variable), parsed; a relative path resolved against `cwd`. A value
 * the setting does not accept is INVALID_ARGUMENT naming `source`.
 */
export function textValue(setting: FieldSpec, value: unknown, source: SettingSource, cwd: string): unknown {
  // A boolean here means a caller declared the flag without a value; report it like any other bad value.
  const parsed = typeof value === "string" ? setting.fromText(value) : undefined;
  if (parsed === undefined) throw invalidSetting(setting, source, value);
  return setting.type === "path" ? resolve(cwd, parsed as string) : parsed;
}

function settingsFromText(cwd: string, lookup: (setting: FieldSpec) => { value: unknown; source: SettingSource }): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const setting of storageSettings()) {
    const { value, source } = lookup(setting);
    if (value !== undefined) values[setting.file] = textValue(setting, value, source, cwd);
  }
  return values;
}
