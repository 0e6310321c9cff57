import type { Engine, EngineSupports } from "./engine.js";

/**
 * How an option's value is written as text (a flag, an environment variable) and where a relative one points:
 * - `string`: the text as it is;
 * - `path`: a file or folder; a relative one is resolved against the working folder (flags, environment, the
 *   default) or the config file's folder (a config file), so that a file means the same wherever a command runs;
 * - `integer`: plain digits only (`Number` would take `""`, `1e3` or ` 5 `); config files give a JSON/YAML number.
 */
export type FieldType = "string" | "path" | "integer";

/**
 * One option of an engine, with its name in every place it can be set: `openStore`, a config file's `storage`
 * section, a `STOWAGE_STORAGE_*` environment variable and a `--storage-*` flag. {@link settingNames} derives the three
 * other names from the option's.
 */
export interface EngineField {
  /** The `openStore` option, e.g. `busyTimeoutMs`. */
  readonly option: string;
  /** Its field in a config file's `storage` section (`storage.busyTimeoutMs`). */
  readonly file: string;
  /** Its environment variable: `STOWAGE_STORAGE_` and upper case (`STOWAGE_STORAGE_BUSY_TIMEOUT_MS`). */
  readonly env: string;
  /** Its CLI flag without the leading `--`: `storage-` and lower case (`storage-busy-timeout-ms`). */
  readonly flag: string;
  readonly type: FieldType;
  /** The value `openStore` uses when none is given; absent when the engine has no default (see `required`). */
  readonly default?: string | number;
  /**
   * Set when the engine cannot open without the option: what it is, as messages name it (`"a DSN"` makes "the
   * postgres backend needs a DSN: set --storage-dsn, …").
   */
  readonly required?: string;
  /**
   * Set for a secret (a password, or a URL that may carry one): a configuration error never quotes its value.
   * Engines keep the secret out of their location, `info`, `health` and error messages.
   */
  readonly secret?: boolean;
  /** The value's name in the usage text: `<file>`, `<n>`. */
  readonly placeholder: string;
  /** One line for the usage text and documentation. */
  readonly doc: string;
  /** What it accepts, for configuration errors: "--storage-pool-size must be a whole number ≥ 1; got 0". */
  readonly accepts: string;
  /**
   * Checks a value given to `openStore` (also `undefined`, for a required option): throws INVALID_ARGUMENT naming the
   * option. The configuration accepts exactly the values this accepts.
   */
  check(value: unknown): void;
}

/**
 * An engine as `openStore`, the configuration and the CLI see it: its name, options and how to open it. Register one
 * with `registerEngine`; the built-in ones are registered already.
 *
 * @example
 * ```ts
 * registerEngine<{ url: string }>({
 *   name: "redis",
 *   summary: "Redis: state shared by many processes",
 *   fields: [
 *     textField({
 *       option: "url", doc: "redis://host:port", placeholder: "<url>", required: "a URL", accepts: "a redis:// URL",
 *       check: (url) => {
 *         if (typeof url !== "string" || !url.startsWith("redis://")) throw new StowageError("INVALID_ARGUMENT", "url must be a redis:// URL");
 *       },
 *     }),
 *   ],
 *   open: async ({ url }) => RedisEngine.open(url), // loads its client with loadDriver
 * });
 * ```
 */
export interface EngineDescriptor<Options extends object = Record<string, unknown>> {
  /** The `backend` name: lower case letters, digits and `-`. */
  readonly name: string;
  /** One line for the usage text. */
  readonly summary: string;
  /**
   * The manifest an engine opened from this descriptor declares (its `supports`), known before any opens: for the
   * README's engine table, `stowage` usage and tools that pick an engine by capability.
   */
  readonly supports: EngineSupports;
  /**
   * Set on an engine that combines other providers of a store over providers (the composite): it opens from them,
   * never alone, its manifest is theirs, and the engine table has no row for it.
   */
  readonly combinesProviders?: boolean;
  /** The engine's options, in the order the usage text lists them. */
  readonly fields: readonly EngineField[];
  /**
   * Opens the engine. `options` holds each field's checked value under its `option` name, with the field's default
   * where none was given (an absent optional field without default stays absent). Load driver packages here, with
   * `loadDriver`, never at import time.
   */
  open(options: Options): Promise<Engine>;
}

/** The file, environment and flag names of an option, derived from its name: `poolSize` → `poolSize`, `STOWAGE_STORAGE_POOL_SIZE`, `storage-pool-size`. */
export function settingNames(option: string): Pick<EngineField, "option" | "file" | "env" | "flag"> {
  const words = option.replace(/([a-z0-9])([A-Z])/g, "$1 $2").toLowerCase().split(" ");
  return { option, file: option, env: `STOWAGE_STORAGE_${words.join("_").toUpperCase()}`, flag: `storage-${words.join("-")}` };
}
