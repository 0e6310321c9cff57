/**
 * Several real `node` processes on one SQLite file: CAS on one slot, and appends to one log namespace followed live
 * by a reader. Children are the compiled fixtures test/fixtures/cas-racer.ts and log-appender.ts.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { json, openStore, type LogEntry } from "../src/index.js";
import { killAll, lastJson, sleep, startChild, tempDir, waitAllFor, type Child } from "./helpers/child.js";

const PROCESSES = 4;

test("processes racing CAS on one slot: every version is won by exactly one process", async (t) => {
  const TARGET = 400;
  // A racer's failed round means another racer won in between, so no racer needs more than TARGET + 1 rounds.
  const MAX_ROUNDS = 2 * TARGET + 10;
  const tmp = tempDir("cas");
  const path = join(tmp.dir, "race.db");
  const children: Child[] = [];
  try {
    // The parent creates the file first, so the race is only about the slot.
    const store = await openStore({ backend: "sqlite", path, busyTimeoutMs: 10_000, sweepIntervalMs: 0 });
    const slot = store.slot<{ who: string; version: number }>("race", { codec: json<{ who: string; version: number }>() });
    try {
      for (let i = 0; i < PROCESSES; i++) children.push(startChild("cas-racer", [path, `racer-${i}`, String(TARGET), String(MAX_ROUNDS), "1"]));
      await waitAllFor(children, "ready", 15_000);
      for (const child of children) child.send("go");
      const exits = await Promise.all(children.map((child) => child.finish(25_000)));
      exits.forEach((exit, i) => assert.deepEqual(exit, { code: 0, signal: null }, `racer ${i} failed\n${(children[i] as Child).describe()}`));

      const reports = children.map((child) => lastJson<{ id: string; wins: number[]; rounds: number }>(child));
      const winnerOf = new Map<number, string>();
      for (const report of reports) {
        assert.ok(report.rounds < MAX_ROUNDS, `${report.id} ran out of rounds (${report.rounds}) before version ${TARGET}`);
        for (let i = 1; i < report.wins.length; i++) {
          assert.ok((report.wins[i] as number) > (report.wins[i - 1] as number), `${report.id}'s wins are not increasing`);
        }
        for (const version of report.wins) {
          assert.ok(!winnerOf.has(version), `version ${version} was won by both ${winnerOf.get(version)} and ${report.id}`);
          winnerOf.set(version, report.id);
        }
      }
      const missing = Array.from({ length: TARGET }, (_, i) => i + 1).filter((version) => !winnerOf.has(version));
      assert.deepEqual(missing, [], "versions nobody won");
      assert.equal(winnerOf.size, TARGET, "versions won beyond the target");

      const final = await slot.get("the-slot");
      assert.deepEqual(final, { version: TARGET, value: { who: winnerOf.get(TARGET), version: TARGET } });
      t.diagnostic(`wins per racer: ${reports.map((r) => `${r.id}=${r.wins.length}`).join(", ")}`);
    } finally {
      await store.close();
    }
  } finally {
    await killAll(children);
    tmp.remove();
  }
});

test("processes appending to one log: gapless unique seqs, followed live by a reader", async (t) => {
  const ENTRIES = 250;
  const KEYS = ["k0", "k1", "k2", "k3"];
  const IN_FLIGHT = 5;
  const TOTAL = PROCESSES * ENTRIES;
  const tmp = tempDir("log");
  const path = join(tmp.dir, "log.db");
  const children: Child[] = [];
  type Value = { w: string; i: number };
  try {
    const store = await openStore({ backend: "sqlite", path, busyTimeoutMs: 10_000, sweepIntervalMs: 0 });
    const log = store.log<Value>("events", { codec: json<Value>() });
    try {
      for (let i = 0; i < PROCESSES; i++) {
        children.push(startChild("log-appender", [path, `w${i}`, String(ENTRIES), String(KEYS.length), String(IN_FLIGHT), "2"]));
      }
      await waitAllFor(children, "ready", 15_000);
      assert.equal(await log.lastSeq(), 0);
      for (const child of children) child.send("go");

      // The reader follows `since` on every key while the writers run, until it has seen every entry.
      const seen = new Map<string, LogEntry<Value>[]>(KEYS.map((key) => [key, []]));
      const follow = async () => {
        const cursor = new Map<string, number>(KEYS.map((key) => [key, 0]));
        const deadline = Date.now() + 25_000;
        let count = 0;
        let fruitfulPolls = 0;
        for (let poll = 0; count < TOTAL && poll < 200_000 && Date.now() < deadline; poll++) {
          let fresh = 0;
          for (const key of KEYS) {
            const after = cursor.get(key) as number;
            const entries = await log.since(key, after);
            let last = after;
            for (const entry of entries) {
              assert.equal(entry.key, key);
              assert.ok(entry.seq > last, `since(${key}, ${after}) returned seq ${entry.seq} after ${last}`);
              last = entry.seq;
            }
            (seen.get(key) as LogEntry<Value>[]).push(...entries);
            cursor.set(key, last);
            fresh += entries.length;
          }
          count += fresh;
          if (fresh > 0) fruitfulPolls++;
          else await sleep(2);
        }
        return { count, fruitfulPolls };
      };
      const [followed, ...exits] = await Promise.all([follow(), ...children.map((child) => child.finish(25_000))]);
      exits.forEach((exit, i) => assert.deepEqual(exit, { code: 0, signal: null }, `writer ${i} failed\n${(children[i] as Child).describe()}`));
      assert.equal(followed.count, TOTAL, "the reader did not see every entry before its deadline");
      t.diagnostic(`reader saw new entries on ${followed.fruitfulPolls} polls`);

      // What the writers report: seqs unique, 1..TOTAL without gaps, each writer's strictly increasing in issue order.
      const bySeq = new Map<number, { key: string; value: Value }>();
      for (const child of children) {
        const report = lastJson<{ id: string; appended: Array<[number, string, number]> }>(child);
        assert.equal(report.appended.length, ENTRIES);
        let previous = 0;
        report.appended.forEach(([i, key, seq], position) => {
          assert.equal(i, position);
          assert.ok(seq > previous, `${report.id}: seq ${seq} of entry ${i} is not above ${previous}`);
          previous = seq;
          assert.ok(!bySeq.has(seq), `seq ${seq} handed out twice`);
          bySeq.set(seq, { key, value: { w: report.id, i } });
        });
      }
      assert.deepEqual(
        [...bySeq.keys()].sort((a, b) => a - b),
        Array.from({ length: TOTAL }, (_, i) => i + 1),
        "seqs are not exactly 1..total",
      );
      assert.equal(await log.lastSeq(), TOTAL);
      let switches = 0;
      for (let seq = 2; seq <= TOTAL; seq++) if (bySeq.get(seq)?.value.w !== bySeq.get(seq - 1)?.value.w) switches++;
      t.diagnostic(`the seq order switches writer ${switches} times`);

      for (const key of KEYS) {
        const expected = [...bySeq.entries()]
          .filter(([, entry]) => entry.key === key)
          .sort(([a], [b]) => a - b)
          .map(([seq, entry]) => ({ seq, key, value: entry.value }));
        const strip = (entries: LogEntry<Value>[]) => entries.map(({ seq, key: k, value }) => ({ seq, key: k, value }));
        assert.deepEqual(strip(seen.get(key) as LogEntry<Value>[]), expected, `the reader's view of ${key}`);
        assert.deepEqual(strip(await log.list(key)), expected, `list(${key})`);
      }
    } finally {
      await store.close();
    }
  } finally {
    await killAll(children);
    tmp.remove();
  }
});
