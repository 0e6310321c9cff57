import { json } from "../api/codec.js";
import { StowageError } from "../api/errors.js";
import { LIMITS } from "../api/limits.js";
import type { Clock, Kv, ListPage, Store, TransactionScope } from "../api/types.js";
import { checkBoolean, checkInteger, checkKey, checkOptions, utf8Length } from "../store/validate.js";
import type { MembershipEvent } from "./membership.js";
import { checkNodeId, MAX_NODE_ID_BYTES } from "./node-id.js";
import { commitLimits, storeClock } from "./store-parts.js";

/** The KV namespace of the lease directory. */
export const DIRECTORY_NAMESPACE = "directory";

/** Longest leased key, in UTF-8 bytes: room for the index key `node/<owner>/<key>` within the key limit. */
export const MAX_LEASE_KEY_BYTES = LIMITS.maxKeyBytes - MAX_NODE_ID_BYTES - 16;

const LEASE_PREFIX = "lease/";
const TOKEN_PREFIX = "token/";
const NODE_PREFIX = "node/";
/** Writes one lease costs in a bulk call: its record and its index entry. */
const WRITES_PER_LEASE = 2;
/** Bytes one lease's writes take at most in a commit: two keys at the key limit and two small JSON values. */
const BYTES_PER_LEASE = WRITES_PER_LEASE * (LIMITS.maxKeyBytes + 256);

/** A live lease: `owner` holds `key` until `expiresAt` (the store clock's ms), under fencing `token`. */
export interface DirectoryLease {
  key: string;
  /** The node that holds the lease. */
  owner: string;
  /** Greater than every token handed out for `key` before this owner took it; kept across renewals. */
  token: number;
  /** When the lease expires unless renewed, in ms since the epoch by the store's clock. */
  expiresAt: number;
  /** When this owner took the lease. */
  acquiredAt: number;
}

/** What renew, release and transfer need to prove the caller holds the lease. */
export type LeaseRef = Pick<DirectoryLease, "key" | "owner" | "token">;

/** A lease as stored under `lease/<key>`; its index entry `node/<owner>/<key>` holds the same minus the owner. */
interface StoredLease {
  owner: string;
  token: number;
  expiresAt: number;
  acquiredAt: number;
}

type IndexEntry = Omit<StoredLease, "owner">;

/** Options of {@link LeaseDirectory}. */
export interface LeaseDirectoryOptions {
  /** How long a lease lasts without renewal, in ms (a call may give its own `ttlMs`). */
  ttlMs: number;
  /** The clock deadlines are computed by (default: the store's, which also judges the entries' TTL). */
  clock?: Clock;
}

/** Options of `acquire`, `renew` and `transfer`. */
export interface LeaseTtlOptions {
  /** This lease's duration instead of the directory's `ttlMs`. */
  ttlMs?: number;
}

/** Options of `renewNode` and `releaseNode`. */
export interface NodeLeasesOptions extends LeaseTtlOptions {
  /**
   * True: the whole set in one transaction, or LIMIT_EXCEEDED before any write when it holds more leases than one
   * commit of the engine takes. Default false: one transaction when the set fits, several (each atomic) when not.
   */
  atomic?: boolean;
}

/** Options of `releaseNode`. */
export interface ReleaseNodeOptions {
  /** As {@link NodeLeasesOptions.atomic}. */
  atomic?: boolean;
  /** Only the leases the node acquired at or before this time (store clock ms): those of an earlier membership. */
  acquiredUpTo?: number;
}

/** What `renewNode` and `releaseNode` did. */
export interface NodeLeasesReport {
  /** The keys renewed (or released). */
  done: string[];
  /** The keys whose index named the node but whose lease it no longer holds: their stale index entries are removed. */
  lost: string[];
  /** The transactions it took. */
  transactions: number;
}

/** Options of `list` and `listByNode`: pages in key byte order. */
export interface LeaseListOptions {
  /** Most leases in the page (default `LIMITS.defaultPageSize`). */
  limit?: number;
  /** The previous page's `cursor`. */
  cursor?: string;
}

