/**
 * `npm run work-example` — two worker processes share one work queue on one SQLite file; the one that starts job 7 is
 * killed with SIGKILL in the middle of it, and the other finishes job 7 (its attempt 2) once the dead worker's lease
 * has run out. Nothing is lost: every job is done by a worker that lived to finish it.
 *
 *   node dist/examples/work-queue/main.js [--jobs N] [--kill-at N]
 *
 * Exit status: 0 when every job was done as described, 1 otherwise, 2 on a bad flag.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { openStore } from "../../src/index.js";
import { jobQueue, QUEUE_KEY, VISIBILITY_MS } from "./queue.js";

/** The longest the example may take: it ends by itself well before. */
const RUN_LIMIT_MS = 60_000;

const { values } = parseArgs({ options: { jobs: { type: "string", default: "20" }, "kill-at": { type: "string", default: "7" } }, strict: true });
const jobs = Number(values.jobs);
const killAt = Number(values["kill-at"]);
if (!Number.isInteger(jobs) || jobs < 1 || jobs > 10_000 || !Number.isInteger(killAt) || killAt < 1 || killAt > jobs) {
  process.stderr.write("usage: node dist/examples/work-queue/main.js [--jobs N (1..10000, default 20)] [--kill-at N (1..jobs, default 7)]\n");
  process.exit(2);
}

/** A worker process, and what main saw of it. */
interface WorkerProcess {
  name: string;
  child: ChildProcess;
  exited: Promise<void>;
  killedAt: number | null;
}

const dir = mkdtempSync(join(tmpdir(), "stowage-work-queue-"));
const path = join(dir, "work.db");
const store = await openStore({ backend: "sqlite", path });
const queue = jobQueue(store);
const workers: WorkerProcess[] = [];
/** Job number → who finished it, on which attempt, when. */
const done = new Map<number, { worker: string; attempt: number; at: number }>();
let ok = false;
try {
  await queue.pushMany(QUEUE_KEY, Array.from({ length: jobs }, (_, i) => ({ value: { n: i + 1 } })));
  console.log(`main: pushed ${jobs} jobs into ${path}`);

  for (const name of ["1", "2"]) workers.push(startWorker(name));
  const deadline = Date.now() + RUN_LIMIT_MS;
  while (Date.now() < deadline) {
    const { ready, delayed, leased } = await queue.counts(QUEUE_KEY);
    if (ready + delayed + leased === 0) break;
    await sleep(50);
  }
  for (const w of workers) if (w.killedAt === null) w.child.kill("SIGTERM");
  await Promise.all(workers.map((w) => w.exited));
  ok = summarize();
} finally {
  for (const w of workers) w.child.kill("SIGKILL"); // only those still running: a no-op for the others
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(ok ? 0 : 1);

/** Starts worker `name`, echoes its lines, and SIGKILLs it the moment it says it started job `killAt`. */
function startWorker(name: string): WorkerProcess {
  const child = spawn(process.execPath, [fileURLToPath(new URL("./worker.js", import.meta.url)), path, name], { stdio: ["ignore", "pipe", "inherit"] });
  const w: WorkerProcess = { name, child, exited: new Promise((resolve) => child.once("close", () => resolve())), killedAt: null };
  createInterface({ input: child.stdout! }).on("line", (line) => {
    console.log(line);
    const started = /^worker \d+: started job (\d+) \(attempt 1\)$/.exec(line);
    if (started !== null && Number(started[1]) === killAt && workers.every((other) => other.killedAt === null)) {
      child.kill("SIGKILL");
      w.killedAt = Date.now();
      console.log(`main: SIGKILL worker ${name} (pid ${child.pid}) in the middle of job ${killAt}`);
    }
    const finished = /^worker \d+: done job (\d+) \(attempt (\d+)\)$/.exec(line);
    if (finished !== null) done.set(Number(finished[1]), { worker: name, attempt: Number(finished[2]), at: Date.now() });
  });
  return w;
}

/** Prints what happened and whether it is what the example promises. */
function summarize(): boolean {
  const killed = workers.find((w) => w.killedAt !== null);
  const missing = Array.from({ length: jobs }, (_, i) => i + 1).filter((n) => !done.has(n));
  const byWorker = workers.map((w) => `worker ${w.name} ${[...done.values()].filter((d) => d.worker === w.name).length}`);
  console.log(`main: ${done.size} of ${jobs} jobs done (${byWorker.join(", ")})${missing.length > 0 ? `; never done: ${missing.join(", ")}` : ""}`);
  const victim = done.get(killAt);
  if (killed === undefined || victim === undefined) {
    console.log(killed === undefined ? `main: no worker started job ${killAt}, so none was killed` : `main: job ${killAt} was never done`);
    return false;
  }
  const waited = victim.at - killed.killedAt!;
  console.log(`main: job ${killAt} was done by worker ${victim.worker} on attempt ${victim.attempt}, ${waited} ms after worker ${killed.name} was killed (lease ${VISIBILITY_MS} ms)`);
  return missing.length === 0 && victim.worker !== killed.name && victim.attempt === 2;
}
