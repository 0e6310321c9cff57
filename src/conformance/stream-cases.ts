import assert from "node:assert/strict";
import { isStowageError } from "../api/errors.js";
import { utf8 } from "../api/codec.js";
import { LIMITS } from "../api/limits.js";
import { needing, rejectsWith, type CaseGroup } from "./harness.js";

const records = (...values: string[]) => values.map((value) => ({ value }));

export const streamCases: CaseGroup = {
  "produce appends a batch with the segment's next sequences and returns its status; reads return it in order": async ({ store, clock }) => {
    const stream = store.stream("s", { codec: utf8 });
    assert.deepEqual(await stream.status("space", "seg"), { lastSeq: 0, lastTimestamp: 0, count: 0 });
    const first = await stream.produce("space", "seg", records("a", "b"));
    assert.deepEqual(first, { lastSeq: 2, lastTimestamp: clock.time, count: 2 });
    clock.advance(5);
    const second = await stream.produce("space", "seg", [{ value: "c", headers: { type: "order", "trace-id": "t1" } }]);
    assert.deepEqual(second, { lastSeq: 3, lastTimestamp: clock.time, count: 3 });
    assert.deepEqual(await stream.readSegment("space", "seg"), [
      { seq: 1, timestamp: clock.time - 5, value: "a" },
      { seq: 2, timestamp: clock.time - 5, value: "b" },
      { seq: 3, timestamp: clock.time, value: "c", headers: { type: "order", "trace-id": "t1" } },
    ]);
    assert.deepEqual(await stream.status("space", "seg"), second);
    assert.deepEqual(await stream.peek("space", "seg"), { seq: 3, timestamp: clock.time, value: "c", headers: { type: "order", "trace-id": "t1" } });
    assert.equal(await stream.peek("space", "other"), undefined);
    // Segments have sequences of their own.
    assert.equal((await stream.produce("space", "seg2", records("x"))).lastSeq, 1);
  },

  "readSegment honours fromSeq, toSeq and limit": async ({ store }) => {
    const stream = store.stream("s", { codec: utf8 });
    await stream.produce("sp", "g", records("1", "2", "3", "4", "5", "6"));
    const seqs = async (options: object) => (await stream.readSegment("sp", "g", options)).map((e) => e.seq);
    assert.deepEqual(await seqs({ fromSeq: 3 }), [3, 4, 5, 6]);
    assert.deepEqual(await seqs({ fromSeq: 2, toSeq: 4 }), [2, 3, 4]);
    assert.deepEqual(await seqs({ fromSeq: 2, limit: 2 }), [2, 3]);
    assert.deepEqual(await seqs({ toSeq: 0 }), []);
    assert.deepEqual(await seqs({ fromSeq: 7 }), []);
    assert.deepEqual(await stream.readSegment("sp", "missing"), []);
  },

  "expectedSeq: a produce that expects another sequence writes nothing and fails with CONFLICT carrying the current one": async ({ store }) => {
    const stream = store.stream("s", { codec: utf8 });
    assert.equal((await stream.produce("sp", "g", records("a"), { expectedSeq: 0 })).lastSeq, 1);
    let caught: unknown;
    try {
      await stream.produce("sp", "g", records("b", "c"), { expectedSeq: 0 });
    } catch (error) {
      caught = error;
    }
    assert.ok(isStowageError(caught, "CONFLICT"), String(caught));
    assert.equal(caught.currentSeq, 1);
    assert.match(caught.message, /"s"/);
    assert.deepEqual((await stream.readSegment("sp", "g")).map((e) => e.value), ["a"]);
    assert.equal((await stream.produce("sp", "g", records("b"), { expectedSeq: 1 })).lastSeq, 2);
    // A refused expectation on a new segment leaves no trace of it.
    await rejectsWith(stream.produce("sp", "new", records("x"), { expectedSeq: 3 }), "CONFLICT");
    assert.deepEqual(await stream.segments("sp"), ["g"]);
  },

  "of concurrent producers with the same expected sequence exactly one succeeds": async ({ store }) => {
    const stream = store.stream("s", { codec: utf8 });
    await stream.produce("sp", "g", records("base"));
    const outcomes = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => stream.produce("sp", "g", records(`p${i}`, `q${i}`), { expectedSeq: 1 })));
    const won = outcomes.filter((o) => o.status === "fulfilled");
    assert.equal(won.length, 1);
    for (const o of outcomes) if (o.status === "rejected") assert.ok(isStowageError(o.reason, "CONFLICT") && o.reason.currentSeq === 3);
    assert.equal((await stream.status("sp", "g")).lastSeq, 3);
  },

  "readSpace merges segments in timestamp order, ties by segment then sequence, and resumes from a position": async ({ store, clock }) => {
    const stream = store.stream("s", { codec: utf8 });
    await stream.produce("sp", "b", records("b1", "b2"));
    await stream.produce("sp", "a", records("a1"));
    clock.advance(10);
    await stream.produce("sp", "a", records("a2"));
    await stream.produce("other", "a", records("elsewhere"));
    const page = await stream.readSpace("sp");
    assert.deepEqual(
      page.entries.map((e) => `${e.segment}:${e.seq}:${e.value}`),
      ["a:1:a1", "b:1:b1", "b:2:b2", "a:2:a2"],
    );
    const first = await stream.readSpace("sp", { limit: 2 });
    assert.deepEqual(first.entries.map((e) => e.value), ["a1", "b1"]);
    const rest = await stream.readSpace("sp", { after: first.position });
    assert.deepEqual(rest.entries.map((e) => e.value), ["b2", "a2"]);
    // Nothing new yet: the position stays, and entries produced later are found from it.
    const idle = await stream.readSpace("sp", { after: rest.position });
    assert.deepEqual(idle, { entries: [], position: rest.position });
    clock.advance(1);
    await stream.produce("sp", "c", records("c1"));
    assert.deepEqual((await stream.readSpace("sp", { after: idle.position })).entries.map((e) => e.value), ["c1"]);
    assert.deepEqual((await stream.readSpace("sp", { fromTimestamp: clock.time - 1 })).entries.map((e) => e.value), ["a2", "c1"]);
    assert.deepEqual(await stream.readSpace("empty"), { entries: [] });
    await rejectsWith(stream.readSpace("sp", { after: "not-a-position" }), "INVALID_ARGUMENT", "sp");
  },

  "spaces and segments list names in byte order, in pages": async ({ store }) => {
    const stream = store.stream("s", { codec: utf8 });
    for (const space of ["β", "a", "Z"]) for (const segment of ["2", "10", "1"]) await stream.produce(space, segment, records("v"));
    assert.deepEqual(await stream.spaces(), ["Z", "a", "β"]);
    assert.deepEqual(await stream.spaces({ after: "Z", limit: 1 }), ["a"]);
    assert.deepEqual(await stream.segments("a"), ["1", "10", "2"]);
    assert.deepEqual(await stream.segments("a", { after: "10" }), ["2"]);
    assert.deepEqual(await stream.segments("none"), []);
    assert.deepEqual(await store.stream("other").spaces(), []);
  },

  "produce inside a transaction spans segments and other primitives, all or nothing": needing(["crossNamespaceTransactions"], async ({ store }) => {
    const stream = store.stream("s", { codec: utf8 });
    await store.transaction(async (tx) => {
      const s = tx.stream("s", { codec: utf8 });
      await s.produce("sp", "a", records("1"));
      await s.produce("sp", "b", records("2"));
      await tx.kv("k", { codec: utf8 }).put("checkpoint", "a:1,b:1");
      assert.equal((await s.status("sp", "a")).lastSeq, 1, "reads inside see the transaction's own produce");
    });
    assert.deepEqual(await stream.segments("sp"), ["a", "b"]);
    await assert.rejects(
      store.transaction(async (tx) => {
        await tx.stream("s", { codec: utf8 }).produce("sp", "a", records("rolled back"));
        await tx.stream("s", { codec: utf8 }).produce("sp", "c", records("rolled back"));
        await tx.kv("k", { codec: utf8 }).put("checkpoint", "never");
        throw new Error("abort");
      }),
      /abort/,
    );
    assert.deepEqual(await stream.segments("sp"), ["a", "b"]);
    assert.equal((await stream.status("sp", "a")).lastSeq, 1);
    assert.equal(await store.kv("k", { codec: utf8 }).get("checkpoint"), "a:1,b:1");
    // A refused expectation inside a body that goes on leaves nothing behind and is not retried.
    const status = await store.transaction(async (tx) => {
      const s = tx.stream("s", { codec: utf8 });
      await rejectsWith(s.produce("sp", "a", records("x"), { expectedSeq: 0 }), "CONFLICT");
      return s.produce("sp", "a", records("y"), { expectedSeq: 1 });
    });
    assert.equal(status.lastSeq, 2);
    assert.deepEqual((await stream.readSegment("sp", "a")).map((e) => e.value), ["1", "y"]);
  }),

  "bad stream arguments are typed errors naming the namespace, and write nothing": async ({ store }) => {
    const stream = store.stream("s", { codec: utf8 });
    await rejectsWith(stream.produce("sp", "g", []), "INVALID_ARGUMENT", "s");
    await rejectsWith(stream.produce("", "g", records("v")), "INVALID_ARGUMENT", "s");
    await rejectsWith(stream.produce("sp", "g\u0000", records("v")), "INVALID_ARGUMENT", "s");
    await rejectsWith(stream.produce("sp", "g", [{ value: "v", headers: { n: 1 as unknown as string } }]), "INVALID_ARGUMENT", "s");
    await rejectsWith(stream.produce("sp", "g", [{ value: "v", headers: { big: "x".repeat(LIMITS.maxHeaderBytes) } }]), "LIMIT_EXCEEDED", "s");
    await rejectsWith(stream.produce("sp", "g", [{ value: "v", extra: 1 } as never]), "INVALID_ARGUMENT", "s");
    await rejectsWith(stream.produce("sp", "g", records("v"), { expectedSeq: -1 }), "INVALID_ARGUMENT", "s");
    await rejectsWith(stream.produce("sp", "g", [{ value: 5 as unknown as string }]), "INVALID_ARGUMENT", "s");
    await rejectsWith(stream.readSegment("sp", "g", { fromSeq: 0 }), "INVALID_ARGUMENT", "s");
    await rejectsWith(stream.readSegment("sp", "g", { limit: LIMITS.maxPageSize + 1 }), "INVALID_ARGUMENT", "s");
    await rejectsWith(stream.readSpace("sp", { fromTimestamp: 1.5 }), "INVALID_ARGUMENT", "s");
    assert.deepEqual(await stream.spaces(), []);
  },

  "values read are independent copies, and empty and large values round-trip": async ({ store, supports: { limits } }) => {
    const stream = store.stream("s");
    const big = new Uint8Array(limits.maxValueBytes).fill(7);
    await stream.produce("sp", "g", [{ value: new Uint8Array(0) }, { value: big }]);
    const [empty, large] = await stream.readSegment("sp", "g");
    assert.equal(empty?.value.byteLength, 0);
    assert.equal(large?.value.byteLength, limits.maxValueBytes);
    (large as { value: Uint8Array }).value[0] = 1;
    assert.equal((await stream.peek("sp", "g"))?.value[0], 7);
  },

  "compression is recorded per entry: compressed and plain entries read back the same through any handle": async ({ store, supports: { limits } }) => {
    const packed = store.stream("s", { codec: utf8, compression: "deflate" });
    const plain = store.stream("s", { codec: utf8 });
    const long = "compressible ".repeat(Math.floor(Math.min(6_500, limits.maxValueBytes) / 13));
    const short = "tiny";
    await packed.produce("sp", "g", [{ value: long }, { value: short }, { value: "" }]);
    await plain.produce("sp", "g", [{ value: long, headers: { h: "1" } }]);
    for (const reader of [packed, plain]) {
      assert.deepEqual((await reader.readSegment("sp", "g")).map((e) => e.value), [long, short, "", long]);
      assert.equal((await reader.peek("sp", "g"))?.value, long);
      assert.deepEqual((await reader.readSpace("sp")).entries.map((e) => e.value), [long, short, "", long]);
    }
    assert.throws(() => store.stream("s", { compression: "zstd" as never }), /compression/);
    // Incompressible bytes are stored as given, and still read back exactly.
    const noise = new Uint8Array(Math.min(4096, limits.maxValueBytes)).map((_, i) => (i * 2654435761) >>> 24);
    await store.stream("b", { compression: "deflate" }).produce("sp", "g", [{ value: noise }]);
    assert.deepEqual((await store.stream("b").peek("sp", "g"))?.value, noise);
  },

  "a produce's 16 MiB limit counts values before compression, so one read never returns more than a produce admits": async ({ store, supports: { limits } }) => {
    const packed = store.stream("s", { compression: "deflate" });
    const large = new Uint8Array(limits.maxValueBytes).fill(120); // compresses to about a thousandth
    // 17 of 1 MiB (16 MiB, the API's limit): one more record than the bytes allow, then two fewer.
    const over = Math.floor(limits.maxTransactionBytes / large.byteLength) + 1;
    const records = Array.from({ length: over }, () => ({ value: large }));
    const apiLimit = limits.maxTransactionBytes === LIMITS.maxTransactionBytes;
    await rejectsWith(packed.produce("sp", "g", records), "LIMIT_EXCEEDED", "s", String(limits.maxTransactionBytes), ...(apiLimit ? ["before compression"] : []));
    assert.equal((await packed.status("sp", "g")).lastSeq, 0);
    // Below the limit the same records pass, stored compressed.
    assert.equal((await packed.produce("sp", "g", records.slice(0, over - 2))).lastSeq, over - 2);
    assert.equal((await packed.readSegment("sp", "g")).reduce((sum, e) => sum + e.value.byteLength, 0), (over - 2) * large.byteLength);
  },

  "readSpace refuses a position of another space or namespace with INVALID_ARGUMENT": async ({ store }) => {
    const stream = store.stream("s", { codec: utf8 });
    await stream.produce("one", "g", records("a", "b"));
    await stream.produce("two", "g", records("x", "y", "z"));
    const page = await stream.readSpace("one", { limit: 1 });
    assert.ok(page.position !== undefined);
    await rejectsWith(stream.readSpace("two", { after: page.position }), "INVALID_ARGUMENT", "two", '"one"');
    await rejectsWith(store.stream("t", { codec: utf8 }).readSpace("one", { after: page.position }), "INVALID_ARGUMENT", '"s"');
    assert.deepEqual((await stream.readSpace("one", { after: page.position })).entries.map((e) => e.value), ["b"]);
  },

  "a segment's timestamps never go back, even when the clock does; every record counts toward a transaction's writes": async ({ store, clock, supports: { limits } }) => {
    const stream = store.stream("s", { codec: utf8 });
    await stream.produce("sp", "g", records("a"));
    const first = clock.time;
    clock.advance(-1000);
    const status = await stream.produce("sp", "g", records("b"));
    assert.equal(status.lastTimestamp, first);
    assert.deepEqual((await stream.readSegment("sp", "g")).map((e) => e.timestamp), [first, first]);
    await rejectsWith(
      store.transaction(async (tx) => {
        const s = tx.stream("s", { codec: utf8 });
        await s.produce("sp", "big", Array.from({ length: limits.maxTransactionWrites }, () => ({ value: "" })));
        await s.produce("sp", "big", records("one too many"));
      }),
      "LIMIT_EXCEEDED",
    );
    assert.deepEqual(await stream.segments("sp"), ["g"]);
  },
};

