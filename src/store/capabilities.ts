import { StowageError } from "../api/errors.js";
import { LIMITS } from "../api/limits.js";
import type { Engine, EngineCapability, EngineLimits, EngineSupports } from "../engines/engine.js";
import { describeType, utf8Length } from "./validate.js";

/** What the store's checks need of its engine: its name (for messages) and its manifest. */
export interface EngineProfile {
  readonly name: string;
  readonly supports: EngineSupports;
}

/** What each capability lets a caller do, for NOT_SUPPORTED messages. */
const CAPABILITY_USES: Record<EngineCapability, string> = {
  liveFeeds: "live feeds (log.tail, stream.subscribe, kv.watch)",
  kvHistory: "a KV change history (kv.watch)",
  crossProcess: "use by several processes",
  crossNamespaceTransactions: "transactions across namespaces",
  workQueues: "work queues (store.workQueue)",
};

const CAPABILITIES = Object.keys(CAPABILITY_USES) as EngineCapability[];
const LIMIT_NAMES = ["maxKeyBytes", "maxValueBytes", "maxTransactionWrites", "maxTransactionBytes"] as const;

/**
 * Throws NOT_SUPPORTED, naming the engine and the capability, when the engine's manifest declares it unsupported.
 * The store calls it at the entry points of the calls that need a capability, before any I/O.
 */
export function requireCapability(engine: EngineProfile, capability: EngineCapability | readonly EngineCapability[], namespace?: string, key?: string): void {
  if (typeof capability !== "string") {
    for (const each of capability) requireCapability(engine, each, namespace, key);
    return;
  }
  if (engine.supports[capability]) return;
  throw new StowageError("NOT_SUPPORTED", `the ${engine.name} engine does not support ${CAPABILITY_USES[capability]} (its supports.${capability} is false)`, { namespace, key });
}

/**
 * Checks an engine's manifest when a store opens over it: five booleans, and limits that are whole numbers no looser
 * than stowage's `LIMITS` (an engine may only tighten them). An engine that declares live feeds must signal commits
 * (`changes`). INVALID_ARGUMENT naming the field otherwise.
 */
export function checkSupports(engine: Engine): EngineSupports {
  const supports: unknown = (engine as { supports?: unknown }).supports;
  const wrong = (what: string): StowageError => new StowageError("INVALID_ARGUMENT", `the ${engine.name} engine's supports manifest is invalid: ${what}`);
  if (typeof supports !== "object" || supports === null) throw wrong(`it must be an object, got ${describeType(supports)}`);
  const manifest = supports as Record<string, unknown>;
  for (const capability of CAPABILITIES) {
    if (typeof manifest[capability] !== "boolean") throw wrong(`${capability} must be a boolean, got ${describeType(manifest[capability])}`);
  }
  const limits = manifest.limits as Record<string, unknown> | null | undefined;
  if (typeof limits !== "object" || limits === null) throw wrong(`limits must be an object, got ${describeType(limits)}`);
  for (const name of LIMIT_NAMES) {
    const value = limits[name];
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1 || value > LIMITS[name]) {
      throw wrong(`limits.${name} must be a whole number from 1 to LIMITS.${name} (${LIMITS[name]}): an engine may only tighten stowage's limits`);
    }
  }
  if (manifest.liveFeeds === true && engine.changes === undefined) throw wrong("liveFeeds is true, but the engine has no changes signal");
  return supports as EngineSupports;
}

/** The engine's key and value limits where one is tighter than `LIMITS`; undefined (no check to make) otherwise. */
export interface TighterSizes {
  readonly engine: string;
  readonly maxKeyBytes: number;
  readonly maxValueBytes: number;
}

export function tighterSizes(engine: EngineProfile): TighterSizes | undefined {
  const { maxKeyBytes, maxValueBytes } = engine.supports.limits;
  if (maxKeyBytes >= LIMITS.maxKeyBytes && maxValueBytes >= LIMITS.maxValueBytes) return undefined;
  return { engine: engine.name, maxKeyBytes, maxValueBytes };
}

/** LIMIT_EXCEEDED when a key (for streams: a space or segment name) is longer than the engine's own limit. */
export function checkKeyFits(sizes: TighterSizes | undefined, namespace: string, key: string, argument = "key"): void {
  // Bytes are at most three per UTF-16 unit: most keys need no count.
  if (sizes === undefined || key.length * 3 <= sizes.maxKeyBytes) return;
  const size = utf8Length(key);
  if (size > sizes.maxKeyBytes) {
    throw new StowageError("LIMIT_EXCEEDED", `${argument} is ${size} bytes; the ${sizes.engine} engine's limit (maxKeyBytes) is ${sizes.maxKeyBytes} bytes of UTF-8`, { namespace, key });
  }
}

/** LIMIT_EXCEEDED when an encoded value is larger than the engine's own limit. */
export function checkValueFits(sizes: TighterSizes | undefined, namespace: string, key: string, value: Uint8Array): void {
  if (sizes === undefined || value.byteLength <= sizes.maxValueBytes) return;
  throw new StowageError("LIMIT_EXCEEDED", `value is ${value.byteLength} bytes; the ${sizes.engine} engine's limit (maxValueBytes) is ${sizes.maxValueBytes} bytes`, { namespace, key });
}

/**
 * LIMIT_EXCEEDED when one commit would hold more writes or bytes than the engine's limits (for a transaction, its
 * running totals; for a single write, its own). `LIMITS` is checked the same way, so the message names the limit that
 * is the tighter one.
 */
export function checkCommitFits(engine: EngineProfile, writes: number, bytes: number, what: string): void {
  const limits: EngineLimits = engine.supports.limits;
  if (writes > limits.maxTransactionWrites) {
    throw new StowageError("LIMIT_EXCEEDED", `${what} may make at most ${limits.maxTransactionWrites} writes (${limitOwner(engine, "maxTransactionWrites")})`);
  }
  if (bytes > limits.maxTransactionBytes) {
    throw new StowageError("LIMIT_EXCEEDED", `${what} may write at most ${limits.maxTransactionBytes} bytes of keys and values (${limitOwner(engine, "maxTransactionBytes")})`);
  }
}

function limitOwner(engine: EngineProfile, name: (typeof LIMIT_NAMES)[number]): string {
  return engine.supports.limits[name] < LIMITS[name] ? `the ${engine.name} engine's ${name}` : `LIMITS.${name}`;
}

/**
 * For an engine whose transactions cannot span namespaces: a check, run as a transaction takes each handle, that
 * refuses a second namespace (of any primitive: `kv("a")` and `log("a")` are two) with NOT_SUPPORTED before it does
 * any I/O. Undefined for an engine without that restriction.
 */
export function oneNamespaceGuard(engine: EngineProfile): ((primitive: string, namespace: string) => void) | undefined {
  if (engine.supports.crossNamespaceTransactions) return undefined;
  let first: string | undefined;
  return (primitive, namespace) => {
    const used = `${primitive} namespace "${namespace}"`;
    if (first === undefined) first = used;
    if (used === first) return;
    throw new StowageError(
      "NOT_SUPPORTED",
      `the ${engine.name} engine does not support ${CAPABILITY_USES.crossNamespaceTransactions} (its supports.crossNamespaceTransactions is false): this transaction uses ${first}, and then ${used}`,
      { namespace },
    );
  };
}
