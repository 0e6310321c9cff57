import { StowageError } from "../../api/errors.js";
import type { Store } from "../../api/types.js";
import { rootEngine, storePartsOf } from "../../store/store.js";
import type { Engine } from "../engine.js";
import type { CompositeEngine, CompositeStatus } from "./composite-engine.js";

/** The composites of each store over providers, by the engine at the bottom of the store (wrappers pass through). */
const compositesOf = new WeakMap<Engine, ReadonlyMap<string, CompositeEngine>>();

/** Records a store engine's composite providers, for {@link compositeControl}. */
export function registerComposites(engine: Engine, composites: ReadonlyMap<string, CompositeEngine>): void {
  if (composites.size > 0) compositesOf.set(engine, composites);
}

/** The composite providers of a store (wrappers pass through), by name; undefined when it has none. */
export function compositesOfStore(store: Store): ReadonlyMap<string, CompositeEngine> | undefined {
  const parts = storePartsOf(store);
  return parts === undefined ? undefined : compositesOf.get(rootEngine(parts.engine));
}

/** What an operator can do with a composite provider. */
export interface CompositeControl {
  /** Which side serves, how the other stands, the lag (batches, write calls, age) and the failovers so far. */
  status(): CompositeStatus;
  /** Serves from the backup now (a planned failover); CONFLICT when the backup is stale. */
  failover(): Promise<void>;
  /** Serves from the primary again; CONFLICT (with the reason) when it diverged or cannot catch up: resync it first. */
  failback(): Promise<void>;
  /** Copies the serving side into the stale side, which must be empty, and validates the copy. */
  resync(): Promise<void>;
}

/**
 * The control of a store's composite provider: `provider` names it (may be left out when the store has one).
 * INVALID_ARGUMENT when the store has no such composite.
 *
 * @example
 * ```ts
 * const ha = compositeControl(store, "ha");
 * if (ha.status().serving === "backup") await ha.failback();
 * ```
 */
export function compositeControl(store: Store, provider?: string): CompositeControl {
  const composites = compositesOfStore(store);
  if (composites === undefined) throw new StowageError("INVALID_ARGUMENT", "the store has no composite provider");
  const names = [...composites.keys()];
  if (provider === undefined && names.length > 1) throw new StowageError("INVALID_ARGUMENT", `the store has several composite providers (${names.join(", ")}): name one`);
  const engine = composites.get(provider ?? names[0]!);
  if (engine === undefined) throw new StowageError("INVALID_ARGUMENT", `provider ${JSON.stringify(provider)} is not a composite provider of the store (${names.join(", ")})`);
  return {
    status: () => engine.status(),
    failover: () => engine.failover(),
    failback: () => engine.failback(),
    resync: () => engine.resync(),
  };
}
