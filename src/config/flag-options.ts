import type { ParseArgsConfig } from "node:util";
import { CONFIG_FILE_FLAG } from "./config-file.js";
import { STORAGE_FIELD_NAMES, STORAGE_FIELDS } from "./fields.js";

/**
 * The configuration flags as `node:util` `parseArgs` options (`--config` and `--storage-*`), built from the settings
 * table so that a CLI accepts exactly the flags the configuration reads.
 */
export const CONFIG_FLAG_OPTIONS: NonNullable<ParseArgsConfig["options"]> = Object.fromEntries([
  [CONFIG_FILE_FLAG, { type: "string" }],
  ...STORAGE_FIELD_NAMES.map((field) => [STORAGE_FIELDS[field].flag, { type: "string" }] as const),
]);
