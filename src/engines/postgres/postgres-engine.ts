import type pg from "pg";
import type { Awaitable, Engine, EngineFacts, EngineOps, EngineSupports } from "../engine.js";
import { runCall, type CallResult, type EngineCall } from "../engine-calls.js";
import { MULTI_STATEMENT_WRITE_OPS } from "../sql/sql-ops.js";
import { opsOf, run, runAsync, type SqlProgram, type SqlWork } from "../sql/sql-program.js";
import { mapPostgresError } from "./postgres-errors.js";
import { bindPointReads, PostgresExecutor } from "./postgres-executor.js";
import { ChangeSignal } from "../change-signal.js";
import { KeyedBatcher, type BatchLimits } from "../keyed-batcher.js";
import { describeViolations, SQL_INVARIANTS } from "../sql/sql-invariants.js";
import {
  distinctKeyParts,
  kvPutBatch,
  logAppendBatch,
  type PutItem,
  POSTGRES_PROGRAMS,
  POSTGRES_SINGLE_STATEMENT_OPS,
  pushResult,
  queuePushBatch,
  type AppendItem,
  type PushItem,
} from "./postgres-programs.js";
import { KnownHistories } from "./known-histories.js";
import { loadDriver } from "../load-driver.js";
import { migrate, quoteIdent } from "./postgres-schema.js";
import { isSerializationFailure, pauseBeforeRetry } from "../transaction-failure.js";
import { SUPPORTS_EVERYTHING } from "../api-limits.js";
import { readOnlyOps } from "../read-only-ops.js";
import { plainWorkOps } from "./postgres-work.js";

/** Options of the PostgreSQL engine. */
export interface PostgresEngineOptions {
  /** `postgres://user:password@host:port/database`. */
  dsn: string;
  /** The PostgreSQL schema holding this store's tables (default `stowage`): stores with other schemas share a database safely. */
  schema?: string;
  /**
   * Most connections of the main pool (default 10); plain reads use a second pool (`readPoolSize`) and plain
   * work-queue calls a third (`workPoolSize`).
   */
  poolSize?: number;
  /**
   * Most connections of the read pool, where plain reads run in READ ONLY serializable transactions, its connections
   * opened as reads need them (default `poolSize`).
   */
  readPoolSize?: number;
  /**
   * Most connections of the work pool, opened at the first work-queue call outside a transaction, where those calls
   * run at READ COMMITTED (default `poolSize`).
   */
  workPoolSize?: number;
  /** How long to wait for a connection, in ms, before BACKEND_UNAVAILABLE (default 5,000). */
  connectTimeoutMs?: number;
  /** The longest a statement may run, in ms, on the server and on the client (default 30,000). */
  statementTimeoutMs?: number;
}

export const POSTGRES_DEFAULTS = Object.freeze({ schema: "stowage", poolSize: 10, connectTimeoutMs: 5_000, statementTimeoutMs: 30_000 });

/**
 * Most runs of a single read or write that lost a serialization race (every statement runs at SERIALIZABLE) before
 * its CONFLICT is returned; each run after the first waits a jittered pause that grows to {@link MAX_RETRY_PAUSE_MS}.
 */
const STATEMENT_ATTEMPTS = 100;
const MAX_RETRY_PAUSE_MS = 20;
/** How much longer than the server's statement timeout the client waits for an answer (a server that vanished). */
export const CLIENT_TIMEOUT_MARGIN_MS = 1_000;
/** How long `close()` waits for the LISTEN connection to unregister before dropping it. */
const UNLISTEN_TIMEOUT_MS = 1_000;

/** A program of one statement without parameters (savepoints). */
function* statement(sql: string): SqlProgram<number> {
  return yield* run(sql, []);
}

/** The channel the schema's triggers notify (payload `<schema>:<table>`). */
const CHANGES_CHANNEL = "stowage_changes";
/** How long a dropped LISTEN connection waits before reconnecting. */
const LISTEN_RETRY_MS = 250;
/** How often a listening engine wakes its feeds regardless of notifications: the bound on a delay when a notification is lost with a connection that died silently. */
const LISTEN_TICK_MS = 250;

/** Group commit of appends and pushes: most per statement, and about the most value bytes (a batch takes at least one). */
const BATCH_LIMITS: BatchLimits = { maxItems: 256, maxBytes: 1024 * 1024 };

