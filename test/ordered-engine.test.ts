/**
 * The ordered-KV family's engine on the tests' sorted ordered store: group commit (several writes, one commit, a
 * refusal in the middle leaving the others), optimistic commits that lose to a second engine on the same key space
 * (a write and a transaction body run again), the store's limits (commits split, oversized ones refused with the
 * limit named, nothing half applied), the layout version record, synchronous reads, live feeds across engines, and
 * `check` finding damage.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { createStore, isStowageError, LIMITS, utf8, type Store } from "../src/index.js";
import { OrderedEngine } from "../src/engines/ordered/ordered-engine.js";
import type { OrderedCommit } from "../src/engines/ordered/ordered-store.js";
import { KeyLayout, META_KEY, TAG, writeNumber } from "../src/engines/ordered/key-layout.js";
import { LAYOUT_VERSION } from "../src/engines/ordered/ordered-ops.js";
import { SortedKeySpace, SortedOrderedStore, type SortedStoreOptions } from "./helpers/sorted-ordered-store.js";

const bytes = (text: string) => new TextEncoder().encode(text);

/** A sorted store that records every commit it is asked for. */
class RecordingStore extends SortedOrderedStore {
  readonly commits: OrderedCommit[] = [];
  override commit(commit: OrderedCommit): Promise<boolean> {
    this.commits.push(commit);
    return super.commit(commit);
  }
}

async function withStore(options: SortedStoreOptions, body: (store: Store, ordered: RecordingStore, engine: OrderedEngine) => Promise<void>, space = new SortedKeySpace()): Promise<void> {
  const ordered = new RecordingStore(space, options);
  const engine = await OrderedEngine.open(ordered);
  const store = createStore(engine, { sweepIntervalMs: 0 });
  try {
    await body(store, ordered, engine);
  } finally {
    await store.close();
  }
}

test("group commit: writes that arrive while a commit is in flight share the next one; a refusal among them leaves the others", async () => {
  await withStore({}, async (store, ordered) => {
    const queue = store.queue("q", { maxLen: 1, overflow: "reject", codec: utf8 });
    const kv = store.kv("k", { codec: utf8 });
    await queue.push("full", "first");
    const before = ordered.commits.length;
    // The first write commits alone; the three issued while its commit is in flight wait and go in one commit together.
    const first = kv.put("a", "1");
    await new Promise((resolve) => setImmediate(resolve));
    const results = await Promise.allSettled([first, kv.put("b", "2"), queue.push("full", "second"), kv.put("c", "3")]);
    assert.deepEqual(
      results.map((r) => r.status),
      ["fulfilled", "fulfilled", "rejected", "fulfilled"],
    );
    const refusal = (results[2] as PromiseRejectedResult).reason;
    assert.ok(isStowageError(refusal, "LIMIT_EXCEEDED") && /queue is full/.test(refusal.message));
    assert.equal(ordered.commits.length - before, 2, "four writes, two commits");
    assert.deepEqual(await kv.list().then((page) => page.entries.map((item) => [item.key, item.value])), [["a", "1"], ["b", "2"], ["c", "3"]]);
    assert.equal(await queue.len("full"), 1);
    assert.deepEqual((await store.check()).problems, []);
  });
});

test("a write that loses its commit to another engine on the same key space runs again: of two CAS with one expectation, one wins", async () => {
  const space = new SortedKeySpace();
  const other = createStore(await OrderedEngine.open(new SortedOrderedStore(space)), { sweepIntervalMs: 0 });
  let interleaved = false;
  const options: SortedStoreOptions = {
    // Just before this engine's first commit is checked, the other engine's CAS on the same slot commits.
    beforeCommit: async () => {
      if (interleaved) return;
      interleaved = true;
      assert.equal(await other.slot("s", { codec: utf8 }).cas("slot", 0, "theirs"), true);
    },
  };
  try {
    await withStore(
      options,
      async (store, ordered) => {
        const won = await store.slot("s", { codec: utf8 }).cas("slot", 0, "ours");
        assert.equal(won, false, "the rerun saw the other engine's version");
        assert.equal(ordered.conflicts, 1);
        assert.deepEqual(await store.slot("s", { codec: utf8 }).get("slot"), { version: 1, value: "theirs" });
      },
      space,
    );
  } finally {
    await other.close();
  }
});

