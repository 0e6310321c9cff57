/**
 * Configuration of a store from a YAML, JSON or TOML file, `STOWAGE_*` environment variables and CLI flags.
 * @packageDocumentation
 */
export { resolveConfig } from "./resolve-config.js";
export type { ResolveConfigInput } from "./resolve-config.js";
export { loadConfig } from "./load-config.js";
export type { LoadConfigInput } from "./load-config.js";
export { CONFIG_FILE_ENV, CONFIG_FILE_FLAG, locateConfigFile, parseConfigText, readConfigFile } from "./config-file.js";
export type { ConfigFile, ConfigFileLocation } from "./config-file.js";
export { STORAGE_FIELDS, STORAGE_FIELD_NAMES, storageSettings } from "./fields.js";
export type { Backend, FieldSpec, PartialSettings, StorageField, StorageSettings } from "./fields.js";
export { CONFIG_FLAG_OPTIONS, configFlagOptions } from "./flag-options.js";
export type { ConfigEnv, ConfigFlags } from "./inputs.js";
export { describeSource } from "./sources.js";
export type { SettingSource } from "./sources.js";
