/**
 * Bad input never gets through and never changes stored data.
 *
 * 1. A table: every public method — the Store, its kv/log/slot/queue handles, the same handles inside a transaction,
 *    store.transaction and openStore — called with wrong types, empty and oversized keys and values, lone UTF-16
 *    surrogates, NUL, bad namespaces, negative / fractional / non-finite / huge numbers and unknown option fields,
 *    and every method of a closed store and of an ended transaction. Work queues have a table of their own (every
 *    method, leases of another namespace or with forged fields, work() inside a transaction), seeded with ready,
 *    delayed, leased and dead items and a held lease that must stay current. Each call must fail with a StowageError of the
 *    exact code src/ defines, as a throw (handle factories) or a rejection (methods), naming the namespace and key;
 *    and the seeded data must read back exactly as before.
 * 2. A fast-check fuzz: FUZZ_CALLS (default 2,000; the soak sets 100,000) random,
 *    mostly invalid calls per engine,
 *    judged by an oracle written from the README's rules (test/helpers/bad-input-model.ts): a call succeeds only if
 *    the oracle says it is valid, otherwise it fails with one of the codes of the rules it breaks; after every batch
 *    the seeded data is unchanged. Valid writes are sent to a scratch namespace, so "unchanged" is exact.
 *
 * Both run on every engine: memory, SQLite, the ordered-KV family (a sorted in-memory store, LMDB, LevelDB), and
 * etcd, Redis and Azure Table (azurite) on real servers started for this file, where the oracle takes the engine's
 * own lower limits (values, transactions) from `store.info()`. Tests whose name starts with "regression" pin down defects this file
 * found, fixed since: a codec throwing a non-Error, a forged cursor, an unchecked clock, dropOldest(key, 0) on a
 * closed store, createStore without checks.
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import fc from "fast-check";
import { MemoryEngine } from "../src/engines/memory/memory-engine.js";
import { createStore, json, LIMITS, openStore, StowageError, type Codec, type ErrorCode, type Lease, type Store, type TransactionScope } from "../src/index.js";
import {
  BAD_CODECS,
  CIRCULAR,
  CODECS,
  codecNameOf,
  codecOf,
  enc,
  FIXED_NOW,
  forgeCursor,
  handleOptionsArb,
  handleViolations,
  IA,
  LE,
  MAX_VALUE,
  METHODS,
  namespaceViolations,
  NON_STRINGS,
  nsArb,
  OTHER_NS,
  OVER_BUFFER,
  OVER_BYTES,
  OVER_STRING,
  PRIMITIVES,
  SCRATCH_NS,
  SEED_NS,
  seed,
  show,
  snapshot,
  transactionViolations,
  txBodyArb,
  txOptionsArb,
  VALID_BODY,
  WORK_OPTIONS,
  workSnapshot,
  seedWork,
  writeBytes,
  type CodecName,
  type Cursors,
  type MethodSpec,
  type Primitive,
  type StoreFacts,
  type Violation,
} from "./helpers/bad-input-model.js";
import { tempDir } from "./helpers/child.js";
import { NETWORKED_ENGINES, useNetworkedServers, type NetworkedEngine } from "./helpers/networked-stores.js";
import { OrderedEngine } from "../src/engines/ordered/ordered-engine.js";
import { SortedKeySpace, SortedOrderedStore } from "./helpers/sorted-ordered-store.js";

/**
 * Calls per engine, networked ones included: enough that every kind of input shows up in every run. The rarest
 * (options:missing, 1 call in 100 to 200) came out 7 to 19 times in 1,500 to 2,000 calls; 500 calls once missed it.
 */
const FUZZ_CALLS = Number(process.env.FUZZ_CALLS ?? 2_000);
const FUZZ_SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
/** Calls per fast-check run; the seeded data is compared after each run. At most 10 × 1 MiB valid values per transaction. */
const BATCH = 10;
const ENGINES = ["memory", "sqlite", "ordered", "lmdb", "leveldb", ...NETWORKED_ENGINES] as const;
type EngineName = (typeof ENGINES)[number];
const isNetworked = (engine: EngineName): engine is NetworkedEngine => (NETWORKED_ENGINES as readonly string[]).includes(engine);
const CLOSED = "CLOSED" satisfies ErrorCode;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

// Real servers for the networked engines; one that cannot start fails its engine's tests rather than skip them.
const networkedStore = useNetworkedServers();

// ---------------------------------------------------------------------------------------------------------------
// Stores, outcomes and the checks of one failed call
// ---------------------------------------------------------------------------------------------------------------

interface Fixture {
  store: Store;
  reopen(): Promise<Store>;
  cleanup(): Promise<void>;
}

/** A store opened by `openOne`, which opens the same data again on reopen; every store opened is closed, then `removeData` runs. */
async function reopenable(openOne: () => Promise<Store>, removeData: () => void): Promise<Fixture> {
  const opened: Store[] = [];
  const openTracked = async () => {
    const store = await openOne();
    opened.push(store);
    return store;
  };
  return {
    store: await openTracked(),
    reopen: openTracked,
    cleanup: async () => {
      for (const s of opened) await s.close();
      removeData();
    },
  };
}

/**
 * A fresh store with the fixed clock; SQLite, LMDB and LevelDB in their own temp folder, removed by cleanup; a
 * networked engine on a prefix or table of its own.
 */
async function open(engine: EngineName): Promise<Fixture> {
  const options = { sweepIntervalMs: 0, clock: () => FIXED_NOW };
  if (isNetworked(engine)) {
    const target = networkedStore(engine, "badinput");
    return reopenable(() => openStore({ ...target, ...options }), () => undefined);
  }
  if (engine === "memory") {
    const store = await openStore({ backend: "memory", ...options });
    return { store, reopen: () => Promise.reject(new Error("a memory store cannot be reopened")), cleanup: () => store.close() };
  }
  if (engine === "ordered") {
    // The ordered-KV family on the tests' sorted store: reopening opens another store on the same key space.
    const space = new SortedKeySpace();
    return reopenable(async () => createStore(await OrderedEngine.open(new SortedOrderedStore(space)), options), () => undefined);
  }
  const tmp = tempDir("bad-input");
  const path = join(tmp.dir, engine === "sqlite" ? "store.db" : "store");
  return reopenable(() => openStore({ backend: engine, path, ...options }), () => tmp.remove());
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown; sync: boolean };

/** For handle factories, which answer (or throw) at once. */
function settleSync(call: () => unknown): Outcome {
  try {
    return { ok: true, value: call() };
  } catch (error) {
    return { ok: false, error, sync: true };
  }
}

/** For methods, which must reject their promise rather than throw. */
async function settle(call: () => unknown): Promise<Outcome> {
  let running: unknown;
  try {
    running = call();
  } catch (error) {
    return { ok: false, error, sync: true };
  }
  try {
    return { ok: true, value: await running };
  } catch (error) {
    return { ok: false, error, sync: false };
  }
}

const errorText = (error: unknown): string =>
  error instanceof Error ? `${error.constructor.name}: ${error.message.slice(0, 300)}` : `a thrown ${show(error)}`;

/** The start of how a message quotes `key` (first 10 code points, so never cut inside a pair or by the truncation). */
const keyShown = (key: string): string => JSON.stringify(Array.from(key).slice(0, 10).join("")).slice(0, -1);

interface Expectation {
  code: ErrorCode;
  /** True for handle factories (a throw), false for methods (a rejected promise). */
  sync: boolean;
  /** The namespace the error must carry and name. */
  ns?: string;
  /** The key the error must carry and name. */
  key?: string;
  /** A bad namespace the message must quote. */
  quotedNs?: string;
  /** Words the message must contain (the argument's name). */
  mentions?: readonly string[];
}

function assertRejected(label: string, outcome: Outcome, want: Expectation): StowageError {
  if (outcome.ok) assert.fail(`${label}: expected ${want.code}, but the call succeeded and returned ${show(outcome.value)}`);
  const { error } = outcome;
  assert.ok(error instanceof StowageError, `${label}: expected a StowageError ${want.code}, got ${errorText(error)}`);
  assert.equal(error.code, want.code, `${label}: wrong code; message: ${error.message}`);
  assert.equal(error.name, "StowageError");
  assert.ok(error.message.startsWith(`${want.code}: `), `${label}: the message should start with the code: ${error.message}`);
  assert.equal(outcome.sync, want.sync, `${label}: ${want.sync ? "a handle factory must throw at once" : "a method must reject, not throw"}`);
  if (want.ns !== undefined) {
    assert.equal(error.namespace, want.ns, `${label}: error.namespace; message: ${error.message}`);
    assert.ok(error.message.includes(`namespace "${want.ns}"`), `${label}: the message should name the namespace: ${error.message}`);
  }
  if (want.key !== undefined) {
    assert.equal(error.key, want.key, `${label}: error.key; message: ${error.message}`);
    assert.ok(error.message.includes(keyShown(want.key)), `${label}: the message should name the key: ${error.message}`);
  }
  if (want.quotedNs !== undefined) {
    assert.ok(error.message.includes(want.quotedNs), `${label}: the message should quote the namespace ${want.quotedNs}: ${error.message}`);
  }
  for (const word of want.mentions ?? []) {
    assert.ok(error.message.includes(word), `${label}: the message should name ${JSON.stringify(word)}: ${error.message}`);
  }
  return error;
}

type AnyHandle = Record<string, (...args: unknown[]) => Promise<unknown>>;
type Factories = Record<Primitive, (ns: unknown, options?: unknown) => AnyHandle>;
/** The factories of a store or transaction scope, callable with anything (called as methods, so `this` holds). */
const factories = (scope: TransactionScope): Factories => scope as unknown as Factories;
const seedHandle = (scope: TransactionScope, primitive: Primitive, options?: unknown): AnyHandle => factories(scope)[primitive](SEED_NS, options);

async function cursorsOf(store: Store): Promise<Cursors> {
  const forward = (await store.kv(SEED_NS).list({ limit: 1 })).cursor;
  const reverse = (await store.kv(SEED_NS).list({ limit: 1, reverse: true })).cursor;
  assert.ok(forward !== undefined && reverse !== undefined, "the seeded namespace should need more than one page");
  return { forward, reverse };
}

// ---------------------------------------------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------------------------------------------

interface Row extends Expectation {
  name: string;
  call: (scope: TransactionScope) => unknown;
  /** Calls only the store has (transaction): not repeated through tx handles. */
  storeOnly?: boolean;
}

const V = enc('"ok"');
const BAD_NAMESPACES: readonly unknown[] = ["", "n".repeat(65), "-a", ".a", "_a", "a b", "a/b", "ä", "a\u0000", "a\n", "seed\uD800", "seed!", ...NON_STRINGS];

