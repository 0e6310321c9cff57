import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { describeSkips, FULL_SUPPORT, planConformance } from "../src/conformance/index.js";
import { MemoryEngine } from "../src/engines/memory/memory-engine.js";
import { PostgresEngine } from "../src/engines/postgres/postgres-engine.js";
import { SqliteEngine } from "../src/engines/sqlite/sqlite-engine.js";
import { engineSupportTable } from "../src/engines/supports-table.js";
import { BUILT_IN_ENGINES } from "../src/engines/registry.js";
import { createStore, LIMITS, openStore, utf8, withCache, type Store } from "../src/index.js";
import { rejectsWith as failsWith } from "../src/conformance/harness.js";
import { DeclaredEngine, declaring } from "./helpers/declared-engine.js";

/** Asserts that `call` fails (synchronously or by rejecting) with `code` and a message containing each of `mentions`. */
function storeOver(engine: DeclaredEngine): Store {
  return createStore(engine, { sweepIntervalMs: 0 });
}

test("kv.watch on an engine without KV history is NOT_SUPPORTED, naming the engine and kvHistory, before any I/O; other feeds run", async () => {
  const engine = new DeclaredEngine("no-history", declaring({ kvHistory: false }));
  const store = storeOver(engine);
  try {
    await failsWith(() => store.kv("w").watch(["k"]), "NOT_SUPPORTED", "no-history engine", "kvHistory", 'namespace "w"');
    await failsWith(() => store.kv("w").watch(["k"], { since: 0 }), "NOT_SUPPORTED", "kvHistory");
    assert.equal(engine.calls, 0, "the refusal reached no engine call");
    assert.deepEqual((await store.info()).namespaces, [], "nothing was written");
    // Live feeds without a history still run.
    const stop = new AbortController();
    const tail = store.log("l", { codec: utf8 }).tail("k", { signal: stop.signal })[Symbol.asyncIterator]();
    const first = tail.next();
    await store.log("l", { codec: utf8 }).append("k", "entry");
    assert.equal((await first).value?.value, "entry");
    stop.abort();
    // The sweep trims no history on such an engine (it has none to trim).
    engine.ops.length = 0;
    await store.sweep();
    assert.ok(engine.ops.includes("kvSweepExpired"));
    assert.ok(!engine.ops.includes("kvHistoryTrim"), `the sweep ran ${engine.ops.join(", ")}`);
  } finally {
    await store.close();
  }
  // The same sweep on an engine with a history trims it.
  const full = new DeclaredEngine("full", declaring({}));
  const other = storeOver(full);
  await other.sweep();
  assert.ok(full.ops.includes("kvHistoryTrim"));
  await other.close();
});

test("log.tail, stream.subscribe and kv.watch on an engine without live feeds are NOT_SUPPORTED naming liveFeeds, before any I/O", async () => {
  const engine = new DeclaredEngine("no-feeds", declaring({ liveFeeds: false }));
  const store = storeOver(engine);
  try {
    await failsWith(() => store.log("l").tail("k"), "NOT_SUPPORTED", "no-feeds engine", "liveFeeds", 'namespace "l"');
    await failsWith(() => store.log("l").tail({ all: true }, { since: 0 }), "NOT_SUPPORTED", "liveFeeds");
    await failsWith(() => store.stream("s").subscribe("space"), "NOT_SUPPORTED", "no-feeds engine", "liveFeeds", 'namespace "s"');
    await failsWith(() => store.stream("s").subscribe("space", "segment"), "NOT_SUPPORTED", "liveFeeds");
    await failsWith(() => store.kv("w").watch(["k"]), "NOT_SUPPORTED", "no-feeds engine", "liveFeeds");
    assert.equal(engine.calls, 0);
    assert.deepEqual((await store.info()).namespaces, []);
    // Everything else works.
    await store.log("l").append("k", new Uint8Array([1]));
    assert.equal(await store.log("l").lastSeq(), 1);
  } finally {
    await store.close();
  }
});

