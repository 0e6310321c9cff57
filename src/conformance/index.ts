/**
 * The conformance suite: the semantics every stowage engine must keep, as `node:test` cases. Built-in engines run it
 * unchanged, and so can a third-party engine:
 *
 * @example
 * ```ts
 * // my-engine.test.ts, run with `node --test`
 * import { runConformance } from "stowage/conformance";
 * import { createStore } from "stowage";
 * runConformance("my-engine", async (options) => createStore(new MyEngine(), options));
 * ```
 * @packageDocumentation
 */
import { describe, it } from "node:test";
import type { Store } from "../api/types.js";
import type { StoreOptions } from "../store/store.js";
import { ManualClock, type CaseGroup, type StoreFactory } from "./harness.js";
import { feedCases } from "./feed-cases.js";
import { kvCases } from "./kv-cases.js";
import { lifecycleCases } from "./lifecycle-cases.js";
import { logCases } from "./log-cases.js";
import { queueCases } from "./queue-cases.js";
import { slotCases } from "./slot-cases.js";
import { streamCases } from "./stream-cases.js";
import { transactionCases } from "./transaction-cases.js";
import { ttlCases } from "./ttl-cases.js";

export { ManualClock, rejectsWith, type StoreFactory, type CaseContext, type Case, type CaseGroup } from "./harness.js";

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
};

/**
 * Registers the whole suite with `node:test` for one engine. `open` must return a fresh, empty store that uses the
 * options it is given (the clock above all); every store a case opens is closed after it.
 */
export function runConformance(engineName: string, open: StoreFactory): void {
  describe(`stowage conformance: ${engineName}`, () => {
    for (const [group, cases] of Object.entries(conformanceGroups)) {
      describe(group, () => {
        for (const [name, run] of Object.entries(cases)) {
          it(name, async () => {
            const clock = new ManualClock();
            const opened: Store[] = [];
            const openTracked = async (options: StoreOptions = {}): Promise<Store> => {
              const store = await open({ clock: clock.now, sweepIntervalMs: 0, ...options });
              opened.push(store);
              return store;
            };
            try {
              const store = await openTracked();
              await run({ store, clock, open: openTracked });
            } finally {
              await Promise.allSettled(opened.map((store) => store.close()));
            }
          });
        }
      });
    }
  });
}
