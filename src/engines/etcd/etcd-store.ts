import { MAX_KEY_PREFIX_BYTES } from "../engine-fields.js";
import type { Etcd3, IKeyValue, IRangeRequest, IRequestOp, Watcher } from "etcd3";
import { StowageError } from "../../api/errors.js";
import type { OrderedCommit, OrderedEntry, OrderedLimits, OrderedRangeOptions, OrderedSnapshot, OrderedStore } from "../ordered/ordered-store.js";
import { Mutex } from "../mutex.js";
import { namesTlsFiles, readTlsFiles, type TlsFileOptions } from "../tls-files.js";
import { connectEtcd, type EtcdAccess } from "./etcd-client.js";
import { comparesOf, MAX_TXN_OPS, type RecordedGet, type RecordedRange } from "./etcd-compares.js";
import { mapEtcdError } from "./etcd-errors.js";

export const DEFAULT_ETCD_ENDPOINTS = "http://127.0.0.1:2379";
export const DEFAULT_ETCD_PREFIX = "stowage/";
/** How long one request may take before it fails BACKEND_UNAVAILABLE (etcd3 would otherwise wait for a connection). */
export const DEFAULT_ETCD_TIMEOUT_MS = 5_000;

export interface EtcdStoreOptions extends TlsFileOptions {
  /** The cluster's client URLs, comma-separated (default {@link DEFAULT_ETCD_ENDPOINTS}). */
  endpoints?: string;
  /** The prefix of every key this store writes (default {@link DEFAULT_ETCD_PREFIX}): stores with different prefixes share a cluster. */
  prefix?: string;
  /** The deadline of each request, in ms (default {@link DEFAULT_ETCD_TIMEOUT_MS}). */
  requestTimeoutMs?: number;
  /** The etcd user the store authenticates as (with {@link password}), on a cluster with auth enabled. */
  username?: string;
  /** The user's password: sent to etcd only, never shown in the store's location, info, health or errors. */
  password?: string;
}

/**
 * etcd's limits at its defaults: a request (a whole commit, its compares included) of at most 1.5 MiB
 * (`--max-request-bytes`) and 128 operations per transaction (`--max-txn-ops`). A commit is one transaction: its
 * writes and the commit marker's put take 128 operations at most, so 127 writes; their bytes are held to 1.25 MiB,
 * leaving a quarter MiB of the request for the compares (a key and a revision each) and the framing. Values: a 1 MiB
 * value and its record header must fit one request with the rest of its commit. Keys: etcd has no limit of its own
 * below the request's; 4 KiB is this store's, far above stowage's 1,024 bytes and the family's prefix.
 */
export const ETCD_LIMITS: OrderedLimits = Object.freeze({
  maxKeyBytes: 4096,
  maxValueBytes: 1_048_576 + 8192,
  maxWritesPerCommit: 127,
  maxBytesPerCommit: 1_310_720,
});

/**
 * The longest prefix: every key and compare of a commit carries it, within the room {@link ETCD_LIMITS} leaves in a
 * request beside the keys and values.
 */
export const MAX_PREFIX_BYTES = MAX_KEY_PREFIX_BYTES;


/**
 * Opens an etcd key space (the keys under `prefix` on the cluster at `endpoints`) as an {@link OrderedStore}. Nothing
 * is sent until the first read; an unreachable cluster fails that read BACKEND_UNAVAILABLE after `requestTimeoutMs`,
 * refused credentials or a failed TLS check fail it UNAUTHORIZED. `username` and `password` log in as an etcd user;
 * `https://` endpoints use TLS, with the CA of `tlsCaFile` (else the system's) and the client certificate of
 * `tlsCertFile` and `tlsKeyFile` where the cluster checks client certificates (`--client-cert-auth`).
 *
 * @example
 * ```ts
 * const store = await openEtcdStore({ endpoints: "http://10.0.0.5:2379", prefix: "orders/" });
 * ```
 */
