/**
 * The SIGKILL battery of work queues (issue 21, design §6): 4 worker processes (test/fixtures/work-worker.ts) share
 * one queue of jobs; every 200–800 ms (seeded; counted from when the last replacement began to work) one of them is
 * SIGKILLed and a replacement started, until the queue holds only dead letters. The merged record of every worker's claims, heartbeats, handler runs and settles must then
 * prove (test/helpers/lease-history.ts) that no job had two live leases at once, none was lost, every job completed or
 * is dead, and the dead letters are exactly the jobs that failed past their limit (or whose last holder was killed);
 * `store.check()` must be clean.
 *
 * `npm test` runs 1,000 jobs on SQLite and PostgreSQL; `npm run soak` (WORK_BATTERY_JOBS=10000) runs 10⁴ on every
 * engine that serves several processes (`supports.crossProcess`): SQLite, PostgreSQL, LMDB, etcd and Redis, and 10³ on
 * Azure Table (see SLOW_ENGINES). One engine alone: `--test-name-pattern=^etcd:`.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { openStore, type OpenStoreOptions } from "../src/index.js";
import { killAll, sleep, startChild, tempDir, type Child } from "./helpers/child.js";
import { checkLeaseHistory, describeViolations, historyStats, parseLeaseEvents, type ExpectedJob, type FinalState, type LeaseEvent } from "./helpers/lease-history.js";
import { NETWORKED_ENGINES, useNetworkedServers, type NetworkedEngine } from "./helpers/networked-stores.js";
import { usePostgresServer } from "./helpers/postgres-server.js";
import { seeded } from "./helpers/register-workload.js";
import { BATTERY_KEY, batteryJob, batteryQueue, failsAlways, jobError, MAX_ATTEMPTS, WORKER_SETTINGS } from "./helpers/work-battery.js";

/** Jobs per run: 1,000 in `npm test`, the soak's 10⁴ when WORK_BATTERY_JOBS says so. */
const JOBS = Number(process.env.WORK_BATTERY_JOBS ?? 1_000);
const SOAK = process.env.WORK_BATTERY_JOBS !== undefined;
const WORKERS = 4;
/** Most pushes per call (fewer where the engine's commit holds fewer writes: etcd, Azure Table). */
const PUSH_CHUNK = 50;
/**
 * The networked engines that work a job slowly get more time per job, and their `counts` (which reads every item's
 * state: 10⁴ records) is polled less often, so that the poll does not take the server's time from the workers (rates
 * measured on a busy 2-core host, see docs/reliability.md): etcd, ~10–20 jobs/s, every claim and settle a transaction
 * of three round trips; Azure Table on azurite, ~2 jobs/s, whose every commit is an optimistic read-check-write on one
 * version entity that all processes' commits contend for, and which scans its table for range queries. Azure Table
 * runs a share of the soak's jobs: 10⁴ would take it hours (WORK_BATTERY_AZURE_SHARE=1 runs them all, alone:
 * `--test-name-pattern=^azure-table:`).
 */
const SLOW_ENGINES: Partial<Record<NetworkedEngine, { msPerJob: number; countsEveryMs: number; share?: number }>> = {
  etcd: { msPerJob: 250, countsEveryMs: 1_000 },
  "azure-table": { msPerJob: 1_000, countsEveryMs: 5_000, share: Number(process.env.WORK_BATTERY_AZURE_SHARE ?? 0.1) },
};
/** A run's bound per job, in ms: a run ends by itself when its queue is done, and fails if it is not done in time. */
const MS_PER_JOB = 20;
/** How often the parent steps (kills, replacements) and, unless an engine says otherwise, polls `counts`. */
const STEP_MS = 50;

const pgServer = usePostgresServer();
const networkedStore = SOAK ? useNetworkedServers() : undefined;

/** A worker process and its events file. */
interface Running {
  name: string;
  child: Child;
  events: string;
  killed: boolean;
}

interface RunReport {
  jobs: number;
  kills: number;
  reclaims: number;
  dead: number;
  wallMs: number;
  stats: Record<string, number>;
}

