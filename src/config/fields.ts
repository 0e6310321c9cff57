import { isStowageError, StowageError } from "../api/errors.js";
import type { CompositeEngineOptions } from "../engines/composite/descriptor.js";
import type { EngineField, FieldType } from "../engines/descriptor.js";
import { BUILT_IN_ENGINES, engineDescriptors } from "../engines/registry.js";
import type { Durability } from "../engines/sqlite/sqlite-engine.js";
import type { BACKENDS } from "../open-store.js";
import { describeSource, describeValue, type SettingSource } from "./sources.js";

/** A built-in backend name; `openStore` also accepts engines added with `registerEngine`. */
export type Backend = (typeof BACKENDS)[number];

/** Every storage setting of the built-in engines (a composite provider's own included). */
export interface StorageSettings extends CompositeEngineOptions {
  backend: Backend;
  path: string;
  durability: Durability;
  busyTimeoutMs: number;
  dsn: string;
  schema: string;
  poolSize: number;
  workPoolSize: number;
  readPoolSize: number;
  connectTimeoutMs: number;
  statementTimeoutMs: number;
  url: string;
  endpoints: string;
  prefix: string;
  connectionString: string;
  table: string;
  requestTimeoutMs: number;
  tlsCaFile: string;
  tlsCertFile: string;
  tlsKeyFile: string;
  username: string;
  password: string;
  snapshotPath: string;
  snapshotIntervalMs: number;
}

/** The settings one configuration layer supplies; absent fields fall through to the layer below. */
export type PartialSettings = Partial<StorageSettings>;

/** A name of a built-in storage setting; it is also its field name in the `storage` section of a config file. */
export type StorageField = keyof StorageSettings;

/** How one storage setting is named in each source and which values it takes. */
export interface FieldSpec<K extends StorageField = StorageField> {
  /** Its field in a config file's `storage` section. */
  file: string;
  /** The environment variable. */
  env: string;
  /** The CLI flag, without the leading `--`. */
  flag: string;
  /** How text reads and where a relative path points (see `FieldType`). */
  type: FieldType;
  /** What the setting accepts, for error messages. */
  accepts: string;
  /** A secret (a password): errors never quote its value. */
  secret?: boolean;
  /** Reads a value given as text (flag, environment); undefined when the text is not acceptable. */
  fromText(text: string): StorageSettings[K] | undefined;
  /** Reads a value from a parsed YAML, JSON or TOML file, which has types; undefined when it is not acceptable. */
  fromFile(value: unknown): StorageSettings[K] | undefined;
}

/** The backend setting: one of the registered engines' names. */
function backendSetting(names: readonly string[]): FieldSpec<"backend"> {
  const oneOf = (value: unknown) => (names.includes(value as string) ? (value as Backend) : undefined);
  return { file: "backend", env: "STOWAGE_STORAGE_BACKEND", flag: "storage-backend", type: "string", accepts: `one of ${names.join(", ")}`, fromText: oneOf, fromFile: oneOf };
}

/** An engine's field as the configuration reads it: it accepts exactly the values `openStore` accepts. */
function settingOf(field: EngineField): FieldSpec {
  const accepted = (value: unknown) => {
    try {
      field.check(value);
      return value as never;
    } catch (error) {
      if (isStowageError(error, "INVALID_ARGUMENT")) return undefined;
      throw error;
    }
  };
  return {
    file: field.file,
    env: field.env,
    flag: field.flag,
    type: field.type,
    accepts: field.accepts,
    secret: field.secret,
    // Text must be plain digits: `Number("")`, `Number("1e3")` and `Number(" 5 ")` would all slip through otherwise.
    fromText: (text) => (field.type !== "integer" ? accepted(text) : /^[0-9]+$/.test(text) ? accepted(Number(text)) : undefined),
    fromFile: accepted,
  };
}

/** The settings of these engines: `backend`, then each field once (engines may share one, see `registerEngine`). */
function settingsOf(engines: readonly { name: string; fields: readonly EngineField[] }[]): FieldSpec[] {
  const settings: FieldSpec[] = [backendSetting(engines.map((engine) => engine.name)) as FieldSpec];
  for (const field of engines.flatMap((engine) => engine.fields)) {
    if (!settings.some((setting) => setting.file === field.file)) settings.push(settingOf(field));
  }
  return settings;
}

/**
 * Every storage setting the configuration reads, from the engines registered now: names in every source, accepted
 * values and parsers. An engine's fields give its file fields, environment variables and CLI flags together.
 */
export function storageSettings(): FieldSpec[] {
  return settingsOf(engineDescriptors());
}

/** The built-in engines' settings by name (`storageSettings()` has those of registered engines too). */
export const STORAGE_FIELDS: { readonly [K in StorageField]: FieldSpec<K> } = Object.fromEntries(
  settingsOf(BUILT_IN_ENGINES).map((setting) => [setting.file, setting]),
) as { readonly [K in StorageField]: FieldSpec<K> };

/** The built-in storage setting names, in the order documentation lists them. */
export const STORAGE_FIELD_NAMES = Object.keys(STORAGE_FIELDS) as StorageField[];

/** The INVALID_ARGUMENT for a value a source gave that the setting does not accept. */
export function invalidSetting(setting: FieldSpec, source: SettingSource, value: unknown): StowageError {
  return new StowageError("INVALID_ARGUMENT", `${describeSource(source)} must be ${setting.accepts}; got ${setting.secret === true ? "a value not shown (a secret)" : describeValue(value)}`);
}
