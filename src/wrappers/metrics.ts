import { performance } from "node:perf_hooks";
import type { Registry, RegistryContentType } from "prom-client";
import { isStowageError, StowageError, type ErrorCode } from "../api/errors.js";
import type { Store } from "../api/types.js";
import type { Awaitable } from "../engines/engine.js";
import { checkOptionalInteger, checkOptions } from "../store/validate.js";
import { layerStore, type LayerHooks, type OpCall, type OpName, type UnitKind } from "./layer.js";
import { promClient, registerMetrics, type MetricsSource } from "./metrics-prometheus.js";
import { registerCompositeMetrics } from "./metrics-composite.js";
import { compositesOfStore } from "../engines/composite/control.js";
import type { CompositeStatus } from "../engines/composite/composite-engine.js";
import { Series, type WindowStats } from "./metrics-series.js";

/** Options of {@link withMetrics}. */
export interface MetricsOptions {
  /** The sliding window the latency percentiles cover, in ms (default 60,000). */
  windowMs?: number;
  /**
   * Most recent latencies kept per (operation, namespace) series (default 1,024): the percentiles are exact over the
   * samples inside the window, and over only the most recent `samplesPerSeries` of them when more calls fall in it.
   */
  samplesPerSeries?: number;
  /**
   * Most namespaces tracked by name (default 100); the operations of every further namespace are counted under the
   * namespace label `_other`, and `snapshot().foldedNamespaces` says how many were folded.
   */
  maxNamespaces?: number;
  /** The clock latencies are measured with, in ms (default `performance.now`); for tests. */
  now?: () => number;
  /** The prom-client registry the metrics are registered in (default a new one of their own). */
  registry?: Registry<RegistryContentType>;
  /** Start of every metric name (default `"stowage_"`). */
  prefix?: string;
}

