import type { OpenStoreOptions, RoutedStoreOptions } from "../open-store.js";
import { locateConfigFile, readConfigFile } from "./config-file.js";
import type { ConfigEnv, ConfigFlags } from "./inputs.js";
import { resolveConfig } from "./resolve-config.js";

/** What {@link loadConfig} reads; each defaults to the running process's own. */
export interface LoadConfigInput {
  argvFlags?: ConfigFlags;
  env?: ConfigEnv;
  cwd?: string;
}

/**
 * Loads the configuration: finds the config file (`--config`, else `STOWAGE_CONFIG`), reads it, and resolves every
 * layer with {@link resolveConfig}. The result goes straight to `openStore`.
 *
 * @example
 * ```ts
 * const store = await openStore(loadConfig({ argvFlags: values }));
 * ```
 */
export function loadConfig(input: LoadConfigInput = {}): OpenStoreOptions | RoutedStoreOptions {
  const env = input.env ?? process.env;
  const cwd = input.cwd ?? process.cwd();
  const location = locateConfigFile({ argvFlags: input.argvFlags, env, cwd });
  const file = location === undefined ? undefined : readConfigFile(location);
  return resolveConfig({ argvFlags: input.argvFlags, env, cwd, file });
}
