import assert from "node:assert/strict";
import { test } from "node:test";
import type { EngineOps, StoredWorkPush, StoredWorkRow } from "../src/engines/engine.js";
import { OP_FACTS } from "../src/engines/engine-calls.js";
import type { WorkOpName } from "../src/engines/work-unsupported.js";
import { MULTI_STATEMENT_WRITE_OPS, SINGLE_STATEMENT_OPS, sqlPrograms } from "../src/engines/sql/sql-ops.js";
import { stepsOf, type SqlPrograms, type SqlStep, type SqlWork } from "../src/engines/sql/sql-program.js";
import { distinctKeyParts, kvPutBatch, POSTGRES_PROGRAMS, POSTGRES_SINGLE_STATEMENT_OPS } from "../src/engines/postgres/postgres-programs.js";
import { claimRows, LOCKING_PROGRAMS, pushPlain } from "../src/engines/postgres/postgres-work.js";
import { CLAIM_ROUNDS } from "../src/engines/sql/sql-work.js";

const bytes = new Uint8Array([1, 2, 3]);
const range = { lower: "a", lowerInclusive: true, upper: "b" };
const POLICY = '{"type":"fixed","delayMs":10,"maxDelayMs":300000,"jitter":"none"}';
const workPush = (dedup: string | null = null): StoredWorkPush => ({ key: "k", value: bytes, priority: 0, visibleAt: 1, maxAttempts: 3, policy: POLICY, dedup, reject: false });
const workRow = (id: number, dedup: string | null = null): StoredWorkRow => ({
  key: "k",
  id,
  value: bytes,
  pushedAt: 1,
  priority: 0,
  visibleAt: 1,
  attempts: 0,
  maxAttempts: 3,
  policy: POLICY,
  token: null,
  dedup,
  dead: false,
  lastError: null,
  deadAt: null,
});
const lease = { key: "k", id: 1, token: 7, attempt: 1 };
/** Arguments for every operation, so that each program can be driven without a database. */
const ARGS: { [K in keyof EngineOps]: Parameters<EngineOps[K]> } = {
  kvGet: ["ns", "k", 1],
  kvGetEntry: ["ns", "k", 1],
  kvPut: ["ns", "k", bytes, null],
  kvDelete: ["ns", "k", 1],
  kvScan: ["ns", { ...range, reverse: false, limit: 10, keysOnly: false }, 1],
  kvCount: ["ns", range, 1],
  kvDeleteRange: ["ns", range, 1],
  kvSweepExpired: [1, 100],
  kvHistoryStart: ["ns", 256],
  kvHistoryRead: ["ns", ["a", "b"], 0, 10],
  kvHistoryTrim: [1000, 100],
  logAppend: ["ns", "k", bytes, 1],
  logRead: ["ns", "k", 0, 10],
  logReadAll: ["ns", 0, 10],
  logLastSeq: ["ns"],
  slotGet: ["ns", "k"],
  slotUpsert: ["ns", "k", bytes],
  slotCas: ["ns", "k", 3, bytes],
  queuePush: ["ns", "k", bytes, 1, { maxLen: 10, overflow: "reject" }],
  queuePeek: ["ns", "k", 0, 10],
  queueAck: ["ns", "k", 1],
  queueDropOldest: ["ns", "k", 2],
  queueLen: ["ns", "k"],
  streamProduce: ["ns", "space", "seg", [{ value: bytes, headers: null, compression: null }, { value: bytes, headers: '{"a":"b"}', compression: "deflate" }], 1, null],
  streamRead: ["ns", "space", "seg", 1, 10, 10],
  streamReadSpace: ["ns", "space", 0, { timestamp: 1, segment: "seg", seq: 1 }, 10],
  streamPeek: ["ns", "space", "seg"],
  streamSpaces: ["ns", null, 10],
  streamSegments: ["ns", "space", null, 10],
  streamStatus: ["ns", "space", "seg"],
  streamLastSeqs: ["ns", "space"],
  kvDump: ["ns", "a", 10, 1],
  slotDump: ["ns", null, 10],
  queueDump: ["ns", { key: "k", id: 3 }, 10],
  queueLastId: ["ns"],
  kvRestore: ["ns", [{ key: "k", value: bytes, expiresAt: null }, { key: "l", value: bytes, expiresAt: 5 }]],
  logRestore: ["ns", [{ seq: 3, key: "k", value: bytes, timestamp: 1 }]],
  slotRestore: ["ns", [{ key: "k", version: 4, value: bytes }]],
  queueRestore: ["ns", [{ key: "k", id: 7, value: bytes, pushedAt: 1 }], 9],
  streamRestore: ["ns", "space", "seg", [{ seq: 1, timestamp: 1, value: bytes, headers: null, compression: null }]],
  workPush: ["ns", [workPush(), workPush("d")], 1],
  workClaim: ["ns", "k", 4, 1, 101, 7],
  workExtend: ["ns", [lease], 200],
  workSettle: ["ns", [{ ...lease, to: "ack" }], 1],
  workPoll: ["ns", "k", 1],
  workCounts: ["ns", "k", 1],
  workKeys: ["ns", null, 10],
  workDead: ["ns", "k", 0, 10],
  workRequeue: ["ns", "k", null, 1, 10],
  workPurge: ["ns", "k", [1, 2], 10],
  workDump: ["ns", { key: "k", id: 3 }, 10],
  workLastId: ["ns"],
  workRestore: ["ns", [workRow(1), workRow(2, "d")], 9],
  describe: [1],
};

