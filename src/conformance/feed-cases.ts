import assert from "node:assert/strict";
import { utf8 } from "../api/codec.js";
import type { LogEntry } from "../api/types.js";
import { rejectsWith, type CaseGroup } from "./harness.js";

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

  "kv.watch reports each change of a watched key's value after its start, deletions as undefined, and nothing else": async ({ store }) => {
    const kv = store.kv("w", { codec: utf8 });
    await kv.put("a", "a0");
    const stop = new AbortController();
    const feed = kv.watch(["a", "b"], { signal: stop.signal })[Symbol.asyncIterator]();
    const first = feed.next();
    // The watch takes its starting values on its first read, at some point after next(): change "a" until it reports.
    let reported: IteratorResult<unknown> | undefined;
    for (let i = 1; reported === undefined && i <= 200; i++) {
      await kv.put("other", `ignored${i}`);
      await kv.put("a", `a${i}`);
      reported = await Promise.race([first, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 10))]);
    }
    const change = reported?.value as { key: string; value: string } | undefined;
    assert.equal(change?.key, "a");
    assert.match(change?.value ?? "", /^a\d+$/);
    await new Promise((resolve) => setTimeout(resolve, 10));
    await kv.put("a", change?.value as string); // the value it holds: not a change
    await kv.put("b", "b1");
    assert.deepEqual((await feed.next()).value, { key: "b", value: "b1" });
    await kv.delete("a");
    assert.deepEqual((await feed.next()).value, { key: "a", value: undefined });
    stop.abort();
    assert.deepEqual(await feed.next(), { done: true, value: undefined });
    assert.throws(() => kv.watch([]), /INVALID_ARGUMENT/);
    assert.throws(() => kv.watch(["ok", ""]), /INVALID_ARGUMENT/);
    assert.throws(() => kv.watch(Array.from({ length: 1001 }, (_, i) => `k${i}`)), /INVALID_ARGUMENT/);
  },
};

