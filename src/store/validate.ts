import { StowageError } from "../api/errors.js";
import { LIMITS } from "../api/limits.js";

const NAMESPACE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** UTF-8 length of a string without allocating (lone surrogates are rejected before this is used for limits). */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit < 0xdc00) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

export function checkNamespace(namespace: unknown): asserts namespace is string {
  if (typeof namespace !== "string") {
    throw new StowageError("INVALID_ARGUMENT", `namespace must be a string, got ${describeType(namespace)}`);
  }
  if (namespace.length === 0 || namespace.length > LIMITS.maxNamespaceLength || !NAMESPACE_PATTERN.test(namespace)) {
    throw new StowageError(
      "INVALID_ARGUMENT",
      `namespace ${JSON.stringify(namespace)} is invalid: use 1 to ${LIMITS.maxNamespaceLength} characters of ` +
        "A-Z a-z 0-9 . _ -, starting with a letter or digit",
    );
  }
}

/** Checks a key (or a range bound, which may be empty) and returns it. */
export function checkKey(namespace: string, key: unknown, argument = "key", allowEmpty = false): string {
  if (typeof key !== "string") {
    throw new StowageError("INVALID_ARGUMENT", `${argument} must be a string, got ${describeType(key)}`, { namespace });
  }
  if (key.length === 0 && !allowEmpty) {
    throw new StowageError("INVALID_ARGUMENT", `${argument} must not be empty`, { namespace, key });
  }
  if (!key.isWellFormed()) {
    throw new StowageError("INVALID_ARGUMENT", `${argument} contains a lone surrogate (not valid Unicode)`, { namespace, key });
  }
  if (key.includes("\u0000")) {
    throw new StowageError("INVALID_ARGUMENT", `${argument} must not contain U+0000`, { namespace, key });
  }
  // A UTF-16 unit is at most 3 bytes of UTF-8: a short key needs no count (the common case, on every call).
  if (key.length * 3 > LIMITS.maxKeyBytes) {
    const size = utf8Length(key);
    if (size > LIMITS.maxKeyBytes) {
      throw new StowageError("LIMIT_EXCEEDED", `${argument} is ${size} bytes; the limit is ${LIMITS.maxKeyBytes} bytes of UTF-8`, { namespace, key });
    }
  }
  return key;
}

/** Whether `key` follows the key rules of {@link checkKey} (for keys that arrive inside tokens, where the caller reports its own error). */
export function isPossibleKey(key: unknown): key is string {
  try {
    checkKey("", key);
    return true;
  } catch {
    return false;
  }
}

/** Checks encoded bytes against the value limit. */
export function checkValueBytes(namespace: string, key: string, value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new StowageError(
      "INVALID_ARGUMENT",
      `value must be a Uint8Array (or use a codec such as json or utf8), got ${describeType(value)}`,
      { namespace, key },
    );
  }
  if (value.byteLength > LIMITS.maxValueBytes) {
    throw new StowageError(
      "LIMIT_EXCEEDED",
      `value is ${value.byteLength} bytes; the limit is ${LIMITS.maxValueBytes} bytes`,
      { namespace, key },
    );
  }
  return value;
}

/** A whole number in [min, max], or INVALID_ARGUMENT naming the argument. */
export function checkInteger(
  namespace: string | undefined,
  argument: string,
  value: unknown,
  min: number,
  max: number,
  key?: string,
): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new StowageError(
      "INVALID_ARGUMENT",
      `${argument} must be a whole number from ${min} to ${max}, got ${describeValue(value)}`,
      { namespace, key },
    );
  }
  return value;
}

export function checkBoolean(namespace: string | undefined, argument: string, value: unknown, key?: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== "boolean") {
    throw new StowageError("INVALID_ARGUMENT", `${argument} must be a boolean, got ${describeValue(value)}`, { namespace, key });
  }
  return value;
}

/** An optional whole number: `fallback` when absent, else checked as {@link checkInteger}. */
export function checkOptionalInteger(
  namespace: string | undefined,
  argument: string,
  value: unknown,
  fallback: number,
  min: number,
  max: number,
  key?: string,
): number {
  return value === undefined ? fallback : checkInteger(namespace, argument, value, min, max, key);
}

/** Options must be a plain object (or absent); unknown fields are a mistake worth reporting. */
export function checkOptions(namespace: string | undefined, argument: string, value: unknown, known: readonly string[], key?: string): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new StowageError("INVALID_ARGUMENT", `${argument} must be an object, got ${describeValue(value)}`, { namespace, key });
  }
  for (const field of Object.keys(value)) {
    if (!known.includes(field)) {
      throw new StowageError(
        "INVALID_ARGUMENT",
        `${argument} has an unknown field "${field}"; it accepts ${known.join(", ")}`,
        { namespace, key },
      );
    }
  }
  return value as Record<string, unknown>;
}

export function describeType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (value instanceof Uint8Array) return "a Uint8Array";
  return typeof value === "object" ? `an object (${value.constructor?.name ?? "Object"})` : `a ${typeof value}`;
}

function describeValue(value: unknown): string {
  if (typeof value === "number") return String(value);
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return describeType(value);
}


/** An optional AbortSignal. */
export function checkSignal(namespace: string, value: unknown, key?: string): AbortSignal | undefined {
  if (value === undefined) return undefined;
  if (!(value instanceof AbortSignal)) {
    throw new StowageError("INVALID_ARGUMENT", `signal must be an AbortSignal, got ${describeType(value)}`, { namespace, key });
  }
  return value;
}
