import assert from "node:assert/strict";
import { json, utf8, type Codec } from "../api/codec.js";
import { LIMITS } from "../api/limits.js";
import { dec, enc, rejectsWith, type CaseGroup } from "./harness.js";

async function keysOf(page: Promise<{ entries: Array<{ key: string }> }>): Promise<string[]> {
  return (await page).entries.map((e) => e.key);
}

export const kvCases: CaseGroup = {
  "put then get returns the value; a missing key is undefined": async ({ store }) => {
    const kv = store.kv("checkpoints");
    await kv.put("mysql-pipe1", enc("offset=42"));
    assert.equal(dec(await kv.get("mysql-pipe1")), "offset=42");
    assert.equal(await kv.get("mysql-pipe2"), undefined);
  },

  "get returns a plain Uint8Array, and put and get copy": async ({ store }) => {
    const kv = store.kv("ns");
    const value = enc("abc");
    await kv.put("k", value);
    value[0] = 0x7a;
    const read = (await kv.get("k")) as Uint8Array;
    assert.equal(Object.getPrototypeOf(read), Uint8Array.prototype);
    assert.equal(dec(read), "abc");
    read[0] = 0x7a;
    assert.equal(dec(await kv.get("k")), "abc");
  },

  "values read together are independent copies: changing one changes no other value, read or stored": async ({ store, supports: { limits } }) => {
    const kv = store.kv("ns");
    const keys = Array.from({ length: 40 }, (_, i) => `k${i}`);
    const large = Math.min(2_000, limits.maxValueBytes);
    for (const [i, key] of keys.entries()) await kv.put(key, new Uint8Array(i % 7 === 0 ? large : 1 + i).fill(i));
    const first = await Promise.all(keys.map((key) => kv.get(key)));
    const listed = (await kv.list()).entries.map((entry) => entry.value);
    for (const read of [...first, ...listed]) (read as Uint8Array).fill(0xee);
    const again = await Promise.all(keys.map((key) => kv.get(key)));
    for (const [i, read] of again.entries()) {
      assert.equal(read?.byteLength, i % 7 === 0 ? large : 1 + i);
      assert.ok(read?.every((byte) => byte === i), `value ${i} kept its bytes`);
    }
  },

  "put overwrites; delete tells whether the key existed": async ({ store }) => {
    const kv = store.kv("ns");
    await kv.put("k", enc("1"));
    await kv.put("k", enc("2"));
    assert.equal(dec(await kv.get("k")), "2");
    assert.equal(await kv.delete("k"), true);
    assert.equal(await kv.delete("k"), false);
    assert.equal(await kv.get("k"), undefined);
  },

  "empty values are stored and read back as empty, not as missing": async ({ store }) => {
    const kv = store.kv("ns");
    await kv.put("empty", new Uint8Array(0));
    const read = await kv.get("empty");
    assert.ok(read instanceof Uint8Array);
    assert.equal(read.byteLength, 0);
    assert.equal(await kv.count(), 1);
    await store.kv("text", { codec: utf8 }).put("e", "");
    assert.equal(await store.kv("text", { codec: utf8 }).get("e"), "");
  },

  "unicode keys round-trip and list in UTF-8 byte order": async ({ store }) => {
    const kv = store.kv("ns");
    const keys = ["b", "a", "ab", "A", "é", "日本", "\uFFFF", "\u{10000}", "😀", "z", "a b", "a/b", "e\u0301"];
    for (const key of keys) await kv.put(key, enc(key));
    for (const key of keys) assert.equal(dec(await kv.get(key)), key);
    const byBytes = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    assert.deepEqual(await keysOf(kv.list()), byBytes);
    assert.deepEqual(await keysOf(kv.list({ reverse: true })), [...byBytes].reverse());
  },

  "namespaces with the same keys never collide, across primitives too": async ({ store }) => {
    await store.kv("a").put("k", enc("in a"));
    await store.kv("b").put("k", enc("in b"));
    await store.log("a").append("k", enc("log a"));
    await store.slot("a").upsert("k", enc("slot a"));
    await store.queue("a").push("k", enc("queue a"));
    assert.equal(dec(await store.kv("a").get("k")), "in a");
    assert.equal(dec(await store.kv("b").get("k")), "in b");
    assert.equal(await store.kv("c").get("k"), undefined);
    await store.kv("a").deleteRange({});
    assert.equal(dec(await store.kv("b").get("k")), "in b");
    assert.equal((await store.log("a").list("k")).length, 1);
    assert.equal(dec((await store.slot("a").get("k"))?.value), "slot a");
    assert.equal(await store.queue("a").len("k"), 1);
  },

  "list by prefix, start and end": async ({ store }) => {
    const kv = store.kv("ns");
    for (const key of ["mysql-1", "mysql-2", "mysql-3", "mysqlx", "pg-1", "my"]) await kv.put(key, enc(key));
    assert.deepEqual(await keysOf(kv.list({ prefix: "mysql-" })), ["mysql-1", "mysql-2", "mysql-3"]);
    assert.deepEqual(await keysOf(kv.list({ start: "mysql-2", end: "pg-1" })), ["mysql-2", "mysql-3", "mysqlx"]);
    assert.deepEqual(await keysOf(kv.list({ prefix: "mysql-", start: "mysql-2" })), ["mysql-2", "mysql-3"]);
    assert.deepEqual(await keysOf(kv.list({ prefix: "mysql-", end: "mysql-3" })), ["mysql-1", "mysql-2"]);
    assert.deepEqual(await keysOf(kv.list({ prefix: "nothing" })), []);
    assert.deepEqual(await keysOf(kv.list({ start: "z" })), []);
    assert.deepEqual(await keysOf(kv.list({ start: "pg-1", end: "a" })), []);
  },

  "prefix bounds work at the top of the code space": async ({ store }) => {
    const kv = store.kv("ns");
    for (const key of ["\u{10FFFF}", "\u{10FFFF}a", "\uFFFF", "\uFFFFa", "\uD7FF", "\uD7FFx", "\uE000"]) await kv.put(key, enc(key));
    assert.deepEqual(await keysOf(kv.list({ prefix: "\u{10FFFF}" })), ["\u{10FFFF}", "\u{10FFFF}a"]);
    assert.deepEqual(await keysOf(kv.list({ prefix: "\uFFFF" })), ["\uFFFF", "\uFFFFa"]);
    assert.deepEqual(await keysOf(kv.list({ prefix: "\uD7FF" })), ["\uD7FF", "\uD7FFx"]);
  },

  "list pages with limit and an opaque cursor, forwards and in reverse": async ({ store }) => {
    const kv = store.kv("ns");
    const keys = Array.from({ length: 25 }, (_, i) => `k${String(i).padStart(2, "0")}`);
    for (const key of keys) await kv.put(key, enc(key));
    for (const reverse of [false, true]) {
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await kv.list({ limit: 10, cursor, reverse });
        seen.push(...page.entries.map((e) => e.key));
        cursor = page.cursor;
        pages += 1;
      } while (cursor !== undefined && pages < 10);
      assert.equal(pages, 3);
      assert.deepEqual(seen, reverse ? [...keys].reverse() : keys);
    }
    const exact = await kv.list({ limit: 25 });
    assert.equal(exact.entries.length, 25);
    assert.equal(exact.cursor, undefined, "the last page carries no cursor");
  },

  "keysOnly lists keys without values; values otherwise": async ({ store }) => {
    const kv = store.kv("ns");
    await kv.put("a", enc("1"));
    await kv.put("b", enc("2"));
    const page = await kv.list({ keysOnly: true });
    assert.deepEqual(page.entries, [{ key: "a" }, { key: "b" }]);
    const full = await kv.list();
    assert.deepEqual(full.entries.map((e) => [e.key, dec(e.value)]), [["a", "1"], ["b", "2"]]);
  },

  "count and deleteRange honour prefix and start / end": async ({ store }) => {
    const kv = store.kv("ns");
    for (const key of ["a1", "a2", "a3", "b1", "b2", "c"]) await kv.put(key, enc(key));
    assert.equal(await kv.count(), 6);
    assert.equal(await kv.count({ prefix: "a" }), 3);
    assert.equal(await kv.count({ start: "a2", end: "b2" }), 3);
    assert.equal(await kv.deleteRange({ prefix: "a" }), 3);
    assert.equal(await kv.deleteRange({ start: "b1", end: "c" }), 2);
    assert.deepEqual(await keysOf(kv.list()), ["c"]);
    assert.equal(await kv.deleteRange({ prefix: "zzz" }), 0);
    assert.equal(await kv.deleteRange({}), 1);
    assert.equal(await kv.count(), 0);
    await rejectsWith(kv.deleteRange(undefined as never), "INVALID_ARGUMENT", "deleteRange");
  },

  "pagination is stable under concurrent writes": async ({ store }) => {
    const kv = store.kv("ns");
    const stable = Array.from({ length: 30 }, (_, i) => `s${String(i).padStart(2, "0")}`);
    for (const key of stable) await kv.put(key, enc("x"));
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 100; page++) {
      const result = await kv.list({ limit: 4, cursor });
      seen.push(...result.entries.map((e) => e.key));
      // Between pages: insert keys before and after the cursor, delete a transient key, rewrite a stable one.
      await kv.put(`s${String(page).padStart(2, "0")}-new`, enc("y"));
      await kv.put(`a-before-${page}`, enc("y"));
      await kv.put(`s${String(29 - (page % 30)).padStart(2, "0")}`, enc(`rewrite ${page}`));
      cursor = result.cursor;
      if (cursor === undefined) break;
    }
    assert.equal(new Set(seen).size, seen.length, "no entry seen twice");
    for (const key of stable) assert.ok(seen.includes(key), `${key} existed throughout and was skipped`);
    const sorted = [...seen].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    assert.deepEqual(seen, sorted, "pages come in key order");
  },

  "values at the size limit are accepted, one byte over is LIMIT_EXCEEDED and changes nothing": async ({ store, supports: { limits } }) => {
    const kv = store.kv("ns");
    const atLimit = new Uint8Array(limits.maxValueBytes).fill(7);
    await kv.put("big", atLimit);
    assert.equal((await kv.get("big"))?.byteLength, limits.maxValueBytes);
    await rejectsWith(kv.put("big", new Uint8Array(limits.maxValueBytes + 1)), "LIMIT_EXCEEDED", "ns", "big", String(limits.maxValueBytes));
    assert.deepEqual(await kv.get("big"), atLimit);
  },

  "keys at the size limit are accepted, one byte over is LIMIT_EXCEEDED": async ({ store, supports: { limits } }) => {
    const kv = store.kv("ns");
    // Two bytes each in UTF-8 (and one ASCII character for an odd limit).
    const key = "é".repeat(Math.floor(limits.maxKeyBytes / 2)) + "a".repeat(limits.maxKeyBytes % 2);
    await kv.put(key, enc("ok"));
    assert.equal(dec(await kv.get(key)), "ok");
    await rejectsWith(kv.put(`${key}x`, enc("no")), "LIMIT_EXCEEDED", "ns", String(limits.maxKeyBytes));
    // Every call refuses a key over the API's limit; an engine's tighter one bounds what is stored.
    await rejectsWith(kv.get("x".repeat(LIMITS.maxKeyBytes + 1)), "LIMIT_EXCEEDED");
    assert.equal(await kv.count(), 1);
  },

  "codecs: json, utf8 and a custom one; encode failures are INVALID_ARGUMENT, decode failures CORRUPT": async ({ store }) => {
    const doc = store.kv<{ offset: number; tags: string[] }>("docs", { codec: json() });
    await doc.put("p", { offset: 42, tags: ["a"] });
    assert.deepEqual(await doc.get("p"), { offset: 42, tags: ["a"] });
    const loose = store.kv("docs", { codec: json });
    assert.deepEqual(await loose.get("p"), { offset: 42, tags: ["a"] });
    const upper: Codec<string> = { encode: (s) => enc(s.toUpperCase()), decode: (b) => dec(b) as string };
    await store.kv("up", { codec: upper }).put("k", "shout");
    assert.equal(dec(await store.kv("up").get("k")), "SHOUT");
    await rejectsWith(doc.put("q", undefined as never), "INVALID_ARGUMENT", "docs", "q");
    await store.kv("docs").put("bad", enc("{not json"));
    await rejectsWith(doc.get("bad"), "CORRUPT", "docs", "bad");
    await store.kv("docs").put("bin", new Uint8Array([0xff, 0xfe]));
    await rejectsWith(store.kv("docs", { codec: utf8 }).get("bin"), "CORRUPT", "bin");
    assert.throws(() => store.kv("docs", { codec: {} as never }), /INVALID_ARGUMENT/);
  },

  "wrong argument types are INVALID_ARGUMENT naming the argument, and store nothing": async ({ store }) => {
    const kv = store.kv("ns");
    await rejectsWith(kv.put(42 as never, enc("x")), "INVALID_ARGUMENT", "key", "number");
    await rejectsWith(kv.put("", enc("x")), "INVALID_ARGUMENT", "key");
    await rejectsWith(kv.put("a\u0000b", enc("x")), "INVALID_ARGUMENT", "U+0000");
    await rejectsWith(kv.put("lone\uD800", enc("x")), "INVALID_ARGUMENT", "surrogate");
    await rejectsWith(kv.put("k", "text" as never), "INVALID_ARGUMENT", "value", "string", "ns", "k");
    await rejectsWith(kv.put("k", null as never), "INVALID_ARGUMENT", "value");
    await rejectsWith(kv.put("k", [1, 2] as never), "INVALID_ARGUMENT", "value");
    await rejectsWith(kv.put("k", enc("x"), { ttlMs: Number.NaN }), "INVALID_ARGUMENT", "ttlMs", "NaN");
    await rejectsWith(kv.put("k", enc("x"), { ttlMs: -5 }), "INVALID_ARGUMENT", "ttlMs");
    await rejectsWith(kv.put("k", enc("x"), { ttlMs: 1.5 }), "INVALID_ARGUMENT", "ttlMs");
    await rejectsWith(kv.put("k", enc("x"), { ttlMs: "10" as never }), "INVALID_ARGUMENT", "ttlMs");
    await rejectsWith(kv.put("k", enc("x"), { ttl: 5 } as never), "INVALID_ARGUMENT", "ttl");
    await rejectsWith(kv.get(undefined as never), "INVALID_ARGUMENT", "key");
    await rejectsWith(kv.delete({} as never), "INVALID_ARGUMENT", "key");
    for (const limit of [0, -1, Number.NaN, 2.5, LIMITS.maxPageSize + 1, "10"]) {
      await rejectsWith(kv.list({ limit: limit as never }), "INVALID_ARGUMENT", "limit");
    }
    await rejectsWith(kv.list({ prefix: 5 as never }), "INVALID_ARGUMENT", "prefix");
    await rejectsWith(kv.list({ reverse: "yes" as never }), "INVALID_ARGUMENT", "reverse");
    await rejectsWith(kv.list({ cursor: "garbage!" }), "INVALID_ARGUMENT", "cursor");
    await rejectsWith(kv.list({ cursor: 17 as never }), "INVALID_ARGUMENT", "cursor");
    await rejectsWith(kv.list({ limit: 1, color: "red" } as never), "INVALID_ARGUMENT", "color");
    assert.equal(await kv.count(), 0);
  },

  "a cursor from a forward list is refused by a reverse list": async ({ store }) => {
    const kv = store.kv("ns");
    for (const key of ["a", "b", "c"]) await kv.put(key, enc(key));
    const page = await kv.list({ limit: 1 });
    assert.ok(page.cursor);
    await rejectsWith(kv.list({ limit: 1, cursor: page.cursor, reverse: true }), "INVALID_ARGUMENT", "cursor");
  },

  "a value's bytes are taken at the call: reusing the buffer before the write completes changes nothing stored": async ({ store }) => {
    const kv = store.kv("reuse");
    const buffer = new TextEncoder().encode("first");
    const pending = kv.put("k", buffer);
    buffer.set(new TextEncoder().encode("later")); // the caller reuses its buffer for its next value
    await pending;
    assert.equal(dec((await kv.get("k")) as Uint8Array), "first");
  },

  "every value read owns its ArrayBuffer: transferring one (postMessage, structuredClone) leaves every other value intact": async ({ store }) => {
    const kv = store.kv("own");
    for (let i = 0; i < 8; i++) await kv.put(`k${i}`, new Uint8Array(10 + i).fill(i));
    await store.log("own").append("k", new Uint8Array(12).fill(21));
    await store.slot("own").upsert("k", new Uint8Array(13).fill(22));
    await store.queue("own").push("k", new Uint8Array(14).fill(23));
    await store.stream("own").produce("sp", "g", [{ value: new Uint8Array(15).fill(24) }]);
    const reads: Uint8Array[] = [
      ...(await Promise.all(Array.from({ length: 8 }, (_, i) => kv.get(`k${i}`)))).map((v) => v as Uint8Array),
      ...(await kv.list()).entries.map((e) => e.value),
      ...(await store.log("own").list("k")).map((e) => e.value),
      (await store.slot("own").get("k"))?.value as Uint8Array,
      ...(await store.queue("own").peek("k")).map((item) => item.value),
      ...(await store.stream("own").readSegment("sp", "g")).map((e) => e.value),
    ];
    for (const read of reads) {
      assert.equal(Object.getPrototypeOf(read), Uint8Array.prototype);
      assert.equal(read.buffer.byteLength, read.byteLength, "a value's ArrayBuffer holds that value and nothing else");
    }
    const [first, ...others] = reads as [Uint8Array, ...Uint8Array[]];
    const moved = structuredClone(first, { transfer: [first.buffer as ArrayBuffer] });
    assert.equal(first.byteLength, 0, "the transferred value is detached");
    assert.deepEqual([...moved], new Array(10).fill(0));
    for (const other of others) assert.ok(other.byteLength >= 10 && other.every((byte) => byte === other[0]), "no other value lost its bytes");
    for (let i = 0; i < 8; i++) assert.deepEqual([...((await kv.get(`k${i}`)) as Uint8Array)], new Array(10 + i).fill(i));
  },

  "a codec that reuses its output buffer stores each value as encoded at its call, also for writes issued together": async ({ store }) => {
    const scratch = new Uint8Array(4);
    const reusing: Codec<number> = {
      encode: (n) => {
        new DataView(scratch.buffer).setUint32(0, n);
        return scratch;
      },
      decode: (bytes) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0),
    };
    const kv = store.kv("reuse", { codec: reusing });
    await Promise.all(Array.from({ length: 10 }, (_, i) => kv.put(`k${i}`, 1000 + i)));
    assert.deepEqual(await Promise.all(Array.from({ length: 10 }, (_, i) => kv.get(`k${i}`))), Array.from({ length: 10 }, (_, i) => 1000 + i));
    const log = store.log("reuse", { codec: reusing });
    await Promise.all([1, 2, 3].map((n) => log.append("k", n)));
    assert.deepEqual((await log.list("k")).map((e) => e.value).sort(), [1, 2, 3]);
    await store.transaction(async (tx) => {
      const t = tx.kv("reuse", { codec: reusing });
      await Promise.all([t.put("t1", 7), t.put("t2", 8)]);
    });
    assert.deepEqual([await kv.get("t1"), await kv.get("t2")], [7, 8]);
  },

  "a Node Buffer given as a value is copied at the call like any Uint8Array": async ({ store }) => {
    const kv = store.kv("reuse");
    const buffer = Buffer.from("hello");
    await kv.put("k", buffer);
    buffer.fill(0x41);
    assert.equal(dec((await kv.get("k")) as Uint8Array), "hello");
  },

  "the utf8 codec refuses a string with a lone surrogate (INVALID_ARGUMENT, as for keys) instead of storing U+FFFD": async ({ store }) => {
    const kv = store.kv("text", { codec: utf8 });
    for (const bad of ["ok\uD83D", "\uDC00x", "a\uD800\uD800"]) await rejectsWith(kv.put("k", bad), "INVALID_ARGUMENT", "text", "k", "surrogate");
    await rejectsWith(store.log("text", { codec: utf8 }).append("k", "ok\uD83D"), "INVALID_ARGUMENT", "surrogate");
    await rejectsWith(store.stream("text", { codec: utf8 }).produce("sp", "g", [{ value: "ok\uD83D" }]), "INVALID_ARGUMENT", "surrogate");
    assert.equal(await kv.get("k"), undefined);
    await kv.put("k", "ok \uD83D\uDE00");
    assert.equal(await kv.get("k"), "ok \uD83D\uDE00");
  },
};
