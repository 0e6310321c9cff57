/**
 * The conformance suite: the semantics every stowage engine must keep, registered with the test functions of your
 * runner (node:test, vitest, mocha). Built-in engines run it unchanged, and so can a third-party engine:
 *
 * @example
 * ```ts
 * // node --test: node:test's functions are the default
 * import { runConformance } from "stowage/conformance";
 * runConformance("my-engine", async (options) => createStore(new MyEngine(), options), { supports: MyEngine.supports });
 *
 * // vitest (mocha: its global describe and it)
 * import { describe, it } from "vitest";
 * runConformance("my-engine", open, { describe, it, supports: MyEngine.supports });
 * ```
 * @packageDocumentation
 */
import { createRequire } from "node:module";
import assert from "node:assert/strict";
import type { Store } from "../api/types.js";
import { SUPPORTS_EVERYTHING } from "../engines/api-limits.js";
import type { EngineCapability, EngineSupports } from "../engines/engine.js";
import type { StoreOptions } from "../store/store.js";
import { ManualClock, type Case, type CaseGroup, type StoreFactory } from "./harness.js";
import { coordinationCases } from "./coordination-cases.js";
import { dumpCases } from "./dump-cases.js";
import { feedCases } from "./feed-cases.js";
import { kvCases } from "./kv-cases.js";
import { lifecycleCases } from "./lifecycle-cases.js";
import { logCases } from "./log-cases.js";
import { queueCases } from "./queue-cases.js";
import { slotCases } from "./slot-cases.js";
import { streamCases } from "./stream-cases.js";
import { transactionCases } from "./transaction-cases.js";
import { ttlCases } from "./ttl-cases.js";
import { workCases } from "./work-cases.js";
import { workWorkerCases } from "./work-worker-cases.js";

/** The contract suite of an ordered key space (`OrderedStore`), for engines of the ordered-KV family. */
export { runOrderedStoreCases } from "../engines/ordered/ordered-store-cases.js";
export { ManualClock, needing, rejectsWith, type StoreFactory, type CaseContext, type Case, type CaseGroup } from "./harness.js";

/** Every group of the suite, by name, for engines that want to run a part. */
export const conformanceGroups: Record<string, CaseGroup> = {
  kv: kvCases,
  ttl: ttlCases,
  log: logCases,
  slot: slotCases,
  queue: queueCases,
  streams: streamCases,
  feeds: feedCases,
  transactions: transactionCases,
  lifecycle: lifecycleCases,
  dumps: dumpCases,
  work: workCases,
  worker: workWorkerCases,
  coordination: coordinationCases,
};

/** Capabilities every case of a group needs (a case may need more: its `needs`). */
export const groupNeeds: Readonly<Record<string, readonly EngineCapability[]>> = { feeds: ["liveFeeds"], work: ["workQueues"], worker: ["workQueues"] };

/** The manifest of an engine that supports everything, with stowage's own limits: the default. */
export const FULL_SUPPORT: EngineSupports = SUPPORTS_EVERYTHING;

/**
 * The test functions the suite registers with: node:test's, vitest's and mocha's `describe` and `it` all fit.
 * `it.skip` registers a case the engine cannot run, with the reason in its name.
 */
export interface TestFunctions {
  describe(name: string, body: () => void): unknown;
  it: {
    (name: string, body: () => Promise<void>): unknown;
    skip(name: string, body: () => void): unknown;
  };
}

/** The third argument of {@link runConformance}. */
export interface ConformanceOptions extends Partial<TestFunctions> {
  /**
   * The engine's manifest (`engine.supports`): the cases that need a capability it lacks are registered skipped, and
   * the size-limit cases use its limits. Default: {@link FULL_SUPPORT}, checked against what the store reports
   * (`crossProcess` aside: no case needs it); a declared manifest must be exactly the one the store reports.
   */
  supports?: EngineSupports;
}

/** One case as registered: its name, and the capabilities it needs that the engine lacks (empty: it runs). */
export interface PlannedCase {
  group: string;
  name: string;
  run: Case;
  missing: EngineCapability[];
}

