import { StowageError } from "../../api/errors.js";

/** A name a target stores: one path segment, no leading dot (temporary files start with one), portable to every store. */
const VALID_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

/** Whether `name` is a name a target stores (listings skip every other object under the prefix). */
export function isObjectName(name: string): boolean {
  return VALID_NAME.test(name);
}

/** Throws INVALID_ARGUMENT naming `name` and the target unless it is a valid object name. */
export function checkObjectName(name: string, target: string): void {
  if (typeof name === "string" && isObjectName(name)) return;
  throw new StowageError(
    "INVALID_ARGUMENT",
    `backup name ${JSON.stringify(String(name)).slice(0, 220)} for ${target} is not valid: one to 200 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit`,
  );
}

/**
 * A target's key prefix, normalised: empty, or segments of valid name characters ending with "/"
 * (`orders` → `orders/`, `/a/b/` → `a/b/`). Throws INVALID_ARGUMENT for anything else (`..`, empty segments, spaces).
 */
export function normalisePrefix(prefix: string, target: string): string {
  const trimmed = prefix.replace(/^\/+/, "").replace(/\/+$/, "");
  if (trimmed === "") return "";
  const segments = trimmed.split("/");
  if (segments.every(isObjectName)) return `${trimmed}/`;
  throw new StowageError("INVALID_ARGUMENT", `the prefix ${JSON.stringify(prefix)} of ${target} is not valid: path segments of A-Z a-z 0-9 . _ - separated by "/"`);
}