/** Counts and latency percentiles of one operation in one namespace. */
export interface SeriesSnapshot {
  /** The public operation (`kv.get`, `queue.push`, …), or `transaction`. */
  op: string;
  /** The namespace, or `_tx` (transactions), `_store` (`store.sweep`, `store.info`), `_other` (folded namespaces). */
  namespace: string;
  /** Calls since the wrapper was made or reset, failed ones and those inside transactions included. */
  calls: number;
  /** Failed calls by error code (`ABORTED`: a transaction body threw an error of its own). */
  errors: Partial<Record<MetricsErrorCode, number>>;
  /** Latencies inside the window the percentiles are taken from (calls inside transactions are not timed alone). */
  samples: number;
  /** Latency percentiles over the window, in ms, by nearest rank; null when no sample is inside it. */
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

/** The error labels metrics use: stowage's codes, and `ABORTED` for a transaction whose body threw its own error. */
export type MetricsErrorCode = ErrorCode | "ABORTED";

/** What `store.metrics.snapshot()` returns: plain data, safe to serialise. */
export interface MetricsSnapshot {
  windowMs: number;
  maxNamespaces: number;
  /** Namespaces tracked by name now. */
  namespaces: number;
  /**
   * Distinct namespaces counted under `_other` because `maxNamespaces` were tracked already (0: none; counted up to
   * 10,000 names, where it stays).
   */
  foldedNamespaces: number;
  /** One entry per (operation, namespace) seen, ordered by namespace, then operation. */
  series: SeriesSnapshot[];
  /** A store with composite providers: each one's status (which side serves, lag, failovers), by provider. */
  composites?: Record<string, CompositeStatus>;
}

/** The control a store wrapped by {@link withMetrics} exposes as `store.metrics`. */
export interface StoreMetrics {
  /** Counts since the start (or the last reset) and latency percentiles over the window ending now. */
  snapshot(): MetricsSnapshot;
  /**
   * The registry's Prometheus text exposition (every metric registered in it, so also others' when the registry was
   * passed in): serve it with {@link StoreMetrics.contentType}.
   */
  prometheus(): Promise<string>;
  /** The Content-Type header of {@link StoreMetrics.prometheus}'s text. */
  readonly contentType: string;
  /** The prom-client registry the metrics are registered in. */
  readonly registry: Registry<RegistryContentType>;
  /** Forgets every count, sample and tracked namespace. */
  reset(): void;
}

/** Namespace labels of what has no namespace of its own; user namespaces start with a letter or digit, so never clash. */
export const METRICS_NAMESPACES = { transaction: "_tx", store: "_store", other: "_other" } as const;

/** The public name of each engine operation: what the caller called. */
const PUBLIC_OPS: Record<OpName, string> = {
  kvGet: "kv.get",
  // The cache reads entries with their deadline: still a get (seen when metrics sit beneath a cache).
  kvGetEntry: "kv.get",
  kvPut: "kv.put",
  kvDelete: "kv.delete",
  kvScan: "kv.list",
  kvCount: "kv.count",
  kvDeleteRange: "kv.deleteRange",
  kvSweepExpired: "store.sweep",
  // A watch turns its namespace's history on when it starts, then reads it on every change signal.
  kvHistoryStart: "kv.watch",
  kvHistoryRead: "kv.watch",
  kvHistoryTrim: "store.sweep",
  logAppend: "log.append",
  // `list` and `since` are one engine read; `tail` uses it, too.
  logRead: "log.read",
  logLastSeq: "log.lastSeq",
  logReadAll: "log.readAll",
  slotGet: "slot.get",
  slotUpsert: "slot.upsert",
  slotCas: "slot.cas",
  queuePush: "queue.push",
  queuePeek: "queue.peek",
  queueAck: "queue.ack",
  queueDropOldest: "queue.dropOldest",
  queueLen: "queue.len",
  streamProduce: "stream.produce",
  streamRead: "stream.readSegment",
  streamReadSpace: "stream.readSpace",
  streamPeek: "stream.peek",
  streamSpaces: "stream.spaces",
  streamSegments: "stream.segments",
  streamStatus: "stream.status",
  streamLastSeqs: "stream.lastSeqs",
  workPush: "work.push",
  workClaim: "work.claim",
  workExtend: "work.extend",
  workSettle: "work.settle",
  workPoll: "work.poll",
  workCounts: "work.counts",
  workKeys: "work.keys",
  workDead: "work.dead",
  workRequeue: "work.requeue",
  workPurge: "work.purgeDead",
  workDump: "store.export",
  workLastId: "store.export",
  workRestore: "store.import",
  // Dumps and restores: export, import, migrate and backups, which reach the engine beneath wrappers only as restores.
  kvDump: "store.export",
  slotDump: "store.export",
  queueDump: "store.export",
  queueLastId: "store.export",
  kvRestore: "store.import",
  logRestore: "store.import",
  slotRestore: "store.import",
  queueRestore: "store.import",
  streamRestore: "store.import",
  describe: "store.info",
};
const TRANSACTION_OP = "transaction";
/** Every operation label, transaction last; a series is found by its index here. */
const OP_LABELS: readonly string[] = [...new Set(Object.values(PUBLIC_OPS)), TRANSACTION_OP];
const OP_INDEX = Object.fromEntries(Object.entries(PUBLIC_OPS).map(([op, label]) => [op, OP_LABELS.indexOf(label)])) as Record<OpName, number>;
const TRANSACTION_INDEX = OP_LABELS.length - 1;

const DEFAULTS = { windowMs: 60_000, samplesPerSeries: 1_024, maxNamespaces: 100, prefix: "stowage_" };
const OPTION_FIELDS = ["windowMs", "samplesPerSeries", "maxNamespaces", "now", "registry", "prefix"];
/** Most distinct folded namespaces remembered to count them: the count must not be the unbounded memory it prevents. */
const MAX_FOLDED_COUNTED = 10_000;

/** The series of one namespace label, by operation index. */
interface NamespaceSeries {
  label: string;
  series: Array<Series | undefined>;
}

/** One engine unit (a store call or a transaction) in progress. */
interface UnitState {
  unit: UnitKind;
  start: number;
  /** Where a read or write unit is recorded: its first operation's series, known at its first operation. */
  series: Series | undefined;
}

interface Settings {
  windowMs: number;
  samplesPerSeries: number;
  maxNamespaces: number;
  now: () => number;
  prefix: string;
}

/**
 * What metrics label an error with. Anything but a StowageError is the body's own error when a whole transaction
 * failed with it (the transaction rolled back), and otherwise a failure the engine did not classify.
 */
function codeOf(error: unknown, wholeTransaction: boolean): MetricsErrorCode {
  if (isStowageError(error)) return error.code;
  return wholeTransaction ? "ABORTED" : "INTERNAL";
}

/** Records every engine unit of the wrapped store. */
class MetricsRecorder implements LayerHooks<UnitState>, MetricsSource {
  private readonly named = new Map<string, NamespaceSeries>();
  private readonly folded = new Set<string>();
  private all: Series[] = [];
  private sorted = true;
  private readonly transactions: NamespaceSeries = this.group(METRICS_NAMESPACES.transaction);
  private readonly storeWide: NamespaceSeries = this.group(METRICS_NAMESPACES.store);
  private readonly other: NamespaceSeries = this.group(METRICS_NAMESPACES.other);
  /** Room to sort one series' window in, shared (snapshots run one at a time), grown to the largest ring. */
  private scratch = new Float64Array(0);
  /** Takes the metrics out of the registry when the store closes: a store opened later may register the same names. */
  unregister: (() => void) | undefined;