export async function openEtcdStore(options: EtcdStoreOptions = {}): Promise<EtcdStore> {
  const hosts = (options.endpoints ?? DEFAULT_ETCD_ENDPOINTS).split(",").map((host) => host.trim()).filter((host) => host !== "");
  const prefix = options.prefix ?? DEFAULT_ETCD_PREFIX;
  if (hosts.length === 0) throw new StowageError("INVALID_ARGUMENT", "endpoints must name at least one etcd client URL");
  if (prefix.length === 0 || Buffer.byteLength(prefix) > MAX_PREFIX_BYTES) {
    throw new StowageError("INVALID_ARGUMENT", `prefix must be 1 to ${MAX_PREFIX_BYTES} bytes (etcd refuses the empty key), got ${JSON.stringify(prefix)}`);
  }
  const timeoutMs = options.requestTimeoutMs ?? DEFAULT_ETCD_TIMEOUT_MS;
  const access = accessOf(options, hosts);
  const client = await connectEtcd(hosts, timeoutMs, access);
  const user = access.user === undefined ? "" : ` user ${JSON.stringify(access.user.username)}`;
  return new EtcdStore(`${hosts.join(",")} prefix ${JSON.stringify(prefix)}${user}`, client, Buffer.from(prefix, "utf8"));
}

/** The user and TLS files of `options`, checked: a user needs both names, TLS files need https:// endpoints. */
function accessOf(options: EtcdStoreOptions, hosts: readonly string[]): EtcdAccess {
  const access: EtcdAccess = {};
  if ((options.username === undefined) !== (options.password === undefined)) {
    throw new StowageError("INVALID_ARGUMENT", `the etcd engine's username and password go together: ${options.username === undefined ? "a password needs its username" : `user ${JSON.stringify(options.username)} needs a password`}`);
  }
  if (options.username !== undefined && options.password !== undefined) access.user = { username: options.username, password: options.password };
  if (namesTlsFiles(options) && !hosts.every((host) => host.startsWith("https://"))) {
    throw new StowageError("INVALID_ARGUMENT", "the etcd engine's TLS files (tlsCaFile, tlsCertFile, tlsKeyFile) need https:// endpoints, and every endpoint is then reached over TLS");
  }
  const tls = readTlsFiles(options, "etcd");
  if (tls !== undefined) access.tls = tls;
  return access;
}

/**
 * etcd through etcd3: a replicated key space (raft) whose every commit is one transaction, fsynced to a majority's
 * write-ahead log before it answers. Keys live under the store's prefix. A snapshot is a revision of the key space:
 * its first read fixes it, the others read at it. Other processes' commits arrive through a watch of the prefix.
 */
export class EtcdStore implements OrderedStore {
  readonly name = "etcd";
  readonly limits = ETCD_LIMITS;
  /** Any number of processes, on any number of machines, commit to one cluster. */
  readonly singleWriter = false;
  /** A compare per check (see `etcd-compares.ts`), whether a snapshot read it or not. */
  readonly verifiesEachCheck = true;
  /** Snapshots that have not read yet, so have no revision: a commit of this store pins them first (see `pinUnread`). */
  readonly unread = new Set<EtcdSnapshot>();
  /** The first reads of snapshots in flight, each fixing its snapshot's revision: a commit waits for them (see `pinUnread`). */
  readonly fixing = new Set<Promise<string>>();
  /** What this store's snapshots read, by the key (or range start) object they were asked for; see `etcd-compares.ts`. */
  readonly gets = new WeakMap<Uint8Array, RecordedGet>();
  readonly ranges = new WeakMap<Uint8Array, RecordedRange>();
  private readonly watchers = new Set<Promise<Watcher | undefined>>();
  private readonly committer = new Mutex();
  /** Watches being cancelled: closing waits for them, or the client's close would fail their streams unhandled. */
  private readonly cancelling = new Set<Promise<void>>();
  private closed = false;

  constructor(
    readonly location: string,
    readonly client: Etcd3,
    readonly prefix: Buffer,
  ) {}

  snapshot(): OrderedSnapshot {
    this.refuseClosed();
    const snapshot = new EtcdSnapshot(this);
    this.unread.add(snapshot);
    return snapshot;
  }