/** Keys that break one rule each, with the code src/store/validate.ts gives and a word of the message. */
const BAD_KEYS: ReadonlyArray<{ key: unknown; code: ErrorCode; word: string }> = [
  ...NON_STRINGS.map((key) => ({ key, code: IA as ErrorCode, word: "must be a string" })),
  { key: "", code: IA, word: "empty" },
  { key: "\uD800", code: IA, word: "surrogate" },
  { key: "a\uDC00b", code: IA, word: "surrogate" },
  { key: "k1\uDBFF", code: IA, word: "surrogate" },
  { key: "\uDC00\uD800", code: IA, word: "surrogate" },
  { key: "\u0000", code: IA, word: "U+0000" },
  { key: "k1\u0000x", code: IA, word: "U+0000" },
  { key: "a".repeat(1025), code: LE, word: "1025 bytes" },
  { key: "é".repeat(513), code: LE, word: "1026 bytes" },
  { key: "\u{10000}".repeat(256) + "a", code: LE, word: "1025 bytes" },
  { key: "k".repeat(65_536), code: LE, word: "65536 bytes" },
];

/** Every method that takes a key, with otherwise valid arguments. */
const KEYED: ReadonlyArray<{ primitive: Primitive; method: string; args: (key: unknown) => unknown[] }> = [
  { primitive: "kv", method: "put", args: (k) => [k, V] },
  { primitive: "kv", method: "get", args: (k) => [k] },
  { primitive: "kv", method: "delete", args: (k) => [k] },
  { primitive: "log", method: "append", args: (k) => [k, V] },
  { primitive: "log", method: "list", args: (k) => [k] },
  { primitive: "log", method: "since", args: (k) => [k, 0] },
  { primitive: "slot", method: "get", args: (k) => [k] },
  { primitive: "slot", method: "upsert", args: (k) => [k, V] },
  { primitive: "slot", method: "cas", args: (k) => [k, 0, V] },
  { primitive: "queue", method: "push", args: (k) => [k, V] },
  { primitive: "queue", method: "peek", args: (k) => [k] },
  { primitive: "queue", method: "ack", args: (k) => [k, 1] },
  { primitive: "queue", method: "dropOldest", args: (k) => [k, 1] },
  { primitive: "queue", method: "len", args: (k) => [k] },
];

/** Every method that takes a value: the value is the last argument. */
const WRITERS: ReadonlyArray<{ primitive: Primitive; method: string; args: (value: unknown) => unknown[] }> = [
  { primitive: "kv", method: "put", args: (v) => ["k1", v] },
  { primitive: "log", method: "append", args: (v) => ["k1", v] },
  { primitive: "slot", method: "upsert", args: (v) => ["k1", v] },
  { primitive: "slot", method: "cas", args: (v) => ["k1", 2, v] },
  { primitive: "queue", method: "push", args: (v) => ["k1", v] },
];

/** Values each codec refuses, with the code and a word of the message. */
const BAD_VALUES: ReadonlyArray<{ codec: CodecName; value: unknown; code: ErrorCode; word: string }> = [
  ...[
    ["text", "string"], [5, "number"], [null, "null"], [undefined, "undefined"], [{}, "object"], [[1, 2], "array"], [true, "boolean"],
    [Symbol("v"), "symbol"], [1n, "bigint"], [() => 1, "function"], [new ArrayBuffer(4), "ArrayBuffer"], [new DataView(new ArrayBuffer(4)), "DataView"],
    [new Uint8ClampedArray(4), "Uint8ClampedArray"], [new Int8Array(4), "Int8Array"], [new Uint16Array(2), "Uint16Array"],
  ].map(([value, word]) => ({ codec: "default" as CodecName, value, code: IA as ErrorCode, word: word as string })),
  { codec: "default", value: OVER_BYTES, code: LE, word: `${MAX_VALUE + 1} bytes` },
  { codec: "bytes", value: OVER_BUFFER, code: LE, word: `${MAX_VALUE + 1} bytes` },
  { codec: "json", value: undefined, code: IA, word: "encode" },
  { codec: "json", value: () => 1, code: IA, word: "encode" },
  { codec: "json", value: Symbol("v"), code: IA, word: "encode" },
  { codec: "json", value: 1n, code: IA, word: "BigInt" },
  { codec: "json", value: CIRCULAR, code: IA, word: "circular" },
  { codec: "json", value: "x".repeat(MAX_VALUE - 1), code: LE, word: `${MAX_VALUE + 1} bytes` },
  { codec: "utf8", value: Symbol("v"), code: IA, word: "encode" },
  { codec: "utf8", value: OVER_STRING, code: LE, word: `${MAX_VALUE + 1} bytes` },
  { codec: "utf8", value: "é".repeat(MAX_VALUE / 2 + 1), code: LE, word: `${MAX_VALUE + 2} bytes` },
  { codec: "notBytes", value: V, code: IA, word: "Uint8Array" },
  { codec: "throws", value: V, code: IA, word: "cannot encode this" },
  { codec: "tooBig", value: V, code: LE, word: `${MAX_VALUE + 1} bytes` },
];

/** Numbers an argument in [min, max] refuses (undefined too when it is required). */
function badInts(min: number, max: number, optional: boolean): unknown[] {
  const list: unknown[] = [min - 1, -1, -0.5, 1.5, min + 0.5, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, max + 1, 2 ** 53, 1e300];
  list.push("1", null, true, 1n, {}, [1], Symbol("n"));
  if (!optional) list.push(undefined);
  return list.filter((v, i) => list.findIndex((w) => Object.is(v, w)) === i);
}

/** Every bounded number argument: where it goes, its range, whether the error carries the key. */
const NUMBER_SITES: ReadonlyArray<{ name: string; word: string; min: number; max: number; optional: boolean; key?: string; call: (s: TransactionScope, n: unknown) => unknown }> = [
  { name: "kv.put ttlMs", word: "ttlMs", min: 1, max: LIMITS.maxTtlMs, optional: true, key: "k1", call: (s, n) => seedHandle(s, "kv").put!("k1", V, { ttlMs: n }) },
  { name: "kv.list limit", word: "limit", min: 1, max: LIMITS.maxPageSize, optional: true, call: (s, n) => seedHandle(s, "kv").list!({ limit: n }) },
  { name: "log.list limit", word: "limit", min: 1, max: LIMITS.maxPageSize, optional: true, key: "k1", call: (s, n) => seedHandle(s, "log").list!("k1", { limit: n }) },
  { name: "log.since seq", word: "seq", min: 0, max: MAX_SAFE, optional: false, key: "k1", call: (s, n) => seedHandle(s, "log").since!("k1", n) },
  { name: "log.since limit", word: "limit", min: 1, max: LIMITS.maxPageSize, optional: true, key: "k1", call: (s, n) => seedHandle(s, "log").since!("k1", 0, { limit: n }) },
  { name: "slot.cas expectedVersion", word: "expectedVersion", min: 0, max: MAX_SAFE, optional: false, key: "k1", call: (s, n) => seedHandle(s, "slot").cas!("k1", n, V) },
  { name: "queue.peek limit", word: "limit", min: 1, max: LIMITS.maxPageSize, optional: true, key: "k1", call: (s, n) => seedHandle(s, "queue").peek!("k1", n) },
  { name: "queue.ack id", word: "id", min: 1, max: MAX_SAFE, optional: false, key: "k1", call: (s, n) => seedHandle(s, "queue").ack!("k1", n) },
  { name: "queue.dropOldest count", word: "count", min: 0, max: MAX_SAFE, optional: false, key: "k1", call: (s, n) => seedHandle(s, "queue").dropOldest!("k1", n) },
];

const NOT_OBJECTS: readonly unknown[] = [null, "x", 5, true, [], [{}], () => ({}), Symbol("o")];
const BAD_BOUNDS: ReadonlyArray<{ bound: unknown; code: ErrorCode }> = [
  { bound: 5, code: IA }, { bound: null, code: IA }, { bound: ["a"], code: IA }, { bound: "\uD800", code: IA }, { bound: "a\uDC00", code: IA },
  { bound: "a\u0000", code: IA }, { bound: "a".repeat(1025), code: LE },
];

