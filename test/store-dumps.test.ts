import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { gunzipSync, gzipSync } from "node:zlib";
import { isStowageError } from "../src/api/errors.js";
import { utf8 } from "../src/api/codec.js";
import type { ClaimedItem, Store } from "../src/api/types.js";
import { openStore } from "../src/open-store.js";
import { runCli } from "../src/cli/run-cli.js";
import { exportStore, importStore, migrateStore, validateStores, verifyDump } from "../src/index.js";

let root: string;
let counter = 0;
const fresh = (name: string) => join(root, `${++counter}-${name}`);

before(() => {
  root = mkdtempSync(join(tmpdir(), "stowage-dumps-"));
});
after(() => rmSync(root, { recursive: true, force: true }));

/** A clock the test moves, shared by the stores of a case, so that TTL judges them alike. */
function manualClock(start = 1_700_000_000_000) {
  const clock = { time: start, now: () => clock.time };
  return clock;
}

/** {@link fill}, plus a KV namespace "bulk" of 2,500 entries: several restore batches. */
async function fillWithBulk(store: Store, clock: { time: number }): Promise<void> {
  await fill(store, clock);
  await store.transaction(async (tx) => {
    for (let i = 0; i < 2_500; i++) await tx.kv("bulk").put(`k${String(i).padStart(5, "0")}`, new Uint8Array([i % 256]));
  });
}

/** Writes one of everything, binary values and keys that need care included. */
async function fill(store: Store, clock: { time: number }): Promise<void> {
  const kv = store.kv("sessions");
  await kv.put("user/1", new Uint8Array([0, 1, 2, 255]));
  await kv.put("ключ", new TextEncoder().encode("unicode key"), { ttlMs: 3_600_000 });
  await kv.put("short", new TextEncoder().encode("expires"), { ttlMs: 5 });
  const events = store.log("events", { codec: utf8 });
  for (let i = 0; i < 25; i++) {
    clock.time += 1;
    await events.append(`k${i % 3}`, `event ${i}`);
  }
  await store.slot("leases", { codec: utf8 }).upsert("leader", "worker-1");
  await store.slot("leases", { codec: utf8 }).upsert("leader", "worker-2");
  const jobs = store.queue("jobs", { codec: utf8 });
  for (let i = 0; i < 5; i++) await jobs.push("reindex", `job ${i}`);
  await jobs.ack("reindex", 1);
  await jobs.ack("reindex", 2);
  const drained = store.queue("drained", { codec: utf8 });
  await drained.ack("q", await drained.push("q", "gone"));
  const orders = store.stream("orders", { codec: utf8 });
  await orders.produce("eu", "p0", [{ value: "o1", headers: { type: "created" } }, { value: "o2" }]);
  // Stored deflated: a dump keeps entries as stored, compression included.
  await store.stream("orders", { codec: utf8, compression: "deflate" }).produce("us", "p1", [{ value: "o3 ".repeat(40) }]);
  clock.time += 10;
}

/**
 * Work queues in every state: "tasks" key "email" holds 4 ready items (one holding a dedup key), one delayed an hour,
 * one leased for a minute (returned) and one dead; one was acked. "idle" handed out an id and holds nothing.
 */
async function fillWork(store: Store, clock: { time: number }): Promise<ClaimedItem<string>> {
  const tasks = store.workQueue("tasks", { codec: utf8, visibilityMs: 60_000 });
  for (let i = 0; i < 6; i++) {
    clock.time += 1;
    await tasks.push("email", `mail ${i}`, { priority: i % 2, ...(i === 4 ? { dedupKey: "welcome/1" } : {}) });
  }
  await tasks.push("email", "later", { delayMs: 3_600_000 });
  const [leased] = await tasks.claim("email");
  const [failing] = await tasks.claim("email");
  assert.deepEqual(await tasks.fail(failing!, new Error("smtp down"), { final: true }), { dead: true, visibleAt: null });
  const [acked] = await tasks.claim("email");
  await tasks.ack(acked!);
  await store.workQueue("tasks").push("sms", new TextEncoder().encode("text"), { priority: -3 });
  const idle = store.workQueue("idle", { codec: utf8 });
  await idle.push("k", "done");
  await idle.ack((await idle.claim("k"))[0]!);
  clock.time += 10;
  return leased!;
}

