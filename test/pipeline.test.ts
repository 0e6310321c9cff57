/**
 * examples/pipeline: the commit policies and the batcher's limits in process; the pipeline on a memory store when a
 * sink stays down (the policy decides: stop, or dead-letter and go on); and the real entry point, main.js, on a
 * SQLite file, killed with SIGKILL at random moments and restarted until it finishes. After every kill the store
 * must show a checkpoint that never ran ahead of delivery; at the end every event reached every sink at least once
 * and the quarantines hold exactly the refused events.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { CheckpointStore, DeadLetterQueue, json, openStore, Quarantine } from "../src/index.js";
import { commitPoint, parsePolicy, policyHolds, type CommitPolicy } from "../examples/pipeline/commit-policy.js";
import { batches, type Batch, type BatchLimits } from "../examples/pipeline/coordinator/batcher.js";
import { PolicyNotMetError, readCheckpoint, runPipeline } from "../examples/pipeline/pipeline.js";
import { DEMO_SINKS, DELIVERED_KEY, sinkNamespace, StoreSink, TransientSinkError, type Sink } from "../examples/pipeline/sinks.js";
import { eventAt, SOURCE_ID } from "../examples/pipeline/source.js";
import { sleep, startChild, tempDir, type Child } from "./helpers/child.js";
import { seeded } from "./helpers/register-workload.js";
import { withMemoryStore } from "./helpers/memory-store.js";

/** startChild resolves names from the compiled test/fixtures folder: this is the compiled examples/pipeline/main.js. */
const MAIN = "../../examples/pipeline/main";
const SINK_NAMES: readonly string[] = DEMO_SINKS.map((sink) => sink.name);

// ---------------------------------------------------------------- commit policies

test("commit policies: all, required and quorum decide per event; the checkpoint stops at the first event short of it", () => {
  const sinks = ["a", "b", "c"];
  const has = (...names: string[]) => new Set(names);
  const cases: Array<[CommitPolicy, Set<string>, boolean]> = [
    ["all", has("a", "b", "c"), true],
    ["all", has("a", "b"), false],
    [{ required: ["a", "c"] }, has("a", "c"), true],
    [{ required: ["a", "c"] }, has("a", "b"), false],
    [{ required: ["a"] }, has("a"), true],
    [{ quorum: 2 }, has("b", "c"), true],
    [{ quorum: 2 }, has("c"), false],
    [{ quorum: 3 }, has("a", "b", "c"), true],
    [{ quorum: 1 }, has(), false],
  ];
  for (const [policy, handled, expected] of cases) {
    assert.equal(policyHolds(policy, handled, sinks), expected, `${JSON.stringify(policy)} with ${[...handled].join(",")}`);
  }

  // Events 10..14; sink b missed event 12: under "all" the checkpoint may reach 11, not 14, although 13 and 14 are fine.
  const handledBy = (seq: number) => (seq === 12 ? has("a", "c") : has("a", "b", "c"));
  const seqs = [10, 11, 12, 13, 14];
  assert.equal(commitPoint("all", seqs, handledBy, sinks), 11);
  assert.equal(commitPoint({ quorum: 2 }, seqs, handledBy, sinks), 14);
  assert.equal(commitPoint({ required: ["a", "c"] }, seqs, handledBy, sinks), 14);
  assert.equal(commitPoint({ required: ["b"] }, seqs, handledBy, sinks), 11);
  assert.equal(commitPoint("all", [12, 13], handledBy, sinks), undefined);

  assert.equal(parsePolicy("all", sinks), "all");
  assert.deepEqual(parsePolicy("required:a,c", sinks), { required: ["a", "c"] });
  assert.deepEqual(parsePolicy("quorum:2", sinks), { quorum: 2 });
  for (const bad of ["", "any", "quorum:0", "quorum:4", "quorum:x", "required:", "required:a,zz"]) {
    assert.throws(() => parsePolicy(bad, sinks), RangeError, `"${bad}" must be refused`);
  }
});

