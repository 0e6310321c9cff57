/**
 * Backups of a store to each target (a folder, s3rver, azurite's Blob service, the servers in child processes on
 * 127.0.0.1), restores that validate against the backup, retention, scheduled backups, and the CLI commands.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { BlobServiceClient } from "@azure/storage-blob";
import { isStowageError } from "../src/api/errors.js";
import { utf8 } from "../src/api/codec.js";
import type { Store } from "../src/api/types.js";
import { runCli } from "../src/cli/run-cli.js";
import { openStore } from "../src/open-store.js";
import { backupStore, restoreStore, scheduleBackups } from "../src/operations/store-backups.js";
import { openBackupTarget } from "../src/operations/backup-targets/index.js";
import { useAzurite } from "./helpers/azurite-server.js";
import { S3RVER_CREDENTIALS, useS3Server } from "./helpers/s3-server.js";

let root: string;
let counter = 0;
const fresh = (name: string) => join(root, `${++counter}-${name}`);
before(() => {
  root = mkdtempSync(join(tmpdir(), "stowage-backups-"));
});
after(() => rmSync(root, { recursive: true, force: true }));

/** A store holding one of every primitive. */
async function filledStore(): Promise<Store> {
  const store = await openStore({ backend: "memory", sweepIntervalMs: 0 });
  await store.kv("sessions", { codec: utf8 }).put("user/1", "alice", { ttlMs: 3_600_000 });
  for (let i = 0; i < 5; i++) await store.log("events", { codec: utf8 }).append("orders", `e${i}`);
  await store.slot("leases", { codec: utf8 }).upsert("leader", "w1");
  const jobs = store.queue("jobs", { codec: utf8 });
  await jobs.ack("q", await jobs.push("q", "done"));
  await jobs.push("q", "pending");
  await store.stream("orders", { codec: utf8 }).produce("eu", "p0", [{ value: "o1", headers: { type: "created" } }]);
  return store;
}

/** Backs a filled store up to `target`, restores it into an empty SQLite store and checks it is the same. */
async function roundTrip(target: string, options: Parameters<typeof backupStore>[2] = {}): Promise<void> {
  const source = await filledStore();
  const restored = await openStore({ backend: "sqlite", path: fresh("restored.db"), sweepIntervalMs: 0 });
  try {
    const backup = await backupStore(source, target, options);
    assert.equal(backup.namespaces, 5);
    assert.match(backup.name, /^stowage-\d{4}-\d{2}-\d{2}T.*\.dump\.gz$/);
    const report = await restoreStore(restored, target, { target: options.target ?? {} });
    assert.equal(report.name, backup.name);
    assert.equal(report.validation.equal, true, report.validation.firstDifference);
    assert.equal(await restored.queue("jobs").push("q", new Uint8Array([1])), 3, "queue ids go on after the restore");
    assert.equal(await restored.kv("sessions", { codec: utf8 }).get("user/1"), "alice");
  } finally {
    await source.close();
    await restored.close();
  }
}

