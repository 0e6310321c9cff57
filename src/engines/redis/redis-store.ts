import { isAscii } from "node:buffer";
import type { Redis as RedisClient, RedisOptions } from "ioredis";
import { StowageError } from "../../api/errors.js";
import type { OrderedCheck, OrderedCommit, OrderedEntry, OrderedLimits, OrderedRangeOptions, OrderedSnapshot, OrderedStore } from "../ordered/ordered-store.js";
import { asBuffer } from "../ordered/key-layout.js";
import { loadDriver } from "../load-driver.js";
import { tlsRefusal } from "../tls-failure.js";
import { readTlsFiles, type TlsFileOptions, type TlsMaterial } from "../tls-files.js";
import { TickBatcher } from "../tick-batcher.js";
import { mapRedisError, redisLocation } from "./redis-errors.js";
import { COMMIT_SCRIPT, COMMIT_SHA, COUNT_SCRIPT, GET_SCRIPT, RANGE_SCRIPT } from "./redis-scripts.js";

/** The server a Redis store talks to unless told otherwise. */
export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";
/** The start of every key (and of the channel) of a store, so that one Redis database holds several stores. */
export const DEFAULT_REDIS_PREFIX = "stowage:";

/** How long opening waits for the connection, in ms. */
export const REDIS_CONNECT_TIMEOUT_MS = 5_000;
/** How long a call waits for its reply before BACKEND_UNAVAILABLE unless told otherwise, in ms: room for a 64 MiB commit fsynced by the AOF. */
export const DEFAULT_REDIS_TIMEOUT_MS = 30_000;

export interface RedisStoreOptions extends TlsFileOptions {
  /**
   * `redis://[user:password@]host:port[/db]` or `rediss://` for TLS (default {@link DEFAULT_REDIS_URL}); the TLS
   * files (`tlsCaFile`, …) need `rediss://`.
   */
  url?: string;
  /** The start of this store's keys and channel (default {@link DEFAULT_REDIS_PREFIX}). */
  prefix?: string;
  /**
   * How long one call waits for its reply before it fails BACKEND_UNAVAILABLE, in ms (default
   * {@link DEFAULT_REDIS_TIMEOUT_MS}); a commit is one call, so this must leave room for the largest commit.
   */
  requestTimeoutMs?: number;
}

/**
 * Redis's limits. Values: `proto-max-bulk-len`, Redis's default bound of one argument (512 MiB); a server configured
 * lower refuses longer ones with an error. Keys: 64 KiB, this store's bound (a key is a sorted-set member compared on
 * every lookup near it, and stowage needs about 1,100 bytes). Commits: 64 MiB of keys and values. A commit is one
 * script call carrying its writes and the values its checks compare, and Redis runs a script alone: every other client
 * waits for it, and the whole call must fit `client-query-buffer-limit` (1 GiB by default). Larger groups of writes
 * are split by the family at this bound; stowage's own transaction limit (16 MiB) is well inside it.
 */
export const REDIS_LIMITS: OrderedLimits = Object.freeze({
  maxKeyBytes: 65_536,
  maxValueBytes: 512 * 1024 * 1024,
  maxWritesPerCommit: null,
  maxBytesPerCommit: 64 * 1024 * 1024,
});

/** Most point reads one HMGET carries. */
const MAX_POINT_READS = 256;

/** The scripts as ioredis commands (EVALSHA, falling back to EVAL when the server does not know the script yet). */
interface ScriptedClient extends RedisClient {
  stowageGetBuffer(index: string, values: string, counter: string, key: string | Buffer): Promise<[Buffer, Buffer | null]>;
  stowageRangeBuffer(index: string, values: string, counter: string, ...args: Array<Buffer | string>): Promise<Buffer[]>;
  stowageCount(index: string, values: string, counter: string): Promise<[number, number]>;
}

/**
 * Connects to Redis and returns the store. Fails BACKEND_UNAVAILABLE, naming the server (never its password), when
 * the server cannot be reached within {@link REDIS_CONNECT_TIMEOUT_MS}; UNAUTHORIZED when it refuses the URL's
 * credentials or the TLS check fails (either side's certificate).
 *
 * @example
 * ```ts
 * const store = await openRedisStore({ url: "redis://127.0.0.1:6379", prefix: "orders:" });
 * ```
 */