/**
 * A directory of leases on addressable keys (actor id → the node that hosts it), in the KV namespace `directory`:
 * exactly one live owner per key across processes, a fencing token that grows with each new owner, deadlines by the
 * store's clock, and a per-node index for listing and for renewing or releasing a node's whole set at once.
 *
 * Layout: `lease/<key>` (the lease, with the lease's TTL), `node/<owner>/<key>` (the index, same TTL) and
 * `token/<key>` (the last token handed out, without TTL, so that it survives expiry and release). An expired lease is
 * never read back (the store's TTL), and the store's sweep removes it. Each call is one transaction.
 *
 * @example
 * ```ts
 * const directory = new LeaseDirectory(store, { ttlMs: 10_000 });
 * const lease = await directory.acquire("actor/42", "node-a");
 * if (lease !== undefined) { … act, checking directory.isCurrent("actor/42", lease.token) before shared writes … }
 * ```
 */
export class LeaseDirectory {
  private readonly store: Store;
  private readonly ttlMs: number;
  private readonly clock: Clock;
  private readonly kv: Kv<unknown>;

  constructor(store: Store, options: LeaseDirectoryOptions) {
    const opts = checkOptions(DIRECTORY_NAMESPACE, "LeaseDirectory options", options, ["ttlMs", "clock"]);
    this.ttlMs = checkTtl(opts.ttlMs);
    if (opts.clock !== undefined && typeof opts.clock !== "function") {
      throw new StowageError("INVALID_ARGUMENT", "clock must be a function returning ms since the epoch", { namespace: DIRECTORY_NAMESPACE });
    }
    this.store = store;
    this.clock = (opts.clock as Clock | undefined) ?? storeClock(store);
    this.kv = store.kv(DIRECTORY_NAMESPACE, { codec: json<unknown>() });
  }

  /**
   * Takes `key` for `owner` when it is free or expired (with a token greater than every earlier one), or renews it
   * when `owner` holds it already (same token). `undefined` when another owner holds a live lease.
   */
  acquire(key: string, owner: string, options?: LeaseTtlOptions): Promise<DirectoryLease | undefined> {
    checkLeaseKey(key);
    checkNodeId(DIRECTORY_NAMESPACE, owner, "owner");
    const ttlMs = this.ttlOf(options, key);
    return this.store.transaction(async (tx) => {
      const kv = scoped(tx);
      const held = await readLease(kv, key);
      if (held !== undefined && held.owner !== owner) return undefined;
      if (held !== undefined) return this.write(kv, key, { ...held, expiresAt: this.clock() + ttlMs }, ttlMs);
      const token = ((await kv.get(TOKEN_PREFIX + key)) as number | undefined) ?? 0;
      await kv.put(TOKEN_PREFIX + key, token + 1);
      const now = this.clock();
      return this.write(kv, key, { owner, token: token + 1, expiresAt: now + ttlMs, acquiredAt: now }, ttlMs);
    });
  }

  /** Extends a lease its owner holds; LEASE_LOST when it is no longer current (expired, released, taken over). */
  renew(lease: LeaseRef, options?: LeaseTtlOptions): Promise<DirectoryLease> {
    const ref = checkRef(lease);
    const ttlMs = this.ttlOf(options, ref.key);
    return this.store.transaction(async (tx) => {
      const kv = scoped(tx);
      const held = await currentLease(kv, ref);
      return this.write(kv, ref.key, { ...held, expiresAt: this.clock() + ttlMs }, ttlMs);
    });
  }

  /** Gives a lease up at once (its token is kept for the next owner); false when it was no longer current. */
  release(lease: LeaseRef): Promise<boolean> {
    const ref = checkRef(lease);
    return this.store.transaction(async (tx) => {
      const kv = scoped(tx);
      const held = await readLease(kv, ref.key);
      if (held === undefined || held.owner !== ref.owner || held.token !== ref.token) return false;
      await removeLease(kv, ref.key, ref.owner);
      return true;
    });
  }

