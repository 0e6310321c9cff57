import { statfsSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type Database from "better-sqlite3";
import type { Awaitable, Engine, EngineFacts, EngineOps, EngineSupports } from "../engine.js";
import { runCall, type CallResult, type EngineCall } from "../engine-calls.js";
import { Mutex } from "../mutex.js";
import { ChangeSignal } from "../change-signal.js";
import { createParentFolders } from "../data-folder.js";
import { loadDriver } from "../load-driver.js";
import { describeViolations, SQL_INVARIANTS } from "../sql/sql-invariants.js";
import { MULTI_STATEMENT_WRITE_OPS, sqlPrograms } from "../sql/sql-ops.js";
import { opsOf, runSync, type SqlPrograms, type SqlWork } from "../sql/sql-program.js";
import { isBusy, retryWhileBusy, unlessBusy } from "./sqlite-busy.js";
import { mapSqliteError } from "./sqlite-errors.js";
import { bindPointReads, SqliteExecutor } from "./sqlite-executor.js";
import { prepareSchema, SCHEMA_VERSION } from "./sqlite-schema.js";
import { SUPPORTS_EVERYTHING } from "../api-limits.js";
import { readOnlyOps } from "../read-only-ops.js";

/**
 * - `full` (default): every commit is fsynced; a resolved write survives a power cut or OS crash.
 * - `process`: commits reach the OS but are synced only at WAL checkpoints; a resolved write survives the process
 *   being killed, not an OS crash or power cut. Faster where fsync is slow.
 */
export type Durability = (typeof DURABILITIES)[number];

/** The durability modes, for validation and configuration. */
export const DURABILITIES = ["full", "process"] as const;

/** How long a call waits for another connection's lock by default, in ms (asynchronously: the event loop runs meanwhile). */
export const DEFAULT_BUSY_TIMEOUT_MS = 5_000;

/** Options of the SQLite engine. */
export interface SqliteEngineOptions {
  /** The database file; it and its parent folders are created on first open. */
  path: string;
  durability?: Durability;
  /**
   * How long a call waits for another connection's lock before BACKEND_UNAVAILABLE, in ms (default
   * {@link DEFAULT_BUSY_TIMEOUT_MS}). The wait is asynchronous: the event loop runs meanwhile.
   */
  busyTimeoutMs?: number;
}

interface PendingWrite {
  call: EngineCall;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** Most writes one group commit carries; a backlog beyond it goes in the next commit. */
const MAX_GROUP = 512;
/** How often a watched SQLite store checks for other processes' commits (the delivery latency of live feeds across processes). */
export const CHANGE_POLL_MS = 20;

/** Free disk space below which `store.health()` reports `degraded`. */
export const LOW_DISK_BYTES = 100 * 1_048_576;

/**
 * SQLite through better-sqlite3, in WAL mode, with two connections: one writer and one reader, so that reads see
 * committed data only and never wait for a transaction in progress. Writes that arrive together share one commit
 * (group commit); a write that fails is refused alone (see `commitGroup`). Neither connection has a busy handler:
 * waits for another connection's lock are asynchronous (see sqlite-busy.ts). Open with {@link SqliteEngine.open}.
 */
export class SqliteEngine implements Engine {
  readonly name = "sqlite";
  /**
   * Everything, work queues included, across the processes sharing the file; SQLite's own limits (about 1 GB a value)
   * are looser than stowage's.
   */
  static readonly supports: EngineSupports = SUPPORTS_EVERYTHING;
  readonly supports = SqliteEngine.supports;
  private readonly writerOps: EngineOps;
  /** The writer's ops for transaction bodies (see the constructor). */
  private readonly transactionOps: EngineOps;
  private readonly readerOps: EngineOps;
  private readonly lock = new Mutex();
  private pending: PendingWrite[] = [];
  private flushScheduled = false;
  private readonly statement: Record<
    "begin" | "commit" | "rollback" | "savepoint" | "release" | "rollbackTo" | "opSavepoint" | "opRelease" | "opRollbackTo",
    Database.Statement
  >;
  private readonly mapError: (error: unknown) => Error;
  private readonly programs: SqlPrograms;

  /**
   * Opens (creating if needed) the file and brings its schema up to date. Waits for other processes' locks
   * asynchronously, and takes the write lock only when the schema must be created or migrated.
   */
  static async open(options: SqliteEngineOptions): Promise<SqliteEngine> {
    // Loaded before anything is created: without the driver, no folder is left behind.
    const { default: Driver } = await loadDriver<{ default: typeof Database }>("better-sqlite3", "sqlite");
    const location = resolve(options.path);
    const timeout = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
    createParentFolders(location);
    let writer: Database.Database | undefined;
    let reader: Database.Database | undefined;
    try {
      // timeout 0: better-sqlite3's busy handler would sleep synchronously, freezing the event loop.
      writer = new Driver(location, { timeout: 0 });
      await prepareSchema(writer, location, timeout);
      writer.pragma(`synchronous = ${(options.durability ?? "full") === "full" ? "FULL" : "NORMAL"}`);
      reader = new Driver(location, { timeout: 0 });
      return new SqliteEngine(location, writer, reader, timeout, Driver);
    } catch (error) {
      writer?.close();
      reader?.close();
      throw mapSqliteError(error, location);
    }
  }

  private constructor(
    readonly location: string,
    private readonly writer: Database.Database,
    private readonly reader: Database.Database,
    private readonly busyTimeoutMs: number,
    /** The driver, for the connections of snapshots. */
    private readonly driver: typeof Database,
  ) {
    const map = (error: unknown) => mapSqliteError(error, this.location);
    // better-sqlite3 is synchronous, so these ops answer at once: a read is a plain function call, and a group
    // commit runs from BEGIN to COMMIT without yielding to the event loop.
    const programs = (this.programs = sqlPrograms(SCHEMA_VERSION, { work: { rowAtATime: true } }));
    const writerExec = new SqliteExecutor(writer);
    const readerExec = new SqliteExecutor(reader);
    this.writerOps = opsOf(programs, <T>(program: SqlWork<T>) => runSync(program, writerExec, map));
    // In a transaction the body may catch an operation's error and go on: an operation of several writing statements
    // then runs under its own savepoint, so that a failure leaves none of its statements behind.
    // A failure of the database itself is marked transaction-fatal (see mapSqliteError): the store then refuses the
    // body's later calls and never commits, so no statement runs after SQLite rolled a transaction back by itself
    // (disk full, I/O error), when it would run outside the transaction, in autocommit mode.
    this.transactionOps = opsOf(programs, <T>(program: SqlWork<T>, name: keyof EngineOps) =>
      MULTI_STATEMENT_WRITE_OPS.has(name) ? this.underSavepoint(() => runSync(program, writerExec, map)) : runSync(program, writerExec, map),
    );
    this.readerOps = opsOf(programs, <T>(program: SqlWork<T>) => runSync(program, readerExec, map));
    bindPointReads(this.readerOps, reader, map);
    this.statement = {
      begin: writer.prepare("BEGIN IMMEDIATE"),
      commit: writer.prepare("COMMIT"),
      rollback: writer.prepare("ROLLBACK"),
      savepoint: writer.prepare("SAVEPOINT w"),
      release: writer.prepare("RELEASE w"),
      rollbackTo: writer.prepare("ROLLBACK TO w"),
      opSavepoint: writer.prepare("SAVEPOINT op"),
      opRelease: writer.prepare("RELEASE op"),
      opRollbackTo: writer.prepare("ROLLBACK TO op"),
    };
    this.mapError = map;
  }

  /**
   * Answers synchronously: the reader connection sees committed data only, so it does not wait for writers. In the
   * rare moments when even a WAL reader finds the file locked (another connection recovering the WAL after a crash),
   * the read is tried again asynchronously and the answer is a promise.
   */
  read<C extends EngineCall>(call: C): Awaitable<CallResult<C>> {
    try {
      return runCall(this.readerOps, call);
    } catch (error) {
      if (!isBusy(error) || this.busyTimeoutMs <= 0) throw error;
      return retryWhileBusy(() => runCall(this.readerOps, call), this.busyTimeoutMs);
    }
  }

  write<C extends EngineCall>(call: C): Promise<CallResult<C>> {
    return new Promise<CallResult<C>>((resolve, reject) => {
      this.pending.push({ call, resolve: resolve as (value: unknown) => void, reject });
      this.scheduleFlush();
    });
  }

  /** Runs `body` between BEGIN IMMEDIATE (waited for asynchronously when another connection holds the write lock) and COMMIT. */
  transaction<T>(body: (ops: EngineOps) => Promise<T>): Promise<T> {
    return this.lock.run(async () => {
      await this.begin();
      try {
        const result = await body(this.transactionOps);
        await this.commit();
        this.changes.notify();
        return result;
      } catch (error) {
        this.rollback();
        throw error;
      }
    });
  }

  /** File and WAL sizes and the free space of the disk they are on; warns when less than {@link LOW_DISK_BYTES} is free. */
  facts(): EngineFacts {
    const size = (path: string): number => {
      try {
        return statSync(path).size;
      } catch {
        return 0;
      }
    };
    const facts: EngineFacts["facts"] = { fileBytes: size(this.location), walBytes: size(`${this.location}-wal`) };
    const warnings: string[] = [];
    try {
      const disk = statfsSync(dirname(this.location));
      facts.diskFreeBytes = disk.bavail * disk.bsize;
      if (facts.diskFreeBytes < LOW_DISK_BYTES) warnings.push(`the disk holding ${this.location} has ${Math.floor(facts.diskFreeBytes / 1_048_576)} MiB free`);
    } catch {
      // A platform without statfs reports no free space rather than failing the health check.
    }
    return { facts, warnings };
  }

  /**
   * Runs `body` in one read transaction (BEGIN, reads, COMMIT) on a read-only connection of its own, opened for it
   * and closed when the body settles: in WAL mode the transaction reads the data as of its first read, while the
   * writer goes on committing (SQLite cannot checkpoint past a snapshot still open, so the WAL grows meanwhile).
   * Writes through the snapshot's ops fail INTERNAL.
   */
  async snapshot<T>(body: (ops: EngineOps) => Promise<T>): Promise<T> {
    let db: Database.Database;
    try {
      db = new this.driver(this.location, { timeout: 0, readonly: true, fileMustExist: true });
    } catch (error) {
      throw this.mapError(error);
    }
    try {
      const exec = new SqliteExecutor(db);
      try {
        db.exec("BEGIN");
        // The first read fixes the snapshot; it waits (asynchronously) only while another connection recovers the WAL.
        await unlessBusy(() => exec.get("SELECT count(*) AS n FROM stowage_counter", []), this.busyTimeoutMs);
      } catch (error) {
        throw this.mapError(error);
      }
      const ops = opsOf(this.programs, <T>(program: SqlWork<T>) => runSync(program, exec, this.mapError));
      return await body(readOnlyOps(ops, this.location));
    } finally {
      try {
        if (db.inTransaction) db.exec("COMMIT");
      } catch {
        // A read transaction has nothing to commit, and closing the connection ends it anyway.
      }
      db.close();
    }
  }

  /**
   * On the reader connection, which never blocks the writer; each invariant is one statement, so it reads one
   * committed snapshot. Damage that stops a step from running is reported as a problem of that step, so that the
   * report is complete either way.
   */
  async check(): Promise<string[]> {
    const attempt = async (what: string, step: () => string[]): Promise<string[]> => {
      try {
        return await unlessBusy(step, this.busyTimeoutMs);
      } catch (error) {
        return [`${what}: could not be checked: ${this.mapError(error).message}`];
      }
    };
    const problems = await attempt("SQLite integrity_check", () => {
      const lines = (this.reader.pragma("integrity_check") as Array<{ integrity_check: string }>).map((row) => row.integrity_check);
      return lines.length === 1 && lines[0] === "ok" ? [] : lines.map((line) => `SQLite integrity_check: ${line}`);
    });
    for (const { rule, sql } of SQL_INVARIANTS) {
      problems.push(...(await attempt(rule, () => describeViolations(rule, this.reader.prepare(sql).all() as Array<Record<string, unknown>>))));
    }
    return problems;
  }

  /**
   * Live feeds learn of this process's commits at once, and of other processes' by polling `PRAGMA data_version` on
   * the reader connection (it changes whenever another connection commits) every {@link CHANGE_POLL_MS} while a feed
   * watches: a cheap read of a page already in memory.
   */
  readonly changes = new ChangeSignal({
    start: (notify) => {
      let seen: unknown;
      try {
        seen = this.reader.pragma("data_version", { simple: true });
      } catch {
        // Locked for a moment (see read): the first poll then signals a change, and the feeds read again.
      }
      this.poll = setInterval(() => {
        try {
          const now = this.reader.pragma("data_version", { simple: true });
          if (now !== seen) {
            seen = now;
            notify();
          }
        } catch {
          notify(); // the feeds' own read then reports what is wrong
        }
      }, CHANGE_POLL_MS);
    },
    stop: () => {
      clearInterval(this.poll);
      this.poll = undefined;
    },
  });
  private poll: NodeJS.Timeout | undefined;

  async close(): Promise<void> {
    this.changes.stopAll();
    await this.lock.run(() => this.flushPending());
    this.writer.close();
    this.reader.close();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // setImmediate, not a microtask: lets every write issued in this turn of the event loop join the commit.
    setImmediate(() => {
      void this.lock.run(async () => {
        this.flushScheduled = false;
        await this.flushPending();
      });
    });
  }

  /** Commits everything pending, a group at a time. Runs under the lock. */
  private async flushPending(): Promise<void> {
    while (this.pending.length > 0) {
      await this.commitGroup(this.pending.splice(0, MAX_GROUP));
    }
  }

  /**
   * Commits a group in one transaction. The first attempt runs the writes back to back; if one fails, the
   * transaction is rolled back and the group runs again with a savepoint around each write, so that the failing write
   * alone is refused. Writes are deterministic functions of the ops, so running one again is safe.
   */
  private async commitGroup(group: PendingWrite[]): Promise<void> {
    if (!(await this.beginFor(group))) return;
    const values: unknown[] = [];
    for (const write of group) {
      try {
        // SQLite ops answer synchronously: a group runs from BEGIN to COMMIT without yielding to the event loop.
        values.push(runCall(this.writerOps, write.call));
      } catch (error) {
        this.rollback();
        if (group.length === 1) write.reject(this.mapError(error));
        else await this.commitWithSavepoints(group);
        return;
      }
    }
    if (await this.commitFor(group)) group.forEach((write, i) => write.resolve(values[i]));
  }

  /**
   * The group again, each write under a savepoint. If a write's failure made SQLite roll back the whole transaction
   * (disk full, I/O error), every write of the group fails with it: none may run outside the transaction.
   */
  private async commitWithSavepoints(group: PendingWrite[]): Promise<void> {
    if (!(await this.beginFor(group))) return;
    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    for (const write of group) {
      try {
        this.run(this.statement.savepoint);
        const value = runCall(this.writerOps, write.call);
        this.run(this.statement.release);
        outcomes.push({ ok: true, value });
      } catch (error) {
        try {
          this.statement.rollbackTo.run();
          this.statement.release.run();
        } catch {
          // The savepoint is gone only if the whole transaction is; that is handled just below.
        }
        if (!this.writer.inTransaction) {
          for (const each of group) each.reject(this.mapError(error));
          return;
        }
        outcomes.push({ ok: false, error: this.mapError(error) });
      }
    }
    if (!(await this.commitFor(group))) return;
    group.forEach((write, i) => {
      const outcome = outcomes[i] as (typeof outcomes)[number];
      if (outcome.ok) write.resolve(outcome.value);
      else write.reject(outcome.error);
    });
  }

  /** Opens the group's transaction; when it cannot (locked past the busy timeout, unwritable), no write of the group can go in. */
  private async beginFor(group: PendingWrite[]): Promise<boolean> {
    try {
      await this.begin();
      return true;
    } catch (error) {
      for (const write of group) write.reject(error);
      return false;
    }
  }

  /** Commits the group's transaction; when the commit fails, every write of the group fails with it. */
  private async commitFor(group: PendingWrite[]): Promise<boolean> {
    try {
      await this.commit();
      this.changes.notify();
      return true;
    } catch (error) {
      this.rollback();
      for (const write of group) write.reject(error);
      return false;
    }
  }

  /**
   * BEGIN IMMEDIATE: takes the write lock, waiting asynchronously while another connection holds it. Synchronous when
   * the lock is free, so that a group commit does not yield to the event loop.
   */
  private begin(): void | Promise<void> {
    return unlessBusy(() => this.run(this.statement.begin), this.busyTimeoutMs);
  }

  /** COMMIT. In WAL mode it needs no other lock; should it find the file locked anyway, it waits as `begin` does (SQLite keeps the transaction open). */
  private commit(): void | Promise<void> {
    return unlessBusy(() => this.run(this.statement.commit), this.busyTimeoutMs);
  }

  /** Runs `op` under a savepoint of its own inside the open transaction: on failure, none of its statements stay. */
  private underSavepoint<T>(op: () => T): T {
    this.run(this.statement.opSavepoint);
    try {
      const result = op();
      this.run(this.statement.opRelease);
      return result;
    } catch (error) {
      try {
        this.statement.opRollbackTo.run();
        this.statement.opRelease.run();
      } catch {
        // The savepoint is gone only if the whole transaction is, and then the commit fails for all of it.
      }
      throw error;
    }
  }

  private run(statement: Database.Statement): void {
    try {
      statement.run();
    } catch (error) {
      throw this.mapError(error);
    }
  }

  private rollback(): void {
    if (this.writer.inTransaction) {
      try {
        this.statement.rollback.run();
      } catch {
        // A failed rollback leaves nothing committed; SQLite rolls back on the next open at worst.
      }
    }
  }
}
