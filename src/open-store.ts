import { StowageError } from "./api/errors.js";
import { LIMITS } from "./api/limits.js";
import type { Store } from "./api/types.js";
import { MemoryEngine } from "./engines/memory/memory-engine.js";
import { CLIENT_TIMEOUT_MARGIN_MS, POSTGRES_DEFAULTS, PostgresEngine } from "./engines/postgres/postgres-engine.js";
import { DURABILITIES, SqliteEngine, type Durability } from "./engines/sqlite/sqlite-engine.js";
import { checkStoreOptions, type StoreOptions } from "./store/store-options.js";
import { createStore } from "./store/store.js";
import { checkInteger } from "./store/validate.js";

/** Where the SQLite engine keeps its file when no path is given. */
export const DEFAULT_SQLITE_PATH = "./data/stowage.db";

/** Opens the in-memory engine: for tests and throwaway state. */
export interface MemoryStoreOptions extends StoreOptions {
  backend: "memory";
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

/** Opens the PostgreSQL engine: state shared by many processes. */
export interface PostgresStoreOptions extends StoreOptions {
  backend: "postgres";
  /** `postgres://user:password@host:port/database`. */
  dsn: string;
  /** The PostgreSQL schema of this store's tables (default `stowage`); stores in other schemas share a database safely. */
  schema?: string;
  /** Most connections (default 10). */
  poolSize?: number;
  /** How long to wait for a connection before BACKEND_UNAVAILABLE, in ms (default 5,000; at most `LIMITS.maxTimerMs`). */
  connectTimeoutMs?: number;
  /** The longest a statement may run, in ms (default 30,000; at most `LIMITS.maxTimerMs` − 1,000, room for the client-side timeout). */
  statementTimeoutMs?: number;
}

export type OpenStoreOptions = MemoryStoreOptions | SqliteStoreOptions | PostgresStoreOptions;

/** The backends `openStore` knows. */
export const BACKENDS = ["memory", "sqlite", "postgres"] as const;

/** What a PostgreSQL DSN must look like; the config layer checks the same. */
export const PG_DSN_PATTERN = /^postgres(ql)?:\/\//;
/** A PostgreSQL schema name stowage accepts (unquoted-identifier rules, lower case). */
export const PG_SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

/** The backend `openStore` uses when none is named. */
export const DEFAULT_BACKEND = "sqlite" satisfies (typeof BACKENDS)[number];

const STORE_FIELDS = ["backend", "clock", "sweepIntervalMs"];
const FIELDS_BY_BACKEND: Record<(typeof BACKENDS)[number], readonly string[]> = {
  memory: STORE_FIELDS,
  sqlite: [...STORE_FIELDS, "path", "durability", "busyTimeoutMs"],
  postgres: [...STORE_FIELDS, "dsn", "schema", "poolSize", "connectTimeoutMs", "statementTimeoutMs"],
};

/**
 * The range of each engine option that is a duration: each arms a timer or a driver timeout, which Node runs after
 * 1 ms when longer than `LIMITS.maxTimerMs`. The config layer accepts the same ranges.
 */
export const DURATION_OPTIONS = Object.freeze({
  busyTimeoutMs: { min: 0, max: LIMITS.maxTimerMs },
  connectTimeoutMs: { min: 1, max: LIMITS.maxTimerMs },
  statementTimeoutMs: { min: 1, max: LIMITS.maxTimerMs - CLIENT_TIMEOUT_MARGIN_MS },
});

/** An optional whole-number option in [min, max]; INVALID_ARGUMENT naming it and its bounds. */
function checkWhole(field: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (value !== undefined) checkInteger(undefined, field, value, min, max);
}

function checkDuration(field: keyof typeof DURATION_OPTIONS, value: unknown): void {
  checkWhole(field, value, DURATION_OPTIONS[field].min, DURATION_OPTIONS[field].max);
}

/**
 * Opens a store on the chosen engine.
 *
 * @example
 * ```ts
 * const store = await openStore({ backend: "sqlite", path: "./data/stowage.db" });
 * await store.kv("checkpoints").put("mysql-pipe1", bytes);
 * await store.close();
 * ```
 */
export async function openStore(options: OpenStoreOptions = {}): Promise<Store> {
  if (typeof options !== "object" || options === null) {
    throw new StowageError("INVALID_ARGUMENT", "openStore options must be an object");
  }
  // Only an absent backend means the default: an explicit null is a mistake to report, not a request for SQLite.
  const backend = options.backend === undefined ? DEFAULT_BACKEND : options.backend;
  if (!(BACKENDS as readonly unknown[]).includes(backend)) {
    throw new StowageError("INVALID_ARGUMENT", `backend must be one of ${BACKENDS.join(", ")}, got ${JSON.stringify(backend)}`);
  }
  for (const field of Object.keys(options)) {
    if (!FIELDS_BY_BACKEND[backend].includes(field)) {
      throw new StowageError("INVALID_ARGUMENT", `openStore option "${field}" is not an option of the ${backend} backend; it takes ${FIELDS_BY_BACKEND[backend].join(", ")}`);
    }
  }
  // Checked before any engine opens, so that a bad option never creates a file or a connection.
  const storeOptions: StoreOptions = checkStoreOptions(options);
  switch (backend) {
    case "memory":
      return createStore(new MemoryEngine(), storeOptions);
    case "sqlite": {
      const sqlite = options as SqliteStoreOptions;
      if (sqlite.path !== undefined && (typeof sqlite.path !== "string" || sqlite.path.length === 0)) {
        throw new StowageError("INVALID_ARGUMENT", "path must be a non-empty string");
      }
      if (sqlite.durability !== undefined && !DURABILITIES.includes(sqlite.durability)) {
        throw new StowageError("INVALID_ARGUMENT", `durability must be one of ${DURABILITIES.join(", ")}, got ${JSON.stringify(sqlite.durability)}`);
      }
      checkDuration("busyTimeoutMs", sqlite.busyTimeoutMs);
      const engine = await SqliteEngine.open({
        path: sqlite.path ?? DEFAULT_SQLITE_PATH,
        durability: sqlite.durability,
        busyTimeoutMs: sqlite.busyTimeoutMs,
      });
      return createStore(engine, storeOptions);
    }
    case "postgres": {
      const postgres = options as PostgresStoreOptions;
      if (typeof postgres.dsn !== "string" || !PG_DSN_PATTERN.test(postgres.dsn)) {
        throw new StowageError("INVALID_ARGUMENT", "dsn must be a postgres:// (or postgresql://) connection string");
      }
      if (postgres.schema !== undefined && (typeof postgres.schema !== "string" || !PG_SCHEMA_PATTERN.test(postgres.schema))) {
        throw new StowageError("INVALID_ARGUMENT", `schema must be 1 to 63 characters of a-z 0-9 _, not starting with a digit, got ${JSON.stringify(postgres.schema)}`);
      }
      checkWhole("poolSize", postgres.poolSize, 1);
      checkDuration("connectTimeoutMs", postgres.connectTimeoutMs);
      checkDuration("statementTimeoutMs", postgres.statementTimeoutMs);
      const engine = await PostgresEngine.open({
        dsn: postgres.dsn,
        schema: postgres.schema ?? POSTGRES_DEFAULTS.schema,
        poolSize: postgres.poolSize,
        connectTimeoutMs: postgres.connectTimeoutMs,
        statementTimeoutMs: postgres.statementTimeoutMs,
      });
      return createStore(engine, storeOptions);
    }
  }
}