export async function openRedisStore(options: RedisStoreOptions = {}): Promise<RedisStore> {
  const url = options.url ?? DEFAULT_REDIS_URL;
  const prefix = options.prefix ?? DEFAULT_REDIS_PREFIX;
  const location = `${redisLocation(url)} (prefix "${prefix}")`;
  const tls = readTlsFiles(options, "redis");
  if (tls !== undefined && !url.startsWith("rediss://")) {
    throw new StowageError("INVALID_ARGUMENT", `the redis engine's TLS files (tlsCaFile, tlsCertFile, tlsKeyFile) need a rediss:// url, got ${redisLocation(url)}`);
  }
  // Loaded on open, so that a store without Redis never loads (or needs) the driver.
  const { Redis } = await loadDriver<typeof import("ioredis")>("ioredis", "redis");
  const client = new Redis(url, clientOptions(tls, options.requestTimeoutMs ?? DEFAULT_REDIS_TIMEOUT_MS)) as ScriptedClient;
  // ioredis reports connection trouble as events too; the calls fail with their own errors, so these are dropped,
  // except while connecting: `connect()` rejects with "Connection is closed." whatever closed it.
  const seen: unknown[] = [];
  const keep = (error: unknown) => {
    if (seen.length < 10) seen.push(error);
  };
  client.on("error", () => undefined);
  client.on("error", keep);
  for (const [name, lua] of [["stowageGet", GET_SCRIPT], ["stowageRange", RANGE_SCRIPT], ["stowageCount", COUNT_SCRIPT]] as const) {
    client.defineCommand(name, { numberOfKeys: 3, lua });
  }
  try {
    await client.connect();
  } catch (error) {
    client.disconnect();
    throw await connectFailure(url, tls, [...seen, error], location);
  } finally {
    client.off("error", keep);
  }
  return new RedisStore(location, prefix, client);
}

/**
 * Why connecting failed, from the errors it raised: a refusal of the client first (UNAUTHORIZED), else the first
 * error. Over TLS, a connection reset before the store could use it is asked about again with {@link tlsRefusal}: a
 * server that refuses the client's certificate (TLS 1.3) usually shows the driver a reset rather than its alert.
 */
async function connectFailure(url: string, tls: TlsMaterial | undefined, errors: readonly unknown[], location: string): Promise<StowageError> {
  const typed = errors.map((error) => mapRedisError(error, location, "connecting"));
  const refused = typed.find((error) => error.code === "UNAUTHORIZED");
  if (refused !== undefined) return refused;
  if (url.startsWith("rediss://") && errors.some((error) => /ECONNRESET|EPIPE/.test(String((error as NodeJS.ErrnoException)?.code)))) {
    const { hostname, port } = new URL(url);
    const refusal = await tlsRefusal(hostname.replace(/^\[|\]$/g, "") || "localhost", Number(port || 6379), tls);
    if (refusal !== undefined) return mapRedisError(refusal, location, "connecting");
  }
  return typed[0] as StowageError;
}

/**
 * Never a hang: a call made while the connection is down fails at once (no offline queue), a call in flight when it
 * drops fails rather than being sent again (a commit sent twice could apply over a newer commit), and every reply has
 * a deadline. ioredis keeps reconnecting in the background, so the store works again once the server is back.
 */
function clientOptions(tls: TlsMaterial | undefined, commandTimeoutMs: number): RedisOptions {
  return {
    // Merged into Node's TLS options when the URL is rediss:// (the system's CAs where no CA file is named).
    ...(tls === undefined ? {} : { tls }),
    lazyConnect: true,
    connectTimeout: REDIS_CONNECT_TIMEOUT_MS,
    commandTimeout: commandTimeoutMs,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    retryStrategy: (times: number) => Math.min(times * 100, 2_000),
  };
}

/**
 * An {@link OrderedStore} on a Redis server: a sorted set orders the keys, a hash holds the values, a counter counts
 * the commits, all under the store's prefix (see `redis-scripts.ts`). Every read and every commit is one Lua script,
 * atomic on the server. A commit checks its reads and applies its writes in one script, and replies once Redis wrote
 * it to the AOF (fsynced first with `appendfsync always`).
 *
 * Snapshots. Redis has no snapshot reads: each script reads the latest data. A snapshot of this store is therefore a
 * promise checked after the fact: each read returns the commit counter with its result, and the snapshot is
 * {@link OrderedSnapshot.consistent} while every read saw the same counter, i.e. no commit landed between its first
 * and its last read, so all its reads saw one point in time. The family asks, and for work that does not commit
 * (read-only operations and transactions, groups whose every write was refused) validates a torn snapshot's reads
 * with `commit({ checks, writes: [] })`, or runs the work again. Work that commits needs nothing more: its commit checks
 * every read against the latest data, which holds all of them at once only if they are consistent.
 */
