import { StowageError } from "./api/errors.js";
import type { Store } from "./api/types.js";
import type { EngineDescriptor } from "./engines/descriptor.js";
import type { Durability } from "./engines/sqlite/sqlite-engine.js";
import { engineDescriptors, findEngine, optionsOf } from "./engines/registry.js";
import { checkStoreOptions, STORE_OPTION_FIELDS, type StoreOptions } from "./store/store-options.js";
import { checkBackupOptions, withScheduledBackups } from "./wrappers/scheduled-backups.js";
import { createStore } from "./store/store.js";
import type { Engine } from "./engines/engine.js";
import { RoutedEngine } from "./engines/routed/routed-engine.js";
import { checkProviderName, RouteTable } from "./engines/routed/routes.js";
import { CompositeEngine } from "./engines/composite/composite-engine.js";
import { registerComposites } from "./engines/composite/control.js";
import { COMPOSITE_ENGINE, type CompositeEngineOptions } from "./engines/composite/descriptor.js";

export { DEFAULT_SQLITE_PATH } from "./engines/sqlite/descriptor.js";

/** Opens the in-memory engine: for tests and throwaway state, or kept across restarts in a snapshot file. */
export interface MemoryStoreOptions extends StoreOptions {
  backend: "memory";
  /**
   * A file the data is restored from at open (when it exists) and snapshotted to every `snapshotIntervalMs` and at
   * close: a gzip dump (see `exportStore`), written atomically. A crash loses what changed since the last snapshot.
   */
  snapshotPath?: string;
  /** Ms between snapshots (default 60,000; 0: only at close). */
  snapshotIntervalMs?: number;
}

/** Opens the embedded SQLite engine (the default). */
export interface SqliteStoreOptions extends StoreOptions {
  backend?: "sqlite";
  /** Default `./data/stowage.db`; folders are created. */
  path?: string;
  /** `"full"` (default) or `"process"`; see {@link Durability}. */
  durability?: Durability;
  /** How long a write waits for another process's lock, in ms (default `DEFAULT_BUSY_TIMEOUT_MS`, 5,000; at most `LIMITS.maxTimerMs`). */
  busyTimeoutMs?: number;
}

/** Opens the LMDB engine (the ordered-KV family on an LMDB file): one machine, any number of processes. */
export interface LmdbOpenOptions extends StoreOptions {
  backend: "lmdb";
  /** The data file, default `./data/stowage.lmdb` (its lock file `<path>-lock` beside it); folders are created. */
  path?: string;
}

/** Opens the LevelDB engine (the ordered-KV family on a LevelDB folder): one process at a time. */
export interface LevelDbOpenOptions extends StoreOptions {
  backend: "leveldb";
  /** The folder, default `./data/stowage.leveldb`; it and its parents are created. */
  path?: string;
}

/** Opens the etcd engine (the ordered-KV family on an etcd cluster): state shared by many processes and machines. */
export interface EtcdOpenOptions extends StoreOptions {
  backend: "etcd";
  /** The cluster's client URLs, comma-separated (default `http://127.0.0.1:2379`). */
  endpoints?: string;
  /** The prefix of every key the store writes (default `stowage/`); stores with other prefixes share a cluster safely. */
  prefix?: string;
  /** How long one request may take before BACKEND_UNAVAILABLE, in ms (default 5,000; at most `LIMITS.maxTimerMs`). */
  requestTimeoutMs?: number;
}

/** Opens the Redis engine (the ordered-KV family on a Redis server): state shared by many processes. */
export interface RedisOpenOptions extends StoreOptions {
  backend: "redis";
  /** `redis://[user:password@]host:port[/db]` or `rediss://` (TLS); default `redis://127.0.0.1:6379`. */
  url?: string;
  /** The start of every Redis key (and the channel) of this store, default `stowage:`; stores with other prefixes share a database. */
  prefix?: string;
  /** How long one call may wait for its reply before BACKEND_UNAVAILABLE, in ms (default 30,000; at most `LIMITS.maxTimerMs`). */
  requestTimeoutMs?: number;
}

/** Opens the Azure Table engine (the ordered-KV family on one partition of an Azure Table): many processes and machines. */
export interface AzureTableOpenOptions extends StoreOptions {
  backend: "azure-table";
  /** An Azure Storage connection string (account and key, or a SAS); never shown in errors or `info`. */
  connectionString: string;
  /** The table, default `stowage`, created when missing (3–63 letters and digits, starting with a letter). */
  table?: string;
  /** How long one call (with its retries) may take before BACKEND_UNAVAILABLE, in ms (default 5,000). */
  requestTimeoutMs?: number;
}