  /**
   * Hands a lease its owner holds to node `to`, with the next token (so that the previous owner's writes can be
   * refused by fencing). LEASE_LOST when the lease is no longer current.
   */
  transfer(lease: LeaseRef, to: string, options?: LeaseTtlOptions): Promise<DirectoryLease> {
    const ref = checkRef(lease);
    checkNodeId(DIRECTORY_NAMESPACE, to, "to");
    const ttlMs = this.ttlOf(options, ref.key);
    return this.store.transaction(async (tx) => {
      const kv = scoped(tx);
      const held = await currentLease(kv, ref);
      const now = this.clock();
      if (to === ref.owner) return this.write(kv, ref.key, { ...held, expiresAt: now + ttlMs }, ttlMs);
      const token = Math.max(held.token, ((await kv.get(TOKEN_PREFIX + ref.key)) as number | undefined) ?? 0) + 1;
      await kv.put(TOKEN_PREFIX + ref.key, token);
      await kv.delete(indexKey(ref.owner, ref.key));
      return this.write(kv, ref.key, { owner: to, token, expiresAt: now + ttlMs, acquiredAt: now }, ttlMs);
    });
  }

  /** The live lease of `key`, or `undefined` (free, released or expired). */
  async get(key: string): Promise<DirectoryLease | undefined> {
    checkLeaseKey(key);
    const held = await readLease(this.kv, key);
    return held === undefined ? undefined : { key, ...held };
  }

  /** Whether `token` is the live lease of `key`: the fencing check before acting on shared state as its owner. */
  async isCurrent(key: string, token: number): Promise<boolean> {
    return (await this.get(key))?.token === token;
  }

  /** A page of every live lease, in key byte order. */
  async list(options?: LeaseListOptions): Promise<ListPage<DirectoryLease>> {
    const page = await this.kv.list({ ...checkListOptions(options), prefix: LEASE_PREFIX });
    const entries = page.entries.map(({ key, value }) => ({ key: key.slice(LEASE_PREFIX.length), ...(value as StoredLease) }));
    return page.cursor === undefined ? { entries } : { entries, cursor: page.cursor };
  }

  /** A page of the live leases `owner` holds, in key byte order. */
  async listByNode(owner: string, options?: LeaseListOptions): Promise<ListPage<DirectoryLease>> {
    checkNodeId(DIRECTORY_NAMESPACE, owner, "owner");
    const prefix = indexPrefix(owner);
    const page = await this.kv.list({ ...checkListOptions(options), prefix });
    const entries = page.entries.map(({ key, value }) => ({ key: key.slice(prefix.length), owner, ...(value as IndexEntry) }));
    return page.cursor === undefined ? { entries } : { entries, cursor: page.cursor };
  }

  /**
   * Renews every lease `owner` holds (those its index listed when the call started): in one transaction when they fit
   * one commit of the engine, else in several (see {@link NodeLeasesOptions.atomic}).
   */
  renewNode(owner: string, options?: NodeLeasesOptions): Promise<NodeLeasesReport> {
    const opts = checkOptions(DIRECTORY_NAMESPACE, "renewNode options", options, ["ttlMs", "atomic"]);
    const ttlMs = this.ttlOf(opts, owner, ["ttlMs", "atomic"]);
    return this.eachOfNode(owner, "renewNode", checkBoolean(DIRECTORY_NAMESPACE, "atomic", opts.atomic), async (kv, key) => {
      const index = (await kv.get(indexKey(owner, key))) as IndexEntry | undefined;
      const held = await readLease(kv, key);
      if (held === undefined || held.owner !== owner || held.token !== index?.token) return false;
      await this.write(kv, key, { ...held, expiresAt: this.clock() + ttlMs }, ttlMs);
      return true;
    });
  }

