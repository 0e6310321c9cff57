/**
 * SchemaRegistry (the `schemas` Log and KV index) on memory, SQLite and PostgreSQL: fingerprints, versions, history,
 * `atSequence`, other registries following the log, the index rebuilt from the log, bad input, and 3 processes
 * registering for one table at once.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { canonicalSchema, SCHEMAS_NAMESPACE, SchemaRegistry, schemaFingerprint, type SchemaVersion } from "../src/adapters/schema-registry.js";
import { LIMITS, openStore, type OpenStoreOptions, type Store } from "../src/index.js";
import { killAll, lastJson, sleep, startChild, waitAllFor, type Child } from "./helpers/child.js";
import { usePostgresServer } from "./helpers/postgres-server.js";
import { withEngineStore, type EngineName } from "./helpers/engine-store.js";

const pgServer = usePostgresServer();

const START = 1_700_000_000_000;

/** Opens a fresh store of `engine` for `body` (with a clock that moves 1 s per reading), then closes and removes it. */
function withStore(engine: EngineName, name: string, body: (store: Store, options: OpenStoreOptions) => Promise<void>): Promise<void> {
  let now = START;
  return withEngineStore(engine, "schemas", name, () => pgServer().dsn, body, () => (now += 1_000));
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await sleep(10);
  }
  return true;
}

const lastSeq = (store: Store) => store.log(SCHEMAS_NAMESPACE).lastSeq();

/** Every answer the registry gives, for every table: what a rebuild must leave unchanged. */
function answers(registry: SchemaRegistry, maxSeq: number): unknown {
  return registry.tables().map(({ tenant, db, table }) => {
    const history = registry.history(tenant, db, table);
    return {
      table: [tenant, db, table],
      latest: registry.latest(tenant, db, table),
      history,
      versions: Array.from({ length: history.length + 2 }, (_, n) => (n === 0 ? "-" : registry.version(tenant, db, table, n))),
      atSequence: Array.from({ length: maxSeq + 2 }, (_, seq) => registry.atSequence(tenant, db, table, seq)?.version),
    };
  });
}

test("fingerprints: the canonical form ignores key order and nothing else; non-JSON values are refused where they are", () => {
  const a = { name: "orders", columns: [{ name: "id", type: "int", nullable: false }, { name: "total", type: { decimal: [10, 2] } }] };
  const b = { columns: [{ nullable: false, type: "int", name: "id" }, { type: { decimal: [10, 2] }, name: "total" }], name: "orders" };
  assert.equal(canonicalSchema(a), canonicalSchema(b));
  assert.equal(canonicalSchema(b), '{"columns":[{"name":"id","nullable":false,"type":"int"},{"name":"total","type":{"decimal":[10,2]}}],"name":"orders"}');
  assert.equal(schemaFingerprint(a), schemaFingerprint(b));
  assert.match(schemaFingerprint(a), /^[0-9a-f]{64}$/);
  const different = [
    { ...a, columns: [...a.columns].reverse() }, // array order is structure
    { ...a, columns: [{ ...a.columns[0], nullable: true }, a.columns[1]] },
    { ...a, columns: [{ ...a.columns[0], type: "bigint" }, a.columns[1]] },
    { ...a, extra: null },
    { ...a, name: 1 },
    [a],
  ];
  const fingerprints = new Set([schemaFingerprint(a), ...different.map((schema) => schemaFingerprint(schema))]);
  assert.equal(fingerprints.size, different.length + 1, "every change of structure changes the fingerprint");
  assert.notEqual(schemaFingerprint("1"), schemaFingerprint(1));
  const shared = { type: "int" };
  assert.doesNotThrow(() => canonicalSchema({ a: shared, b: shared }), "the same object twice is not a cycle");

  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = { back: cyclic };
  const bad: Array<[unknown, RegExp]> = [
    [{ a: undefined }, /schema\.a is undefined/],
    [{ f: () => 1 }, /schema\.f is a function/],
    [{ n: [1, Number.NaN] }, /schema\.n\[1\] is NaN/],
    [{ n: Infinity }, /Infinity/],
    [{ big: 1n }, /bigint/],
    [{ s: Symbol("x") }, /symbol/],
    [cyclic, /schema\.self\.back contains itself/],
    [{ when: new Date(0) }, /schema\.when is a Date/],
    [{ m: new Map() }, /a Map/],
    [[1, , 3], /schema\[1\] is a hole/],
    [{ "a b": { c: undefined } }, /schema\["a b"\]\.c is undefined/],
  ];
  for (const [value, message] of bad) {
    assert.throws(() => schemaFingerprint(value, { namespace: "schemas", key: "t/d/x" }), (error: unknown) => {
      assert.equal((error as { code?: string }).code, "INVALID_ARGUMENT");
      assert.equal((error as { namespace?: string }).namespace, "schemas");
      assert.equal((error as { key?: string }).key, "t/d/x");
      assert.match((error as Error).message, message);
      return true;
    });
  }
  let deep: unknown = "leaf";
  for (let i = 0; i < 300; i++) deep = [deep];
  assert.throws(() => canonicalSchema(deep), /nested deeper than/);
});