  /**
   * Plain linearizable reads at the latest revision: a single read sees one point in time, so it needs no revision
   * of its own, no pinning by this store's commits and no record for a commit's compares.
   */
  singleReadSnapshot(): OrderedSnapshot {
    return {
      get: (key) => this.rangeOf({ key: this.full(key) }).then(({ kvs: [kv] }) => (kv === undefined ? undefined : (kv.value ?? Buffer.alloc(0)))),
      range: () => Promise.reject(new StowageError("INTERNAL", "a single-read snapshot of the etcd store was asked for a range")),
      release: () => undefined,
    };
  }

  /** A range request for this store's keys `[start, end)`; the answer's keys keep the prefix. */
  async rangeOf(request: IRangeRequest): Promise<{ kvs: IKeyValue[]; revision: string }> {
    this.refuseClosed();
    try {
      const response = await this.client.kv.range(request);
      return { kvs: response.kvs, revision: response.header.revision };
    } catch (error) {
      throw mapEtcdError(error, this.location);
    }
  }

  full(key: Uint8Array): Buffer {
    return Buffer.concat([this.prefix, key]);
  }

  /**
   * One etcd transaction, one at a time (so that this store's commits apply in call order): compares for the checks
   * (see `etcd-compares.ts`), and in its success branch the writes (the last of each key: etcd refuses two operations on one
   * key) and a put of the commit marker. Resolves false when a compare failed (nothing applied).
   */
  async commit(commit: OrderedCommit): Promise<boolean> {
    this.refuseClosed();
    const ops = new Map<string, IRequestOp>();
    for (const write of commit.writes) {
      const key = this.full(write.key);
      ops.delete(key.toString("latin1"));
      ops.set(key.toString("latin1"), write.value === undefined ? { request_delete_range: { key } } : { request_put: { key, value: Buffer.from(write.value) } });
    }
    if (ops.size > MAX_TXN_OPS - 1) {
      throw new StowageError("LIMIT_EXCEEDED", `a commit of ${ops.size} keys exceeds the etcd engine's limit (maxWritesPerCommit) of ${MAX_TXN_OPS - 1}; nothing was written`);
    }
    const compare = comparesOf(commit.checks, this.prefix, this);
    if (ops.size > 0) ops.set("", { request_put: { key: this.prefix, value: Buffer.alloc(0) } });
    if (compare.length === 0 && ops.size === 0) return true;
    // The commit's own snapshot reads no more: one that read nothing (a put that presumed all it checks) needs no
    // revision, and pinning it would cost a read before the commit.
    if (commit.snapshot instanceof EtcdSnapshot) this.unread.delete(commit.snapshot);
    return this.committer.run(async () => {
      await this.pinUnread();
      try {
        return (await this.client.kv.txn({ compare, success: [...ops.values()], failure: [] })).succeeded;
      } catch (error) {
        throw mapEtcdError(error, this.location);
      }
    });
  }

  /**
   * Other processes' commits through one etcd watch of the prefix (and this store's own, which notify too). A watch
   * that reconnects after losing its server may have missed events, so a reconnection notifies as well.
   */
  watchCommits(notify: () => void): () => void {
    this.refuseClosed();
    let stopped = false;
    const created = this.client
      .watch()
      .prefix(this.prefix)
      .create()
      .then((watcher) => {
        watcher.on("data", () => notify());
        watcher.on("connected", () => notify());
        // The watch manager reconnects by itself; an error here must not end the process as an unhandled event.
        watcher.on("error", () => undefined);
        if (stopped) void watcher.cancel().catch(() => undefined);
        return watcher;
      })
      .catch(() => undefined);
    this.watchers.add(created);
    return () => {
      if (stopped) return;
      stopped = true;
      this.watchers.delete(created);
      const cancelled = created.then((watcher) => watcher?.cancel()).catch(() => undefined);
      this.cancelling.add(cancelled);
      void cancelled.finally(() => this.cancelling.delete(cancelled));
    };
  }

  async facts(): Promise<Record<string, number | string | boolean>> {
    this.refuseClosed();
    try {
      const status = await this.client.maintenance.status();
      return { version: status.version, dbBytes: Number(status.dbSize), revision: Number(status.header.revision), raftIndex: Number(status.raftIndex) };
    } catch (error) {
      throw mapEtcdError(error, this.location);
    }
  }