test("a transaction across namespaces on an engine that cannot span them is NOT_SUPPORTED when it takes the second handle; nothing is written", async () => {
  const engine = new DeclaredEngine("one-namespace", declaring({ crossNamespaceTransactions: false }));
  const store = storeOver(engine);
  try {
    let opsBeforeRefusal = -1;
    let opsAfterRefusal = -2;
    await failsWith(
      () =>
        store.transaction(async (tx) => {
          await tx.kv("a").put("k", new Uint8Array([1]));
          opsBeforeRefusal = engine.ops.length;
          try {
            tx.log("b");
          } finally {
            opsAfterRefusal = engine.ops.length;
          }
        }),
      "NOT_SUPPORTED",
      "one-namespace engine",
      "crossNamespaceTransactions",
      'kv namespace "a"',
      'log namespace "b"',
    );
    assert.equal(opsAfterRefusal, opsBeforeRefusal, "taking the refused handle did no I/O");
    assert.equal(await store.kv("a").get("k"), undefined, "the transaction rolled back");
    // The same name under another primitive is another namespace.
    await failsWith(
      () =>
        store.transaction(async (tx) => {
          tx.kv("a");
          tx.log("a");
        }),
      "NOT_SUPPORTED",
      'kv namespace "a"',
      'log namespace "a"',
    );
    assert.deepEqual((await store.info()).namespaces, []);
    // One namespace, through several handles and codecs: committed.
    await store.transaction(async (tx) => {
      await tx.kv("a").put("x", new Uint8Array([1]));
      await tx.kv("a", { codec: utf8 }).put("y", "two");
    });
    assert.equal(await store.kv("a").count(), 2);
    // Each transaction starts afresh: another namespace alone is fine.
    await store.transaction(async (tx) => void (await tx.log("b").append("k", new Uint8Array(0))));
    assert.equal(await store.log("b").lastSeq(), 1);
  } finally {
    await store.close();
  }
});

const TIGHT = { maxKeyBytes: 100, maxValueBytes: 1_000, maxTransactionWrites: 5, maxTransactionBytes: 3_000 };

test("writes over an engine's tighter key and value limits are LIMIT_EXCEEDED naming the engine's limit, before any I/O", async () => {
  const engine = new DeclaredEngine("tight", declaring({ limits: TIGHT }));
  const store = storeOver(engine);
  try {
    const longKey = "k".repeat(101);
    const big = new Uint8Array(1_001);
    await failsWith(() => store.kv("a").put(longKey, new Uint8Array(0)), "LIMIT_EXCEEDED", "tight engine's limit (maxKeyBytes) is 100", 'namespace "a"');
    await failsWith(() => store.kv("a").put("k", big), "LIMIT_EXCEEDED", "value is 1001 bytes", "tight engine's limit (maxValueBytes) is 1000");
    await failsWith(() => store.log("a").append("k", big), "LIMIT_EXCEEDED", "maxValueBytes");
    await failsWith(() => store.slot("a").upsert(longKey, new Uint8Array(0)), "LIMIT_EXCEEDED", "maxKeyBytes");
    await failsWith(() => store.slot("a").cas("k", 0, big), "LIMIT_EXCEEDED", "maxValueBytes");
    await failsWith(() => store.queue("a").push("k", big), "LIMIT_EXCEEDED", "maxValueBytes");
    // A key counts in UTF-8 bytes: 51 two-byte characters are 102 bytes.
    await failsWith(() => store.kv("a").put("é".repeat(51), new Uint8Array(0)), "LIMIT_EXCEEDED", "102 bytes", "maxKeyBytes");
    const stream = store.stream("s");
    await failsWith(() => stream.produce(longKey, "g", [{ value: new Uint8Array(0) }]), "LIMIT_EXCEEDED", "space is 101 bytes", "maxKeyBytes");
    await failsWith(() => stream.produce("sp", longKey, [{ value: new Uint8Array(0) }]), "LIMIT_EXCEEDED", "maxKeyBytes");
    await failsWith(() => stream.produce("sp", "g", [{ value: big }]), "LIMIT_EXCEEDED", "maxValueBytes");
    // One produce is one commit: its records count against the engine's commit limits.
    const six = Array.from({ length: 6 }, () => ({ value: new Uint8Array(0) }));
    await failsWith(() => stream.produce("sp", "g", six), "LIMIT_EXCEEDED", "at most 5 writes", "tight engine's maxTransactionWrites");
    const fourLarge = Array.from({ length: 4 }, () => ({ value: new Uint8Array(1_000) }));
    await failsWith(() => stream.produce("sp", "g", fourLarge), "LIMIT_EXCEEDED", "at most 3000 bytes", "tight engine's maxTransactionBytes");
    assert.equal(engine.calls, 0, "no refusal reached the engine");
    assert.deepEqual((await store.info()).namespaces, [], "nothing was written");
    // At the limits, writes pass; a read of a longer key reaches the engine and finds nothing.
    await store.kv("a").put("k".repeat(100), new Uint8Array(1_000));
    assert.equal((await store.kv("a").get("k".repeat(100)))?.byteLength, 1_000);
    assert.equal(await store.kv("a").get(longKey), undefined);
    assert.equal((await stream.produce("sp", "g", six.slice(1))).lastSeq, 5);
    // Stowage's own limits keep their messages.
    await failsWith(() => store.kv("a").get("k".repeat(LIMITS.maxKeyBytes + 1)), "LIMIT_EXCEEDED", `the limit is ${LIMITS.maxKeyBytes} bytes`);
  } finally {
    await store.close();
  }
});

