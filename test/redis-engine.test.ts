/**
 * The Redis engine on a real redis-server (test/helpers/redis-server.ts: AOF fsynced on every write): the OrderedStore
 * contract, the whole conformance suite, two stores on one server (commits seen, feeds woken through pub/sub),
 * snapshots that a commit tears between two reads, typed failures while the server is down, and resolved writes
 * surviving a kill -9 of the server (the transactional checker, the model tests, the bad-input table and fuzz and
 * linearizability run on Redis in their own files). Each store has a prefix of its own, so the cases share one server.
 */
import assert from "node:assert/strict";
import { after, describe, it, test } from "node:test";
import { Redis } from "ioredis";
import { isStowageError } from "../src/api/errors.js";
import { runConformance } from "../src/conformance/index.js";
import { runOrderedStoreCases } from "../src/engines/ordered/ordered-store-cases.js";
import { REDIS_ENGINE } from "../src/engines/redis/descriptor.js";
import { openRedisStore, REDIS_CONNECT_TIMEOUT_MS, type RedisStore } from "../src/engines/redis/redis-store.js";
import { openStore, utf8, type Store } from "../src/index.js";
import type { EngineOps } from "../src/engines/engine.js";
import { storeParts } from "../src/wrappers/layer.js";
import { freePort } from "./helpers/postgres-server.js";
import { useRedisServer } from "./helpers/redis-server.js";

const server = useRedisServer();
let prefixes = 0;
const nextPrefix = () => `test${++prefixes}:`;
/** Longer than any failure may take to surface (the connect timeout, with room for a loaded machine). */
const BOUND_MS = REDIS_CONNECT_TIMEOUT_MS + 10_000;

const bytes = (word: string): Uint8Array => new Uint8Array(Buffer.from(word, "latin1"));
const word = (value: Uint8Array | undefined): string | undefined => (value === undefined ? undefined : Buffer.from(value).toString("latin1"));

/** Rejects when `promise` has not settled within `ms`: a call must fail, not hang. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Deletes a store's keys (a case's "location"). */
async function dropPrefix(prefix: string): Promise<void> {
  const admin = new Redis(server().url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await admin.connect();
    await admin.del(`${prefix}index`, `${prefix}values`, `${prefix}commits`);
  } finally {
    admin.disconnect();
  }
}

runOrderedStoreCases("redis", { describe, it }, async () => {
  const prefix = nextPrefix();
  const open = () => openRedisStore({ url: server().url, prefix });
  return { store: await open(), reopen: open, dispose: () => dropPrefix(prefix) };
});

runConformance("redis", (options) => openStore({ backend: "redis", url: server().url, prefix: nextPrefix(), ...options }), { supports: REDIS_ENGINE.supports });