export class RedisStore implements OrderedStore {
  readonly name = "redis";
  readonly limits = REDIS_LIMITS;
  /** Any client of the server may commit at any time. */
  readonly singleWriter = false;
  /** The commit script reads each check's key itself. */
  readonly verifiesEachCheck = true;
  private readonly keys: readonly [index: string, values: string, counter: string];
  private readonly channel: string;
  private subscriber: RedisClient | undefined;
  private readonly watchers = new Set<() => void>();
  private closed = false;
  /** See {@link singleReadSnapshot}. */
  private readonly pointReads = new TickBatcher<string | Buffer, Buffer | undefined>(
    (keys) => this.readValues(keys),
    MAX_POINT_READS,
    (key) => this.readValue(key),
  );
  private readonly readFailed = (error: unknown): never => {
    throw mapRedisError(error, this.location, "a read");
  };

  constructor(
    readonly location: string,
    prefix: string,
    private readonly client: ScriptedClient,
  ) {
    this.keys = [`${prefix}index`, `${prefix}values`, `${prefix}commits`];
    this.channel = `${prefix}commits`;
  }

  /** No round trip: a snapshot is the reads it will make (see the class comment). */
  snapshot(): Promise<OrderedSnapshot> {
    this.refuseClosed();
    return Promise.resolve(new RedisSnapshot(this));
  }

  /**
   * Plain reads of the values' hash: one command is atomic, and a single read needs no commit counter. A read asked
   * while none is in flight goes at once as HGET; the reads asked meanwhile, in one turn of the event loop, go as one
   * HMGET: one request for all of them, whose values are of one point in time, within each read's call.
   */
  singleReadSnapshot(): OrderedSnapshot {
    return {
      get: (key) => {
        this.refuseClosed();
        return this.pointReads.submit(wireKey(key));
      },
      range: () => Promise.reject(new StowageError("INTERNAL", "a single-read snapshot of the Redis store was asked for a range")),
      release: () => undefined,
    };
  }

  commit(commit: OrderedCommit): Promise<boolean> {
    try {
      this.refuseClosed();
    } catch (error) {
      return Promise.reject(error);
    }
    const [index, values, counter] = this.keys;
    const args: Array<Buffer | string> = [COMMIT_SHA, "3", index, values, counter, this.channel, String(commit.checks.length)];
    for (const check of commit.checks) encodeCheck(check, args);
    args.push(String(commit.writes.length));
    for (const write of commit.writes) {
      if (write.value === undefined) args.push("d", wireKey(write.key));
      else args.push("p", wireKey(write.key), asBuffer(write.value));
    }
    // EVALSHA, and the script's text (EVAL) where the server does not know it yet (a new or restarted server): NOSCRIPT
    // means the script did not run, so sending it again is safe. Sent as a plain command rather than through ioredis's
    // defineCommand, whose wrapper (a command subclass, a closure and a promise more per call) cost ~10 µs a commit here.
    return this.client.call("EVALSHA", args).then(isApplied, (error: unknown) => {
      if (!(error instanceof Error && error.message.startsWith("NOSCRIPT"))) return this.commitFailed(error);
      args[0] = COMMIT_SCRIPT;
      return this.client.call("EVAL", args).then(isApplied, this.commitFailed);
    });
  }

  private readonly commitFailed = (error: unknown): never => {
    throw mapRedisError(error, this.location, "a commit (its outcome is unknown when the connection dropped)");
  };

  /** The value of `key` (undefined: absent), by HGET. */
  private readValue(key: string | Buffer): Promise<Buffer | undefined> {
    return this.client.hgetBuffer(this.keys[1], key).then(presentValue, this.readFailed);
  }

  /** The values of `keys` (undefined: absent), read at one point in time. */
  private readValues(keys: Array<string | Buffer>): Promise<Array<Buffer | undefined>> {
    if (keys.length === 1) return this.readValue(keys[0] as string | Buffer).then((value) => [value]);
    return this.client.hmgetBuffer(this.keys[1], ...keys).then((found) => found.map(presentValue), this.readFailed);
  }

  /** One read: the counter it saw, and its result. */
  async get(key: Uint8Array): Promise<[version: string, value: Buffer | undefined]> {
    this.refuseClosed();
    const [version, value] = await this.call("a read", () => this.client.stowageGetBuffer(...this.keys, wireKey(key)));
    return [version.toString("latin1"), value ?? undefined];
  }

