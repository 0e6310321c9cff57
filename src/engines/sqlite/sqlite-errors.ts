import { StowageError, type ErrorCode } from "../../api/errors.js";
import { transactionFatal } from "../transaction-failure.js";

/**
 * Maps better-sqlite3's errors (SqliteError with a `SQLITE_*` code) to stowage's codes. A failure of the database
 * itself ends the transaction it happened in, as on every engine (SQLite rolls some back by itself; the rule is the
 * same for all), so it is marked so. Errors stowage raised itself pass unchanged and unmarked.
 */
export function mapSqliteError(error: unknown, location: string): Error {
  if (error instanceof StowageError) return error;
  const code = typeof (error as { code?: unknown })?.code === "string" ? ((error as { code: string }).code) : "";
  const message = error instanceof Error ? error.message : String(error);
  const mapped = classify(code);
  if (mapped === undefined) {
    return transactionFatal(new StowageError("INTERNAL", `SQLite failed at ${location}: ${message}${code ? ` (${code})` : ""}`, { cause: error }));
  }
  return transactionFatal(new StowageError(mapped.code, `${mapped.why} at ${location}: ${message} (${code})`, { cause: error }));
}

function classify(code: string): { code: ErrorCode; why: string } | undefined {
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) {
    return { code: "BACKEND_UNAVAILABLE", why: "the database stayed locked by another connection past the busy timeout" };
  }
  if (code.startsWith("SQLITE_CORRUPT") || code === "SQLITE_NOTADB") {
    return { code: "CORRUPT", why: "the database file is damaged or is not a SQLite database" };
  }
  if (code === "SQLITE_FULL") return { code: "BACKEND_UNAVAILABLE", why: "the disk is full" };
  if (code.startsWith("SQLITE_IOERR") || code.startsWith("SQLITE_CANTOPEN") || code.startsWith("SQLITE_READONLY") || code === "SQLITE_PERM") {
    return { code: "BACKEND_UNAVAILABLE", why: "the database file cannot be read or written" };
  }
  if (code === "SQLITE_TOOBIG") return { code: "LIMIT_EXCEEDED", why: "a value is larger than SQLite allows" };
  return undefined;
}
