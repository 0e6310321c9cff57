import { StowageError } from "../api/errors.js";
import type { Store } from "../api/types.js";
import type { ChangeSource } from "../engines/change-signal.js";
import type { Awaitable, Engine, EngineFacts, EngineOps, EngineSupports } from "../engines/engine.js";
import { keyOf, namespaceOf, OP_NAMES, opsCalling, runCall, type CallResult, type EngineCall, type OpName } from "../engines/engine-calls.js";
import { probeEngine } from "../store/health.js";
import { dumpRefused } from "../engines/dump-refused.js";
import { createStore, ENGINE_BELOW, storePartsOf, type StoreParts } from "../store/store.js";

export type { OpName } from "../engines/engine-calls.js";

/** What kind of engine call a unit is: a read, a single write, or a transaction. */
export type UnitKind = "read" | "write" | "transaction";

/**
 * One engine operation as a layer sees it: the call the store made (`op`, `args`: validated and encoded, values are
 * bytes), with its namespace and key read from the op table (`OP_FACTS` in engines/engine-calls.ts).
 */
export interface OpCall {
  readonly op: OpName;
  readonly args: readonly unknown[];
  /** The namespace (absent for the store-wide `kvSweepExpired`, `kvHistoryTrim` and `describe`). */
  readonly namespace: string | undefined;
  /** The key (the space, for stream operations); absent where the operation has none. */
  readonly key: string | undefined;
  readonly unit: UnitKind;
  /**
   * Operations for a layer that answers a call with another one (the cache reads `kvGetEntry` for a `kvGet`): inside
   * a transaction, the transaction's own; for a read or a single write, each runs as a read or write of its own on
   * the engine beneath this layer (instead of the call, not besides it).
   */
  readonly ops: EngineOps;
}

/**
 * What a layer does around the engine. Every hook sees the call itself, as data: nothing runs to find out what a call
 * does. `begin` makes the state of one unit (one engine read, write or transaction); `op` runs around each operation
 * of it; `end` sees the unit settle — for a write, that is when it committed, which is later than its operation
 * returned on engines that commit writes in groups.
 */
export interface LayerHooks<S> {
  /**
   * Runs before a read or a single write goes on to `op` and the engine. A throw refuses the call before any I/O; a
   * promise delays it, holding nothing meanwhile (no lock, no connection, no place in a group commit). Transactions
   * are not gated: their operations run inside the engine, so a layer limits them in `op`.
   */
  gate?(call: OpCall): void | Promise<void>;
  /**
   * Answers a read before it reaches the engine (the read cache's hits): `{ value }` is what the call would have
   * returned, and nothing beneath this layer runs (no `begin`, `op` or `end` of this layer either). Undefined lets the
   * read go on.
   */
  answer?(call: OpCall): { value: unknown } | undefined;
  begin(unit: UnitKind): S;
  /**
   * Runs around each operation. For a read or a single write, `run` is the call on the engine beneath this layer (its
   * layers included, so a refusal of a limit beneath comes out of `run`); in a transaction, the operation inside it.
   */
  op<T>(call: OpCall, run: () => Awaitable<T>, state: S): Awaitable<T>;
  /**
   * `error` is what the unit failed with, or undefined when it succeeded. `call` is the unit's call (undefined for
   * transactions).
   */
  end(state: S, error: unknown, call: OpCall | undefined): void;
  /** Runs when the wrapped store closes, before the store beneath it closes. */
  close?(): void | Promise<void>;
}

/** Finishes a unit's state whether `run` answers now, later, or throws. */
function settle<T, S>(hooks: LayerHooks<S>, state: S, run: () => Awaitable<T>, call: OpCall | undefined): Awaitable<T> {
  let answer: Awaitable<T>;
  try {
    answer = run();
  } catch (error) {
    hooks.end(state, error, call);
    throw error;
  }
  if (answer instanceof Promise) {
    return answer.then(
      (value) => {
        hooks.end(state, undefined, call);
        return value;
      },
      (error: unknown) => {
        hooks.end(state, error, call);
        throw error;
      },
    );
  }
  hooks.end(state, undefined, call);
  return answer;
}

/** A call as a layer sees it: namespace and key from the op table. */
function opCallOf(call: EngineCall, unit: UnitKind, ops: EngineOps): OpCall {
  return { op: call.op, args: call.args, namespace: namespaceOf(call), key: keyOf(call), unit, ops };
}

