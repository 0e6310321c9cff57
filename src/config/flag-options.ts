import type { ParseArgsConfig } from "node:util";
import { CONFIG_FILE_FLAG } from "./config-file.js";
import { STORAGE_FIELD_NAMES, STORAGE_FIELDS, storageSettings } from "./fields.js";
import { PROVIDER_FLAG_OPTIONS } from "./provider-text.js";

type FlagOptions = NonNullable<ParseArgsConfig["options"]>;

function flagOptions(flags: readonly string[]): FlagOptions {
  return { ...Object.fromEntries([CONFIG_FILE_FLAG, ...flags].map((flag) => [flag, { type: "string" }] as const)), ...PROVIDER_FLAG_OPTIONS };
}

/**
 * The configuration flags as `node:util` `parseArgs` options (`--config`, `--storage-*` of every engine registered
 * now, and a store over providers' repeatable `--provider` and `--route` and `--default-provider`), so that a CLI
 * accepts exactly the flags the configuration reads.
 */
export function configFlagOptions(): FlagOptions {
  return flagOptions(storageSettings().map((setting) => setting.flag));
}

/** {@link configFlagOptions} of the built-in engines. */
export const CONFIG_FLAG_OPTIONS: FlagOptions = flagOptions(STORAGE_FIELD_NAMES.map((field) => STORAGE_FIELDS[field].flag));