test("forTesting: starts empty over an in-memory store of its own, which close() closes", async () => {
  const registry = await SchemaRegistry.forTesting();
  assert.equal(registry.store.engine, "memory");
  assert.deepEqual(registry.tables(), []);
  assert.equal(registry.latest("t", "d", "x"), undefined);
  assert.equal(registry.position, 0);
  assert.equal((await registry.register("t", "d", "x", { a: 1 })).version, 1);
  const other = await SchemaRegistry.forTesting();
  assert.deepEqual(other.tables(), [], "each one is a fresh store");
  await other.close();
  await registry.close();
  await registry.close(); // idempotent
  await assert.rejects(async () => registry.store.log(SCHEMAS_NAMESPACE).lastSeq(), { code: "CLOSED" }, "its store is closed");
  await assert.rejects(registry.register("t", "d", "x", { a: 2 }), { code: "CLOSED", namespace: "schemas" });
  assert.throws(() => registry.latest("t", "d", "x"), { code: "CLOSED" });
});

test("bad input: typed errors naming the namespace, before anything is written", async () => {
  const registry = await SchemaRegistry.forTesting();
  try {
    const invalid = { code: "INVALID_ARGUMENT", namespace: "schemas" };
    for (const [tenant, db, table] of [["", "d", "x"], ["t", "", "x"], ["t", "d", ""], [42, "d", "x"], ["t", null, "x"], ["t", "d", "a\u0000b"], ["t", "\ud800", "x"]]) {
      await assert.rejects(registry.register(tenant as string, db as string, table as string, {}), invalid);
      assert.throws(() => registry.latest(tenant as string, db as string, table as string), invalid);
      assert.throws(() => registry.history(tenant as string, db as string, table as string), invalid);
    }
    const named = { code: "INVALID_ARGUMENT", namespace: "schemas", key: "t/d%2Fe/x" };
    await assert.rejects(registry.register("t", "d/e", "x", { f: () => 1 }), named);
    await assert.rejects(registry.register("t", "d/e", "x", undefined), named);
    await assert.rejects(registry.register("t", "d/e", "x", {}, { checkpoint: 5 as never }), named);
    await assert.rejects(registry.register("t", "d/e", "x", {}, { position: "1" } as never), named);
    await assert.rejects(registry.register("t", "d/e", "x", {}, "cp" as never), named);
    for (const n of [0, -1, 1.5, Number.NaN, "1", 2 ** 53]) assert.throws(() => registry.version("t", "d/e", "x", n as number), named);
    for (const seq of [-1, 0.5, Number.POSITIVE_INFINITY, "3", undefined]) assert.throws(() => registry.atSequence("t", "d/e", "x", seq as number), named);
    await assert.rejects(SchemaRegistry.open(registry.store, { live: "yes" } as never), invalid);
    await assert.rejects(SchemaRegistry.open(registry.store, { follow: true } as never), invalid);
    // A key over the store's limit is the store's LIMIT_EXCEEDED.
    await assert.rejects(registry.register("t", "d", "x".repeat(LIMITS.maxKeyBytes), {}), { code: "LIMIT_EXCEEDED", namespace: "schemas" });
    assert.equal(await lastSeq(registry.store), 0, "nothing was written");
    assert.deepEqual(registry.tables(), []);
  } finally {
    await registry.close();
  }
});

