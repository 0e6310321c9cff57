import { StowageError } from "../api/errors.js";
import { checkInteger } from "../store/validate.js";
import { settingNames, type EngineField } from "./descriptor.js";

/** What every field builder takes: the option's name and documentation; the other names are derived from it. */
export interface FieldBasics {
  option: string;
  doc: string;
  placeholder?: string;
  default?: string | number;
  required?: string;
}

/**
 * A text option with its own check (a URL, an identifier): `check` throws INVALID_ARGUMENT naming the option, and
 * `accepts` says in a few words what it takes.
 */
export function textField(basics: FieldBasics & { accepts: string; check(value: unknown): void }): EngineField {
  return { ...settingNames(basics.option), type: "string", placeholder: "<text>", ...basics };
}

/** The longest key prefix a networked store takes ({@link keyPrefixField}). */
export const MAX_KEY_PREFIX_BYTES = 256;

/**
 * The start of every key a networked store writes (etcd, Redis, …), so that stores with other prefixes share one
 * server: one setting (`prefix`, `STOWAGE_STORAGE_PREFIX`, `--storage-prefix`) for every engine that has one, each
 * with its own default.
 */
export function keyPrefixField(basics: Omit<FieldBasics, "option">): EngineField {
  return textField({
    option: "prefix",
    placeholder: "<prefix>",
    accepts: `a key prefix of 1 to ${MAX_KEY_PREFIX_BYTES} bytes`,
    check: (prefix) => {
      if (typeof prefix !== "string" || prefix.length === 0 || Buffer.byteLength(prefix) > MAX_KEY_PREFIX_BYTES) {
        throw new StowageError("INVALID_ARGUMENT", `prefix must be a string of 1 to ${MAX_KEY_PREFIX_BYTES} bytes of UTF-8, got ${JSON.stringify(prefix)}`);
      }
    },
    ...basics,
  });
}

/** A file or folder; folders are the engine's to create. A relative path is resolved as `FieldType` says. */
export function pathField(basics: FieldBasics): EngineField {
  return {
    ...settingNames(basics.option),
    type: "path",
    placeholder: "<file>",
    accepts: "a non-empty file path",
    check: (value) => {
      if (typeof value !== "string" || value.length === 0) {
        throw new StowageError("INVALID_ARGUMENT", `${basics.option} must be a non-empty string`);
      }
    },
    ...basics,
  };
}

/** One of a few names. */
export function choiceField(basics: FieldBasics & { choices: readonly string[] }): EngineField {
  const { choices, ...rest } = basics;
  return {
    ...settingNames(basics.option),
    type: "string",
    placeholder: "<mode>",
    accepts: `one of ${choices.join(", ")}`,
    check: (value) => {
      if (!choices.includes(value as string)) {
        throw new StowageError("INVALID_ARGUMENT", `${basics.option} must be one of ${choices.join(", ")}, got ${JSON.stringify(value)}`);
      }
    },
    ...rest,
  };
}

/** A whole number in [min, max] (max defaults to the largest safe integer). */
export function wholeNumberField(basics: FieldBasics & { min: number; max?: number; accepts?: string }): EngineField {
  const { min, max = Number.MAX_SAFE_INTEGER, accepts, ...rest } = basics;
  return {
    ...settingNames(basics.option),
    type: "integer",
    placeholder: "<n>",
    accepts: accepts ?? `a whole number from ${min} to ${max}`,
    check: (value) => void checkInteger(undefined, basics.option, value, min, max),
    ...rest,
  };
}

/**
 * A duration in ms, in [min, max]. Each duration arms a timer or a driver timeout, which Node runs after 1 ms when
 * longer than `LIMITS.maxTimerMs`: so max is at most that.
 */
export function durationField(basics: FieldBasics & { min: number; max: number }): EngineField {
  return wholeNumberField({ ...basics, accepts: `a whole number of milliseconds from ${basics.min} to ${basics.max}` });
}

/**
 * A secret text (a password): any non-empty string, never quoted back (see {@link EngineField.secret}), and without
 * a default.
 */
export function secretField(basics: Omit<FieldBasics, "default" | "placeholder">): EngineField {
  const field = textField({
    placeholder: "<secret>",
    accepts: "a non-empty string",
    check: (value) => {
      if (typeof value !== "string" || value.length === 0) throw new StowageError("INVALID_ARGUMENT", `${basics.option} must be a non-empty string`);
    },
    ...basics,
  });
  return { ...field, secret: true };
}

/**
 * The TLS files of a networked engine (etcd, Redis), one setting each for every engine that has them
 * (`tlsCaFile`, `STOWAGE_STORAGE_TLS_CA_FILE`, `--storage-tls-ca-file`, …). The engine's URL scheme (`https://`,
 * `rediss://`) turns TLS on; these name the CA to trust instead of the system's and the client certificate for
 * servers that check one. Read when the store opens (see `readTlsFiles`).
 */
export function tlsFileFields(): EngineField[] {
  return [
    pathField({ option: "tlsCaFile", doc: "A PEM file of the CA that signs the server's certificate (default: the system's CAs)" }),
    pathField({ option: "tlsCertFile", doc: "A PEM client certificate, for a server that checks client certificates (with tlsKeyFile)" }),
    pathField({ option: "tlsKeyFile", doc: "The PEM private key of tlsCertFile" }),
  ];
}
