import { StowageError } from "../../api/errors.js";

/**
 * A typed error for a classic-level failure on the store at `location`. classic-level wraps an open failure in
 * LEVEL_DATABASE_NOT_OPEN with the reason as its `cause` (LEVEL_LOCKED, LEVEL_CORRUPTION, LEVEL_IO_ERROR), so the
 * chain is searched for the most telling code.
 */
export function mapLevelError(error: unknown, location: string): StowageError {
  if (error instanceof StowageError) return error;
  const codes = codesOf(error);
  const message = messagesOf(error);
  // Another process, or another open in this one, holds LevelDB's lock on the folder: a state that ends when that
  // store closes, so BACKEND_UNAVAILABLE (may be retried), not INCOMPATIBLE (which says the data is not ours).
  if (codes.includes("LEVEL_LOCKED")) {
    return new StowageError("BACKEND_UNAVAILABLE", `the LevelDB store at ${location} is open elsewhere (another process, or another store in this one); LevelDB allows one at a time: ${message}`, { cause: error });
  }
  if (codes.includes("LEVEL_CORRUPTION")) return new StowageError("CORRUPT", `the LevelDB store at ${location} is damaged: ${message}`, { cause: error });
  if (/No space left on device|ENOSPC|EDQUOT/i.test(message)) return new StowageError("BACKEND_UNAVAILABLE", `the disk of the LevelDB store at ${location} is full: ${message}`, { cause: error });
  if (codes.includes("LEVEL_IO_ERROR") || /EACCES|EPERM|EROFS|EIO|Permission denied|Read-only file system/i.test(message)) {
    return new StowageError("BACKEND_UNAVAILABLE", `LevelDB cannot read or write ${location}: ${message}`, { cause: error });
  }
  if (codes.includes("LEVEL_DATABASE_NOT_OPEN")) return new StowageError("CLOSED", `the LevelDB store at ${location} is not open: ${message}`, { cause: error });
  if (codes.includes("LEVEL_SNAPSHOT_NOT_OPEN")) return new StowageError("CLOSED", `a snapshot of the LevelDB store at ${location} was read after its release`, { cause: error });
  return new StowageError("INTERNAL", `LevelDB failed on ${location}: ${message}`, { cause: error });
}

function chainOf(error: unknown): Array<{ code?: unknown; message?: unknown }> {
  const chain: Array<{ code?: unknown; message?: unknown }> = [];
  for (let link = error; link !== null && typeof link === "object" && chain.length < 8; link = (link as { cause?: unknown }).cause) {
    chain.push(link as { code?: unknown; message?: unknown });
  }
  return chain;
}

function codesOf(error: unknown): string[] {
  return chainOf(error).flatMap((link) => (typeof link.code === "string" ? [link.code] : []));
}

function messagesOf(error: unknown): string {
  const messages = chainOf(error).flatMap((link) => (typeof link.message === "string" ? [link.message] : []));
  return messages.length > 0 ? messages.join(": ") : String(error);
}