async function openSqlite(path: string, clock: { now: () => number }): Promise<Store> {
  return openStore({ backend: "sqlite", path, clock: clock.now, sweepIntervalMs: 0 });
}

describe("export and import", () => {
  test("a dump of every primitive imports into an empty store of another engine, and validates equal", async () => {
    const clock = manualClock();
    const source = await openStore({ backend: "memory", clock: clock.now, sweepIntervalMs: 0 });
    const target = await openSqlite(fresh("target.db"), clock);
    try {
      await fill(source, clock);
      const file = fresh("all.dump.gz");
      const written = await exportStore(source, file);
      assert.equal(written.namespaces, 6);
      // Two live KV entries (one expired), 25 log entries, 1 slot, 3 queued items, 3 stream entries.
      assert.equal(written.items, 2 + 25 + 1 + 3 + 3);
      assert.deepEqual(await verifyDump(file), written);
      const imported = await importStore(target, file);
      assert.equal(imported.items, written.items);
      assert.equal(imported.header.source.engine, "memory");
      const report = await validateStores(target, file);
      assert.equal(report.equal, true, report.firstDifference);
      assert.equal((await validateStores(source, target)).equal, true);
      // The target goes on where the source stood.
      assert.equal(await target.log("events").append("k0", new Uint8Array([1])), 26);
      assert.equal(await target.queue("jobs").push("reindex", new Uint8Array([1])), 6);
      assert.equal(await target.queue("drained").push("q", new Uint8Array([1])), 2);
      assert.equal((await target.slot("leases").get("leader"))?.version, 2);
      assert.deepEqual(await target.kv("sessions").get("user/1"), new Uint8Array([0, 1, 2, 255]));
      const entry = await target.stream("orders", { codec: utf8 }).peek("us", "p1");
      assert.equal(entry?.value, "o3 ".repeat(40));
      assert.deepEqual((await target.check()).problems, []);
    } finally {
      await source.close();
      await target.close();
    }
  });

  test("work queues: an export carries every item in every state as format version 2, and imports into another engine equal", async () => {
    const clock = manualClock();
    const source = await openStore({ backend: "memory", clock: clock.now, sweepIntervalMs: 0 });
    const target = await openSqlite(fresh("work-target.db"), clock);
    try {
      await fill(source, clock);
      const leased = await fillWork(source, clock);
      const file = fresh("work.dump.gz");
      const written = await exportStore(source, file);
      assert.equal(written.namespaces, 6 + 2);
      assert.equal(written.items, 2 + 25 + 1 + 3 + 3 + 7);
      const lines = gunzipSync(readFileSync(file)).toString("utf8").trimEnd().split("\n").map((line) => JSON.parse(line));
      assert.equal(lines[0].version, 2, "a dump with work queues is version 2");
      const begins = lines.filter((line) => line.begin !== undefined).map((line) => `${line.begin}:${line.namespace}`);
      assert.deepEqual(begins.slice(-2), ["work:idle", "work:tasks"], "work sections come last, by name");
      assert.deepEqual(lines.find((line) => line.begin === "work" && line.namespace === "idle"), { begin: "work", namespace: "idle", lastId: 1 });
      const leasedLine = lines.find((line) => line.i === leased.id && line.k === "email");
      assert.deepEqual(Object.keys(leasedLine), ["k", "i", "v", "t", "p", "x", "a", "m", "r", "l", "d", "e", "z", "dead"]);
      assert.deepEqual([leasedLine.l, leasedLine.x, leasedLine.a, leasedLine.dead], [leased.token, leased.deadline, 1, false]);

      const imported = await importStore(target, file);
      assert.equal(imported.items, written.items);
      assert.equal((await validateStores(target, file)).equal, true);
      const report = await validateStores(source, target);
      assert.equal(report.equal, true, report.firstDifference);
      assert.deepEqual(
        (await target.info()).namespaces.filter((ns) => ns.primitive === "work").map(({ namespace, count }) => [namespace, count]),
        [["idle", 0], ["tasks", 7]],
      );
      const tasks = target.workQueue("tasks", { codec: utf8, visibilityMs: 60_000 });
      assert.deepEqual(await tasks.counts("email"), { ready: 3, delayed: 1, leased: 1, dead: 1 });
      assert.deepEqual((await tasks.dead("email")).map((item) => [item.value, item.lastError, item.attempts]), [["mail 3", "Error: smtp down", 1]]);
      assert.deepEqual(await tasks.push("email", "dup", { dedupKey: "welcome/1" }), { id: 5, duplicate: true });
      assert.deepEqual(await tasks.push("email", "new"), { id: 9, duplicate: false });
      assert.deepEqual(await target.workQueue("idle").push("k", new Uint8Array([1])), { id: 2, duplicate: false });
      // The lease came along: it holds its item until its deadline, then the item is claimed again, attempt 2.
      const keys = ["mail 0", "mail 2", "mail 4", "new"];
      assert.deepEqual((await tasks.claim("email", { limit: 10 })).map((item) => item.value).sort(), keys);
      clock.time = leased.deadline;
      const again = await tasks.claim("email", { limit: 10 });
      assert.deepEqual(again.map((item) => [item.id, item.attempt]), [[leased.id, 2]]);
      assert.deepEqual((await target.check()).problems, []);
    } finally {
      await source.close();
      await target.close();
    }
  });

  test("the dump is gzip text a person can read: a header, a line per item, a checksum per namespace, a closing line", async () => {
    const clock = manualClock();
    const store = await openStore({ backend: "memory", clock: clock.now, sweepIntervalMs: 0 });
    try {
      await store.kv("a").put("k", new TextEncoder().encode("v"));
      const file = fresh("small.dump.gz");
      await exportStore(store, file);
      const lines = gunzipSync(readFileSync(file)).toString("utf8").trimEnd().split("\n").map((line) => JSON.parse(line));
      assert.equal(lines[0].stowage, "dump");
      assert.equal(lines[0].version, 1);
      assert.equal(lines[0].snapshotAt, clock.time);
      assert.deepEqual(lines[1], { begin: "kv", namespace: "a" });
      assert.deepEqual(lines[2], { k: "k", v: Buffer.from("v").toString("base64"), x: null });
      assert.equal(lines[3].end, "kv");
      assert.equal(lines[3].count, 1);
      assert.match(lines[3].sha256, /^[0-9a-f]{64}$/);
      assert.deepEqual(lines[4], { end: "dump", namespaces: 1, items: 1 });
      assert.deepEqual(readdirSync(root).filter((name) => name.includes(".partial")), [], "no partial file left behind");
    } finally {
      await store.close();
    }
  });

  test("a damaged, cut, edited or foreign dump is refused before anything is written", async () => {
    const clock = manualClock();
    const source = await openStore({ backend: "memory", clock: clock.now, sweepIntervalMs: 0 });
    const target = await openSqlite(fresh("guarded.db"), clock);
    try {
      await fill(source, clock);
      const file = fresh("good.dump.gz");
      await exportStore(source, file);
      const text = gunzipSync(readFileSync(file)).toString("utf8");
      const lines = text.trimEnd().split("\n");
      const variants: Array<[string, Buffer, string]> = [
        ["cut short", gzipSync(lines.slice(0, -1).join("\n") + "\n"), "CORRUPT"],
        ["an edited item", gzipSync(text.replace("event 7", "event 8").replace(Buffer.from("event 7").toString("base64"), Buffer.from("event 8").toString("base64"))), "CORRUPT"],
        ["a dropped item", gzipSync(lines.filter((_, i) => i !== 3).join("\n") + "\n"), "CORRUPT"],
        ["damaged gzip", Buffer.concat([readFileSync(file).subarray(0, 40), Buffer.from("garbage"), readFileSync(file).subarray(47)]), "CORRUPT"],
        ["another program's file", gzipSync('{"hello":"world"}\n'), "INCOMPATIBLE"],
        ["a newer format", gzipSync(text.replace('"version":1', '"version":99')), "INCOMPATIBLE"],
      ];
      for (const [what, bytes, code] of variants) {
        const bad = fresh("bad.dump.gz");
        writeFileSync(bad, bytes);
        await assert.rejects(importStore(target, bad), (error) => isStowageError(error, code as never), what);
        assert.deepEqual((await target.info()).namespaces, [], `${what}: nothing written`);
      }
      await assert.rejects(importStore(target, fresh("missing.dump.gz")), (error) => isStowageError(error, "INVALID_ARGUMENT"));
    } finally {
      await source.close();
      await target.close();
    }
  });

  test("an import into a store that holds data is CONFLICT unless allowed", async () => {
    const clock = manualClock();
    const source = await openStore({ backend: "memory", clock: clock.now, sweepIntervalMs: 0 });
    const target = await openStore({ backend: "memory", clock: clock.now, sweepIntervalMs: 0 });
    try {
      await source.kv("a").put("k", new Uint8Array([1]));
      await target.kv("other").put("x", new Uint8Array([2]));
      const file = fresh("a.dump.gz");
      await exportStore(source, file);
      await assert.rejects(importStore(target, file), (error) => isStowageError(error, "CONFLICT") && /kv:other/.test((error as Error).message));
      assert.equal(await target.kv("a").get("k"), undefined);
      await importStore(target, file, { allowNonEmpty: true });
      assert.deepEqual(await target.kv("a").get("k"), new Uint8Array([1]));
    } finally {
      await source.close();
      await target.close();
    }
  });
});