function tableRows(cursors: Cursors): Row[] {
  const rows: Row[] = [];
  const onSeed = (primitive: Primitive, method: string, args: unknown[], options?: unknown) => (s: TransactionScope) =>
    seedHandle(s, primitive, options)[method]!(...args);

  // Namespaces, for every primitive.
  for (const primitive of PRIMITIVES) {
    for (const ns of BAD_NAMESPACES) {
      rows.push({
        name: `${primitive}(${show(ns)})`, call: (s) => factories(s)[primitive](ns), code: IA, sync: true, mentions: ["namespace"],
        quotedNs: typeof ns === "string" ? JSON.stringify(ns) : undefined,
      });
    }
  }

  // Handle options.
  const codecOptionRows: Array<[unknown, string]> = [
    ...NOT_OBJECTS.map((o): [unknown, string] => [o, "options must be an object"]),
    ...BAD_CODECS.map((codec): [unknown, string] => [{ codec }, "codec must be an object with encode and decode"]),
    [{ codecs: json() }, '"codecs"'],
  ];
  for (const primitive of PRIMITIVES) {
    for (const [options, word] of codecOptionRows) {
      rows.push({ name: `${primitive}("seed", ${show(options)})`, call: (s) => seedHandle(s, primitive, options), code: IA, sync: true, ns: SEED_NS, mentions: [word] });
    }
  }
  for (const primitive of ["kv", "log", "slot"] as const) {
    rows.push({ name: `${primitive}("seed", { maxLen })`, call: (s) => seedHandle(s, primitive, { maxLen: 5 }), code: IA, sync: true, ns: SEED_NS, mentions: ['"maxLen"'] });
  }
  for (const maxLen of badInts(1, LIMITS.maxQueueLength, true)) {
    rows.push({ name: `queue maxLen ${show(maxLen)}`, call: (s) => seedHandle(s, "queue", { maxLen }), code: IA, sync: true, ns: SEED_NS, mentions: ["maxLen"] });
  }
  for (const overflow of ["drop-newest", "REJECT", "", null, 1, true]) {
    rows.push({ name: `queue overflow ${show(overflow)}`, call: (s) => seedHandle(s, "queue", { overflow }), code: IA, sync: true, ns: SEED_NS, mentions: ["overflow"] });
  }
  rows.push({ name: "queue unknown option", call: (s) => seedHandle(s, "queue", { maxLength: 5 }), code: IA, sync: true, ns: SEED_NS, mentions: ['"maxLength"'] });

  // Keys, for every method that takes one.
  for (const { primitive, method, args } of KEYED) {
    for (const { key, code, word } of BAD_KEYS) {
      rows.push({
        name: `${primitive}.${method} key ${show(key)}`, call: onSeed(primitive, method, args(key)), code, sync: false, ns: SEED_NS,
        key: typeof key === "string" ? key : undefined, mentions: ["key", word],
      });
    }
  }

  // Values, for every method that takes one, under each codec.
  for (const { primitive, method, args } of WRITERS) {
    for (const { codec, value, code, word } of BAD_VALUES) {
      const options = codec === "default" ? undefined : { codec: CODECS[codec] };
      rows.push({
        name: `${primitive}.${method} ${codec} value ${show(value)}`, call: onSeed(primitive, method, args(value), options), code, sync: false,
        ns: SEED_NS, key: "k1", mentions: [word],
      });
    }
  }

  // Numbers.
  for (const site of NUMBER_SITES) {
    for (const n of badInts(site.min, site.max, site.optional)) {
      rows.push({ name: `${site.name} ${show(n)}`, call: (s) => site.call(s, n), code: IA, sync: false, ns: SEED_NS, key: site.key, mentions: [site.word] });
    }
  }

  // Options objects of methods.
  const optionRows: Array<[string, Primitive, string, (o: unknown) => unknown[], readonly unknown[]]> = [
    ["put options", "kv", "put", (o) => ["k1", V, o], [...NOT_OBJECTS, { ttl: 5 }, { ttlMs: 5, expires: 1 }]],
    ["list options", "kv", "list", (o) => [o], [...NOT_OBJECTS, { color: "red" }, { limit: 1, offset: 2 }]],
    ["count options", "kv", "count", (o) => [o], [...NOT_OBJECTS, { limit: 1 }, { reverse: true }, { cursor: cursors.forward }]],
    ["deleteRange options", "kv", "deleteRange", (o) => [o], [...NOT_OBJECTS, { limit: 1 }, { keysOnly: true }, { all: true }]],
    ["log read options", "log", "list", (o) => ["k1", o], [...NOT_OBJECTS, { since: 1 }, { limit: 1, reverse: true }]],
    ["log read options", "log", "since", (o) => ["k1", 0, o], [...NOT_OBJECTS, { after: 1 }]],
  ];
  for (const [word, primitive, method, args, values] of optionRows) {
    for (const options of values) {
      rows.push({ name: `${primitive}.${method}(${show(options)})`, call: onSeed(primitive, method, args(options)), code: IA, sync: false, ns: SEED_NS, mentions: [word] });
    }
  }
  rows.push({ name: "kv.deleteRange()", call: onSeed("kv", "deleteRange", []), code: IA, sync: false, ns: SEED_NS, mentions: ["deleteRange needs a range"] });
  const listFields: Array<[unknown, string]> = [
    [{ reverse: "yes" }, "reverse"], [{ reverse: 1 }, "reverse"], [{ reverse: null }, "reverse"], [{ keysOnly: "true" }, "keysOnly"], [{ keysOnly: 0 }, "keysOnly"],
    [{ cursor: "" }, "cursor"], [{ cursor: 17 }, "cursor"], [{ cursor: null }, "cursor"], [{ cursor: "garbage!" }, "cursor"], [{ cursor: "!!!!" }, "cursor"],
    [{ cursor: cursors.reverse }, "other direction"], [{ cursor: cursors.forward, reverse: true }, "other direction"],
    [{ cursor: forgeCursor([2, 0, "k1"]) }, "cursor"], [{ cursor: forgeCursor({ after: "k1" }) }, "cursor"], [{ cursor: forgeCursor([1, 0, 5]) }, "cursor"],
  ];
  for (const [options, word] of listFields) {
    rows.push({ name: `kv.list(${show(options)})`, call: onSeed("kv", "list", [options]), code: IA, sync: false, ns: SEED_NS, mentions: [word] });
  }
  for (const method of ["list", "count", "deleteRange"]) {
    for (const field of ["prefix", "start", "end"]) {
      for (const { bound, code } of BAD_BOUNDS) {
        rows.push({
          name: `kv.${method}({ ${field}: ${show(bound)} })`, call: onSeed("kv", method, [{ [field]: bound }]), code, sync: false, ns: SEED_NS, mentions: [field],
        });
      }
    }
  }

  // A codec that cannot decode the stored bytes: CORRUPT, naming the namespace and the key.
  const refuses = { codec: { encode: (v: Uint8Array) => v, decode: () => { throw new Error("undecodable"); } } };
  const reads: Array<[Primitive, string, unknown[], string]> = [
    ["kv", "get", ["k1"], "k1"], ["kv", "list", [], "k/3"], ["log", "list", ["k1"], "k1"], ["log", "since", ["k1", 0], "k1"], ["slot", "get", ["k1"], "k1"],
    ["queue", "peek", ["k1"], "k1"],
  ];
  for (const [primitive, method, args, key] of reads) {
    rows.push({ name: `${primitive}.${method} undecodable`, call: onSeed(primitive, method, args, refuses), code: "CORRUPT", sync: false, ns: SEED_NS, key, mentions: ["undecodable"] });
  }

  // Full bounded queues under "reject": LIMIT_EXCEEDED, nothing pushed or dropped.
  rows.push({ name: "push to a full queue (3 of 3)", call: onSeed("queue", "push", ["k1", V], { maxLen: 3 }), code: LE, sync: false, ns: SEED_NS, key: "k1", mentions: ["full"] });
  rows.push({
    name: "push to a full queue (1 of 1, json)", call: onSeed("queue", "push", ["k2", 1], { maxLen: 1, overflow: "reject", codec: json() }), code: LE, sync: false,
    ns: SEED_NS, key: "k2", mentions: ["full"],
  });

  // store.transaction's own arguments (the store only; the body must never run).
  for (const body of [undefined, null, 5, "body", {}, [], Promise.resolve()]) {
    rows.push({ name: `transaction(${show(body)})`, call: (s) => (s as Store).transaction(body as never), code: IA, sync: false, storeOnly: true, mentions: ["function"] });
  }
  const neverRuns = async () => assert.fail("a transaction with bad options ran its body");
  for (const options of [...NOT_OBJECTS, { attempts: 3 }, { maxAttempts: 3, retry: true }]) {
    rows.push({ name: `transaction(body, ${show(options)})`, call: (s) => (s as Store).transaction(neverRuns, options as never), code: IA, sync: false, storeOnly: true, mentions: ["transaction options"] });
  }
  for (const maxAttempts of badInts(1, 1_000, true)) {
    rows.push({ name: `transaction maxAttempts ${show(maxAttempts)}`, call: (s) => (s as Store).transaction(neverRuns, { maxAttempts } as never), code: IA, sync: false, storeOnly: true, mentions: ["maxAttempts"] });
  }
  return rows;
}

const runRow = (row: Row, scope: TransactionScope): Outcome | Promise<Outcome> => (row.sync ? settleSync(() => row.call(scope)) : settle(() => row.call(scope)));