test("policy parsing refuses text it would otherwise drop: a second ':', empty or repeated names, junk after a quorum (issue 17, defect 18)", () => {
  const sinks = ["warehouse", "search", "audit"];
  for (const bad of ["required:warehouse:audit", "quorum:2:junk", "quorum:2,3", "all:", "all:warehouse", "required:warehouse,", "required:,audit", "required:warehouse,,audit", "required:audit,audit", "quorum:", "quorum: 2"]) {
    assert.throws(() => parsePolicy(bad, sinks), RangeError, `"${bad}" must be refused`);
  }
  assert.deepEqual(parsePolicy("required:warehouse,audit", sinks), { required: ["warehouse", "audit"] }, "the documented list syntax");
});

// ---------------------------------------------------------------- batcher

async function* fromArray<T>(items: readonly T[]): AsyncGenerator<T> {
  for (const item of items) yield item;
}

async function collect<T>(source: AsyncIterable<T>, limits: BatchLimits, sizeOf: (item: T) => number): Promise<Array<Batch<T>>> {
  const out: Array<Batch<T>> = [];
  for await (const batch of batches(source, limits, sizeOf)) out.push(batch);
  return out;
}

const shape = <T>(found: Array<Batch<T>>) => found.map((batch) => [batch.items.length, batch.closedBy]);

test("batcher: closes at max events and at max bytes, whichever first; an oversize event goes alone; nothing lost or reordered", async () => {
  const items = Array.from({ length: 10 }, (_, i) => i + 1);
  const byCount = await collect(fromArray(items), { maxEvents: 3, maxBytes: 1_000, maxMs: 60_000 }, () => 1);
  assert.deepEqual(shape(byCount), [[3, "events"], [3, "events"], [3, "events"], [1, "end"]]);
  assert.deepEqual(byCount.flatMap((batch) => batch.items), items);

  // 40 bytes each, 100 per batch: two fit (80), a third would not (120).
  const byBytes = await collect(fromArray(items), { maxEvents: 100, maxBytes: 100, maxMs: 60_000 }, () => 40);
  assert.deepEqual(shape(byBytes), [[2, "bytes"], [2, "bytes"], [2, "bytes"], [2, "bytes"], [2, "end"]]);
  assert.ok(byBytes.every((batch) => batch.bytes <= 100));

  // Exactly at the limit closes too; an event above the limit travels alone.
  const sizes = new Map([[1, 50], [2, 50], [3, 500], [4, 10]]);
  const mixed = await collect(fromArray([1, 2, 3, 4]), { maxEvents: 100, maxBytes: 100, maxMs: 60_000 }, (n) => sizes.get(n) ?? 0);
  assert.deepEqual(mixed.map((batch) => batch.items), [[1, 2], [3], [4]]);
  assert.deepEqual(mixed.map((batch) => batch.closedBy), ["bytes", "bytes", "end"]);

  assert.deepEqual(await collect(fromArray([]), { maxEvents: 1, maxBytes: 1, maxMs: 1 }, () => 1), []);
  for (const bad of [{ maxEvents: 0, maxBytes: 1, maxMs: 1 }, { maxEvents: 1, maxBytes: 1.5, maxMs: 1 }, { maxEvents: 1, maxBytes: 1, maxMs: -1 }]) {
    await assert.rejects(collect(fromArray([1]), bad, () => 1), RangeError);
  }
});

test("batcher: a batch closes max-ms after its first event while the source is quiet; the next event starts the next batch", async () => {
  let openGate: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (openGate = resolve));
  async function* quietSource(): AsyncGenerator<string> {
    yield "a";
    yield "b";
    await gate; // quiet until the test has seen the first batch: only the time limit can have closed it
    yield "c";
  }
  const found: Array<Batch<string>> = [];
  for await (const batch of batches(quietSource(), { maxEvents: 100, maxBytes: 1_000, maxMs: 20 }, () => 1)) {
    found.push(batch);
    if (found.length === 1) openGate();
  }
  assert.deepEqual(found.map((batch) => [batch.items, batch.closedBy]), [
    [["a", "b"], "time"],
    [["c"], "end"],
  ]);
});