describe("validate", () => {
  test("names the first difference by namespace and key, sequence or id", async () => {
    // Two clocks that read the same: equal writes at equal times.
    const leftClock = manualClock();
    const rightClock = manualClock();
    const left = await openStore({ backend: "memory", clock: leftClock.now, sweepIntervalMs: 0 });
    const right = await openStore({ backend: "memory", clock: rightClock.now, sweepIntervalMs: 0 });
    try {
      await fill(left, leftClock);
      await fill(right, rightClock);
      assert.equal((await validateStores(left, right)).equal, true);
      await right.kv("sessions").put("user/1", new Uint8Array([9]));
      const changed = await validateStores(left, right);
      assert.equal(changed.equal, false);
      assert.match(changed.firstDifference ?? "", /kv namespace "sessions": key "user\/1" differs/);
      assert.deepEqual(
        changed.namespaces.filter((ns) => !ns.equal).map((ns) => ns.namespace),
        ["sessions"],
      );
      await right.log("events").append("k9", new Uint8Array([1]));
      await left.queue("extra").push("q", new Uint8Array([1]));
      const more = await validateStores(left, right);
      assert.deepEqual(
        more.namespaces.filter((ns) => !ns.equal).map((ns) => `${ns.primitive}:${ns.namespace}`),
        ["kv:sessions", "log:events", "queue:extra"],
      );
      const log = more.namespaces.find((ns) => ns.namespace === "events")!;
      assert.deepEqual([log.left?.count, log.right?.count], [25, 26]);
    } finally {
      await left.close();
      await right.close();
    }
  });
});