/** What a layer's transaction view holds: the transaction's operations, and the hooks with the unit's state. */
interface TransactionView {
  readonly target: EngineOps;
  readonly hooks: LayerHooks<unknown>;
  readonly state: unknown;
}

/**
 * The methods of every layer's transaction view, made once from the op table: each passes its operation through the
 * hooks. A view is then one small object per transaction (no Proxy, no closures per transaction).
 */
const TRANSACTION_VIEW: EngineOps = (() => {
  const methods: Record<string, (this: TransactionView, ...args: unknown[]) => Awaitable<unknown>> = {};
  for (const op of OP_NAMES) {
    methods[op] = function (this: TransactionView, ...args: unknown[]) {
      const call = { op, args } as unknown as EngineCall;
      return this.hooks.op(opCallOf(call, "transaction", this.target), () => runCall(this.target, call), this.state);
    };
  }
  return methods as unknown as EngineOps;
})();

function transactionView<S>(target: EngineOps, hooks: LayerHooks<S>, state: S): EngineOps {
  const view = Object.create(TRANSACTION_VIEW) as TransactionView;
  Object.assign(view, { target, hooks, state });
  return view as unknown as EngineOps;
}

/** An engine that runs `hooks` around every call of the engine beneath it. */
class LayeredEngine<S> implements Engine {
  readonly [ENGINE_BELOW]: Engine;
  /** What `OpCall.ops` runs for reads and single writes: each operation a unit of its own beneath this layer. */
  private readonly readsBelow: EngineOps;
  private readonly writesBelow: EngineOps;

  constructor(
    private readonly inner: Engine,
    private readonly hooks: LayerHooks<S>,
    private readonly below: StoreParts,
    private readonly closeBelow: () => Promise<void>,
  ) {
    this[ENGINE_BELOW] = inner;
    this.readsBelow = opsCalling((call) => inner.read(call));
    this.writesBelow = opsCalling((call) => inner.write(call));
  }

  /**
   * CLOSED when the store beneath was closed directly (its engine is gone, so a call here is CLOSED, not an engine
   * error); undefined while it is open.
   */
  private closedBelow(): StowageError | undefined {
    return this.below.isOpen() ? undefined : new StowageError("CLOSED", `the ${this.inner.name} store beneath this wrapper is closed`);
  }

  /** Throws what `closedBelow` reports: for the synchronous read path, and after a wait at a gate. */
  private assertBelowOpen(): void {
    const closed = this.closedBelow();
    if (closed !== undefined) throw closed;
  }

  get name(): string {
    return this.inner.name;
  }

  get location(): string {
    return this.inner.location;
  }

  get changes(): ChangeSource | undefined {
    return this.inner.changes;
  }

  get supports(): EngineSupports {
    return this.inner.supports;
  }

  read<C extends EngineCall>(call: C): Awaitable<CallResult<C>> {
    this.assertBelowOpen();
    const seen = opCallOf(call, "read", this.readsBelow);
    if (this.hooks.answer !== undefined) {
      const answer = this.hooks.answer(seen);
      if (answer !== undefined) return answer.value as CallResult<C>;
    }
    const admitted = this.admit(seen);
    if (admitted === undefined) return this.readNow(call, seen);
    // A call that waited at a gate may find the store beneath closed meanwhile.
    return admitted.then(() => {
      this.assertBelowOpen();
      return this.readNow(call, seen);
    });
  }

  /** A dump's reads pass beneath the layer untouched: they are no service traffic to cache, count or limit. */
  snapshot<T>(body: (ops: EngineOps) => Promise<T>): Promise<T> {
    const closed = this.closedBelow() ?? (this.inner.snapshot === undefined ? dumpRefused(`the ${this.inner.name} engine`) : undefined);
    return closed === undefined ? this.inner.snapshot!(body) : Promise.reject(closed);
  }

  write<C extends EngineCall>(call: C): Promise<CallResult<C>> {
    const seen = opCallOf(call, "write", this.writesBelow);
    let admitted: Promise<void> | undefined;
    try {
      this.assertBelowOpen();
      admitted = this.admit(seen);
    } catch (error) {
      return Promise.reject(error);
    }
    if (admitted === undefined) return this.writeNow(call, seen);
    return admitted.then(() => {
      this.assertBelowOpen();
      return this.writeNow(call, seen);
    });
  }