const int8AsNumber = (value: string): number => Number(value);

/**
 * bytea (the server's `\x` hex text) decoded into memory of its own: node-postgres decodes a small value into a view
 * on Node's shared pool, which stowage would then copy for the caller (see `ownedBytes`); decoded here, it is not
 * copied again. Any other form (`bytea_output = escape`) goes to the driver's parser.
 */
function byteaOwned(driverParse: (text: string) => unknown): (text: string) => unknown {
  return (text) => {
    if (text.startsWith("\\x")) {
      const bytes = Buffer.alloc((text.length - 2) >>> 1);
      if (bytes.write(text.slice(2), "hex") === bytes.length) return bytes;
    }
    return driverParse(text);
  };
}

/** How the pools parse columns: int8 (counts, sequences, ids, times) as numbers (all below 2^53), bytea as above. */
function storedTypes(driver: typeof pg): pg.CustomTypesConfig {
  const bytea = byteaOwned(driver.types.getTypeParser(17, "text"));
  return {
    getTypeParser: ((oid: number, format?: string) =>
      oid === 20 ? int8AsNumber : oid === 17 && format !== "binary" ? bytea : driver.types.getTypeParser(oid, format as "text")) as typeof pg.types.getTypeParser,
  };
}

/** Query parameters of a DSN that hold secrets (node-postgres reads both). */
const SECRET_PARAMETERS = ["password", "sslpassword"];

/** The DSN without its password (in the user part or the query), for messages and `info`. */
export function redact(dsn: string): string {
  try {
    const url = new URL(dsn);
    if (url.password !== "") url.password = "***";
    for (const name of SECRET_PARAMETERS) if (url.searchParams.has(name)) url.searchParams.set(name, "***");
    return url.toString();
  } catch {
    return "postgres (unparsable DSN)";
  }
}

/**
 * PostgreSQL through node-postgres. Reads run as single statements on a pool of READ ONLY connections; each write is one autocommit
 * statement or, for multi-statement operations, its own short transaction; user transactions are one transaction on
 * one connection. **Everything runs at SERIALIZABLE** (but plain work-queue calls: see postgres-work.ts), so that the server's serializable snapshot isolation orders a
 * transaction against every single read and write as well as against other transactions (a read-committed single
 * write would be invisible to it: a transaction could act on a value a plain put had just replaced). A statement that
 * loses a serialization race is run again here; a transaction that does is run again by the store.
 */
export class PostgresEngine implements Engine {
  readonly name = "postgres";
  /**
   * Everything, work queues included (plain claims and settles at READ COMMITTED with row locks), across processes and hosts
   * (`kv.watch` needs PostgreSQL 14 or newer). PostgreSQL's own limits are looser than stowage's: 1 GB a value, and a
   * 1,024-byte key with its namespace fits a B-tree entry (about 2.7 kB).
   */
  static readonly supports: EngineSupports = SUPPORTS_EVERYTHING;
  readonly supports = PostgresEngine.supports;
  readonly location: string;
  private readonly pool: pg.Pool;
  /** The plain reads' pool: SERIALIZABLE READ ONLY connections (see the constructor). */
  private readonly readPool: pg.Pool;
  /** The work pool's configuration, and the pool once a plain work call opened it (see postgres-work.ts). */
  private readonly workPoolConfig: pg.PoolConfig;
  private workPool: pg.Pool | undefined;
  private readonly readOps: EngineOps;
  /** Ops for the store's single writes: one-statement operations run as autocommit statements on the pool. */
  private readonly writeOps: EngineOps;
  private readonly mapError: (error: unknown) => Error;
  /** How the LISTEN connection of live feeds connects. */
  private readonly listenConfig: pg.ClientConfig;
  /** Where a put goes: batched when its namespace has a KV history (see the write ops). */
  private readonly historyNamespaces = new KnownHistories(async () => (await this.pool.query("SELECT ns FROM stowage_kv_history")).rows.map((row: { ns: string }) => row.ns));
  private listener: { stopped: boolean; client?: pg.Client; retry?: NodeJS.Timeout; tick?: NodeJS.Timeout } | undefined;

  /**
   * Live feeds learn of this process's commits at once, and of other processes' through LISTEN/NOTIFY: statement
   * triggers on the log and stream tables notify at commit while some process listens, and one dedicated connection listens while a feed
   * watches. When that connection drops, feeds re-read and it reconnects; what committed meanwhile is read then.
   */
  readonly changes = new ChangeSignal({ start: (notify) => this.listen(notify), stop: () => this.unlisten() });