async function battery(options: OpenStoreOptions, seed: number, jobCount = JOBS, msPerJob = MS_PER_JOB, countsEveryMs = STEP_MS): Promise<RunReport> {
  const runLimitMs = 60_000 + jobCount * msPerJob;
  const started = Date.now();
  const tmp = tempDir("work-battery");
  const store = await openStore({ ...options, sweepIntervalMs: 0 });
  const workers: Running[] = [];
  try {
    const queue = batteryQueue(store);
    const jobs = new Map<number, ReturnType<typeof batteryJob>>();
    const chunkSize = Math.min(PUSH_CHUNK, (await store.info()).supports.limits.maxTransactionWrites);
    for (let first = 1; first <= jobCount; first += chunkSize) {
      const chunk = Array.from({ length: Math.min(chunkSize, jobCount - first + 1) }, (_, i) => batteryJob(first + i));
      const pushed = await queue.pushMany(BATTERY_KEY, chunk.map((value) => ({ value })));
      pushed.forEach(({ id }, i) => jobs.set(id, chunk[i]!));
    }
    const start = () => {
      const name = `w${workers.length + 1}`;
      const events = join(tmp.dir, `${name}.jsonl`);
      workers.push({ name, child: startChild("work-worker", [JSON.stringify(options), events, name]), events, killed: false });
    };
    for (let i = 0; i < WORKERS; i++) start();

    const progress = async (): Promise<number> => {
      const { ready, delayed, leased } = await queue.counts(BATTERY_KEY);
      return ready + delayed + leased;
    };
    const random = seeded(seed);
    const deadline = started + runLimitMs;
    // The next kill comes 200–800 ms after the last replacement is working: on a loaded machine a start can take
    // longer than that, and a kill rate that outran the starts would stall the run without testing anything.
    let nextKill: number | null = null;
    let finished = false;
    let nextCounts = 0;
    while (!finished && Date.now() < deadline) {
      await sleep(STEP_MS);
      if (Date.now() >= nextCounts) {
        nextCounts = Date.now() + countsEveryMs;
        finished = (await progress()) === 0;
        if (finished) break;
      }
      if (nextKill === null) {
        if (workers.at(-1)!.child.lines.includes("ready")) nextKill = Date.now() + 200 + random() * 600;
        continue;
      }
      if (Date.now() < nextKill) continue;
      const working = workers.filter((w) => !w.killed && w.child.lines.includes("ready"));
      const victim = working[Math.floor(random() * working.length)]!;
      victim.killed = true;
      victim.child.kill("SIGKILL");
      start();
      nextKill = null;
    }
    const counts = await queue.counts(BATTERY_KEY);

    // The rest stop cleanly (the queue is empty: nothing to drain) and write their `end` line.
    const live = workers.filter((w) => !w.killed);
    for (const w of live) w.child.send("stop");
    for (const w of live) {
      const exit = await w.child.finish(WORKER_SETTINGS.visibilityMs + 20_000);
      assert.equal(exit.code, 0, `worker ${w.name} did not stop cleanly\n${w.child.describe()}`);
    }
    await killAll(workers.map((w) => w.child));
    assert.ok(finished, `the queue was not done within ${runLimitMs} ms: ${JSON.stringify(counts)}\n${workers.at(-1)!.child.describe()}`);

    const events: LeaseEvent[] = workers.flatMap((w) => {
      // A worker killed while Node was still starting never opened its events file.
      if (w.killed && !existsSync(w.events)) return [];
      return parseLeaseEvents(readFileSync(w.events, "utf8"), { source: w.name, killed: w.killed });
    });
    const dead: Array<{ id: number; attempts: number; lastError: string }> = [];
    for (let page = await queue.dead(BATTERY_KEY, { limit: 1_000 }); page.length > 0; page = await queue.dead(BATTERY_KEY, { afterId: page.at(-1)!.id, limit: 1_000 })) {
      dead.push(...page.map(({ id, attempts, lastError }) => ({ id, attempts, lastError })));
    }
    const expected = [...jobs].map(([id, job]): ExpectedJob => ({ id, fate: failsAlways(job) ? "dead" : "complete", maxAttempts: MAX_ATTEMPTS, error: `Error: ${jobError(job.n).message}` }));
    const final: FinalState = { counts, dead, jobs: expected };
    const violations = checkLeaseHistory(events, final);
    assert.deepEqual(violations, [], describeViolations(violations));
    const integrity = await store.check();
    assert.ok(integrity.ok, integrity.problems.join("\n"));

    const stats = historyStats(events);
    const kills = workers.filter((w) => w.killed).length;
    // The run did what it is meant to prove something about: kills, and jobs taken again after a kill.
    assert.ok(kills > 0 && stats.reclaims! > 0, `kills ${kills}, ${JSON.stringify(stats)}`);
    return { jobs: jobCount, kills, reclaims: stats.reclaims!, dead: dead.length, wallMs: Date.now() - started, stats };
  } finally {
    await killAll(workers.map((w) => w.child));
    await store.close();
    tmp.remove();
  }
}

const report = (t: { diagnostic(message: string): void }, engine: string, run: RunReport) =>
  t.diagnostic(`${engine}: ${run.jobs} jobs, ${run.kills} kills, ${run.reclaims} reclaims, ${run.dead} dead letters, ${(run.wallMs / 1000).toFixed(1)} s; ${JSON.stringify(run.stats)}`);

test("sqlite: 4 worker processes on one file, SIGKILLed at random, lose no job and never double-lease", async (t) => {
  const tmp = tempDir("work-battery-sqlite");
  try {
    report(t, "sqlite", await battery({ backend: "sqlite", path: join(tmp.dir, "store.db"), busyTimeoutMs: 10_000 }, 1));
  } finally {
    tmp.remove();
  }
});

test("postgres: 4 worker processes on one schema, SIGKILLed at random, lose no job and never double-lease", async (t) => {
  report(t, "postgres", await battery({ backend: "postgres", dsn: pgServer().dsn, schema: "work_battery", poolSize: 4, connectTimeoutMs: 10_000 }, 2));
});

if (SOAK) {
  test("lmdb: 4 worker processes on one file, SIGKILLed at random, lose no job and never double-lease", async (t) => {
    const tmp = tempDir("work-battery-lmdb");
    try {
      report(t, "lmdb", await battery({ backend: "lmdb", path: join(tmp.dir, "store.lmdb") }, 3));
    } finally {
      tmp.remove();
    }
  });

  for (const [index, engine] of NETWORKED_ENGINES.entries()) {
    test(`${engine}: 4 worker processes on one store, SIGKILLed at random, lose no job and never double-lease`, async (t) => {
      const slow = SLOW_ENGINES[engine];
      const jobs = Math.round(JOBS * (slow?.share ?? 1));
      report(t, engine, await battery(networkedStore!(engine, "battery"), 4 + index, jobs, slow?.msPerJob ?? MS_PER_JOB, slow?.countsEveryMs ?? STEP_MS));
    });
  }
}
