/**
 * A migration reads each namespace back while the next one copies. Redis cannot hold a snapshot: a read that a commit
 * landed in is refused CONFLICT, and the copy commits all the time, so the migration reads those namespaces at the
 * end instead, and validates equal. Against a real redis-server.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { migrateStore, openStore, utf8, validateStores } from "../src/index.js";
import { useRedisServer } from "./helpers/redis-server.js";

const redis = useRedisServer();

test("a migration into Redis validates equal: read-backs that commits landed in are read again at the end", async () => {
  const source = await openStore({ backend: "memory" });
  const target = await openStore({ backend: "redis", url: redis().url, prefix: "migrated/" });
  try {
    await source.transaction(async (tx) => {
      for (let i = 0; i < 3_000; i++) await tx.kv("a-bulk").put(`k${String(i).padStart(5, "0")}`, utf8.encode(`value ${i}`));
    });
    await source.transaction(async (tx) => {
      for (let i = 0; i < 3_000; i++) await tx.kv("b-bulk").put(`k${String(i).padStart(5, "0")}`, utf8.encode(`value ${i}`));
    });
    const events = source.log("events", { codec: utf8 });
    for (let i = 0; i < 50; i++) await events.append(`k${i % 3}`, `event ${i}`);
    const jobs = source.queue("jobs", { codec: utf8 });
    for (let i = 0; i < 50; i++) await jobs.push(`q${i % 2}`, `job ${i}`);
    const report = await migrateStore(source, target);
    assert.equal(report.validation.equal, true, report.validation.firstDifference);
    assert.equal(report.items, 6_100);
    assert.equal((await validateStores(source, target)).equal, true);
  } finally {
    await source.close();
    await target.close();
  }
});
