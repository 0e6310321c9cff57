/**
 * `npm run pipeline` — runs the example pipeline on the embedded SQLite default (./data/pipeline.db) and prints a
 * summary. Run it again and it resumes from the checkpoint; kill it at any moment and nothing is lost.
 *
 *   node dist/examples/pipeline/main.js [--events N] [--db PATH] [--policy all|required:a,b|quorum:n] [--seed N]
 *     [--max-batch-events N] [--max-batch-bytes N] [--max-batch-ms N] [--failure-rate R] [--max-attempts N]
 *
 * Exit status: 0 done, 1 the pipeline stopped (a rerun resumes), 2 a bad flag.
 */
import { parseArgs } from "node:util";
import { openStore, type Store } from "../../src/index.js";
import { describePolicy, parsePolicy, type CommitPolicy } from "./commit-policy.js";
import { deadLettersOf, PolicyNotMetError, quarantineOf, readCheckpoint, runPipeline, type RunReport } from "./pipeline.js";
import { DEMO_SINKS, demoSinks, sinkNamespace } from "./sinks.js";

const USAGE = `usage: node dist/examples/pipeline/main.js [options]
  --events N             events the source emits, 1..N (default 5000)
  --db PATH              the SQLite file (default $PIPELINE_DB or ./data/pipeline.db)
  --policy P             all | required:<sink>,<sink> | quorum:<n>  (default all; sinks: ${DEMO_SINKS.map((sink) => sink.name).join(", ")})
  --seed N               seed of the flaky sink's failures (default 1)
  --max-batch-events N   a batch closes at this many events (default 50, at most 1000)
  --max-batch-bytes N    … or this many bytes of events (default 7800)
  --max-batch-ms N       … or this long after its first event (default 25)
  --failure-rate R       share of the flaky sink's deliveries that fail, 0 to 1 (default 0.3)
  --max-attempts N       attempts per delivery before a sink counts as failed (default 10)`;

/** The settings of one run, from the flags. */
interface Settings {
  events: number;
  db: string;
  policy: CommitPolicy;
  seed: number;
  maxBatchEvents: number;
  maxBatchBytes: number;
  maxBatchMs: number;
  failureRate: number;
  maxAttempts: number;
}

class UsageError extends Error {}
class HelpRequested extends Error {}