for (const engine of ENGINES) {
  test(`${engine}: every method refuses each bad argument with its exact code, through the store and through tx handles, and nothing changes`, async (t) => {
    const fx = await open(engine);
    try {
      const { store } = fx;
      await seed(store);
      const before = await snapshot(store);
      const rows = tableRows(await cursorsOf(store));
      for (const row of rows) assertRejected(row.name, await runRow(row, store), row);
      assert.deepEqual(await snapshot(store), before, "bad calls through the store changed stored data");

      // The same calls through tx handles, in one transaction that catches them all and commits.
      const txRows = rows.filter((row) => row.storeOnly !== true);
      const committed = await store.transaction(async (tx) => {
        for (const row of txRows) assertRejected(`tx: ${row.name}`, await runRow(row, tx), row);
        return "committed";
      });
      assert.equal(committed, "committed");
      assert.deepEqual(await snapshot(store), before, "bad calls through tx handles changed stored data");

      // Not vacuous: every category of the table is there.
      assert.ok(rows.length >= 900, `only ${rows.length} rows`);
      for (const code of [IA, LE, "CORRUPT"]) assert.ok(rows.some((row) => row.code === code), code);
      t.diagnostic(`${rows.length} rows through the store, ${txRows.length} through tx handles`);
    } finally {
      await fx.cleanup();
    }
  });

  test(`${engine}: store calls inside a transaction body fail at once with INVALID_ARGUMENT and write nothing`, async () => {
    const fx = await open(engine);
    try {
      const { store } = fx;
      await seed(store);
      const before = await snapshot(store);
      const outside = store.kv(SEED_NS);
      await store.transaction(async () => {
        // Taking a handle is harmless; using it would wait for this very transaction.
        const calls: Array<[string, () => unknown]> = [
          ["kv.get", () => store.kv(SEED_NS).get("k1")],
          ["kv.put (handle taken outside)", () => outside.put("k1", V)],
          ["kv.deleteRange({})", () => outside.deleteRange({})],
          ["log.append", () => store.log(SEED_NS).append("k1", V)],
          ["log.lastSeq", () => store.log(SEED_NS).lastSeq()],
          ["slot.upsert", () => store.slot(SEED_NS).upsert("k1", V)],
          ["queue.push", () => store.queue(SEED_NS).push("k1", V)],
          ["queue.ack", () => store.queue(SEED_NS).ack("k1", 1)],
          ["transaction", () => store.transaction(VALID_BODY)],
          ["sweep", () => store.sweep()],
          ["info", () => store.info()],
          ["close", () => store.close()],
        ];
        for (const [name, call] of calls) assertRejected(`inside a body: store ${name}`, await settle(call), { code: IA, sync: false, mentions: ["transaction"] });
        // A bad argument through the store inside a body is still a typed error, never a hang.
        assertRejected("inside a body: store kv.put bad key", await settle(() => outside.put("\uD800", V)), { code: IA, sync: false, ns: SEED_NS, key: "\uD800" });
      });
      assert.deepEqual(await snapshot(store), before);
      assert.deepEqual(await store.kv(SEED_NS).get("k1"), enc('"v1"'), "the store must still be open");
    } finally {
      await fx.cleanup();
    }
  });

  test(`${engine}: a bad call a body does not catch reaches the caller unchanged and rolls the body back; transaction limits are LIMIT_EXCEEDED`, async () => {
    const fx = await open(engine);
    try {
      const { store } = fx;
      await seed(store);
      const before = await snapshot(store);

      // A rejected method: the same error object reaches the caller, and the valid writes before it are undone.
      let thrown: unknown;
      const rejected = await settle(() => store.transaction(async (tx) => {
        await tx.kv(SEED_NS).put("k1", enc('"changed"'));
        await tx.kv(SEED_NS).deleteRange({});
        await tx.log(SEED_NS).append("k1", V);
        await tx.slot(SEED_NS).upsert("k1", V);
        await tx.queue(SEED_NS).ack("k1", 1);
        try {
          await tx.log(SEED_NS).append("k1", "not bytes" as never);
        } catch (error) {
          thrown = error;
          throw error;
        }
      }));
      assert.ok(!rejected.ok && rejected.error === thrown, "the body's error must reach the caller unchanged");
      assertRejected("uncaught bad append", rejected, { code: IA, sync: false, ns: SEED_NS, key: "k1" });
      assert.deepEqual(await snapshot(store), before, "a rolled-back body left writes behind");

      // A factory that throws inside the body: the same.
      const factoryThrow = await settle(() => store.transaction(async (tx) => {
        await tx.queue(SEED_NS).dropOldest("k1", 3);
        tx.queue(SEED_NS, { maxLen: -1 });
      }));
      assertRejected("uncaught bad tx.queue options", factoryThrow, { code: IA, sync: false, ns: SEED_NS, mentions: ["maxLen"] });
      assert.deepEqual(await snapshot(store), before);

      // The engine's limits: LIMITS, or its own lower ones (etcd, Azure Table).
      const limits = (await store.info()).supports.limits;

      // One write over maxTransactionWrites.
      let writes = 0;
      const tooMany = await settle(() => store.transaction(async (tx) => {
        const kv = tx.kv(SEED_NS);
        for (let i = 0; i <= limits.maxTransactionWrites; i++) {
          await kv.put(`tx/${i}`, new Uint8Array(0));
          writes++;
        }
      }));
      assertRejected(`write ${limits.maxTransactionWrites + 1} in one transaction`, tooMany, { code: LE, sync: false, mentions: [String(limits.maxTransactionWrites)] });
      assert.equal(writes, limits.maxTransactionWrites, "the write over the limit is the one refused");
      assert.deepEqual(await snapshot(store), before);

      // Values adding up past maxTransactionBytes (each one within the value limit).
      let big = 0;
      const tooBig = await settle(() => store.transaction(async (tx) => {
        for (let i = 0; i < 20; i++) {
          await tx.slot(SEED_NS).upsert(`big/${i}`, new Uint8Array(limits.maxValueBytes));
          big++;
        }
      }));
      assertRejected(`more than ${limits.maxTransactionBytes} bytes in one transaction`, tooBig, { code: LE, sync: false, mentions: [String(limits.maxTransactionBytes)] });
      assert.equal(big, Math.floor(limits.maxTransactionBytes / (limits.maxValueBytes + "big/0".length)), "the write that crosses the limit is the one refused");
      assert.deepEqual(await snapshot(store), before);

      // A refused push among valid writes of the same tick (one SQLite group commit) is refused alone.
      const group = await Promise.allSettled([
        store.queue(SEED_NS, { maxLen: 3 }).push("k1", V),
        store.kv(SCRATCH_NS).put("a", V),
        store.kv(SEED_NS).put("a\u0000", V),
        store.log(SCRATCH_NS).append("a", V),
      ]);
      assert.deepEqual(group.map((r) => (r.status === "fulfilled" ? "ok" : (r.reason as StowageError).code)), [LE, "ok", IA, "ok"]);
      assert.deepEqual(await store.kv(SCRATCH_NS).get("a"), V);
      assert.deepEqual(await snapshot(store), before);
    } finally {
      await fx.cleanup();
    }
  });

  test(`${engine}: every method of a closed store, of a closing store and of an ended transaction fails with CLOSED, and nothing changes`, async () => {
    const fx = await open(engine);
    try {
      const { store } = fx;
      await seed(store);
      const before = await snapshot(store);
      /** Valid calls, each of which would change or read the seeded data. */
      const VALID: ReadonlyArray<[Primitive, string, unknown[]]> = [
        ["kv", "put", ["k1", V]], ["kv", "put", ["new", V, { ttlMs: 5 }]], ["kv", "get", ["k1"]], ["kv", "delete", ["k1"]], ["kv", "list", []], ["kv", "list", [{ limit: 1 }]],
        ["kv", "count", []], ["kv", "deleteRange", [{}]], ["log", "append", ["k1", V]], ["log", "list", ["k1"]], ["log", "since", ["k1", 0]], ["log", "lastSeq", []],
        ["slot", "get", ["k1"]], ["slot", "upsert", ["k1", V]], ["slot", "cas", ["k1", 2, V]], ["queue", "push", ["k1", V]], ["queue", "peek", ["k1"]],
        ["queue", "ack", ["k1", 1]], ["queue", "dropOldest", ["k1", 3]], ["queue", "len", ["k1"]],
      ];
      const BAD: ReadonlyArray<[Primitive, string, unknown[]]> = [
        ["kv", "put", ["\uD800", V]], ["kv", "put", ["k1", "text"]], ["log", "since", ["k1", -1]], ["slot", "cas", ["k1", 1.5, V]], ["queue", "peek", ["k1", 0]],
      ];
      const take = (scope: TransactionScope) => new Map(PRIMITIVES.map((p) => [p, seedHandle(scope, p)]));

      // An ended transaction: its handles and its factories.
      let stale!: TransactionScope;
      let staleHandles!: Map<Primitive, AnyHandle>;
      await store.transaction(async (tx) => {
        stale = tx;
        staleHandles = take(tx);
      });
      for (const [p, method, args] of VALID) {
        assertRejected(`ended tx ${p}.${method}`, await settle(() => staleHandles.get(p)![method]!(...args)), { code: CLOSED, sync: false, mentions: ["transaction has ended"] });
      }
      for (const p of PRIMITIVES) assertRejected(`ended tx.${p}()`, settleSync(() => factories(stale)[p](SEED_NS)), { code: CLOSED, sync: true });
      assert.deepEqual(await snapshot(store), before, "handles of an ended transaction wrote");

      // Calls that arrive while close() waits, then after it.
      const handles = take(store);
      const closing = store.close();
      for (const [p, method, args] of VALID) {
        assertRejected(`closing ${p}.${method}`, await settle(() => handles.get(p)![method]!(...args)), { code: CLOSED, sync: false, mentions: ["closed"] });
      }
      await closing;
      for (const [p, method, args] of VALID) {
        assertRejected(`closed ${p}.${method}`, await settle(() => handles.get(p)![method]!(...args)), { code: CLOSED, sync: false, mentions: ["closed"] });
      }
      for (const p of PRIMITIVES) {
        assertRejected(`closed store.${p}()`, settleSync(() => factories(store)[p](SEED_NS)), { code: CLOSED, sync: true });
        assertRejected(`closed store.${p}(bad namespace)`, settleSync(() => factories(store)[p]("")), { code: CLOSED, sync: true });
      }
      assertRejected("closed transaction", await settle(() => store.transaction(VALID_BODY)), { code: CLOSED, sync: false });
      assertRejected("closed sweep", await settle(() => store.sweep()), { code: CLOSED, sync: false });
      assertRejected("closed info", await settle(() => store.info()), { code: CLOSED, sync: false });
      // Bad arguments on a closed store are still typed errors (either the argument's code or CLOSED).
      for (const [p, method, args] of BAD) {
        const outcome = await settle(() => handles.get(p)![method]!(...args));
        assert.ok(!outcome.ok && outcome.error instanceof StowageError && [IA, CLOSED].includes(outcome.error.code), `closed ${p}.${method}(${args.map((a) => show(a)).join(", ")}): ${outcome.ok ? "succeeded" : errorText(outcome.error)}`);
      }
      const badTx = await settle(() => store.transaction(5 as never));
      assert.ok(!badTx.ok && badTx.error instanceof StowageError && [IA, CLOSED].includes(badTx.error.code));
      assert.equal(await store.close(), undefined, "close is idempotent");

      if (engine !== "memory") assert.deepEqual(await snapshot(await fx.reopen()), before, "the closed store's file changed");
    } finally {
      await fx.cleanup();
    }
  });
}

test("openStore refuses bad options with INVALID_ARGUMENT naming the option, before creating anything", async () => {
  const tmp = tempDir("bad-input-open");
  try {
    const path = join(tmp.dir, "never.db");
    const pg = "postgres://user@127.0.0.1:1/db"; // never contacted: every case fails validation first
    const cases: Array<[unknown, string]> = [
      [null, "object"], [5, "object"], ["memory", "object"],
      [{ backend: "mongo" }, "backend"], [{ backend: 5 }, "backend"], [{ backend: "MEMORY" }, "backend"], [{ backend: "" }, "backend"],
      [{ backend: "memory", path }, "path"], [{ backend: "memory", color: "red" }, "color"], [{ backend: "memory", clock: 5 }, "clock"], [{ backend: "memory", clock: "now" }, "clock"],
      ...[-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, "5", 2 ** 53, null].map((v): [unknown, string] => [{ backend: "memory", sweepIntervalMs: v }, "sweepIntervalMs"]),
      [{ backend: "sqlite", path: "" }, "path"], [{ backend: "sqlite", path: 5 }, "path"], [{ backend: "sqlite", path, durability: "none" }, "durability"],
      ...[-1, 1.5, Number.NaN, "5"].map((v): [unknown, string] => [{ backend: "sqlite", path, busyTimeoutMs: v }, "busyTimeoutMs"]),
      [{ backend: "sqlite", path, dsn: pg }, "dsn"], [{ path, sweepIntervalMs: -1 }, "sweepIntervalMs"],
      [{ backend: "postgres" }, "dsn"], [{ backend: "postgres", dsn: "mysql://u@h/db" }, "dsn"], [{ backend: "postgres", dsn: 5 }, "dsn"],
      [{ backend: "postgres", dsn: pg, schema: "Bad-Schema" }, "schema"], [{ backend: "postgres", dsn: pg, poolSize: 0 }, "poolSize"],
      [{ backend: "postgres", dsn: pg, connectTimeoutMs: 0 }, "connectTimeoutMs"], [{ backend: "postgres", dsn: pg, statementTimeoutMs: 1.5 }, "statementTimeoutMs"],
      [{ backend: "postgres", dsn: pg, path }, "path"],
    ];
    for (const [options, word] of cases) {
      assertRejected(`openStore(${show(options)})`, await settle(() => openStore(options as never)), { code: IA, sync: false, mentions: [word] });
    }
    assert.deepEqual(readdirSync(tmp.dir), [], "a refused openStore created files");
  } finally {
    tmp.remove();
  }
});

// ---------------------------------------------------------------------------------------------------------------
// Work queues: the table, closed and ended scopes, work() in a transaction
// ---------------------------------------------------------------------------------------------------------------

const workOf = (scope: TransactionScope, options: unknown = WORK_OPTIONS): AnyHandle =>
  (scope as unknown as { workQueue(ns: unknown, o?: unknown): AnyHandle }).workQueue(SEED_NS, options);
/** Numbers in [min, max] refuses, without the ones `badInts` lists that fall inside a wide range (−1 for a priority). */
const badIntsOutside = (min: number, max: number, optional: boolean): unknown[] =>
  badInts(min, max, optional).filter((v) => !(typeof v === "number" && Number.isSafeInteger(v) && v >= min && v <= max));
const BAD_RETRY: ReadonlyArray<[unknown, string]> = [
  [null, "retry"], [5, "retry"], [{ attempts: 3 }, '"attempts"'], [{ maxAttempts: 0 }, "maxAttempts"], [{ maxAttempts: 1.5 }, "maxAttempts"],
  [{ maxAttempts: LIMITS.maxWorkAttempts + 1 }, "maxAttempts"], [{ backoff: 5 }, "backoff"], [{ backoff: { type: "linear", delayMs: 1 } }, "type"],
  [{ backoff: { type: "fixed" } }, "delayMs"], [{ backoff: { type: "fixed", delayMs: -1 } }, "delayMs"],
  [{ backoff: { type: "fixed", delayMs: 1, jitter: "some" } }, "jitter"], [{ backoff: { type: "exponential", delayMs: 10, maxDelayMs: 5 } }, "maxDelayMs"],
  [{ backoff: { type: "fixed", delayMs: 1, color: 1 } }, '"color"'],
];
const HANDLER = async (): Promise<void> => undefined;
/** work() answers at once (a Worker, not a promise), so it throws; through the store only (see the tx row). */
const WORKER_ROW: Partial<Row> = { sync: true, storeOnly: true };

