/**
 * One worker process of the work-queue example: a `work()` worker on the queue `jobs` of the SQLite file it is given,
 * one job at a time. It prints a line when it starts a job and when it is done; SIGTERM stops it cleanly (the worker
 * drains, the store closes).
 *
 *   node dist/examples/work-queue/worker.js <sqlite file> <worker number>
 */
import { setTimeout as sleep } from "node:timers/promises";
import { openStore } from "../../src/index.js";
import { JOB_MS, jobQueue, QUEUE_KEY, VISIBILITY_MS } from "./queue.js";

const [path, name] = process.argv.slice(2);
if (path === undefined || name === undefined) {
  process.stderr.write("usage: node dist/examples/work-queue/worker.js <sqlite file> <worker number>\n");
  process.exit(2);
}
const say = (line: string) => process.stdout.write(`worker ${name}: ${line}\n`);

const store = await openStore({ backend: "sqlite", path, busyTimeoutMs: 10_000 });
const worker = jobQueue(store).work(
  QUEUE_KEY,
  async (job) => {
    say(`started job ${job.value.n} (attempt ${job.attempt})`);
    await sleep(JOB_MS); // the work itself
    say(`done job ${job.value.n} (attempt ${job.attempt})`);
  },
  // One job at a time; a lease lasts 1 s and is extended while the job runs, so only a dead worker loses its job.
  { concurrency: 1, visibilityMs: VISIBILITY_MS },
);
say(`ready (pid ${process.pid})`);

process.once("SIGTERM", () => {
  void worker.stop().then(async () => {
    await store.close();
    say("stopped");
  });
});
