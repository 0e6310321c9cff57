import { dirname, resolve } from "node:path";
import { StowageError } from "../api/errors.js";
import type { ConfigFile } from "./config-file.js";
import { invalidSetting, storageSettings } from "./fields.js";
import { describeValue } from "./sources.js";

/** The top-level sections a config file may have. */
const SECTIONS = ["storage"] as const;

/**
 * The settings of a parsed config file (`storage: { backend, path, durability, busyTimeoutMs }`), by file field name.
 * Unknown sections and fields are errors: a misspelt `durabilty` would otherwise be ignored and the default silently
 * used. A relative path (a `path` field) is resolved against the file's folder, so the file means the same wherever
 * the command runs from.
 */
export function settingsFromFile(file: ConfigFile): Record<string, unknown> {
  const where = `in ${file.path}`;
  // An empty file (or one with everything commented out) parses to null: it configures nothing.
  if (file.contents === null || file.contents === undefined) return {};
  const top = asMapping(file.contents, `config file ${file.path}`, `a mapping with a "storage" section`);
  rejectUnknown(top, SECTIONS, (name) => `unknown section ${JSON.stringify(name)} ${where}`);
  if (top.storage === null || top.storage === undefined) return {};
  const settings = storageSettings();
  const names = settings.map((setting) => setting.file);
  const storage = asMapping(top.storage, `storage ${where}`, `a mapping of ${names.join(", ")}`);
  rejectUnknown(storage, names, (name) => `unknown field storage.${name} ${where}`);

  const values: Record<string, unknown> = {};
  for (const setting of settings) {
    const value = storage[setting.file];
    if (value === undefined) continue;
    const parsed = setting.fromFile(value);
    if (parsed === undefined) throw invalidSetting(setting, { kind: "file", field: `storage.${setting.file}`, file: file.path }, value);
    values[setting.file] = setting.type === "path" ? resolve(dirname(file.absolutePath), parsed as string) : parsed;
  }
  return values;
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