/** Every work method with bad arguments, aimed at the seeded queues; `held` is a current lease of key k2. */
function workRows(held: Lease): Row[] {
  const rows: Row[] = [];
  const on = (method: string, args: unknown[], options?: unknown) => (s: TransactionScope) => workOf(s, options)[method]!(...args);
  const row = (name: string, call: Row["call"], code: ErrorCode, mentions: string[], key?: string, extra: Partial<Row> = {}) =>
    rows.push({ name: `work.${name}`, call, code, sync: false, ns: SEED_NS, key, mentions, ...extra });

  // The handle's own options: thrown at once by the factory.
  const handleOptions: Array<[unknown, string]> = [
    ...NOT_OBJECTS.map((o): [unknown, string] => [o, "options must be an object"]),
    ...BAD_CODECS.map((codec): [unknown, string] => [{ codec }, "codec must be an object with encode and decode"]),
    [{ maxLen: 5 }, '"maxLen"'], [{ visibility: 5 }, '"visibility"'],
    ...badIntsOutside(1, LIMITS.maxTimerMs, true).map((v): [unknown, string] => [{ visibilityMs: v }, "visibilityMs"]),
    ...BAD_RETRY.map(([retry, word]): [unknown, string] => [{ retry }, word]),
  ];
  for (const [options, word] of handleOptions) {
    rows.push({ name: `workQueue("seed", ${show(options)})`, call: (s) => workOf(s, options), code: IA, sync: true, ns: SEED_NS, mentions: [word] });
  }
  for (const ns of BAD_NAMESPACES) {
    rows.push({
      name: `workQueue(${show(ns)})`, call: (s) => (s as unknown as { workQueue(n: unknown): unknown }).workQueue(ns), code: IA, sync: true, mentions: ["namespace"],
      quotedNs: typeof ns === "string" ? JSON.stringify(ns) : undefined,
    });
  }

  // Keys, for every method that takes one (a worker's too: checked before it starts).
  const keyed: Array<[string, (k: unknown) => unknown[]]> = [
    ["push", (k) => [k, V]], ["pushMany", (k) => [k, [{ value: V }]]], ["claim", (k) => [k]], ["counts", (k) => [k]], ["dead", (k) => [k]],
    ["requeue", (k) => [k]], ["purgeDead", (k) => [k]], ["work", (k) => [k, HANDLER]],
  ];
  for (const [method, args] of keyed) {
    for (const { key, code, word } of BAD_KEYS) {
      const bad = typeof key === "string" ? key : undefined;
      row(`${method} key ${show(key)}`, on(method, args(key)), code, ["key", word], bad, method === "work" ? WORKER_ROW : {});
    }
  }
  for (const { key, code, word } of BAD_KEYS) {
    const bad = typeof key === "string" ? key : undefined;
    if (key !== undefined) {
      // An option given as undefined is absent.
      row(`push dedupKey ${show(key)}`, on("push", ["k1", V, { dedupKey: key }]), code, ["dedupKey", word], bad);
      row(`keys after ${show(key)}`, on("keys", [{ after: key }]), code, ["after", word], bad);
    }
    for (const method of ["ack", "extend", "release", "fail"]) {
      row(`${method} lease.key ${show(key)}`, on(method, method === "fail" ? [{ ...held, key }, "e"] : [{ ...held, key }]), code, ["lease.key", word], bad);
    }
  }

  // Values, through each codec, for push and pushMany.
  for (const { codec, value, code, word } of BAD_VALUES) {
    const options = codec === "default" ? WORK_OPTIONS : { ...WORK_OPTIONS, codec: CODECS[codec] };
    row(`push ${codec} value ${show(value)}`, on("push", ["k1", value], options), code, [word], "k1");
    row(`pushMany ${codec} value ${show(value)}`, on("pushMany", ["k1", [{ value }]], options), code, [word], "k1");
  }

  // Push options, and the same in a pushMany item.
  const pushOptions: Array<[unknown, string]> = [
    ...NOT_OBJECTS.map((o): [unknown, string] => [o, "push options"]),
    [{ ttlMs: 5 }, '"ttlMs"'], [{ delayMs: 5, notBefore: FIXED_NOW }, "not both"],
    ...badIntsOutside(0, LIMITS.maxTtlMs, true).map((v): [unknown, string] => [{ delayMs: v }, "delayMs"]),
    ...badIntsOutside(0, MAX_SAFE, true).map((v): [unknown, string] => [{ notBefore: v }, "notBefore"]),
    ...badIntsOutside(-(2 ** 31), 2 ** 31 - 1, true).map((v): [unknown, string] => [{ priority: v }, "priority"]),
    ...["drop", "REJECT", "", 1, true, null].map((v): [unknown, string] => [{ dedupKey: "d9", onDuplicate: v }, "onDuplicate"]),
    ...BAD_RETRY.map(([retry, word]): [unknown, string] => [{ retry }, word]),
  ];
  for (const [options, word] of pushOptions) {
    row(`push(${show(options)})`, on("push", ["k1", V, options]), IA, [word], "k1");
    if (typeof options === "object" && options !== null && !Array.isArray(options)) {
      row(`pushMany item ${show(options)}`, on("pushMany", ["k1", [{ value: V }, { value: V, ...options }]]), IA, [word === "push options" ? "items[1]" : word], "k1");
    }
  }
  for (const items of NOT_OBJECTS.filter((o) => !Array.isArray(o))) row(`pushMany(${show(items)})`, on("pushMany", ["k1", items]), IA, ["items"], "k1");
  for (const item of [null, 5, "x", [], {}, { values: V }]) row(`pushMany([${show(item)}])`, on("pushMany", ["k1", [item]]), IA, ["items[0]"], "k1");
  row("pushMany over the page size", on("pushMany", ["k1", Array.from({ length: LIMITS.maxPageSize + 1 }, () => ({ value: V }))]), LE, [String(LIMITS.maxPageSize)], "k1");

  // Claim options.
  for (const options of [...NOT_OBJECTS, { max: 2 }, { limit: 1, lease: 5 }]) row(`claim(${show(options)})`, on("claim", ["k1", options]), IA, ["claim options"], "k1");
  for (const v of badIntsOutside(1, LIMITS.maxClaimLimit, true)) row(`claim limit ${show(v)}`, on("claim", ["k1", { limit: v }]), IA, ["limit"], "k1");
  for (const v of badIntsOutside(1, LIMITS.maxTimerMs, true)) row(`claim visibilityMs ${show(v)}`, on("claim", ["k1", { visibilityMs: v }]), IA, ["visibilityMs"], "k1");

  // Leases: not one, of another namespace, with fields the store never makes.
  const settles: Array<[string, (lease: unknown) => unknown[]]> = [["ack", (l) => [l]], ["extend", (l) => [l]], ["release", (l) => [l]], ["fail", (l) => [l, "e"]]];
  const foreign = [{ ...held, namespace: OTHER_NS }, { ...held, namespace: undefined }, { ...held, namespace: 5 }];
  for (const [method, args] of settles) {
    for (const lease of NOT_OBJECTS.filter((o) => typeof o !== "object" || o === null)) row(`${method}(${show(lease)})`, on(method, args(lease)), IA, ["lease"]);
    for (const lease of foreign) row(`${method}(lease of ${show(lease.namespace)})`, on(method, args(lease)), IA, ["not to this work queue"]);
    for (const [field, min, max] of [["id", 1, MAX_SAFE], ["token", 1, 2 ** 48 - 1], ["attempt", 1, LIMITS.maxWorkAttempts]] as const) {
      for (const v of badIntsOutside(min, max, false)) row(`${method} lease.${field} ${show(v)}`, on(method, args({ ...held, [field]: v })), IA, [`lease.${field}`], "k2");
    }
  }
  for (const method of ["ackMany", "extendMany"]) {
    for (const leases of [null, 5, "x", {}, held]) row(`${method}(${show(leases)})`, on(method, [leases]), IA, ["leases"]);
    row(`${method} over the page size`, on(method, [Array.from({ length: LIMITS.maxPageSize + 1 }, () => held)]), LE, [String(LIMITS.maxPageSize)]);
    row(`${method} with a lease of another namespace`, on(method, [[held, { ...held, namespace: OTHER_NS }]]), IA, ["leases[1]", "not to this work queue"]);
    row(`${method} with a bad lease`, on(method, [[held, { ...held, id: 0 }]]), IA, ["leases[1].id"], "k2");
  }
  for (const v of badIntsOutside(1, LIMITS.maxTimerMs, true)) {
    row(`extend ms ${show(v)}`, on("extend", [held, v]), IA, ["ms"], "k2");
    row(`extendMany ms ${show(v)}`, on("extendMany", [[held], v]), IA, ["ms"]);
  }
  for (const options of [...NOT_OBJECTS, { delay: 5 }, { countAttempts: true }]) row(`release(held, ${show(options)})`, on("release", [held, options]), IA, ["release options"], "k2");
  for (const v of badIntsOutside(0, LIMITS.maxTtlMs, true)) row(`release delayMs ${show(v)}`, on("release", [held, { delayMs: v }]), IA, ["delayMs"], "k2");
  for (const v of ["yes", 1, 0, null]) row(`release countAttempt ${show(v)}`, on("release", [held, { countAttempt: v }]), IA, ["countAttempt"], "k2");
  for (const options of [...NOT_OBJECTS, { dead: true }, { retryAfter: 5 }]) row(`fail(held, e, ${show(options)})`, on("fail", [held, "e", options]), IA, ["fail options"], "k2");
  for (const v of ["yes", 1, 0, null]) row(`fail final ${show(v)}`, on("fail", [held, "e", { final: v }]), IA, ["final"], "k2");
  for (const v of badIntsOutside(0, LIMITS.maxTtlMs, true)) row(`fail retryAfterMs ${show(v)}`, on("fail", [held, "e", { retryAfterMs: v }]), IA, ["retryAfterMs"], "k2");

  // Reads' options.
  for (const options of [...NOT_OBJECTS, { prefix: "k" }, { limit: 1, cursor: "x" }]) row(`keys(${show(options)})`, on("keys", [options]), IA, ["keys options"]);
  for (const v of badIntsOutside(1, LIMITS.maxPageSize, true)) row(`keys limit ${show(v)}`, on("keys", [{ limit: v }]), IA, ["limit"]);
  for (const options of [...NOT_OBJECTS, { after: 1 }, { limit: 1, reverse: true }]) row(`dead(${show(options)})`, on("dead", ["k/3", options]), IA, ["dead options"], "k/3");
  for (const v of badIntsOutside(0, MAX_SAFE, true)) row(`dead afterId ${show(v)}`, on("dead", ["k/3", { afterId: v }]), IA, ["afterId"], "k/3");
  for (const v of badIntsOutside(1, LIMITS.maxPageSize, true)) row(`dead limit ${show(v)}`, on("dead", ["k/3", { limit: v }]), IA, ["limit"], "k/3");

  // Requeue and purge ids.
  for (const method of ["requeue", "purgeDead"]) {
    for (const ids of [null, 5, "1", {}, new Set([1])]) row(`${method}(k/3, ${show(ids)})`, on(method, ["k/3", ids]), IA, ["ids"], "k/3");
    for (const v of badIntsOutside(1, MAX_SAFE, false)) row(`${method} id ${show(v)}`, on(method, ["k/3", [1, v]]), IA, ["ids[1]"], "k/3");
    row(`${method} over the claim limit`, on(method, ["k/3", Array.from({ length: LIMITS.maxClaimLimit + 1 }, (_, i) => i + 1)]), LE, [String(LIMITS.maxClaimLimit)], "k/3");
  }

  // A worker's own arguments (through the store only: inside a transaction work() is refused first).
  for (const handler of [undefined, null, 5, "h", {}]) row(`work handler ${show(handler)}`, on("work", ["k1", handler]), IA, ["handler"], "k1", WORKER_ROW);
  const workOptions: Array<[unknown, string]> = [
    ...NOT_OBJECTS.map((o): [unknown, string] => [o, "work options"]), [{ threads: 2 }, '"threads"'],
    ...badIntsOutside(1, 1_000, true).map((v): [unknown, string] => [{ concurrency: v }, "concurrency"]),
    ...badIntsOutside(1, LIMITS.maxClaimLimit, true).map((v): [unknown, string] => [{ batchSize: v }, "batchSize"]),
    ...badIntsOutside(0, LIMITS.maxTimerMs, true).map((v): [unknown, string] => [{ drainMs: v }, "drainMs"]),
    [{ signal: "stop" }, "signal"], [{ onEvent: 5 }, "onEvent"],
  ];
  for (const [options, word] of workOptions) row(`work(k1, handler, ${show(options)})`, on("work", ["k1", HANDLER, options]), IA, [word], "k1", WORKER_ROW);
  return rows;
}

