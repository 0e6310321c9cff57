/**
 * Parsed command-line flags, keyed by flag name without `--` (`{ "storage-backend": "memory" }`): the `values` of
 * `node:util` `parseArgs` can be passed as is. Keys that are not configuration flags are ignored.
 */
export type ConfigFlags = Readonly<Record<string, unknown>>;

/** Environment variables, as `process.env`. */
export type ConfigEnv = Readonly<Record<string, string | undefined>>;
