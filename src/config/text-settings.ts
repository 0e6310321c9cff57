import { resolve } from "node:path";
import { STORAGE_FIELD_NAMES, STORAGE_FIELDS, invalidSetting, type PartialSettings, type StorageField } from "./fields.js";
import type { ConfigEnv, ConfigFlags } from "./inputs.js";
import type { SettingSource } from "./sources.js";

/**
 * The settings given as CLI flags. A relative `--storage-path` is resolved against `cwd`, where the user typed it.
 * A flag given with an empty value is an error (it was typed on purpose), unlike an empty environment variable.
 */
export function settingsFromFlags(flags: ConfigFlags, cwd: string): PartialSettings {
  return settingsFromText(cwd, (field) => {
    const flag = STORAGE_FIELDS[field].flag;
    return { value: flags[flag], source: { kind: "flag", flag } };
  });
}

/**
 * The settings given as `STOWAGE_STORAGE_*` variables. Empty variables count as unset: shells, compose files and
 * CI systems export empty values for "not configured". A relative path is resolved against `cwd`.
 */
export function settingsFromEnv(env: ConfigEnv, cwd: string): PartialSettings {
  return settingsFromText(cwd, (field) => {
    const variable = STORAGE_FIELDS[field].env;
    const value = env[variable];
    return { value: value === "" ? undefined : value, source: { kind: "env", variable } };
  });
}

function settingsFromText(cwd: string, lookup: (field: StorageField) => { value: unknown; source: SettingSource }): PartialSettings {
  const settings: Record<string, unknown> = {};
  for (const field of STORAGE_FIELD_NAMES) {
    const { value, source } = lookup(field);
    if (value === undefined) continue;
    // A boolean here means a caller declared the flag without a value; report it like any other bad value.
    const parsed = typeof value === "string" ? STORAGE_FIELDS[field].fromText(value) : undefined;
    if (parsed === undefined) throw invalidSetting(field, source, value);
    settings[field] = field === "path" ? resolve(cwd, parsed as string) : parsed;
  }
  return settings as PartialSettings;
}
