import { StowageError } from "../api/errors.js";
import { storageSettings, type FieldSpec } from "./fields.js";
import type { ConfigEnv, ConfigFlags } from "./inputs.js";
import type { SettingSource } from "./sources.js";
import { STORAGE_ENV_PREFIX, textValue } from "./text-settings.js";

/** How every provider variable starts: `STOWAGE_PROVIDERS_COORD_ENDPOINTS`. */
const PROVIDERS_ENV_PREFIX = "STOWAGE_PROVIDERS_";

/** The flags of a store over providers, as `parseArgs` options: repeatable `--provider` and `--route`. */
export const PROVIDER_FLAG_OPTIONS = {
  provider: { type: "string", multiple: true },
  route: { type: "string", multiple: true },
  "default-provider": { type: "string" },
} as const;

/** How a provider's variables start: `STOWAGE_PROVIDERS_COORD_` for `coord` (`-` becomes `_`). */
export function providerEnvPrefix(name: string): string {
  return `${PROVIDERS_ENV_PREFIX}${name.toUpperCase().replace(/-/g, "_")}_`;
}

/**
 * Providers' settings from `STOWAGE_PROVIDERS_<NAME>_<FIELD>` variables, by provider and file field name. A variable
 * belongs to a provider `known` already (from the file) when its name matches theirs whatever the case; otherwise it
 * names a new provider, in lower case. Empty variables count as unset.
 */
export function providersFromEnv(env: ConfigEnv, cwd: string, known: readonly string[]): Map<string, Record<string, unknown>> {
  const providers = new Map<string, Record<string, unknown>>();
  // Longest suffix first, so that `..._TLS_CA_FILE` is not read as a provider `…_TLS_CA` with a field `FILE`.
  const settings = [...storageSettings()].sort((a, b) => b.env.length - a.env.length);
  for (const [variable, text] of Object.entries(env)) {
    if (!variable.startsWith(PROVIDERS_ENV_PREFIX) || text === undefined || text === "") continue;
    const setting = settings.find((candidate) => variable.endsWith(`_${candidate.env.slice(STORAGE_ENV_PREFIX.length)}`) && variable.length > PROVIDERS_ENV_PREFIX.length + candidate.env.length - STORAGE_ENV_PREFIX.length + 1);
    if (setting === undefined) {
      throw new StowageError("INVALID_ARGUMENT", `${variable} names no storage field; a provider's variables are STOWAGE_PROVIDERS_<NAME>_<FIELD> (STOWAGE_PROVIDERS_COORD_ENDPOINTS)`);
    }
    const upper = variable.slice(PROVIDERS_ENV_PREFIX.length, variable.length - setting.env.length + STORAGE_ENV_PREFIX.length - 1);
    const name = known.find((candidate) => providerEnvPrefix(candidate) === `${PROVIDERS_ENV_PREFIX}${upper}_`) ?? upper.toLowerCase();
    setValue(providers, name, setting, text, { kind: "env", variable }, cwd);
  }
  return providers;
}

/**
 * Providers' settings from repeatable `--provider <name>.<field>=<value>` flags (`--provider coord.endpoints=http://…`;
 * the field as in a config file), by provider and file field name.
 */
export function providersFromFlags(flags: ConfigFlags, cwd: string): Map<string, Record<string, unknown>> {
  const providers = new Map<string, Record<string, unknown>>();
  for (const given of listOf(flags.provider, "provider")) {
    const match = /^([^.=]+)\.([^=]+)=(.*)$/s.exec(given);
    const setting = match === null ? undefined : storageSettings().find((candidate) => candidate.file === match[2]);
    if (match === null || setting === undefined) {
      throw new StowageError("INVALID_ARGUMENT", `--provider takes <name>.<field>=<value> with a storage field (coord.endpoints=http://…); got ${JSON.stringify(given.split("=")[0])}`);
    }
    setValue(providers, match[1]!, setting, match[3]!, { kind: "flag", flag: `provider ${match[1]}.${match[2]}` }, cwd);
  }
  return providers;
}

/** Routes from repeatable `--route <namespace>=<provider>` flags; undefined when none is given. */
export function routesFromFlags(flags: ConfigFlags): Record<string, string> | undefined {
  const given = listOf(flags.route, "route");
  return given.length === 0 ? undefined : routesFromPairs(given, "--route");
}

/** `leases=coord` pairs as routes; a pair without `=` is INVALID_ARGUMENT naming `source`. */
export function routesFromPairs(pairs: readonly string[], source: string): Record<string, string> {
  const routes: Record<string, string> = {};
  for (const pair of pairs.map((part) => part.trim()).filter((part) => part !== "")) {
    const at = pair.indexOf("=");
    if (at <= 0 || at === pair.length - 1) {
      throw new StowageError("INVALID_ARGUMENT", `${source} takes namespace=provider pairs (leases=coord, jobs.*=shared); got ${JSON.stringify(pair)}`);
    }
    routes[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
  }
  return routes;
}

function setValue(providers: Map<string, Record<string, unknown>>, name: string, setting: FieldSpec, text: string, source: SettingSource, cwd: string): void {
  const settings = providers.get(name) ?? {};
  settings[setting.file] = textValue(setting, text, source, cwd);
  providers.set(name, settings);
}

function listOf(value: unknown, flag: string): string[] {
  if (value === undefined) return [];
  const list = Array.isArray(value) ? value : [value];
  if (!list.every((item) => typeof item === "string")) throw new StowageError("INVALID_ARGUMENT", `--${flag} needs a value`);
  return list as string[];
}
