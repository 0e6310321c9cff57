/**
 * Backup targets against real stores: a local folder, s3rver (an S3-compatible server) and azurite's Blob service,
 * each in a child process on 127.0.0.1. Every target runs the same cases: a multi-part streamed round trip, paged
 * listings, remove, NOT_FOUND, uploads that fail or are aborted halfway leave nothing under the name (and an older
 * object of that name intact), retention over real listings, and no secret in describe() or an error message.
 * Target URLs, backup names and the retention policy are checked without a server.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { BlobServiceClient } from "@azure/storage-blob";
import { isStowageError, type ErrorCode } from "../src/api/errors.js";
import { loadOptionalPackage } from "../src/engines/load-driver.js";
import { splitBody } from "../src/operations/backup-targets/body-parts.js";
import {
  backupName,
  expiredBackups,
  latestBackup,
  openBackupLocation,
  openBackupTarget,
  parseBackupName,
  parseTargetUrl,
  pruneBackups,
  type BackupObject,
  type BackupTargetOptions,
  type BackupTarget,
} from "../src/operations/backup-targets/index.js";
import { AZURITE_KEY, useAzurite } from "./helpers/azurite-server.js";
import { killAll, startChild, tempDir } from "./helpers/child.js";
import { S3RVER_CREDENTIALS, useS3Server } from "./helpers/s3-server.js";

const MIB = 1024 * 1024;
const PART = 5 * MIB;
/** Two full parts and a short third: a real multipart upload / block list on the object stores. */
const BIG = 2 * PART + 123_457;
const BUCKET = "backups";
const CONTAINER = "backups";

// ---- bodies -------------------------------------------------------------------------------------------------------

/** Deterministic pseudo-random bytes (xorshift32 seeded by `seed`), streamed in 64 KiB chunks. */
async function* patternBody(bytes: number, seed: number, failAfter = Infinity): AsyncGenerator<Uint8Array> {
  let state = seed | 1;
  for (let sent = 0; sent < bytes; ) {
    if (sent >= failAfter) throw new Error("the dump broke halfway");
    const chunk = new Uint8Array(Math.min(64 * 1024, bytes - sent));
    const words = new Uint32Array(chunk.buffer, 0, chunk.length >>> 2);
    for (let i = 0; i < words.length; i++) {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      words[i] = state >>> 0;
    }
    chunk.fill(seed & 0xff, words.length * 4);
    sent += chunk.length;
    yield chunk;
  }
}

async function digest(body: AsyncIterable<Uint8Array> | Readable): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const chunk of body as AsyncIterable<Uint8Array>) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { bytes, sha256: hash.digest("hex") };
}

const text = async (body: Readable): Promise<string> => {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks).toString();
};

async function* once(content: string): AsyncGenerator<Uint8Array> {
  yield Buffer.from(content);
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  assert.fail("expected the call to fail");
}

async function typedRejection(promise: Promise<unknown>, code: ErrorCode): Promise<Error> {
  const error = await rejection(promise);
  assert.ok(isStowageError(error, code), `expected ${code}, got ${String(error.stack ?? error)}`);
  return error;
}

const namesOf = (objects: readonly BackupObject[]): string[] => objects.map((object) => object.name);

// ---- the cases every target runs ----------------------------------------------------------------------------------

interface TargetKind {
  /** The URL and options of a target under `prefix`. */
  location(prefix: string): { url: string; options: BackupTargetOptions };
  /** Strings that must never appear in describe() or an error message. */
  secrets(): string[];
  /** A target whose credentials the store refuses (absent for the folder). */
  refused?(): Promise<BackupTarget>;
  /** The names of whatever the store holds besides objects (a folder's temporary files), to check none is left. */
  leftovers?(prefix: string): string[];
}