/** Runs a program against canned answers (`answers` in order, else a plausible one per kind) and returns the statements it issued. */
function statementsOf(work: SqlWork<unknown>, answers?: unknown[]): SqlStep[] {
  const steps: SqlStep[] = [];
  const program = stepsOf(work);
  let step = program.next();
  while (step.done !== true) {
    steps.push(step.value);
    if (answers !== undefined) {
      assert.ok(answers.length > 0, `an answer for statement ${steps.length}: ${step.value.sql}`);
      step = program.next(answers.shift());
      continue;
    }
    const kind = step.value.kind;
    // A plausible answer per kind: PostgreSQL's batch push answers an array of ids, its history start a pair, every other `value` a scalar.
    const scalar = step.value.sql.includes("stowage_queue_push") ? [1] : step.value.sql.includes("stowage_kv_history_start") ? [0, 0] : undefined;
    step = program.next(kind === "run" ? 1 : kind === "all" ? [] : kind === "get" ? { value: 1, n: 0, live: 1, version: 1, last_seq: 0, count: 0 } : scalar);
  }
  return steps;
}

const FAMILIES: Array<[string, SqlPrograms, ReadonlySet<keyof SqlPrograms>]> = [
  ["shared SQL (SQLite)", sqlPrograms(1), SINGLE_STATEMENT_OPS],
  ["PostgreSQL", POSTGRES_PROGRAMS, POSTGRES_SINGLE_STATEMENT_OPS],
];

for (const [family, programs, single] of FAMILIES) {
  test(`${family}: the operations marked single-statement issue exactly one statement, and the others more or a read`, () => {
    for (const name of Object.keys(ARGS) as Array<keyof EngineOps>) {
      const make = programs[name] as (...args: unknown[]) => SqlWork<unknown>;
      const statements = statementsOf(make(...ARGS[name]));
      if (single.has(name)) assert.equal(statements.length, 1, `${name} is marked single-statement but issues ${statements.length}`);
      else if (statements.length === 1 && OP_FACTS[name].kind === "write") {
        assert.match(statements[0]?.sql ?? "", /^SELECT/, `${name} is one writing statement: mark it single-statement so PostgreSQL runs it in one round trip`);
      }
      const writes = statements.filter((statement) => !/^SELECT/.test(statement.sql)).length;
      if (family.startsWith("shared") && statements.length > 1 && writes > 0) {
        assert.ok(MULTI_STATEMENT_WRITE_OPS.has(name), `${name} writes with ${statements.length} statements: list it in MULTI_STATEMENT_WRITE_OPS`);
      }
    }
    assert.deepEqual(Object.keys(ARGS).sort(), Object.keys(programs).sort(), "every operation has arguments here");
  });
}

