import { createHash } from "node:crypto";
import { StowageError, type ErrorContext } from "../api/errors.js";

/** A JSON value: what a schema is made of. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Deepest nesting of arrays and objects a schema may have (deeper input would risk the call stack). */
export const MAX_SCHEMA_DEPTH = 256;

/**
 * The canonical JSON text of `schema`: object keys sorted (by UTF-16 code units, as RFC 8785 does) at every level,
 * arrays in their order, no whitespace, numbers and strings as `JSON.stringify` writes them. Two values with the same
 * structure have the same canonical text whatever the order their keys were written in. Anything that is not a JSON
 * value — `undefined`, a function, a symbol, a bigint, `NaN` or ±Infinity, an array hole, a cycle, an object that is
 * not plain (a `Date`, a `Map`, a class instance) — fails with INVALID_ARGUMENT naming where it is (`schema.fields[2]`).
 */
export function canonicalSchema(schema: unknown, context: Pick<ErrorContext, "namespace" | "key"> = {}): string {
  return write(schema, "schema", 0, new Set<object>(), context);
}

/**
 * Runs one look at the caller's object (a property read, its keys, its prototype): a getter or a proxy that throws is
 * bad input, INVALID_ARGUMENT naming where, not a foreign error escaping the registry.
 */
function look<T>(path: string, context: ErrorContext, read: () => T): T {
  try {
    return read();
  } catch (cause) {
    throw new StowageError("INVALID_ARGUMENT", `${path} could not be read: ${cause instanceof Error ? cause.message : String(cause)}`, { ...context, cause });
  }
}

/** The schema's fingerprint: the hex SHA-256 of its {@link canonicalSchema} text (64 lowercase hex digits). */
export function schemaFingerprint(schema: unknown, context: Pick<ErrorContext, "namespace" | "key"> = {}): string {
  return fingerprintOf(canonicalSchema(schema, context));
}

/** The hex SHA-256 of a canonical text. */
export function fingerprintOf(canonical: string): string {
  return createHash("sha256").update(canonical, "utf8").digest("hex");
}

function write(value: unknown, path: string, depth: number, enclosing: Set<object>, context: ErrorContext): string {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "boolean":
      return value ? "true" : "false";
    case "number":
      if (!Number.isFinite(value)) refuse(`${path} is ${value}, which JSON cannot hold`, context);
      return JSON.stringify(value);
    case "object":
      if (value === null) return "null";
      break;
    default:
      refuse(`${path} is ${value === undefined ? "undefined" : `a ${typeof value}`}, which is not a JSON value`, context);
  }
  const object = value as object;
  if (depth >= MAX_SCHEMA_DEPTH) refuse(`${path} is nested deeper than ${MAX_SCHEMA_DEPTH} levels`, context);
  // Only the objects being written right now: the same object twice side by side is fine, inside itself is a cycle.
  if (enclosing.has(object)) refuse(`${path} contains itself (a cycle), which JSON cannot hold`, context);
  enclosing.add(object);
  try {
    if (look(path, context, () => Array.isArray(object))) {
      const parts: string[] = [];
      const array = object as unknown[];
      const length = look(path, context, () => array.length);
      for (let i = 0; i < length; i++) {
        const at = `${path}[${i}]`;
        if (!look(at, context, () => i in array)) refuse(`${at} is a hole in the array, which is not a JSON value`, context);
        parts.push(write(look(at, context, () => array[i]), at, depth + 1, enclosing, context));
      }
      return `[${parts.join(",")}]`;
    }
    const prototype: unknown = look(path, context, () => Object.getPrototypeOf(object));
    if (prototype !== Object.prototype && prototype !== null) {
      const name = (object as { constructor?: { name?: string } }).constructor?.name ?? "an object";
      refuse(`${path} is ${name === "Object" ? "an object with a foreign prototype" : `a ${name}`}; only plain objects, arrays, strings, finite numbers, booleans and null are JSON values`, context);
    }
    const record = object as Record<string, unknown>;
    const members = look(path, context, () => Object.keys(record))
      .sort()
      .map((key) => {
        const at = memberPath(path, key);
        return `${JSON.stringify(key)}:${write(look(at, context, () => record[key]), at, depth + 1, enclosing, context)}`;
      });
    return `{${members.join(",")}}`;
  } finally {
    enclosing.delete(object);
  }
}

function memberPath(path: string, key: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

function refuse(message: string, context: ErrorContext): never {
  throw new StowageError("INVALID_ARGUMENT", message, context);
}