/** Opens the PostgreSQL engine: state shared by many processes. */
export interface PostgresStoreOptions extends StoreOptions {
  backend: "postgres";
  /** `postgres://user:password@host:port/database`. */
  dsn: string;
  /** The PostgreSQL schema of this store's tables (default `stowage`); stores in other schemas share a database safely. */
  schema?: string;
  /** Most connections of the main pool (default 10). */
  poolSize?: number;
  /** Most connections of the read pool, where plain reads run in READ ONLY serializable transactions (default `poolSize`). */
  readPoolSize?: number;
  /** Most connections of the work pool, which plain work-queue calls open and run on at READ COMMITTED (default `poolSize`). */
  workPoolSize?: number;
  /** How long to wait for a connection before BACKEND_UNAVAILABLE, in ms (default 5,000; at most `LIMITS.maxTimerMs`). */
  connectTimeoutMs?: number;
  /** The longest a statement may run, in ms (default 30,000; at most `LIMITS.maxTimerMs` − 1,000, room for the client-side timeout). */
  statementTimeoutMs?: number;
}

/**
 * A composite provider of a store over providers: `primary` and `standby` (the backup) name two other providers (which then
 * cannot be route targets or the default); see the README's "Composite failover". Only as a provider.
 */
export interface CompositeProviderOptions extends StoreOptions {
  backend: "composite";
  primary: string;
  /** The backup provider (`backup` is the option of scheduled backups). */
  standby: string;
  /** `sync` (default): a write resolves once both sides committed it; `async`: once the primary did. */
  mode?: "sync" | "async";
  /** Async mode: ms between applications of the queued writes to the backup (default 1,000). */
  replicateIntervalMs?: number;
  /** Ms between probes of the primary (default 1,000). */
  probeIntervalMs?: number;
  /** Failed probes in a row that make the composite fail over (default 3). */
  failAfter?: number;
  /** `manual` (default): fail back when told; `auto`: once the primary answers again. */
  failback?: "manual" | "auto";
  /** Most write batches held in memory: the async lag, and those kept for a failback (default 10,000). */
  maxPendingBatches?: number;
}

/**
 * The `openStore` options of each engine, by engine name. An engine added with `registerEngine` is typed by adding
 * its options here (declaration merging), which keeps every engine's options exact:
 *
 * @example
 * ```ts
 * interface RedisStoreOptions extends StoreOptions { backend: "redis"; url: string }
 * declare module "stowage" {
 *   interface StowageEngines { redis: RedisStoreOptions }
 * }
 * await openStore({ backend: "redis", url: "redis://127.0.0.1:6379" });
 * ```
 *
 * An engine left out of it still opens: `openStore` takes its options as {@link UntypedStoreOptions}. Either way,
 * `openStore` checks the options against the engine's descriptor.
 */
export interface StowageEngines {
  memory: MemoryStoreOptions;
  sqlite: SqliteStoreOptions;
  postgres: PostgresStoreOptions;
  lmdb: LmdbOpenOptions;
  leveldb: LevelDbOpenOptions;
  etcd: EtcdOpenOptions;
  redis: RedisOpenOptions;
  "azure-table": AzureTableOpenOptions;
  composite: CompositeProviderOptions;
}

export type OpenStoreOptions = StowageEngines[keyof StowageEngines];

/**
 * The options of a registered engine that is not in {@link StowageEngines}: any backend name but those listed there
 * (whose options stay exact), and any options, which `openStore` checks at run time.
 */
export type UntypedStoreOptions<Backend extends string> = StoreOptions & {
  backend: Backend extends keyof StowageEngines ? never : Backend;
  [option: string]: unknown;
};

/** The built-in engines; `engineDescriptors()` lists every registered one. */
export const BACKENDS = ["memory", "sqlite", "postgres", "lmdb", "leveldb", "etcd", "redis", "azure-table", "composite"] as const;

/** The backend `openStore` uses when none is named. */
export const DEFAULT_BACKEND = "sqlite" satisfies (typeof BACKENDS)[number];

/**
 * Opens a store on the chosen engine: a built-in one or one added with `registerEngine`. Every option is checked
 * against the engine's descriptor before the engine opens.
 *
 * @example
 * ```ts
 * const store = await openStore({ backend: "sqlite", path: "./data/stowage.db" });
 * await store.kv("checkpoints").put("mysql-pipe1", bytes);
 * await store.close();
 * ```
 */