test("a schema whose getter or proxy throws is INVALID_ARGUMENT naming where, not a plain Error (issue 17, suspected)", async () => {
  const registry = await SchemaRegistry.forTesting();
  try {
    const named = { code: "INVALID_ARGUMENT", namespace: "schemas", key: "t/d/x" };
    const getter = { id: "int", get total(): string { throw new Error("boom"); } };
    await assert.rejects(registry.register("t", "d", "x", getter), { ...named, message: /schema\.total could not be read: boom/ });
    const keysTrap = new Proxy({}, { ownKeys() { throw new TypeError("no keys"); } });
    await assert.rejects(registry.register("t", "d", "x", { fields: keysTrap }), { ...named, message: /schema\.fields could not be read/ });
    const element = [1, 2];
    Object.defineProperty(element, 1, { get() { throw new RangeError("late"); } });
    await assert.rejects(registry.register("t", "d", "x", { list: element }), { ...named, message: /schema\.list\[1\] could not be read/ });
    let reads = 0;
    const fickle = { get v(): number { reads += 1; return reads; } };
    await assert.rejects(registry.register("t", "d", "x", fickle), { ...named, message: /changed while it was being read/ });
    assert.equal(await lastSeq(registry.store), 0, "nothing was written");
  } finally {
    await registry.close();
  }
});

test("close() during a register() that has committed: register resolves to its version, not CLOSED (issue 17, suspected)", async () => {
  const store = await openStore({ backend: "memory", sweepIntervalMs: 0 });
  try {
    const registry = await SchemaRegistry.open(store, { live: false });
    // Another registry's registration the first has not read: its own then needs a catch-up after the commit.
    const other = await SchemaRegistry.open(store, { live: false });
    await other.register("t", "d", "first", { a: 1 });
    const registering = registry.register("t", "d", "second", { b: 1 });
    const closing = registry.close();
    const version = await registering;
    await closing;
    assert.deepEqual({ version: version.version, sequence: version.sequence, schema: version.schema }, { version: 1, sequence: 2, schema: { b: 1 } });
    assert.equal(Object.isFrozen(version), true);
    assert.equal((await store.log(SCHEMAS_NAMESPACE).lastSeq()), 2, "it committed");
    await other.close();
  } finally {
    await store.close();
  }
});

