import { StowageError, type ErrorCode } from "../api/errors.js";
import type { Store } from "../api/types.js";
import { asStowageError, runWrite, type BatchOp, type PendingWrite } from "./batch-write.js";

/** A write a flush could not commit; its own promise rejected with `error`. */
export interface FailedWrite {
  op: BatchOp;
  namespace: string;
  key: string;
  code: ErrorCode;
  error: StowageError;
}

/** What committing a run of writes did, added up over a flush. */
export interface CommitTally {
  /** Transactions committed. */
  transactions: number;
  /** Transactions rolled back: a write failed in them, or the transaction as a whole did. */
  rolledBack: number;
  committed: number;
  failed: FailedWrite[];
}

/**
 * Cuts `writes` into runs of at most `maxWrites` writes and `maxBytes` bytes, in order. A write larger than `maxBytes`
 * on its own goes alone: it is never grouped, and the store judges it by its own limits.
 */
export function splitIntoTransactions<W extends { bytes: number }>(writes: readonly W[], maxWrites: number, maxBytes: number): W[][] {
  const runs: W[][] = [];
  let current: W[] = [];
  let bytes = 0;
  for (const write of writes) {
    if (current.length > 0 && (current.length >= maxWrites || bytes + write.bytes > maxBytes)) {
      runs.push(current);
      current = [];
      bytes = 0;
    }
    current.push(write);
    bytes += write.bytes;
  }
  if (current.length > 0) runs.push(current);
  return runs;
}

type Outcome =
  | { kind: "committed"; results: unknown[] }
  /** The write at `index` failed; the ones before it had succeeded. Nothing was committed. */
  | { kind: "write-failed"; index: number; error: unknown }
  /** The transaction failed outside its writes (at its start or commit), or its single write failed: nothing was committed. */
  | { kind: "failed"; error: unknown };

/**
 * Commits `run` (within the transaction limits) as one transaction, settling each write's promise. When a write fails,
 * whatever its error, the transaction rolls back and the run is taken apart around it — the writes before it, it alone, the
 * writes after it, in that order — so that only writes that fail by themselves reject, each with its own error, and
 * every other write commits, in the order the writes were made. Each split leaves strictly smaller pieces, so a run
 * of n writes takes at most 2n − 1 transactions; the loop is bounded by that.
 */
export async function commitRun(store: Pick<Store, "transaction">, run: readonly PendingWrite[], tally: CommitTally, now: () => number): Promise<void> {
  const pieces: Array<readonly PendingWrite[]> = [run];
  for (let round = 0; round < 2 * run.length && pieces.length > 0; round++) {
    const piece = pieces.shift() as readonly PendingWrite[];
    const outcome = await attempt(store, piece, now);
    if (outcome.kind === "committed") {
      tally.transactions += 1;
      tally.committed += piece.length;
      piece.forEach((write, i) => write.resolve(outcome.results[i]));
      continue;
    }
    tally.rolledBack += 1;
    if (outcome.kind === "write-failed" && piece.length > 1) {
      const around = [piece.slice(0, outcome.index), piece.slice(outcome.index, outcome.index + 1), piece.slice(outcome.index + 1)];
      pieces.unshift(...around.filter((part) => part.length > 0));
      continue;
    }
    for (const write of piece) fail(write, outcome.error, tally);
  }
  // Unreachable by the bound above; kept so that no write could ever be left unsettled.
  for (const piece of pieces) for (const write of piece) fail(write, new StowageError("INTERNAL", "a batched write was left unsettled"), tally);
}

function fail(write: PendingWrite, cause: unknown, tally: CommitTally): void {
  const error = asStowageError(cause, write);
  tally.failed.push({ op: write.op, namespace: write.namespace, key: write.key, code: error.code, error });
  write.reject(error);
}

/** Runs `piece` as one transaction and says how it went. */
async function attempt(store: Pick<Store, "transaction">, piece: readonly PendingWrite[], now: () => number): Promise<Outcome> {
  let failure: { index: number; error: unknown } | undefined;
  let results: unknown[] = [];
  try {
    await store.transaction(async (tx) => {
      // The store runs the body again after a CONFLICT on engines with optimistic concurrency: start afresh.
      failure = undefined;
      results = [];
      for (let i = 0; i < piece.length; i++) {
        try {
          results.push(await runWrite(tx, piece[i] as PendingWrite, now));
        } catch (error) {
          // Whatever the error — bad input, a limit, RATE_LIMITED from a layer, an engine failure — it is this write's
          // until shown otherwise: its neighbours are retried without it. A failure of the store as a whole (CLOSED,
          // an outage) then fails their own transactions at once, so taking the batch apart costs little.
          failure = { index: i, error };
          throw error; // rolls back; a CONFLICT is the store's to retry
        }
      }
    });
    return { kind: "committed", results };
  } catch (error) {
    // The body's last run stopped at a failing write: that is why the transaction failed, whatever error the store
    // reports for it (the same, or one about the rollback); the write rejects with its own.
    const failed = failure as { index: number; error: unknown } | undefined; // set in the body, which TypeScript cannot see
    if (failed !== undefined) return { kind: "write-failed", index: failed.index, error: failed.error };
    return { kind: "failed", error };
  }
}
