/**
 * The etcd engine on a real etcd server (test/helpers/etcd-server.ts, started for this file and stopped after it; a
 * server that cannot start fails the tests): the OrderedStore contract, the whole conformance suite, two clients on
 * one prefix (commits seen across them, live feeds woken through etcd's watch), commits larger than etcd's 128
 * operations per transaction, BACKEND_UNAVAILABLE while the server is down, and resolved writes kept across a crash.
 * Each store gets a prefix of its own, so every case starts empty on the one server.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isStowageError } from "../src/api/errors.js";
import { isSerializationFailure } from "../src/engines/transaction-failure.js";
import { runConformance } from "../src/conformance/index.js";
import { ETCD_ENGINE } from "../src/engines/etcd/descriptor.js";
import { openEtcdStore } from "../src/engines/etcd/etcd-store.js";
import { runOrderedStoreCases } from "../src/engines/ordered/ordered-store-cases.js";
import type { OrderedCheck, OrderedStore } from "../src/engines/ordered/ordered-store.js";
import { json, openStore } from "../src/index.js";
import { storeParts } from "../src/wrappers/layer.js";
import { useEtcdServer } from "./helpers/etcd-server.js";
import { freePort } from "./helpers/postgres-server.js";

const server = useEtcdServer();
let prefixes = 0;
const freshPrefix = (what: string) => `test-${what}-${++prefixes}/`;

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

/** Resolves once `condition` holds, or fails after `ms` (polled every 10 ms: a bounded loop). */
async function eventually(condition: () => boolean, ms: number, what: string): Promise<void> {
  for (let waited = 0; !condition(); waited += 10) {
    if (waited >= ms) assert.fail(`${what} did not happen within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

runOrderedStoreCases("etcd", { describe, it }, async () => {
  const prefix = freshPrefix("contract");
  const open = () => openEtcdStore({ endpoints: server().endpoint, prefix });
  return { store: await open(), reopen: open, dispose: async () => undefined };
});

runConformance("etcd", (options) => openStore({ backend: "etcd", endpoints: server().endpoint, prefix: freshPrefix("conformance"), ...options }), {
  supports: ETCD_ENGINE.supports,
});

describe("etcd store", () => {
  it("two clients on one prefix: a commit of one is seen by the other's next snapshot, and its watch hears of it", async () => {
    const prefix = freshPrefix("two");
    const first = await openEtcdStore({ endpoints: server().endpoint, prefix });
    const second = await openEtcdStore({ endpoints: server().endpoint, prefix });
    let heard = 0;
    const unwatch = second.watchCommits(() => heard++);
    try {
      // The watch starts asynchronously: commit until it hears (bounded), then check what a new snapshot sees.
      for (let i = 0; i < 100 && heard === 0; i++) {
        assert.equal(await first.commit({ checks: [], writes: [{ key: text("k"), value: text(`v${i}`) }] }), true);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.ok(heard > 0, "the second client's watch heard the first's commits");
      const older = await second.snapshot();
      try {
        const before = word(await older.get(text("k")));
        await first.commit({ checks: [], writes: [{ key: text("k"), value: text("last") }] });
        assert.equal(word(await older.get(text("k"))), before, "a snapshot that read keeps its revision");
        assert.equal(await getWord(second, "k"), "last");
      } finally {
        older.release();
      }
      // A check the second client recorded fails after the first changed the key.
      const stale: OrderedCheck = { kind: "get", key: text("k"), value: text("v0") };
      assert.equal(await second.commit({ checks: [stale], writes: [{ key: text("x"), value: text("1") }] }), false);
    } finally {
      unwatch();
      await first.close();
      await second.close();
    }
  });

  it("a live feed of one store wakes on another store's write through the watch (no polling)", async () => {
    const prefix = freshPrefix("feed");
    const writer = await openStore({ backend: "etcd", endpoints: server().endpoint, prefix });
    const reader = await openStore({ backend: "etcd", endpoints: server().endpoint, prefix });
    try {
      const log = reader.log("events", { codec: json<string>() });
      const seen: string[] = [];
      const controller = new AbortController();
      const tailing = (async () => {
        for await (const entry of log.tail("stream", { since: 0, signal: controller.signal })) {
          seen.push(entry.value);
          if (seen.length === 2) return;
        }
      })();
      await writer.log("events", { codec: json<string>() }).append("stream", "one");
      await eventually(() => seen.length >= 1, 10_000, "the first entry reaching the other store's tail");
      await writer.log("events", { codec: json<string>() }).append("stream", "two");
      await eventually(() => seen.length >= 2, 10_000, "the second entry reaching the other store's tail");
      controller.abort();
      await tailing;
      assert.deepEqual(seen, ["one", "two"]);
    } finally {
      await writer.close();
      await reader.close();
    }
  });

  it("etcd's 128 operations per transaction: 127 writes a commit; more checks than 128 compares fall back to the commit marker", async () => {
    const store = await openEtcdStore({ endpoints: server().endpoint, prefix: freshPrefix("wide") });
    try {
      assert.equal(store.limits.maxWritesPerCommit, 127);
      const keys = Array.from({ length: 300 }, (_, i) => text(`w/${String(i).padStart(3, "0")}`));
      for (let i = 0; i < keys.length; i += 127) {
        assert.equal(await store.commit({ checks: [], writes: keys.slice(i, i + 127).map((key) => ({ key, value: key })) }), true);
      }
      await assert.rejects(store.commit({ checks: [], writes: keys.slice(0, 128).map((key) => ({ key, value: key })) }), { code: "LIMIT_EXCEEDED" });
      // 300 point checks and a range of 300 entries, all read through this store: more than one transaction takes.
      const readChecks = async (): Promise<OrderedCheck[]> => {
        const snapshot = await store.snapshot();
        try {
          const checks: OrderedCheck[] = [];
          for (const key of keys) checks.push({ kind: "get", key, value: await snapshot.get(key) });
          const start = text("w/");
          const end = text("w0");
          checks.push({ kind: "range", start, end, options: {}, entries: await snapshot.range(start, end) });
          return checks;
        } finally {
          snapshot.release();
        }
      };
      const checks = await readChecks();
      assert.equal(await store.commit({ checks, writes: [{ key: text("w/000"), value: text("second") }] }), true, "nothing changed since the reads");
      // Any commit since the reads fails them now (the fallback is coarse), even one outside what they read.
      const stale = await readChecks();
      await store.commit({ checks: [], writes: [{ key: text("elsewhere"), value: text("x") }] });
      assert.equal(await store.commit({ checks: stale, writes: [{ key: text("w/001"), value: text("lost") }] }), false);
      assert.equal(await getWord(store, "w/001"), "w/001");
      // Checks this store did not read (no revision to fall back on) beyond 128 compares are refused, not guessed.
      const foreign: OrderedCheck[] = keys.map((key) => ({ kind: "get", key: new Uint8Array(key), value: new Uint8Array(key) }));
      await assert.rejects(store.commit({ checks: foreign, writes: [{ key: text("y"), value: text("1") }] }), { code: "LIMIT_EXCEEDED" });
    } finally {
      await store.close();
    }
  });

  it("one call removing more entries than one commit holds fails LIMIT_EXCEEDED and removes nothing; a smaller one passes", async () => {
    const store = await openStore({ backend: "etcd", endpoints: server().endpoint, prefix: freshPrefix("remove") });
    try {
      const kv = store.kv("many", { codec: json<number>() });
      await Promise.all(Array.from({ length: 140 }, (_, i) => kv.put(`k${String(i).padStart(3, "0")}`, i)));
      await assert.rejects(kv.deleteRange({}), (error: unknown) => isStowageError(error, "LIMIT_EXCEEDED") && /maxWritesPerCommit/.test(error.message));
      assert.equal(await kv.count(), 140);
      assert.equal(await kv.deleteRange({ end: "k100" }), 100);
      assert.equal(await kv.deleteRange({}), 40);
    } finally {
      await store.close();
    }
  });

  it("a snapshot whose revision etcd compacted fails its next read with CONFLICT (a transaction would run again)", async () => {
    const store = await openEtcdStore({ endpoints: server().endpoint, prefix: freshPrefix("compacted") });
    try {
      await store.commit({ checks: [], writes: [{ key: text("a"), value: text("1") }] });
      const old = await store.snapshot();
      try {
        assert.equal(word(await old.get(text("a"))), "1");
        await store.commit({ checks: [], writes: [{ key: text("a"), value: text("2") }] });
        const latest = await store.client.kv.range({ key: Buffer.from("compacted-probe") });
        await store.client.kv.compact({ revision: latest.header.revision, physical: true });
        await assert.rejects(Promise.resolve(old.get(text("a"))), (error: unknown) => isStowageError(error, "CONFLICT") && isSerializationFailure(error) && /compacted/.test(error.message));
      } finally {
        old.release();
      }
      assert.equal(await getWord(store, "a"), "2", "a new snapshot reads on");
    } finally {
      await store.close();
    }
  });

  it("an engine snapshot reads one revision while another client commits, and fails CONFLICT once etcd compacted it", async () => {
    const prefix = freshPrefix("engine-snapshot");
    const store = await openStore({ backend: "etcd", endpoints: server().endpoint, prefix });
    const other = await openStore({ backend: "etcd", endpoints: server().endpoint, prefix });
    try {
      const engine = storeParts(store).engine;
      const writer = other.log("l", { codec: json });
      await writer.append("k", 1);
      const seen = await engine.snapshot!(async (ops) => {
        const first = await ops.logLastSeq("l");
        await writer.append("k", 2);
        await other.queue("q", { codec: json }).push("k", 1);
        return { first, last: await ops.logLastSeq("l"), entries: (await ops.logReadAll("l", 0, 10)).length, lastId: await ops.queueLastId("q") };
      });
      assert.deepEqual(seen, { first: 1, last: 1, entries: 1, lastId: 0 });
      const etcd = await openEtcdStore({ endpoints: server().endpoint, prefix });
      try {
        await assert.rejects(
          engine.snapshot!(async (ops) => {
            await ops.logLastSeq("l");
            await writer.append("k", 3);
            const latest = await etcd.client.kv.range({ key: Buffer.from("compacted-probe") });
            await etcd.client.kv.compact({ revision: latest.header.revision, physical: true });
            return ops.logReadAll("l", 0, 10);
          }),
          (error: unknown) => isStowageError(error, "CONFLICT") && /compacted/.test(error.message),
        );
      } finally {
        await etcd.close();
      }
      assert.equal(await store.log("l", { codec: json }).append("k", 4), 4, "a new snapshot reads on");
    } finally {
      await other.close();
      await store.close();
    }
  });

  it("opening on an endpoint where no etcd listens fails BACKEND_UNAVAILABLE within the request timeout", async () => {
    const port = await freePort();
    const started = Date.now();
    await assert.rejects(openStore({ backend: "etcd", endpoints: `http://127.0.0.1:${port}`, requestTimeoutMs: 1_000 }), (error: unknown) => {
      assert.ok(isStowageError(error), String(error));
      assert.equal(error.code, "BACKEND_UNAVAILABLE", error.message);
      assert.ok(error.message.includes(`http://127.0.0.1:${port}`), error.message);
      return true;
    });
    assert.ok(Date.now() - started < 10_000, "refused within the timeout, not after a hang");
  });

  it("the server down: reads and writes fail BACKEND_UNAVAILABLE naming the engine and endpoint within the timeout; restarted, resolved writes are kept", async () => {
    const etcd = server();
    const prefix = freshPrefix("restart");
    const store = await openStore({ backend: "etcd", endpoints: etcd.endpoint, prefix, requestTimeoutMs: 1_500 });
    const watcher = await openEtcdStore({ endpoints: etcd.endpoint, prefix });
    let heard = 0;
    const unwatch = watcher.watchCommits(() => heard++);
    try {
      const kv = store.kv("things", { codec: json<string>() });
      for (let i = 0; i < 20; i++) await kv.put(`k${i}`, `v${i}`);
      await etcd.kill();
      const started = Date.now();
      for (const attempt of [() => kv.get("k1"), () => kv.put("k1", "lost")]) {
        await assert.rejects(attempt(), (error: unknown) => {
          assert.ok(isStowageError(error), String(error));
          assert.equal(error.code, "BACKEND_UNAVAILABLE", error.message);
          assert.match(error.message, /etcd/);
          assert.ok(error.message.includes(etcd.endpoint), error.message);
          return true;
        });
      }
      assert.ok(Date.now() - started < 10_000, "the failures came within the request timeout, not after a hang");
      await etcd.start();
      // The client reconnects by itself; its first calls may still find the channel backing off (bounded retries).
      let value: string | undefined;
      for (let attempt = 0; attempt < 50; attempt++) {
        try {
          value = await kv.get("k19");
          break;
        } catch (error) {
          if (!isStowageError(error) || error.code !== "BACKEND_UNAVAILABLE") throw error;
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      }
      assert.equal(value, "v19");
      for (let i = 0; i < 20; i++) assert.equal(await kv.get(`k${i}`), `v${i}`);
      // The other client's watch reconnected by itself: it hears a commit made after the restart.
      const before = heard;
      for (let i = 0; i < 100 && heard === before; i++) {
        await kv.put("after-restart", String(i));
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.ok(heard > before, "the watch heard a commit after the restart");
    } finally {
      if (!etcd.running) await etcd.start();
      unwatch();
      await watcher.close();
      await store.close();
    }
  });
});