  private constructor(
    options: PostgresEngineOptions,
    readonly schema: string,
    /** node-postgres, loaded when the engine opens (see {@link PostgresEngine.open}). */
    private readonly driver: typeof pg,
  ) {
    this.location = `${redact(options.dsn)} (schema ${schema})`;
    this.listenConfig = {
      connectionString: options.dsn,
      connectionTimeoutMillis: options.connectTimeoutMs ?? POSTGRES_DEFAULTS.connectTimeoutMs,
      application_name: "stowage-listen",
      options: `-c search_path=${quoteIdent(schema)}`,
      // A server that vanishes without closing the socket is noticed, and the connection re-made.
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    };
    this.mapError = (error) => mapPostgresError(error, this.location);
    const statementTimeout = options.statementTimeoutMs ?? POSTGRES_DEFAULTS.statementTimeoutMs;
    const poolSize = options.poolSize ?? POSTGRES_DEFAULTS.poolSize;
    const poolConfig = (max: number, isolation: string, name: string, readOnly = false): pg.PoolConfig => ({
      connectionString: options.dsn,
      max,
      connectionTimeoutMillis: options.connectTimeoutMs ?? POSTGRES_DEFAULTS.connectTimeoutMs,
      statement_timeout: statementTimeout,
      // The client-side timeout catches a server that vanished without closing the socket.
      query_timeout: statementTimeout + CLIENT_TIMEOUT_MARGIN_MS,
      options: `-c search_path=${quoteIdent(schema)} -c default_transaction_isolation=${isolation}${readOnly ? " -c default_transaction_read_only=on" : ""}`,
      application_name: name,
      types: storedTypes(driver),
    });
    // Every statement and transaction at SERIALIZABLE, whatever the database's default (see the class comment).
    this.pool = this.openPool(poolConfig(poolSize, "serializable", "stowage"));
    this.workPoolConfig = poolConfig(options.workPoolSize ?? poolSize, // A space in a startup option is escaped with a backslash.
      "read\\ committed", "stowage-work");
    const poolExec = new PostgresExecutor(this.pool);
    // Plain reads run on a pool of their own whose transactions are READ ONLY, still SERIALIZABLE: the server then
    // skips the serializable checks' predicate locks of a read while no read-write serializable transaction runs
    // (PostgreSQL's read-only opt-out, which it proves safe), and otherwise orders the read as before.
    this.readPool = this.openPool(poolConfig(options.readPoolSize ?? poolSize, "serializable", "stowage-read", true));
    this.readOps = this.opsOn(new PostgresExecutor(this.readPool));
    bindPointReads(this.readOps, this.readPool, this.mapError);
    const single = opsOf(POSTGRES_PROGRAMS, <T>(program: SqlWork<T>, name: keyof EngineOps) =>
      POSTGRES_SINGLE_STATEMENT_OPS.has(name)
        ? runAsync(program, poolExec, this.mapError)
        : this.inTransaction("BEGIN", (exec) => runAsync(program, exec, this.mapError)),
    );
    // Appends (pushes) to one namespace serialise on its counter row anyway; those that arrive together share a statement.
    const weigh = (item: AppendItem) => item.value.byteLength + item.key.length;
    const appends = new KeyedBatcher<AppendItem, number>((ns, items) => runAsync(logAppendBatch(ns, items), poolExec, this.mapError), weigh, BATCH_LIMITS);
    const pushes = new KeyedBatcher<PushItem, number>((ns, items) => runAsync(queuePushBatch(ns, items), poolExec, this.mapError), weigh, BATCH_LIMITS);
    // A KV history namespace's puts take turns on its lock anyway: those that arrive together share a statement. Other
    // namespaces' puts stay one statement each, so that one put waiting on a row lock holds back no other. A batch
    // that repeats a key takes several statements, so it runs as one transaction: all of its puts commit, or none.
    const weighPut = (item: PutItem) => item.value.byteLength + item.key.length;
    const puts = new KeyedBatcher<PutItem, void>(
      (ns, items) =>
        distinctKeyParts(items).length === 1
          ? runAsync(kvPutBatch(ns, items), poolExec, this.mapError)
          : this.inTransaction("BEGIN", (exec) => runAsync(kvPutBatch(ns, items), exec, this.mapError)),
      weighPut,
      BATCH_LIMITS,
    );
    const work = plainWorkOps({
      workExec: () => new PostgresExecutor(this.openWorkPool()),
      workTransaction: (use) => this.inTransaction("BEGIN", use, this.openWorkPool()),
      serializableTransaction: (use) => this.inTransaction("BEGIN", use),
      mapError: this.mapError,
    });
    this.writeOps = {
      ...single,
      ...work,
      kvPut: (ns, key, value, expiresAt) => {
        this.historyNamespaces.refresh();
        return this.historyNamespaces.has(ns) ? puts.submit(ns, { key, value, expiresAt }) : single.kvPut(ns, key, value, expiresAt);
      },
      kvHistoryStart: async (ns, maxNamespaces) => {
        // The turn-on lists the history namespaces after its table lock: only READ COMMITTED reads them fresh there.
        const state = await this.inTransaction("BEGIN ISOLATION LEVEL READ COMMITTED", (exec) =>
          runAsync(POSTGRES_PROGRAMS.kvHistoryStart(ns, maxNamespaces), exec, this.mapError),
        );
        this.historyNamespaces.add(ns);
        return state;
      },
      logAppend: (ns, key, value, now) => appends.submit(ns, { key, value, now }),
      queuePush: async (ns, key, value, now, bound) => {
        const item = { key, value, now, bound };
        return pushResult(ns, item, await pushes.submit(ns, item));
      },
    };
  }