  constructor(readonly settings: Settings) {}

  begin(unit: UnitKind): UnitState {
    return { unit, start: this.settings.now(), series: undefined };
  }

  op<T>(call: OpCall, run: () => Awaitable<T>, state: UnitState): Awaitable<T> {
    if (state.unit !== "transaction") {
      state.series ??= this.seriesOf(OP_INDEX[call.op], call.namespace);
      return run();
    }
    // Inside a transaction an operation is counted, not timed: its latency is the transaction's.
    const series = this.seriesOf(OP_INDEX[call.op], call.namespace);
    series.calls += 1;
    let answer: Awaitable<T>;
    try {
      answer = run();
    } catch (error) {
      series.countError(codeOf(error, false));
      throw error;
    }
    // The caller gets `answer` itself and sees its failure; this branch only counts it.
    if (answer instanceof Promise) answer.then(undefined, (error: unknown) => series.countError(codeOf(error, false)));
    return answer;
  }

  end(state: UnitState, error: unknown, call: OpCall | undefined): void {
    let series = state.unit === "transaction" ? this.seriesIn(this.transactions, TRANSACTION_INDEX) : state.series;
    if (series === undefined && error !== undefined) {
      // Refused before any operation ran (a rate or size limit's gate): counted under the call it refused.
      if (call !== undefined) series = this.seriesOf(OP_INDEX[call.op], call.namespace);
    }
    // A unit that made no engine call (`queue.dropOldest(key, 0)`) has nothing to time.
    if (series === undefined) return;
    const at = this.settings.now();
    series.calls += 1;
    if (error !== undefined) series.countError(codeOf(error, state.unit === "transaction"));
    series.record(Math.max(0, at - state.start), at);
  }

  series(): readonly Series[] {
    if (!this.sorted) {
      this.all.sort((a, b) => (a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : a.op < b.op ? -1 : a.op > b.op ? 1 : 0));
      this.sorted = true;
    }
    return this.all;
  }

  window(series: Series): WindowStats {
    return this.windowOf(series, this.settings.now() - this.settings.windowMs);
  }

  foldedNamespaces(): number {
    return this.folded.size;
  }

  snapshot(): MetricsSnapshot {
    const cutoff = this.settings.now() - this.settings.windowMs;
    return {
      windowMs: this.settings.windowMs,
      maxNamespaces: this.settings.maxNamespaces,
      namespaces: this.named.size,
      foldedNamespaces: this.folded.size,
      series: this.series().map((s) => ({
        op: s.op,
        namespace: s.namespace,
        calls: s.calls,
        errors: Object.fromEntries(s.errors ?? []),
        ...this.windowOf(s, cutoff),
      })),
    };
  }

  /** A call in flight across a reset is recorded in a series that is no longer reported: reset forgets it. */
  reset(): void {
    this.named.clear();
    this.folded.clear();
    for (const group of [this.transactions, this.storeWide, this.other]) group.series.fill(undefined);
    this.all = [];
  }

  close(): void {
    this.unregister?.();
  }

  private windowOf(series: Series, cutoff: number): WindowStats {
    if (this.scratch.length < series.size) this.scratch = new Float64Array(series.size);
    return series.window(cutoff, this.scratch);
  }

  private seriesOf(index: number, namespace: string | undefined): Series {
    return this.seriesIn(namespace === undefined ? this.storeWide : this.namespaceOf(namespace), index);
  }

  private seriesIn(group: NamespaceSeries, index: number): Series {
    const known = group.series[index];
    if (known !== undefined) return known;
    const made = new Series(OP_LABELS[index] as string, group.label, this.settings.samplesPerSeries);
    group.series[index] = made;
    this.all.push(made);
    this.sorted = false;
    return made;
  }

  private namespaceOf(namespace: string): NamespaceSeries {
    const known = this.named.get(namespace);
    if (known !== undefined) return known;
    if (this.named.size < this.settings.maxNamespaces) {
      const made = this.group(namespace);
      this.named.set(namespace, made);
      return made;
    }
    if (this.folded.size < MAX_FOLDED_COUNTED) this.folded.add(namespace);
    return this.other;
  }

