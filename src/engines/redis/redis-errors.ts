import { StowageError } from "../../api/errors.js";
import { isTlsFailure } from "../tls-failure.js";

/**
 * Redis's refusals of the client, by the text ioredis gives them: the server's own prefix (`WRONGPASS …`), or a TLS
 * failure (see `isTlsFailure`). Retrying does not help: UNAUTHORIZED.
 */
const REFUSED: ReadonlyArray<readonly [pattern: RegExp, says: string]> = [
  [/^(NOAUTH|WRONGPASS)\b/, "the Redis server refused the credentials (a wrong or missing user or password)"],
  // A command of a script the user may not run reaches the client as an ERR naming the user.
  [/^NOPERM\b|^ERR The user executing the script can't/, "the Redis user lacks a permission this store needs (a command, or its prefix's keys or channel)"],
];

/**
 * Redis's conditions by the text ioredis gives them (server errors carry Redis's own prefix, `OOM …`, `READONLY …`;
 * connection failures Node's or ioredis's message), most specific first. Every one of them is a state of the server
 * or of the way to it, which may end: BACKEND_UNAVAILABLE.
 */
const UNAVAILABLE: ReadonlyArray<readonly [pattern: RegExp, says: string]> = [
  [/^OOM\b/, "Redis is out of memory (maxmemory reached)"],
  [/^MISCONF\b/, "Redis cannot persist (a failed AOF write or RDB save), so it refuses writes"],
  [/^READONLY\b/, "the Redis server is a read-only replica"],
  [/^(LOADING|BUSY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN)\b/, "the Redis server is busy or not ready"],
  [/ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN/, "the Redis server cannot be reached"],
  [/Connection is closed|Stream isn't writeable|enableOfflineQueue|MaxRetriesPerRequest|Reached the max retries/i, "the connection to the Redis server is down"],
  [/Command timed out|connect ETIMEDOUT|timed out/i, "the Redis server did not answer in time"],
];

/**
 * A typed error for an ioredis failure of the store at `location` (a URL without credentials): UNAUTHORIZED for a
 * refusal of the client ({@link REFUSED}, a failed TLS check), BACKEND_UNAVAILABLE for {@link UNAVAILABLE}, INTERNAL
 * otherwise (a script error: a bug of this store). A failure while a commit was in flight leaves its outcome unknown
 * to this process; `during` says what was running.
 */
export function mapRedisError(error: unknown, location: string, during = "a call"): StowageError {
  if (error instanceof StowageError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as NodeJS.ErrnoException | undefined)?.code ?? "";
  const cause = withoutCredentials(error);
  const typed = (stowageCode: "UNAUTHORIZED" | "BACKEND_UNAVAILABLE", says: string) =>
    new StowageError(stowageCode, `${says} (redis engine, ${location}) during ${during}: ${message}`, { cause });
  for (const [pattern, says] of REFUSED) {
    if (pattern.test(message)) return typed("UNAUTHORIZED", says);
  }
  if (isTlsFailure(error)) return typed("UNAUTHORIZED", "the TLS check of the connection to the Redis server failed (a server certificate the CA does not sign or for another host, or a client certificate missing or refused)");
  for (const [pattern, says] of UNAVAILABLE) {
    if (pattern.test(message) || pattern.test(code)) return typed("BACKEND_UNAVAILABLE", says);
  }
  return new StowageError("INTERNAL", `Redis failed on ${location} during ${during}: ${message}`, { cause });
}

/** The commands whose arguments hold credentials. */
const CREDENTIAL_COMMANDS = /^(auth|hello)$/i;

/**
 * `error`, or where it is ioredis's reply to AUTH (or HELLO), a copy without the command: ioredis attaches the
 * command and its arguments, the password among them, which a log printing the error's cause would show.
 */
function withoutCredentials(error: unknown): unknown {
  const command = (error as { command?: { name?: unknown } } | undefined)?.command;
  if (!(error instanceof Error) || typeof command?.name !== "string" || !CREDENTIAL_COMMANDS.test(command.name)) return error;
  const copy = new Error(error.message);
  copy.name = error.name;
  copy.stack = error.stack;
  return copy;
}

/** The URL to name in messages: the password (and user) left out. */
export function redisLocation(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = "";
    parsed.password = "";
    return parsed.toString().replace(/\/$/, "");
  } catch {
    return "(an unparsable Redis URL)";
  }
}