function readSettings(argv: string[]): Settings {
  const { values } = parseArgs({
    args: argv,
    options: {
      events: { type: "string", default: "5000" },
      db: { type: "string", default: process.env.PIPELINE_DB || "./data/pipeline.db" },
      policy: { type: "string", default: "all" },
      seed: { type: "string", default: "1" },
      "max-batch-events": { type: "string", default: "50" },
      "max-batch-bytes": { type: "string", default: "7800" },
      "max-batch-ms": { type: "string", default: "25" },
      "failure-rate": { type: "string", default: "0.3" },
      "max-attempts": { type: "string", default: "10" },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.help) throw new HelpRequested();
  const whole = (flag: string, text: string, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const value = Number(text);
    if (!/^\d+$/.test(text) || value < min || value > max) throw new UsageError(`--${flag} must be a whole number from ${min} to ${max}, got "${text}"`);
    return value;
  };
  const failureRate = Number(values["failure-rate"]);
  if (!(failureRate >= 0 && failureRate <= 1)) throw new UsageError(`--failure-rate must be between 0 and 1, got "${values["failure-rate"]}"`);
  let policy: CommitPolicy;
  try {
    policy = parsePolicy(values.policy, DEMO_SINKS.map((sink) => sink.name));
  } catch (error) {
    throw new UsageError(`--policy: ${(error as Error).message}`);
  }
  return {
    events: whole("events", values.events, 1),
    db: values.db,
    policy,
    seed: whole("seed", values.seed, 0),
    // A batch's deliveries and quarantines each fit in one transaction (at most 10,000 writes).
    maxBatchEvents: whole("max-batch-events", values["max-batch-events"], 1, 1_000),
    maxBatchBytes: whole("max-batch-bytes", values["max-batch-bytes"], 1),
    maxBatchMs: whole("max-batch-ms", values["max-batch-ms"], 1),
    failureRate,
    maxAttempts: whole("max-attempts", values["max-attempts"], 1, 100),
  };
}

async function main(): Promise<number> {
  let settings: Settings;
  try {
    settings = readSettings(process.argv.slice(2));
  } catch (error) {
    if (error instanceof HelpRequested) {
      console.log(USAGE);
      return 0;
    }
    if (!(error instanceof UsageError) && !(error instanceof TypeError)) throw error; // parseArgs throws TypeErrors
    console.error(`error: ${error.message}`);
    console.error(USAGE);
    return 2;
  }
  const store = await openStore({ path: settings.db });
  try {
    return await run(store, settings);
  } finally {
    await store.close();
  }
}

async function run(store: Store, settings: Settings): Promise<number> {
  const { policy } = settings;
  const sinks = demoSinks(store, { seed: settings.seed, failureRate: settings.failureRate });
  const flaky: string[] = DEMO_SINKS.filter((sink) => sink.flaky).map((sink) => sink.name);
  const describeSink = (name: string) => (flaky.includes(name) ? `${name} (flaky: ${Math.round(settings.failureRate * 100)}% of deliveries fail)` : name);
  console.log(`pipeline: ${settings.events} events → ${sinks.map((sink) => describeSink(sink.name)).join(", ")} · policy ${describePolicy(policy)} · store ${settings.db}`);

  const start = await readCheckpoint(store);
  console.log(start < settings.events ? `checkpoint at seq ${start}: delivering ${start + 1}..${settings.events}` : `checkpoint at seq ${start}: nothing to do`);
  const progressEvery = Math.max(1, Math.ceil(settings.events / 10));
  let nextProgress = Math.floor(start / progressEvery + 1) * progressEvery;
  let report: RunReport;
  try {
    report = await runPipeline(store, {
      total: settings.events,
      sinks,
      policy,
      limits: { maxEvents: settings.maxBatchEvents, maxBytes: settings.maxBatchBytes, maxMs: settings.maxBatchMs },
      retry: { maxAttempts: settings.maxAttempts, baseDelayMs: 1, maxDelayMs: 50 },
      onCommit: (checkpoint) => {
        if (checkpoint < nextProgress) return;
        console.log(`  checkpoint ${checkpoint}/${settings.events}`);
        nextProgress = Math.floor(checkpoint / progressEvery + 1) * progressEvery;
      },
    });
  } catch (error) {
    if (!(error instanceof PolicyNotMetError)) throw error;
    console.error(`stopped: ${error.message}`);
    console.error(`the checkpoint stays at seq ${await readCheckpoint(store)}: run again to resume from there`);
    return 1;
  }
  await printSummary(store, settings, report);
  return 0;
}

async function printSummary(store: Store, settings: Settings, report: RunReport): Promise<void> {
  const { events, bytes, time, end } = report.batches;
  const batchCount = events + bytes + time + end;
  console.log(`done: checkpoint at seq ${report.checkpoint} of ${settings.events}`);
  console.log(
    `  this run: ${batchCount} batches (closed by count ${events}, bytes ${bytes}, time ${time}, end ${end}), ` +
      `${report.retries} retries, ${report.quarantined} quarantined, ${report.deadLettered} dead-lettered`,
  );
  console.log("  in the store, all runs together:");
  console.log(`    ${"sink".padEnd(10)} ${"delivered".padStart(9)} ${"quarantined".padStart(11)} ${"dead-letters".padStart(12)} ${"repeats".padStart(7)}`);
  for (const { name } of DEMO_SINKS) {
    // A sink's Log sequence has no gaps, so its last seq is the number of deliveries it recorded.
    const delivered = await store.log(sinkNamespace(name)).lastSeq();
    const quarantined = await quarantineOf(store, name).len();
    const deadLettered = await deadLettersOf(store, name).len();
    // Each event up to the checkpoint is in at least one of the three; anything beyond one each is a repeat delivery.
    const repeats = delivered + quarantined + deadLettered - report.checkpoint;
    console.log(`    ${name.padEnd(10)} ${String(delivered).padStart(9)} ${String(quarantined).padStart(11)} ${String(deadLettered).padStart(12)} ${String(repeats).padStart(7)}`);
  }
}

process.exitCode = await main();