function targetCases(kind: TargetKind): void {
  const open = (prefix: string, options: BackupTargetOptions = {}): Promise<BackupTarget> => {
    const location = kind.location(prefix);
    return openBackupTarget(location.url, { ...location.options, ...options });
  };

  test("a streamed body of several parts comes back byte for byte; list shows its size", async () => {
    const target = await open("round-trip", { partSize: PART });
    try {
      const name = backupName();
      await target.put(name, patternBody(BIG, 7));
      assert.deepEqual(await digest(await target.get(name)), await digest(patternBody(BIG, 7)));
      const [listed] = await target.list();
      assert.equal(listed?.name, name);
      assert.equal(listed?.size, BIG);
      assert.ok(Math.abs(listed.modified.getTime() - Date.now()) < 10 * 60_000, `modified ${listed.modified.toISOString()}`);
      // An empty body and a body of exactly one part are single writes.
      await target.put("empty", once(""));
      assert.equal(await text(await target.get("empty")), "");
      await target.put("one-part", Readable.from(patternBody(PART, 3)));
      assert.deepEqual(await digest(await target.get("one-part")), await digest(patternBody(PART, 3)));
    } finally {
      await target.close();
    }
  });

  test("list follows paged listings to the end, sorted, and shows only names under its own prefix", async () => {
    const target = await open("paged", { pageSize: 2 });
    const neighbour = await open("paged-neighbour");
    const nested = await open("paged/nested");
    try {
      const names = ["e-5", "a-1", "c-3", "b-2", "d-4", "f-6", "g-7"];
      for (const name of names) await target.put(name, once(`body of ${name}`));
      await neighbour.put("elsewhere", once("not ours"));
      await nested.put("deeper", once("not a direct child"));
      const listed = await target.list();
      assert.deepEqual(namesOf(listed), [...names].sort());
      assert.deepEqual(listed.map((object) => object.size), [...names].sort().map((name) => `body of ${name}`.length));
      assert.deepEqual(namesOf(await neighbour.list()), ["elsewhere"]);
      assert.equal(await text(await target.get("c-3")), "body of c-3");
    } finally {
      await Promise.all([target.close(), neighbour.close(), nested.close()]);
    }
  });

  test("remove takes one object away and is idempotent; get of an absent name is NOT_FOUND naming it", async () => {
    const target = await open("remove");
    try {
      await target.put("keep-me", once("kept"));
      await target.put("drop-me", once("dropped"));
      await target.remove("drop-me");
      await target.remove("drop-me");
      await target.remove("never-there");
      assert.deepEqual(namesOf(await target.list()), ["keep-me"]);
      const error = await typedRejection(target.get("drop-me"), "NOT_FOUND");
      assert.match(error.message, /"drop-me"/);
      assert.ok(error.message.includes(target.describe()), error.message);
      assert.equal(await text(await target.get("keep-me")), "kept");
    } finally {
      await target.close();
    }
  });

  test("an upload whose body fails halfway leaves nothing under its name, and an older object of that name intact", async () => {
    const target = await open("interrupted", { partSize: PART });
    try {
      await target.put("existing", once("the previous backup"));
      // Past two parts: the object stores have started a multipart upload (block list) by then.
      const failedNew = await rejection(target.put("new", patternBody(BIG, 11, 2 * PART + 64 * 1024)));
      assert.equal(failedNew.message, "the dump broke halfway");
      // Within the second part: before the object stores have started anything.
      const failedOver = await rejection(target.put("existing", patternBody(BIG, 11, PART + MIB)));
      assert.equal(failedOver.message, "the dump broke halfway");
      // A small body that fails before its only part is written.
      await rejection(target.put("small", patternBody(MIB, 5, 256 * 1024)));
      await typedRejection(target.get("new"), "NOT_FOUND");
      await typedRejection(target.get("small"), "NOT_FOUND");
      assert.equal(await text(await target.get("existing")), "the previous backup");
      assert.deepEqual(namesOf(await target.list()), ["existing"]);
      assert.deepEqual(kind.leftovers?.("interrupted") ?? [], []);
    } finally {
      await target.close();
    }
  });

  test("an aborted upload rejects with the abort and leaves nothing under its name", async () => {
    const target = await open("aborted", { partSize: PART });
    try {
      const controller = new AbortController();
      async function* abortingBody(): AsyncGenerator<Uint8Array> {
        let sent = 0;
        for await (const chunk of patternBody(BIG, 13)) {
          if (sent >= 2 * PART + 64 * 1024) controller.abort();
          sent += chunk.length;
          yield chunk;
        }
      }
      const error = await rejection(target.put("aborted", abortingBody(), { signal: controller.signal }));
      assert.equal(error.name, "AbortError");
      await typedRejection(target.get("aborted"), "NOT_FOUND");
      assert.deepEqual(await target.list(), []);
      assert.deepEqual(kind.leftovers?.("aborted") ?? [], []);
      const already = await rejection(target.put("late", once("x"), { signal: controller.signal }));
      assert.equal(already.name, "AbortError");
    } finally {
      await target.close();
    }
  });

  test("a process killed halfway through a multipart upload leaves nothing under the name; the next upload of it works", async () => {
    const { url, options } = kind.location("killed");
    const child = startChild("backup-uploader", [url, "killed-upload", JSON.stringify({ ...options, partSize: PART })]);
    try {
      assert.ok(await child.waitFor((lines) => lines.includes("midway"), 30_000), child.describe());
      child.kill("SIGKILL");
      await child.exited;
    } finally {
      await killAll([child]);
    }
    const target = await open("killed");
    try {
      await typedRejection(target.get("killed-upload"), "NOT_FOUND");
      assert.deepEqual(await target.list(), []);
      await target.put("killed-upload", once("whole"));
      assert.equal(await text(await target.get("killed-upload")), "whole");
    } finally {
      await target.close();
    }
  });

  test("pruneBackups removes what the policy lets go over a real listing, never the newest, and leaves other files", async () => {
    const target = await open("retention");
    try {
      const now = new Date("2026-12-03T12:00:00.000Z");
      const hoursAgo = (hours: number) => backupName({ time: new Date(now.getTime() - hours * 3_600_000), id: `h${hours}` });
      for (const hours of [1, 30, 2, 50, 3]) await target.put(hoursAgo(hours), once(`${hours}`));
      await target.put("notes.txt", once("not a backup"));
      const removed = await pruneBackups(target, { keep: 4, maxAgeMs: 48 * 3_600_000 }, { now });
      assert.deepEqual(namesOf(removed), [hoursAgo(50)]);
      assert.deepEqual(namesOf(await target.list()), [hoursAgo(1), hoursAgo(30), hoursAgo(2), hoursAgo(3), "notes.txt"].sort());
      assert.deepEqual(namesOf(await pruneBackups(target, { keep: 2 }, { now })), [hoursAgo(3), hoursAgo(30)]);
      assert.equal((await latestBackup(target))?.name, hoursAgo(1));
      assert.deepEqual(namesOf(await pruneBackups(target, { maxAgeMs: 1 }, { now })), [hoursAgo(2)]);
      assert.deepEqual(namesOf(await target.list()), [hoursAgo(1), "notes.txt"].sort());
    } finally {
      await target.close();
    }
  });

  test("describe() and error messages name the location but never a secret; bad names are INVALID_ARGUMENT", async () => {
    const target = await open("secrets");
    try {
      const shown = [target.describe(), (await typedRejection(target.get("absent"), "NOT_FOUND")).message];
      for (const bad of ["", "../escape", ".hidden", "a/b", "x".repeat(201), "spa ce"]) {
        shown.push((await typedRejection(target.put(bad, once("x")), "INVALID_ARGUMENT")).message);
        shown.push((await typedRejection(target.get(bad), "INVALID_ARGUMENT")).message);
      }
      if (kind.refused !== undefined) {
        const refused = await kind.refused();
        shown.push(refused.describe());
        shown.push((await typedRejection(refused.put("refused", once("x")), "UNAUTHORIZED")).message);
        shown.push((await typedRejection(refused.list(), "UNAUTHORIZED")).message);
        await refused.close();
      }
      for (const message of shown) for (const secret of kind.secrets()) assert.ok(!message.includes(secret), `a secret shows in: ${message}`);
    } finally {
      await target.close();
    }
  });
}