  async range(start: Uint8Array, end: Uint8Array, options: OrderedRangeOptions): Promise<[version: string, entries: OrderedEntry[]]> {
    this.refuseClosed();
    const reply = await this.call("a read", () => this.client.stowageRangeBuffer(...this.keys, ...rangeArgs(start, end, options)));
    const entries: OrderedEntry[] = [];
    for (let i = 1; i < reply.length; i += 2) {
      const value = reply[i + 1];
      if (!(value instanceof Buffer)) throw new StowageError("CORRUPT", `the Redis store at ${this.location} indexes a key without a value`);
      entries.push([reply[i] as Buffer, value]);
    }
    return [(reply[0] as Buffer).toString("latin1"), entries];
  }

  /**
   * Subscribes (on a connection of its own, opened with the first watcher and closed with the last) to the channel
   * every commit publishes on; calls `notify` on each message, and after each reconnection, since messages published
   * while the connection was down are lost.
   */
  watchCommits(notify: () => void): () => void {
    this.watchers.add(notify);
    if (this.subscriber === undefined) {
      // Subscribed on every "ready" (the first connection and each reconnection) rather than by ioredis's own
      // resubscription, which only renews a subscription that once succeeded.
      const subscriber = this.client.duplicate({ lazyConnect: false, autoResubscribe: false });
      subscriber.on("error", () => undefined);
      subscriber.on("message", () => this.notifyAll());
      subscriber.on("ready", () => {
        subscriber.subscribe(this.channel).catch(() => undefined);
        this.notifyAll();
      });
      this.subscriber = subscriber;
    }
    return () => {
      this.watchers.delete(notify);
      if (this.watchers.size === 0) this.unsubscribe();
    };
  }

  /**
   * The server's settings this store's promises rest on (what `durability` says they give), so that health can flag
   * a Redis without its AOF or that may evict keys (see {@link warnings}), and the store's size.
   */
  async facts(): Promise<Record<string, number | string | boolean>> {
    this.refuseClosed();
    const [info, persistence, appendfsync, maxmemoryPolicy, [entries]] = await Promise.all([
      this.call("reading facts", () => this.client.info("server")),
      this.call("reading facts", () => this.client.info("persistence")),
      this.setting("appendfsync"),
      this.setting("maxmemory-policy"),
      this.call("reading facts", () => this.client.stowageCount(...this.keys)),
    ]);
    const appendonly = infoField(persistence, "aof_enabled") === "1";
    return {
      redisVersion: infoField(info, "redis_version") ?? "unknown",
      appendonly,
      appendfsync,
      durability: durabilityOf(appendonly, appendfsync),
      maxmemoryPolicy,
      entries,
    };
  }

  /**
   * Degraded when a restart of the Redis process alone may lose resolved commits (no AOF) or keys may vanish (an
   * evicting `maxmemory-policy`). An AOF fsynced every second (or by the OS) is not: it survives the Redis process's
   * crash and loses only the last moments of commits in an OS crash or power cut, a trade many deployments choose on
   * purpose; the `durability` fact says so, and a health status that stayed degraded for a chosen setting would teach
   * operators to ignore it.
   */
  warnings(facts: Record<string, number | string | boolean>): string[] {
    const warnings: string[] = [];
    if (facts.appendonly === false) {
      warnings.push(`the Redis server of ${this.location} runs without its AOF (appendonly no): a restart loses every commit since its last RDB snapshot, or all of them without one`);
    }
    const policy = facts.maxmemoryPolicy;
    if (typeof policy === "string" && policy !== "noeviction" && policy !== "unknown") {
      warnings.push(`the Redis server of ${this.location} may evict this store's keys (maxmemory-policy ${policy}; stowage needs noeviction)`);
    }
    return warnings;
  }

  /** The index and the hash must hold the same keys; a differing count is reported (one script, one point in time). */
  async check(): Promise<string[]> {
    const [indexed, values] = await this.call("a check", () => this.client.stowageCount(...this.keys));
    return indexed === values ? [] : [`the Redis store at ${this.location} indexes ${indexed} keys but holds ${values} values`];
  }

  /** Closes both connections; the family calls it after its last commit settled. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.watchers.clear();
    this.unsubscribe();
    await this.client.quit().catch(() => this.client.disconnect());
  }

  /** A server setting, or "unknown" where CONFIG is not allowed (a managed Redis may rename it away). */
  private setting(name: string): Promise<string> {
    return this.client.config("GET", name).then(
      (pair) => String((pair as string[])[1] ?? "unknown"),
      () => "unknown",
    );
  }