describe("backups to a folder", () => {
  test("back up, restore the newest and validate; retention keeps the newest few", async () => {
    const folder = fresh("backups");
    await roundTrip(folder);
    const store = await filledStore();
    try {
      const names: string[] = [];
      const pruned: string[] = [];
      for (let i = 0; i < 3; i++) {
        await new Promise((resolve) => setTimeout(resolve, 3));
        const report = await backupStore(store, folder, { retention: { keep: 2 } });
        names.push(report.name);
        pruned.push(...report.pruned);
      }
      assert.equal(pruned.length, 2, "the first round trip's backup and the oldest of these");
      assert.ok(pruned.includes(names[0]!));
      assert.deepEqual(readdirSync(folder).filter((name) => !name.startsWith(".")).sort(), names.slice(1).sort());
      // A URL that names a backup restores that one.
      const target = await openStore({ backend: "memory" });
      const report = await restoreStore(target, join(folder, names[1]!));
      assert.equal(report.name, names[1]);
      await target.close();
      const empty = await openStore({ backend: "memory" });
      await assert.rejects(restoreStore(empty, fresh("no-backups-here")), (error) => isStowageError(error, "NOT_FOUND") || isStowageError(error, "INVALID_ARGUMENT"));
      await empty.close();
    } finally {
      await store.close();
    }
  });

  test("scheduled backups run on their interval, prune, and stop", async () => {
    const folder = fresh("scheduled");
    mkdirSync(folder);
    const store = await filledStore();
    const schedule = scheduleBackups(store, { to: folder, intervalMs: 25, retention: { keep: 2 } });
    try {
      for (let waited = 0; readdirSync(folder).filter((name) => name.endsWith(".dump.gz")).length < 2 || schedule.last === undefined; waited++) {
        assert.ok(waited < 400, "two scheduled backups were taken");
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    } finally {
      await schedule.stop();
    }
    const taken = readdirSync(folder).filter((name) => name.endsWith(".dump.gz"));
    assert.ok(taken.length <= 2, `retention keeps two: ${taken.join(", ")}`);
    assert.equal(schedule.lastError, undefined);
    const count = readdirSync(folder).length;
    await new Promise((resolve) => setTimeout(resolve, 80));
    assert.equal(readdirSync(folder).length, count, "no backup after stop");
    await store.close();
  });
});

describe("scheduled backups from configuration", () => {
  test("a config file's backup section under STOWAGE_BACKUP_* variables schedules backups until the store closes", async () => {
    const dir = fresh("configured");
    mkdirSync(dir);
    const { writeFileSync } = await import("node:fs");
    writeFileSync(join(dir, "stowage.yaml"), "storage: { backend: memory }\nbackup: { to: ./backups, intervalMs: 3600000, keep: 3 }\n");
    const { loadConfig } = await import("../src/config/load-config.js");
    const config = loadConfig({ argvFlags: { config: join(dir, "stowage.yaml") }, env: { STOWAGE_BACKUP_INTERVAL_MS: "20", STOWAGE_BACKUP_NAME_PREFIX: "orders-" }, cwd: dir });
    assert.deepEqual(config.backup, { to: join(dir, "backups"), intervalMs: 20, keep: 3, namePrefix: "orders-" });
    mkdirSync(join(dir, "backups"));
    const store = (await openStore(config)) as Store & { backups: { last: unknown; backupNow(): Promise<{ name: string }> } };
    await store.kv("a").put("k", new Uint8Array([1]));
    const now = await store.backups.backupNow();
    assert.match(now.name, /^orders-stowage-/);
    for (let waited = 0; readdirSync(join(dir, "backups")).length < 2; waited++) {
      assert.ok(waited < 400, "the schedule took a backup of its own");
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await store.close();
    const count = readdirSync(join(dir, "backups")).length;
    assert.ok(count <= 3, "retention keeps three");
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.equal(readdirSync(join(dir, "backups")).length, count, "no backup after close");
    for (const [env, fragment] of [
      [{ STOWAGE_BACKUP_KEEP: "many" }, "STOWAGE_BACKUP_KEEP"],
      [{ STOWAGE_BACKUP_TO: "/x", STOWAGE_BACKUP_KEEP: "0" }, "backup.keep"],
    ] as const) {
      assert.throws(() => loadConfig({ env, cwd: dir }), (error) => isStowageError(error, "INVALID_ARGUMENT") && (error as Error).message.includes(fragment));
    }
    await assert.rejects(openStore({ backend: "memory", backup: { to: "" } }), (error) => isStowageError(error, "INVALID_ARGUMENT"));
  });
});

describe("backups to S3 (s3rver)", () => {
  const server = useS3Server(["backups"]);
  test("back up, restore and validate", async () => {
    await roundTrip(`s3://backups/orders/?endpoint=${server().endpoint}`, { target: { credentials: S3RVER_CREDENTIALS } });
  });
});

describe("backups to Azure Blob (azurite)", () => {
  const server = useAzurite("blob");
  before(async () => {
    await BlobServiceClient.fromConnectionString(server().connectionString).getContainerClient("backups").create();
  });
  test("back up, restore and validate", async () => {
    await roundTrip("azure://backups/orders", { target: { connectionString: server().connectionString } });
    const target = await openBackupTarget("azure://backups/orders", { connectionString: server().connectionString });
    assert.equal((await target.list()).length, 1);
    await target.close();
  });
});

describe("the CLI", () => {
  test("backup, backups and restore with a folder target", async () => {
    const dir = fresh("cli");
    mkdirSync(dir);
    const cli = async (...args: string[]) => {
      let stdout = "";
      let stderr = "";
      const code = await runCli(args, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env: {}, cwd: dir });
      return { code, stdout, stderr };
    };
    assert.equal((await cli("--storage-path", "a.db", "kv", "put", "ns", "k", "v")).code, 0);
    const backup = await cli("--storage-path", "a.db", "backup", "bk", "--keep", "3");
    assert.equal(backup.code, 0, backup.stderr);
    assert.match(backup.stdout, /backed up 1 items of 1 namespaces to .*bk as stowage-/);
    const listed = await cli("backups", "bk", "--json");
    assert.equal(listed.code, 0, listed.stderr);
    assert.equal(JSON.parse(listed.stdout).length, 1);
    const restored = await cli("--storage-path", "b.db", "restore", "bk");
    assert.equal(restored.code, 0, restored.stderr);
    assert.match(restored.stdout, /validated: identical to the backup/);
    const again = await cli("--storage-path", "b.db", "restore", "bk");
    assert.equal(again.code, 1);
    assert.match(again.stderr, /error CONFLICT: the target store is not empty/);
    assert.equal((await cli("--storage-path", "b.db", "kv", "get", "ns", "k")).stdout, "v\n");
  });
});