  /** Connects and migrates; the engine is ready when this resolves. */
  static async open(options: PostgresEngineOptions): Promise<PostgresEngine> {
    const { default: driver } = await loadDriver<typeof import("pg")>("pg", "postgres");
    const engine = new PostgresEngine(options, options.schema ?? POSTGRES_DEFAULTS.schema, driver);
    try {
      await engine.withClient((client) => migrate(client, engine.schema, engine.location));
    } catch (error) {
      await Promise.all([engine.pool.end(), engine.readPool.end()]).catch(() => undefined);
      throw engine.mapError(error);
    }
    return engine;
  }

  read<C extends EngineCall>(call: C): Promise<CallResult<C>> {
    return retrySerializationFailures(() => runCall(this.readOps, call));
  }

  /**
   * A write is one engine operation, so a one-statement operation needs no BEGIN / COMMIT: a single statement is
   * atomic, and at SERIALIZABLE one that raced a concurrent writer fails whole and runs again.
   */
  async write<C extends EngineCall>(call: C): Promise<CallResult<C>> {
    const result = await retrySerializationFailures(() => runCall(this.writeOps, call));
    this.changes.notify();
    return result;
  }

  async transaction<T>(body: (ops: EngineOps) => Promise<T>): Promise<T> {
    const result = await this.inTransaction("BEGIN ISOLATION LEVEL SERIALIZABLE", (exec) => body(this.transactionOpsOn(exec)));
    this.changes.notify();
    return result;
  }

  /** Usage of the pool, the read pool and the work pool; warns while calls wait for a connection (a pool is the bottleneck). */
  facts(): EngineFacts {
    const { totalCount, idleCount, waitingCount } = this.pool;
    const max = this.pool.options.max ?? 0;
    const warnings = waitingCount > 0 ? [`${waitingCount} calls wait for one of the pool's ${max} connections`] : [];
    const read = this.readPool;
    const readMax = read.options.max ?? 0;
    if (read.waitingCount > 0) warnings.push(`${read.waitingCount} reads wait for one of the read pool's ${readMax} connections`);
    const work = this.workPool;
    const workMax = this.workPoolConfig.max ?? 0;
    if (work !== undefined && work.waitingCount > 0) warnings.push(`${work.waitingCount} work calls wait for one of the work pool's ${workMax} connections`);
    return {
      facts: {
        poolMax: max,
        poolTotal: totalCount,
        poolIdle: idleCount,
        poolWaiting: waitingCount,
        readPoolMax: readMax,
        readPoolTotal: read.totalCount,
        readPoolIdle: read.idleCount,
        readPoolWaiting: read.waitingCount,
        workPoolMax: workMax,
        workPoolTotal: work?.totalCount ?? 0,
        workPoolIdle: work?.idleCount ?? 0,
        workPoolWaiting: work?.waitingCount ?? 0,
      },
      warnings,
    };
  }