// ---- the targets --------------------------------------------------------------------------------------------------

describe("folder target", () => {
  let folder: ReturnType<typeof tempDir>;
  before(() => {
    folder = tempDir("backup-folder");
  });
  after(() => folder.remove());
  targetCases({
    location: (prefix) => ({ url: join(folder.dir, prefix), options: {} }),
    secrets: () => [],
    leftovers: (prefix) => readdirSync(join(folder.dir, prefix)).filter((name) => name.startsWith(".")),
  });

  test("file:// URLs name the same folder; a URL ending in a backup name opens its folder and names it", async () => {
    const name = backupName({ prefix: "orders-" });
    const target = await openBackupTarget(`file://${join(folder.dir, "by-url")}`);
    await target.put(name, once("by url"));
    const located = await openBackupLocation(join(folder.dir, "by-url", name));
    assert.equal(located.name, name);
    assert.equal(await text(await located.target.get(name)), "by url");
    const whole = await openBackupLocation(`file://${join(folder.dir, "by-url")}`);
    assert.equal(whole.name, undefined);
    assert.equal((await latestBackup(whole.target))?.name, name);
  });

  test("a plain file in the folder's place makes writes fail with a typed error", async () => {
    const blocker = join(folder.dir, "blocked");
    writeFileSync(blocker, "a file, not a folder");
    const target = await openBackupTarget(blocker);
    await typedRejection(target.put("x", once("x")), "BACKEND_UNAVAILABLE");
    await typedRejection(target.get("x"), "NOT_FOUND");
  });
});

