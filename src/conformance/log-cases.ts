import assert from "node:assert/strict";
import { utf8 } from "../api/codec.js";
import { dec, enc, rejectsWith, type CaseGroup } from "./harness.js";

export const logCases: CaseGroup = {
  "sequences increase strictly across all keys of a namespace": async ({ store }) => {
    const log = store.log("schemas");
    const a1 = await log.append("acme/shop/orders", enc("v1"));
    const b1 = await log.append("acme/shop/users", enc("u1"));
    const a2 = await log.append("acme/shop/orders", enc("v2"));
    assert.ok(a1 >= 1 && b1 > a1 && a2 > b1, `${a1} < ${b1} < ${a2}`);
    assert.equal(await log.lastSeq(), a2);
    const entries = await log.list("acme/shop/orders");
    assert.deepEqual(entries.map((e) => [e.seq, e.key, dec(e.value)]), [[a1, "acme/shop/orders", "v1"], [a2, "acme/shop/orders", "v2"]]);
  },

  "since returns entries with a greater sequence, in order, with a limit": async ({ store }) => {
    const log = store.log("events", { codec: utf8 });
    const seqs: number[] = [];
    for (let i = 0; i < 10; i++) seqs.push(await log.append("k", `e${i}`));
    await log.append("other", "x");
    assert.deepEqual((await log.since("k", 0)).map((e) => e.value), Array.from({ length: 10 }, (_, i) => `e${i}`));
    assert.deepEqual((await log.since("k", seqs[4] as number)).map((e) => e.seq), seqs.slice(5));
    assert.deepEqual((await log.since("k", seqs[9] as number)), []);
    assert.deepEqual((await log.since("k", seqs[2] as number, { limit: 3 })).map((e) => e.seq), seqs.slice(3, 6));
    assert.deepEqual((await log.list("k", { limit: 2 })).map((e) => e.seq), seqs.slice(0, 2));
    assert.deepEqual(await log.list("missing"), []);
  },

  "entries carry the store clock's timestamp": async ({ store, clock }) => {
    const log = store.log("ns");
    await log.append("k", enc("a"));
    clock.advance(5_000);
    await log.append("k", enc("b"));
    const [first, second] = await log.list("k");
    assert.equal(first?.timestamp, clock.time - 5_000);
    assert.equal(second?.timestamp, clock.time);
  },

  "namespaces have independent sequences; an empty log has lastSeq 0": async ({ store }) => {
    assert.equal(await store.log("a").lastSeq(), 0);
    const a = await store.log("a").append("k", enc("1"));
    const b = await store.log("b").append("k", enc("1"));
    assert.equal(a, b, "each namespace starts its own sequence");
    assert.deepEqual((await store.log("b").list("k")).map((e) => dec(e.value)), ["1"]);
  },

  "concurrent appends get unique sequences, listed in increasing order": async ({ store }) => {
    const log = store.log("ns");
    const seqs = await Promise.all(Array.from({ length: 200 }, (_, i) => log.append(`k${i % 4}`, enc(String(i)))));
    assert.equal(new Set(seqs).size, 200);
    const all = (await Promise.all([0, 1, 2, 3].map((k) => log.list(`k${k}`)))).flat();
    assert.deepEqual(all.map((e) => e.seq).sort((x, y) => x - y), [...seqs].sort((x, y) => x - y));
    // Each append's sequence is that of its own entry (engines that batch appends must not mix answers up).
    const appendOf = new Map(seqs.map((seq, i) => [seq, i]));
    for (const entry of all) assert.equal(new TextDecoder().decode(entry.value), String(appendOf.get(entry.seq)), `entry ${entry.seq}`);
    for (let k = 0; k < 4; k++) {
      const list = await log.list(`k${k}`);
      assert.equal(list.length, 50);
      for (let i = 1; i < list.length; i++) assert.ok((list[i] as { seq: number }).seq > (list[i - 1] as { seq: number }).seq);
    }
  },

  "empty values and large values append and read back": async ({ store, supports: { limits } }) => {
    const log = store.log("ns");
    const large = Math.min(100_000, limits.maxValueBytes);
    await log.append("k", new Uint8Array(0));
    await log.append("k", new Uint8Array(large).fill(1));
    const [empty, big] = await log.list("k");
    assert.equal(empty?.value.byteLength, 0);
    assert.equal(big?.value.byteLength, large);
  },

  "bad log arguments are INVALID_ARGUMENT and append nothing": async ({ store }) => {
    const log = store.log("ns");
    await rejectsWith(log.append("k", "text" as never), "INVALID_ARGUMENT", "value", "ns");
    await rejectsWith(log.append(7 as never, enc("x")), "INVALID_ARGUMENT", "key");
    await rejectsWith(log.since("k", -1), "INVALID_ARGUMENT", "seq");
    await rejectsWith(log.since("k", Number.NaN), "INVALID_ARGUMENT", "seq");
    await rejectsWith(log.since("k", "3" as never), "INVALID_ARGUMENT", "seq");
    await rejectsWith(log.list("k", { limit: 0 }), "INVALID_ARGUMENT", "limit");
    assert.equal(await log.lastSeq(), 0);
  },
};