/** The suite's cases for an engine with `supports`, each with the capabilities it needs and the engine lacks. */
export function planConformance(supports: EngineSupports): PlannedCase[] {
  const planned: PlannedCase[] = [];
  for (const [group, cases] of Object.entries(conformanceGroups)) {
    for (const [name, run] of Object.entries(cases)) {
      const needs = new Set([...(groupNeeds[group] ?? []), ...(run.needs ?? [])]);
      planned.push({ group, name, run, missing: [...needs].filter((capability) => !supports[capability]) });
    }
  }
  return planned;
}

/** What is skipped, by group, in words: "feeds (every case: no liveFeeds)", "transactions (3 of 15 cases: no crossNamespaceTransactions)". */
export function describeSkips(planned: readonly PlannedCase[]): string[] {
  const groups = [...new Set(planned.map((c) => c.group))];
  return groups.flatMap((group) => {
    const cases = planned.filter((c) => c.group === group);
    const skipped = cases.filter((c) => c.missing.length > 0);
    if (skipped.length === 0) return [];
    const missing = [...new Set(skipped.flatMap((c) => c.missing))].join(", ");
    const extent = skipped.length === cases.length ? "every case" : `${skipped.length} of ${cases.length} cases`;
    return [`${group} (${extent}: no ${missing})`];
  });
}

/** node:test's functions, loaded only when no others are given, so the suite never loads node:test under vitest or mocha. */
function nodeTestFunctions(): TestFunctions {
  const nodeTest = createRequire(import.meta.url)("node:test") as TestFunctions;
  return { describe: nodeTest.describe, it: nodeTest.it };
}

/**
 * Registers the whole suite for one engine with `describe` and `it` (default: node:test's). `open` must return a
 * fresh, empty store that uses the options it is given (the clock above all); every store a case opens is closed
 * after it. Cases needing a capability the manifest (`options.supports`) declares unsupported are registered
 * skipped, their names saying why; the first case names the skipped groups (or says that every group runs) and
 * checks that the store reports the manifest.
 */
export function runConformance(engineName: string, open: StoreFactory, options: ConformanceOptions = {}): void {
  const { describe, it } = options.describe !== undefined && options.it !== undefined ? (options as TestFunctions) : nodeTestFunctions();
  const supports = options.supports ?? FULL_SUPPORT;
  const planned = planConformance(supports);
  const skips = describeSkips(planned);
  const runCase = (run: Case) => async () => {
    const clock = new ManualClock();
    const opened: Store[] = [];
    const openTracked = async (storeOptions: StoreOptions = {}): Promise<Store> => {
      const store = await open({ clock: clock.now, sweepIntervalMs: 0, ...storeOptions });
      opened.push(store);
      return store;
    };
    try {
      const store = await openTracked();
      await run({ store, clock, open: openTracked, supports });
    } finally {
      await Promise.allSettled(opened.map((store) => store.close()));
    }
  };
  describe(`stowage conformance: ${engineName}`, () => {
    const summary = skips.length === 0 ? "every group runs" : `skipped: ${skips.join("; ")}`;
    it(`manifest: the store reports the declared one; ${summary}`, runCase(async ({ store }) => {
      const reported = (await store.info()).supports;
      if (options.supports !== undefined) return assert.deepEqual(reported, supports);
      // Not declared: the store must run every case with stowage's limits (the suite never uses crossProcess).
      assert.deepEqual({ ...reported, crossProcess: true }, FULL_SUPPORT, "the engine's manifest lacks something the suite tests: pass { supports: engine.supports } to skip what it cannot run");
    }));
    for (const group of Object.keys(conformanceGroups)) {
      const cases = planned.filter((c) => c.group === group);
      const whole = cases.every((c) => c.missing.length > 0);
      describe(whole ? `${group} (skipped: the engine has no ${[...new Set(cases.flatMap((c) => c.missing))].join(", ")})` : group, () => {
        for (const { name, run, missing } of cases) {
          if (missing.length === 0) it(name, runCase(run));
          else it.skip(`${name} (skipped: the engine has no ${missing.join(", ")})`, () => undefined);
        }
      });
    }
  });
}