// ---------------------------------------------------------------- the pipeline in process, one sink down

/** A sink that takes events up to `upTo` and fails transiently on any batch with a later one. */
function sinkDownAfter(name: string, upTo: number): Sink {
  return {
    name,
    async deliver(events) {
      if (events.some((event) => event.seq > upTo)) throw new TransientSinkError(name, "unreachable");
      return [];
    },
  };
}


const quickRun = (sinks: Sink[], policy: CommitPolicy) => ({
  total: 100,
  sinks,
  policy,
  limits: { maxEvents: 10, maxBytes: 1_000_000, maxMs: 1_000 },
  retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 },
  source: { burst: 1_000 },
});

const seqsOf = async (held: Quarantine<{ seq: number }> | DeadLetterQueue<{ seq: number }>) => (await held.peek(1_000)).map((entry) => entry.event.seq);

test("pipeline: under policy all a sink that stays down stops the checkpoint at the last batch it took; a rerun resumes there", async () => {
  await withMemoryStore(async (store) => {
    const warehouse = new StoreSink(store, { name: "warehouse", refuse: (event) => (event.seq % 7 === 0 ? "multiple of 7" : undefined) });
    await assert.rejects(runPipeline(store, quickRun([warehouse, sinkDownAfter("search", 35)], "all")), (error: unknown) => {
      assert.ok(error instanceof PolicyNotMetError);
      assert.equal(error.seq, 31);
      assert.match(error.message, /search failed 2 times/);
      return true;
    });
    assert.equal(await readCheckpoint(store), 30);
    // Refusals are quarantined with the checkpoint that passes them: 7..28 yes, 35 (in the failed batch) not yet.
    assert.deepEqual(await seqsOf(new Quarantine(store, { name: "warehouse", codec: json<{ seq: number }>() })), [7, 14, 21, 28]);
    assert.equal(await new DeadLetterQueue(store, { name: "search" }).len(), 0);

    const report = await runPipeline(store, quickRun([warehouse, sinkDownAfter("search", 100)], "all"));
    assert.equal(report.startedAfter, 30);
    assert.equal(report.checkpoint, 100);
    const quarantined = await seqsOf(new Quarantine(store, { name: "warehouse", codec: json<{ seq: number }>() }));
    assert.deepEqual(quarantined, Array.from({ length: 14 }, (_, i) => (i + 1) * 7));
  });
});

for (const policy of [{ quorum: 1 }, { required: ["warehouse"] }] as const) {
  test(`pipeline: under policy ${JSON.stringify(policy)} a best-effort sink that stays down is dead-lettered and the checkpoint goes on`, async () => {
    await withMemoryStore(async (store) => {
      const warehouse = new StoreSink(store, { name: "warehouse" });
      const report = await runPipeline(store, quickRun([warehouse, sinkDownAfter("search", 35)], policy));
      assert.equal(report.checkpoint, 100);
      assert.equal(report.deadLettered, 70);
      const deadLetters = new DeadLetterQueue(store, { name: "search", codec: json<{ seq: number }>() });
      assert.deepEqual(await seqsOf(deadLetters), Array.from({ length: 70 }, (_, i) => 31 + i));
      assert.match((await deadLetters.peek(1))[0]?.reason ?? "", /unreachable/);
      const delivered = await store.log(sinkNamespace("warehouse"), { codec: json<{ seq: number }>() }).list(DELIVERED_KEY);
      assert.deepEqual(delivered.map((entry) => entry.value.seq), Array.from({ length: 100 }, (_, i) => i + 1));
    });
  });
}

// ---------------------------------------------------------------- main.js, killed and restarted

const EVENTS = 3_000;
const KILLS = 12;
/** A kill comes this long (at random) after the child reports where it resumes. */
const MAX_RUN_MS = 250;
const SEED = 8;