export function openStore(options?: OpenStoreOptions): Promise<Store>;
export function openStore(options: RoutedStoreOptions | OpenStoreOptions): Promise<Store>;
export function openStore<Backend extends string>(options: UntypedStoreOptions<Backend>): Promise<Store>;
export async function openStore(options: OpenStoreOptions | RoutedStoreOptions | UntypedStoreOptions<string> = {}): Promise<Store> {
  if (typeof options !== "object" || options === null) {
    throw new StowageError("INVALID_ARGUMENT", "openStore options must be an object");
  }
  if (options.backup !== undefined) {
    const { backup, ...store } = options;
    // Checked before anything opens: a bad schedule must not leave a store open behind its error.
    checkBackupOptions(backup);
    return withScheduledBackups(await openStore(store as OpenStoreOptions), backup);
  }
  if ("providers" in options) return openRoutedStore(options as RoutedStoreOptions);
  const { descriptor, engineOptions, storeOptions } = checkOpenOptions(options, "openStore option");
  const engine = await descriptor.open(engineOptions);
  return createStore(engine, storeOptions);
}

/**
 * Options of a store over several named providers, each any engine: namespaces live on the provider their route
 * names (an exact namespace, or a prefix ending in `*`), others on `defaultProvider`. Store options (`clock`,
 * `sweepIntervalMs`) go at the top level and apply to the whole store.
 *
 * @example
 * ```ts
 * const store = await openStore({
 *   providers: { local: { backend: "sqlite", path: "./data/local.db" }, coord: { backend: "etcd", endpoints: "http://10.0.0.5:2379" } },
 *   routes: { leases: "coord", "members.*": "coord" },
 *   defaultProvider: "local",
 * });
 * ```
 */
export interface RoutedStoreOptions extends StoreOptions {
  /** The providers by name (letters, digits, `_`, `-`): each one engine's options, as `openStore` takes them. */
  providers: Record<string, OpenStoreOptions | UntypedStoreOptions<string>>;
  /** Namespace (`leases`) or prefix (`jobs.*`) to provider name; the longest matching prefix wins, an exact name first. */
  routes?: Record<string, string>;
  /** The provider of namespaces no route names; may be left out when there is one provider. */
  defaultProvider?: string;
}

/**
 * Checks every provider's options before any opens (a bad one creates no file and no connection), opens them in
 * turn (closing those open already when one fails), and puts a {@link RoutedEngine} over them.
 */
async function openRoutedStore(options: RoutedStoreOptions): Promise<Store> {
  // Store options (`clock`, `sweepIntervalMs`) belong to the whole store, never to one provider.
  const fields: readonly string[] = ["providers", "routes", "defaultProvider", ...STORE_OPTION_FIELDS];
  for (const field of Object.keys(options)) {
    if (!fields.includes(field)) {
      throw new StowageError("INVALID_ARGUMENT", `openStore option "${field}" is not an option of a store over providers; it takes ${fields.join(", ")}`);
    }
  }
  const { providers, routes = {}, defaultProvider, ...store } = options;
  if (typeof providers !== "object" || providers === null || Object.keys(providers).length === 0) {
    throw new StowageError("INVALID_ARGUMENT", "providers must name at least one provider: { name: { backend, … } }");
  }
  if (typeof routes !== "object" || routes === null) throw new StowageError("INVALID_ARGUMENT", "routes must be an object of namespace or prefix to provider name");
  const names = Object.keys(providers);
  names.forEach(checkProviderName);
  if (defaultProvider === undefined && names.length > 1) {
    throw new StowageError("INVALID_ARGUMENT", `defaultProvider is needed with several providers (${names.join(", ")}): it holds the namespaces no route names`);
  }
  const table = new RouteTable(routes, defaultProvider ?? names[0]!, names);
  const checked = names.map((name) => {
    const own = providers[name] as Record<string, unknown>;
    const storeLevel = STORE_OPTION_FIELDS.filter((field) => typeof own === "object" && own !== null && own[field] !== undefined);
    if (storeLevel.length > 0) {
      throw new StowageError("INVALID_ARGUMENT", `provider ${name} sets ${storeLevel.join(", ")}: store options go at the top level, for the whole store`);
    }
    return { name, ...checkOpenOptions(own, `provider ${name}'s option`) };
  });
  const storeOptions = checkStoreOptions(store);
  const sides = checkCompositeSides(checked, table);
  const opened = new Map<string, Engine>();
  const composites = new Map<string, CompositeEngine>();
  try {
    for (const { name, descriptor, engineOptions } of checked) if (descriptor.name !== COMPOSITE_ENGINE.name) opened.set(name, await descriptor.open(engineOptions));
    for (const { name, descriptor, engineOptions } of checked) {
      if (descriptor.name !== COMPOSITE_ENGINE.name) continue;
      const { primary, standby, ...settings } = engineOptions as unknown as CompositeEngineOptions;
      composites.set(name, await CompositeEngine.open(opened.get(primary)!, opened.get(standby)!, { primary, backup: standby }, settings));
    }
  } catch (error) {
    // An open composite closes its own sides.
    const owned = new Set([...composites.values()].flatMap((composite) => [composite.names.primary, composite.names.backup]));
    await Promise.allSettled([...composites.values()].map((composite) => composite.close()));
    await Promise.allSettled([...opened].filter(([name]) => !owned.has(name)).map(([, engine]) => engine.close()));
    throw error;
  }
  const served = new Map<string, Engine>();
  for (const { name } of checked) if (!sides.has(name)) served.set(name, composites.get(name) ?? opened.get(name)!);
  const engine = new RoutedEngine(served, table);
  registerComposites(engine, composites);
  return createStore(engine, storeOptions);
}