test("a transaction over an engine's tighter commit limits is LIMIT_EXCEEDED naming the limit, and rolls back", async () => {
  const engine = new DeclaredEngine("tight", declaring({ limits: TIGHT }));
  const store = storeOver(engine);
  try {
    await failsWith(
      () =>
        store.transaction(async (tx) => {
          for (let i = 0; i < 6; i++) await tx.kv("a").put(`k${i}`, new Uint8Array(0));
        }),
      "LIMIT_EXCEEDED",
      "a transaction may make at most 5 writes",
      "tight engine's maxTransactionWrites",
    );
    await failsWith(
      () =>
        store.transaction(async (tx) => {
          for (let i = 0; i < 3; i++) await tx.kv("a").put(`k${i}`, new Uint8Array(1_000));
        }),
      "LIMIT_EXCEEDED",
      "at most 3000 bytes",
      "tight engine's maxTransactionBytes",
    );
    assert.equal(await store.kv("a").count(), 0);
    await store.transaction(async (tx) => {
      for (let i = 0; i < 5; i++) await tx.kv("a").put(`k${i}`, new Uint8Array(100));
    });
    assert.equal(await store.kv("a").count(), 5);
  } finally {
    await store.close();
  }
  // Where the engine declares stowage's own limits, the message names LIMITS.
  const plain = storeOver(new DeclaredEngine("plain", declaring({})));
  await failsWith(
    () =>
      plain.transaction(async (tx) => {
        for (let i = 0; i <= LIMITS.maxTransactionWrites; i++) await tx.kv("a").put(`k${i}`, new Uint8Array(0));
      }),
    "LIMIT_EXCEEDED",
    `at most ${LIMITS.maxTransactionWrites} writes (LIMITS.maxTransactionWrites)`,
  );
  await plain.close();
});

test("createStore refuses a malformed manifest, or limits looser than LIMITS, with INVALID_ARGUMENT naming the field", async () => {
  const bad: Array<[unknown, string]> = [
    [undefined, "must be an object"],
    [{ ...MemoryEngine.supports, kvHistory: "yes" }, "kvHistory must be a boolean"],
    [{ ...MemoryEngine.supports, limits: undefined }, "limits must be an object"],
    [declaring({ limits: { ...TIGHT, maxKeyBytes: LIMITS.maxKeyBytes + 1 } }), "limits.maxKeyBytes must be a whole number from 1 to LIMITS.maxKeyBytes (1024)"],
    [declaring({ limits: { ...TIGHT, maxValueBytes: 0 } }), "limits.maxValueBytes"],
    [declaring({ limits: { ...TIGHT, maxTransactionWrites: 2.5 } }), "limits.maxTransactionWrites"],
  ];
  for (const [supports, mention] of bad) {
    await failsWith(() => createStore(new DeclaredEngine("odd", supports as never)), "INVALID_ARGUMENT", "odd engine's supports manifest", mention);
  }
  // Live feeds need a change signal.
  const silent = Object.create(new DeclaredEngine("silent", declaring({})), { changes: { value: undefined } });
  await failsWith(() => createStore(silent), "INVALID_ARGUMENT", "liveFeeds is true, but the engine has no changes signal");
  const quiet = Object.create(new DeclaredEngine("quiet", declaring({ liveFeeds: false })), { changes: { value: undefined } });
  await createStore(quiet).close();
});

