import type { Awaitable, EngineOps } from "./engine.js";

/** The name of an engine operation (`kvGet`, `logAppend`, …). */
export type OpName = keyof EngineOps;

/**
 * One engine operation as data: its name and its arguments, validated and encoded by the store (values are bytes).
 * The store hands calls to {@link Engine.read} and {@link Engine.write}; a layer reads a call's facts from
 * {@link OP_FACTS} instead of running anything to find out what it does.
 *
 * @example
 * ```ts
 * const get: EngineCall<"kvGet"> = { op: "kvGet", args: ["checkpoints", "orders", Date.now()] };
 * const value = await engine.read(get); // Uint8Array | undefined
 * ```
 */
export type EngineCall<K extends OpName = OpName> = K extends OpName ? { readonly op: K; readonly args: Parameters<EngineOps[K]> } : never;

/** What a call answers: its operation's result. */
export type CallResult<C extends EngineCall> = Awaited<ReturnType<EngineOps[C["op"]]>>;

/** What the store knows about an operation without running it. */
export interface OpFacts {
  /** `write` when the operation may change stored data (a sweep, a history turn-on included); `read` otherwise. */
  readonly kind: "read" | "write";
  /** The position of the namespace argument; null for operations of the whole store (sweep, trim, describe). */
  readonly namespaceArg: 0 | null;
  /** The position of the key argument (the space, for stream operations); null where the operation has none. */
  readonly keyArg: 1 | null;
  /**
   * `several` for a write made of several steps (a counter taken, then rows inserted; a bound checked, then items
   * dropped): an engine without a one-step form must run it atomically on its own, and inside a transaction that
   * goes on after it failed, undo its part (a savepoint). `one` for everything else.
   */
  readonly steps: "one" | "several";
}

const read = (namespaceArg: 0 | null, keyArg: 1 | null): OpFacts => ({ kind: "read", namespaceArg, keyArg, steps: "one" });
const write = (namespaceArg: 0 | null, keyArg: 1 | null, steps: "one" | "several" = "one"): OpFacts => ({ kind: "write", namespaceArg, keyArg, steps });

/**
 * Every operation's facts, one entry per {@link EngineOps} method: the mapped type makes the compiler demand an entry
 * for each new operation. Layers (cache, limits, metrics), the SQL family's savepoints and the store's transaction
 * views all read them here.
 */
export const OP_FACTS: { readonly [K in OpName]: OpFacts } = {
  kvGet: read(0, 1),
  kvGetEntry: read(0, 1),
  kvPut: write(0, 1),
  kvDelete: write(0, 1),
  kvScan: read(0, null),
  kvCount: read(0, null),
  kvDeleteRange: write(0, null),
  kvSweepExpired: write(null, null, "several"),
  kvHistoryStart: write(0, null, "several"),
  kvHistoryRead: read(0, null),
  kvHistoryTrim: write(null, null, "several"),

  logAppend: write(0, 1, "several"),
  logRead: read(0, 1),
  logLastSeq: read(0, null),
  logReadAll: read(0, null),

  slotGet: read(0, 1),
  slotUpsert: write(0, 1),
  slotCas: write(0, 1),

  queuePush: write(0, 1, "several"),
  queuePeek: read(0, 1),
  queueAck: write(0, 1),
  queueDropOldest: write(0, 1),
  queueLen: read(0, 1),

  streamProduce: write(0, 1, "several"),
  streamRead: read(0, 1),
  streamReadSpace: read(0, 1),
  streamPeek: read(0, 1),
  streamSpaces: read(0, null),
  streamSegments: read(0, 1),
  streamStatus: read(0, 1),
  streamLastSeqs: read(0, 1),

  kvDump: read(0, null),
  slotDump: read(0, null),
  queueDump: read(0, null),
  queueLastId: read(0, null),
  kvRestore: write(0, null),
  logRestore: write(0, null, "several"),
  slotRestore: write(0, null),
  queueRestore: write(0, null, "several"),
  streamRestore: write(0, 1, "several"),

  workPush: write(0, null, "several"),
  workClaim: write(0, 1, "several"),
  workExtend: write(0, null),
  workSettle: write(0, null, "several"),
  workPoll: read(0, 1),
  workCounts: read(0, 1),
  workKeys: read(0, null),
  workDead: read(0, 1),
  workRequeue: write(0, 1, "several"),
  workPurge: write(0, 1, "several"),
  workDump: read(0, null),
  workLastId: read(0, null),
  workRestore: write(0, null, "several"),

  describe: read(null, null),
};

/** Every operation name, in the table's order. */
export const OP_NAMES = Object.keys(OP_FACTS) as readonly OpName[];

/** The namespace a call acts on; undefined for operations of the whole store. */
export function namespaceOf(call: EngineCall): string | undefined {
  const at = OP_FACTS[call.op].namespaceArg;
  return at === null ? undefined : (call.args[at] as string);
}

/** The key a call acts on (the space, for stream operations); undefined where the operation has none. */
export function keyOf(call: EngineCall): string | undefined {
  const at = OP_FACTS[call.op].keyArg;
  return at === null ? undefined : (call.args[at] as string);
}

/**
 * Runs a call on an {@link EngineOps} object: what an engine's `read` and `write` do with the machinery it has for
 * transactions (`read(call) { return runCall(this.readOps, call); }`).
 */
export function runCall<C extends EngineCall>(ops: EngineOps, call: C): Awaitable<CallResult<C>> {
  return (ops[call.op] as (...args: readonly unknown[]) => Awaitable<CallResult<C>>).apply(ops, call.args);
}

/**
 * An {@link EngineOps} object whose every operation is `run` with the call it makes: a view over something that
 * takes calls (a layer's transaction, an engine's single reads). Built once per target, not per call.
 */
export function opsCalling(run: (call: EngineCall) => Awaitable<unknown>): EngineOps {
  const ops: Record<string, (...args: unknown[]) => Awaitable<unknown>> = {};
  for (const op of OP_NAMES) ops[op] = (...args: unknown[]) => run({ op, args } as unknown as EngineCall);
  return ops as unknown as EngineOps;
}