for (const engine of ["memory", "sqlite", "postgres"] as const) {
  test(`${engine}: register gives versions by fingerprint; version, history and atSequence answer from the cache`, async () => {
    await withStore(engine, `versions_${engine}`, async (store) => {
      const registry = await SchemaRegistry.open(store);
      const v1Schema = { id: "int", name: "text", tags: ["a", "b"] };
      const v1 = await registry.register("acme", "shop", "orders", v1Schema, { checkpoint: "binlog.000001:100" });
      assert.deepEqual(
        { ...v1 },
        { tenant: "acme", db: "shop", table: "orders", version: 1, fingerprint: schemaFingerprint(v1Schema), sequence: 1, timestamp: v1.timestamp, schema: v1Schema, checkpoint: "binlog.000001:100" },
      );
      assert.ok(v1.timestamp > START, "stamped by the store clock");
      assert.equal(registry.latest("acme", "shop", "orders"), v1, "visible at once, as the very object returned");

      const again = await registry.register("acme", "shop", "orders", { tags: ["a", "b"], name: "text", id: "int" }, { checkpoint: "binlog.000009:1" });
      assert.equal(again, v1, "the same structure in another key order is the latest version: returned unchanged");
      assert.equal(await lastSeq(store), 1, "and nothing was appended");

      const users = await registry.register("acme", "shop", "users", { id: "int" });
      assert.deepEqual([users.version, users.sequence], [1, 2], "versions are per table, sequences global");
      const v2 = await registry.register("acme", "shop", "orders", { id: "int", name: "text", tags: ["b", "a"] });
      assert.deepEqual([v2.version, v2.sequence, v2.checkpoint], [2, 3, undefined]);
      assert.ok(v2.timestamp > v1.timestamp);
      const v3 = await registry.register("acme", "shop", "orders", v1Schema);
      assert.deepEqual([v3.version, v3.sequence, v3.fingerprint], [3, 4, v1.fingerprint], "an older structure, not the latest, is a new version");
      assert.equal(v3.checkpoint, undefined);
      assert.equal(await lastSeq(store), 4);

      assert.equal(registry.latest("acme", "shop", "orders"), v3);
      assert.deepEqual([1, 2, 3, 4].map((n) => registry.version("acme", "shop", "orders", n)), [v1, v2, v3, undefined]);
      assert.deepEqual(registry.history("acme", "shop", "orders"), [v1, v2, v3]);
      assert.deepEqual(registry.history("acme", "shop", "users"), [users]);
      assert.deepEqual(registry.history("acme", "shop", "nothing"), []);
      assert.equal(registry.latest("acme", "shop", "nothing"), undefined);
      // Sequences 1 (v1), 3 (v2), 4 (v3): below the first, equal, between, above the last.
      assert.deepEqual([0, 1, 2, 3, 4, 5, 1_000].map((seq) => registry.atSequence("acme", "shop", "orders", seq)?.version), [undefined, 1, 1, 2, 3, 3, 3]);
      assert.deepEqual([0, 1, 2, 3].map((seq) => registry.atSequence("acme", "shop", "users", seq)?.version), [undefined, undefined, 1, 1]);

      // Names with '/' and '%' are distinct tables.
      const slashA = await registry.register("a/b", "c", "d", { x: 1 });
      const slashB = await registry.register("a", "b/c", "d", { x: 1 });
      const percent = await registry.register("a", "b%2Fc", "d", { x: 1 });
      assert.deepEqual([slashA.version, slashB.version, percent.version], [1, 1, 1]);
      assert.deepEqual(registry.tables(), [
        { tenant: "a", db: "b%2Fc", table: "d" },
        { tenant: "a", db: "b/c", table: "d" },
        { tenant: "a/b", db: "c", table: "d" },
        { tenant: "acme", db: "shop", table: "orders" },
        { tenant: "acme", db: "shop", table: "users" },
      ]);

      // What the cache hands out cannot be changed by the caller.
      assert.throws(() => {
        (v1.schema as { id: string }).id = "bigint";
      }, TypeError);
      assert.throws(() => {
        (v1 as { version: number }).version = 9;
      }, TypeError);
      v1Schema.id = "changed after registering";
      assert.equal((registry.version("acme", "shop", "orders", 1)?.schema as { id: string }).id, "int");

      // A schema whose record is over the value limit is refused by the store, and nothing is written.
      const before = await lastSeq(store);
      await assert.rejects(registry.register("acme", "shop", "huge", { blob: "x".repeat(LIMITS.maxValueBytes) }), { code: "LIMIT_EXCEEDED", namespace: "schemas" });
      assert.equal(await lastSeq(store), before);
      assert.equal(registry.latest("acme", "shop", "huge"), undefined);

      const info = await store.info();
      assert.deepEqual(info.namespaces.map((n) => `${n.primitive}:${n.namespace}:${n.count}`), ["kv:schemas:5", "log:schemas:7"], "it owns the schemas log and KV index only");
      await registry.close();
      assert.equal(await lastSeq(store), 7, "closing the registry leaves the store open");
    });
  });

  test(`${engine}: other registries learn of registrations: live through the log's tail, or by refresh()`, async () => {
    await withStore(engine, `follow_${engine}`, async (store) => {
      const a = await SchemaRegistry.open(store);
      const first = await a.register("t", "d", "x", { v: 1 });
      const b = await SchemaRegistry.open(store);
      const still = await SchemaRegistry.open(store, { live: false });
      assert.deepEqual(b.latest("t", "d", "x"), first, "replayed at open");

      const second = await a.register("t", "d", "x", { v: 2 });
      assert.ok(await waitUntil(() => b.latest("t", "d", "x")?.version === 2, 10_000), "b's live feed brings a's registration in");
      assert.deepEqual(b.latest("t", "d", "x"), second);
      assert.equal(still.latest("t", "d", "x")?.version, 1, "a registry that does not follow keeps what it had");
      assert.equal(await still.refresh(), 2);
      assert.deepEqual(still.history("t", "d", "x"), [first, second]);

      // b registers what a does not know yet: b gets the next version, and a learns of it.
      const third = await b.register("t", "d", "x", { v: 3 });
      assert.equal(third.version, 3);
      assert.ok(await waitUntil(() => a.position === 3, 10_000));
      assert.deepEqual(a.history("t", "d", "x"), b.history("t", "d", "x"));
      // still registers behind: its answer (and its cache) take in what it missed first.
      const fourth = await still.register("t", "d", "x", { v: 4 });
      assert.equal(fourth.version, 4);
      assert.deepEqual(still.history("t", "d", "x").map((v) => v.version), [1, 2, 3, 4]);

      // Concurrent registrations in one process: consecutive versions, each visible when its call resolves.
      const many = await Promise.all(Array.from({ length: 10 }, (_, i) => a.register("t", "d", "y", { n: i })));
      assert.deepEqual(many.map((v) => v.version).sort((x, y) => x - y), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      assert.equal(a.history("t", "d", "y").length, 10);
      assert.equal(await b.refresh(), await lastSeq(store));
      assert.deepEqual(b.history("t", "d", "y"), a.history("t", "d", "y"));

      await Promise.all([a.close(), b.close(), still.close()]);
      const later = await SchemaRegistry.open(store, { live: false });
      assert.equal(later.history("t", "d", "y").length, 10, "the store is still open");
      await later.close();
    });
  });

  test(`${engine}: the KV index is rebuilt from the log: every answer unchanged; register stays right without it`, async () => {
    await withStore(engine, `rebuild_${engine}`, async (store) => {
      const registry = await SchemaRegistry.open(store);
      const tables = [["acme", "shop", "orders"], ["acme", "shop", "users"], ["globex", "crm/eu", "accounts"]] as const;
      for (let round = 0; round < 4; round++) {
        for (const [i, [tenant, db, table]] of tables.entries()) {
          if (round > i + 1) continue; // tables of 2, 3 and 4 versions
          await registry.register(tenant, db, table, { round, columns: [tenant, table] }, { checkpoint: `pos-${round}` });
        }
      }
      await registry.register("acme", "shop", "orders", { columns: ["acme", "orders"], round: 1 }); // unchanged
      const maxSeq = await lastSeq(store);
      assert.equal(maxSeq, 9);
      const expected = answers(registry, maxSeq);
      const index = store.kv(SCHEMAS_NAMESPACE);
      const readIndex = async () => (await index.list()).entries.map((e) => [e.key, JSON.parse(Buffer.from(e.value).toString()) as unknown]);
      const indexed = await readIndex();
      const keys = ["acme/shop/orders", "acme/shop/users", "globex/crm%2Feu/accounts"];
      assert.deepEqual(
        indexed,
        tables.map(([tenant, db, table], i) => {
          const latest = registry.latest(tenant, db, table) as SchemaVersion;
          return [keys[i], { version: latest.version, fingerprint: latest.fingerprint, sequence: latest.sequence }];
        }),
      );
      assert.deepEqual(tables.map(([tenant, db, table]) => registry.latest(tenant, db, table)?.version), [2, 3, 4]);
      await registry.close();

      // Drop the index, and leave a stale entry of a table the log does not have: reopen restores it from the log.
      assert.equal(await index.deleteRange({}), 3);
      await index.put("ghost/db/table", Buffer.from(JSON.stringify({ version: 7, fingerprint: "f", sequence: 2 })));
      const reopened = await SchemaRegistry.open(store);
      assert.deepEqual(answers(reopened, maxSeq), expected, "every answer unchanged");
      assert.deepEqual(await readIndex(), indexed, "the index is restored, the stale entry gone");

      // An index entry that is wrong, behind or unreadable is passed over by register itself (the log decides), and
      // put right in the same transaction.
      const usersV1 = reopened.version("acme", "shop", "users", 1) as SchemaVersion;
      await index.put("acme/shop/orders", Buffer.from(JSON.stringify({ version: 1, fingerprint: "old", sequence: maxSeq })));
      await index.put("acme/shop/users", Buffer.from(JSON.stringify({ version: 1, fingerprint: usersV1.fingerprint, sequence: usersV1.sequence })));
      await index.put("globex/crm%2Feu/accounts", Buffer.from("not json"));
      const orders = await reopened.register("acme", "shop", "orders", { round: 9 });
      const users = await reopened.register("acme", "shop", "users", { round: 2, columns: ["acme", "users"] });
      const accounts = await reopened.register("globex", "crm/eu", "accounts", { round: 9 });
      assert.deepEqual([orders.version, users.version, accounts.version], [3, 3, 5]);
      assert.equal(users, reopened.version("acme", "shop", "users", 3), "the unchanged users schema is its latest version");
      assert.equal(await lastSeq(store), maxSeq + 2, "and appended nothing");
      const versionsIndexed = async () => Object.fromEntries((await readIndex()).map(([key, entry]) => [key, (entry as { version: number }).version]));
      assert.deepEqual(await versionsIndexed(), { "acme/shop/orders": 3, "acme/shop/users": 3, "globex/crm%2Feu/accounts": 5 });
      await index.delete("acme/shop/orders");
      assert.equal((await reopened.register("acme", "shop", "orders", { round: 10 })).version, 4, "a missing entry: the table's whole log decides");
      assert.equal((await versionsIndexed())["acme/shop/orders"], 4);
      const ordersV4 = reopened.latest("acme", "shop", "orders") as SchemaVersion;
      await index.put("acme/shop/orders", Buffer.from(JSON.stringify({ version: 4, fingerprint: "not the one", sequence: ordersV4.sequence })));
      assert.equal(await reopened.register("acme", "shop", "orders", { round: 10 }), ordersV4, "a wrong fingerprint in the index: the log's is compared");
      assert.deepEqual(
        await readIndex(),
        reopened.tables().map(({ tenant, db, table }, i) => {
          const latest = reopened.latest(tenant, db, table) as SchemaVersion;
          return [keys[i], { version: latest.version, fingerprint: latest.fingerprint, sequence: latest.sequence }];
        }),
        "every entry is right again",
      );
      await reopened.close();
    });
  });
}

for (const engine of ["sqlite", "postgres"] as const) {
  test(`${engine}: 3 processes registering for one table: versions 1..N, no gap, no duplicate, and every process sees them all`, async (t) => {
    await withStore(engine, `race_${engine}`, async (store, options) => {
      const PER_WORKER = 20;
      const WORKERS = 3;
      const TOTAL = PER_WORKER * WORKERS;
      const watcher = await SchemaRegistry.open(store);
      const children: Child[] = [];
      try {
        for (let i = 0; i < WORKERS; i++) children.push(startChild("schema-registrar", [JSON.stringify(options), `w${i}`, String(PER_WORKER), String(TOTAL)]));
        await waitAllFor(children, "ready", 15_000);
        for (const child of children) child.send("go");
        const exits = await Promise.all(children.map((child) => child.finish(40_000)));
        exits.forEach((exit, i) => assert.deepEqual(exit, { code: 0, signal: null }, (children[i] as Child).describe()));
        type Report = { id: string; registered: Array<[number, number]>; seen: Array<[number, number, string]> };
        const reports = children.map((child) => lastJson<Report>(child));
        const versions = reports.flatMap((r) => r.registered.map(([version]) => version)).sort((a, b) => a - b);
        assert.deepEqual(versions, Array.from({ length: TOTAL }, (_, i) => i + 1), "each version made by exactly one registration");
        for (const report of reports) {
          const own = report.registered.map(([version]) => version);
          assert.deepEqual(own, [...own].sort((a, b) => a - b), "a process's own versions grow");
        }
        assert.ok(await waitUntil(() => watcher.position === TOTAL, 15_000), "the parent's live feed took in every registration");
        const history = watcher.history("acme", "shop/eu", "orders");
        assert.deepEqual(history.map((v) => v.version), versions);
        assert.deepEqual(history.map((v) => v.sequence), versions, "one table only: sequences follow versions");
        assert.equal(new Set(history.map((v) => v.fingerprint)).size, TOTAL);
        const expected = history.map((v) => [v.version, v.sequence, v.fingerprint]);
        for (const report of reports) assert.deepEqual(report.seen, expected, `${report.id} saw every process's versions through its live feed`);
        t.diagnostic(`versions per worker in order: ${reports.map((r) => r.registered.map(([v]) => v).join(",")).join(" | ")}`);
      } finally {
        await killAll(children);
        await watcher.close();
      }
    });
  });
}
