/**
 * The PostgreSQL engine's plain reads: they run on a pool of their own (READ ONLY connections, still SERIALIZABLE; the
 * isolation tests show them ordered against transactions), and a value read back is its bytes exactly, in memory of
 * its own, whether the server sends bytea in its hex form or, where a DBA set `bytea_output = escape`, in its escape form.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import pg from "pg";
import { openStore } from "../src/index.js";
import { usePostgresServer } from "./helpers/postgres-server.js";

const pgServer = usePostgresServer();

/** Values of the lengths that matter: empty, one byte, below and above the size Node's shared pool serves (4 KiB). */
const VALUES = [0, 1, 100, 256, 5_000].map((length) => Uint8Array.from({ length }, (_, i) => (i * 7 + length) % 256));

/** Puts and gets {@link VALUES} through a store on `dsn`: each read back exactly, in memory of its own, by the read pool. */
async function roundTrip(dsn: string, schema: string): Promise<void> {
  const store = await openStore({ backend: "postgres", dsn, schema, poolSize: 3, sweepIntervalMs: 0 });
  try {
    const kv = store.kv("ns");
    for (const [i, value] of VALUES.entries()) await kv.put(`k${i}`, value);
    for (const [i, value] of VALUES.entries()) {
      const read = (await kv.get(`k${i}`)) as Uint8Array;
      assert.deepEqual(read, value, `value of ${value.length} bytes (${schema})`);
      assert.equal(read.byteOffset, 0, "a value read owns its memory");
      assert.equal(read.buffer.byteLength, value.length, "a value read owns its memory, and only its bytes");
    }
    assert.equal(await kv.get("absent"), undefined);
    const { facts } = await store.health();
    assert.equal(facts.readPoolMax, 3);
    assert.ok(Number(facts.readPoolTotal) >= 1, "the gets opened read connections");
  } finally {
    await store.close();
  }
}

test("postgres: gets run on the read pool and read values back exactly, bytea in hex form", async () => {
  await roundTrip(pgServer().dsn, "read_pool_hex");
});

test("postgres: gets read values back exactly with bytea_output = escape", async () => {
  const admin = new pg.Client({ connectionString: pgServer().dsn });
  await admin.connect();
  try {
    await admin.query("CREATE ROLE escaped LOGIN SUPERUSER");
    await admin.query("ALTER ROLE escaped SET bytea_output = 'escape'");
  } finally {
    await admin.end();
  }
  await roundTrip(pgServer().dsn.replace("stowage@", "escaped@"), "read_pool_escape");
});

test("postgres: readPoolSize bounds the read pool on its own, 16 concurrent gets on 2 connections", async () => {
  const store = await openStore({ backend: "postgres", dsn: pgServer().dsn, schema: "read_pool_size", poolSize: 5, readPoolSize: 2, sweepIntervalMs: 0 });
  try {
    const kv = store.kv("ns");
    await kv.put("k", new Uint8Array([1, 2, 3]));
    const reads = await Promise.all(Array.from({ length: 16 }, () => kv.get("k")));
    for (const read of reads) assert.deepEqual(read, new Uint8Array([1, 2, 3]));
    const { facts } = await store.health();
    assert.equal(facts.readPoolMax, 2);
    assert.equal(facts.poolMax, 5);
    assert.ok(Number(facts.readPoolTotal) <= 2, `at most 2 read connections, got ${String(facts.readPoolTotal)}`);
  } finally {
    await store.close();
  }
});