/** What the store holds, read with the public API only. */
interface Observed {
  checkpoint: number;
  /** Per sink: how many times each seq was delivered. */
  delivered: Map<string, Map<number, number>>;
  /** Per sink: the seqs quarantined, in queue order. */
  quarantined: Map<string, number[]>;
  /** Per sink: the seqs dead-lettered (a best-effort sink's retries ran out). */
  deadLetters: Map<string, number[]>;
  deadLettered: number;
  problems: string[];
}

/** The event seqs a quarantine or dead-letter queue holds, in queue order, over every page. */
async function heldSeqs(held: Quarantine<{ seq: number }> | DeadLetterQueue<{ seq: number }>): Promise<number[]> {
  const seqs: number[] = [];
  for (let afterId = 0; ; ) {
    const page = await held.peek(1_000, { afterId });
    seqs.push(...page.map((entry) => entry.event.seq));
    if (page.length < 1_000) return seqs;
    afterId = page.at(-1)?.id ?? afterId;
  }
}

async function observe(path: string): Promise<Observed> {
  const store = await openStore({ path, sweepIntervalMs: 0 });
  try {
    const checkpoint = (await CheckpointStore.withCodec(store, json<{ seq: number }>()).get(SOURCE_ID))?.seq ?? 0;
    const delivered = new Map<string, Map<number, number>>();
    const quarantined = new Map<string, number[]>();
    const deadLetters = new Map<string, number[]>();
    let deadLettered = 0;
    for (const name of SINK_NAMES) {
      const counts = new Map<number, number>();
      const log = store.log(sinkNamespace(name), { codec: json<{ seq: number }>() });
      for (let after = 0; ; ) {
        const page = await log.since(DELIVERED_KEY, after, { limit: 5_000 });
        for (const entry of page) counts.set(entry.value.seq, (counts.get(entry.value.seq) ?? 0) + 1);
        if (page.length < 5_000) break;
        after = page.at(-1)?.seq ?? after;
      }
      delivered.set(name, counts);
      quarantined.set(name, await heldSeqs(new Quarantine(store, { name, codec: json<{ seq: number }>() })));
      const lettered = await heldSeqs(new DeadLetterQueue(store, { name, codec: json<{ seq: number }>() }));
      deadLetters.set(name, lettered);
      deadLettered += lettered.length;
    }
    return { checkpoint, delivered, quarantined, deadLetters, deadLettered, problems: (await store.check()).problems };
  } finally {
    await store.close();
  }
}

/** The seqs each demo sink's own rule refuses, among 1..EVENTS: the test's expectation of the quarantines. */
const REFUSED = new Map<string, number[]>(DEMO_SINKS.map((sink) => [sink.name, Array.from({ length: EVENTS }, (_, i) => eventAt(i + 1)).filter((event) => sink.refuse(event) !== undefined).map((event) => event.seq)]));

/**
 * The highest seq such that every event up to it reached each of `sinks` (delivered, or quarantined by that sink; with
 * `orLettered`, or dead-lettered for it).
 */
function deliveredPrefix(observed: Observed, sinks: readonly string[] = SINK_NAMES, orLettered = false): number {
  const reached = sinks.map((name) => {
    const seqs = new Set(observed.delivered.get(name)?.keys());
    for (const seq of observed.quarantined.get(name) ?? []) seqs.add(seq);
    if (orLettered) for (const seq of observed.deadLetters.get(name) ?? []) seqs.add(seq);
    return seqs;
  });
  let prefix = 0;
  while (prefix < EVENTS && reached.every((seqs) => seqs.has(prefix + 1))) prefix += 1;
  return prefix;
}

/** A run of main.js under a policy: the sinks it requires, and the flags that make the best-effort ones fail. */
interface CrashConfig {
  policy: string;
  required: readonly string[];
  flags: readonly string[];
}