test("on PostgreSQL, append and push are single statements", () => {
  assert.ok(POSTGRES_SINGLE_STATEMENT_OPS.has("logAppend") && POSTGRES_SINGLE_STATEMENT_OPS.has("queuePush"));
});

test("slotCas with expected version 0 is a single insert too", () => {
  const programs = sqlPrograms(1);
  assert.equal(statementsOf(programs.slotCas("ns", "k", 0, bytes)).length, 1);
});

test("on PostgreSQL, a batch of puts splits where a key repeats, keeping the calls' order, one statement per part", () => {
  const item = (key: string, n: number) => ({ key, value: new Uint8Array([n]), expiresAt: null });
  const batch = [item("a", 1), item("b", 1), item("a", 2), item("a", 3), item("b", 2), item("c", 1)];
  assert.deepEqual(
    distinctKeyParts(batch).map((part) => part.map((i) => `${i.key}${i.value[0]}`)),
    [["a1", "b1"], ["a2"], ["a3", "b2", "c1"]],
  );
  assert.deepEqual(distinctKeyParts([]), []);
  const statements = statementsOf(kvPutBatch("ns", batch));
  assert.equal(statements.length, 3);
  assert.match(statements[1]?.sql ?? "", /VALUES \(\?, \?, \?, \?\)/, "a part of one put is the plain statement");
  assert.deepEqual(statements[0]?.params.slice(0, 2), ["ns", ["a", "b"]]);
});

test("a restore's batch is a fixed number of statements whatever its size, each text the same for every size", () => {
  const rows = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
  const batches = (n: number): Array<[keyof EngineOps, unknown[]]> => [
    ["kvRestore", ["ns", rows(n).map((i) => ({ key: `k${i}`, value: bytes, expiresAt: i % 2 === 0 ? null : i }))]],
    ["slotRestore", ["ns", rows(n).map((i) => ({ key: `k${i}`, version: i, value: bytes }))]],
    ["logRestore", ["ns", rows(n).map((i) => ({ seq: i + 1, key: "k", value: bytes, timestamp: i }))]],
    ["queueRestore", ["ns", rows(n).map((i) => ({ key: "k", id: i, value: bytes, pushedAt: i })), n]],
    ["streamRestore", ["ns", "space", "seg", rows(n).map((i) => ({ seq: i, timestamp: i, value: bytes, headers: null, compression: null }))]],
  ];
  // The counter (or segment row) taken, the rows in one statement, the counter set; the queue also checks its ids.
  const expected: Record<string, number> = { kvRestore: 1, slotRestore: 1, logRestore: 3, queueRestore: 4, streamRestore: 3 };
  for (const [family, programs] of FAMILIES) {
    const texts = (n: number) =>
      batches(n).map(([name, args]) => {
        const statements = statementsOf((programs[name] as (...a: unknown[]) => SqlWork<unknown>)(...args));
        assert.equal(statements.length, expected[name], `${family} ${name} of ${n} rows`);
        return statements.map((statement) => statement.sql);
      });
    assert.deepEqual(texts(1_000), texts(3), `${family}: one statement text per step, prepared once`);
  }
});

/** A claimable row as the claim's SELECT reads it; `attempts` 3 of 3 is an expired item over its limit. */
const candidate = (id: number, attempts = 0) => ({ id, visible_at: 1, attempts, max_attempts: 3, token: attempts > 0 ? 5 : null, last_error: null });
const leased = (id: number) => ({ id, value: Buffer.from([1]), pushed_at: 1, priority: 0, attempts: 1, max_attempts: 3, policy: POLICY, last_error: null });
const current = (id: number) => ({ key: "k", id, token: 7, attempts: 1, max_attempts: 3, policy: POLICY });
const counter = (value: number) => ({ value });

