/**
 * The child of bench/work-wakeup.ts: opens the store described by the JSON in argv[2], idles a worker (concurrency 1)
 * on the wake-up queue, and prints one JSON line per handler start, `{"id", "t"}` with t = performance.timeOrigin +
 * performance.now() (the host clock the parent also reads). Prints `{"ready":true}` once the worker runs; stops the
 * worker and closes the store when its stdin ends.
 */
import { performance } from "node:perf_hooks";
import { openStore, type OpenStoreOptions } from "../src/index.js";
import { WAKEUP_KEY, WAKEUP_NS } from "./work-wakeup-shared.js";

async function main(): Promise<void> {
  const descriptor = JSON.parse(process.argv[2] ?? "null") as OpenStoreOptions;
  const store = await openStore(descriptor);
  const worker = store.workQueue(WAKEUP_NS).work(
    WAKEUP_KEY,
    async (item) => {
      const t = performance.timeOrigin + performance.now();
      process.stdout.write(`${JSON.stringify({ id: item.id, t })}\n`);
    },
    { concurrency: 1 },
  );
  process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
  process.stdin.on("end", () => {
    void worker
      .stop()
      .then(() => store.close())
      .then(() => process.exit(0));
  });
  process.stdin.resume();
}

main().catch((error: unknown) => {
  process.stderr.write(`work-wakeup-worker: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
