import assert from "node:assert/strict";
import { test } from "node:test";
import { isStowageError } from "../src/api/errors.js";
import type { EngineOps } from "../src/engines/engine.js";
import { WORK_UNSUPPORTED_OPS, type WorkOpName } from "../src/engines/work-unsupported.js";
import { MULTI_STATEMENT_WRITE_OPS, SINGLE_STATEMENT_OPS, sqlPrograms } from "../src/engines/sql/sql-ops.js";
import { stepsOf, type SqlPrograms, type SqlStep, type SqlWork } from "../src/engines/sql/sql-program.js";
import { distinctKeyParts, kvPutBatch, POSTGRES_PROGRAMS, POSTGRES_SINGLE_STATEMENT_OPS } from "../src/engines/postgres/postgres-programs.js";

const bytes = new Uint8Array([1, 2, 3]);
const range = { lower: "a", lowerInclusive: true, upper: "b" };
/** Arguments for every operation but the work queues' (refused until the SQL family has them), so that each program can be driven without a database. */
const ARGS: { [K in Exclude<keyof EngineOps, WorkOpName>]: Parameters<EngineOps[K]> } = {
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
  describe: [1],
};

/** Runs a program against canned answers and returns the statements it issued. */
function statementsOf(work: SqlWork<unknown>): SqlStep[] {
  const steps: SqlStep[] = [];
  const program = stepsOf(work);
  let step = program.next();
  while (step.done !== true) {
    steps.push(step.value);
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
    for (const name of Object.keys(ARGS) as Array<Exclude<keyof EngineOps, WorkOpName>>) {
      const make = programs[name] as (...args: unknown[]) => SqlWork<unknown>;
      const statements = statementsOf(make(...ARGS[name]));
      if (single.has(name)) assert.equal(statements.length, 1, `${name} is marked single-statement but issues ${statements.length}`);
      else if (statements.length === 1) {
        assert.match(statements[0]?.sql ?? "", /^SELECT/, `${name} is one writing statement: mark it single-statement so PostgreSQL runs it in one round trip`);
      }
      const writes = statements.filter((statement) => !/^SELECT/.test(statement.sql)).length;
      if (family.startsWith("shared") && statements.length > 1 && writes > 0) {
        assert.ok(MULTI_STATEMENT_WRITE_OPS.has(name), `${name} writes with ${statements.length} statements: list it in MULTI_STATEMENT_WRITE_OPS`);
      }
    }
    const workOps = Object.keys(WORK_UNSUPPORTED_OPS);
    assert.deepEqual(Object.keys(ARGS).sort(), Object.keys(programs).filter((name) => !workOps.includes(name)).sort(), "every operation has arguments here");
    for (const name of workOps) {
      assert.throws(() => (programs[name as WorkOpName] as () => unknown)(), (error: unknown) => isStowageError(error, "NOT_SUPPORTED"), `${name} is refused before it makes a statement`);
    }
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