  private notifyAll(): void {
    for (const notify of this.watchers) notify();
  }

  private unsubscribe(): void {
    this.subscriber?.disconnect();
    this.subscriber = undefined;
  }

  private async call<T>(during: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw mapRedisError(error, this.location, during);
    }
  }

  refuseClosed(): void {
    if (this.closed) throw new StowageError("CLOSED", `the Redis store at ${this.location} is closed`);
  }
}

/**
 * Reads of the latest data, each with the commit counter it saw; consistent while all saw the same one. Once a read
 * found the server unreachable, the snapshot's later reads fail at once with that error: the work it serves fails
 * anyway, and a group of writes reads one after another, each read otherwise waiting out its own timeout.
 */
class RedisSnapshot implements OrderedSnapshot {
  private version: string | undefined;
  private torn = false;
  private unreachable: StowageError | undefined;

  constructor(private readonly store: RedisStore) {}

  get(key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.read(() => this.store.get(key));
  }

  async range(start: Uint8Array, end: Uint8Array, options: OrderedRangeOptions = {}): Promise<OrderedEntry[]> {
    if (Buffer.compare(start, end) >= 0 || options.limit === 0) return [];
    return this.read(() => this.store.range(start, end, options));
  }

  consistent(): boolean {
    return !this.torn;
  }

  /** Nothing to free: the snapshot holds nothing on the server. */
  release(): void {}

  private async read<T>(run: () => Promise<[version: string, result: T]>): Promise<T> {
    if (this.unreachable !== undefined) throw this.unreachable;
    try {
      const [version, result] = await run();
      this.saw(version);
      return result;
    } catch (error) {
      if (error instanceof StowageError && error.code === "BACKEND_UNAVAILABLE") this.unreachable = error;
      throw error;
    }
  }

  private saw(version: string): void {
    if (this.version === undefined) this.version = version;
    else if (this.version !== version) this.torn = true;
  }
}

/**
 * A key as the client sends it: an ASCII one (most) as a string, which ioredis writes with the command in one
 * string (a Buffer argument costs it a buffer assembled from parts, ~2.5 µs a call here); any other as its bytes
 * (a string would go as UTF-8, changing bytes above 0x7F).
 */
const wireKey = (key: Uint8Array): string | Buffer => (isAscii(key) ? asBuffer(key).toString("latin1") : asBuffer(key));

/** A reply's value: null (absent) as undefined. */
const presentValue = (value: Buffer | null): Buffer | undefined => value ?? undefined;

const isApplied = (applied: unknown): boolean => applied === 1;

function rangeArgs(start: Uint8Array, end: Uint8Array, options: OrderedRangeOptions): Array<Buffer | string> {
  return [wireKey(start), wireKey(end), String(options.limit ?? -1), options.reverse === true ? "1" : "0"];
}

/** A check as the commit script reads it (see `COMMIT_SCRIPT`). */
function encodeCheck(check: OrderedCheck, args: Array<Buffer | string>): void {
  if (check.kind === "get") {
    if (check.value === undefined) args.push("g", wireKey(check.key), "0");
    else args.push("g", wireKey(check.key), "1", asBuffer(check.value));
    return;
  }
  // An empty range (start ≥ end, or limit 0) holds whatever the data: the script's range query finds none either.
  args.push("r", ...rangeArgs(check.start, check.end, check.options), String(check.entries.length));
  for (const [key, value] of check.entries) args.push(wireKey(key), asBuffer(value));
}

/** What a resolved commit survives under these settings, in a few words (the README's redis section says more). */
function durabilityOf(appendonly: boolean, appendfsync: string): string {
  if (!appendonly) return "no AOF: a restart of Redis loses the commits since its last RDB snapshot";
  switch (appendfsync) {
    case "always":
      return "every commit fsynced to the AOF before its reply: survives a crash of Redis, of the OS and a power cut";
    case "everysec":
      return "AOF fsynced about once a second: survives a crash of Redis; an OS crash or power cut may lose the last 1-2 s of commits";
    case "no":
      return "AOF flushed when the OS chooses: survives a crash of Redis; an OS crash or power cut may lose the last ~30 s of commits";
    default:
      return `AOF on, appendfsync ${appendfsync}`;
  }
}

function infoField(info: string, name: string): string | undefined {
  const line = info.split("\r\n").find((candidate) => candidate.startsWith(`${name}:`));
  return line?.slice(name.length + 1);
}
