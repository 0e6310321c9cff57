import assert from "node:assert/strict";
import { isStowageError, type ErrorCode, type StowageError } from "../api/errors.js";
import type { Kv, KvChange, NamespaceInfo, Store } from "../api/types.js";
import type { EngineCapability, EngineSupports } from "../engines/engine.js";
import type { StoreOptions } from "../store/store.js";

/**
 * Opens a fresh, empty store of the engine under test with the given options. Every case calls it at least once and
 * closes what it opened. The options carry a controllable clock: the engine must use it for TTL and timestamps.
 */
export type StoreFactory = (options: StoreOptions) => Promise<Store>;

/** A clock that only moves when told to. */
export class ManualClock {
  constructor(public time = 1_700_000_000_000) {}
  readonly now = (): number => this.time;
  advance(ms: number): void {
    this.time += ms;
  }
}

/** What each conformance case receives. */
export interface CaseContext {
  store: Store;
  clock: ManualClock;
  /** Opens another store of the same engine (closed by the harness after the case). */
  open(options?: StoreOptions): Promise<Store>;
  /** The engine's manifest as declared to the suite: cases at a size limit use its limits. */
  supports: EngineSupports;
}

/** One case; `needs` names the capabilities it needs beyond its group's (the suite skips it where one is missing). */
export type Case = ((ctx: CaseContext) => Promise<void>) & { readonly needs?: readonly EngineCapability[] };

/** A case that runs only on engines with every one of `capabilities`. */
export function needing(capabilities: readonly EngineCapability[], run: (ctx: CaseContext) => Promise<void>): Case {
  return Object.assign(run, { needs: Object.freeze([...capabilities]) });
}

/** A named group of cases. */
export type CaseGroup = Record<string, Case>;

/** Asserts that `promise` rejects with a StowageError of `code` whose message mentions each of `mentions`; returns that error. */
export async function rejectsWith(promise: Promise<unknown> | (() => unknown), code: ErrorCode, ...mentions: string[]): Promise<StowageError> {
  let error: unknown;
  try {
    await (typeof promise === "function" ? promise() : promise);
  } catch (caught) {
    error = caught;
  }
  assert.ok(error !== undefined, `expected a ${code} error, but the call succeeded`);
  assert.ok(isStowageError(error, code), `expected ${code}, got ${String((error as Error)?.stack ?? error)}`);
  for (const mention of mentions) {
    assert.ok((error as Error).message.includes(mention), `expected the message to mention ${JSON.stringify(mention)}: ${(error as Error).message}`);
  }
  return error as StowageError;
}

/** A store's namespaces as every engine reports them (a routed store adds each one's provider, which is left out). */
export const namespacesOf = (namespaces: readonly NamespaceInfo[]): NamespaceInfo[] => namespaces.map(({ primitive, namespace, count }) => ({ primitive, namespace, count }));

export const enc = (text: string): Uint8Array => new TextEncoder().encode(text);
export const dec = (bytes: Uint8Array | undefined): string | undefined => (bytes === undefined ? undefined : new TextDecoder().decode(bytes));

/** Resolves after `ms` of real time; used only where the engine works in the background (the sweep). */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A promise with its resolver, to hold a transaction open at a chosen point. */
export function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** The key `watchFromNow` also watches by default, to learn when the watch has started. */
export const MARK = "~mark";

/**
 * A started watch of `keys`: a watch starts at its first read, some time after the first next(), so this writes the
 * `mark` key until the watch reports it, then reads past every mark written. From then on it reports exactly what
 * follows (writes of `mark` included).
 */
export async function watchFromNow(kv: Kv<string>, keys: readonly string[], signal: AbortSignal, mark = MARK): Promise<AsyncIterator<KvChange<string>>> {
  const feed = kv.watch([...keys, mark], { signal })[Symbol.asyncIterator]();
  const first = feed.next();
  let written = 0;
  let reported: IteratorResult<KvChange<string>> | undefined;
  while (reported === undefined) {
    assert.ok(written < 500, "the watch started");
    await kv.put(mark, `m${++written}`);
    reported = await Promise.race([first, sleep(5).then(() => undefined)]);
  }
  let last = reported.value as KvChange<string>;
  while (last.value !== `m${written}`) last = (await feed.next()).value as KvChange<string>;
  return feed;
}
