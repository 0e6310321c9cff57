import { isDeepStrictEqual } from "node:util";
import { StowageError } from "../../api/errors.js";
import type { Engine, EngineLimits, EngineOps } from "../engine.js";
import { OP_FACTS, opsCalling, runCall, type EngineCall } from "../engine-calls.js";
import { putState, writeState, type SideState } from "./side-state.js";

/** How a call ended: its result, or its error (a call that fails inside a batch fails alone, under its savepoint). */
export type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** A write call with the outcome it had on the side that serves: what the other side must reproduce. */
export interface RecordedWrite {
  call: EngineCall;
  outcome: Outcome;
}

/** A committed batch: its number (the watermark), its writes in commit order, and when it committed. */
export interface Batch {
  number: number;
  /** A call run on its own, outside a transaction (see {@link ALONE_OPS}); its batch number is written after it. */
  alone?: boolean;
  /** Its random identity (see `SideState.id`). */
  id: string;
  writes: RecordedWrite[];
  committedAt: number;
  /** Resolves the callers of a sync-mode batch once the backup committed it (or stopped mirroring). */
  settle?: () => void;
}

/** The rough size of a call, to keep a batch inside the engines' commit limits. */
export interface Weight {
  writes: number;
  bytes: number;
}

/** Runs `run`, catching its error as an outcome. */
export async function outcomeOf(run: () => unknown): Promise<Outcome> {
  try {
    return { ok: true, value: await run() };
  } catch (error) {
    return { ok: false, error };
  }
}

/** Ops that run on `ops` and record each write call with its outcome into `into` (reads are not recorded). */
export function recordingOps(ops: EngineOps, into: RecordedWrite[]): EngineOps {
  return opsCalling(async (call) => {
    if (OP_FACTS[call.op].kind === "read") return runCall(ops, call);
    const outcome = await outcomeOf(() => runCall(ops, call));
    into.push({ call, outcome });
    if (!outcome.ok) throw outcome.error;
    return outcome.value;
  });
}

/** Thrown (and caught) when the other side answers a replayed write differently: the sides no longer hold the same data. */
export class Divergence extends StowageError {
  constructor(batch: number, call: EngineCall, expected: Outcome, got: Outcome) {
    super("CORRUPT", `the sides diverged at batch ${batch}: ${call.op} answered ${describeOutcome(got)} where the serving side answered ${describeOutcome(expected)}`, {
      ...(typeof call.args[0] === "string" ? { namespace: call.args[0] } : {}),
    });
  }
}

/**
 * Operations an engine may refuse inside a transaction (PostgreSQL turns a KV history on at READ COMMITTED, outside
 * the serializable transactions): such a call is a batch of its own, run with `write`, its batch number written just
 * after. It is idempotent (a history turned on stays on), so a crash between the two costs a stale mark, no data.
 */
export const ALONE_OPS: ReadonlySet<string> = new Set(["kvHistoryStart"]);

/**
 * Replays `batches` on `engine` as one transaction, in order, with `state` written last; throws {@link Divergence}
 * (and rolls back) at the first write whose outcome differs from the recorded one. A batch run alone is replayed
 * alone (the caller groups it so), with `write`.
 */
export async function replayBatches(engine: Engine, batches: readonly Batch[], state: SideState): Promise<void> {
  const alone = batches.length === 1 && batches[0]!.alone === true ? batches[0]! : undefined;
  if (alone !== undefined) {
    const { call, outcome } = alone.writes[0]!;
    const got = await outcomeOf(() => engine.write(call));
    if (!sameOutcome(outcome, got)) throw new Divergence(alone.number, call, outcome, got);
    await writeState(engine, state);
    return;
  }
  await engine.transaction(async (ops) => {
    for (const batch of batches) {
      for (const { call, outcome } of batch.writes) {
        const got = await outcomeOf(() => runCall(ops, call));
        if (!sameOutcome(outcome, got, UNCOMPARED_COUNTS.has(call.op))) throw new Divergence(batch.number, call, outcome, got);
      }
    }
    await putState(ops, state);
  });
}

/**
 * Operations whose count may differ between engine families on equal visible data: how many expired entries or
 * trimmed changes one call removes (engines walk them in their own order, some a namespace at a time). What stays is
 * invisible to reads either way, so only success is compared.
 */
const UNCOMPARED_COUNTS: ReadonlySet<string> = new Set(["kvSweepExpired", "kvHistoryTrim"]);

/** Equal results (or both successes, with `successOnly`), or errors of the same code. */
export function sameOutcome(a: Outcome, b: Outcome, successOnly = false): boolean {
  if (a.ok && b.ok) return successOnly || isDeepStrictEqual(a.value, b.value);
  if (!a.ok && !b.ok) return codeOf(a.error) === codeOf(b.error);
  return false;
}

/**
 * Write calls that change up to as many items as one of their arguments says (its index): a work claim's, requeue's
 * or purge's `limit`, as the store counts them against a transaction's writes.
 */
const LIMIT_ARGUMENT: Partial<Record<EngineCall["op"], number>> = { workClaim: 2, workRequeue: 4, workPurge: 3 };

/** A write's weight: rows it carries (restores, a produce's records) or may change (a claim's limit), else one; bytes of its values and keys. */
export function weightOf(call: EngineCall): Weight {
  let writes = 1;
  for (const arg of call.args) if (Array.isArray(arg) && arg.length > 0 && typeof arg[0] === "object") writes = Math.max(writes, arg.length);
  const limitAt = LIMIT_ARGUMENT[call.op];
  const limit = limitAt === undefined ? undefined : call.args[limitAt];
  if (typeof limit === "number") writes = Math.max(writes, limit);
  return { writes, bytes: bytesIn(call.args, 0) };
}

function bytesIn(value: unknown, depth: number): number {
  if (value instanceof Uint8Array) return value.byteLength;
  if (typeof value === "string") return value.length * 3;
  if (depth > 3 || typeof value !== "object" || value === null) return 8;
  let sum = 0;
  for (const item of Array.isArray(value) ? value : Object.values(value)) sum += bytesIn(item, depth + 1);
  return sum;
}

function codeOf(error: unknown): string {
  return error instanceof StowageError ? error.code : "INTERNAL";
}

function describeOutcome(outcome: Outcome): string {
  if (!outcome.ok) return `an error ${codeOf(outcome.error)}`;
  const text = JSON.stringify(outcome.value) ?? "nothing";
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

/** Consecutive batches grouped so that each group fits one commit within `limits` (a batch alone always fits: it was committed whole). */
export function withinLimits(batches: readonly Batch[], limits: EngineLimits): Batch[][] {
  const groups: Batch[][] = [];
  let group: Batch[] = [];
  let writes = 0;
  let bytes = 0;
  for (const batch of batches) {
    const weight = batch.writes.reduce((sum, { call }) => {
      const own = weightOf(call);
      return { writes: sum.writes + own.writes, bytes: sum.bytes + own.bytes };
    }, { writes: 0, bytes: 0 });
    const full = writes + weight.writes > limits.maxTransactionWrites || bytes + weight.bytes > limits.maxTransactionBytes / 2;
    if (group.length > 0 && (full || batch.alone === true || group[0]!.alone === true)) {
      groups.push(group);
      group = [];
      writes = 0;
      bytes = 0;
    }
    group.push(batch);
    writes += weight.writes;
    bytes += weight.bytes;
  }
  if (group.length > 0) groups.push(group);
  return groups;
}