for (const engine of ENGINES) {
  test(`${engine}: every work-queue method refuses each bad argument with its exact code, through the store and through tx handles, and nothing changes`, async (t) => {
    const fx = await open(engine);
    try {
      const { store } = fx;
      await seed(store);
      const held = await seedWork(store);
      const before = [await snapshot(store), await workSnapshot(store, held)];
      const rows = workRows(held);
      for (const row of rows) assertRejected(row.name, await runRow(row, store), row);
      assert.deepEqual([await snapshot(store), await workSnapshot(store, held)], before, "bad work calls through the store changed stored data");

      const txRows = rows.filter((row) => row.storeOnly !== true);
      const committed = await store.transaction(async (tx) => {
        for (const row of txRows) assertRejected(`tx: ${row.name}`, await runRow(row, tx), row);
        // A worker is the store's: inside a transaction work() is refused, whatever its other arguments.
        assertRejected("tx: work()", settleSync(() => workOf(tx).work!("k1", HANDLER)), { code: IA, sync: true, ns: SEED_NS, key: "k1", mentions: ["inside a transaction"] });
        return "committed";
      });
      assert.equal(committed, "committed");
      assert.deepEqual([await snapshot(store), await workSnapshot(store, held)], before, "bad work calls through tx handles changed stored data");
      assert.ok(rows.length >= 600, `only ${rows.length} rows`);
      t.diagnostic(`${rows.length} work rows through the store, ${txRows.length} through tx handles`);
    } finally {
      await fx.cleanup();
    }
  });

  test(`${engine}: every work-queue method of a closed store and of an ended transaction fails with CLOSED, and nothing changes`, async () => {
    const fx = await open(engine);
    try {
      const { store } = fx;
      await seed(store);
      const held = await seedWork(store);
      const before = await workSnapshot(store, held);
      const valid: ReadonlyArray<[string, unknown[]]> = [
        ["push", ["k1", V]], ["pushMany", ["k1", [{ value: V }]]], ["claim", ["k1", { limit: 2 }]], ["ack", [held]], ["ackMany", [[held]]], ["extend", [held]],
        ["extendMany", [[held]]], ["release", [held]], ["fail", [held, "e", { final: true }]], ["counts", ["k1"]], ["keys", []], ["dead", ["k/3"]],
        ["requeue", ["k/3"]], ["purgeDead", ["k/3"]],
      ];
      let staleWork!: AnyHandle;
      let stale!: TransactionScope;
      await store.transaction(async (tx) => {
        stale = tx;
        staleWork = workOf(tx);
      });
      for (const [method, args] of valid) {
        assertRejected(`ended tx work.${method}`, await settle(() => staleWork[method]!(...args)), { code: CLOSED, sync: false, mentions: ["transaction has ended"] });
      }
      assertRejected("ended tx.workQueue()", settleSync(() => workOf(stale)), { code: CLOSED, sync: true });
      assert.deepEqual(await workSnapshot(store, held), before, "work handles of an ended transaction wrote");

      const work = workOf(store);
      await store.close();
      for (const [method, args] of [...valid, ["work", ["k1", HANDLER]] as [string, unknown[]]]) {
        const outcome = method === "work" ? settleSync(() => work.work!(...args)) : await settle(() => work[method]!(...args));
        assertRejected(`closed work.${method}`, outcome, { code: CLOSED, sync: method === "work", mentions: ["closed"] });
      }
      assertRejected("closed store.workQueue()", settleSync(() => workOf(store)), { code: CLOSED, sync: true });
      if (engine !== "memory") assert.deepEqual(await workSnapshot(await fx.reopen(), held), before, "the closed store's work queues changed");
    } finally {
      await fx.cleanup();
    }
  });
}

// ---------------------------------------------------------------------------------------------------------------
// The fuzz
// ---------------------------------------------------------------------------------------------------------------

interface HandleCall {
  kind: "handle";
  primitive: Primitive;
  ns: unknown;
  options: unknown;
  spec: MethodSpec;
  args: unknown[];
  /** In a transaction body: call the store's handle instead of tx's (the deadlock guard must refuse it). */
  viaStore: boolean;
}
interface TxCall {
  kind: "transaction";
  body: unknown;
  options: unknown;
}
type FuzzCall = HandleCall | TxCall;
type Target = "store" | "tx" | "closed" | "stale";
interface Batch {
  target: Target;
  /** For tx batches: commit, or throw at the end of the body and roll back. */
  commit: boolean;
  calls: FuzzCall[];
}

type HandleSet = Map<string, AnyHandle>;
const CODEC_CHOICES: readonly CodecName[] = ["default", ...(Object.keys(CODECS) as CodecName[])];

/** A handle per primitive and codec, taken now: for a store about to close or a transaction about to end. */
function takeHandles(scope: TransactionScope): HandleSet {
  const set: HandleSet = new Map();
  for (const p of PRIMITIVES) {
    for (const name of CODEC_CHOICES) set.set(`${p}/${name}`, seedHandle(scope, p, name === "default" ? undefined : { codec: CODECS[name] }));
  }
  return set;
}

interface FuzzContext {
  store: Store;
  closed: Store;
  closedHandles: HandleSet;
  stale: TransactionScope;
  staleHandles: HandleSet;
  facts: StoreFacts;
  /** The engine's transaction limits (LIMITS, or its own lower ones). */
  limits: { maxTransactionWrites: number; maxTransactionBytes: number };
  /**
   * Whether one commit of the engine holds only so many records (etcd, Azure Table): one call that removes many
   * entries, or a transaction with one, may then be refused LIMIT_EXCEEDED naming `maxWritesPerCommit` (README).
   */
  commitLimited: boolean;
  /** The writes and bytes the transaction body running now has made, as the store counts them against the limits. */
  tx: { writes: number; bytes: number };
  calls: number;
  accepted: number;
  rejected: number;
  categories: Map<string, number>;
}

/** Every kind of bad input must come up in a run of the default size, and valid calls too. */
const REQUIRED_CATEGORIES = [
  "ns:type", "ns:bad", "codec:bad", "overflow:bad", "options:type", "options:unknown", "options:missing",
  "key:type", "key:empty", "key:surrogate", "key:nul", "key:size", "bound:type", "bound:surrogate", "bound:nul", "bound:size",
  "value:type", "value:size", "value:codec-throws", "number:type", "number:nonfinite", "number:fraction", "number:below-min", "number:huge",
  "bool:type", "cursor:bad", "tx:body", "closed", "stale-tx", "store-call-in-tx", "valid",
];

/** Calls that remove any number of entries in one write: more records than one commit of a commit-limited engine takes. */
const MANY_RECORDS = new Set(["deleteRange", "dropOldest"]);

function batchArb(facts: StoreFacts): fc.Arbitrary<Batch> {
  const handleCall = (primitive: Primitive): fc.Arbitrary<FuzzCall> =>
    fc.tuple(nsArb, handleOptionsArb(primitive), fc.integer({ min: 0, max: 5 })).chain(([ns, options, via]) => {
      const codec = codecNameOf(options);
      const specs = METHODS.filter((m) => m.primitive === primitive);
      return fc.oneof(...specs.map((spec) => spec.args(codec, facts).map((args): FuzzCall => ({ kind: "handle", primitive, ns, options, spec, args, viaStore: via === 0 }))));
    });
  const txCall = fc.tuple(txBodyArb, txOptionsArb).map(([body, options]): FuzzCall => ({ kind: "transaction", body, options }));
  const call = fc.oneof(
    { weight: 6, arbitrary: handleCall("kv") },
    { weight: 4, arbitrary: handleCall("log") },
    { weight: 3, arbitrary: handleCall("slot") },
    { weight: 5, arbitrary: handleCall("queue") },
    { weight: 1, arbitrary: txCall },
  );
  return fc.record({
    target: fc.constantFrom<Target>("store", "store", "store", "store", "store", "tx", "tx", "tx", "closed", "stale"),
    commit: fc.boolean(),
    calls: fc.array(call, { minLength: BATCH, maxLength: BATCH }),
  });
}

function describeCall(target: Target, call: FuzzCall): string {
  if (call.kind === "transaction") return `[${target}] store.transaction(${show(call.body)}, ${show(call.options)})`;
  const scope = target === "tx" ? (call.viaStore ? "store (inside a body)" : "tx") : target === "store" ? "store" : target;
  return `[${target}] ${scope}.${call.primitive}(${show(call.ns)}, ${show(call.options)}).${call.spec.name}(${call.args.map((a) => show(a)).join(", ")})`;
}

const codesOf = (violations: readonly Violation[], ...extra: ErrorCode[]): Set<ErrorCode> => new Set([...violations.map((v) => v.code), ...extra]);

function tally(ctx: FuzzContext, categories: Iterable<string>): void {
  for (const c of categories) ctx.categories.set(c, (ctx.categories.get(c) ?? 0) + 1);
}

