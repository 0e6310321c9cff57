import { StowageError, type ErrorCode } from "../../api/errors.js";
import { isTlsFailureCode } from "../tls-failure.js";
import { serializationFailure, transactionFatal } from "../transaction-failure.js";

/** Node socket errors that mean the server is out of reach. */
const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EHOSTUNREACH", "ECONNABORTED", "EAI_AGAIN"]);

/** node-postgres reports lost connections and its own timeouts as plain Errors with these messages. */
const NETWORK_MESSAGES = [/connection terminated/i, /timeout exceeded when trying to connect/i, /query read timeout/i, /connection.*(closed|ended)/i, /not queryable/i, /terminating connection/i];

/** node-postgres's refusal when the server offers no TLS but the DSN requires it, and TLS failures in its text. */
const TLS_MESSAGES = [/server does not support SSL/i, /self[- ]signed certificate/i, /certificate/i];

/** SQLSTATEs of a lost serialization race: running the transaction again may succeed. */
const SERIALIZATION_CODES = new Set(["40001", "40P01"]);

/**
 * Maps node-postgres errors (SQLSTATE in `code`) and socket errors to stowage's codes. Every error of the server or
 * the connection ends the transaction it happened in (PostgreSQL aborts it), so it is marked so; serialization
 * failures and deadlocks are marked as the engine's own, the only CONFLICT the store runs work again for. Errors
 * stowage raised itself (a full queue, a refused expectation) pass unchanged and unmarked.
 */
export function mapPostgresError(error: unknown, location: string): Error {
  if (error instanceof StowageError) return error;
  const code = typeof (error as { code?: unknown })?.code === "string" ? (error as { code: string }).code : "";
  const message = error instanceof Error ? error.message : String(error);
  const mapped = classify(code, message);
  const suffix = code === "" ? "" : ` (${code})`;
  const typed = new StowageError(mapped.code, `${mapped.why} at ${location}: ${message}${suffix}`, { cause: error });
  return SERIALIZATION_CODES.has(code) ? serializationFailure(typed) : transactionFatal(typed);
}

function classify(code: string, message: string): { code: ErrorCode; why: string } {
  if (SERIALIZATION_CODES.has(code)) return { code: "CONFLICT", why: "a concurrent transaction conflicted; retry" };
  // 28P01: a wrong password; 28000: no pg_hba.conf entry allows this user, database, address or TLS setting.
  if (code === "28P01" || code === "28000") return { code: "UNAUTHORIZED", why: "the PostgreSQL server refused the credentials" };
  if (isTlsFailureCode(code) || (code === "" && TLS_MESSAGES.some((pattern) => pattern.test(message)))) {
    return { code: "UNAUTHORIZED", why: "the TLS check of the PostgreSQL connection failed" };
  }
  if (code === "57014") return { code: "BACKEND_UNAVAILABLE", why: "the statement timed out" };
  if (code.startsWith("08") || code === "57P01" || code === "57P02" || code === "57P03" || code.startsWith("53") || NETWORK_CODES.has(code)) {
    return { code: "BACKEND_UNAVAILABLE", why: "the PostgreSQL server is unavailable" };
  }
  if (code === "XX001" || code === "XX002") return { code: "CORRUPT", why: "PostgreSQL reports corrupted data" };
  if (code === "54000") return { code: "LIMIT_EXCEEDED", why: "a PostgreSQL limit was exceeded" };
  if (code === "" && NETWORK_MESSAGES.some((pattern) => pattern.test(message))) {
    return { code: "BACKEND_UNAVAILABLE", why: "the PostgreSQL connection was lost or timed out" };
  }
  return { code: "INTERNAL", why: "PostgreSQL failed" };
}