  /** Cancels the watches and closes the connections; the data stays on the cluster. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const watchers = await Promise.all(this.watchers);
    await Promise.all([...watchers.map((watcher) => watcher?.cancel().catch(() => undefined)), ...this.cancelling]);
    this.client.close();
  }

  /**
   * Gives every snapshot that has not read yet the revision of this moment, before this store's commit changes the
   * data, and waits for the first reads in flight: a snapshot taken (or a read started) before a commit must not see
   * it, and etcd could serve a read sent before the commit after it.
   */
  private async pinUnread(): Promise<void> {
    if (this.fixing.size > 0) await Promise.allSettled([...this.fixing]);
    if (this.unread.size === 0) return;
    const waiting = [...this.unread];
    this.unread.clear();
    const revision = this.rangeOf({ key: this.prefix, count_only: true }).then((answer) => answer.revision);
    for (const snapshot of waiting) snapshot.pin(revision);
    await revision;
  }

  private refuseClosed(): void {
    if (this.closed) throw new StowageError("CLOSED", `the etcd store at ${this.location} is closed`);
  }
}

/** One revision of the key space: fixed by the first read (or by a commit of the store before it), then read at. */
class EtcdSnapshot implements OrderedSnapshot {
  private revision: Promise<string> | undefined;
  /** The revision once known; undefined while the read (or pin) fixing it is in flight. */
  private known: string | undefined;

  constructor(private readonly store: EtcdStore) {}

  pin(revision: Promise<string>): void {
    if (this.revision !== undefined) return;
    this.revision = revision;
    revision.then(
      (known) => (this.known = known),
      () => undefined,
    );
  }

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    const [kv] = await this.read({ key: this.store.full(key) });
    const value = kv === undefined ? undefined : (kv.value ?? Buffer.alloc(0));
    this.store.gets.set(key, { value, mod: kv?.mod_revision ?? "0", revision: await (this.revision as Promise<string>) });
    return value;
  }

  async range(start: Uint8Array, end: Uint8Array, options: OrderedRangeOptions = {}): Promise<OrderedEntry[]> {
    if (Buffer.compare(start, end) >= 0 || options.limit === 0) return [];
    const request: IRangeRequest = { key: this.store.full(start), range_end: this.store.full(end) };
    if (options.limit !== undefined) request.limit = options.limit;
    // etcd sorts a descending range in full before it applies the limit: a reverse read costs the whole range.
    if (options.reverse === true) Object.assign(request, { sort_order: "Descend", sort_target: "Key" });
    const kvs = await this.read(request);
    const skip = this.store.prefix.length;
    const entries = kvs.map((kv): OrderedEntry => [kv.key.subarray(skip), kv.value ?? Buffer.alloc(0)]);
    this.store.ranges.set(start, { end: Buffer.from(end), options: { ...options }, revision: await (this.revision as Promise<string>), entries });
    return entries;
  }

  release(): void {
    this.store.unread.delete(this);
  }

  /** Reads at the snapshot's revision; the first read without one, taking the revision etcd answered at. */
  private async read(request: IRangeRequest): Promise<IKeyValue[]> {
    if (this.revision === undefined) {
      this.store.unread.delete(this);
      const answer = this.store.rangeOf(request);
      const revision = answer.then((read) => read.revision);
      this.pin(revision);
      this.store.fixing.add(revision);
      void revision.catch(() => undefined).finally(() => this.store.fixing.delete(revision));
      return (await answer).kvs;
    }
    if (this.known === undefined) {
      // The revision is still on its way (reads asked together, as a put's): read at the latest revision at once,
      // and keep the answer when it was served at the snapshot's revision (a response's header revision names the
      // whole key space's state); else read again at it.
      const answer = await this.store.rangeOf(request);
      if (answer.revision === (await this.revision)) return answer.kvs;
    }
    return (await this.store.rangeOf({ ...request, revision: await this.revision })).kvs;
  }
}