interface Judgement {
  /** The call may succeed (it was valid). */
  mayPass: boolean;
  /** The codes it may fail with. */
  codes: ReadonlySet<ErrorCode>;
  sync: boolean;
  /** The namespace an INVALID_ARGUMENT / LIMIT_EXCEEDED must carry. */
  ns?: string;
  /** A bad namespace the message must quote. */
  quotedNs?: string;
  /** The call's keys and range bounds: an error that names a key must name one of these. */
  keys?: readonly unknown[];
}

function judge(ctx: FuzzContext, label: string, outcome: Outcome, want: Judgement): void {
  if (outcome.ok) {
    assert.ok(want.mayPass, `${label}: accepted (expected ${[...want.codes].join(" or ")}), returned ${show(outcome.value)}`);
    ctx.accepted++;
    return;
  }
  ctx.rejected++;
  const { error } = outcome;
  assert.ok(error instanceof StowageError, `${label}: threw ${errorText(error)}, not a StowageError`);
  assert.ok(want.codes.has(error.code), `${label}: ${error.code}, expected ${want.codes.size === 0 ? "success" : [...want.codes].join(" or ")}; message: ${error.message}`);
  assert.equal(outcome.sync, want.sync, `${label}: ${want.sync ? "a factory rejected instead of throwing" : "threw synchronously instead of rejecting"}`);
  if (error.code === IA || error.code === LE) {
    if (want.ns !== undefined) {
      assert.equal(error.namespace, want.ns, `${label}: error.namespace; message: ${error.message}`);
    }
    if (want.quotedNs !== undefined) assert.ok(error.message.includes(want.quotedNs), `${label}: the message should quote the namespace: ${error.message}`);
  }
  if (error.namespace !== undefined) assert.ok(error.message.includes(`namespace "${error.namespace}"`), `${label}: ${error.message}`);
  if (error.key !== undefined) {
    assert.ok(want.keys?.includes(error.key) === true, `${label}: the error names key ${show(error.key)}, which is not one of the call's keys`);
    assert.ok(error.message.includes(keyShown(error.key)), `${label}: the message should name the key: ${error.message}`);
  }
}

/** Where an error about namespace `ns` must show it: as a field when valid, quoted in the message when not. */
function nsJudgement(ns: unknown): Pick<Judgement, "ns" | "quotedNs"> {
  if (typeof ns !== "string") return {};
  return namespaceViolations(ns).length === 0 ? { ns } : { quotedNs: JSON.stringify(ns) };
}

/** The key of a keyed method, and the range bounds of an options object (errors about a bound carry it as `key`). */
function keysOf(spec: MethodSpec, args: readonly unknown[]): unknown[] {
  const keys: unknown[] = spec.keyed ? [args[0]] : [];
  for (const arg of args) {
    if (typeof arg !== "object" || arg === null) continue;
    for (const field of ["prefix", "start", "end"]) keys.push((arg as Record<string, unknown>)[field]);
  }
  return keys;
}

/** A queue push with a valid bound under "reject" may find the (scratch) queue full: LIMIT_EXCEEDED is then right. */
function rejectsWhenFull(options: unknown): boolean {
  if (typeof options !== "object" || options === null) return false;
  const o = options as Record<string, unknown>;
  return o.maxLen !== undefined && o.overflow !== "drop-oldest";
}

async function runTransactionCall(ctx: FuzzContext, call: TxCall, target: Target): Promise<void> {
  const label = describeCall(target, call);
  const bad = transactionViolations(call.body, call.options);
  tally(ctx, bad.map((v) => v.category));
  const body = call.body as never;
  const options = call.options as never;
  if (target === "closed") {
    tally(ctx, ["closed"]);
    judge(ctx, label, await settle(() => ctx.closed.transaction(body, options)), { mayPass: false, codes: codesOf(bad, CLOSED), sync: false });
    return;
  }
  const inBody = target === "tx";
  if (inBody) tally(ctx, ["store-call-in-tx"]);
  else if (bad.length === 0) tally(ctx, ["valid"]);
  const outcome = await settle(() => ctx.store.transaction(body, options));
  judge(ctx, label, outcome, { mayPass: bad.length === 0 && !inBody, codes: inBody ? codesOf(bad, IA) : codesOf(bad), sync: false });
  if (outcome.ok) assert.equal(outcome.value, "done", label);
}

async function runCall(ctx: FuzzContext, call: FuzzCall, target: Target, tx?: TransactionScope): Promise<void> {
  ctx.calls++;
  if (call.kind === "transaction") return runTransactionCall(ctx, call, target);
  const { primitive, ns, options, spec, args } = call;
  const label = describeCall(target, call);
  const handleBad = handleViolations(primitive, ns, options);
  const codecName = codecNameOf(options);
  const argBad = spec.violations(args, codecOf(codecName), ctx.facts);
  const keys = keysOf(spec, args);

  if (target === "closed" || target === "stale") {
    tally(ctx, [target === "closed" ? "closed" : "stale-tx", ...argBad.map((v) => v.category)]);
    const scope = target === "closed" ? ctx.closed : ctx.stale;
    const made = settleSync(() => factories(scope)[primitive](ns, options));
    judge(ctx, `${label} (factory)`, made, { mayPass: false, codes: codesOf(handleBad, CLOSED), sync: true, ...nsJudgement(ns) });
    // The same method on a handle taken before the close (or inside the transaction).
    const handle = (target === "closed" ? ctx.closedHandles : ctx.staleHandles).get(`${primitive}/${codecName}`)!;
    const outcome = await settle(() => handle[spec.name]!(...args));
    judge(ctx, label, outcome, { mayPass: false, codes: codesOf(argBad, CLOSED), sync: false, ns: SEED_NS, keys });
    return;
  }

  tally(ctx, handleBad.map((v) => v.category));
  const viaStore = target === "tx" && call.viaStore;
  const scope = target === "tx" && !viaStore ? tx! : ctx.store;
  const valid = handleBad.length === 0 && argBad.length === 0;
  // Valid writes go to the scratch namespace: the seeded one must then stay exactly as it was.
  const targetNs = valid && spec.mutating ? SCRATCH_NS : ns;
  const where = targetNs === ns ? label : `${label} [sent to "${SCRATCH_NS}"]`;
  const made = settleSync(() => factories(scope)[primitive](targetNs, options));
  if (handleBad.length > 0) {
    judge(ctx, where, made, { mayPass: false, codes: codesOf(handleBad), sync: true, ...nsJudgement(ns) });
    return;
  }
  assert.ok(made.ok, `${where}: the factory refused valid arguments: ${made.ok ? "" : errorText(made.error)}`);
  tally(ctx, argBad.map((v) => v.category));
  if (viaStore) tally(ctx, ["store-call-in-tx"]);
  else if (valid) tally(ctx, ["valid"]);
  const handle = made.value as AnyHandle;
  // A valid write in a body counts against the transaction's limits: the one that would pass them is refused.
  const overTxLimit = target === "tx" && !viaStore && valid && spec.mutating && countTxWrite(ctx, writeBytes(spec, args, codecOf(codecName)));
  const outcome = await settle(() => handle[spec.name]!(...args));
  let codes: Set<ErrorCode>;
  if (viaStore) codes = codesOf(argBad, IA);
  else if (!valid) codes = codesOf(argBad);
  else if (overTxLimit) codes = new Set([LE]);
  else codes = (spec.name === "push" && rejectsWhenFull(options)) || (ctx.commitLimited && MANY_RECORDS.has(spec.name)) ? new Set([LE]) : new Set();
  judge(ctx, where, outcome, { mayPass: valid && !viaStore && !overTxLimit, codes, sync: false, ns: viaStore ? undefined : (targetNs as string), keys });
  if (!outcome.ok && valid && !viaStore && !overTxLimit && MANY_RECORDS.has(spec.name)) {
    assert.match((outcome.error as Error).message, /maxWritesPerCommit/, `${where}: a removal refused for its size names the limit`);
  }
}

/** Counts a valid write of `bytes` against the running body's transaction; true when it passes a limit (then it is not counted). */
function countTxWrite(ctx: FuzzContext, bytes: number): boolean {
  if (ctx.tx.writes + 1 > ctx.limits.maxTransactionWrites || ctx.tx.bytes + bytes > ctx.limits.maxTransactionBytes) return true;
  ctx.tx.writes += 1;
  ctx.tx.bytes += bytes;
  return false;
}

async function runBatch(ctx: FuzzContext, batch: Batch): Promise<void> {
  if (batch.target !== "tx") {
    // Concurrently: on SQLite the valid writes of a batch then share one group commit.
    await Promise.all(batch.calls.map((call) => runCall(ctx, call, batch.target)));
    return;
  }
  const rollBack = new Error("fuzz: roll the transaction back");
  const outcome = await settle(() => ctx.store.transaction(async (tx) => {
    // The store may run a body again: each run is a transaction of its own.
    ctx.tx = { writes: 0, bytes: 0 };
    for (const call of batch.calls) await runCall(ctx, call, "tx", tx);
    if (!batch.commit) throw rollBack;
    return "committed";
  }));
  if (!outcome.ok && outcome.error !== rollBack && isCommitTooLarge(ctx, outcome.error)) {
    // A removal of many entries in the body took the commit past the records one commit holds: nothing was written.
    tally(ctx, ["tx:commit-too-large"]);
    return;
  }
  if (!outcome.ok && outcome.error !== rollBack) throw outcome.error; // an assertion inside the body
  assert.equal(outcome.ok ? outcome.value : "rolled back", batch.commit ? "committed" : "rolled back");
}

function isCommitTooLarge(ctx: FuzzContext, error: unknown): boolean {
  return ctx.commitLimited && error instanceof StowageError && error.code === LE && /maxWritesPerCommit|maxBytesPerCommit/.test(error.message);
}

