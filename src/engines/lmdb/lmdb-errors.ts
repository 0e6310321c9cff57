import { StowageError, type ErrorCode } from "../../api/errors.js";

/**
 * LMDB's conditions by the text lmdb-js gives them (its errors carry LMDB's message, `MDB_…: …`, or the system's
 * for errno values, with no stable code property), most specific first.
 */
const KNOWN: ReadonlyArray<readonly [pattern: RegExp, code: ErrorCode, says: string]> = [
  [/MDB_MAP_FULL|MDB_TXN_FULL/, "LIMIT_EXCEEDED", "the LMDB map or the transaction is full"],
  [/No space left on device|ENOSPC|EDQUOT|quota exceeded/i, "BACKEND_UNAVAILABLE", "the disk is full"],
  [/MDB_INVALID|MDB_VERSION_MISMATCH/, "INCOMPATIBLE", "the file is not an LMDB environment this version can read"],
  [/MDB_CORRUPTED|MDB_PAGE_NOTFOUND|MDB_PANIC|MDB_BAD_TXN/, "CORRUPT", "the LMDB file is damaged"],
  [/MDB_READERS_FULL/, "BACKEND_UNAVAILABLE", "every LMDB reader slot is taken"],
  [/EACCES|EPERM|EROFS|permission denied|read-only file system/i, "BACKEND_UNAVAILABLE", "the file cannot be written"],
  [/EIO|Input\/output error/i, "BACKEND_UNAVAILABLE", "an I/O error"],
  [/closed/i, "CLOSED", "the LMDB environment is closed"],
];

/** A typed error for an lmdb-js failure on the store at `location`; INTERNAL only for what is not known. */
export function mapLmdbError(error: unknown, location: string): StowageError {
  if (error instanceof StowageError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const errno = (error as NodeJS.ErrnoException | undefined)?.code ?? "";
  for (const [pattern, code, says] of KNOWN) {
    if (pattern.test(message) || pattern.test(errno)) return new StowageError(code, `${says} (${location}): ${message}`, { cause: error });
  }
  return new StowageError("INTERNAL", `LMDB failed on ${location}: ${message}`, { cause: error });
}
