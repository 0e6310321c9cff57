/**
 * The Prometheus side of {@link withMetrics}: prom-client metrics whose values are read from the recorder when the
 * registry is scraped (prom-client's `collect` hook), so that a store call never touches prom-client.
 */
import { createRequire } from "node:module";
import type { Registry, RegistryContentType } from "prom-client";
import { StowageError } from "../api/errors.js";
import type { Series, WindowStats } from "./metrics-series.js";

type PromClient = typeof import("prom-client");

let loaded: PromClient | undefined;

/**
 * prom-client, loaded at the first {@link withMetrics} call rather than when stowage is imported: it takes ~30 ms to
 * load, which a program that never wraps a store in metrics should not pay.
 */
export function promClient(): PromClient {
  return (loaded ??= createRequire(import.meta.url)("prom-client") as PromClient);
}

/** What the exposition reads from the recorder at scrape time. */
export interface MetricsSource {
  /** Every series, in the order they are reported. */
  series(): readonly Series[];
  /** The latency figures of `series` over the window ending now. */
  window(series: Series): WindowStats;
  /** Distinct namespaces folded into the `_other` label. */
  foldedNamespaces(): number;
}

/** The quantiles exposed, as the `quantile` label spells them, with the window figure each one reads. */
const QUANTILES = [
  ["0.5", "p50Ms"],
  ["0.95", "p95Ms"],
  ["0.99", "p99Ms"],
] as const;

/** The metric names made for `prefix`, in registration order. */
export function metricNames(prefix: string): { calls: string; errors: string; duration: string; folded: string } {
  return {
    calls: `${prefix}operations_total`,
    errors: `${prefix}operation_errors_total`,
    duration: `${prefix}operation_duration_seconds`,
    folded: `${prefix}metrics_folded_namespaces`,
  };
}

/**
 * Registers the store's metrics in `registry`; the function returned unregisters them. INVALID_ARGUMENT when a metric
 * of the same name is registered already (another wrapped store on the same registry needs its own prefix).
 */
export function registerMetrics(registry: Registry<RegistryContentType>, prefix: string, source: MetricsSource): () => void {
  const client = promClient();
  const names = metricNames(prefix);
  for (const name of Object.values(names)) {
    if (registry.getSingleMetric(name) !== undefined) {
      throw new StowageError(
        "INVALID_ARGUMENT",
        `metric ${name} is registered already in this registry: give each store wrapped with withMetrics its own prefix or registry`,
      );
    }
  }
  const registers = [registry];
  new client.Counter({
    name: names.calls,
    help: "Store operations that reached the engine (those inside transactions included), by operation and namespace.",
    labelNames: ["op", "namespace"],
    registers,
    collect() {
      this.reset();
      for (const s of source.series()) this.inc({ op: s.op, namespace: s.namespace }, s.calls);
    },
  });
  new client.Counter({
    name: names.errors,
    help: "Store operations that failed, by operation, namespace and error code.",
    labelNames: ["op", "namespace", "code"],
    registers,
    collect() {
      this.reset();
      for (const s of source.series()) {
        for (const [code, count] of s.errors ?? []) this.inc({ op: s.op, namespace: s.namespace, code }, count);
      }
    },
  });
  new client.Gauge({
    name: names.duration,
    help: "Latency quantiles of store operations over the sliding window (nearest rank over the most recent samples), in seconds; operations inside transactions are timed as their transaction.",
    labelNames: ["op", "namespace", "quantile"],
    registers,
    collect() {
      this.reset();
      for (const s of source.series()) {
        const stats = source.window(s);
        if (stats.samples === 0) continue;
        for (const [quantile, field] of QUANTILES) this.set({ op: s.op, namespace: s.namespace, quantile }, (stats[field] as number) / 1000);
      }
    },
  });
  new client.Gauge({
    name: names.folded,
    help: "Namespaces whose operations are counted under namespace=\"_other\" because the number of tracked namespaces reached maxNamespaces.",
    registers,
    collect() {
      this.set(source.foldedNamespaces());
    },
  });
  return () => {
    for (const name of Object.values(names)) registry.removeSingleMetric(name);
  };
}
