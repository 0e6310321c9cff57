import assert from "node:assert/strict";
import { json } from "../api/codec.js";
import { StowageError } from "../api/errors.js";
import { dec, deferred, enc, needing, rejectsWith, type CaseGroup } from "./harness.js";

export const transactionCases: CaseGroup = {
  // Runs on every engine, those whose transactions cannot span namespaces included (most cases below need that).
  "a transaction in one namespace commits all its writes, or none when it throws, and sees its own writes": async ({ store }) => {
    const kv = store.kv("one", { codec: json });
    await kv.put("a", 1);
    const result = await store.transaction(async (tx) => {
      const t = tx.kv("one", { codec: json });
      await t.put("a", ((await t.get("a")) as number) + 1);
      await t.put("b", 10);
      assert.deepEqual((await t.list()).entries.map((e) => e.key), ["a", "b"]);
      return t.delete("a");
    });
    assert.equal(result, true);
    assert.deepEqual((await kv.list()).entries, [{ key: "b", value: 10 }]);
    const boom = new Error("boom");
    await assert.rejects(
      store.transaction(async (tx) => {
        const t = tx.kv("one", { codec: json });
        await t.put("b", 11);
        await t.put("c", 12);
        assert.equal(await t.get("b"), 11);
        throw boom;
      }),
      (error) => error === boom,
    );
    assert.deepEqual((await kv.list()).entries, [{ key: "b", value: 10 }]);
    // Concurrent read-modify-write transactions keep every increment.
    await Promise.all(
      Array.from({ length: 10 }, () =>
        store.transaction(async (tx) => {
          const t = tx.kv("one", { codec: json });
          await t.put("b", ((await t.get("b")) as number) + 1);
        }),
      ),
    );
    assert.equal(await kv.get("b"), 20);
  },

  "a transaction commits writes across primitives and namespaces, and returns the body's result": needing(["crossNamespaceTransactions"], async ({ store }) => {
    const result = await store.transaction(async (tx) => {
      await tx.kv("a").put("k", enc("v"));
      const seq = await tx.log("b").append("k", enc("e"));
      await tx.slot("c").upsert("k", enc("s"));
      await tx.queue("d").push("k", enc("q"));
      return seq;
    });
    assert.equal(typeof result, "number");
    assert.equal(dec(await store.kv("a").get("k")), "v");
    assert.deepEqual((await store.log("b").list("k")).map((e) => e.seq), [result]);
    assert.equal((await store.slot("c").get("k"))?.version, 1);
    assert.equal(await store.queue("d").len("k"), 1);
  }),

  "a transaction that throws rolls back every write and rethrows": needing(["crossNamespaceTransactions"], async ({ store }) => {
    await store.kv("a").put("keep", enc("before"));
    const seqBefore = await store.log("b").append("k", enc("before"));
    await store.slot("c").upsert("k", enc("before"));
    const idBefore = await store.queue("d").push("k", enc("before"));
    const boom = new Error("boom");
    await assert.rejects(
      store.transaction(async (tx) => {
        await tx.kv("a").put("keep", enc("changed"));
        await tx.kv("a").put("new", enc("x"));
        await tx.kv("a").deleteRange({});
        await tx.log("b").append("k", enc("during"));
        await tx.slot("c").upsert("k", enc("during"));
        await tx.queue("d").ack("k", idBefore);
        await tx.queue("d").push("k", enc("during"));
        throw boom;
      }),
      (error) => error === boom,
    );
    assert.equal(dec(await store.kv("a").get("keep")), "before");
    assert.equal(await store.kv("a").get("new"), undefined);
    assert.deepEqual((await store.log("b").list("k")).map((e) => e.seq), [seqBefore]);
    assert.equal(await store.log("b").lastSeq(), seqBefore);
    assert.deepEqual(await store.slot("c").get("k"), { version: 1, value: enc("before") });
    assert.deepEqual((await store.queue("d").peek("k", 10)).map((i) => i.id), [idBefore]);
    const next = await store.log("b").append("k", enc("after"));
    assert.ok(next > seqBefore);
  }),

  "reads inside a transaction see its own writes": needing(["crossNamespaceTransactions"], async ({ store }) => {
    await store.kv("a").put("x", enc("old"));
    await store.transaction(async (tx) => {
      const kv = tx.kv("a");
      await kv.put("x", enc("new"));
      await kv.put("y", enc("y"));
      assert.equal(dec(await kv.get("x")), "new");
      assert.deepEqual((await kv.list()).entries.map((e) => e.key), ["x", "y"]);
      assert.equal(await kv.count(), 2);
      await kv.delete("y");
      assert.equal(await kv.get("y"), undefined);
      const seq = await tx.log("l").append("k", enc("e"));
      assert.deepEqual((await tx.log("l").since("k", 0)).map((e) => e.seq), [seq]);
      assert.equal(await tx.log("l").lastSeq(), seq);
      const version = await tx.slot("s").upsert("k", enc("1"));
      assert.equal(await tx.slot("s").cas("k", version, enc("2")), true);
      assert.deepEqual(await tx.slot("s").get("k"), { version: version + 1, value: enc("2") });
      await tx.queue("q").push("k", enc("i"));
      assert.equal(await tx.queue("q").len("k"), 1);
      assert.equal((await tx.queue("q").peek("k"))[0]?.value.byteLength, 1);
    });
  }),

  "outside readers never see a transaction's partial state": needing(["crossNamespaceTransactions"], async ({ store }) => {
    await store.kv("a").put("x", enc("0"));
    const wrote = deferred();
    const finish = deferred();
    const running = store.transaction(async (tx) => {
      await tx.kv("a").put("x", enc("1"));
      await tx.kv("a").put("y", enc("1"));
      await tx.log("l").append("k", enc("e"));
      wrote.resolve();
      await finish.promise;
    });
    await wrote.promise;
    const seen = Promise.all([store.kv("a").get("x"), store.kv("a").count(), store.log("l").list("k")]);
    const race = await Promise.race([seen, new Promise((resolve) => setTimeout(() => resolve("waiting"), 50))]);
    if (race !== "waiting") {
      const [x, count, log] = race as [Uint8Array, number, unknown[]];
      assert.equal(dec(x), "0", "a reader saw an uncommitted write");
      assert.equal(count, 1);
      assert.equal(log.length, 0);
    }
    finish.resolve();
    await running;
    await seen; // a reader that waited for the transaction is answered once it ends
    assert.equal(dec(await store.kv("a").get("x")), "1");
    assert.equal(await store.kv("a").count(), 2);
    assert.equal((await store.log("l").list("k")).length, 1);
  }),

  "concurrent transactions never interleave (read-modify-write keeps every increment)": needing(["crossNamespaceTransactions"], async ({ store }) => {
    const counter = () => store.slot("c", { codec: json<number>() });
    await counter().upsert("n", 0);
    await Promise.all(
      Array.from({ length: 20 }, () =>
        store.transaction(async (tx) => {
          const slot = tx.slot("c", { codec: json<number>() });
          const current = (await slot.get("n"))?.value ?? 0;
          await new Promise((resolve) => setTimeout(resolve, 1));
          await slot.upsert("n", current + 1);
          await tx.log("audit").append("n", enc(String(current + 1)));
        }),
      ),
    );
    assert.equal((await counter().get("n"))?.value, 20);
    assert.deepEqual((await store.log("audit").list("n")).map((e) => dec(e.value)), Array.from({ length: 20 }, (_, i) => String(i + 1)));
  }),

  "a typed error inside a transaction rolls it back and reaches the caller unchanged": needing(["crossNamespaceTransactions"], async ({ store }) => {
    const q = store.queue("q", { maxLen: 1 });
    await q.push("k", enc("a"));
    await rejectsWith(
      store.transaction(async (tx) => {
        await tx.kv("a").put("k", enc("x"));
        await tx.queue("q", { maxLen: 1 }).push("k", enc("b"));
      }),
      "LIMIT_EXCEEDED",
      "q",
    );
    assert.equal(await store.kv("a").get("k"), undefined);
  }),

  "an operation refused inside a transaction that goes on leaves nothing behind, not even a used id": needing(["crossNamespaceTransactions"], async ({ store }) => {
    const ids = await store.transaction(async (tx) => {
      const queue = tx.queue("q");
      const first = await queue.push("k", enc("1"));
      await rejectsWith(tx.queue("q", { maxLen: 1 }).push("k", enc("refused")), "LIMIT_EXCEEDED", "q", "k");
      const second = await queue.push("k", enc("2"));
      return [first, second];
    });
    assert.deepEqual(ids, [1, 2], "the refused push took no id");
    assert.deepEqual((await store.queue("q").peek("k", 10)).map((item) => dec(item.value)), ["1", "2"]);
    assert.equal(await store.queue("q").len("k"), 2);
  }),

  "a CONFLICT the body throws itself (a CAS retry giving up, another store) runs the body once and reaches the caller unchanged": needing(["crossNamespaceTransactions"], async ({ store }) => {
    let runs = 0;
    const own = new StowageError("CONFLICT", "the body's own conflict", { namespace: "a", key: "k" });
    await assert.rejects(
      store.transaction(async (tx) => {
        runs += 1;
        await tx.kv("a").put("k", enc("x"));
        throw own;
      }),
      (error) => error === own,
    );
    assert.equal(runs, 1);
    assert.equal(await store.kv("a").get("k"), undefined);
  }),

  "a body that catches a refused call and goes on commits its other writes, before and after it": needing(["crossNamespaceTransactions"], async ({ store }) => {
    await store.queue("q", { maxLen: 1 }).push("k", enc("full"));
    const result = await store.transaction(async (tx) => {
      await tx.kv("a").put("before", enc("1"));
      const refused = await tx
        .queue("q", { maxLen: 1, overflow: "reject" })
        .push("k", enc("refused"))
        .then(
          () => undefined,
          (error: unknown) => (error as StowageError).code,
        );
      await tx.kv("a").put("after", enc("2"));
      return refused;
    });
    assert.equal(result, "LIMIT_EXCEEDED");
    assert.equal(dec(await store.kv("a").get("before")), "1");
    assert.equal(dec(await store.kv("a").get("after")), "2");
    assert.deepEqual((await store.queue("q").peek("k", 10)).map((item) => dec(item.value)), ["full"]);
  }),

  "a transaction may make at most maxTransactionWrites writes": async ({ store, supports: { limits } }) => {
    await rejectsWith(
      store.transaction(async (tx) => {
        const kv = tx.kv("a");
        for (let i = 0; i <= limits.maxTransactionWrites; i++) await kv.put(`k${i}`, new Uint8Array(0));
      }),
      "LIMIT_EXCEEDED",
      String(limits.maxTransactionWrites),
    );
    assert.equal(await store.kv("a").count(), 0);
    await store.transaction(async (tx) => {
      const kv = tx.kv("a");
      for (let i = 0; i < Math.min(100, limits.maxTransactionWrites); i++) await kv.put(`k${i}`, new Uint8Array(0));
    });
    assert.equal(await store.kv("a").count(), Math.min(100, limits.maxTransactionWrites));
  },

  "a transaction may write at most maxTransactionBytes": async ({ store, supports: { limits } }) => {
    const chunk = new Uint8Array(limits.maxValueBytes);
    const fit = Math.floor(limits.maxTransactionBytes / (limits.maxValueBytes + 8));
    await rejectsWith(
      store.transaction(async (tx) => {
        for (let i = 0; i <= fit; i++) await tx.kv("a").put(`k${i}`, chunk);
      }),
      "LIMIT_EXCEEDED",
      String(limits.maxTransactionBytes),
    );
    assert.equal(await store.kv("a").count(), 0);
  },

  "handles of an ended transaction are CLOSED; store calls inside a body fail fast instead of deadlocking": async ({ store }) => {
    let leaked: ReturnType<typeof store.kv> | undefined;
    await store.transaction(async (tx) => {
      leaked = tx.kv("a");
      await rejectsWith(store.kv("a").put("k", enc("x")), "INVALID_ARGUMENT", "transaction");
      await rejectsWith(store.transaction(async () => undefined), "INVALID_ARGUMENT", "transaction");
    });
    await rejectsWith((leaked as NonNullable<typeof leaked>).get("k"), "CLOSED", "transaction");
    await rejectsWith(store.transaction("nope" as never), "INVALID_ARGUMENT");
  },

  "writes a body forgot to await still belong to its transaction": async ({ store }) => {
    await store.transaction(async (tx) => {
      void tx.kv("a").put("k", enc("v"));
    });
    assert.equal(dec(await store.kv("a").get("k")), "v");
  },
};