describe("validate work queues", () => {
  test("names the work item that changed after an import: a claim changes its attempts, token and visible time", async () => {
    const clock = manualClock();
    const left = await openStore({ backend: "memory", clock: clock.now, sweepIntervalMs: 0 });
    const right = await openSqlite(fresh("validate-work.db"), clock);
    try {
      await fillWork(left, clock);
      const file = fresh("validate-work.dump.gz");
      await exportStore(left, file);
      await importStore(right, file);
      assert.equal((await validateStores(left, right)).equal, true);
      const [claimed] = await right.workQueue("tasks").claim("sms");
      const report = await validateStores(left, right);
      assert.equal(report.equal, false);
      assert.equal(report.firstDifference, `work namespace "tasks": item ${claimed!.id} of work queue "sms" differs`);
      assert.deepEqual(report.namespaces.filter((ns) => !ns.equal).map((ns) => `${ns.primitive}:${ns.namespace}`), ["work:tasks"]);
      // A counter alone differs too: an id handed out and acked leaves no item but a last id.
      await right.workQueue("idle").ack(await pushAndClaim(right));
      assert.match((await validateStores(left, right)).firstDifference ?? "", /^work namespace "idle": last id 1 in the source, last id 2 in the target$/);
    } finally {
      await left.close();
      await right.close();
    }
  });
});

/** Pushes one item to "idle" key "k" and claims it. */
async function pushAndClaim(store: Store): Promise<ClaimedItem<Uint8Array>> {
  await store.workQueue("idle").push("k", new Uint8Array([1]));
  return (await store.workQueue("idle").claim("k"))[0]!;
}

