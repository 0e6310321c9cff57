import { StowageError } from "../api/errors.js";
import { DURABILITIES, type Durability } from "../engines/sqlite/sqlite-engine.js";
import { BACKENDS, DURATION_OPTIONS, PG_DSN_PATTERN, PG_SCHEMA_PATTERN } from "../open-store.js";
import { describeSource, describeValue, type SettingSource } from "./sources.js";

/** A backend name `openStore` accepts. */
export type Backend = (typeof BACKENDS)[number];


/** Every storage setting a configuration layer may supply. */
export interface StorageSettings {
  backend: Backend;
  path: string;
  durability: Durability;
  busyTimeoutMs: number;
  dsn: string;
  schema: string;
  poolSize: number;
  connectTimeoutMs: number;
  statementTimeoutMs: number;
}

/** The settings one configuration layer supplies; absent fields fall through to the layer below. */
export type PartialSettings = Partial<StorageSettings>;

/** A name of a storage setting; it is also its field name in the `storage` section of a config file. */
export type StorageField = keyof StorageSettings;

/** How one storage setting is named in each source and which values it takes. */
export interface FieldSpec<K extends StorageField> {
  /** The environment variable. */
  env: string;
  /** The CLI flag, without the leading `--`. */
  flag: string;
  /** What the setting accepts, for error messages. */
  accepts: string;
  /** Reads a value given as text (flag, environment); undefined when the text is not acceptable. */
  fromText(text: string): StorageSettings[K] | undefined;
  /** Reads a value from a parsed YAML/JSON file, which has types; undefined when it is not acceptable. */
  fromFile(value: unknown): StorageSettings[K] | undefined;
}

function oneOf<T extends string>(choices: readonly T[]): (value: unknown) => T | undefined {
  return (value) => (choices as readonly unknown[]).includes(value) ? (value as T) : undefined;
}

const nonEmptyString = (value: unknown): string | undefined => (typeof value === "string" && value.length > 0 ? value : undefined);

const wholeNumber = (value: unknown): number | undefined =>
  typeof value === "number" && Number.isSafeInteger(value) && value >= 0 ? value : undefined;

const positive = (value: unknown): number | undefined => {
  const whole = wholeNumber(value);
  return whole !== undefined && whole > 0 ? whole : undefined;
};
const positiveText = (text: string): number | undefined => (/^[0-9]+$/.test(text) ? positive(Number(text)) : undefined);
const dsn = (value: unknown): string | undefined => (typeof value === "string" && PG_DSN_PATTERN.test(value) ? value : undefined);
const pgSchema = (value: unknown): string | undefined => (typeof value === "string" && PG_SCHEMA_PATTERN.test(value) ? value : undefined);

/** A duration setting, in the range `openStore` accepts for it (each arms a timer; see `DURATION_OPTIONS`). */
function duration<K extends keyof typeof DURATION_OPTIONS>(field: K): Pick<FieldSpec<K>, "accepts" | "fromText" | "fromFile"> {
  const { min, max } = DURATION_OPTIONS[field];
  const inRange = (value: unknown): number | undefined => {
    const whole = wholeNumber(value);
    return whole !== undefined && whole >= min && whole <= max ? whole : undefined;
  };
  return {
    accepts: `a whole number of milliseconds from ${min} to ${max}`,
    // Text must be plain digits: `Number("")`, `Number("1e3")` and `Number(" 5 ")` would all slip through otherwise.
    fromText: (text) => (/^[0-9]+$/.test(text) ? inRange(Number(text)) : undefined),
    fromFile: inRange,
  };
}

/**
 * The one table of storage settings: names in every source, accepted values and parsers. Adding a setting here adds
 * its file field, environment variable and CLI flag together.
 */
export const STORAGE_FIELDS: { readonly [K in StorageField]: FieldSpec<K> } = {
  backend: {
    env: "STOWAGE_STORAGE_BACKEND",
    flag: "storage-backend",
    accepts: `one of ${BACKENDS.join(", ")}`,
    fromText: oneOf(BACKENDS),
    fromFile: oneOf(BACKENDS),
  },
  path: {
    env: "STOWAGE_STORAGE_PATH",
    flag: "storage-path",
    accepts: "a non-empty file path",
    fromText: nonEmptyString,
    fromFile: nonEmptyString,
  },
  durability: {
    env: "STOWAGE_STORAGE_DURABILITY",
    flag: "storage-durability",
    accepts: `one of ${DURABILITIES.join(", ")}`,
    fromText: oneOf(DURABILITIES),
    fromFile: oneOf(DURABILITIES),
  },
  busyTimeoutMs: { env: "STOWAGE_STORAGE_BUSY_TIMEOUT_MS", flag: "storage-busy-timeout-ms", ...duration("busyTimeoutMs") },
  dsn: {
    env: "STOWAGE_STORAGE_DSN",
    flag: "storage-dsn",
    accepts: "a postgres:// connection string",
    fromText: dsn,
    fromFile: dsn,
  },
  schema: {
    env: "STOWAGE_STORAGE_SCHEMA",
    flag: "storage-schema",
    accepts: "a PostgreSQL schema name of a-z 0-9 _ (1 to 63 characters, not starting with a digit)",
    fromText: pgSchema,
    fromFile: pgSchema,
  },
  poolSize: {
    env: "STOWAGE_STORAGE_POOL_SIZE",
    flag: "storage-pool-size",
    accepts: "a whole number ≥ 1",
    fromText: positiveText,
    fromFile: positive,
  },
  connectTimeoutMs: { env: "STOWAGE_STORAGE_CONNECT_TIMEOUT_MS", flag: "storage-connect-timeout-ms", ...duration("connectTimeoutMs") },
  statementTimeoutMs: { env: "STOWAGE_STORAGE_STATEMENT_TIMEOUT_MS", flag: "storage-statement-timeout-ms", ...duration("statementTimeoutMs") },
};

/** The storage setting names, in the order documentation lists them. */
export const STORAGE_FIELD_NAMES = Object.keys(STORAGE_FIELDS) as StorageField[];

/** The INVALID_ARGUMENT for a value a source gave that the setting does not accept. */
export function invalidSetting(field: StorageField, source: SettingSource, value: unknown): StowageError {
  return new StowageError(
    "INVALID_ARGUMENT",
    `${describeSource(source)} must be ${STORAGE_FIELDS[field].accepts}; got ${describeValue(value)}`,
  );
}