  private group(label: string): NamespaceSeries {
    return { label, series: new Array<Series | undefined>(OP_LABELS.length).fill(undefined) };
  }
}

function settingsOf(options: MetricsOptions): Settings & { registry: Registry<RegistryContentType> | undefined } {
  checkOptions(undefined, "metrics options", options, OPTION_FIELDS);
  if (options.now !== undefined && typeof options.now !== "function") throw new StowageError("INVALID_ARGUMENT", "metrics option now must be a function returning ms");
  const prefix = options.prefix ?? DEFAULTS.prefix;
  if (typeof prefix !== "string" || !/^([a-zA-Z_:][a-zA-Z0-9_:]*)?$/.test(prefix)) {
    throw new StowageError("INVALID_ARGUMENT", `metrics option prefix must be a Prometheus metric name start ([a-zA-Z_:][a-zA-Z0-9_:]*), got ${JSON.stringify(prefix)}`);
  }
  const registry = options.registry;
  if (registry !== undefined && (typeof registry !== "object" || registry === null || typeof (registry as Partial<Registry>).registerMetric !== "function")) {
    throw new StowageError("INVALID_ARGUMENT", "metrics option registry must be a prom-client Registry");
  }
  return {
    windowMs: checkOptionalInteger(undefined, "metrics option windowMs", options.windowMs, DEFAULTS.windowMs, 1, 7 * 24 * 3_600_000),
    samplesPerSeries: checkOptionalInteger(undefined, "metrics option samplesPerSeries", options.samplesPerSeries, DEFAULTS.samplesPerSeries, 1, 1_000_000),
    maxNamespaces: checkOptionalInteger(undefined, "metrics option maxNamespaces", options.maxNamespaces, DEFAULTS.maxNamespaces, 1, 100_000),
    now: options.now ?? (() => performance.now()),
    prefix,
    registry,
  };
}

/**
 * Counts and times every call of the returned store, per operation and namespace: calls and errors by code since
 * the start, and p50 / p95 / p99 latencies over a sliding window, as a plain {@link MetricsSnapshot} and as
 * Prometheus text through prom-client. A call is timed from when it reaches the engine until it settles — for a
 * write, until it committed; a transaction is timed as one `transaction` call (namespace `_tx`), and the operations
 * inside it are counted, not timed. Calls rejected by validation never reach the engine and are not counted.
 *
 * Memory is bounded: at most `maxNamespaces` namespaces are tracked by name (the rest are counted as `_other`), and
 * each (operation, namespace) series keeps at most `samplesPerSeries` latencies (16 bytes each), growing to that
 * only when used. Recording a call writes a few numbers; percentiles are computed only by `snapshot()` and scrapes.
 *
 * Put it outermost to measure what callers see: `withMetrics(withCache(store))` times cache hits, while beneath a
 * cache it sees only the misses. Wrapped twice, the outer `store.metrics` is exposed (keep the inner store to read
 * the inner one); two wrapped stores sharing a registry need different prefixes.
 *
 * @example
 * ```ts
 * const store = withMetrics(await openStore());
 * await store.kv("checkpoints").put("orders", bytes);
 * store.metrics.snapshot().series; // [{ op: "kv.put", namespace: "checkpoints", calls: 1, errors: {}, p50Ms: 0.2, … }]
 * http.createServer(async (_req, res) => {
 *   res.setHeader("Content-Type", store.metrics.contentType);
 *   res.end(await store.metrics.prometheus());
 * });
 * ```
 */
export function withMetrics<S extends Store>(store: S, options: MetricsOptions = {}): S & { metrics: StoreMetrics } {
  const { registry: given, ...settings } = settingsOf(options);
  const recorder = new MetricsRecorder(settings);
  const registry: Registry<RegistryContentType> = given ?? new (promClient().Registry)();
  const composites = compositesOfStore(store);
  const statuses = () => new Map([...(composites ?? [])].map(([name, composite]) => [name, composite.status()]));
  const unregisterOwn = registerMetrics(registry, settings.prefix, recorder);
  const unregisterComposites = composites === undefined ? () => undefined : registerCompositeMetrics(registry, settings.prefix, statuses);
  const unregister = () => {
    unregisterOwn();
    unregisterComposites();
  };
  const metrics: StoreMetrics = {
    snapshot: () => (composites === undefined ? recorder.snapshot() : { ...recorder.snapshot(), composites: Object.fromEntries(statuses()) }),
    prometheus: () => registry.metrics(),
    get contentType() {
      return registry.contentType;
    },
    registry,
    reset: () => recorder.reset(),
  };
  try {
    const wrapped = layerStore(store, recorder, { metrics });
    recorder.unregister = unregister;
    return wrapped;
  } catch (error) {
    unregister();
    throw error;
  }
}