  /**
   * Releases every lease `owner` holds (those its index listed when the call started), keeping their tokens: what a
   * node's departure from the cluster calls. One transaction, or several, as {@link renewNode}.
   */
  releaseNode(owner: string, options?: ReleaseNodeOptions): Promise<NodeLeasesReport> {
    const opts = checkOptions(DIRECTORY_NAMESPACE, "releaseNode options", options, ["atomic", "acquiredUpTo"], owner);
    const upTo = opts.acquiredUpTo === undefined ? Number.MAX_SAFE_INTEGER : checkInteger(DIRECTORY_NAMESPACE, "acquiredUpTo", opts.acquiredUpTo, 0, Number.MAX_SAFE_INTEGER, owner);
    return this.eachOfNode(owner, "releaseNode", checkBoolean(DIRECTORY_NAMESPACE, "atomic", opts.atomic), async (kv, key) => {
      const held = await readLease(kv, key);
      if (held === undefined || held.owner !== owner) return false;
      if (held.acquiredAt > upTo) return "kept";
      await removeLease(kv, key, owner);
      return true;
    });
  }

  /**
   * Frees the leases of every node that leaves the membership `watch` follows (a started `Membership.watch`), expiries
   * included: those it acquired up to its leave, so that leases it took after joining again stay. Runs until the watch
   * ends (abort its signal); `onReleased` hears of each leave handled. Every process may run one: a lease is released
   * once, and a second release finds nothing.
   *
   * @example
   * ```ts
   * void directory.releaseLeavers(await cluster.watch({ signal }));
   * ```
   */
  async releaseLeavers(watch: AsyncIterable<MembershipEvent>, onReleased?: (node: string, report: NodeLeasesReport) => void): Promise<void> {
    for await (const event of watch) {
      if (event.type !== "leave") continue;
      const report = await this.releaseNode(event.node.id, { acquiredUpTo: event.at });
      onReleased?.(event.node.id, report);
    }
  }

  /**
   * Removes expired entries from storage now (the store's sweep, which runs periodically by itself and covers every
   * namespace); the number removed. Reads never return an expired lease, swept or not.
   */
  expire(): Promise<number> {
    return this.store.sweep();
  }

  /** Writes the index entry first: it then never outlives the lease record (the store reads its clock per call). */
  private async write(kv: Kv<unknown>, key: string, lease: StoredLease, ttlMs: number): Promise<DirectoryLease> {
    const { owner, ...indexed } = lease;
    await kv.put(indexKey(owner, key), indexed, { ttlMs });
    await kv.put(LEASE_PREFIX + key, lease, { ttlMs });
    return { key, ...lease };
  }

  private ttlOf(options: LeaseTtlOptions | Record<string, unknown> | undefined, key: string, known: readonly string[] = ["ttlMs"]): number {
    const opts = checkOptions(DIRECTORY_NAMESPACE, "lease options", options, known, key);
    return opts.ttlMs === undefined ? this.ttlMs : checkTtl(opts.ttlMs, key);
  }

  /** Runs `step` on each key of `owner`'s index, as many keys per transaction as one commit takes. */
  private async eachOfNode(
    owner: string,
    call: string,
    atomic: boolean,
    step: (kv: Kv<unknown>, key: string) => Promise<boolean | "kept">,
  ): Promise<NodeLeasesReport> {
    checkNodeId(DIRECTORY_NAMESPACE, owner, "owner");
    const keys = await this.indexedKeys(owner);
    const limits = commitLimits(this.store);
    const perCommit = Math.max(1, Math.min(Math.floor(limits.maxTransactionWrites / WRITES_PER_LEASE), Math.floor(limits.maxTransactionBytes / BYTES_PER_LEASE)));
    if (atomic && keys.length > perCommit) {
      throw new StowageError(
        "LIMIT_EXCEEDED",
        `${call} of ${keys.length} leases in one transaction: the engine's commits take at most ${perCommit} (maxTransactionWrites ${limits.maxTransactionWrites}, ${WRITES_PER_LEASE} writes a lease)`,
        { namespace: DIRECTORY_NAMESPACE, key: owner },
      );
    }
    const report: NodeLeasesReport = { done: [], lost: [], transactions: 0 };
    for (let start = 0; start < keys.length; start += perCommit) {
      const chunk = keys.slice(start, start + perCommit);
      const outcome = await this.store.transaction(async (tx) => {
        const kv = scoped(tx);
        const done: string[] = [];
        const lost: string[] = [];
        for (const key of chunk) {
          const outcome = await step(kv, key);
          if (outcome === "kept") continue;
          if (outcome) done.push(key);
          else {
            lost.push(key);
            await kv.delete(indexKey(owner, key));
          }
        }
        return { done, lost };
      });
      report.done.push(...outcome.done);
      report.lost.push(...outcome.lost);
      report.transactions++;
    }
    return report;
  }