  /** The gate's answer for `call`: undefined to go on at once (a synchronous answer stays synchronous). */
  private admit(call: OpCall): Promise<void> | undefined {
    if (this.hooks.gate === undefined) return undefined;
    const answer = this.hooks.gate(call);
    return answer instanceof Promise ? answer : undefined;
  }

  private readNow<C extends EngineCall>(call: C, seen: OpCall): Awaitable<CallResult<C>> {
    const hooks = this.hooks;
    const state = hooks.begin("read");
    return settle(hooks, state, () => hooks.op(seen, () => this.inner.read(call), state), seen);
  }

  private writeNow<C extends EngineCall>(call: C, seen: OpCall): Promise<CallResult<C>> {
    const hooks = this.hooks;
    const state = hooks.begin("write");
    return settle(hooks, state, () => hooks.op(seen, () => this.inner.write(call), state), seen) as Promise<CallResult<C>>;
  }

  transaction<T>(body: (ops: EngineOps) => Promise<T>): Promise<T> {
    const closed = this.closedBelow();
    if (closed !== undefined) return Promise.reject(closed);
    const state = this.hooks.begin("transaction");
    return settle(this.hooks, state, () => this.inner.transaction((ops) => body(transactionView(ops, this.hooks, state))), undefined) as Promise<T>;
  }

  check(): Promise<string[]> {
    const closed = this.closedBelow();
    if (closed !== undefined) return Promise.reject(closed);
    return this.inner.check();
  }

  facts(): Awaitable<EngineFacts> {
    return this.inner.facts?.() ?? { facts: {}, warnings: [] };
  }

  /** The engine beneath decides which handles a transaction may take (a routed store's providers). */
  transactionGuard(): (primitive: string, namespace: string) => void {
    return this.inner.transactionGuard?.() ?? (() => undefined);
  }

  probe(): Promise<unknown> {
    const closed = this.closedBelow();
    if (closed !== undefined) return Promise.reject(closed);
    return probeEngine(this.inner);
  }

  async close(): Promise<void> {
    try {
      await this.hooks.close?.();
    } finally {
      await this.closeBelow();
    }
  }
}

/**
 * The hooks of a layer that only judges calls (a limit): a read or single write at the gate, before the engine, where
 * the judgement may make it wait; an operation inside a transaction as it runs, where it may only refuse (a wait
 * would hold the transaction, and with it the engine).
 */
export function judgingHooks(judge: (call: OpCall, mayWait: boolean) => void | Promise<void>): LayerHooks<UnitKind> {
  return {
    gate: (call) => judge(call, true),
    begin: (unit) => unit,
    op<T>(call: OpCall, run: () => Awaitable<T>, unit: UnitKind): Awaitable<T> {
      if (unit === "transaction") void judge(call, false);
      return run();
    },
    end: () => undefined,
  };
}

/** The engine, clock and wrapper controls beneath a stowage store; INVALID_ARGUMENT for anything else. */
export function storeParts(store: Store): StoreParts {
  const parts = storePartsOf(store);
  if (parts === undefined) throw new StowageError("INVALID_ARGUMENT", "expected a store made by openStore, createStore or a wrapper");
  return parts;
}

/**
 * A new store over the same engine and clock as `store`, with `hooks` around every engine call, exposing the
 * wrapper controls of `store` plus `extension`. Closing it closes `store` too, once no other wrapper of `store` is open;
 * closing `store` directly makes the wrapper's calls CLOSED. Validation, codecs and limits stay in
 * the new store, so a layer sees only checked, encoded calls; calls made on `store` directly bypass the layer.
 */
export function layerStore<S extends Store, X extends Record<string, unknown>, State>(store: S, hooks: LayerHooks<State>, extension: X): S & X {
  const parts = storeParts(store);
  parts.layers += 1;
  let closed = false;
  const engine = new LayeredEngine(parts.engine, hooks, parts, async () => {
    if (closed) return;
    closed = true;
    // The last wrapper to close closes the store beneath; one of two sibling wrappers leaves it to the other.
    if (--parts.layers === 0) await store.close();
  });
  // The store beneath keeps sweeping expired entries; one sweeper is enough.
  const layered = createStore(engine, { clock: parts.clock, sweepIntervalMs: 0 });
  const extensions = { ...parts.extensions, ...extension };
  const layeredParts = storeParts(layered);
  layeredParts.extensions = extensions;
  for (const [name, control] of Object.entries(extensions)) {
    Object.defineProperty(layered, name, { value: control, enumerable: true });
  }
  return layered as S & X;
}
