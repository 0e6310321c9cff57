/**
 * The Azure Table engine on a real emulator (azurite, test/helpers/azurite-server.ts, started for this file and
 * stopped after it; an emulator that cannot start fails the tests): the OrderedStore contract, the whole conformance
 * suite, two stores on one table, BACKEND_UNAVAILABLE while the emulator is down, and resolved writes kept across a
 * restart. Each store gets a table of its own, so every case starts empty on the one emulator.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isStowageError } from "../src/api/errors.js";
import { runConformance } from "../src/conformance/index.js";
import { AZURE_TABLE_ENGINE } from "../src/engines/azure-table/descriptor.js";
import { headRow } from "../src/engines/azure-table/azure-table-keys.js";
import { openAzureTableStore } from "../src/engines/azure-table/azure-table-store.js";
import { runOrderedStoreCases } from "../src/engines/ordered/ordered-store-cases.js";
import type { OrderedStore } from "../src/engines/ordered/ordered-store.js";
import { json, openStore } from "../src/index.js";
import { AZURITE_KEY, useAzurite } from "./helpers/azurite-server.js";

const azurite = useAzurite();
let tables = 0;
const freshTable = (what: string) => `${what}${++tables}`;

const text = (value: string): Uint8Array => new Uint8Array(Buffer.from(value, "latin1"));
const word = (value: Uint8Array | undefined): string | undefined => (value === undefined ? undefined : Buffer.from(value).toString("latin1"));

async function getWord(store: OrderedStore, key: string): Promise<string | undefined> {
  const snapshot = await store.snapshot();
  try {
    return word(await snapshot.get(text(key)));
  } finally {
    snapshot.release();
  }
}

runOrderedStoreCases("azure-table", { describe, it }, async () => {
  const table = freshTable("contract");
  const open = () => openAzureTableStore({ connectionString: azurite().connectionString, table });
  return { store: await open(), reopen: open, dispose: async () => undefined };
});

runConformance("azure-table", (options) => openStore({ backend: "azure-table", connectionString: azurite().connectionString, table: freshTable("conformance"), ...options }), {
  supports: AZURE_TABLE_ENGINE.supports,
});

describe("Azure Table store", () => {
  it("two stores on one table: a commit of one is seen by the other's next snapshot, fails the other's stale check, and its watch hears of it", async () => {
    const table = freshTable("two");
    const first = await openAzureTableStore({ connectionString: azurite().connectionString, table });
    const second = await openAzureTableStore({ connectionString: azurite().connectionString, table });
    let heard = 0;
    const unwatch = second.watchCommits(() => heard++);
    try {
      assert.equal(await first.commit({ checks: [], writes: [{ key: text("k"), value: text("v0") }] }), true);
      assert.equal(await getWord(second, "k"), "v0");
      // The watch polls: commit until it hears (bounded).
      for (let i = 1; i <= 100 && heard === 0; i++) {
        assert.equal(await first.commit({ checks: [], writes: [{ key: text("k"), value: text(`v${i}`) }] }), true);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.ok(heard > 0, "the second store's watch heard the first's commits");
      const older = await second.snapshot();
      try {
        await older.get(text("k"));
        assert.equal(await older.consistent!(), true);
        await first.commit({ checks: [], writes: [{ key: text("k"), value: text("last") }] });
        // A single read is one point in time whatever lands after it; a second read after the commit tears it.
        assert.equal(await older.consistent!(), true);
        await older.get(text("other"));
        assert.equal(await older.consistent!(), false, "the other store's commit tore the snapshot");
      } finally {
        older.release();
      }
      assert.equal(await getWord(second, "k"), "last");
      const stale = { kind: "get" as const, key: text("k"), value: text("v0") };
      assert.equal(await second.commit({ checks: [stale], writes: [{ key: text("x"), value: text("1") }] }), false);
      assert.equal(await getWord(first, "x"), undefined);
    } finally {
      unwatch();
      await first.close();
      await second.close();
    }
  });

  it("two stores incrementing one counter in transactions at the same time lose no update, and a two-key invariant holds in every read", async () => {
    const table = freshTable("race");
    const stores = await Promise.all([0, 1].map(() => openStore({ backend: "azure-table", connectionString: azurite().connectionString, table })));
    try {
      const rounds = 15;
      const increments = stores.map(async (store) => {
        for (let i = 0; i < rounds; i++) {
          await store.transaction(async (tx) => {
            const kv = tx.kv("c", { codec: json<number>() });
            const n = (await kv.get("n")) ?? 0;
            // Two keys that always move together: a read that saw one commit's a and another's b would find them apart.
            await kv.put("n", n + 1);
            await kv.put("m", -(n + 1));
          });
        }
      });
      const reads = (async () => {
        for (let i = 0; i < 20; i++) {
          const [n, m] = await stores[0]!.transaction(async (tx) => {
            const kv = tx.kv("c", { codec: json<number>() });
            return [(await kv.get("n")) ?? 0, (await kv.get("m")) ?? 0];
          });
          assert.equal(n, -m, "n and m read at one point");
        }
      })();
      await Promise.all([...increments, reads]);
      assert.equal(await stores[1]!.kv("c", { codec: json<number>() }).get("n"), 2 * rounds);
    } finally {
      await Promise.all(stores.map((store) => store.close()));
    }
  });

  it("keys longer than a RowKey holds go in buckets: exact gets, and ranges in byte order across and inside buckets", async () => {
    const store = await openAzureTableStore({ connectionString: azurite().connectionString, table: freshTable("long") });
    try {
      const base = Buffer.alloc(400, 0x61);
      const keys = [Buffer.alloc(354, 0x61), Buffer.concat([base, Buffer.from([0xff])]), Buffer.concat([base, Buffer.from([0x00])]), base, Buffer.alloc(1107, 0x61), Buffer.alloc(380, 0x62), Buffer.from("a")];
      assert.equal(await store.commit({ checks: [], writes: keys.map((key, i) => ({ key, value: Buffer.from([i]) })) }), true);
      const sorted = [...keys].sort(Buffer.compare);
      const snapshot = await store.snapshot();
      try {
        for (const [i, key] of keys.entries()) assert.deepEqual([...((await snapshot.get(key)) ?? [])], [i]);
        assert.equal(await snapshot.get(Buffer.alloc(401, 0x61)), undefined);
        const all = await snapshot.range(Buffer.from([0]), Buffer.from([0xff]));
        assert.deepEqual(all.map(([key]) => Buffer.from(key).toString("hex")), sorted.map((key) => key.toString("hex")));
        const inside = await snapshot.range(base, Buffer.concat([base, Buffer.from([0x80])]));
        assert.deepEqual(inside.map(([key]) => key.length), [400, 401, 1107].sort((a, b) => a - b));
        const reversed = await snapshot.range(Buffer.from([0]), Buffer.from([0xff]), { reverse: true, limit: 2 });
        assert.deepEqual(reversed.map(([key]) => Buffer.from(key).toString("hex")), sorted.reverse().slice(0, 2).map((key) => key.toString("hex")));
      } finally {
        snapshot.release();
      }
    } finally {
      await store.close();
    }
  });

  it("a long value's extra rows: removed when a shorter value replaces it after a read, skipped by reads when not", async () => {
    const table = freshTable("rows");
    const store = await openAzureTableStore({ connectionString: azurite().connectionString, table });
    const { TableClient } = await import("@azure/data-tables");
    const raw = TableClient.fromConnectionString(azurite().connectionString, table, { allowInsecureConnection: true });
    const rowsOf = async (key: string): Promise<number> => {
      let rows = 0;
      const head = headRow(text(key));
      for await (const entity of raw.listEntities()) if (entity.rowKey === head || (entity.rowKey as string).startsWith(`${head}-`)) rows++;
      return rows;
    };
    try {
      const long = new Uint8Array(1_600_000).fill(7);
      for (const key of ["L", "M"]) assert.equal(await store.commit({ checks: [], writes: [{ key: text(key), value: long }] }), true);
      const three = await rowsOf("L");
      assert.equal(three, 3, "a 1.6 MB value takes three rows of 704 KiB");
      // L is replaced after a read of it: its extra rows go in the same batch. M is replaced blindly: they stay.
      const snapshot = await store.snapshot();
      const read = await snapshot.get(text("L"));
      assert.equal(read?.length, long.length);
      assert.equal(await store.commit({ checks: [{ kind: "get", key: text("L"), value: read }], writes: [{ key: text("L"), value: text("short") }], snapshot }), true);
      snapshot.release();
      assert.equal(await store.commit({ checks: [], writes: [{ key: text("M"), value: text("short") }] }), true);
      assert.equal(await rowsOf("L"), 1, "only the head row is left");
      assert.equal(await rowsOf("M"), three, "the blind put left the old rows");
      assert.equal(await getWord(store, "L"), "short");
      assert.equal(await getWord(store, "M"), "short");
      const all = await (await store.snapshot()).range(text("A"), text("Z"));
      assert.deepEqual(all.map(([key, value]) => [word(key), word(value)]), [["L", "short"], ["M", "short"]]);
    } finally {
      await store.close();
    }
  });

  it("the location names the endpoint and table, never the key; a missing connection string is INVALID_ARGUMENT", async () => {
    const store = await openStore({ backend: "azure-table", connectionString: azurite().connectionString, table: freshTable("where") });
    try {
      const info = await store.info();
      assert.equal(info.location, `${azurite().endpoint}/${`where${tables}`}`);
      assert.ok(!JSON.stringify(info).includes(AZURITE_KEY));
    } finally {
      await store.close();
    }
    await assert.rejects(openStore({ backend: "azure-table" } as never), (error: unknown) => isStowageError(error, "INVALID_ARGUMENT") && /connection/i.test(error.message));
  });

  it("the emulator down: reads and writes fail BACKEND_UNAVAILABLE naming the engine and endpoint within the timeout; restarted, resolved writes are kept", async () => {
    const server = azurite();
    const store = await openStore({ backend: "azure-table", connectionString: server.connectionString, table: freshTable("restart"), requestTimeoutMs: 1_500 });
    try {
      const kv = store.kv("things", { codec: json<string>() });
      for (let i = 0; i < 10; i++) await kv.put(`k${i}`, `v${i}`);
      await server.stop();
      const started = Date.now();
      for (const attempt of [() => kv.get("k1"), () => kv.put("k1", "lost")]) {
        await assert.rejects(attempt(), (error: unknown) => {
          assert.ok(isStowageError(error), String(error));
          assert.equal(error.code, "BACKEND_UNAVAILABLE", error.message);
          assert.match(error.message, /azure-table/);
          assert.ok(error.message.includes(`127.0.0.1:${server.port}`), error.message);
          assert.ok(!error.message.includes(AZURITE_KEY));
          return true;
        });
      }
      assert.ok(Date.now() - started < 15_000, "the failures came within the request timeout, not after a hang");
      await server.start();
      for (let i = 0; i < 10; i++) assert.equal(await kv.get(`k${i}`), `v${i}`);
      await kv.put("k1", "after");
      assert.equal(await kv.get("k1"), "after");
    } finally {
      await store.close();
    }
  });
});
