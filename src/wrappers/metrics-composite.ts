/**
 * The Prometheus gauges of a store's composite providers (see the README's "Composite failover"), read from each
 * composite's status when the registry is scraped. Registered only for a store that has composite providers.
 */
import type { Registry, RegistryContentType } from "prom-client";
import type { CompositeStatus } from "../engines/composite/composite-engine.js";
import { promClient } from "./metrics-prometheus.js";

/** Each gauge: its name after the prefix, its help, and the figure it reads from a composite's status. */
const GAUGES: ReadonlyArray<[name: string, help: string, read: (status: CompositeStatus) => number]> = [
  ["composite_serving_backup", "1 while the composite provider serves from its backup (after a failover), 0 while from its primary.", (s) => (s.serving === "backup" ? 1 : 0)],
  ["composite_standby_stale", "1 while the side that does not serve needs a resync (stale or diverged).", (s) => (s.standby === "stale" ? 1 : 0)],
  ["composite_lag_batches", "Write batches committed on the primary and not yet on the backup.", (s) => s.lag.batches],
  ["composite_lag_items", "Write calls committed on the primary and not yet on the backup.", (s) => s.lag.items],
  ["composite_lag_age_seconds", "Age of the oldest batch not yet on the backup, in seconds (0: none).", (s) => s.lag.ageMs / 1000],
  ["composite_failovers", "Failovers to the backup since the store opened.", (s) => s.failovers],
  ["composite_failbacks", "Failbacks to the primary since the store opened.", (s) => s.failbacks],
];

/** Registers the gauges, labelled by provider; the function returned unregisters them. */
export function registerCompositeMetrics(registry: Registry<RegistryContentType>, prefix: string, statuses: () => ReadonlyMap<string, CompositeStatus>): () => void {
  const client = promClient();
  const names = GAUGES.map(([name]) => `${prefix}${name}`);
  GAUGES.forEach(([, help, read], i) => {
    new client.Gauge({
      name: names[i]!,
      help,
      labelNames: ["provider"],
      registers: [registry],
      collect() {
        this.reset();
        for (const [provider, status] of statuses()) this.set({ provider }, read(status));
      },
    });
  });
  return () => names.forEach((name) => registry.removeSingleMetric(name));
}
