import { StowageError } from "../api/errors.js";
import type { EngineOps } from "../engines/engine.js";
import { runCall, type CallResult, type EngineCall } from "../engines/engine-calls.js";
import { isTransactionFatal } from "../engines/transaction-failure.js";
import { checkCommitFits, type EngineProfile } from "./capabilities.js";
import type { Executor } from "./executor.js";

/**
 * Runs a transaction body's calls inside the engine transaction, one at a time (so that composite calls such as a
 * queue push with its overflow check never interleave), and enforces the transaction size limits.
 *
 * A call that fails leaves nothing of itself (engines undo a failed call's statements), so a body may catch the error
 * and go on. A failure the engine marked as ending the transaction (a serialization failure, a lost connection, a
 * rollback the database did on its own) is kept in {@link fatal}: every later call fails with it, and the store
 * rejects the transaction with it whatever the body returns.
 */
export class TransactionExecutor implements Executor {
  private active = true;
  private writes = 0;
  private bytes = 0;
  private tail: Promise<unknown> = Promise.resolve();
  /** The first failure that ended the engine transaction, if any. */
  fatal: Error | undefined;

  constructor(
    private readonly ops: EngineOps,
    readonly now: () => number,
    readonly engine: EngineProfile,
  ) {}

  /** Called when the transaction commits or rolls back: later calls on its handles fail with CLOSED. */
  end(): void {
    this.active = false;
  }

  /** Resolves when every call issued so far has finished (a body may have left one un-awaited). */
  settled(): Promise<unknown> {
    return this.tail;
  }

  assertActive(): void {
    if (!this.active) throw new StowageError("CLOSED", "the transaction has ended; its handles cannot be used after it");
  }

  read<C extends EngineCall>(call: C): Promise<CallResult<C>> {
    return this.serial(call) as Promise<CallResult<C>>;
  }

  async idle(): Promise<void> {
    await this.serial(undefined);
  }

  write<C extends EngineCall>(call: C, bytes: number, writes = 1): Promise<CallResult<C>> {
    return this.serial(call, () => {
      checkCommitFits(this.engine, this.writes + writes, this.bytes + bytes, "a transaction");
      this.writes += writes;
      this.bytes += bytes;
    }) as Promise<CallResult<C>>;
  }

  /** Runs `call` after every call issued before it; undefined: only the checks a call would pass first. */
  private serial(call: EngineCall | undefined, admit?: () => void): Promise<unknown> {
    const run = this.tail.then(async () => {
      this.assertActive();
      if (this.fatal !== undefined) throw this.fatal;
      admit?.();
      if (call === undefined) return undefined;
      try {
        return await runCall(this.ops, call);
      } catch (error) {
        if (this.fatal === undefined && isTransactionFatal(error)) this.fatal = error as Error;
        throw error;
      }
    });
    this.tail = run.catch(() => undefined);
    return run;
  }
}