describe("Redis engine", () => {
  const opened: Array<Store | RedisStore> = [];
  const track = <S extends Store | RedisStore>(store: S): S => {
    opened.push(store);
    return store;
  };
  after(async () => {
    for (const store of opened) await store.close().catch(() => undefined);
  });

  test("two stores on one prefix, each with its own connection: each sees the other's commits, and a live feed wakes through pub/sub", async () => {
    const prefix = nextPrefix();
    const a = track(await openStore({ backend: "redis", url: server().url, prefix }));
    const b = track(await openStore({ backend: "redis", url: server().url, prefix }));
    await a.kv("colours").put("sky", bytes("blue"));
    assert.equal(word(await b.kv("colours").get("sky")), "blue");
    await b.kv("colours").put("grass", bytes("green"));
    assert.equal(word(await a.kv("colours").get("grass")), "green");

    const stop = new AbortController();
    const seen: string[] = [];
    const feed = (async () => {
      for await (const entry of b.log("events").tail({ all: true }, { since: 0, signal: stop.signal })) {
        seen.push(word(entry.value) as string);
        if (seen.length === 3) stop.abort();
      }
    })();
    for (const event of ["one", "two", "three"]) await a.log("events").append("k", bytes(event));
    await within(feed, BOUND_MS, "the feed of the other store");
    assert.deepEqual(seen, ["one", "two", "three"]);

    // A store with another prefix on the same server sees none of it.
    const other = track(await openStore({ backend: "redis", url: server().url, prefix: nextPrefix() }));
    assert.equal(await other.kv("colours").get("sky"), undefined);
    assert.equal(await other.log("events").lastSeq(), 0);
  });

  test("a commit on a server that forgot the commit script (SCRIPT FLUSH, as a restart does) sends its text and applies once; an update leaves the index as it was", async () => {
    const prefix = nextPrefix();
    const store = track(await openStore({ backend: "redis", url: server().url, prefix }));
    const raw = new Redis(server().url);
    try {
      await store.kv("colours").put("sky", bytes("blue"));
      const before = Number(await raw.get(`${prefix}commits`));
      await raw.script("FLUSH");
      await store.kv("colours").put("sky", bytes("grey"));
      await store.kv("colours").put("sea", bytes("green"));
      assert.equal(word(await store.kv("colours").get("sky")), "grey");
      assert.equal(word(await store.kv("colours").get("sea")), "green");
      assert.deepEqual((await store.kv("colours").list()).entries.map((entry) => entry.key), ["sea", "sky"]);
      // Two commits since the flush (one INCR each), neither applied twice; the index and the hash agree.
      assert.equal(Number(await raw.get(`${prefix}commits`)), before + 2);
      assert.equal(await raw.zcard(`${prefix}index`), await raw.hlen(`${prefix}values`));
      assert.deepEqual(await store.check(), { ok: true, problems: [] });
    } finally {
      await raw.quit();
    }
  });

  test("a commit between two reads tears a snapshot; validating its reads tells whether they still hold", async () => {
    const prefix = nextPrefix();
    const store = track(await openRedisStore({ url: server().url, prefix }));
    const writer = track(await openRedisStore({ url: server().url, prefix }));
    await writer.commit({ checks: [], writes: [{ key: bytes("x"), value: bytes("1") }, { key: bytes("y"), value: bytes("1") }] });

    const calm = await store.snapshot();
    assert.equal(word(await calm.get(bytes("x"))), "1");
    assert.equal((await calm.range(bytes("a"), bytes("z"))).length, 2);
    assert.equal(calm.consistent?.(), true, "no commit landed between the reads");

    const torn = await store.snapshot();
    assert.equal(word(await torn.get(bytes("x"))), "1");
    await writer.commit({ checks: [], writes: [{ key: bytes("z"), value: bytes("1") }] });
    assert.equal(word(await torn.get(bytes("y"))), "1");
    assert.equal(torn.consistent?.(), false, "a commit landed between the reads");
    // x and y are unchanged, so the reads held together: validation with no writes succeeds and writes nothing.
    const xy = [{ kind: "get" as const, key: bytes("x"), value: bytes("1") }, { kind: "get" as const, key: bytes("y"), value: bytes("1") }];
    assert.equal(await store.commit({ checks: xy, writes: [] }), true);
    await writer.commit({ checks: [], writes: [{ key: bytes("x"), value: bytes("2") }] });
    assert.equal(await store.commit({ checks: xy, writes: [] }), false);
  });

  test("an engine snapshot that another connection's commit tears while its body reads rejects CONFLICT, also when the body failed on what it read; a quiet one resolves", async () => {
    const prefix = nextPrefix();
    const store = track(await openStore({ backend: "redis", url: server().url, prefix }));
    const writer = track(await openStore({ backend: "redis", url: server().url, prefix })).kv("t", { codec: utf8 });
    const engine = storeParts(store).engine;
    await writer.put("k", "before");
    const dump = (ops: EngineOps) => ops.kvDump("t", null, 10, Date.now());
    assert.deepEqual((await engine.snapshot!(async (ops) => [...(await dump(ops)), ...(await dump(ops))])).map((row) => word(row.value)), ["before", "before"]);
    await assert.rejects(
      engine.snapshot!(async (ops) => {
        await dump(ops);
        await writer.put("k", "during");
        return dump(ops);
      }),
      (error: unknown) => isStowageError(error, "CONFLICT") && /changed while it was read/.test(error.message),
    );
    await assert.rejects(
      engine.snapshot!(async (ops) => {
        await dump(ops);
        await writer.put("other", "during");
        await dump(ops);
        throw new Error("what the body read made no sense");
      }),
      (error: unknown) => isStowageError(error, "CONFLICT") && /made no sense/.test(String((error as Error).cause)),
    );
  });

  test("read-only transactions and reads see one point in time while another connection moves value between two keys", async () => {
    const prefix = nextPrefix();
    const reader = track(await openStore({ backend: "redis", url: server().url, prefix }));
    const mover = track(await openStore({ backend: "redis", url: server().url, prefix }));
    const TOTAL = 100;
    await mover.transaction(async (tx) => {
      await tx.kv("bank").put("a", bytes(String(TOTAL)));
      await tx.kv("bank").put("b", bytes("0"));
    });
    let moving = true;
    const moves = (async () => {
      for (let i = 0; i < 300 && moving; i++) {
        await mover.transaction(async (tx) => {
          const a = Number(word(await tx.kv("bank").get("a")));
          const b = Number(word(await tx.kv("bank").get("b")));
          const amount = i % 2 === 0 ? 1 : -1;
          await tx.kv("bank").put("a", bytes(String(a - amount)));
          await tx.kv("bank").put("b", bytes(String(b + amount)));
        });
      }
    })();
    try {
      for (let i = 0; i < 150; i++) {
        const [a, b] = await reader.transaction(async (tx) => [Number(word(await tx.kv("bank").get("a"))), Number(word(await tx.kv("bank").get("b")))]);
        assert.equal(a + b, TOTAL, `transaction ${i} read a=${a} b=${b}`);
        const listed = (await reader.kv("bank").list()).entries.map((entry) => Number(word(entry.value)));
        assert.equal(listed.reduce((sum, n) => sum + n, 0), TOTAL, `list ${i} read ${listed.join(", ")}`);
      }
    } finally {
      moving = false;
      await moves;
    }
  });

  test("facts report the server's AOF settings and the store's size", async () => {
    const store = track(await openRedisStore({ url: server().url, prefix: nextPrefix() }));
    await store.commit({ checks: [], writes: [{ key: bytes("k"), value: bytes("v") }] });
    const facts = await store.facts();
    assert.equal(facts.appendonly, true);
    assert.equal(facts.appendfsync, "always");
    assert.equal(facts.maxmemoryPolicy, "noeviction");
    assert.equal(facts.entries, 1);
    assert.match(String(facts.redisVersion), /^\d+\.\d+/);
    assert.deepEqual(await store.check(), []);
  });

  test("a server that cannot be reached fails the open with BACKEND_UNAVAILABLE naming the engine and the server, never the password", async () => {
    const port = await freePort();
    const error = await within(
      openStore({ backend: "redis", url: `redis://stowage:hunter2@127.0.0.1:${port}`, prefix: nextPrefix() }).then(
        () => undefined,
        (caught: unknown) => caught,
      ),
      BOUND_MS,
      "opening a store on a closed port",
    );
    assert.ok(isStowageError(error, "BACKEND_UNAVAILABLE"), String(error));
    assert.match(error.message, /redis/);
    assert.ok(error.message.includes(`127.0.0.1:${port}`), error.message);
    assert.ok(!error.message.includes("hunter2"), error.message);
  });

  test("while the server is down calls fail BACKEND_UNAVAILABLE at once; once it is back the same store works, and every resolved write survived a kill -9", async () => {
    const prefix = nextPrefix();
    const store = track(await openStore({ backend: "redis", url: server().url, prefix }));
    for (let i = 0; i < 50; i++) await store.kv("durable").put(`key-${i}`, bytes(`value-${i}`));
    // SIGKILL: Redis gets no chance to flush anything on the way out; with appendfsync always it had nothing left to flush.
    await server().kill();
    for (const call of [() => store.kv("durable").get("key-0"), () => store.kv("durable").put("late", bytes("x")), () => store.log("l").append("k", bytes("x"))]) {
      const error = await within(call().then(() => undefined, (caught: unknown) => caught), BOUND_MS, "a call while the server is down");
      assert.ok(isStowageError(error, "BACKEND_UNAVAILABLE"), String(error));
      assert.ok(error.message.includes("redis engine") && error.message.includes(server().url), error.message);
    }
    await server().start();
    // ioredis reconnects in the background (at most 2 s between attempts): the store is usable again without reopening.
    let back: Uint8Array | undefined;
    for (let i = 0; i < 100 && back === undefined; i++) {
      back = await store.kv("durable").get("key-0").catch(() => undefined);
      if (back === undefined) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(word(back), "value-0");
    const reopened = track(await openStore({ backend: "redis", url: server().url, prefix }));
    for (let i = 0; i < 50; i++) assert.equal(word(await reopened.kv("durable").get(`key-${i}`)), `value-${i}`);
    assert.equal(await reopened.kv("durable").get("late"), undefined, "the put refused while the server was down left nothing");
  });

  test("watchCommits hears other connections' commits through pub/sub, again after the server restarted", async () => {
    const prefix = nextPrefix();
    const watched = track(await openRedisStore({ url: server().url, prefix }));
    const writer = track(await openRedisStore({ url: server().url, prefix }));
    let notified = 0;
    const unwatch = watched.watchCommits(() => (notified += 1));
    const pause = () => new Promise((resolve) => setTimeout(resolve, 50));
    /** Commits from the writer until the watcher hears of one (the subscription, or the writer's reconnection, may still be on its way). */
    const heard = async () => {
      notified = 0;
      for (let i = 0; i < 300 && notified === 0; i++) {
        await writer.commit({ checks: [], writes: [{ key: bytes("tick"), value: bytes(String(i)) }] }).catch(() => false);
        await pause();
      }
      return notified > 0;
    };
    try {
      assert.ok(await heard(), "a commit of the other connection was heard");
      await server().stop();
      notified = 0;
      await server().start();
      // The subscriber's reconnection notifies by itself (messages sent while it was away are lost); then it listens again.
      for (let i = 0; i < 300 && notified === 0; i++) await pause();
      assert.ok(notified > 0, "the reconnection notified");
      // Once the writer is back too, one of its commits is heard: a message, since the reconnection notified already.
      for (let i = 0; i < 300; i++) {
        if (await writer.commit({ checks: [], writes: [{ key: bytes("tick"), value: bytes("back") }] }).catch(() => false)) break;
        await pause();
      }
      assert.ok(await heard(), "a commit after the restart was heard");
      unwatch();
      notified = 0;
      await writer.commit({ checks: [], writes: [{ key: bytes("tick"), value: bytes("after") }] });
      await pause();
      assert.equal(notified, 0, "nothing after unwatch");
    } finally {
      unwatch();
    }
  });
});
