/**
 * The contract suite of {@link OrderedStore}: what any ordered key space must do for the ordered-KV family to be
 * correct on it. Register it with a test runner's `describe` and `it` (node:test, vitest and mocha all fit):
 *
 * @example
 * ```ts
 * import { describe, it } from "node:test";
 * runOrderedStoreCases("lmdb", { describe, it }, async () => {
 *   const dir = mkdtempSync(join(tmpdir(), "lmdb-"));
 *   const open = () => openLmdbStore({ path: join(dir, "data.lmdb") });
 *   return { store: await open(), reopen: open, dispose: async () => rmSync(dir, { recursive: true }) };
 * });
 * ```
 */
import assert from "node:assert/strict";
import type { Awaitable } from "../engine.js";
import type { OrderedCheck, OrderedEntry, OrderedSnapshot, OrderedStore, OrderedWrite } from "./ordered-store.js";

/** The runner's test functions. */
export interface OrderedStoreRunner {
  describe(name: string, body: () => void): unknown;
  it(name: string, body: () => Promise<void>): unknown;
}

/** A store on a fresh location of its own, opened for one case. */
export interface OrderedStoreSubject {
  store: OrderedStore;
  /** Opens the same location again (after the case closed `store`). */
  reopen(): Promise<OrderedStore>;
  /** Removes the location; called after the case, whatever it did, with the store closed. */
  dispose(): Promise<void>;
}

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);
const text = (value: string): Uint8Array => new Uint8Array(Buffer.from(value, "latin1"));
const hex = (value: Uint8Array): string => Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("hex");
const put = (key: Uint8Array, value: Uint8Array): OrderedWrite => ({ key, value });
const del = (key: Uint8Array): OrderedWrite => ({ key, value: undefined });

/** A start below every key (LMDB refuses the empty key, so none is ever stored) and an end above every key used here. */
const LOWEST = bytes(0);
const HIGHEST = new Uint8Array(16).fill(0xff);

/** Keys whose byte order differs from every other order a store could wrongly use (signed bytes, length first, text). */
const ORDER_KEYS: readonly Uint8Array[] = [
  bytes(0x00),
  bytes(0x00, 0x00),
  bytes(0x00, 0xff),
  bytes(0x01),
  bytes(0x7f),
  bytes(0x7f, 0xff, 0xff),
  bytes(0x80),
  bytes(0xc3, 0xa9),
  bytes(0xfe),
  bytes(0xff),
  bytes(0xff, 0x00),
  bytes(0xff, 0xff),
  text("a"),
  text("a\u0000"),
  text("ab"),
  text("b"),
  text("B"),
];

const SORTED = [...ORDER_KEYS].sort((a, b) => Buffer.compare(a, b));

async function commitAll(store: OrderedStore, writes: readonly OrderedWrite[], checks: readonly OrderedCheck[] = []): Promise<boolean> {
  return store.commit({ checks, writes });
}

/** Commits `writes` in as few commits as the store's `maxWritesPerCommit` allows (etcd: 127), in order. */
async function commitInParts(store: OrderedStore, writes: readonly OrderedWrite[]): Promise<boolean> {
  const size = store.limits.maxWritesPerCommit ?? writes.length;
  for (let i = 0; i < writes.length; i += size) if (!(await commitAll(store, writes.slice(i, i + size)))) return false;
  return true;
}

async function read<T>(store: OrderedStore, body: (snapshot: OrderedSnapshot) => T | Promise<T>): Promise<T> {
  const snapshot = await store.snapshot();
  try {
    return await body(snapshot);
  } finally {
    snapshot.release();
  }
}

/** Keys and values as hex, copied (entries may be views valid only until release). */
async function rangeHex(snapshot: OrderedSnapshot, start: Uint8Array, end: Uint8Array, options?: { limit?: number; reverse?: boolean }): Promise<string[][]> {
  return (await snapshot.range(start, end, options)).map(([key, value]) => [hex(key), hex(value)]);
}

