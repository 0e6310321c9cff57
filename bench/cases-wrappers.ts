/**
 * Wrapper rows: a stowage case run on a wrapped store (withMetrics, withCache) and on the same store unwrapped,
 * alternating round by round in the same process, so that the ratio wrapped ÷ unwrapped is not skewed by what ran in
 * between (the file growing, the JIT warming other paths, the disk's mood).
 */
import { withCache, withMetrics, type Store } from "../src/index.js";
import { nsOf, STOWAGE_CASES, type BenchCase } from "./cases-stowage.js";
import { pad, VALUE, valueFor } from "./fixtures.js";
import { alternate } from "./alternate.js";
import type { CaseBody, RunLimits, Summary } from "./harness.js";
import type { EngineName } from "./options.js";

export const METRICS_SUBJECT = "stowage + withMetrics";
export const CACHE_SUBJECT = "stowage + withCache";
export const HISTORY_SUBJECT = "stowage + KV change history";
/** The subject of the unwrapped row measured alongside a wrapper's (`stowage without withMetrics`). */
export const unwrappedSubject = (wrapperSubject: string): string => `stowage without ${wrapperSubject.replace(/^stowage \+ /, "")}`;

export interface WrapperCase {
  /** The wrapped store's name in the report. */
  subject: string;
  /** The stowage case both sides run (see cases-stowage.ts). */
  op: string;
  describe: string;
  engines: readonly EngineName[];
  concurrencies?: readonly number[];
  wrap(store: Store): Store;
  /**
   * Untimed, after the body is built on the wrapped store (e.g. filling the cache); returns the check run after the
   * timed rounds: a problem that makes the row meaningless, or undefined.
   */
  prepare(wrapped: Store, concurrency: number): Promise<() => string | undefined>;
  /** Builds the wrapped side's body instead of the stowage case's own (a case about a namespace's setting, not a wrapper). */
  buildWrapped?(store: Store, concurrency: number): Promise<CaseBody>;
}

/** The KV history row's namespace: the kv.put case's body on a namespace of its own, with history turned on. */
const historyNs = (c: number): string => `${nsOf("kv.put", c)}-history`;

/** KV get keys: the kv.get case's (cases-stowage.ts). */
const KV_KEYS = 10_000;

export const WRAPPER_CASES: readonly WrapperCase[] = [
  {
    subject: METRICS_SUBJECT,
    op: "kv.put",
    describe: "kv.put (as the stowage case) through withMetrics() with its defaults: every put counted and timed",
    engines: ["memory", "sqlite"],
    concurrencies: [1, 16],
    wrap: (store) => withMetrics(store),
    async prepare(wrapped) {
      const { metrics } = wrapped as ReturnType<typeof withMetrics>;
      return () => {
        const put = metrics.snapshot().series.find((s) => s.op === "kv.put");
        return put !== undefined && put.calls > 0 && put.samples > 0 ? undefined : "withMetrics recorded no put";
      };
    },
  },
  {
    subject: CACHE_SUBJECT,
    op: "kv.get",
    describe: `kv.get (as the stowage case) through withCache() with its defaults, all ${KV_KEYS.toLocaleString("en-US")} keys read once before timing: the hit path`,
    engines: ["sqlite", "postgres"],
    wrap: (store) => withCache(store),
    async prepare(wrapped, c) {
      const { cache } = wrapped as ReturnType<typeof withCache>;
      // The kv.get case's namespace and keys.
      const kv = wrapped.kv(nsOf("kv.get", c));
      for (let i = 0; i < KV_KEYS; i++) await kv.get(`k${pad(i, 6)}`);
      const filled = cache.stats();
      return () => {
        const { hits, misses } = cache.stats();
        const timedHits = hits - filled.hits;
        const timedMisses = misses - filled.misses;
        // A fill that outlived the cache's 60 s TTL would time misses: allow a stray one, not a miss path.
        return timedHits > 0 && timedMisses <= timedHits / 100 ? undefined : `withCache missed ${timedMisses} of ${timedHits + timedMisses} timed gets`;
      };
    },
  },
  {
    subject: HISTORY_SUBJECT,
    op: "kv.put",
    describe: "kv.put (as the stowage case) to a namespace whose change history a kv.watch turned on: each put also writes a change record, and the namespace's writers take turns (on PostgreSQL an advisory lock; concurrent puts grouped into one statement)",
    engines: ["memory", "sqlite", "postgres"],
    concurrencies: [1, 16],
    wrap: (store) => store,
    async buildWrapped(store, c) {
      const kv = store.kv(historyNs(c));
      // A watch turns the history on at its first read; aborted once it has seen a change.
      const stop = new AbortController();
      const feed = kv.watch(["on"], { signal: stop.signal })[Symbol.asyncIterator]();
      const first = feed.next();
      let seen = false;
      for (let i = 0; i < 1_000 && !seen; i++) {
        await kv.put("on", VALUE);
        seen = (await Promise.race([first, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 5))])) !== undefined;
      }
      stop.abort();
      if (!seen) throw new Error("bench sanity check failed: the KV history did not turn on");
      return { op: (i) => kv.put(`k${pad(i % 10_000, 6)}`, valueFor(i)) };
    },
    // The build checked that the history is on (the watch saw a put); nothing to fill.
    prepare: async () => () => undefined,
  },
];

/** The two rows of a wrapper case at one concurrency. */
export interface WrapperPair {
  unwrapped: Summary;
  wrapped: Summary;
  /** Why the wrapped side measured something else than it claims, if it did. */
  problem?: string;
}

/**
 * Runs the wrapper case's stowage case on `store` and on the wrapped store, in alternating rounds ({@link alternate}).
 */
export async function measurePair(wrapper: WrapperCase, store: Store, c: number, limits: RunLimits): Promise<WrapperPair> {
  const base: BenchCase | undefined = STOWAGE_CASES.find((bench) => bench.op === wrapper.op);
  if (base === undefined) throw new Error(`wrapper case ${wrapper.subject} names no stowage case ${wrapper.op}`);
  // The wrapped store is not closed: closing it would close `store` beneath it, and it holds nothing of its own.
  const wrapped = wrapper.wrap(store);
  const plainBody = await base.build(store, c);
  const wrappedBody = await (wrapper.buildWrapped ?? base.build)(wrapped, c);
  const check = await wrapper.prepare(wrapped, c);
  const pair = await alternate(plainBody, wrappedBody, limits);
  const problem = check();
  return { unwrapped: pair.first, wrapped: pair.second, ...(problem === undefined ? {} : { problem }) };
}
