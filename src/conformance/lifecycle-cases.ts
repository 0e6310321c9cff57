import assert from "node:assert/strict";
import { enc, namespacesOf, needing, rejectsWith, type CaseGroup } from "./harness.js";

export const lifecycleCases: CaseGroup = {
  "namespace names are validated": async ({ store }) => {
    for (const bad of ["", "has space", "-lead", ".lead", "x".repeat(65), "a/b", "ü", 5, undefined]) {
      assert.throws(() => store.kv(bad as never), (e: Error & { code?: string }) => e.code === "INVALID_ARGUMENT", `namespace ${String(bad)}`);
      assert.throws(() => store.log(bad as never), /INVALID_ARGUMENT/);
      assert.throws(() => store.slot(bad as never), /INVALID_ARGUMENT/);
      assert.throws(() => store.queue(bad as never), /INVALID_ARGUMENT/);
    }
    for (const good of ["checkpoints", "dlq", "a", "A-b_c.d", "0", "x".repeat(64)]) store.kv(good);
  },

  "info names the engine and counts per namespace and primitive": async ({ store }) => {
    await store.kv("checkpoints").put("a", enc("1"));
    await store.kv("checkpoints").put("b", enc("1"));
    await store.log("schemas").append("k", enc("1"));
    await store.slot("snapshots").upsert("k", enc("1"));
    await store.queue("dlq").push("k", enc("1"));
    await store.queue("dlq").push("j", enc("1"));
    const info = await store.info();
    assert.equal(info.engine, store.engine);
    assert.equal(typeof info.location, "string");
    assert.equal(info.schemaVersion >= 1, true);
    assert.deepEqual(namespacesOf(info.namespaces), [
      { primitive: "kv", namespace: "checkpoints", count: 2 },
      { primitive: "log", namespace: "schemas", count: 1 },
      { primitive: "slot", namespace: "snapshots", count: 1 },
      { primitive: "queue", namespace: "dlq", count: 2 },
    ]);
    assert.equal(info.storedRows, 6);
  },

  "close waits for accepted writes, is idempotent, and every later call is CLOSED": async ({ open, clock }) => {
    const store = await open({ clock: clock.now });
    const kv = store.kv("a");
    const pending = kv.put("k", enc("v"));
    const closed = store.close();
    await pending;
    await closed;
    await store.close();
    await rejectsWith(kv.get("k"), "CLOSED");
    await rejectsWith(kv.put("k", enc("v")), "CLOSED");
    await rejectsWith(() => store.log("l").append("k", enc("v")), "CLOSED");
    await rejectsWith(store.transaction(async () => undefined), "CLOSED");
    await rejectsWith(store.info(), "CLOSED");
    await rejectsWith(store.sweep(), "CLOSED");
    await rejectsWith(store.check(), "CLOSED");
    assert.throws(() => store.kv("a"), /CLOSED/);
  },

  "check finds nothing wrong after every kind of write, rollback and refusal": needing(["crossNamespaceTransactions"], async ({ store }) => {
    assert.deepEqual(await store.check(), { ok: true, problems: [] }, "an empty store");
    const kv = store.kv("c");
    for (let i = 0; i < 20; i++) await kv.put(`k${i}`, enc(String(i)), i % 2 === 0 ? { ttlMs: 1000 } : undefined);
    await kv.delete("k3");
    await kv.deleteRange({ prefix: "k1" });
    for (let i = 0; i < 5; i++) await store.log("c").append(`l${i % 2}`, enc("e"));
    await store.slot("c").upsert("s", enc("1"));
    await store.slot("c").cas("s", 1, enc("2"));
    const queue = store.queue("c", { maxLen: 3, overflow: "drop-oldest" });
    const ids: number[] = [];
    for (let i = 0; i < 6; i++) ids.push(await queue.push("q", enc(String(i))));
    await queue.ack("q", ids[4] as number);
    await queue.dropOldest("q", 1);
    await rejectsWith(store.queue("c", { maxLen: 1 }).push("q", enc("refused")), "LIMIT_EXCEEDED", "c", "q");
    await assert.rejects(
      store.transaction(async (tx) => {
        await tx.queue("c").push("q", enc("rolled back"));
        await tx.log("c").append("l0", enc("rolled back"));
        throw new Error("roll back");
      }),
      /roll back/,
    );
    assert.deepEqual(await store.check(), { ok: true, problems: [] });
  }),

  "handles taken before close fail with CLOSED for every primitive": async ({ open, clock }) => {
    const store = await open({ clock: clock.now });
    const kv = store.kv("a");
    const log = store.log("a");
    const slot = store.slot("a");
    const q = store.queue("a");
    await store.close();
    await rejectsWith(kv.list(), "CLOSED");
    await rejectsWith(kv.count(), "CLOSED");
    await rejectsWith(log.list("k"), "CLOSED");
    await rejectsWith(slot.cas("k", 0, enc("x")), "CLOSED");
    await rejectsWith(q.push("k", enc("x")), "CLOSED");
    await rejectsWith(q.len("k"), "CLOSED");
  },
};
