/**
 * The ordered-KV family's key layout keeps stowage's order: property tests (fast-check) that the byte order of encoded
 * keys is the order stowage defines (UTF-8 byte order of keys, numeric order of sequences, (timestamp, segment, seq)
 * order of a space, (priority descending, visibleAt, id) order of a work queue key), and that keys too long for an
 * ordered store are refused with LIMIT_EXCEEDED naming the limit.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { compareKeys } from "../src/api/key-order.js";
import { LIMITS } from "../src/api/limits.js";
import { isStowageError } from "../src/api/errors.js";
import { compareSpaceOrder } from "../src/engines/stream-expectation.js";
import { KeyLayout, LONGEST_LAYOUT_KEY, prefixEnd, readNumber, successor, TAG, writeNumber } from "../src/engines/ordered/key-layout.js";

const sign = (n: number) => (n < 0 ? -1 : n > 0 ? 1 : 0);
/** Stowage keys: valid Unicode without U+0000, from every plane (so surrogate pairs against U+E000–U+FFFF come up). */
const stowageKey = fc.string({ unit: "grapheme-composite", minLength: 1, maxLength: 12 }).filter((k) => !k.includes("\u0000"));
const anyKey = fc.oneof(stowageKey, fc.string({ unit: fc.constantFrom("a", "b", "\uFFFF", "\u{10000}", "\u00e9", "\u0001"), minLength: 1, maxLength: 6 }));
const layout = new KeyLayout(1978, "test");

test("KV keys: byte order of the encoded keys is stowage's key order", () => {
  fc.assert(
    fc.property(anyKey, anyKey, (a, b) => {
      const encoded = Buffer.compare(layout.key(TAG.kv, "ns", [a]), layout.key(TAG.kv, "ns", [b]));
      assert.equal(sign(encoded), sign(compareKeys(a, b)), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
      assert.deepEqual(layout.textKey(TAG.kv, "ns", a), layout.key(TAG.kv, "ns", [a]), "the fast path builds the same key");
      assert.deepEqual(Buffer.from(layout.scratchTextKey(TAG.kv, "ns", a)), layout.key(TAG.kv, "ns", [a]), "the scratch path builds the same key");
    }),
    { numRuns: 2_000 },
  );
});

test("a scratch key is the same key as a built one, past the scratch buffer's first size too; the next scratch key reuses its bytes", () => {
  const long = "é".repeat(300) + "k";
  assert.deepEqual(Buffer.from(layout.scratchTextKey(TAG.slot, "ns", long)), layout.textKey(TAG.slot, "ns", long));
  const first = layout.scratchTextKey(TAG.kv, "ns", "aaaa");
  const second = layout.scratchTextKey(TAG.kv, "ns", "bbbb");
  assert.equal(first.buffer, second.buffer, "one buffer, reused");
  assert.deepEqual(first, second, "the first key's bytes are gone: it is valid only until the next call");
  assert.throws(() => new KeyLayout(100, "tiny").scratchTextKey(TAG.kv, "ns", "k".repeat(97)), (error: unknown) => isStowageError(error, "LIMIT_EXCEEDED"));
  // Namespaces, tags and keys taking turns (the prefix is rewritten only when it changes): each key is still exact.
  const turns: Array<[number, string, string]> = [[TAG.kv, "a", "k1"], [TAG.kv, "a", "k2"], [TAG.kv, "long-namespace", "k1"], [TAG.slot, "a", "é"], [TAG.kv, "a", "ü" + "k".repeat(400)], [TAG.kv, "a", "k3"], [TAG.kv, "b", "k3"]];
  for (const [tag, ns, key] of [...turns, ...turns]) assert.deepEqual(Buffer.from(layout.scratchTextKey(tag, ns, key)), layout.textKey(tag, ns, key), `${tag} ${ns} ${key}`);
});

test("keys of one namespace never fall inside another namespace's range, whatever the names", () => {
  fc.assert(
    fc.property(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,10}$/), fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,10}$/), anyKey, (ns, other, key) => {
      fc.pre(ns !== other);
      const prefix = layout.prefix(TAG.kv, other);
      const encoded = layout.key(TAG.kv, ns, [key]);
      assert.ok(Buffer.compare(encoded, prefix) < 0 || Buffer.compare(encoded, prefixEnd(prefix)) >= 0);
    }),
  );
});

test("numbers: 8 bytes whose byte order is numeric order, read back exactly", () => {
  const number = fc.oneof(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(0, -0, 1, -1));
  fc.assert(
    fc.property(number, number, (a, b) => {
      const x = Buffer.alloc(8);
      const y = Buffer.alloc(8);
      writeNumber(x, 0, a);
      writeNumber(y, 0, b);
      assert.equal(sign(Buffer.compare(x, y)), sign(a - b) || 0, `${a} vs ${b}`);
      assert.equal(readNumber(x, 0), a === 0 ? 0 : a);
    }),
    { numRuns: 2_000 },
  );
});