/**
 * The providers that are sides of a composite provider, with the composite's name. INVALID_ARGUMENT naming the
 * provider for a side that is not a plain provider of the store, a provider that is a side twice, and a side that is
 * a route target or the default (its data is reached through the composite only).
 */
function checkCompositeSides(checked: ReadonlyArray<{ name: string; descriptor: EngineDescriptor<object>; engineOptions: Record<string, unknown> }>, table: RouteTable): Map<string, string> {
  const sides = new Map<string, string>();
  const names = checked.map(({ name }) => name);
  for (const { name, descriptor, engineOptions } of checked) {
    if (descriptor.name !== COMPOSITE_ENGINE.name) continue;
    for (const [role, side] of [["primary", engineOptions.primary], ["standby", engineOptions.standby]] as Array<[string, string]>) {
      const provider = checked.find((candidate) => candidate.name === side);
      if (provider === undefined) throw new StowageError("INVALID_ARGUMENT", `composite provider ${name}: its ${role} ${JSON.stringify(side)} is not one of the providers (${names.join(", ")})`);
      if (provider.descriptor.name === COMPOSITE_ENGINE.name) throw new StowageError("INVALID_ARGUMENT", `composite provider ${name}: its ${role} ${side} is a composite provider itself; name plain providers`);
      const other = sides.get(side);
      if (other !== undefined) throw new StowageError("INVALID_ARGUMENT", `provider ${side} is a side of composite provider ${other} already; composite provider ${name} cannot use it too`);
      sides.set(side, name);
    }
  }
  for (const [side, composite] of sides) {
    if (table.defaultProvider === side) {
      throw new StowageError("INVALID_ARGUMENT", `provider ${side} is a side of composite provider ${composite}, so it cannot be the default provider: make ${composite} the default`);
    }
    const route = table.describe().find((candidate) => candidate.provider === side);
    if (route !== undefined) {
      throw new StowageError("INVALID_ARGUMENT", `provider ${side} is a side of composite provider ${composite}, so route ${JSON.stringify(route.match)} cannot name it: route to ${composite}`);
    }
  }
  return sides;
}

/** One engine's options checked against its descriptor, without opening anything. */
function checkOpenOptions(
  options: unknown,
  what: string,
): { descriptor: EngineDescriptor<object>; engineOptions: Record<string, unknown>; storeOptions: StoreOptions } {
  if (typeof options !== "object" || options === null) {
    throw new StowageError("INVALID_ARGUMENT", `${what}s must be an object`);
  }
  const given = options as Record<string, unknown>;
  // Only an absent backend means the default: an explicit null is a mistake to report, not a request for SQLite.
  const backend = given.backend === undefined ? DEFAULT_BACKEND : given.backend;
  const descriptor = findEngine(backend);
  if (descriptor === undefined) {
    const names = engineDescriptors().map((engine) => engine.name);
    throw new StowageError("INVALID_ARGUMENT", `backend must be one of ${names.join(", ")}, got ${JSON.stringify(backend)}`);
  }
  const known = optionsOf(descriptor);
  for (const field of Object.keys(options)) {
    if (!known.includes(field)) {
      throw new StowageError("INVALID_ARGUMENT", `${what} "${field}" is not an option of the ${backend} backend; it takes ${known.join(", ")}`);
    }
  }
  // Checked before any engine opens, so that a bad option never creates a file or a connection.
  const storeOptions: StoreOptions = checkStoreOptions(given);
  return { descriptor, engineOptions: checkEngineOptions(descriptor, given), storeOptions };
}

/** The engine's options, each checked by its field, with the field's default where none is given. */
function checkEngineOptions(descriptor: EngineDescriptor<object>, options: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const checked: Record<string, unknown> = {};
  for (const field of descriptor.fields) {
    const value = options[field.option];
    if (value === undefined && field.required === undefined) {
      if (field.default !== undefined) checked[field.option] = field.default;
      continue;
    }
    field.check(value);
    checked[field.option] = value;
  }
  return checked;
}