test("a transaction whose commit finds a read changed by another engine fails as a serialization failure, and the store runs its body again", async () => {
  const space = new SortedKeySpace();
  const other = createStore(await OrderedEngine.open(new SortedOrderedStore(space)), { sweepIntervalMs: 0 });
  let interleaved = false;
  const options: SortedStoreOptions = {
    beforeCommit: async () => {
      if (interleaved) return;
      interleaved = true;
      await other.kv("acct", { codec: utf8 }).put("balance", "50");
    },
  };
  try {
    await withStore(
      options,
      async (store, ordered) => {
        await store.kv("acct", { codec: utf8 }).put("balance", "100"); // the first commit: the other engine writes before it is checked
        interleaved = false;
        let runs = 0;
        await store.transaction(async (tx) => {
          runs += 1;
          const balance = Number(await tx.kv("acct", { codec: utf8 }).get("balance"));
          await tx.kv("acct", { codec: utf8 }).put("balance", String(balance - 10));
          await tx.log("audit", { codec: utf8 }).append("acct", `debited 10 from ${balance}`);
        });
        assert.equal(runs, 2, "the body ran again after the conflict");
        assert.ok(ordered.conflicts >= 1);
        assert.equal(await store.kv("acct", { codec: utf8 }).get("balance"), "40");
        assert.deepEqual((await store.log("audit", { codec: utf8 }).list("acct")).map((e) => e.value), ["debited 10 from 50"]);
      },
      space,
    );
  } finally {
    await other.close();
  }
});

test("a refusal inside a transaction leaves nothing of the failed call, and the body may go on and commit", async () => {
  await withStore({}, async (store) => {
    await store.stream("st").produce("sp", "seg", [{ value: bytes("x") }]);
    await store.queue("q").push("full", bytes("first"));
    await store.transaction(async (tx) => {
      await tx.kv("k").put("before", bytes("1"));
      await assert.rejects(tx.stream("st").produce("sp", "seg", [{ value: bytes("y") }], { expectedSeq: 0 }), (e: unknown) => isStowageError(e, "CONFLICT"));
      await assert.rejects(tx.queue("q", { maxLen: 1, overflow: "reject" }).push("full", bytes("z")), (e: unknown) => isStowageError(e, "LIMIT_EXCEEDED"));
      await tx.kv("k").put("after", bytes("2"));
    });
    assert.deepEqual((await store.kv("k").list()).entries.map((i) => i.key), ["after", "before"]);
    assert.equal((await store.stream("st").status("sp", "seg")).lastSeq, 1);
    assert.deepEqual((await store.queue("q").peek("full")).map((item) => item.value), [bytes("first")]);
    assert.deepEqual((await store.check()).problems, []);
  });
});

test("limits: the manifest keeps transactions within maxWritesPerCommit; a group commit is split to stay within it; one call making more records is refused alone", async () => {
  await withStore({ limits: { maxWritesPerCommit: 10 } }, async (store, ordered, engine) => {
    // A write makes up to 5 records: a transaction of 2 writes always fits a commit of 10.
    assert.equal(engine.supports.limits.maxTransactionWrites, 2);
    const kv = store.kv("k", { codec: utf8 });
    await Promise.all(Array.from({ length: 40 }, (_, i) => kv.put(`key${String(i).padStart(2, "0")}`, "v")));
    assert.equal((await kv.list()).entries.length, 40);
    assert.ok(ordered.commits.every((c) => c.writes.length <= 10), `commit sizes ${ordered.commits.map((c) => c.writes.length).join(",")}`);
    const before = ordered.commits.length;
    await assert.rejects(
      store.transaction(async (tx) => {
        for (let i = 0; i < 3; i++) await tx.kv("k", { codec: utf8 }).put(`t${i}`, "v");
      }),
      (e: unknown) => isStowageError(e, "LIMIT_EXCEEDED") && /maxTransactionWrites/.test(e.message) && /\b2\b/.test(e.message),
    );
    // One call whose records pass the commit limit (a delete of 40 entries) is refused by the family, naming it.
    const [removal, beside] = await Promise.allSettled([kv.deleteRange({}), kv.put("beside", "v")]);
    assert.ok(removal?.status === "rejected" && isStowageError(removal.reason, "LIMIT_EXCEEDED") && /maxWritesPerCommit/.test(removal.reason.message) && /\b10\b/.test(removal.reason.message), String(removal));
    assert.equal(beside?.status, "fulfilled");
    assert.equal(ordered.commits.length, before + 1, "only the other write committed");
    assert.equal((await kv.list({ prefix: "t" })).entries.length, 0);
    assert.equal((await kv.list()).entries.length, 41);
  });
});