describe("migrate", () => {
  test("copies a snapshot into an empty store of another engine and reads it back equal, reporting progress", async () => {
    const clock = manualClock();
    const source = await openSqlite(fresh("from.db"), clock);
    const target = await openSqlite(fresh("to.db"), clock);
    try {
      await fillWithBulk(source, clock);
      const seen: number[] = [];
      const report = await migrateStore(source, target, { onProgress: (progress) => seen.push(progress.items) });
      assert.equal(report.validation.equal, true, report.validation.firstDifference);
      assert.equal(report.items, 2_500 + 34);
      assert.ok(seen.length >= 3, "progress after each batch");
      assert.deepEqual(seen, [...seen].sort((a, b) => a - b));
      assert.equal((await validateStores(source, target)).equal, true);
      await assert.rejects(migrateStore(source, target), (error) => isStowageError(error, "CONFLICT"));
    } finally {
      await source.close();
      await target.close();
    }
  });

  test("a namespace is read back while the next one copies, and one that changed after its read-back is read again", async () => {
    const clock = manualClock();
    const source = await openSqlite(fresh("from.db"), clock);
    const target = await openSqlite(fresh("to.db"), clock);
    try {
      await fillWithBulk(source, clock);
      // "bulk" goes first (2,500 items); once a later namespace's batch committed, a key is added to it.
      let added = false;
      const report = await migrateStore(source, target, {
        onProgress: (progress) => {
          if (progress.items <= 2_500 || added) return;
          added = true;
          void target.kv("bulk").put("k99999", new Uint8Array([1]));
        },
      });
      assert.ok(added);
      assert.equal(report.validation.equal, false);
      assert.equal(report.validation.firstDifference, 'kv namespace "bulk" holds 2500 items in the source snapshot and 2501 in the target');
      assert.deepEqual(report.validation.namespaces.filter((n) => !n.equal).map((n) => n.namespace), ["bulk"]);
    } finally {
      await source.close();
      await target.close();
    }
  });
});

describe("a resumed migration", () => {
  test("runs interrupted inside a KV, log, queue and stream namespace go on from the journal and end identical", async () => {
    const clock = manualClock();
    const source = await openSqlite(fresh("resume-from.db"), clock);
    const target = await openSqlite(fresh("resume-to.db"), clock);
    const journal = fresh("journal.json");
    try {
      const value = (i: number) => new TextEncoder().encode(`value ${i}`);
      for (let chunk = 0; chunk < 3; chunk++) {
        await source.transaction(async (tx) => {
          for (let i = chunk * 500; i < (chunk + 1) * 500; i++) {
            await tx.kv("bulk").put(`k${String(i).padStart(5, "0")}`, value(i));
            await tx.log("events").append(`e${i % 7}`, value(i));
            await tx.queue("jobs").push(`q${i % 3}`, value(i));
          }
          await tx.stream("orders").produce("all", "p0", Array.from({ length: 500 }, (_, i) => ({ value: value(chunk * 500 + i) })));
        });
      }
      await source.queue("jobs").ack("q0", 1);
      const interrupted = new Error("interrupted");
      let runs = 0;
      let report;
      while (report === undefined) {
        assert.ok(++runs <= 12, "the migration ends");
        try {
          report = await migrateStore(source, target, {
            journal,
            onProgress: (progress) => {
              if (progress.items >= 1_300) throw interrupted;
            },
          });
        } catch (error) {
          assert.equal(error, interrupted);
          assert.ok(existsSync(journal), "the journal stays while the copy is unfinished");
        }
      }
      assert.ok(runs >= 4, `interrupted in several namespaces (${runs} runs)`);
      assert.equal(report.validation.equal, true, report.validation.firstDifference);
      assert.ok(report.resumedAfter >= 3);
      assert.equal(existsSync(journal), false, "the journal goes once the copy validated");
      assert.equal((await validateStores(source, target)).equal, true);
      assert.equal(await target.log("events").append("e", value(0)), 1_501);
      assert.equal(await target.queue("jobs").push("q1", value(0)), 1_501);
      assert.equal((await target.stream("orders").status("all", "p0")).count, 1_500);
      assert.deepEqual((await target.check()).problems, []);
      // A journal of another copy is refused, not followed.
      await target.close();
      const other = await openSqlite(fresh("other.db"), clock);
      try {
        const { writeFileSync: write } = await import("node:fs");
        write(journal, JSON.stringify({ stowage: "migration", version: 1, source: "elsewhere", target: "x", startedAt: 0, completed: [] }));
        await assert.rejects(migrateStore(source, other, { journal }), (error) => isStowageError(error, "CONFLICT") && /belongs to a migration from elsewhere/.test((error as Error).message));
      } finally {
        await other.close();
      }
    } finally {
      await source.close();
      await target.close();
    }
  });
});