const CRASH_CONFIGS: readonly CrashConfig[] = [
  { policy: "all", required: SINK_NAMES, flags: [] },
  // The flaky sink is best effort and gives up after 2 attempts at a 60% failure rate: it dead-letters often.
  { policy: "required:warehouse,audit", required: ["warehouse", "audit"], flags: ["--failure-rate", "0.6", "--max-attempts", "2"] },
];

/** What must hold after any kill: the store is sound, and the checkpoint is behind delivery and never went back. */
function checkAfterKill(observed: Observed, previousCheckpoint: number, when: string, config: CrashConfig = CRASH_CONFIGS[0] as CrashConfig): void {
  assert.deepEqual(observed.problems, [], `${when}: store.check()`);
  assert.ok(observed.checkpoint >= previousCheckpoint, `${when}: the checkpoint went back from ${previousCheckpoint} to ${observed.checkpoint}`);
  const prefix = deliveredPrefix(observed, config.required);
  assert.ok(observed.checkpoint <= prefix, `${when}: the checkpoint (${observed.checkpoint}) ran ahead of delivery (every required sink has 1..${prefix})`);
  // A best-effort sink may miss events, but only into its dead letters, committed with the checkpoint that passes them.
  const handled = deliveredPrefix(observed, SINK_NAMES, true);
  assert.ok(observed.checkpoint <= handled, `${when}: an event up to the checkpoint (${observed.checkpoint}) neither reached a sink nor was dead-lettered (all handled up to ${handled})`);
  for (const name of SINK_NAMES) {
    const refused = new Set(REFUSED.get(name));
    const quarantined = observed.quarantined.get(name) ?? [];
    // Quarantining commits with the checkpoint that passes the event: exactly once, never beyond the checkpoint.
    // A batch a best-effort sink never took is dead-lettered whole: its rule never saw those events.
    const lettered = new Set(observed.deadLetters.get(name));
    assert.deepEqual(quarantined, REFUSED.get(name)?.filter((seq) => seq <= observed.checkpoint && !lettered.has(seq)), `${when}: quarantine of ${name}`);
    const wronglyDelivered = [...(observed.delivered.get(name)?.keys() ?? [])].filter((seq) => refused.has(seq));
    assert.deepEqual(wronglyDelivered, [], `${when}: ${name} delivered events its rule refuses`);
  }
  for (const name of SINK_NAMES) {
    const lettered = observed.deadLetters.get(name) ?? [];
    if (config.required.includes(name)) assert.deepEqual(lettered, [], `${when}: required sink ${name} has no dead letters`);
    assert.ok(lettered.every((seq) => seq <= observed.checkpoint), `${when}: ${name} dead-lettered past the checkpoint`);
  }
}

