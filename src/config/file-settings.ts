import { dirname, resolve } from "node:path";
import { StowageError } from "../api/errors.js";
import type { ConfigFile } from "./config-file.js";
import { invalidSetting, storageSettings } from "./fields.js";
import { describeValue } from "./sources.js";
import { targetRelativeTo } from "../operations/backup-targets/target-url.js";

/** The top-level sections a config file may have: one store's `storage`, or named `providers` and their routing. */
const SECTIONS = ["storage", "providers", "routes", "defaultProvider", "backup"] as const;

/**
 * The settings of a parsed config file (`storage: { backend, path, durability, busyTimeoutMs }`), by file field name.
 * Unknown sections and fields are errors: a misspelt `durabilty` would otherwise be ignored and the default silently
 * used. A relative path (a `path` field) is resolved against the file's folder, so the file means the same wherever
 * the command runs from.
 */
export function settingsFromFile(file: ConfigFile): Record<string, unknown> {
  const top = topOf(file);
  if (top.storage === null || top.storage === undefined) return {};
  return settingsOfMapping(top.storage, "storage", file);
}

/**
 * A file's named providers and their routing (`providers: { coord: { backend: etcd, … } }`, `routes: { leases:
 * coord }`, `defaultProvider: local`), each provider's settings by file field name; undefined when it names none.
 */
export function providersFromFile(file: ConfigFile): { providers: Record<string, Record<string, unknown>>; routes: Record<string, string>; defaultProvider?: string } | undefined {
  const top = topOf(file);
  const where = `in ${file.path}`;
  if (top.providers === null || top.providers === undefined) {
    for (const section of ["routes", "defaultProvider"]) {
      if (top[section] !== undefined) throw new StowageError("INVALID_ARGUMENT", `${section} ${where} routes namespaces to providers, but the file names no providers`);
    }
    return undefined;
  }
  if (top.storage !== undefined && top.storage !== null) {
    throw new StowageError("INVALID_ARGUMENT", `config file ${file.path} has both storage (one store) and providers (several): keep one`);
  }
  const mapping = asMapping(top.providers, `providers ${where}`, "a mapping of provider names to their storage settings");
  const providers: Record<string, Record<string, unknown>> = {};
  for (const [name, settings] of Object.entries(mapping)) providers[name] = settingsOfMapping(settings, `providers.${name}`, file);
  const routes = asMapping(top.routes ?? {}, `routes ${where}`, "a mapping of namespaces (or prefixes ending in *) to provider names");
  for (const [match, provider] of Object.entries(routes)) {
    if (typeof provider !== "string") throw new StowageError("INVALID_ARGUMENT", `routes.${match} ${where} must be a provider name; got ${describeValue(provider)}`);
  }
  const defaultProvider = top.defaultProvider;
  if (defaultProvider !== undefined && typeof defaultProvider !== "string") {
    throw new StowageError("INVALID_ARGUMENT", `defaultProvider ${where} must be a provider name; got ${describeValue(defaultProvider)}`);
  }
  return { providers, routes: { ...(routes as Record<string, string>) }, ...(defaultProvider === undefined ? {} : { defaultProvider }) };
}

/**
 * A file's scheduled backups (`backup: { to, intervalMs, keep, maxAgeMs, namePrefix }`), unchecked (the caller checks
 * the whole, over the environment); a folder `to` is resolved against the file's folder. Undefined when absent.
 */
export function backupFromFile(file: ConfigFile): Record<string, unknown> | undefined {
  const top = topOf(file);
  if (top.backup === null || top.backup === undefined) return undefined;
  const mapping = asMapping(top.backup, `backup in ${file.path}`, "a mapping of to, intervalMs, keep, maxAgeMs, namePrefix");
  const to = mapping.to;
  return typeof to === "string" && to !== "" ? { ...mapping, to: targetRelativeTo(dirname(file.absolutePath), to) } : { ...mapping };
}

function topOf(file: ConfigFile): Record<string, unknown> {
  // An empty file (or one with everything commented out) parses to null: it configures nothing.
  if (file.contents === null || file.contents === undefined) return {};
  const top = asMapping(file.contents, `config file ${file.path}`, `a mapping with a "storage" section`);
  rejectUnknown(top, SECTIONS, (name) => `unknown section ${JSON.stringify(name)} in ${file.path}`);
  return top;
}

/** One mapping of storage settings (`storage`, or a provider's), checked field by field. */
function settingsOfMapping(section: unknown, name: string, file: ConfigFile): Record<string, unknown> {
  const where = `in ${file.path}`;
  const settings = storageSettings();
  const names = settings.map((setting) => setting.file);
  const mapping = asMapping(section, `${name} ${where}`, `a mapping of ${names.join(", ")}`);
  rejectUnknown(mapping, names, (field) => `unknown field ${name}.${field} ${where}`);
  const values: Record<string, unknown> = {};
  for (const setting of settings) {
    const value = mapping[setting.file];
    if (value === undefined) continue;
    const parsed = setting.fromFile(value);
    if (parsed === undefined) throw invalidSetting(setting, { kind: "file", field: `${name}.${setting.file}`, file: file.path }, value);
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