describe("s3 target (s3rver)", () => {
  const server = useS3Server([BUCKET]);
  const WRONG_SECRET = "wrong-secret-9f8e7d6c5b4a";
  const url = (prefix: string) => `s3://${BUCKET}/${prefix}?endpoint=${server().endpoint}`;
  targetCases({
    location: (prefix) => ({ url: url(prefix), options: { credentials: S3RVER_CREDENTIALS } }),
    secrets: () => [S3RVER_CREDENTIALS.secretAccessKey, WRONG_SECRET],
    refused: () => openBackupTarget(url("refused"), { credentials: { accessKeyId: "NOT-AN-ACCOUNT", secretAccessKey: WRONG_SECRET } }),
  });

  test("credentials, region and endpoint come from the environment too", async () => {
    const env = { AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER", AWS_REGION: "eu-west-3", AWS_ENDPOINT_URL_S3: server().endpoint };
    const target = await openBackupTarget(`s3://${BUCKET}/from-env`, { env });
    try {
      await target.put("via-env", once("env"));
      assert.equal(await text(await target.get("via-env")), "env");
      assert.equal(target.describe(), `s3://${BUCKET}/from-env/ (region eu-west-3, endpoint ${server().endpoint})`);
      const name = backupName();
      await target.put(name, once("named"));
      const located = await openBackupLocation(`s3://${BUCKET}/from-env/${name}`, { env });
      assert.equal(located.name, name);
      assert.equal(located.target.describe(), target.describe());
      assert.equal(await text(await located.target.get(name)), "named");
      await located.target.close();
    } finally {
      await target.close();
    }
    await typedRejection(openBackupTarget(`s3://${BUCKET}/x`, { env: { AWS_ACCESS_KEY_ID: "only-the-id" } }), "INVALID_ARGUMENT");
  });

  test("a bucket that does not exist is INVALID_ARGUMENT naming it; an unreachable server is BACKEND_UNAVAILABLE", async () => {
    const missing = await openBackupTarget(`s3://no-such-bucket/x?endpoint=${server().endpoint}`, { credentials: S3RVER_CREDENTIALS });
    const error = await typedRejection(missing.list(), "INVALID_ARGUMENT");
    assert.match(error.message, /no-such-bucket.*NoSuchBucket/);
    await missing.close();
    const closedPort = await openBackupTarget(`s3://${BUCKET}/x?endpoint=http://127.0.0.1:1`, { credentials: S3RVER_CREDENTIALS });
    await typedRejection(closedPort.list(), "BACKEND_UNAVAILABLE");
    await closedPort.close();
  });
});

describe("azure target (azurite blob)", () => {
  const server = useAzurite("blob");
  before(async () => {
    await BlobServiceClient.fromConnectionString(server().connectionString).getContainerClient(CONTAINER).create();
  });
  const wrongKey = Buffer.from("not the account key, but 64 bytes long enough to look like one!!").toString("base64");
  targetCases({
    location: (prefix) => ({ url: `azure://${CONTAINER}/${prefix}`, options: { connectionString: server().connectionString } }),
    secrets: () => [AZURITE_KEY, wrongKey],
    refused: () => openBackupTarget(`azure://${CONTAINER}/refused`, { connectionString: server().connectionString.replace(AZURITE_KEY, wrongKey) }),
  });

  test("the connection string comes from AZURE_STORAGE_CONNECTION_STRING too; without one the URL is INVALID_ARGUMENT", async () => {
    const target = await openBackupTarget(`azure://${CONTAINER}/from-env`, { env: { AZURE_STORAGE_CONNECTION_STRING: server().connectionString } });
    await target.put("via-env", once("env"));
    assert.equal(await text(await target.get("via-env")), "env");
    assert.equal(target.describe(), `azure://${CONTAINER}/from-env/ (endpoint ${server().endpoint})`);
    const missing = await typedRejection(openBackupTarget(`azure://${CONTAINER}/x`, { env: {} }), "INVALID_ARGUMENT");
    assert.match(missing.message, /AZURE_STORAGE_CONNECTION_STRING/);
    const garbled = await rejection(openBackupTarget(`azure://${CONTAINER}/x`, { connectionString: `AccountKey=${AZURITE_KEY}` }));
    assert.ok(!garbled.message.includes(AZURITE_KEY), garbled.message);
  });

  test("a container that does not exist is INVALID_ARGUMENT naming it", async () => {
    const target = await openBackupTarget("azure://no-such-container/x", { connectionString: server().connectionString });
    const error = await typedRejection(target.put("x", once("x")), "INVALID_ARGUMENT");
    assert.match(error.message, /no-such-container.*ContainerNotFound/);
  });
});

// ---- without a server ---------------------------------------------------------------------------------------------

describe("target URLs", () => {
  test("s3, azure, file and plain paths parse into their locations", () => {
    assert.deepEqual(parseTargetUrl("s3://my-bucket"), { kind: "s3", bucket: "my-bucket", prefix: "" });
    assert.deepEqual(parseTargetUrl("s3://my-bucket/a/b?endpoint=http://127.0.0.1:9000&region=eu-west-1&forcePathStyle=false"), {
      kind: "s3",
      bucket: "my-bucket",
      prefix: "a/b/",
      endpoint: "http://127.0.0.1:9000",
      region: "eu-west-1",
      forcePathStyle: false,
    });
    assert.deepEqual(parseTargetUrl("azure://backups/orders/"), { kind: "azure", container: "backups", prefix: "orders/" });
    assert.deepEqual(parseTargetUrl("file:///var/backups/stowage"), { kind: "folder", folder: "/var/backups/stowage" });
    assert.deepEqual(parseTargetUrl("/var/backups"), { kind: "folder", folder: "/var/backups" });
    assert.deepEqual(parseTargetUrl("relative/dir"), { kind: "folder", folder: join(process.cwd(), "relative/dir") });
  });

  test("bad URLs are INVALID_ARGUMENT, and credentials in one are never repeated", async () => {
    const bad = [
      "",
      "gs://bucket/x",
      "s3://Upper_Case/x",
      "s3://ab",
      "s3://bucket/x?acl=private",
      "s3://bucket/x?forcePathStyle=maybe",
      "s3://bucket/a%20b/x",
      "s3://bucket/.hidden/x",
      "s3://bucket/a//b",
      "s3://bucket/x#frag",
      "azure://bad--name/x",
      "azure://backups/x?sv=2020&sig=SIGSECRET",
      "file://host/path",
    ];
    for (const url of bad) assert.throws(() => parseTargetUrl(url), (error) => isStowageError(error, "INVALID_ARGUMENT"), url);
    const withUser = await typedRejection(openBackupTarget("s3://AKIDSECRET:PWSECRET@bucket/x"), "INVALID_ARGUMENT");
    assert.ok(!/AKIDSECRET|PWSECRET/.test(withUser.message), withUser.message);
    const endpointUser = await typedRejection(openBackupTarget("s3://bucket/x", { endpoint: "http://AKIDSECRET:PWSECRET@127.0.0.1:9" }), "INVALID_ARGUMENT");
    assert.ok(!/AKIDSECRET|PWSECRET/.test(endpointUser.message), endpointUser.message);
    const query = await typedRejection(openBackupTarget("azure://backups/x?sig=SIGSECRET", { connectionString: "x" }), "INVALID_ARGUMENT");
    assert.ok(!query.message.includes("SIGSECRET"), query.message);
    await typedRejection(openBackupTarget("s3://bucket/x", { partSize: MIB }), "INVALID_ARGUMENT");
    await typedRejection(openBackupTarget("s3://bucket/x", { pageSize: 0 }), "INVALID_ARGUMENT");
    await typedRejection(openBackupTarget("s3://bucket/x", { region: "Not A Region" }), "INVALID_ARGUMENT");
    await typedRejection(openBackupTarget("s3://bucket/x", { endpoint: "ftp://127.0.0.1" }), "INVALID_ARGUMENT");
  });

  test("an optional SDK that is not installed is NOT_SUPPORTED naming the package and its install command", async () => {
    const error = await typedRejection(loadOptionalPackage("@stowage-test/no-such-sdk", "the s3 backup target"), "NOT_SUPPORTED");
    assert.equal(error.message, 'NOT_SUPPORTED: the s3 backup target needs the npm package "@stowage-test/no-such-sdk": npm install @stowage-test/no-such-sdk');
  });
});

describe("body parts", () => {
  test("a body is cut into parts of exactly partSize (the last shorter), read at most two parts ahead", async () => {
    const partSize = 1000;
    let pulled = 0;
    async function* counted(sizes: number[]): AsyncGenerator<Uint8Array> {
      for (const [i, size] of sizes.entries()) {
        pulled += size;
        yield new Uint8Array(size).fill(i);
      }
    }
    // Chunks smaller than, equal to and larger than a part.
    const sizes = [300, 300, 300, 1000, 2500, 7, 993, 450];
    const total = sizes.reduce((sum, size) => sum + size, 0);
    const split = await splitBody(counted(sizes), partSize);
    assert.ok("parts" in split);
    assert.ok(pulled <= 2 * partSize + 2500, `read ${pulled} bytes ahead before the first part`);
    const parts: Buffer[] = [];
    for await (const part of split.parts) {
      parts.push(part);
      const consumed = parts.reduce((sum, one) => sum + one.length, 0);
      assert.ok(pulled - consumed <= partSize + 2500, `holding ${pulled - consumed} bytes after part ${parts.length}`);
    }
    assert.deepEqual(parts.map((part) => part.length), [1000, 1000, 1000, 1000, 1000, 850]);
    assert.deepEqual(Buffer.concat(parts), Buffer.concat(sizes.map((size, i) => Buffer.alloc(size, i))));
    assert.equal(total, 5850);
    // A body of one part or less is a single write, an empty one included.
    assert.deepEqual(await splitBody(counted([1000]), partSize), { single: Buffer.alloc(1000, 0) });
    assert.deepEqual(await splitBody(counted([]), partSize), { single: Buffer.alloc(0) });
  });
});

describe("backup names and retention", () => {
  test("names carry their prefix, UTC time and id, sort by time, and parse back", () => {
    const times = ["2026-01-02T03:04:05.006Z", "2026-11-30T23:59:59.999Z", "2027-01-01T00:00:00.000Z"].map((iso) => new Date(iso));
    const names = times.map((time, i) => backupName({ prefix: "orders-", time, id: `id${i}` }));
    assert.equal(names[0], "orders-stowage-2026-01-02T03-04-05-006Z-id0.dump.gz");
    assert.deepEqual([...names].reverse().sort(), names);
    assert.deepEqual(parseBackupName(names[1]!), { prefix: "orders-", time: times[1], id: "id1" });
    assert.match(backupName(), /^stowage-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z-[0-9a-f]{8}\.dump\.gz$/);
    assert.equal(parseBackupName(backupName({ extension: "" }))?.prefix, "");
    for (const other of ["notes.txt", "stowage-2026-13-45T99-00-00-000Z-x.dump.gz", "stowage-2026-01-02T03-04-05-006Z-ID.dump.gz"]) assert.equal(parseBackupName(other), undefined, other);
    for (const bad of [{ prefix: "../" }, { id: "UPPER" }, { extension: "gz" }, { time: new Date(Number.NaN) }]) {
      assert.throws(() => backupName(bad), (error) => isStowageError(error, "INVALID_ARGUMENT"), JSON.stringify(bad));
    }
  });

  test("the policy removes beyond keep or past maxAgeMs, by the time in the name, never the newest, only backups of the prefix", () => {
    const now = new Date("2026-12-03T12:00:00.000Z");
    const object = (name: string): BackupObject => ({ name, size: 1, modified: now });
    const at = (prefix: string, days: number) => object(backupName({ prefix, time: new Date(now.getTime() - days * 86_400_000), id: "a" }));
    const objects = [at("", 3), at("", 0.5), at("", 10), at("", 1), at("other-", 40), object("notes.txt")];
    const names = (policy: Parameters<typeof expiredBackups>[1], scope = {}) => namesOf(expiredBackups(objects, policy, { now, ...scope }));
    assert.deepEqual(names({}), []);
    assert.deepEqual(names({ keep: 2 }, { namePrefix: "" }), [at("", 3).name, at("", 10).name]);
    assert.deepEqual(names({ maxAgeMs: 2 * 86_400_000 }, { namePrefix: "" }), [at("", 3).name, at("", 10).name]);
    assert.deepEqual(names({ keep: 3, maxAgeMs: 5 * 86_400_000 }), [at("", 10).name, at("other-", 40).name]);
    // Every backup too old: the newest still stays.
    assert.deepEqual(names({ maxAgeMs: 1 }, { namePrefix: "" }), [at("", 1).name, at("", 3).name, at("", 10).name]);
    assert.deepEqual(names({ keep: 1 }, { namePrefix: "other-" }), []);
    for (const bad of [{ keep: 0 }, { keep: 1.5 }, { maxAgeMs: -1 }, { maxAgeMs: Number.NaN }]) {
      assert.throws(() => expiredBackups(objects, bad), (error) => isStowageError(error, "INVALID_ARGUMENT"), JSON.stringify(bad));
    }
  });
});