  private async indexedKeys(owner: string): Promise<string[]> {
    const prefix = indexPrefix(owner);
    const keys: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.kv.list({ prefix, keysOnly: true, limit: LIMITS.maxPageSize, ...(cursor === undefined ? {} : { cursor }) });
      for (const { key } of page.entries) keys.push(key.slice(prefix.length));
      cursor = page.cursor;
    } while (cursor !== undefined);
    return keys;
  }
}

function scoped(tx: TransactionScope): Kv<unknown> {
  return tx.kv(DIRECTORY_NAMESPACE, { codec: json<unknown>() });
}

const indexPrefix = (owner: string): string => `${NODE_PREFIX}${owner}/`;
const indexKey = (owner: string, key: string): string => indexPrefix(owner) + key;

async function readLease(kv: Kv<unknown>, key: string): Promise<StoredLease | undefined> {
  return (await kv.get(LEASE_PREFIX + key)) as StoredLease | undefined;
}

/** The stored lease `ref` names, or LEASE_LOST naming the key and what the caller believed it held. */
async function currentLease(kv: Kv<unknown>, ref: LeaseRef): Promise<StoredLease> {
  const held = await readLease(kv, ref.key);
  if (held !== undefined && held.owner === ref.owner && held.token === ref.token) return held;
  const now = held === undefined ? "it is free (released or expired)" : `it is held under token ${held.token}`;
  throw new StowageError("LEASE_LOST", `the lease of ${JSON.stringify(ref.owner)} under token ${ref.token} is no longer current: ${now}`, {
    namespace: DIRECTORY_NAMESPACE,
    key: ref.key,
  });
}

async function removeLease(kv: Kv<unknown>, key: string, owner: string): Promise<void> {
  await kv.delete(indexKey(owner, key));
  await kv.delete(LEASE_PREFIX + key);
}

function checkLeaseKey(key: unknown): string {
  const checked = checkKey(DIRECTORY_NAMESPACE, key);
  const size = utf8Length(checked);
  if (size > MAX_LEASE_KEY_BYTES) {
    throw new StowageError("LIMIT_EXCEEDED", `key is ${size} bytes; a leased key is at most ${MAX_LEASE_KEY_BYTES} bytes of UTF-8`, { namespace: DIRECTORY_NAMESPACE, key: checked });
  }
  return checked;
}

function checkRef(lease: LeaseRef): LeaseRef {
  if (typeof lease !== "object" || lease === null) {
    throw new StowageError("INVALID_ARGUMENT", "a lease must be an object { key, owner, token }", { namespace: DIRECTORY_NAMESPACE });
  }
  const key = checkLeaseKey(lease.key);
  const owner = checkNodeId(DIRECTORY_NAMESPACE, lease.owner, "owner");
  const token = checkInteger(DIRECTORY_NAMESPACE, "token", lease.token, 1, Number.MAX_SAFE_INTEGER, key);
  return { key, owner, token };
}

function checkTtl(ttlMs: unknown, key?: string): number {
  return checkInteger(DIRECTORY_NAMESPACE, "ttlMs", ttlMs, 1, LIMITS.maxTtlMs, key);
}

function checkListOptions(options: LeaseListOptions | undefined): LeaseListOptions {
  const opts = checkOptions(DIRECTORY_NAMESPACE, "list options", options, ["limit", "cursor"]);
  return { ...(opts.limit === undefined ? {} : { limit: opts.limit as number }), ...(opts.cursor === undefined ? {} : { cursor: opts.cursor as string }) };
}