for (const engine of ENGINES) {
  test(`${engine}: ${FUZZ_CALLS} fuzzed calls (mostly invalid) each get success only when valid, else a typed error of a rule they break; stored data never changes`, { timeout: 30 * 60_000 }, async (t) => {
    const fx = await open(engine);
    const closedFx = await open(engine);
    try {
      const { store } = fx;
      await seed(store);
      const before = await snapshot(store);
      const { limits } = (await store.info()).supports;
      const facts: StoreFacts = { cursors: await cursorsOf(store), maxValueBytes: limits.maxValueBytes };

      await seed(closedFx.store);
      const closedBefore = await snapshot(closedFx.store);
      const closedHandles = takeHandles(closedFx.store);
      await closedFx.store.close();

      let stale!: TransactionScope;
      let staleHandles!: HandleSet;
      await store.transaction(async (tx) => {
        stale = tx;
        staleHandles = takeHandles(tx);
      });

      const ctx: FuzzContext = {
        store, closed: closedFx.store, closedHandles, stale, staleHandles, facts, limits, calls: 0, accepted: 0, rejected: 0, categories: new Map(),
        commitLimited: limits.maxTransactionWrites < LIMITS.maxTransactionWrites || limits.maxTransactionBytes < LIMITS.maxTransactionBytes,
        tx: { writes: 0, bytes: 0 },
      };
      const started = performance.now();
      const details = await fc.check(
        fc.asyncProperty(batchArb(facts), async (batch) => {
          await runBatch(ctx, batch);
          assert.deepEqual(await snapshot(store), before, "stored data changed");
        }),
        { numRuns: Math.ceil(FUZZ_CALLS / BATCH), seed: FUZZ_SEED },
      );
      if (details.failed) {
        const batch = details.counterexample?.[0];
        const calls = batch === undefined ? "(none)" : batch.calls.map((c) => `  ${describeCall(batch.target, c)}`).join("\n");
        assert.fail(
          `fuzz failed (seed ${details.seed}, path "${details.counterexamplePath}"; rerun with FUZZ_SEED=${details.seed}):\n` +
          `${errorText(details.errorInstance)}\nshrunk batch (${batch?.target}, commit ${batch?.commit}):\n${calls}`,
        );
      }
      const seconds = ((performance.now() - started) / 1000).toFixed(1);

      // Not vacuous: enough calls, mostly refused, some accepted, every kind of bad input seen.
      assert.ok(ctx.calls >= FUZZ_CALLS, `only ${ctx.calls} calls ran`);
      assert.ok(ctx.rejected >= ctx.calls * 0.5, `only ${ctx.rejected} of ${ctx.calls} calls were refused`);
      assert.ok(ctx.accepted >= ctx.calls * 0.05, `only ${ctx.accepted} of ${ctx.calls} calls were accepted`);
      const missing = REQUIRED_CATEGORIES.filter((c) => (ctx.categories.get(c) ?? 0) === 0);
      assert.deepEqual(missing, [], "kinds of input never exercised");
      assert.deepEqual(await snapshot(store), before);
      if (engine !== "memory") assert.deepEqual(await snapshot(await closedFx.reopen()), closedBefore, "the closed store's file changed");

      const top = [...ctx.categories].sort((a, b) => a[0].localeCompare(b[0])).map(([c, n]) => `${c}=${n}`).join(" ");
      t.diagnostic(`${ctx.calls} calls in ${seconds} s: ${ctx.rejected} refused, ${ctx.accepted} accepted; ${top}`);
    } finally {
      await fx.cleanup();
      await closedFx.cleanup();
    }
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Defects this file found, fixed since: each test states the expected behaviour
// ---------------------------------------------------------------------------------------------------------------

/** Collects every deviation of a regression test, so that one failure lists all the inputs at fault. */
function expectTyped(problems: string[], label: string, outcome: Outcome, codes: readonly ErrorCode[]): void {
  if (outcome.ok) problems.push(`${label}: succeeded, expected ${codes.join(" or ")}`);
  else if (!(outcome.error instanceof StowageError)) problems.push(`${label}: threw ${errorText(outcome.error)}`);
  else if (!codes.includes(outcome.error.code)) problems.push(`${label}: ${outcome.error.code} (${outcome.error.message}), expected ${codes.join(" or ")}`);
}

for (const engine of ENGINES) {
  // src/store/codec-guard.ts builds its message with `${(cause as Error)?.message ?? cause}`, which itself throws a
  // TypeError for a thrown Symbol or a prototype-less object.
  test(`regression (${engine}): a codec that throws a non-Error value gives INVALID_ARGUMENT (encode) / CORRUPT (decode), not a raw TypeError`, async () => {
    const fx = await open(engine);
    try {
      await seed(fx.store);
      const before = await snapshot(fx.store);
      const problems: string[] = [];
      for (const [name, thrown] of [["a Symbol", Symbol("no")], ["a null-prototype object", Object.create(null) as unknown]] as const) {
        const codec = { encode: (): Uint8Array => { throw thrown; }, decode: (): unknown => { throw thrown; } } as Codec<unknown>;
        expectTyped(problems, `kv.put with a codec throwing ${name}`, await settle(() => fx.store.kv(SEED_NS, { codec }).put("k1", 1)), [IA]);
        expectTyped(problems, `log.append with a codec throwing ${name}`, await settle(() => fx.store.log(SEED_NS, { codec }).append("k1", 1)), [IA]);
        expectTyped(problems, `queue.push with a codec throwing ${name}`, await settle(() => fx.store.queue(SEED_NS, { codec }).push("k1", 1)), [IA]);
        expectTyped(problems, `kv.get with a codec throwing ${name}`, await settle(() => fx.store.kv(SEED_NS, { codec }).get("k1")), ["CORRUPT"]);
        expectTyped(problems, `slot.get with a codec throwing ${name}`, await settle(() => fx.store.slot(SEED_NS, { codec }).get("k1")), ["CORRUPT"]);
      }
      assert.deepEqual(await snapshot(fx.store), before);
      assert.deepEqual(problems, []);
    } finally {
      await fx.cleanup();
    }
  });

  // src/store/cursor.ts decodeCursor checks the cursor's shape but not the key inside it, so a forged cursor that names
  // a key no store can hold goes to the engine; with a lone surrogate the engines then disagree (memory compares
  // UTF-16 units, SQLite receives U+FFFD): after "\uD800" memory lists only "𐀀", SQLite lists "\uFFFF" and "𐀀".
  test(`regression (${engine}): a forged list cursor naming an impossible key is INVALID_ARGUMENT`, async () => {
    const fx = await open(engine);
    try {
      await seed(fx.store);
      const problems: string[] = [];
      const kv = fx.store.kv(SEED_NS);
      const forged: Array<[string, unknown, boolean, ErrorCode[]]> = [
        ["a lone surrogate", [1, 0, "\uD800"], false, [IA]],
        ["a lone surrogate (reverse)", [1, 1, "a\uDC00"], true, [IA]],
        ["U+0000", [1, 0, "k\u0000"], false, [IA]],
        ["2,000 bytes", [1, 0, "k".repeat(2000)], false, [IA, LE]],
      ];
      for (const [name, payload, reverse, codes] of forged) {
        expectTyped(problems, `kv.list with a forged cursor after ${name}`, await settle(() => kv.list({ cursor: forgeCursor(payload), reverse })), codes);
      }
      assert.deepEqual(problems, []);
    } finally {
      await fx.cleanup();
    }
  });

  // Nothing checks what the clock returns (openStore only checks that it is a function; src/store/store.ts uses every
  // reading as is). Memory stores NaN / "soon" as timestamps and treats a TTL'd entry as expired at once; SQLite
  // stores the entry without TTL (NaN binds as NULL) and fails log appends and queue pushes with INTERNAL (a NOT NULL
  // constraint). Expected: openStore refuses such a clock, or each call that reads it fails with INVALID_ARGUMENT.
  test(`regression (${engine}): every reading of a user clock is checked`, async () => {
    const tmp = tempDir("bad-input-clock");
    try {
      const problems: string[] = [];
      for (const reading of [Number.NaN, "soon", undefined] as unknown[]) {
        const clock = () => reading as number;
        const path = join(tmp.dir, `clock-${problems.length}-${String(reading)}`);
        const opened = await settle(async () => {
          if (engine === "ordered") return createStore(await OrderedEngine.open(new SortedOrderedStore()), { clock, sweepIntervalMs: 0 });
          if (isNetworked(engine)) return openStore({ ...networkedStore(engine, "clock"), clock, sweepIntervalMs: 0 });
          return openStore(engine === "memory" ? { backend: "memory", clock, sweepIntervalMs: 0 } : { backend: engine, path, clock, sweepIntervalMs: 0 });
        });
        if (!opened.ok) {
          expectTyped(problems, `openStore with a clock returning ${show(reading)}`, opened, [IA]);
          continue;
        }
        const store = opened.value as Store;
        try {
          const label = `clock returning ${show(reading)}:`;
          expectTyped(problems, `${label} kv.put with ttlMs`, await settle(() => store.kv("c").put("k", V, { ttlMs: 1000 })), [IA]);
          expectTyped(problems, `${label} log.append`, await settle(() => store.log("c").append("k", V)), [IA]);
          expectTyped(problems, `${label} queue.push`, await settle(() => store.queue("c").push("k", V)), [IA]);
        } finally {
          await store.close();
        }
      }
      assert.deepEqual(problems, []);
    } finally {
      tmp.remove();
    }
  });
}

// src/store/queue-handle.ts dropOldest returns 0 for a count of 0 before it reaches the executor, which is where the
// closed state is checked: every other valid call on a closed store or an ended transaction is CLOSED.
for (const engine of ENGINES) {
  test(`regression (${engine}): queue.dropOldest(key, 0) on a closed store or an ended transaction is CLOSED`, async () => {
    const fx = await open(engine);
    try {
      const problems: string[] = [];
      let staleQueue!: AnyHandle;
      await fx.store.transaction(async (tx) => {
        staleQueue = seedHandle(tx, "queue");
      });
      expectTyped(problems, "ended transaction: queue.dropOldest(\"k1\", 0)", await settle(() => staleQueue.dropOldest!("k1", 0)), [CLOSED]);
      const queue = seedHandle(fx.store, "queue");
      await fx.store.close();
      expectTyped(problems, "closed store: queue.dropOldest(\"k1\", 0)", await settle(() => queue.dropOldest!("k1", 0)), [CLOSED]);
      expectTyped(problems, "closed store: queue.dropOldest(\"k1\", 1) (for comparison)", await settle(() => queue.dropOldest!("k1", 1)), [CLOSED]);
      assert.deepEqual(problems, []);
    } finally {
      await fx.cleanup();
    }
  });
}

// src/store/store.ts createStore validates neither its engine nor its options, while openStore refuses the same
// options with INVALID_ARGUMENT: a bad clock surfaces later as "TypeError: this.exec.now is not a function" (from
// kv.get), null options as a TypeError at once, a null engine as a TypeError on the first call, and bad
// sweepIntervalMs values or unknown fields are silently accepted.
test("regression: createStore checks its options and its engine as openStore does", async () => {
  const problems: string[] = [];
  const badOptions: unknown[] = [null, 5, { clock: "now" }, { clock: 5 }, { sweepIntervalMs: -1 }, { sweepIntervalMs: 1.5 }, { sweepIntervalMs: Number.NaN }, { sweepIntervalMs: "soon" }, { color: "red" }];
  for (const options of badOptions) {
    const made = settleSync(() => createStore(new MemoryEngine(), options as never));
    if (made.ok) await (made.value as Store).close();
    expectTyped(problems, `createStore(memory engine, ${show(options)})`, made, [IA]);
  }
  for (const engine of [null, undefined, 5, "memory", {}]) {
    const made = settleSync(() => createStore(engine as never));
    if (!made.ok) {
      expectTyped(problems, `createStore(${show(engine)})`, made, [IA]);
      continue;
    }
    // Accepted: then every call must at least fail with a StowageError.
    const store = made.value as Store;
    const got = await settle(() => store.kv("a").get("k"));
    if (got.ok || !(got.error instanceof StowageError)) problems.push(`createStore(${show(engine)}).kv("a").get("k"): ${got.ok ? "succeeded" : `threw ${errorText(got.error)}`}`);
    await settle(() => store.close());
  }
  assert.deepEqual(problems, []);
});