for (const config of CRASH_CONFIGS) {
test(`main.js on SQLite under policy ${config.policy}, SIGKILLed at random moments and restarted: the checkpoint never runs ahead of delivery, and every event reaches every required sink`, async (t) => {
  const tmp = tempDir("pipeline");
  const db = join(tmp.dir, "pipeline.db");
  const args = ["--events", String(EVENTS), "--db", db, "--policy", config.policy, "--seed", String(SEED), "--max-batch-events", "20", ...config.flags];
  const random = seeded(SEED);
  const children: Child[] = [];
  let checkpoint = 0;
  const killedAt: number[] = [];
  let finished = false;
  try {
    for (let round = 0; round <= KILLS; round++) {
      const child = startChild(MAIN, args);
      children.push(child);
      const started = await child.waitFor((lines) => lines.some((line) => line.startsWith("checkpoint at seq")), 30_000);
      assert.ok(started, `round ${round}: main.js did not start\n${child.describe()}`);
      if (round < KILLS) {
        await sleep(Math.floor(random() * MAX_RUN_MS));
        child.kill("SIGKILL");
      }
      const exit = await child.finish(30_000);
      const observed = await observe(db);
      if (exit.signal === "SIGKILL") {
        killedAt.push(observed.checkpoint);
        checkAfterKill(observed, checkpoint, `after kill ${killedAt.length} (round ${round})`, config);
        checkpoint = observed.checkpoint;
        continue;
      }
      // It finished before the kill came, or this was the last round.
      assert.equal(exit.code, 0, `round ${round}: main.js failed\n${child.describe()}`);
      assert.ok(child.lines.some((line) => line.startsWith(`done: checkpoint at seq ${EVENTS} of ${EVENTS}`)), child.describe());
      checkAfterKill(observed, checkpoint, "at the end", config);
      assert.equal(observed.checkpoint, EVENTS);
      assert.equal(deliveredPrefix(observed, config.required), EVENTS, "every event reached every required sink");
      assert.equal(deliveredPrefix(observed, SINK_NAMES, true), EVENTS, "every event reached every sink or its dead letters");
      if (config.required.length < SINK_NAMES.length) assert.ok(observed.deadLettered > 0, "the best-effort sink gave up on some events: this run tested dead-lettering");
      const repeats = config.required.map((name) => {
        const counts = [...(observed.delivered.get(name)?.values() ?? [])];
        assert.equal(counts.length + (REFUSED.get(name)?.length ?? 0), EVENTS, `${name}: every event delivered or quarantined`);
        return `${name} ${counts.reduce((sum, count) => sum + count - 1, 0)}`;
      });
      finished = true;
      t.diagnostic(`${killedAt.length} kills at checkpoints ${killedAt.join(", ")}; ${round + 1} runs in all`);
      t.diagnostic(`repeat deliveries (at-least-once): ${repeats.join(", ")}; quarantined: ${SINK_NAMES.map((name) => `${name} ${observed.quarantined.get(name)?.length ?? 0}`).join(", ")}; dead-lettered: ${observed.deadLettered}`);
      break;
    }
    assert.ok(finished, `main.js did not finish within ${KILLS + 1} runs`);
    // The kills must have landed mid-run, or this test proved nothing about crashes.
    assert.ok(killedAt.filter((at) => at > 0 && at < EVENTS).length >= 3, `kills landed mid-run only at checkpoints ${killedAt.join(", ")}`);
    assert.ok((REFUSED.get("warehouse")?.length ?? 0) > 0 && (REFUSED.get("search")?.length ?? 0) > 0, "the demo refuses some events");
  } finally {
    for (const child of children) child.kill("SIGKILL");
    await Promise.all(children.map((child) => child.exited));
    tmp.remove();
  }
});
}

test("main.js: a bad flag exits 2 with the usage; a policy that cannot be met exits 1 and leaves the checkpoint where it was", async () => {
  const tmp = tempDir("pipeline-cli");
  const db = join(tmp.dir, "pipeline.db");
  const children: Child[] = [];
  try {
    const bad = startChild(MAIN, ["--db", db, "--policy", "quorum:9"]);
    children.push(bad);
    assert.equal((await bad.finish(30_000)).code, 2, bad.describe());
    assert.match(bad.stderr, /quorum is between 1 and 3/);
    const extra = startChild(MAIN, ["--db", db, "--policy", "required:warehouse:audit"]);
    children.push(extra);
    assert.equal((await extra.finish(30_000)).code, 2, extra.describe());
    assert.match(extra.stderr, /--policy: a policy is all, required:<sink>,<sink>… or quorum:<n>; got "required:warehouse:audit"/);

    const stuck = startChild(MAIN, ["--db", db, "--events", "200", "--policy", "all", "--failure-rate", "1", "--max-attempts", "2"]);
    children.push(stuck);
    assert.equal((await stuck.finish(30_000)).code, 1, stuck.describe());
    assert.match(stuck.stderr, /commit policy all not met at seq 1: search failed 2 times/);
    assert.match(stuck.stderr, /the checkpoint stays at seq 0/);
    assert.equal((await observe(db)).checkpoint, 0);
  } finally {
    for (const child of children) child.kill("SIGKILL");
    await Promise.all(children.map((child) => child.exited));
    tmp.remove();
  }
});
