import assert from "node:assert/strict";
import { utf8 } from "../api/codec.js";
import { StowageError } from "../api/errors.js";
import { LIMITS } from "../api/limits.js";
import type { KvChange, LogEntry } from "../api/types.js";
import { MARK, needing, rejectsWith, watchFromNow, type CaseGroup } from "./harness.js";

/** The next `n` items of an iterator. */
async function take<E>(iterator: AsyncIterator<E>, n: number): Promise<E[]> {
  const items: E[] = [];
  while (items.length < n) {
    const next = await iterator.next();
    if (next.done === true) break;
    items.push(next.value);
  }
  return items;
}

const brief = (entries: ReadonlyArray<LogEntry<string>>) => entries.map((e) => `${e.seq}:${e.key}:${e.value}`);

export const feedCases: CaseGroup = {
  "log.tail yields a key's entries committed after its start, in order, and ends when aborted": async ({ store }) => {
    const log = store.log("l", { codec: utf8 });
    await log.append("k", "before");
    const stop = new AbortController();
    const feed = log.tail("k", { since: await log.lastSeq(), signal: stop.signal })[Symbol.asyncIterator]();
    const pending = take(feed, 3);
    await log.append("k", "one");
    await log.append("other", "skipped");
    await log.append("k", "two");
    await store.transaction(async (tx) => {
      await tx.log("l", { codec: utf8 }).append("k", "three");
    });
    assert.deepEqual(brief(await pending), ["2:k:one", "4:k:two", "5:k:three"]);
    stop.abort();
    assert.deepEqual(await feed.next(), { done: true, value: undefined });
  },

  "log.tail of the whole namespace replays from a past sequence, then goes live with no gap at the join": async ({ store }) => {
    const log = store.log("l", { codec: utf8 });
    for (const key of ["a", "b", "a"]) await log.append(key, key);
    const stop = new AbortController();
    const feed = log.tail({ all: true }, { since: 1, signal: stop.signal })[Symbol.asyncIterator]();
    assert.deepEqual(brief(await take(feed, 2)), ["2:b:b", "3:a:a"]);
    const live = take(feed, 2);
    await log.append("c", "c");
    await log.append("a", "a2");
    assert.deepEqual(brief(await live), ["4:c:c", "5:a:a2"]);
    stop.abort();
  },

  "log.tail without since starts at the end; break ends it; closing the store ends every feed": async ({ open }) => {
    const store = await open();
    const log = store.log("l", { codec: utf8 });
    await log.append("k", "old");
    const seen: string[] = [];
    const first = (async () => {
      for await (const entry of log.tail("k")) {
        seen.push(entry.value);
        if (seen.length === 2) break;
      }
    })();
    // Appends keep coming until the feed has started and seen two of them (its start is when iteration begins).
    for (let i = 0; i < 100 && seen.length < 2; i++) {
      await log.append("k", `new${i}`);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await first;
    assert.equal(seen.length, 2);
    assert.ok(!seen.includes("old"), "a tail without since does not replay");
    const waiting = log.tail({ all: true })[Symbol.asyncIterator]();
    const next = waiting.next();
    await store.close();
    assert.deepEqual(await next, { done: true, value: undefined });
  },

  "log.tail refuses bad arguments, and is not available inside a transaction": async ({ store }) => {
    const log = store.log("l");
    assert.throws(() => log.tail(""), /INVALID_ARGUMENT/);
    assert.throws(() => log.tail({ all: false } as never), /INVALID_ARGUMENT/);
    assert.throws(() => log.tail("k", { since: -1 }), /INVALID_ARGUMENT/);
    assert.throws(() => log.tail("k", { signal: {} as AbortSignal }), /INVALID_ARGUMENT/);
    await rejectsWith(
      store.transaction(async (tx) => {
        tx.log("l").tail("k");
      }),
      "INVALID_ARGUMENT",
    );
  },

  "stream.subscribe on a segment yields what commits after its start, in order; a past position replays first": async ({ store }) => {
    const stream = store.stream("s", { codec: utf8 });
    await stream.produce("sp", "g", [{ value: "a" }, { value: "b" }]);
    const stop = new AbortController();
    const fromEnd = stream.subscribe("sp", "g", { from: 2, signal: stop.signal })[Symbol.asyncIterator]();
    const replaying = stream.subscribe("sp", "g", { from: 1, signal: stop.signal })[Symbol.asyncIterator]();
    const live = take(fromEnd, 3);
    await stream.produce("sp", "g", [{ value: "c" }, { value: "d" }]);
    await stream.produce("sp", "other", [{ value: "elsewhere" }]);
    await stream.produce("sp", "g", [{ value: "e", headers: { h: "1" } }]);
    assert.deepEqual(
      (await live).map((e) => [e.seq, e.value, e.headers]),
      [
        [3, "c", undefined],
        [4, "d", undefined],
        [5, "e", { h: "1" }],
      ],
    );
    assert.deepEqual((await take(replaying, 4)).map((e) => e.value), ["b", "c", "d", "e"]);
    stop.abort();
    assert.deepEqual(await fromEnd.next(), { done: true, value: undefined });
  },

  "stream.subscribe on a space yields every segment's new entries, from a per-segment position or the start": async ({ store, clock }) => {
    const stream = store.stream("s", { codec: utf8 });
    await stream.produce("sp", "a", [{ value: "a1" }]);
    await stream.produce("sp", "b", [{ value: "b1" }, { value: "b2" }]);
    const stop = new AbortController();
    const resumed = stream.subscribe("sp", { from: { a: 1, b: 1 }, signal: stop.signal })[Symbol.asyncIterator]();
    const everything = stream.subscribe("sp", { from: "start", signal: stop.signal })[Symbol.asyncIterator]();
    assert.deepEqual((await take(everything, 3)).map((e) => `${e.segment}:${e.seq}`), ["a:1", "b:1", "b:2"]);
    assert.deepEqual((await take(resumed, 1)).map((e) => `${e.segment}:${e.seq}`), ["b:2"]);
    const liveResumed = take(resumed, 3);
    const liveAll = take(everything, 3);
    clock.advance(1);
    await store.transaction(async (tx) => {
      await tx.stream("s", { codec: utf8 }).produce("sp", "c", [{ value: "c1" }]);
      await tx.stream("s", { codec: utf8 }).produce("sp", "a", [{ value: "a2" }]);
    });
    clock.advance(1);
    await stream.produce("sp", "b", [{ value: "b3" }]);
    for (const feed of [await liveResumed, await liveAll]) assert.deepEqual(feed.map((e) => `${e.segment}:${e.seq}:${e.value}`), ["a:2:a2", "c:1:c1", "b:3:b3"]);
    stop.abort();
    assert.deepEqual(await everything.next(), { done: true, value: undefined });
    assert.throws(() => stream.subscribe("sp", { from: 3 } as never), /INVALID_ARGUMENT/);
    assert.throws(() => stream.subscribe("sp", "g", { from: { g: 1 } } as never), /INVALID_ARGUMENT/);
  },

  "every feed refuses a start past the last committed position with INVALID_ARGUMENT, as kv.watch does, and skips nothing": needing(["kvHistory"], async ({ store }) => {
    const log = store.log("l", { codec: utf8 });
    for (const value of ["1", "2", "3"]) await log.append("k", value);
    const stop = new AbortController();
    // Started past the end, a feed would yield only what lands beyond its start and silently skip what lands before;
    // such a feed waits forever here, so a guard ends the wait (far longer than a refusal takes) to fail, not hang.
    const next = async <E>(feed: AsyncIterable<E>): Promise<unknown> => {
      let guard: NodeJS.Timeout | undefined;
      const stuck = new Promise((resolve) => (guard = setTimeout(() => resolve("the feed waited past the end instead of refusing"), 30_000)));
      try {
        const outcome = await Promise.race([feed[Symbol.asyncIterator]().next(), stuck]);
        if (typeof outcome === "string") throw new Error(outcome);
        return outcome;
      } finally {
        clearTimeout(guard);
      }
    };
    await rejectsWith(next(log.tail({ all: true }, { since: 10, signal: stop.signal })), "INVALID_ARGUMENT", "since 10", "last one committed, 3");
    await rejectsWith(next(log.tail("k", { since: 4, signal: stop.signal })), "INVALID_ARGUMENT", "since 4");
    const stream = store.stream("s", { codec: utf8 });
    await stream.produce("sp", "g", [{ value: "a" }, { value: "b" }]);
    await rejectsWith(next(stream.subscribe("sp", "g", { from: 3, signal: stop.signal })), "INVALID_ARGUMENT", "from 3", "g");
    await rejectsWith(next(stream.subscribe("sp", "never", { from: 1, signal: stop.signal })), "INVALID_ARGUMENT", "from 1");
    await rejectsWith(next(stream.subscribe("sp", { from: { g: 3 }, signal: stop.signal })), "INVALID_ARGUMENT", 'from["g"] 3');
    await rejectsWith(next(stream.subscribe("sp", { from: { g: 2, never: 1 }, signal: stop.signal })), "INVALID_ARGUMENT", 'from["never"] 1');
    const kv = store.kv("w", { codec: utf8 });
    await rejectsWith(next(kv.watch(["k"], { since: 5, signal: stop.signal })), "INVALID_ARGUMENT", "since 5");
    // At the end exactly is a valid start: the feed yields what commits next, with no gap.
    const tail = log.tail({ all: true }, { since: 3, signal: stop.signal })[Symbol.asyncIterator]();
    const segment = stream.subscribe("sp", "g", { from: 2, signal: stop.signal })[Symbol.asyncIterator]();
    const space = stream.subscribe("sp", { from: { g: 2, never: 0 }, signal: stop.signal })[Symbol.asyncIterator]();
    const pending = [take(tail, 1), take(segment, 1), take(space, 1)] as const;
    await log.append("k", "4");
    await stream.produce("sp", "g", [{ value: "c" }]);
    assert.deepEqual((await pending[0]).map((e) => e.seq), [4]);
    assert.deepEqual((await pending[1]).map((e) => e.seq), [3]);
    assert.deepEqual((await pending[2]).map((e) => `${e.segment}:${e.seq}`), ["g:3"]);
    stop.abort();
  }),

  "kv.watch yields every write of the watched keys after its start, exactly once and in commit order": needing(["kvHistory"], async ({ store }) => {
    const kv = store.kv("w", { codec: utf8 });
    await kv.put("a", "before");
    const stop = new AbortController();
    const feed = await watchFromNow(kv, ["a", "b"], stop.signal);
    await kv.put("a", "1");
    await kv.put("a", "1"); // the value it holds: still a write, still reported
    await kv.put("b", "x");
    await kv.put("other", "ignored");
    await kv.delete("a");
    await kv.delete("a"); // nothing to delete: no change
    await kv.put("a", "2");
    await store.transaction(async (tx) => {
      const t = tx.kv("w", { codec: utf8 });
      await t.put("a", "3");
      await t.put("b", "y");
      await t.delete("b");
    });
    await rejectsWith(
      store.transaction(async (tx) => {
        await tx.kv("w", { codec: utf8 }).put("a", "rolled back");
        throw new StowageError("CONFLICT", "abandon");
      }),
      "CONFLICT",
    );
    await kv.deleteRange({ prefix: "a" });
    const changes = await take(feed, 9);
    assert.deepEqual(
      changes.map((c) => `${c.key}:${c.value ?? "-"}`),
      ["a:1", "a:1", "b:x", "a:-", "a:2", "a:3", "b:y", "b:-", "a:-"],
    );
    for (let i = 1; i < changes.length; i++) assert.ok((changes[i] as KvChange<string>).seq > (changes[i - 1] as KvChange<string>).seq, "seqs ascend");
    await kv.put(MARK, "end");
    assert.deepEqual(((await feed.next()).value as KvChange<string>).key, MARK, "nothing else was reported");
    stop.abort();
    assert.deepEqual(await feed.next(), { done: true, value: undefined });
  }),

  "puts issued together commit in call order, and kv.watch reports each of them": needing(["kvHistory"], async ({ store }) => {
    const kv = store.kv("w", { codec: utf8 });
    const stop = new AbortController();
    const feed = await watchFromNow(kv, ["a", "b"], stop.signal);
    const calls: Array<[string, string]> = [["a", "1"], ["b", "1"], ["a", "2"], ["a", "3"], ["b", "2"], ["a", "4"], ["a", "5"]];
    await Promise.all(calls.map(([key, value]) => kv.put(key, value)));
    assert.deepEqual((await take(feed, calls.length)).map((c) => [c.key, c.value]), calls);
    assert.deepEqual([await kv.get("a"), await kv.get("b")], ["5", "2"]);
    stop.abort();
  }),

  "kv.watch from a past seq replays the changes after it, then goes live with no gap at the join": needing(["kvHistory"], async ({ store }) => {
    const kv = store.kv("w", { codec: utf8 });
    const stop = new AbortController();
    const feed = await watchFromNow(kv, ["k"], stop.signal);
    for (const value of ["1", "2", "3"]) await kv.put("k", value);
    const seen = await take(feed, 3);
    const resumed = kv.watch(["k"], { since: (seen[0] as KvChange<string>).seq, signal: stop.signal })[Symbol.asyncIterator]();
    assert.deepEqual(await take(resumed, 2), seen.slice(1));
    const live = take(resumed, 2);
    await kv.put("k", "4");
    await kv.delete("k");
    const tail = await live;
    assert.deepEqual(tail, await take(feed, 2));
    assert.deepEqual(tail.map((c) => c.value), ["4", undefined]);
    stop.abort();
  }),

  "kv.watch reports an expired entry when the sweep removes it": needing(["kvHistory"], async ({ store, clock }) => {
    const kv = store.kv("w", { codec: utf8 });
    const stop = new AbortController();
    const feed = await watchFromNow(kv, ["t"], stop.signal);
    await kv.put("t", "soon gone", { ttlMs: 1_000 });
    clock.advance(2_000);
    await store.sweep();
    assert.deepEqual((await take(feed, 2)).map((c) => `${c.key}:${c.value ?? "-"}`), ["t:soon gone", "t:-"]);
    stop.abort();
  }),

  "kv.watch refuses a since ahead of the history, and fails LIMIT_EXCEEDED once it is behind the kept changes": needing(["kvHistory"], async ({ store, supports: { limits } }) => {
    const kv = store.kv("w", { codec: utf8 });
    const stop = new AbortController();
    const feed = await watchFromNow(kv, ["k"], stop.signal);
    await kv.put("k", "first");
    const first = ((await feed.next()).value as KvChange<string>).seq;
    await rejectsWith(kv.watch(["k"], { since: first + 1_000 })[Symbol.asyncIterator]().next(), "INVALID_ARGUMENT", "ahead");
    // More changes than a namespace keeps, in transactions of at most half of it each (or of the engine's limit).
    const half = Math.min(LIMITS.kvChangesKept / 2, limits.maxTransactionWrites);
    for (let batch = 0; batch < Math.ceil((1.5 * LIMITS.kvChangesKept) / half); batch++) {
      await store.transaction(async (tx) => {
        const t = tx.kv("w", { codec: utf8 });
        for (let i = 0; i < half; i++) await t.put(`bulk${i % 10}`, String(i));
      });
    }
    await kv.put("k", "last");
    await store.sweep();
    await rejectsWith(kv.watch(["k"], { since: first, signal: stop.signal })[Symbol.asyncIterator]().next(), "LIMIT_EXCEEDED", "w", "behind");
    // A feed reads when its consumer asks: this one waited at `first` all along, so it is behind as well.
    await rejectsWith(feed.next(), "LIMIT_EXCEEDED", "behind");
    const fresh = await watchFromNow(kv, ["k"], stop.signal);
    await kv.put("k", "after");
    assert.deepEqual(((await fresh.next()).value as KvChange<string>).value, "after");
    stop.abort();
  }),

  "a watch that would turn on more KV histories than LIMITS.maxKvHistoryNamespaces fails LIMIT_EXCEEDED": needing(["kvHistory"], async ({ store }) => {
    const stop = new AbortController();
    for (let i = 0; i < LIMITS.maxKvHistoryNamespaces; i++) await watchFromNow(store.kv(`h${i}`, { codec: utf8 }), [], stop.signal);
    stop.abort();
    const over = store.kv("one-more", { codec: utf8 });
    await rejectsWith(over.watch(["k"])[Symbol.asyncIterator]().next(), "LIMIT_EXCEEDED", "one-more", String(LIMITS.maxKvHistoryNamespaces));
    await over.put("k", "unrecorded"); // the namespace works, without history
    // A namespace that has a history is watched as before.
    const again = new AbortController();
    const feed = await watchFromNow(store.kv("h0", { codec: utf8 }), ["k"], again.signal);
    await store.kv("h0", { codec: utf8 }).put("k", "v");
    assert.deepEqual(((await feed.next()).value as KvChange<string>).value, "v");
    again.abort();
  }),

  "kv.watch refuses bad arguments, and is not available inside a transaction": needing(["kvHistory"], async ({ store }) => {
    const kv = store.kv("w");
    assert.throws(() => kv.watch([]), /INVALID_ARGUMENT/);
    assert.throws(() => kv.watch(["ok", ""]), /INVALID_ARGUMENT/);
    assert.throws(() => kv.watch(Array.from({ length: 1001 }, (_, i) => `k${i}`)), /INVALID_ARGUMENT/);
    assert.throws(() => kv.watch(["k"], { since: -1 }), /INVALID_ARGUMENT/);
    assert.throws(() => kv.watch(["k"], { since: 1.5 }), /INVALID_ARGUMENT/);
    assert.throws(() => kv.watch(["k"], { from: 1 } as never), /INVALID_ARGUMENT/);
    await rejectsWith(
      store.transaction(async (tx) => {
        tx.kv("w").watch(["k"]);
      }),
      "INVALID_ARGUMENT",
    );
  }),
};