/** Work operations with canned answers: how many statements each path issues (each answer is one statement's). */
const WORK_PATHS: Array<{ what: string; op: WorkOpName; args: unknown[]; answers: unknown[] }> = [
  { what: "push of plain items: counter, insert", op: "workPush", args: ["ns", [workPush(), workPush()], 1], answers: [counter(2), 2] },
  { what: "push with a free dedup key: holders, counter, insert", op: "workPush", args: ["ns", [workPush(), workPush("d")], 1], answers: [[], counter(2), 2] },
  { what: "push whose dedup key a live item holds: the holders' read only", op: "workPush", args: ["ns", [workPush("d")], 1], answers: [[{ key: "k", dedup: "d", id: 4 }]] },
  { what: "claim of nothing: one read", op: "workClaim", args: ["ns", "k", 4, 1, 101, 7], answers: [[]] },
  { what: "claim: select, lease", op: "workClaim", args: ["ns", "k", 4, 1, 101, 7], answers: [[candidate(1), candidate(2)], [leased(2), leased(1)]] },
  {
    what: "claim meeting an expired item over its limit: select, lease, dead-letter, select again",
    op: "workClaim",
    args: ["ns", "k", 2, 1, 101, 7],
    answers: [[candidate(1, 3), candidate(2)], [leased(2)], 1, []],
  },
  { what: "extend", op: "workExtend", args: ["ns", [lease], 200], answers: [[current(1)]] },
  {
    what: "settle of an ack and a release: current leases, delete, update",
    op: "workSettle",
    args: ["ns", [{ ...lease, to: "ack" }, { ...lease, id: 2, to: "retry", visibleAt: 5, giveBack: true }], 1],
    answers: [[current(1), current(2)], 1, 1],
  },
  { what: "settle of a lost lease: one read", op: "workSettle", args: ["ns", [{ ...lease, to: "ack" }], 1], answers: [[]] },
  {
    what: "requeue of dead items, one with a dedup key: dead items, holders, update",
    op: "workRequeue",
    args: ["ns", "k", null, 1, 10],
    answers: [[{ id: 1, dedup: null }, { id: 2, dedup: "d" }], [], 2],
  },
  { what: "purge: dead items, delete", op: "workPurge", args: ["ns", "k", [1, 2], 10], answers: [[{ id: 1, dedup: null }], 1] },
  { what: "restore beyond the counter: counter, holders, insert, counter", op: "workRestore", args: ["ns", [workRow(1), workRow(2, "d")], 9], answers: [counter(0), [], 2, 1] },
  {
    what: "restore of ids the counter handed out: counter, held ids, holders, insert, counter",
    op: "workRestore",
    args: ["ns", [workRow(1), workRow(2, "d")], 9],
    answers: [counter(5), [], [], 2, 1],
  },
];

test("work programs: each path issues the statements it should, and a write of several statements is marked so in OP_FACTS", () => {
  for (const [family, programs, single] of FAMILIES) {
    for (const path of WORK_PATHS) {
      const answers = [...path.answers];
      const expected = answers.length;
      const statements = statementsOf((programs[path.op] as (...args: unknown[]) => SqlWork<unknown>)(...path.args), answers);
      assert.equal(statements.length, expected, `${family}: ${path.what}`);
      const writes = statements.filter((statement) => !/^SELECT/.test(statement.sql)).length;
      if (statements.length > 1 && writes > 0) assert.equal(OP_FACTS[path.op].steps, "several", `${family}: ${path.what}`);
      if (single.has(path.op)) assert.equal(statements.length, 1, `${family}: ${path.what}`);
    }
  }
});