describe("a resumed migration of work queues", () => {
  test("a run interrupted inside a work namespace goes on after the last (key, id) the target holds and ends identical", async () => {
    const clock = manualClock();
    const source = await openSqlite(fresh("work-resume-from.db"), clock);
    const target = await openSqlite(fresh("work-resume-to.db"), clock);
    const journal = fresh("work-journal.json");
    try {
      const tasks = source.workQueue("tasks", { codec: utf8, visibilityMs: 60_000 });
      for (let chunk = 0; chunk < 3; chunk++) {
        await tasks.pushMany(`k${chunk}`, Array.from({ length: 800 }, (_, i) => ({ value: `job ${chunk}/${i}`, ...(i % 100 === 0 ? { dedupKey: `d${i}` } : {}) })));
      }
      await tasks.claim("k1", { limit: 10 });
      let runs = 0;
      let report;
      while (report === undefined) {
        assert.ok(++runs <= 5, "the migration ends");
        try {
          report = await migrateStore(source, target, {
            journal,
            onProgress: (progress) => {
              if (runs === 1 && progress.items >= 1_000) throw new Error("interrupted");
            },
          });
        } catch (error) {
          assert.equal((error as Error).message, "interrupted");
        }
      }
      assert.equal(runs, 2);
      assert.equal(report.resumedAfter, 0, "the interruption was inside the only namespace");
      assert.equal(report.items, 2_400 - 1_000, "the second run wrote only what the first had not");
      assert.equal(report.validation.equal, true, report.validation.firstDifference);
      assert.equal((await validateStores(source, target)).equal, true);
      assert.deepEqual(await target.workQueue("tasks").counts("k1"), { ready: 790, delayed: 0, leased: 10, dead: 0 });
      assert.deepEqual(await target.workQueue("tasks").push("k9", new Uint8Array([1])), { id: 2_401, duplicate: false });
      assert.deepEqual((await target.check()).problems, []);
    } finally {
      await source.close();
      await target.close();
    }
  });
});