test("info() and health() report the engine's manifest, through wrappers too; the built-in engines declare theirs", async () => {
  const declared = declaring({ kvHistory: false, limits: TIGHT });
  const store = storeOver(new DeclaredEngine("declared", declared));
  assert.deepEqual((await store.info()).supports, declared);
  assert.deepEqual((await store.health()).supports, declared);
  const cached = withCache(store);
  assert.deepEqual((await cached.info()).supports, declared);
  assert.deepEqual((await cached.health()).supports, declared);
  await failsWith(() => cached.kv("w").watch(["k"]), "NOT_SUPPORTED", "declared engine", "kvHistory");
  await cached.close();
  await store.close();

  const memory = await openStore({ backend: "memory" });
  assert.deepEqual((await memory.info()).supports, MemoryEngine.supports);
  assert.deepEqual((await memory.health()).supports, MemoryEngine.supports);
  await memory.close();
  const dir = mkdtempSync(join(tmpdir(), "stowage-capabilities-"));
  try {
    const sqlite = await openStore({ backend: "sqlite", path: join(dir, "s.db"), sweepIntervalMs: 0 });
    assert.deepEqual((await sqlite.info()).supports, SqliteEngine.supports);
    await sqlite.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // PostgreSQL's manifest is checked against a live store by the first case of test/postgres-conformance.test.ts.
  for (const supports of [MemoryEngine.supports, SqliteEngine.supports, PostgresEngine.supports]) {
    assert.deepEqual(supports.limits, { maxKeyBytes: LIMITS.maxKeyBytes, maxValueBytes: LIMITS.maxValueBytes, maxTransactionWrites: LIMITS.maxTransactionWrites, maxTransactionBytes: LIMITS.maxTransactionBytes });
    assert.ok(Object.isFrozen(supports));
  }
  assert.equal(MemoryEngine.supports.crossProcess, false);
  assert.equal(SqliteEngine.supports.crossProcess && PostgresEngine.supports.crossProcess, true);
});

test("the conformance plan skips exactly the cases needing what a manifest lacks, and nothing for the built-in engines", () => {
  for (const supports of [MemoryEngine.supports, SqliteEngine.supports, PostgresEngine.supports, FULL_SUPPORT]) {
    assert.deepEqual(describeSkips(planConformance(supports)), []);
  }
  // An engine without work queues skips the groups of work queues whole, and the dump cases of work sections.
  assert.deepEqual(describeSkips(planConformance(declaring({ workQueues: false }))), [
    "dumps (4 of 11 cases: no workQueues)",
    "work (every case: no workQueues)",
    "worker (every case: no workQueues)",
  ]);
  // Each with work queues declared, so that only the capability under test is missing.
  const noHistory = planConformance(declaring({ kvHistory: false, workQueues: true })).filter((c) => c.missing.length > 0);
  assert.ok(noHistory.length > 0 && noHistory.every((c) => ["feeds", "coordination"].includes(c.group) && /watch/.test(c.name)), noHistory.map((c) => c.name).join("\n"));
  // The worker's wake-up by a push needs the change signal; without one a worker wakes by its timers only.
  assert.deepEqual(describeSkips(planConformance(declaring({ liveFeeds: false, workQueues: true }))), [
    "feeds (every case: no liveFeeds)",
    "worker (1 of 11 cases: no liveFeeds)",
    "coordination (3 of 10 cases: no liveFeeds)",
  ]);
  const oneNamespace = describeSkips(planConformance(declaring({ crossNamespaceTransactions: false, workQueues: true })));
  assert.ok(oneNamespace.some((line) => /^transactions \(\d+ of \d+ cases: no crossNamespaceTransactions\)$/.test(line)), oneNamespace.join("\n"));
});

test("the README's engine table is the one the manifests generate", () => {
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  const section = /<!-- engine-table:begin -->\n([^]*?)\n<!-- engine-table:end -->/.exec(readme);
  assert.ok(section !== null, "the README has the engine table markers");
  const expected = engineSupportTable(BUILT_IN_ENGINES);
  assert.equal(section[1], expected, "the README's engine table differs from the manifests: paste the expected table between the markers");
});
