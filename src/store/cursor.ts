import { StowageError } from "../api/errors.js";
import { isPossibleKey } from "./validate.js";

/** A list cursor: where the previous page stopped and in which direction. Opaque to callers. */
interface CursorState {
  after: string;
  reverse: boolean;
}

const VERSION = 1;

/** An opaque token: a JSON array as base64url text. List cursors and stream positions are such tokens. */
export function encodeToken(fields: readonly unknown[]): string {
  return Buffer.from(JSON.stringify(fields), "utf8").toString("base64url");
}

/** The array inside a token made by {@link encodeToken}, or undefined when `text` is not one. */
export function decodeToken(text: unknown): unknown[] | undefined {
  if (typeof text !== "string" || text.length === 0) return undefined;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(text, "base64url").toString("utf8"));
    return Array.isArray(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

export function encodeCursor(state: CursorState): string {
  return encodeToken([VERSION, state.reverse ? 1 : 0, state.after]);
}

/** Decodes a cursor made by {@link encodeCursor}; anything else is INVALID_ARGUMENT. */
export function decodeCursor(namespace: string, cursor: unknown, reverse: boolean): string {
  const invalid = (why: string) =>
    new StowageError("INVALID_ARGUMENT", `cursor is not valid: ${why}; pass the cursor of the previous page unchanged`, { namespace });
  if (typeof cursor !== "string" || cursor.length === 0) throw invalid("expected a non-empty string");
  const parsed = decodeToken(cursor);
  if (parsed === undefined || parsed.length !== 3 || parsed[0] !== VERSION || typeof parsed[2] !== "string") {
    throw invalid("it does not decode");
  }
  if ((parsed[1] === 1) !== reverse) throw invalid("it was made for the other direction (reverse)");
  // A cursor can only name a key some store could hold; a forged one naming another would reach the engines, which
  // order impossible keys differently.
  if (!isPossibleKey(parsed[2])) throw invalid("it names a key no store can hold");
  return parsed[2];
}