describe("the memory engine's snapshot file", () => {
  test("restores at open what the last close snapshotted, deadlines, sequences and ids included", async () => {
    const clock = manualClock();
    const path = fresh("memory.dump.gz");
    const first = await openStore({ backend: "memory", snapshotPath: path, snapshotIntervalMs: 0, clock: clock.now, sweepIntervalMs: 0 });
    await fill(first, clock);
    const leased = await fillWork(first, clock);
    const before = await first.info();
    await first.close();
    assert.ok(existsSync(path));
    const second = await openStore({ backend: "memory", snapshotPath: path, clock: clock.now, sweepIntervalMs: 0 });
    try {
      assert.deepEqual((await second.info()).namespaces, before.namespaces);
      assert.match((await second.info()).location, /snapshots to/);
      assert.equal(await second.log("events").append("k", new Uint8Array([1])), 26);
      assert.equal(await second.queue("drained").push("q", new Uint8Array([1])), 2);
      assert.deepEqual(await second.workQueue("tasks").counts("email"), { ready: 3, delayed: 1, leased: 1, dead: 1 });
      clock.time = leased.deadline;
      assert.deepEqual((await second.workQueue("tasks").claim("email", { limit: 10 })).filter((item) => item.id === leased.id).map((item) => item.attempt), [2]);
      assert.equal(await second.kv("sessions", { codec: utf8 }).get("ключ"), "unicode key");
      clock.time += 3_600_000;
      assert.equal(await second.kv("sessions").get("ключ"), undefined, "the deadline came along");
    } finally {
      await second.close();
    }
  });

  test("snapshots periodically, so a process that dies keeps what the last snapshot held; a damaged file refuses the open", async () => {
    const path = fresh("periodic.dump.gz");
    const store = await openStore({ backend: "memory", snapshotPath: path, snapshotIntervalMs: 20, sweepIntervalMs: 0 });
    try {
      await store.kv("a").put("k", new Uint8Array([7]));
      // The file appears at its rename, the fact once the folder is flushed after it: wait for both.
      for (let waited = 0; !existsSync(path) || !(Number((await store.health()).facts["snapshot.lastSavedAt"]) > 0); waited++) {
        assert.ok(waited < 500, "a periodic snapshot was written");
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      // Another process opening the file now (as after a crash of this one) finds the snapshot.
      const { copyFileSync } = await import("node:fs");
      const copy = fresh("after-crash.dump.gz");
      copyFileSync(path, copy);
      const revived = await openStore({ backend: "memory", snapshotPath: copy, snapshotIntervalMs: 0 });
      assert.deepEqual(await revived.kv("a").get("k"), new Uint8Array([7]));
      await revived.close();
      writeFileSync(copy, readFileSync(copy).subarray(0, 30));
      await assert.rejects(openStore({ backend: "memory", snapshotPath: copy }), (error) => isStowageError(error, "CORRUPT"));
      assert.equal(readFileSync(copy).length, 30, "the damaged file is left for the operator");
    } finally {
      await store.close();
    }
  });
});

describe("the CLI", () => {
  const cli = async (cwd: string, ...args: string[]) => {
    let stdout = "";
    let stderr = "";
    const code = await runCli(args, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env: {}, cwd });
    return { code, stdout, stderr };
  };

  test("export, import, validate and migrate between named providers with a progress line", async () => {
    const dir = fresh("cli");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(dir);
    const providers = ["--provider", "old.backend=sqlite", "--provider", "old.path=old.db", "--provider", "new.backend=sqlite", "--provider", "new.path=new.db", "--default-provider", "old"];
    const old = ["--storage-path", "old.db"];
    assert.equal((await cli(dir, ...old, "kv", "put", "ns", "k", "v")).code, 0);
    assert.equal((await cli(dir, ...old, "log", "append", "events", "k", "e1")).code, 0);
    const exported = await cli(dir, ...old, "export", "backup.dump.gz", "--json");
    assert.equal(exported.code, 0, exported.stderr);
    assert.deepEqual({ ...JSON.parse(exported.stdout), bytes: 0, file: "" }, { file: "", namespaces: 2, items: 2, bytes: 0 });
    assert.ok(existsSync(join(dir, "backup.dump.gz")));

    const migrated = await cli(dir, ...providers, "migrate", "--from", "old", "--to", "new");
    assert.equal(migrated.code, 0, migrated.stderr);
    assert.match(migrated.stderr, /migrated 2 of 2 items/);
    assert.match(migrated.stdout, /identical: 2 namespaces/);
    const again = await cli(dir, ...providers, "migrate", "--from", "old", "--to", "new");
    assert.equal(again.code, 1);
    assert.match(again.stderr, /error CONFLICT: the target store is not empty/);
    assert.deepEqual(readdirSync(dir).filter((name) => name.startsWith("stowage-migrate-")), [], "the journal goes once the copy validated");

    const same = await cli(dir, "--storage-path", "new.db", "validate", "backup.dump.gz");
    assert.equal(same.code, 0, same.stderr);
    assert.equal((await cli(dir, "--storage-path", "new.db", "kv", "put", "ns", "k", "changed")).code, 0);
    const differs = await cli(dir, "--storage-path", "new.db", "validate", "backup.dump.gz");
    assert.equal(differs.code, 3);
    assert.match(differs.stdout, /DIFFERENT\s+kv\s+ns/);
    assert.match(differs.stderr, /error DIFFERENT: kv namespace "ns": key "k" differs/);

    const refused = await cli(dir, "--storage-path", "new.db", "import", "backup.dump.gz");
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /error CONFLICT: the target store is not empty/);
    const imported = await cli(dir, "--storage-path", "fresh.db", "import", "backup.dump.gz");
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(imported.stderr, /imported 2 of 2 items/);
    assert.equal((await cli(dir, "--storage-path", "fresh.db", "validate", "backup.dump.gz")).code, 0);

    const usage = await cli(dir, "migrate", "--from", "old");
    assert.equal(usage.code, 2);
    const unknown = await cli(dir, ...providers, "migrate", "--from", "old", "--to", "nope");
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /provider "nope", which the configuration does not define/);
  });
});
