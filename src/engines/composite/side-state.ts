import { StowageError } from "../../api/errors.js";
import type { NamespaceInfo } from "../../api/types.js";
import type { Engine, EngineDescription, EngineOps } from "../engine.js";

/**
 * The namespace where a composite keeps its bookkeeping on each side. A store's namespaces start with a letter or a
 * digit, so no user call can reach it; the composite hides it from `describe`, dumps and validation.
 */
export const STATE_NAMESPACE = "_composite";
const STATE_KEY = "state";
/** The section a dump of a side would give the state namespace: left out of copies and comparisons. */
export const STATE_SECTION = `kv:${STATE_NAMESPACE}`;

/**
 * What one side of a composite records, in the same transaction as the batch it describes: so that at open the
 * composite knows whether the sides agree.
 */
export interface SideState {
  /** The number of the last batch this side committed (0: none yet; the sides agree at creation). */
  batch: number;
  /**
   * A random identity of that batch, the same on both sides: two sides at one number hold the same writes only when
   * their identities match too (a batch that reached the primary only, its commit's answer lost, has the number the
   * backup gives its first batch after the failover).
   */
  id?: string;
  /** True on the backup from a failover until the failback: the backup is the side that serves. */
  serving: boolean;
  /** While `serving`: the batch at which the backup took over (the primary agrees up to it, at most). */
  failoverAt?: number;
  /** While `serving`: the identity of the batch at `failoverAt`. */
  failoverId?: string;
  /** On the primary: why the backup stopped mirroring (it needs a resync); absent while it mirrors. */
  backupStale?: string;
}

/** The state as the side holds it, read through transaction or snapshot ops. */
export async function stateIn(ops: Pick<EngineOps, "kvGet">): Promise<SideState | undefined> {
  return parseState(await ops.kvGet(STATE_NAMESPACE, STATE_KEY, 0));
}

/** The side's state, from its committed data. */
export async function readState(engine: Engine): Promise<SideState | undefined> {
  return parseState(await engine.read({ op: "kvGet", args: [STATE_NAMESPACE, STATE_KEY, 0] }));
}

/** Writes the state inside the caller's transaction (no TTL). */
export function putState(ops: Pick<EngineOps, "kvPut">, state: SideState): unknown {
  return ops.kvPut(STATE_NAMESPACE, STATE_KEY, new TextEncoder().encode(JSON.stringify(state)), null);
}

/** Writes the state in a transaction of its own. */
export function writeState(engine: Engine, state: SideState): Promise<void> {
  return engine.transaction(async (ops) => void (await putState(ops, state)));
}

/** A side's description as the store shows it: the composite's own namespace and rows left out. */
export function hideState(description: EngineDescription): EngineDescription {
  const own = description.namespaces.find((info) => info.namespace === STATE_NAMESPACE);
  if (own === undefined) return description;
  return { ...description, namespaces: userNamespaces(description.namespaces), storedRows: description.storedRows - own.count };
}

/** The namespaces of a side that hold user data (the composite's own left out). */
export function userNamespaces(namespaces: readonly NamespaceInfo[]): NamespaceInfo[] {
  return namespaces.filter((info) => info.namespace !== STATE_NAMESPACE);
}

/** The user namespaces a side holds now (judged at `now`). */
export async function userNamespacesOf(engine: Engine, now: number): Promise<NamespaceInfo[]> {
  return userNamespaces((await engine.read({ op: "describe", args: [now] })).namespaces);
}

function parseState(bytes: Uint8Array | undefined): SideState | undefined {
  if (bytes === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    parsed = undefined;
  }
  const state = parsed as SideState | undefined;
  if (typeof state !== "object" || state === null || !Number.isSafeInteger(state.batch) || typeof state.serving !== "boolean") {
    throw new StowageError("CORRUPT", `the composite's state record (namespace "${STATE_NAMESPACE}", key "${STATE_KEY}") is not readable`, { namespace: STATE_NAMESPACE, key: STATE_KEY });
  }
  return state;
}
