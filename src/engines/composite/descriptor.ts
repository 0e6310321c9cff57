import { LIMITS } from "../../api/limits.js";
import { StowageError } from "../../api/errors.js";
import type { EngineDescriptor } from "../descriptor.js";
import { choiceField, durationField, textField, wholeNumberField } from "../engine-fields.js";
import { MemoryEngine } from "../memory/memory-engine.js";
import { checkProviderName } from "../routed/routes.js";
import type { CompositeSettings } from "./composite-state.js";

/** A composite provider's options: the two providers it combines, and how it mirrors and fails over. */
export interface CompositeEngineOptions extends CompositeSettings {
  primary: string;
  /** The backup provider (named `standby`: `backup` is the store option of scheduled backups). */
  standby: string;
}

/** The defaults of a composite's settings. */
export const COMPOSITE_DEFAULTS: CompositeSettings = {
  mode: "sync",
  replicateIntervalMs: 1_000,
  probeIntervalMs: 1_000,
  failAfter: 3,
  failback: "manual",
  maxPendingBatches: 10_000,
};

const providerField = (option: "primary" | "standby", doc: string) =>
  textField({
    option,
    doc,
    placeholder: "<provider>",
    required: `a ${option} provider`,
    accepts: "a provider name",
    check: (name) => {
      if (typeof name !== "string") throw new StowageError("INVALID_ARGUMENT", `${option} must name a provider, got ${JSON.stringify(name)}`);
      checkProviderName(name);
    },
  });

/**
 * A composite provider: a primary and a backup, each another provider of the same store, mirrored in sync or async
 * mode, with failover (see the README's "Composite failover"). It combines providers, so it opens only as a provider
 * of a store over providers; `openStore` opens it from the other providers (see `openRoutedStore`).
 */
export const COMPOSITE_ENGINE: EngineDescriptor<CompositeEngineOptions> = {
  name: "composite",
  summary: "Two other providers, a primary mirrored to a backup, with failover (as a provider only)",
  // What it supports is what both of its providers support; declared here as the memory engine's, its widest.
  supports: MemoryEngine.supports,
  combinesProviders: true,
  fields: [
    providerField("primary", "the provider that serves (a composite provider only)"),
    providerField("standby", "the backup: the provider that mirrors the primary and serves after a failover (a composite provider only)"),
    choiceField({ option: "mode", doc: "sync: a write resolves once both sides committed it; async: once the primary did", choices: ["sync", "async"], default: COMPOSITE_DEFAULTS.mode }),
    durationField({ option: "replicateIntervalMs", doc: "async mode: ms between applications of queued writes to the backup", default: COMPOSITE_DEFAULTS.replicateIntervalMs, min: 1, max: LIMITS.maxTimerMs }),
    durationField({ option: "probeIntervalMs", doc: "ms between health probes of the primary", default: COMPOSITE_DEFAULTS.probeIntervalMs, min: 10, max: LIMITS.maxTimerMs }),
    wholeNumberField({ option: "failAfter", doc: "failed probes in a row that make the composite fail over to the backup", default: COMPOSITE_DEFAULTS.failAfter, min: 1, max: 1_000 }),
    choiceField({ option: "failback", doc: "manual: fail back when told; auto: once the primary answers again", choices: ["manual", "auto"], default: COMPOSITE_DEFAULTS.failback }),
    wholeNumberField({ option: "maxPendingBatches", doc: "most write batches held in memory for the backup (async lag) or for a failback", default: COMPOSITE_DEFAULTS.maxPendingBatches, min: 1, max: 1_000_000 }),
  ],
  open: () =>
    Promise.reject(
      new StowageError("INVALID_ARGUMENT", "the composite backend combines two providers: configure it as a provider of a store over providers (providers: { main, spare, ha: { backend: composite, primary: main, standby: spare } })"),
    ),
};