test("work programs: a batch's statement texts are the same whatever its size", () => {
  const programs = sqlPrograms(1);
  const texts = (n: number) => {
    const ids = Array.from({ length: n }, (_, i) => i + 1);
    return [
      statementsOf(programs.workPush("ns", ids.map(() => workPush()), 1), [counter(n), n]),
      statementsOf(programs.workExtend("ns", ids.map((id) => ({ ...lease, id })), 5), [[]]),
      statementsOf(programs.workRestore("ns", ids.map((id) => workRow(id)), n), [counter(0), n, 1]),
    ].map((statements) => statements.map((statement) => statement.sql));
  };
  assert.deepEqual(texts(500), texts(2));
});

test("PostgreSQL's plain work calls: a claim is one statement, run again (up to CLAIM_ROUNDS) only while it dead-letters items", () => {
  const answered = (rows: unknown[]) => rows;
  const claimRow = (id: number, buried = 0) => ({ ...leased(id), was: 1, buried });
  const nothing = (buried: number) => ({ id: null, buried });
  assert.equal(statementsOf(claimRows("ns", "k", 4, 1, 101, 7), [answered([claimRow(1), claimRow(2)])]).length, 1, "a claim that met no over-limit item");
  assert.equal(statementsOf(claimRows("ns", "k", 4, 1, 101, 7), [answered([nothing(0)])]).length, 1, "a claim of an empty key");
  const rerun = statementsOf(claimRows("ns", "k", 4, 1, 101, 7), [answered([claimRow(1, 2)]), answered([claimRow(2), claimRow(3), claimRow(4)])]);
  assert.equal(rerun.length, 2, "two items dead-lettered: a second statement fills the limit");
  assert.equal(rerun[1]?.params[3], 3, "the second asks for what is still missing");
  const buriedOnly = Array.from({ length: CLAIM_ROUNDS + 2 }, () => answered([nothing(4)]));
  assert.equal(statementsOf(claimRows("ns", "k", 4, 1, 101, 7), buriedOnly).length, CLAIM_ROUNDS, "bounded");
  assert.match(rerun[0]?.sql ?? "", /FOR UPDATE SKIP LOCKED/);
});

test("PostgreSQL's plain work calls: a push without dedup keys is one statement; a settle locks the leases it reads", () => {
  assert.equal(statementsOf(pushPlain("ns", [workPush(), workPush()], 1), [[{ id: 2 }, { id: 1 }]]).length, 1);
  const settle = statementsOf(LOCKING_PROGRAMS.workSettle("ns", [{ ...lease, to: "ack" }], 1), [[current(1)], 1]);
  assert.equal(settle.length, 2);
  assert.match(settle[0]?.sql ?? "", /FOR UPDATE OF w$/);
  assert.doesNotMatch(statementsOf(sqlPrograms(1).workSettle("ns", [{ ...lease, to: "ack" }], 1), [[current(1)], 1])[0]?.sql ?? "", /FOR UPDATE/, "SQLite's settle takes no row lock");
});

test("SQLite's work programs (rowAtATime): a push inserts and an ack-only settle deletes with one statement per item, no row set", () => {
  const sqlite = sqlPrograms(1, { work: { rowAtATime: true } });
  const push = statementsOf(sqlite.workPush("ns", [workPush(), workPush()], 1), [counter(2), 1, 1]);
  assert.equal(push.filter((statement) => /^INSERT INTO stowage_work /.test(statement.sql)).length, 2);
  assert.ok(push.every((statement) => !statement.sql.includes("json_each")), "no row set");
  const acks = statementsOf(sqlite.workSettle("ns", [{ ...lease, to: "ack" }, { ...lease, id: 2, to: "ack" }], 1), [1, 0]);
  assert.deepEqual(acks.map((statement) => statement.sql.slice(0, 6)), ["DELETE", "DELETE"]);
  assert.deepEqual(acks.map((statement) => statement.params[2]), [1, 2]);
  const mixed = statementsOf(sqlite.workSettle("ns", [{ ...lease, to: "ack" }, { ...lease, id: 2, to: "retry", visibleAt: 5, giveBack: false }], 1), [[current(1), current(2)], 1, 1]);
  assert.match(mixed[0]?.sql ?? "", /^SELECT/, "a settle with a retry reads the current leases first");
});
