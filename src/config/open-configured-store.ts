import { parseArgs } from "node:util";
import { StowageError } from "../api/errors.js";
import type { Store } from "../api/types.js";
import { openStore } from "../open-store.js";
import { CONFIG_FILE_FLAG } from "./config-file.js";
import { configFlagOptions } from "./flag-options.js";
import type { ConfigEnv, ConfigFlags } from "./inputs.js";
import { loadConfig } from "./load-config.js";

/** What {@link openConfiguredStore} reads; each defaults to the running process's own. */
export interface OpenConfiguredStoreInput {
  /** Command-line arguments (default `process.argv.slice(2)`): the `--config` and `--storage-*` flags are read, others left to the application. */
  argv?: readonly string[];
  env?: ConfigEnv;
  cwd?: string;
}

/**
 * Opens the store an application is configured for, from the same flags, `STOWAGE_*` variables and config file as
 * the `stowage` command, in one call: `loadConfig` and `openStore` together. The application's own flags may sit
 * beside the configuration's; a `--storage-*` flag that no engine has is INVALID_ARGUMENT (a typo would otherwise
 * fall back to a default silently).
 *
 * @example
 * ```ts
 * // node service.js --storage-backend postgres --storage-dsn postgres://app@db/app --port 8080
 * const store = await openConfiguredStore();
 * ```
 */
export async function openConfiguredStore(input: OpenConfiguredStoreInput = {}): Promise<Store> {
  const args = [...(input.argv ?? process.argv.slice(2))];
  const options = configFlagOptions();
  for (const arg of args) {
    const flag = /^--((?:storage-[^=]*)|config)(?:=|$)/.exec(arg)?.[1];
    if (flag !== undefined && !(flag in options)) {
      throw new StowageError("INVALID_ARGUMENT", `--${flag} is not a configuration flag; the engines take ${Object.keys(options).filter((name) => name !== CONFIG_FILE_FLAG).map((name) => `--${name}`).join(", ")}`);
    }
  }
  const { values } = parseArgs({ args, options, strict: false, allowPositionals: true });
  // A flag given without its value parses as `true`, which the configuration reports as a bad value.
  const argvFlags: ConfigFlags = Object.fromEntries(Object.keys(options).filter((name) => values[name] !== undefined).map((name) => [name, values[name]]));
  return openStore(loadConfig({ argvFlags, env: input.env, cwd: input.cwd }));
}