async function getHex(snapshot: OrderedSnapshot, key: Uint8Array): Promise<string | undefined> {
  const value = await snapshot.get(key);
  return value === undefined ? undefined : hex(value);
}

async function allKeys(store: OrderedStore): Promise<string[]> {
  return read(store, async (s) => (await s.range(LOWEST, HIGHEST)).map(([key]) => hex(key)));
}

/**
 * Whether the store reads the latest data rather than a fixed point (Redis, see `OrderedSnapshot.consistent`): then
 * a snapshot's point is that of its first read, and it must say when a commit landed between two of its reads.
 */
function withoutSnapshotReads(snapshot: OrderedSnapshot): snapshot is OrderedSnapshot & { consistent(): Awaitable<boolean> } {
  return snapshot.consistent !== undefined;
}

/** Registers the contract cases for the store that `open` opens (a fresh, empty location per case). */
export function runOrderedStoreCases(name: string, runner: OrderedStoreRunner, open: () => Promise<OrderedStoreSubject>): void {
  const { describe, it } = runner;

  /** Runs `body` on a fresh store, closing it (unless the body did) and removing its location afterwards. */
  const withStore = (title: string, body: (store: OrderedStore, subject: OrderedStoreSubject) => Promise<void>) =>
    it(title, async () => {
      const subject = await open();
      let current: OrderedStore | undefined = subject.store;
      try {
        await body(subject.store, {
          ...subject,
          reopen: async () => {
            current = await subject.reopen();
            return current;
          },
        });
      } finally {
        try {
          if (current !== undefined) await current.close().catch(() => undefined);
        } finally {
          await subject.dispose();
        }
      }
    });

  describe(`OrderedStore contract: ${name}`, () => {
    withStore("declares its name, location and limits", async (store) => {
      assert.equal(typeof store.name, "string");
      assert.ok(store.name.length > 0);
      assert.ok(store.location.length > 0);
      assert.ok(Number.isInteger(store.limits.maxKeyBytes) && store.limits.maxKeyBytes >= 1024, "keys of stowage's 1,024 bytes plus the family's prefix fit");
      assert.ok(store.limits.maxValueBytes >= 1_048_576 + 64, "values of stowage's 1 MiB plus the family's header fit");
      assert.equal(typeof store.singleWriter, "boolean");
    });

    withStore("a new store is empty", async (store) => {
      assert.deepEqual(await allKeys(store), []);
      assert.equal(await read(store, (s) => s.get(bytes(1))), undefined);
    });

    withStore("keys are ordered bytewise: unsigned bytes, a shorter prefix first, 0x00 and 0xff like any byte", async (store) => {
      // Committed in an order that is none of the orders checked.
      const shuffled = [...ORDER_KEYS].reverse().sort((a, b) => a.length - b.length);
      assert.equal(await commitAll(store, shuffled.map((key, i) => put(key, bytes(i)))), true);
      const expected = SORTED.map(hex);
      assert.deepEqual(await allKeys(store), expected);
      const reversed = await read(store, async (s) => (await s.range(LOWEST, HIGHEST, { reverse: true })).map(([key]) => hex(key)));
      assert.deepEqual(reversed, [...expected].reverse());
    });

    withStore("get finds exactly its key: not a prefix, not an extension", async (store) => {
      await commitAll(store, [put(text("ab"), text("v-ab")), put(bytes(0x00), bytes(0xff)), put(bytes(0xff), bytes(0x00))]);
      await read(store, async (s) => {
        assert.equal(await getHex(s, text("ab")), hex(text("v-ab")));
        assert.equal(await getHex(s, text("a")), undefined);
        assert.equal(await getHex(s, text("abc")), undefined);
        assert.equal(await getHex(s, text("ab\u0000")), undefined);
        assert.equal(await getHex(s, bytes(0x00)), "ff");
        assert.equal(await getHex(s, bytes(0xff)), "00");
        assert.equal(await getHex(s, bytes(0x00, 0x00)), undefined);
      });
    });

    withStore("an empty value is a value, not an absence", async (store) => {
      await commitAll(store, [put(text("empty"), new Uint8Array(0))]);
      await read(store, async (s) => {
        const value = await s.get(text("empty"));
        assert.ok(value instanceof Uint8Array, "an empty value reads back as zero bytes");
        assert.equal(value.length, 0);
        assert.deepEqual(await rangeHex(s, text("e"), text("f")), [[hex(text("empty")), ""]]);
      });
    });

    withStore("range: start included, end excluded, limit, reverse from the end", async (store) => {
      await commitAll(store, ["a", "b", "c", "d", "e"].map((k) => put(text(k), text(k.toUpperCase()))));
      await read(store, async (s) => {
        const keys = async (start: string, end: string, options?: { limit?: number; reverse?: boolean }) =>
          (await s.range(text(start), text(end), options)).map(([key]) => Buffer.from(key).toString("latin1")).join("");
        assert.equal(await keys("b", "d"), "bc");
        assert.equal(await keys("b", "d", { reverse: true }), "cb");
        assert.equal(await keys("a", "z", { limit: 2 }), "ab");
        assert.equal(await keys("a", "z", { limit: 2, reverse: true }), "ed");
        assert.equal(await keys("b", "e", { limit: 10, reverse: true }), "dcb");
        assert.equal(await keys("bb", "dd"), "cd");
        assert.equal(await keys("bb", "dd", { reverse: true }), "dc");
        assert.equal(await keys("a", "a"), "", "an empty range");
        assert.equal(await keys("d", "b"), "", "start after end is an empty range");
        assert.equal(await keys("d", "b", { reverse: true }), "");
        assert.equal(await keys("a", "z", { limit: 0 }), "", "limit 0");
        assert.deepEqual(await rangeHex(s, text("c"), text("c\u0000")), [[hex(text("c")), hex(text("C"))]]);
      });
    });

    withStore("a snapshot keeps its point in time: later puts, overwrites and deletes are not seen (without snapshot reads: it says when a commit tore it)", async (store) => {
      await commitAll(store, [put(text("k1"), text("old")), put(text("k2"), text("gone-later"))]);
      const before = await store.snapshot();
      try {
        assert.equal(await commitAll(store, [put(text("k1"), text("new")), del(text("k2")), put(text("k3"), text("added"))]), true);
        if (withoutSnapshotReads(before)) {
          // Its point is its first read's, and it says so when a commit lands between two of its reads.
          assert.equal(await getHex(before, text("k1")), hex(text("new")));
          assert.equal(await getHex(before, text("k2")), undefined);
          assert.deepEqual((await rangeHex(before, text("k"), text("l"))).map(([key]) => key), [hex(text("k1")), hex(text("k3"))]);
          assert.equal(await before.consistent(), true, "no commit landed between its reads");
          await commitAll(store, [put(text("k1"), text("newer"))]);
          await getHex(before, text("k3"));
          assert.equal(await before.consistent(), false, "a commit landed between two of its reads");
          return;
        }
        assert.equal(await getHex(before, text("k1")), hex(text("old")));
        assert.equal(await getHex(before, text("k2")), hex(text("gone-later")));
        assert.equal(await getHex(before, text("k3")), undefined);
        assert.deepEqual(
          (await rangeHex(before, text("k"), text("l"))).map(([key]) => key),
          [hex(text("k1")), hex(text("k2"))],
        );
        // Still the same after time passes and more commits land.
        await new Promise((resolve) => setTimeout(resolve, 20));
        await commitAll(store, [put(text("k1"), text("newer"))]);
        assert.equal(await getHex(before, text("k1")), hex(text("old")));
      } finally {
        before.release();
      }
      await read(store, async (s) => {
        assert.equal(await getHex(s, text("k1")), hex(text("newer")));
        assert.equal(await getHex(s, text("k2")), undefined);
        assert.equal(await getHex(s, text("k3")), hex(text("added")));
      });
    });

    withStore("snapshots open across several commits each keep their own point, released in any order", async (store) => {
      const snapshots: OrderedSnapshot[] = [];
      try {
        for (let i = 0; i < 4; i++) {
          // Two snapshots of each point, and one commit between points (the last point has no commit after it).
          snapshots.push(await store.snapshot(), await store.snapshot());
          if (i < 3) await commitAll(store, [put(text("n"), bytes(i)), put(text(`only-${i}`), bytes(i))]);
        }
        snapshots[2]!.release(); // one of the pair of point 1 goes early; its twin must still read point 1
        for (let point = 0; point < 4; point++) {
          const snapshot = snapshots[point * 2 + 1]!;
          if (withoutSnapshotReads(snapshot)) {
            // Each reads the latest data at its first read, and no commit lands between its reads.
            assert.equal(await getHex(snapshot, text("n")), hex(bytes(2)), `point ${point}`);
            assert.equal((await snapshot.range(text("only-"), text("only.")))?.length, 3, `point ${point}`);
            assert.equal(await snapshot.consistent(), true, `point ${point}`);
            continue;
          }
          assert.equal(await getHex(snapshot, text("n")), point === 0 ? undefined : hex(bytes(point - 1)), `point ${point}`);
          assert.equal((await snapshot.range(text("only-"), text("only.")))?.length, point, `point ${point}`);
        }
      } finally {
        for (const [i, snapshot] of snapshots.entries()) if (i !== 2) snapshot.release();
      }
    });

    withStore("a range read started before a commit returns that moment's entries", async (store) => {
      await commitInParts(store, Array.from({ length: 200 }, (_, i) => put(text(`p/${String(i).padStart(3, "0")}`), text("before"))));
      const snapshot = await store.snapshot();
      try {
        const ranged = snapshot.range(text("p/"), text("p0"));
        const committed = commitInParts(store, Array.from({ length: 200 }, (_, i) => put(text(`p/${String(i).padStart(3, "0")}`), text("after"))));
        const entries = await ranged;
        await committed;
        assert.equal(entries.length, 200);
        // A store reading the latest data may see commits that landed during the range, and must say so.
        if (withoutSnapshotReads(snapshot) && !(await snapshot.consistent())) return;
        assert.ok(entries.every(([, value]) => hex(value) === hex(text("before"))), "every entry of the one moment");
      } finally {
        snapshot.release();
      }
    });

    withStore("a snapshot taken after a commit resolved sees it", async (store) => {
      for (let i = 0; i < 20; i++) {
        await commitAll(store, [put(text("counter"), bytes(i))]);
        assert.equal(await read(store, (s) => getHex(s, text("counter"))), hex(bytes(i)));
      }
    });

    withStore("a commit applies all its writes in order: a put then a delete of one key deletes it", async (store) => {
      assert.equal(
        await commitAll(store, [put(text("x"), text("1")), del(text("x")), del(text("y")), put(text("y"), text("2")), put(text("z"), text("3")), put(text("z"), text("4"))]),
        true,
      );
      await read(store, async (s) => {
        assert.equal(await getHex(s, text("x")), undefined);
        assert.equal(await getHex(s, text("y")), hex(text("2")));
        assert.equal(await getHex(s, text("z")), hex(text("4")));
      });
    });

    withStore("deletes: of a present key removes it from gets and ranges; of an absent key is no error", async (store) => {
      await commitAll(store, [put(text("a"), text("1")), put(text("b"), text("2")), put(text("c"), text("3"))]);
      assert.equal(await commitAll(store, [del(text("b")), del(text("never"))]), true);
      assert.deepEqual(await allKeys(store), [hex(text("a")), hex(text("c"))]);
      assert.equal(await commitAll(store, [del(text("a")), del(text("c"))]), true);
      assert.deepEqual(await allKeys(store), []);
    });

    withStore("checks that hold: the commit applies and resolves true", async (store) => {
      await commitAll(store, [put(text("acct/1"), text("10")), put(text("acct/2"), text("20"))]);
      const snapshot = await store.snapshot();
      const value = await snapshot.get(text("acct/1"));
      const entries = copyEntries(await snapshot.range(text("acct/"), text("acct0")));
      snapshot.release();
      const ok = await commitAll(
        store,
        [put(text("acct/1"), text("9")), put(text("acct/3"), text("1"))],
        [
          { kind: "get", key: text("acct/1"), value: value === undefined ? undefined : new Uint8Array(value) },
          { kind: "get", key: text("absent"), value: undefined },
          { kind: "range", start: text("acct/"), end: text("acct0"), options: {}, entries },
        ],
      );
      assert.equal(ok, true);
      assert.deepEqual(await allKeys(store), ["acct/1", "acct/2", "acct/3"].map((k) => hex(text(k))));
    });

    withStore("a failed point check applies nothing and resolves false", async (store) => {
      await commitAll(store, [put(text("k"), text("v1"))]);
      const writes = [put(text("k"), text("mine")), put(text("other"), text("x")), del(text("k"))];
      assert.equal(await commitAll(store, writes, [{ kind: "get", key: text("k"), value: text("v0") }]), false, "a different value");
      assert.equal(await commitAll(store, writes, [{ kind: "get", key: text("k"), value: text("v") }]), false, "a prefix of the value");
      assert.equal(await commitAll(store, writes, [{ kind: "get", key: text("k"), value: undefined }]), false, "absent expected, present found");
      assert.equal(await commitAll(store, writes, [{ kind: "get", key: text("nope"), value: text("v1") }]), false, "present expected, absent found");
      assert.equal(
        await commitAll(store, writes, [
          { kind: "get", key: text("k"), value: text("v1") },
          { kind: "get", key: text("nope"), value: text("") },
        ]),
        false,
        "one holding check and one failing (an empty value is not absence)",
      );
      await read(store, async (s) => {
        assert.equal(await getHex(s, text("k")), hex(text("v1")));
        assert.equal(await getHex(s, text("other")), undefined);
      });
    });

    withStore("a failed range check applies nothing and resolves false: a key added, removed or changed inside the range", async (store) => {
      await commitAll(store, [put(text("r/a"), text("1")), put(text("r/c"), text("3")), put(text("s"), text("outside"))]);
      const recorded = await read(store, async (s) => copyEntries(await s.range(text("r/"), text("r0"))));
      const check: OrderedCheck = { kind: "range", start: text("r/"), end: text("r0"), options: {}, entries: recorded };
      const writes = [put(text("written"), text("w"))];
      // A change outside the range leaves the check holding.
      await commitAll(store, [put(text("s"), text("changed")), put(text("r0"), text("just past the end"))]);
      assert.equal(await commitAll(store, [], [check]), true);
      for (const change of [[put(text("r/b"), text("2"))], [del(text("r/a"))], [put(text("r/c"), text("33"))]]) {
        await commitAll(store, change);
        assert.equal(await commitAll(store, writes, [check]), false, `after ${JSON.stringify(change.map((w) => Buffer.from(w.key).toString()))}`);
        // Put the range back the way it was recorded.
        await commitAll(store, [del(text("r/b")), put(text("r/a"), text("1")), put(text("r/c"), text("3"))]);
      }
      assert.equal(await read(store, (s) => getHex(s, text("written"))), undefined);
    });

    withStore("a range check covers only what its limit and direction read", async (store) => {
      await commitAll(store, ["a", "b", "c", "d"].map((k) => put(text(`q/${k}`), text(k))));
      const firstTwo = await read(store, async (s) => copyEntries(await s.range(text("q/"), text("q0"), { limit: 2 })));
      const lastOne = await read(store, async (s) => copyEntries(await s.range(text("q/"), text("q0"), { limit: 1, reverse: true })));
      const checks: OrderedCheck[] = [
        { kind: "range", start: text("q/"), end: text("q0"), options: { limit: 2 }, entries: firstTwo },
        { kind: "range", start: text("q/"), end: text("q0"), options: { limit: 1, reverse: true }, entries: lastOne },
      ];
      await commitAll(store, [put(text("q/c"), text("changed"))]); // inside the range, read by neither check
      assert.equal(await commitAll(store, [put(text("ok"), text("1"))], checks), true);
      await commitAll(store, [put(text("q/e"), text("e"))]); // becomes the last entry: the reverse check fails
      assert.equal(await commitAll(store, [put(text("ok"), text("2"))], checks), false);
      assert.equal(await read(store, (s) => getHex(s, text("ok"))), hex(text("1")));
    });

    withStore("concurrent commits checking one key: exactly one applies", async (store) => {
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => commitAll(store, [put(text("lock"), bytes(i))], [{ kind: "get", key: text("lock"), value: undefined }])),
      );
      assert.equal(results.filter((r) => r).length, 1, `results: ${results.join(",")}`);
      const winner = results.indexOf(true);
      assert.equal(await read(store, (s) => getHex(s, text("lock"))), hex(bytes(winner)));
    });

    withStore("concurrent commits without checks all apply, in call order per key", async (store) => {
      const results = await Promise.all(Array.from({ length: 16 }, (_, i) => commitAll(store, [put(text(`k${i % 4}`), bytes(i)), put(text(`own${i}`), bytes(i))])));
      assert.deepEqual(results, Array(16).fill(true));
      await read(store, async (s) => {
        for (let k = 0; k < 4; k++) assert.equal(await getHex(s, text(`k${k}`)), hex(bytes(12 + k)));
        assert.equal((await s.range(text("own"), text("own~"))).length, 16);
      });
    });

    withStore("values read are the caller's: intact after release, later reads and commits", async (store) => {
      await commitAll(store, [put(text("a"), text("first-a")), put(text("b"), text("first-b"))]);
      const snapshot = await store.snapshot();
      const got = await snapshot.get(text("a"));
      const ranged = await snapshot.range(text("a"), text("c"));
      const kept = { got: got === undefined ? undefined : new Uint8Array(got), ranged: copyEntries(ranged) };
      snapshot.release();
      await commitAll(store, [put(text("a"), text("SECOND-A")), put(text("b"), text("SECOND-B")), put(text("c"), text("c"))]);
      await read(store, async (s) => {
        await s.get(text("b"));
        await s.range(text("a"), text("d"));
      });
      // Views may be handed out, but a copy taken before release must be the values of that snapshot.
      assert.equal(hex(kept.got!), hex(text("first-a")));
      assert.deepEqual(kept.ranged.map(([k, v]) => [hex(k), hex(v)]), [[hex(text("a")), hex(text("first-a"))], [hex(text("b")), hex(text("first-b"))]]);
    });

    withStore("the store keeps its own copy of what was written: the caller's buffers may change after commit", async (store) => {
      const key = text("mutable");
      const value = text("original");
      await commitAll(store, [put(key, value)]);
      value.fill(0x21);
      key.fill(0x21);
      await read(store, async (s) => {
        assert.equal(await getHex(s, text("mutable")), hex(text("original")));
        assert.equal(await getHex(s, key), undefined);
      });
    });

    withStore("keys up to the declared key limit and values of 1 MiB round-trip", async (store) => {
      const keyBytes = Math.min(store.limits.maxKeyBytes, 8192);
      const longKey = new Uint8Array(keyBytes).map((_, i) => (i * 31 + 7) & 0xff);
      const bigValue = new Uint8Array(1_048_576 + 64).map((_, i) => (i * 13) & 0xff);
      assert.equal(await commitAll(store, [put(longKey, text("long key")), put(text("big"), bigValue)]), true);
      await read(store, async (s) => {
        assert.equal(await getHex(s, longKey), hex(text("long key")));
        const back = await s.get(text("big"));
        assert.ok(back !== undefined && Buffer.compare(back, bigValue) === 0, "the 1 MiB value reads back unchanged");
      });
    });

    withStore("many keys: ranges page through them in order", async (store) => {
      const keys = Array.from({ length: 2000 }, (_, i) => text(`n/${String(i).padStart(5, "0")}`));
      for (let i = 0; i < keys.length; i += 500) assert.equal(await commitInParts(store, keys.slice(i, i + 500).map((key) => put(key, key))), true);
      await read(store, async (s) => {
        let start = text("n/");
        let seen = 0;
        for (let page = 0; page < 100; page++) {
          const entries = await s.range(start, text("n0"), { limit: 128 });
          if (entries.length === 0) break;
          for (const [key, value] of entries) {
            assert.equal(hex(key), hex(keys[seen]!));
            assert.equal(hex(value), hex(keys[seen]!));
            seen += 1;
          }
          start = Uint8Array.from([...entries[entries.length - 1]![0], 0]);
        }
        assert.equal(seen, keys.length);
      });
    });

    withStore("close keeps what was committed: the location reopens with the data", async (store, subject) => {
      await commitAll(store, [put(text("durable"), text("yes")), put(bytes(0xff, 0x00), bytes(0x00))]);
      await store.close();
      const again = await subject.reopen();
      assert.deepEqual(await allKeys(again), [hex(text("durable")), hex(bytes(0xff, 0x00))]);
      assert.equal(await read(again, (s) => getHex(s, text("durable"))), hex(text("yes")));
    });

    withStore("pointRead, when given, reads as a snapshot taken at the call: every commit before it, also while snapshots are held", async (store) => {
      if (store.pointRead === undefined) return;
      const pointRead = store.pointRead.bind(store);
      const readTagged = (key: Uint8Array): string | undefined => pointRead(key, (found, tag: string) => (found === undefined ? undefined : `${tag}${hex(found)}`), "v:");
      assert.equal(readTagged(text("absent")), undefined);
      assert.equal(await commitAll(store, [put(text("k"), text("first"))]), true);
      assert.equal(readTagged(text("k")), `v:${hex(text("first"))}`, "the value found, and the argument handed through");
      // More snapshots held across commits than LMDB keeps read transactions of its own.
      const held: OrderedSnapshot[] = [];
      try {
        for (let round = 0; round < 6; round++) {
          held.push(await store.snapshot());
          assert.equal(await commitAll(store, [put(text("k"), text(`round ${round}`))]), true);
          assert.equal(readTagged(text("k")), `v:${hex(text(`round ${round}`))}`, `round ${round}: the commit before the read is seen`);
        }
        assert.equal(await getHex(held[0]!, text("k")), hex(text("first")), "a held snapshot keeps its point in time");
      } finally {
        for (const snapshot of held) snapshot.release();
      }
      // A failing reader leaves nothing held: the reads after it still see the latest commit.
      for (let round = 0; round < 6; round++) {
        assert.throws(() => pointRead(text("k"), () => { throw new Error("the reader failed"); }, 0), /the reader failed/);
      }
      assert.equal(await commitAll(store, [put(text("k"), text("last"))]), true);
      assert.equal(readTagged(text("k")), `v:${hex(text("last"))}`);
    });

    withStore("facts, when given, are plain numbers, strings and booleans", async (store) => {
      if (store.facts === undefined) return;
      const facts = await store.facts();
      for (const [name, value] of Object.entries(facts)) assert.ok(["number", "string", "boolean"].includes(typeof value), `fact ${name}`);
    });

    withStore("check, when given, finds nothing wrong in a store it wrote", async (store) => {
      if (store.check === undefined) return;
      await commitAll(store, ORDER_KEYS.map((key) => put(key, key)));
      assert.deepEqual(await store.check(), []);
    });
  });
}

function copyEntries(entries: readonly OrderedEntry[]): OrderedEntry[] {
  return entries.map(([key, value]) => [new Uint8Array(key), new Uint8Array(value)] as const);
}