test("limits: the manifest keeps values and transactions within maxBytesPerCommit; one call writing more bytes is refused alone; keys beyond the store's limit are refused", async () => {
  await withStore({ limits: { maxBytesPerCommit: 4_000, maxKeyBytes: 120, maxValueBytes: 4_000 } }, async (store, ordered, engine) => {
    // Half the commit for a write's two copies (a KV put with history), half of that for a value.
    assert.deepEqual({ ...engine.supports.limits, maxKeyBytes: 0 }, { maxKeyBytes: 0, maxValueBytes: 500, maxTransactionWrites: LIMITS.maxTransactionWrites, maxTransactionBytes: 1_000 });
    const kv = store.kv("k");
    await assert.rejects(kv.put("big", new Uint8Array(501)), (e: unknown) => isStowageError(e, "LIMIT_EXCEEDED") && /maxValueBytes/.test(e.message));
    await assert.rejects(kv.put("k".repeat(200), bytes("v")), (e: unknown) => isStowageError(e, "LIMIT_EXCEEDED") && /maxKeyBytes/.test(e.message) && e.namespace === "k");
    for (let i = 0; i < 300; i++) await kv.put(`entry-number-${String(i).padStart(3, "0")}`, bytes("v"));
    const before = ordered.commits.length;
    // Removing 300 entries writes nothing but 300 keys of over 16 bytes each: over 4,000 bytes in one call.
    const [removal, small] = await Promise.allSettled([kv.deleteRange({}), kv.put("small", bytes("ok"))]);
    assert.ok(removal?.status === "rejected" && isStowageError(removal.reason, "LIMIT_EXCEEDED") && /maxBytesPerCommit/.test(removal.reason.message), String(removal));
    assert.equal(small?.status, "fulfilled");
    assert.equal(ordered.commits.length - before, 1, "only the small write committed");
    assert.equal(await kv.count(), 301);
  });
});

