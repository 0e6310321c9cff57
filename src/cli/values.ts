import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { StowageError } from "../api/errors.js";
import { UsageError } from "./errors.js";

/** How a value is shown in `--json` output: its text, or its base64 when the bytes are not valid UTF-8. */
export interface JsonValue {
  value: string;
  encoding: "utf8" | "base64";
}

/** The prefix of a value shown as base64 in text output. */
export const BASE64_MARKER = "base64:";

// fatal: invalid UTF-8 must be detected, not replaced with U+FFFD. ignoreBOM: a leading BOM is part of the value.
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** A stored value for `--json` output. */
export function jsonValue(bytes: Uint8Array): JsonValue {
  try {
    return { value: strictUtf8.decode(bytes), encoding: "utf8" };
  } catch {
    return { value: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64"), encoding: "base64" };
  }
}

/** Characters that would split a line or a cell, or that a terminal would act on: C0, DEL, C1, U+2028, U+2029. */
const UNSAFE_CHARACTER = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/**
 * Text (a key, or a value that is valid UTF-8) for text output, as one unambiguous cell: as it is when it is plain —
 * no control or line-breaking character (so no tab, no newline), not starting with `"` nor with `base64:` — and
 * otherwise as a JSON string literal (`"a\tb"`, `"base64:x"`), every such character escaped. So a cell that starts
 * with `"` is JSON, one that starts with `base64:` is bytes, and any other is the text itself.
 */
export function displayText(text: string): string {
  if (!UNSAFE_CHARACTER.test(text) && !text.startsWith('"') && !text.startsWith(BASE64_MARKER)) return text;
  // JSON.stringify escapes C0 but leaves DEL, C1 and the line separators as they are: escaped here too, still JSON.
  return JSON.stringify(text).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/**
 * A stored value for text output: {@link displayText} of its text, or `base64:` and the base64 when it is not valid
 * UTF-8.
 */
export function displayValue(bytes: Uint8Array): string {
  const shown = jsonValue(bytes);
  return shown.encoding === "utf8" ? displayText(shown.value) : `${BASE64_MARKER}${shown.value}`;
}

/**
 * The value of a writing command: the `<value>` argument as UTF-8, or the bytes of `--file <path>` (relative to
 * `cwd`). Exactly one of the two must be given.
 */
export function inputValue(argument: string | undefined, file: string | undefined, cwd: string): Uint8Array {
  if (argument !== undefined && file !== undefined) {
    throw new UsageError("give the value either as <value> or with --file, not both");
  }
  if (file !== undefined) {
    try {
      return readFileSync(resolve(cwd, file));
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException)?.code;
      const why = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "it is a folder" : String((cause as Error)?.message ?? cause);
      throw new StowageError("INVALID_ARGUMENT", `cannot read --file ${file}: ${why}`, { cause });
    }
  }
  if (argument === undefined) throw new UsageError("missing <value> (or --file <path>)");
  return new TextEncoder().encode(argument);
}
