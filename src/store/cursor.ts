import { StowageError } from "../api/errors.js";
import { LIMITS } from "../api/limits.js";

/** A list cursor: where the previous page stopped and in which direction. Opaque to callers. */
interface CursorState {
  after: string;
  reverse: boolean;
}

const VERSION = 1;

export function encodeCursor(state: CursorState): string {
  return Buffer.from(JSON.stringify([VERSION, state.reverse ? 1 : 0, state.after]), "utf8").toString("base64url");
}

/** Decodes a cursor made by {@link encodeCursor}; anything else is INVALID_ARGUMENT. */
export function decodeCursor(namespace: string, cursor: unknown, reverse: boolean): string {
  const invalid = (why: string) =>
    new StowageError("INVALID_ARGUMENT", `cursor is not valid: ${why}; pass the cursor of the previous page unchanged`, { namespace });
  if (typeof cursor !== "string" || cursor.length === 0) throw invalid("expected a non-empty string");
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw invalid("it does not decode");
  }
  if (!Array.isArray(parsed) || parsed.length !== 3 || parsed[0] !== VERSION || typeof parsed[2] !== "string") {
    throw invalid("it does not decode");
  }
  if ((parsed[1] === 1) !== reverse) throw invalid("it was made for the other direction (reverse)");
  // A cursor can only name a key some store could hold; a forged one naming another would reach the engines, which
  // order impossible keys differently.
  const after = parsed[2];
  if (after.length === 0 || !after.isWellFormed() || after.includes("\u0000") || Buffer.byteLength(after, "utf8") > LIMITS.maxKeyBytes) {
    throw invalid("it names a key no store can hold");
  }
  return after;
}
