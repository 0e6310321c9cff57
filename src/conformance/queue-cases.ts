import assert from "node:assert/strict";
import { utf8 } from "../api/codec.js";
import { enc, rejectsWith, type CaseGroup } from "./harness.js";

export const queueCases: CaseGroup = {
  "push gives increasing ids; peek shows the oldest first without removing": async ({ store, clock }) => {
    const q = store.queue("quarantine", { codec: utf8 });
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push(await q.push("pipe/orders", `item${i}`));
      clock.advance(10);
    }
    for (let i = 1; i < ids.length; i++) assert.ok((ids[i] as number) > (ids[i - 1] as number));
    const head = await q.peek("pipe/orders", 3);
    assert.deepEqual(head.map((item) => item.value), ["item0", "item1", "item2"]);
    assert.deepEqual(head.map((item) => item.id), ids.slice(0, 3));
    assert.equal(head[0]?.pushedAt, clock.time - 50);
    assert.equal((await q.peek("pipe/orders")).length, 1, "peek defaults to one item");
    assert.equal(await q.len("pipe/orders"), 5);
  },

  "peek with afterId pages past items left in place, in id order": async ({ store }) => {
    const q = store.queue("ns", { codec: utf8 });
    const ids: number[] = [];
    for (const v of ["a", "b", "c", "d", "e"]) ids.push(await q.push("k", v));
    await q.push("other", "x");
    await q.ack("k", ids[2] as number);
    assert.deepEqual((await q.peek("k", 2, { afterId: ids[0] as number })).map((i) => i.value), ["b", "d"]);
    assert.deepEqual((await q.peek("k", 10, { afterId: ids[1] as number })).map((i) => i.value), ["d", "e"]);
    assert.deepEqual(await q.peek("k", 10, { afterId: ids[4] as number }), []);
    assert.deepEqual((await q.peek("k", 10, { afterId: 0 })).map((i) => i.value), ["a", "b", "d", "e"]);
    await rejectsWith(q.peek("k", 1, { afterId: -1 }), "INVALID_ARGUMENT");
    await rejectsWith(q.peek("k", 1, { after: 1 } as never), "INVALID_ARGUMENT");
    await store.transaction(async (tx) => {
      const tq = tx.queue("ns", { codec: utf8 });
      const id = await tq.push("k", "f");
      assert.deepEqual((await tq.peek("k", 10, { afterId: ids[4] as number })).map((i) => [i.id, i.value]), [[id, "f"]]);
    });
  },

  "ack removes an item wherever it is, once": async ({ store }) => {
    const q = store.queue("ns", { codec: utf8 });
    const ids = [await q.push("k", "a"), await q.push("k", "b"), await q.push("k", "c")];
    assert.equal(await q.ack("k", ids[1] as number), true);
    assert.equal(await q.ack("k", ids[1] as number), false);
    assert.equal(await q.ack("other", ids[0] as number), false, "an id of another queue key is not acked");
    assert.equal(await q.ack("k", 999_999), false);
    assert.deepEqual((await q.peek("k", 10)).map((i) => i.value), ["a", "c"]);
    assert.equal(await q.len("k"), 2);
  },

  "dropOldest removes from the head and reports how many": async ({ store }) => {
    const q = store.queue("ns", { codec: utf8 });
    for (const v of ["a", "b", "c", "d"]) await q.push("k", v);
    assert.equal(await q.dropOldest("k", 0), 0);
    assert.equal(await q.dropOldest("k", 3), 3);
    assert.deepEqual((await q.peek("k", 10)).map((i) => i.value), ["d"]);
    assert.equal(await q.dropOldest("k", 5), 1);
    assert.equal(await q.len("k"), 0);
    assert.equal(await q.dropOldest("empty", 5), 0);
  },

  "ids keep increasing after the queue empties": async ({ store }) => {
    const q = store.queue("ns");
    const first = await q.push("k", enc("a"));
    await q.ack("k", first);
    const second = await q.push("k", enc("b"));
    assert.ok(second > first);
    assert.ok((await q.push("other", enc("c"))) > second, "ids grow across the keys of a namespace");
  },

  "a full queue with overflow reject refuses the push and keeps every item": async ({ store }) => {
    const q = store.queue("ns", { maxLen: 3, overflow: "reject", codec: utf8 });
    for (const v of ["a", "b", "c"]) await q.push("k", v);
    await rejectsWith(q.push("k", "d"), "LIMIT_EXCEEDED", "ns", "k", "3");
    assert.deepEqual((await q.peek("k", 10)).map((i) => i.value), ["a", "b", "c"]);
    await q.push("other", "x");
    const defaulted = store.queue("ns", { maxLen: 3, codec: utf8 });
    await rejectsWith(defaulted.push("k", "d"), "LIMIT_EXCEEDED");
    await q.ack("k", (await q.peek("k"))[0]?.id as number);
    await q.push("k", "d");
    assert.deepEqual((await q.peek("k", 10)).map((i) => i.value), ["b", "c", "d"]);
  },

  "a full queue with overflow drop-oldest keeps the newest maxLen items": async ({ store }) => {
    const q = store.queue("ns", { maxLen: 3, overflow: "drop-oldest", codec: utf8 });
    for (const v of ["a", "b", "c", "d", "e"]) await q.push("k", v);
    assert.deepEqual((await q.peek("k", 10)).map((i) => i.value), ["c", "d", "e"]);
    assert.equal(await q.len("k"), 3);
  },

  "concurrent pushes to a bounded queue never exceed maxLen": async ({ store }) => {
    const rejecting = store.queue("r", { maxLen: 10 });
    const results = await Promise.allSettled(Array.from({ length: 30 }, (_, i) => rejecting.push("k", enc(String(i)))));
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 10);
    assert.equal(await rejecting.len("k"), 10);
    const dropping = store.queue("d", { maxLen: 10, overflow: "drop-oldest" });
    const ids = await Promise.all(Array.from({ length: 30 }, (_, i) => dropping.push("k", enc(String(i)))));
    assert.equal(await dropping.len("k"), 10);
    assert.deepEqual((await dropping.peek("k", 20)).map((i) => i.id), [...ids].sort((a, b) => a - b).slice(20));
  },

  "bad queue arguments are INVALID_ARGUMENT": async ({ store }) => {
    assert.throws(() => store.queue("ns", { maxLen: 0 }), /INVALID_ARGUMENT.*maxLen/);
    assert.throws(() => store.queue("ns", { maxLen: -1 }), /maxLen/);
    assert.throws(() => store.queue("ns", { overflow: "drop-newest" as never }), /overflow/);
    const q = store.queue("ns");
    await rejectsWith(q.push("k", 5 as never), "INVALID_ARGUMENT", "value");
    await rejectsWith(q.peek("k", 0), "INVALID_ARGUMENT", "limit");
    await rejectsWith(q.ack("k", -3), "INVALID_ARGUMENT", "id");
    await rejectsWith(q.dropOldest("k", Number.NaN), "INVALID_ARGUMENT", "count");
    assert.equal(await q.len("k"), 0);
  },

  "a refused write among concurrent writes changes nothing, and the others all commit": async ({ store }) => {
    const q = store.queue("ns", { maxLen: 1, overflow: "reject", codec: utf8 });
    const kv = store.kv("ns", { codec: utf8 });
    await q.push("full", "only");
    // Issued together, so engines that commit writes in groups put them in one group.
    const outcomes = await Promise.allSettled([kv.put("a", "1"), q.push("full", "refused"), store.log("ns").append("l", enc("x")), kv.put("b", "2")]);
    assert.deepEqual(outcomes.map((o) => o.status), ["fulfilled", "rejected", "fulfilled", "fulfilled"]);
    await rejectsWith(Promise.reject((outcomes[1] as PromiseRejectedResult).reason), "LIMIT_EXCEEDED", "ns", "full");
    assert.equal((outcomes[2] as PromiseFulfilledResult<number>).value, 1);
    assert.equal(await kv.get("a"), "1");
    assert.equal(await kv.get("b"), "2");
    assert.deepEqual((await q.peek("full", 10)).map((i) => i.value), ["only"]);
    assert.equal(await store.log("ns").lastSeq(), 1, "the append ran once: a group run again keeps one sequence per append");
  },

  "concurrent pushes to a bounded queue: each gets its own answer, and ids stay gap-free": async ({ store }) => {
    // Issued together, so engines that batch pushes put many in one statement: refusals must stay per push.
    const strict = store.queue("ns", { maxLen: 10, overflow: "reject", codec: utf8 });
    const rolling = store.queue("ns", { maxLen: 10, overflow: "drop-oldest", codec: utf8 });
    const outcomes = await Promise.allSettled(
      Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? strict.push("strict", `s${i}`) : rolling.push("rolling", `r${i}`))),
    );
    const strictOutcomes = outcomes.filter((_, i) => i % 2 === 0);
    const accepted = strictOutcomes.filter((o): o is PromiseFulfilledResult<number> => o.status === "fulfilled");
    assert.equal(accepted.length, 10, "exactly maxLen pushes fit a rejecting queue");
    for (const o of strictOutcomes) if (o.status === "rejected") await rejectsWith(Promise.reject(o.reason), "LIMIT_EXCEEDED", "ns", "strict");
    const rollingIds = outcomes.filter((_, i) => i % 2 === 1).map((o) => (o as PromiseFulfilledResult<number>).value);
    const ids = [...accepted.map((o) => o.value), ...rollingIds].sort((a, b) => a - b);
    assert.deepEqual(ids, Array.from({ length: 40 }, (_, i) => i + 1), "every accepted push has its own id, with no gap for refusals");
    assert.equal(await strict.len("strict"), 10);
    assert.deepEqual((await strict.peek("strict", 20)).map((item) => item.id), accepted.map((o) => o.value).sort((a, b) => a - b));
    assert.equal(await rolling.len("rolling"), 10);
    assert.deepEqual(
      (await rolling.peek("rolling", 20)).map((item) => item.id),
      rollingIds.sort((a, b) => a - b).slice(-10),
      "drop-oldest keeps the newest 10",
    );
  },
};