  /**
   * Runs `body` in one `REPEATABLE READ READ ONLY` transaction on a pooled connection, held until the body settles
   * (committed when it resolves, rolled back when it throws): every read sees the data as of its first statement,
   * and writers go on. The body's reads take turns on that one connection. Writes through its ops fail INTERNAL.
   */
  snapshot<T>(body: (ops: EngineOps) => Promise<T>): Promise<T> {
    return this.inTransaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", (exec) => body(readOnlyOps(this.opsOn(exec), this.location)));
  }

  /** In one REPEATABLE READ transaction, so that every invariant is read from the same snapshot. */
  check(): Promise<string[]> {
    return this.inTransaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", async (exec) => {
      const problems: string[] = [];
      for (const { rule, sql } of SQL_INVARIANTS) problems.push(...describeViolations(rule, await exec.all(sql, [])));
      return problems;
    });
  }

  async close(): Promise<void> {
    this.changes.stopAll();
    await Promise.all([this.pool.end(), this.readPool.end(), this.workPool?.end()]);
  }

  private openPool(config: pg.PoolConfig): pg.Pool {
    const pool = new this.driver.Pool(config);
    // An idle connection that dies (server restart) is dropped by the pool; without a listener it would crash the process.
    pool.on("error", () => undefined);
    return pool;
  }

  /** The work pool, opened at the first plain work call: a store that never uses work queues opens no connection for it. */
  private openWorkPool(): pg.Pool {
    this.workPool ??= this.openPool(this.workPoolConfig);
    return this.workPool;
  }

  /**
   * Listens for other processes' commits until `unlisten`, reconnecting after a drop. The connection registers its
   * backend in `stowage_listeners` (so that the triggers notify at all), clearing rows of backends that are gone. A
   * tick every {@link LISTEN_TICK_MS} also wakes the feeds: it bounds the delay of a notification lost with a
   * connection that died silently.
   */
  private listen(notify: () => void): void {
    const state: { stopped: boolean; client?: pg.Client; retry?: NodeJS.Timeout; tick?: NodeJS.Timeout } = { stopped: false };
    this.listener = state;
    state.tick = setInterval(notify, LISTEN_TICK_MS);
    const retry = () => {
      if (state.stopped || state.retry !== undefined) return;
      notify(); // something may have committed while nobody listened: feeds read again
      state.retry = setTimeout(() => {
        state.retry = undefined;
        void connect();
      }, LISTEN_RETRY_MS);
    };
    const connect = async () => {
      if (state.stopped) return;
      const client = new this.driver.Client(this.listenConfig);
      state.client = client;
      client.on("notification", (message) => {
        if (message.payload?.startsWith(`${this.schema}:`) === true) notify();
      });
      client.on("error", () => undefined);
      client.on("end", retry);
      try {
        await client.connect();
        await client.query(`LISTEN ${CHANGES_CHANNEL}`);
        await client.query("DELETE FROM stowage_listeners WHERE pid NOT IN (SELECT pid FROM pg_stat_activity)");
        await client.query("INSERT INTO stowage_listeners (pid, since) VALUES (pg_backend_pid(), $1) ON CONFLICT (pid) DO NOTHING", [Date.now()]);
        if (state.stopped) await client.end();
        notify(); // commits before the registration took effect are read now
      } catch {
        await client.end().catch(() => undefined);
        retry();
      }
    };
    void connect();
  }

  private unlisten(): void {
    const state = this.listener;
    this.listener = undefined;
    if (state === undefined) return;
    state.stopped = true;
    clearTimeout(state.retry);
    clearInterval(state.tick);
    const client = state.client;
    if (client === undefined) return;
    // Unregistered first, so that writers stop notifying; a connection that cannot is cleared by the next listener.
    // A stalled server must not hold the process: past the timeout the connection is dropped unregistered.
    const unregister = client.query("DELETE FROM stowage_listeners WHERE pid = pg_backend_pid()").catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, UNLISTEN_TIMEOUT_MS);
      timer.unref();
    });
    void Promise.race([unregister, timeout]).finally(() => {
      clearTimeout(timer);
      const socket = (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream;
      client.end().catch(() => undefined);
      // end() waits for the server's goodbye; a stalled one never sends it.
      setTimeout(() => socket?.destroy(), UNLISTEN_TIMEOUT_MS).unref();
    });
  }

  /**
   * Checks a connection out for `use` and returns it to the pool, or drops it when it broke. `broke(error)` marks it
   * broken. The pool stops listening to a checked-out connection, so this listens instead: without it, a server
   * restart or a killed backend while the connection is out would be an unhandled 'error' event and end the process.
   */
  private async withClient<T>(use: (client: pg.PoolClient, broke: (error: Error) => void) => Promise<T>, pool = this.pool): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      throw this.mapError(error);
    }
    let broken: Error | undefined;
    const onClientError = (error: unknown) => {
      broken = this.mapError(error);
    };
    client.on("error", onClientError);
    try {
      return await use(client, (error) => (broken = error));
    } finally {
      client.removeListener("error", onClientError);
      client.release(broken);
    }
  }

  /**
   * A transaction body's ops. The body may catch an operation's error and go on: an operation of several writing
   * statements then runs under a savepoint of its own, so that a failure leaves none of its statements behind.
   */
  private transactionOpsOn(exec: PostgresExecutor): EngineOps {
    return opsOf(POSTGRES_PROGRAMS, async <T>(program: SqlWork<T>, name: keyof EngineOps): Promise<T> => {
      if (!MULTI_STATEMENT_WRITE_OPS.has(name) || POSTGRES_SINGLE_STATEMENT_OPS.has(name)) return runAsync(program, exec, this.mapError);
      await runAsync(statement("SAVEPOINT op"), exec, this.mapError);
      try {
        const result = await runAsync(program, exec, this.mapError);
        await runAsync(statement("RELEASE SAVEPOINT op"), exec, this.mapError);
        return result;
      } catch (error) {
        await runAsync(statement("ROLLBACK TO SAVEPOINT op"), exec, this.mapError).catch(() => undefined);
        throw error;
      }
    });
  }

  /** Ops that run every operation's program on `exec` (the pool, or one transaction's connection). */
  private opsOn(exec: PostgresExecutor): EngineOps {
    return opsOf(POSTGRES_PROGRAMS, <T>(program: SqlWork<T>) => runAsync(program, exec, this.mapError));
  }

  /** Runs `use` on one connection of `pool` between `begin` and COMMIT; ROLLBACK when it throws. */
  private inTransaction<T>(begin: string, use: (exec: PostgresExecutor) => Promise<T>, pool = this.pool): Promise<T> {
    return this.withClient(async (client, broke) => {
      // Driver failures become typed errors; an error the body threw itself reaches the caller unchanged.
      const driver = (error: unknown): Error => {
        const mapped = this.mapError(error);
        if ((mapped as { code?: string }).code === "BACKEND_UNAVAILABLE") broke(mapped);
        return mapped;
      };
      try {
        await client.query(begin);
      } catch (error) {
        throw driver(error);
      }
      let result: T;
      try {
        result = await use(new PostgresExecutor(client));
      } catch (error) {
        await client.query("ROLLBACK").catch((rollbackError: unknown) => {
          broke(driver(rollbackError)); // the connection is gone: do not return it to the pool
        });
        if ((error as { code?: string }).code === "BACKEND_UNAVAILABLE") broke(error as Error);
        throw error;
      }
      try {
        await client.query("COMMIT");
      } catch (error) {
        throw driver(error);
      }
      return result;
    }, pool);
  }
}

/**
 * Runs `work` (one statement, or one short transaction of several) until it does not lose a serialization race, at
 * most {@link STATEMENT_ATTEMPTS} times, with a short jittered pause between runs so that the racers do not collide
 * again in lockstep. Any other failure returns at once.
 */
function retrySerializationFailures<T>(work: () => Awaitable<T>): Promise<T> {
  // The first run costs one promise (no async frame): a lost race is rare, the retries live in `retryAfter`.
  try {
    return Promise.resolve(work()).catch((error: unknown) => retryAfter(error, work));
  } catch (error) {
    return retryAfter(error, work);
  }
}

async function retryAfter<T>(firstError: unknown, work: () => Awaitable<T>): Promise<T> {
  let error = firstError;
  for (let attempt = 1; ; attempt++) {
    if (!isSerializationFailure(error) || attempt >= STATEMENT_ATTEMPTS) throw error;
    await pauseBeforeRetry(attempt, MAX_RETRY_PAUSE_MS);
    try {
      return await work();
    } catch (next) {
      error = next;
    }
  }
}
