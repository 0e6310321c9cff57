import { DEFAULT_BACKEND, DEFAULT_SQLITE_PATH } from "../open-store.js";
import type { StorageSettings } from "./fields.js";

/**
 * What applies when no flag, variable or file sets a value. Only the settings whose default the configuration must
 * know are here: `durability` and `busyTimeoutMs` are left unset so that `openStore`'s own defaults apply and are
 * never restated (and never drift).
 */
export const CONFIG_DEFAULTS: Readonly<Pick<StorageSettings, "backend" | "path">> = Object.freeze({
  backend: DEFAULT_BACKEND,
  path: DEFAULT_SQLITE_PATH,
});