test("open creates the layout record, reopens it, and refuses a newer layout or foreign data with INCOMPATIBLE", async () => {
  const space = new SortedKeySpace();
  await withStore({}, async (store) => void (await store.kv("k").put("a", bytes("1"))), space);
  await withStore({}, async (store) => assert.deepEqual(await store.kv("k").get("a"), bytes("1")), space);

  const newer = new SortedOrderedStore();
  const record = Buffer.alloc(22);
  record.write("stowage-ordered-kv", 0, "latin1");
  record.writeUInt32BE(99, 18);
  await newer.commit({ checks: [], writes: [{ key: META_KEY, value: record }] });
  await assert.rejects(OrderedEngine.open(newer), (e: unknown) => isStowageError(e, "INCOMPATIBLE") && /newer/.test(e.message));

  const foreign = new SortedOrderedStore();
  await foreign.commit({ checks: [], writes: [{ key: bytes("someone else's key"), value: bytes("v") }] });
  await assert.rejects(OrderedEngine.open(foreign), (e: unknown) => isStowageError(e, "INCOMPATIBLE") && /not stowage's/.test(e.message));
  // A refused store is closed with the refusal: no connection left reconnecting, no file left locked.
  assert.throws(() => foreign.snapshot(), /closed/);
  assert.throws(() => newer.snapshot(), /closed/);
});

test("a version-1 store (before work queues) is raised to the current layout version at open, its data kept, by one checked commit", async () => {
  const space = new SortedKeySpace();
  await withStore({}, async (store) => void (await store.kv("k").put("a", bytes("1"))), space);
  // Turn the store back into what stowage wrote before layout version 2.
  const old = new SortedOrderedStore(space);
  const record = (version: number) => {
    const out = Buffer.alloc(22);
    out.write("stowage-ordered-kv", 0, "latin1");
    out.writeUInt32BE(version, 18);
    return out;
  };
  await old.commit({ checks: [], writes: [{ key: META_KEY, value: record(1) }] });
  await old.close();
  await withStore(
    {},
    async (store, ordered) => {
      const upgrade = ordered.commits.filter((commit) => commit.writes.some((write) => Buffer.from(write.key).equals(META_KEY)));
      assert.equal(upgrade.length, 1, "one commit wrote the record");
      assert.deepEqual(upgrade[0]?.checks, [{ kind: "get", key: META_KEY, value: record(1) }], "checked against the version-1 record it read");
      assert.deepEqual(Buffer.from(upgrade[0]?.writes[0]?.value ?? []), record(LAYOUT_VERSION));
      assert.deepEqual(await store.kv("k").get("a"), bytes("1"), "the data stays");
      assert.equal((await store.info()).schemaVersion, LAYOUT_VERSION);
      const pushed = await store.workQueue("w").push("k", bytes("job"));
      assert.equal(pushed.id, 1, "and the upgraded store takes work queues");
    },
    space,
  );
  // Open again: nothing more to raise.
  await withStore({}, async (_store, ordered) => assert.equal(ordered.commits.filter((commit) => commit.writes.some((write) => Buffer.from(write.key).equals(META_KEY))).length, 0), space);
});

test("a version-2 store (every KV entry flagged) is raised to version 3 at open and reads as before; since then a value without deadline is stored bare unless its first byte is a flag", async () => {
  const space = new SortedKeySpace();
  await withStore({}, async (store) => void (await store.kv("other").put("x", bytes("x"))), space);
  const keys = new KeyLayout(1978, "sorted");
  const entry = (key: string) => keys.textKey(TAG.kv, "k", key);
  const flagged = (value: readonly number[], deadline?: number) => {
    const out = Buffer.alloc((deadline === undefined ? 1 : 9) + value.length);
    if (deadline !== undefined) {
      out[0] = 1;
      out.writeDoubleBE(deadline, 1);
    }
    out.set(value, deadline === undefined ? 1 : 9);
    return out;
  };
  const deadline = Date.now() + 3_600_000;
  const indexKey = Buffer.alloc(entry("t").length + 8);
  indexKey[0] = TAG.kvExpiry;
  writeNumber(indexKey, 1, deadline);
  entry("t").copy(indexKey, 9, 1);
  // What version 2 wrote: every entry flagged, also those whose value could now be bare.
  const version2 = Buffer.alloc(22);
  version2.write("stowage-ordered-kv", 0, "latin1");
  version2.writeUInt32BE(2, 18);
  const old = new SortedOrderedStore(space);
  await old.commit({
    checks: [],
    writes: [
      { key: META_KEY, value: version2 },
      { key: entry("plain"), value: flagged([...bytes("plain")]) },
      { key: entry("zero"), value: flagged([0, 5]) },
      { key: entry("empty"), value: flagged([]) },
      { key: entry("t"), value: flagged([...bytes("ttl")], deadline) },
      { key: indexKey, value: new Uint8Array(0) },
    ],
  });
  await old.close();
  const stored = (key: string) => [...(space.rows.find(([, k]) => Buffer.from(k).equals(entry(key)))?.[2] ?? [])];
  await withStore(
    {},
    async (store, _ordered, engine) => {
      assert.equal((await store.info()).schemaVersion, 3);
      const kv = store.kv("k");
      assert.deepEqual(await kv.get("plain"), bytes("plain"));
      assert.deepEqual(await kv.get("zero"), new Uint8Array([0, 5]));
      assert.deepEqual(await kv.get("empty"), new Uint8Array(0));
      assert.deepEqual(await engine.read({ op: "kvGetEntry", args: ["k", "t", Date.now()] }), { value: bytes("ttl"), expiresAt: deadline });
      assert.deepEqual((await kv.list()).entries.map((e) => [e.key, [...e.value]]), [["empty", []], ["plain", [...bytes("plain")]], ["t", [...bytes("ttl")]], ["zero", [0, 5]]]);
      assert.deepEqual((await store.check()).problems, []);
      // Written again: bare when the value's first byte is above 0x01, flagged otherwise.
      for (const [key, value] of [["plain", [...bytes("plain")]], ["zero", [0, 5]], ["one", [1]], ["two", [2]], ["empty", []], ["high", [0xff, 0]]] as const) {
        await kv.put(key, new Uint8Array(value));
        assert.deepEqual([...((await kv.get(key)) as Uint8Array)], value, key);
      }
      await kv.put("t", bytes("ttl2"), { ttlMs: 60_000 });
      assert.deepEqual(stored("plain"), [...bytes("plain")], "a text value is stored bare");
      assert.deepEqual(stored("two"), [2]);
      assert.deepEqual(stored("high"), [0xff, 0]);
      assert.deepEqual(stored("zero"), [0, 0, 5], "a value starting with 0x00 keeps its flag");
      assert.deepEqual(stored("one"), [0, 1]);
      assert.deepEqual(stored("empty"), [0]);
      assert.equal(stored("t")[0], 1, "a value with a deadline keeps its flag and deadline");
      assert.deepEqual((await kv.list()).entries.map((e) => e.key), ["empty", "high", "one", "plain", "t", "two", "zero"]);
      assert.deepEqual((await store.check()).problems, []);
    },
    space,
  );
});

test("reads answer synchronously when the store's snapshots do, and with a promise when they do not", async () => {
  for (const asyncReads of [false, true]) {
    const engine = await OrderedEngine.open(new SortedOrderedStore(undefined, { asyncReads }));
    await engine.write({ op: "kvPut", args: ["k", "a", bytes("v"), null] });
    const answer = engine.read({ op: "kvGet", args: ["k", "a", 0] });
    assert.equal(answer instanceof Promise, asyncReads);
    assert.deepEqual(await answer, bytes("v"));
    const slot = engine.read({ op: "slotGet", args: ["k", "none"] });
    assert.equal(slot instanceof Promise, asyncReads);
    await engine.close();
  }
});

test("live feeds learn of another engine's commits through watchCommits", async () => {
  const space = new SortedKeySpace();
  await withStore(
    {},
    async (store) => {
      const writer = createStore(await OrderedEngine.open(new SortedOrderedStore(space)), { sweepIntervalMs: 0 });
      try {
        const abort = new AbortController();
        const seen: string[] = [];
        const tail = (async () => {
          for await (const entry of store.log("feed", { codec: utf8 }).tail("k", { signal: abort.signal })) {
            seen.push(entry.value);
            if (seen.length === 3) abort.abort();
          }
        })();
        for (const value of ["a", "b", "c"]) await writer.log("feed", { codec: utf8 }).append("k", value);
        await tail;
        assert.deepEqual(seen, ["a", "b", "c"]);
      } finally {
        await writer.close();
      }
    },
    space,
  );
});

test("check finds counters and indexes that disagree with the records", async () => {
  const space = new SortedKeySpace();
  await withStore(
    {},
    async (store, ordered) => {
      await store.log("l").append("k", bytes("1"));
      await store.kv("k").put("t", bytes("1"), { ttlMs: 60_000 });
      await store.queue("q").push("k", bytes("1"));
      assert.deepEqual((await store.check()).problems, []);
      // Damage: remove the expiry index record, the log counter and the queue length record behind the engine's back.
      const doomed = space.rows.filter(([, key]) => [TAG.kvExpiry, TAG.logCounter, TAG.queueLength].includes(key[0] as never)).map(([, key]) => key);
      assert.equal(doomed.length, 3);
      await ordered.commit({ checks: [], writes: doomed.map((key) => ({ key, value: undefined })) });
      const { problems } = await store.check();
      assert.ok(problems.some((p) => /no expiry index record/.test(p)), problems.join("\n"));
      assert.ok(problems.some((p) => /log "l": entries without a counter/.test(p)), problems.join("\n"));
      assert.ok(problems.some((p) => /queue items .* without a length record/.test(p)), problems.join("\n"));
    },
    space,
  );
});

test("derived operations: kvCount pages through keys-only scans past one page, kvGet and streamPeek agree with what they derive from", async () => {
  const engine = await OrderedEngine.open(new SortedOrderedStore());
  try {
    const total = LIMITS.maxPageSize + 57;
    await engine.transaction(async (ops) => {
      for (let i = 0; i < total; i++) await ops.kvPut("c", `k${String(i).padStart(6, "0")}`, bytes("v"), i % 10 === 0 ? 5 : null);
    });
    // Every tenth entry expires at 5: at time 10 they are skipped, before it counted.
    assert.equal(await engine.read({ op: "kvCount", args: ["c", { lowerInclusive: true }, 0] }), total);
    assert.equal(await engine.read({ op: "kvCount", args: ["c", { lowerInclusive: true }, 10] }), total - Math.ceil(total / 10));
    assert.equal(await engine.read({ op: "kvCount", args: ["c", { lower: "k000100", lowerInclusive: false, upper: "k000200" }, 0] }), 99);
    assert.deepEqual(await engine.read({ op: "kvGet", args: ["c", "k000001", 0] }), bytes("v"));
    assert.equal(await engine.read({ op: "kvGet", args: ["c", "k000000", 10] }), undefined, "expired");
    assert.equal(await engine.read({ op: "streamPeek", args: ["s", "sp", "seg"] }), undefined);
    await engine.write({ op: "streamProduce", args: ["s", "sp", "seg", [{ value: bytes("a"), headers: null, compression: null }, { value: bytes("b"), headers: "{}", compression: null }], 7, null] });
    assert.deepEqual(await engine.read({ op: "streamPeek", args: ["s", "sp", "seg"] }), { seq: 2, timestamp: 7, value: bytes("b"), headers: "{}", compression: null });
  } finally {
    await engine.close();
  }
});

test("a put without deadline on a store that verifies each check takes one commit and no read once the namespace is known to have no history; a history started by another engine meanwhile makes it run again, with its change record", async () => {
  const space = new SortedKeySpace();
  await withStore(
    { asyncReads: true, verifiesEachCheck: true },
    async (store, ordered, engine) => {
      const kv = store.kv("p");
      await kv.put("a", bytes("1"));
      const [reads, commits] = [ordered.reads, ordered.commits.length];
      await kv.put("a", bytes("2"));
      await kv.put("b", bytes("3"));
      assert.equal(ordered.reads, reads, "no read for a namespace known to have no history");
      assert.equal(ordered.commits.length, commits + 2);
      // Another engine turns the history on: the presumed absence fails the next commit, which runs again and records.
      const other = await OrderedEngine.open(new SortedOrderedStore(space));
      try {
        await other.write({ op: "kvHistoryStart", args: ["p", 100] });
      } finally {
        await other.close();
      }
      await kv.put("a", bytes("4"));
      await kv.put("b", bytes("5"));
      assert.equal(ordered.conflicts, 1);
      const page = await engine.read({ op: "kvHistoryRead", args: ["p", ["a", "b"], 0, 100] });
      assert.deepEqual(
        page?.changes.map((change) => [change.seq, change.key, Buffer.from(change.value as Uint8Array).toString()]),
        [
          [1, "a", "4"],
          [2, "b", "5"],
        ],
      );
      assert.equal(Buffer.from((await kv.get("a")) as Uint8Array).toString(), "4");
      assert.deepEqual((await store.check()).problems, []);
    },
    space,
  );
});

test("the sweep drops the expiry index records that puts without deadline leave behind, without removing their entries, and still removes the expired entries behind them", async () => {
  const space = new SortedKeySpace();
  let now = 1_000;
  const ordered = new SortedOrderedStore(space, { asyncReads: true, verifiesEachCheck: true });
  const store = createStore(await OrderedEngine.open(ordered), { sweepIntervalMs: 0, clock: () => now });
  try {
    const kv = store.kv("s");
    // 30 entries lose their deadline to a later put without one: their index records stay behind them.
    for (let i = 0; i < 30; i++) await kv.put(`k${i}`, bytes("ttl"), { ttlMs: 10 });
    for (let i = 0; i < 30; i++) await kv.put(`k${i}`, bytes("kept"));
    await kv.put("k0", bytes("longer"), { ttlMs: 100_000 });
    await kv.put("gone", bytes("x"), { ttlMs: 20 });
    const indexRecords = () => space.rows.filter(([, key]) => key[0] === TAG.kvExpiry).length;
    assert.equal(indexRecords(), 32);
    assert.deepEqual((await store.check()).problems, []);
    now += 50;
    assert.equal(await store.sweep(), 1);
    assert.equal(indexRecords(), 1, "the stale records dropped, k0's current one kept");
    assert.equal(await kv.count(), 30);
    assert.equal(Buffer.from((await kv.get("k0")) as Uint8Array).toString(), "longer");
    assert.equal(Buffer.from((await kv.get("k29")) as Uint8Array).toString(), "kept");
    assert.equal(await kv.get("gone"), undefined);
    assert.deepEqual((await store.check()).problems, []);
    now += 100_000;
    assert.equal(await store.sweep(), 1);
    assert.equal(indexRecords(), 0);
    assert.equal(await kv.count(), 29);
  } finally {
    await store.close();
  }
});