test("composite keys: (key, seq) sorts by key first, then seq, and one key's records never interleave another's", () => {
  const seq = fc.integer({ min: 0, max: 2 ** 40 });
  fc.assert(
    fc.property(anyKey, seq, anyKey, seq, (k1, s1, k2, s2) => {
      const encoded = Buffer.compare(layout.key(TAG.queueItem, "q", [k1, s1]), layout.key(TAG.queueItem, "q", [k2, s2]));
      assert.equal(sign(encoded), sign(compareKeys(k1, k2)) || sign(s1 - s2));
    }),
    { numRuns: 2_000 },
  );
});

test("the space time index sorts as stowage reads a space: (timestamp, segment, seq)", () => {
  const position = fc.record({ timestamp: fc.integer({ min: 0, max: 2 ** 45 }), segment: anyKey, seq: fc.integer({ min: 1, max: 2 ** 40 }) });
  fc.assert(
    fc.property(position, position, (a, b) => {
      const encode = (p: typeof a) => layout.key(TAG.spaceIndex, "s", [7, p.timestamp, p.segment, p.seq]);
      assert.equal(sign(Buffer.compare(encode(a), encode(b))), sign(compareSpaceOrder(a, b, compareKeys)));
    }),
    { numRuns: 2_000 },
  );
});

test("successor and prefixEnd bound ranges exactly", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 8 }), fc.uint8Array({ maxLength: 8 }), (prefix, tail) => {
      fc.pre(prefix.some((b) => b !== 0xff));
      const key = Buffer.concat([prefix, tail]);
      assert.ok(Buffer.compare(key, prefixEnd(prefix)) < 0, "a key with the prefix is below prefixEnd");
      assert.ok(Buffer.compare(successor(key), key) > 0);
    }),
  );
});

test("the longest layout key for keys and names within stowage's limits is a work visibility record's, and fits LMDB's 1,978 bytes", () => {
  const ns = "n".repeat(LIMITS.maxNamespaceLength);
  const name = "\u{10000}".repeat(LIMITS.maxKeyBytes / 4); // 1,024 bytes of 4-byte characters
  const MAX_PRIORITY = 2 ** 31 - 1;
  const longest = layout.key(TAG.workVisible, ns, [name, MAX_PRIORITY - -(2 ** 31), Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER], name);
  assert.equal(longest.length, LONGEST_LAYOUT_KEY);
  const others = [
    layout.key(TAG.streamEntry, ns, [1, name, 1], name),
    layout.key(TAG.logByKey, ns, [name, 1], name),
    layout.key(TAG.workState, ns, [name, 1], name),
    layout.key(TAG.workDedup, ns, [name, Buffer.alloc(16)], name), // dedup keys are hashed to 16 bytes
  ];
  for (const key of others) assert.ok(key.length <= LONGEST_LAYOUT_KEY, `a key of tag ${key[0]} takes ${key.length} bytes`);
  assert.ok(LONGEST_LAYOUT_KEY <= 1978, "LMDB's key limit");
  assert.ok(LONGEST_LAYOUT_KEY <= 2048 && LONGEST_LAYOUT_KEY <= 4096, "Azure Table's and etcd's declared key limits");
});

test("the work visibility index sorts as claims take items: priority descending, then visibleAt, then id", () => {
  const MAX_PRIORITY = 2 ** 31 - 1;
  const item = fc.record({ priority: fc.integer({ min: -(2 ** 31), max: MAX_PRIORITY }), visibleAt: fc.integer({ min: 0, max: 2 ** 45 }), id: fc.integer({ min: 1, max: 2 ** 40 }) });
  fc.assert(
    fc.property(anyKey, item, item, (key, a, b) => {
      const encode = (i: typeof a) => layout.key(TAG.workVisible, "w", [key, MAX_PRIORITY - i.priority, i.visibleAt, i.id], key);
      assert.equal(sign(Buffer.compare(encode(a), encode(b))), sign(b.priority - a.priority) || sign(a.visibleAt - b.visibleAt) || sign(a.id - b.id));
    }),
    { numRuns: 2_000 },
  );
});

test("a key too long for the ordered store is refused with LIMIT_EXCEEDED naming the limit, the namespace and the key", () => {
  const small = new KeyLayout(100, "tiny");
  assert.equal(small.key(TAG.kv, "ns", ["k".repeat(96)]).length, 100);
  assert.throws(
    () => small.key(TAG.kv, "ns", ["k".repeat(97)], "k".repeat(97)),
    (error: unknown) => isStowageError(error, "LIMIT_EXCEEDED") && /maxKeyBytes/.test(error.message) && /101 bytes/.test(error.message) && error.namespace === "ns" && error.key === "k".repeat(97),
  );
});
