import { StowageError } from "../api/errors.js";
import type { EngineDescriptor, EngineField, FieldType } from "./descriptor.js";
import { AZURE_TABLE_ENGINE } from "./azure-table/descriptor.js";
import { COMPOSITE_ENGINE } from "./composite/descriptor.js";
import { ETCD_ENGINE } from "./etcd/descriptor.js";
import { LEVELDB_ENGINE } from "./leveldb/descriptor.js";
import { LMDB_ENGINE } from "./lmdb/descriptor.js";
import { MEMORY_ENGINE } from "./memory/descriptor.js";
import { POSTGRES_ENGINE } from "./postgres/descriptor.js";
import { REDIS_ENGINE } from "./redis/descriptor.js";
import { SQLITE_ENGINE } from "./sqlite/descriptor.js";

/** The engines by name, in registration order (the order of usage text and messages). */
const engines = new Map<string, EngineDescriptor<object>>();

/** The names of the `backend` setting, which no engine field may take. */
const BACKEND_NAMES = { option: "backend", file: "backend", env: "STOWAGE_STORAGE_BACKEND", flag: "storage-backend" };
/** `openStore` options of the store itself, not of an engine. */
const STORE_OPTIONS = ["backend", "clock", "sweepIntervalMs"];
const FIELD_TYPES: readonly FieldType[] = ["string", "path", "integer"];
const NAME_KINDS = [
  ["option", "option name"],
  ["file", "config-file name"],
  ["env", "environment name"],
  ["flag", "flag"],
] as const;

/**
 * Adds an engine: `openStore({ backend: name, … })`, config files, `STOWAGE_STORAGE_*` variables, `--storage-*`
 * flags and the CLI's usage text then know it. Refused with INVALID_ARGUMENT: a name taken already, and a field whose
 * option, config-file, environment or flag name another field uses, unless both are the same setting (all four names,
 * type and `accepts` equal: engines may share `path`, each with its own default).
 *
 * In TypeScript, `openStore` accepts the new engine's options once they are added to {@link StowageEngines}.
 *
 * @example
 * ```ts
 * registerEngine(REDIS_ENGINE); // then: STOWAGE_STORAGE_BACKEND=redis STOWAGE_STORAGE_URL=redis://… stowage info
 * ```
 */
export function registerEngine<Options extends object>(descriptor: EngineDescriptor<Options>): void {
  checkDescriptor(descriptor);
  if (engines.has(descriptor.name)) {
    throw new StowageError("INVALID_ARGUMENT", `an engine named "${descriptor.name}" is registered already`);
  }
  const seen: EngineField[] = [];
  for (const field of descriptor.fields) {
    checkField(descriptor.name, field);
    for (const other of seen) {
      if (NAME_KINDS.some(([kind]) => other[kind] === field[kind])) {
        throw new StowageError("INVALID_ARGUMENT", `engine "${descriptor.name}" declares the field "${field.option}" twice`);
      }
    }
    checkCollisions(descriptor.name, field);
    seen.push(field);
  }
  engines.set(descriptor.name, descriptor as EngineDescriptor<object>);
}

/** Every registered engine, built-in ones first, in registration order. */
export function engineDescriptors(): EngineDescriptor<object>[] {
  return [...engines.values()];
}

/** The registered engine named `name`, or undefined. */
export function findEngine(name: unknown): EngineDescriptor<object> | undefined {
  return typeof name === "string" ? engines.get(name) : undefined;
}

/** The `openStore` options an engine takes: the store's own and the engine's fields. */
export function optionsOf(descriptor: EngineDescriptor<object>): string[] {
  return [...STORE_OPTIONS, ...descriptor.fields.map((field) => field.option)];
}

