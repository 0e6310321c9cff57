import { dirname, resolve } from "node:path";
import { StowageError } from "../api/errors.js";
import type { ConfigFile } from "./config-file.js";
import { STORAGE_FIELD_NAMES, STORAGE_FIELDS, invalidSetting, type PartialSettings } from "./fields.js";
import { describeValue } from "./sources.js";

/** The top-level sections a config file may have. */
const SECTIONS = ["storage"] as const;

/**
 * The settings of a parsed config file (`storage: { backend, path, durability, busyTimeoutMs }`). Unknown sections
 * and fields are errors: a misspelt `durabilty` would otherwise be ignored and the default silently used. A relative
 * `storage.path` is resolved against the file's folder, so the file means the same wherever the command runs from.
 */
export function settingsFromFile(file: ConfigFile): PartialSettings {
  const where = `in ${file.path}`;
  // An empty file (or one with everything commented out) parses to null: it configures nothing.
  if (file.contents === null || file.contents === undefined) return {};
  const top = asMapping(file.contents, `config file ${file.path}`, `a mapping with a "storage" section`);
  rejectUnknown(top, SECTIONS, (name) => `unknown section ${JSON.stringify(name)} ${where}`);
  if (top.storage === null || top.storage === undefined) return {};
  const storage = asMapping(top.storage, `storage ${where}`, `a mapping of ${STORAGE_FIELD_NAMES.join(", ")}`);
  rejectUnknown(storage, STORAGE_FIELD_NAMES, (name) => `unknown field storage.${name} ${where}`);

  const settings: Record<string, unknown> = {};
  for (const field of STORAGE_FIELD_NAMES) {
    const value = storage[field];
    if (value === undefined) continue;
    const parsed = STORAGE_FIELDS[field].fromFile(value);
    if (parsed === undefined) throw invalidSetting(field, { kind: "file", field: `storage.${field}`, file: file.path }, value);
    settings[field] = field === "path" ? resolve(dirname(file.absolutePath), parsed as string) : parsed;
  }
  return settings as PartialSettings;
}

function asMapping(value: unknown, what: string, expected: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new StowageError("INVALID_ARGUMENT", `${what} must be ${expected}; got ${describeValue(value)}`);
  }
  return value as Record<string, unknown>;
}

function rejectUnknown(mapping: Record<string, unknown>, known: readonly string[], describe: (name: string) => string): void {
  for (const name of Object.keys(mapping)) {
    if (!known.includes(name)) {
      throw new StowageError("INVALID_ARGUMENT", `${describe(name)}; it accepts ${known.join(", ")}`);
    }
  }
}