function checkDescriptor(descriptor: EngineDescriptor<never>): void {
  const invalid = (problem: string) => new StowageError("INVALID_ARGUMENT", `cannot register engine ${JSON.stringify(descriptor?.name)}: ${problem}`);
  if (typeof descriptor !== "object" || descriptor === null) throw new StowageError("INVALID_ARGUMENT", "an engine descriptor must be an object");
  if (typeof descriptor.name !== "string" || !/^[a-z][a-z0-9-]{0,31}$/.test(descriptor.name)) {
    throw invalid("its name must be 1 to 32 characters of a-z 0-9 -, starting with a letter");
  }
  if (typeof descriptor.summary !== "string" || descriptor.summary.length === 0) throw invalid("it needs a one-line summary");
  if (typeof descriptor.open !== "function") throw invalid("open must be a function");
  if (typeof descriptor.supports !== "object" || descriptor.supports === null) throw invalid("it needs its supports manifest");
  if (!Array.isArray(descriptor.fields)) throw invalid("fields must be an array");
}

function checkField(engine: string, field: EngineField): void {
  const invalid = (problem: string) =>
    new StowageError("INVALID_ARGUMENT", `cannot register engine "${engine}": its field ${JSON.stringify(field?.option)} ${problem}`);
  if (typeof field !== "object" || field === null) throw new StowageError("INVALID_ARGUMENT", `cannot register engine "${engine}": a field is not an object`);
  if (typeof field.option !== "string" || !/^[a-z][a-zA-Z0-9]*$/.test(field.option)) throw invalid("needs an option name in camelCase");
  if (STORE_OPTIONS.includes(field.option)) throw invalid("is an option of every store, not of an engine");
  if (typeof field.file !== "string" || !/^[a-z][a-zA-Z0-9]*$/.test(field.file)) throw invalid("needs a config-file name in camelCase");
  if (typeof field.env !== "string" || !/^STOWAGE_STORAGE_[A-Z0-9_]+$/.test(field.env)) throw invalid("needs an environment name STOWAGE_STORAGE_*");
  if (typeof field.flag !== "string" || !/^storage-[a-z0-9-]+$/.test(field.flag)) throw invalid("needs a flag storage-*");
  if (!FIELD_TYPES.includes(field.type)) throw invalid(`has type ${JSON.stringify(field.type)}; types are ${FIELD_TYPES.join(", ")}`);
  for (const text of ["placeholder", "doc", "accepts"] as const) {
    if (typeof field[text] !== "string" || field[text].length === 0) throw invalid(`needs ${text} text`);
  }
  if (typeof field.check !== "function") throw invalid("needs a check function");
  if (field.default !== undefined) {
    try {
      field.check(field.default);
    } catch (cause) {
      throw invalid(`has a default its own check refuses: ${(cause as Error).message}`);
    }
  }
}

/** Refuses a field whose names clash with `backend` or with another engine's field that is not the same setting. */
function checkCollisions(engine: string, field: EngineField): void {
  for (const [kind, what] of NAME_KINDS) {
    if (field[kind] === BACKEND_NAMES[kind]) {
      throw new StowageError("INVALID_ARGUMENT", `cannot register engine "${engine}": its field "${field.option}" has the ${what} ${field[kind]}, which is the backend setting's`);
    }
  }
  for (const other of engines.values()) {
    for (const known of other.fields) {
      const clash = NAME_KINDS.find(([kind]) => known[kind] === field[kind]);
      if (clash === undefined || sameSetting(known, field)) continue;
      throw new StowageError(
        "INVALID_ARGUMENT",
        `cannot register engine "${engine}": its field "${field.option}" has the ${clash[1]} ${field[clash[0]]}, which the ${other.name} engine's field "${known.option}" uses`,
      );
    }
  }
}

/** Whether two engines' fields are one setting: same names everywhere, read the same way. */
function sameSetting(a: EngineField, b: EngineField): boolean {
  return NAME_KINDS.every(([kind]) => a[kind] === b[kind]) && a.type === b.type && a.accepts === b.accepts;
}

/** The engines stowage ships, registered when this module loads. */
export const BUILT_IN_ENGINES: readonly EngineDescriptor<object>[] = [MEMORY_ENGINE, SQLITE_ENGINE, POSTGRES_ENGINE, LMDB_ENGINE, LEVELDB_ENGINE, ETCD_ENGINE, REDIS_ENGINE, AZURE_TABLE_ENGINE, COMPOSITE_ENGINE] as EngineDescriptor<object>[];

for (const builtIn of BUILT_IN_ENGINES) registerEngine(builtIn);
