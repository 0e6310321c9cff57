import { bytes, type Codec } from "../api/codec.js";
import { StowageError } from "../api/errors.js";
import { LIMITS } from "../api/limits.js";
import { checkOptionalInteger } from "../store/validate.js";
import type { Kv, OverflowPolicy, Queue, QueueItem, Store, TransactionScope } from "../api/types.js";

/** Longest reason kept with a held event, in UTF-8 bytes. */
export const MAX_REASON_BYTES = 4_096;
const DEFAULT_MAX_LENGTH = 10_000;
/** Items read per page while replaying. */
const REPLAY_PAGE = 100;
/** Digits of an item id in a reason's key: every safe integer fits, and zero-padding keeps key order = id order. */
const ID_DIGITS = 16;

/** What a held-events adapter takes: a store (each call runs as its own transaction) or a transaction's handles. */
export type HeldEventsScope = Pick<TransactionScope, "queue" | "kv"> & Partial<Pick<Store, "transaction">>;

/** Options of {@link Quarantine} and {@link DeadLetterQueue}. */
export interface HeldEventsOptions<T> {
  /** Which queue of the namespace (default `"default"`): one per pipeline or sink, for instance. */
  name?: string;
  /** Most events held (default 10,000). */
  maxLength?: number;
  /** What a push to a full queue does: `"reject"` (default: fails LIMIT_EXCEEDED, nothing is lost) or `"drop-oldest"`. */
  overflow?: OverflowPolicy;
  /** How events are stored (default: bytes as they are). */
  codec?: Codec<T>;
}

/** A held event as `peek` and `replay` see it. */
export interface HeldEvent<T> {
  /** The queue item id: `ack(id)` removes it. */
  id: number;
  /** Why it was set aside. */
  reason: string;
  event: T;
  /** When it was pushed (the store clock, ms since the epoch). */
  at: number;
}

/** What a replay did. */
export interface ReplayReport {
  /** Events the handler accepted and the replay removed (acked). */
  accepted: number;
  /** Events the handler refused (returned false) or threw on, and events this codec cannot decode: still held. */
  refused: number;
  /** Events the handler accepted that were gone when the replay went to ack them (another consumer acked them). */
  goneMeanwhile: number;
  /** The handler's last thrown error, if any. */
  lastError?: unknown;
}

/** Options of `replay`. */
export interface ReplayOptions {
  /** Most events offered to the handler (default: every event held when the replay starts). */
  limit?: number;
}

/** A queue item with the reason stored for it (undefined: an item written before reasons were kept apart). */
interface HeldItem {
  item: QueueItem<Uint8Array>;
  reason: Uint8Array | undefined;
}

/**
 * Events set aside with a reason, in a bounded Queue. Quarantine and the dead-letter queue are this class over their
 * own namespaces. It takes a store or a transaction scope, so that setting an event aside can commit together with
 * the checkpoint that moves past it.
 *
 * The queue item holds the event's bytes exactly as the codec made them, and its reason is a KV entry of the same
 * namespace under `<name>/<id>` (the name with `%` and `/` escaped as `%25`, `%2F`; the id zero-padded to 16 digits),
 * written, read and removed together with the item in one transaction. So any event the store takes as a value can be
 * held, however long its reason, and the newest held id is one key read away.
 */
export class HeldEvents<T = Uint8Array> {
  readonly name: string;
  private readonly codec: Codec<T>;
  private readonly queueOptions: { maxLen: number; overflow: OverflowPolicy };
  /** The start of this queue's reason keys. */
  private readonly reasonPrefix: string;

  protected constructor(
    readonly namespace: string,
    private readonly scope: HeldEventsScope,
    options: HeldEventsOptions<T> = {},
  ) {
    if (typeof options !== "object" || options === null) {
      throw new StowageError("INVALID_ARGUMENT", "options must be an object", { namespace });
    }
    this.name = options.name ?? "default";
    if (typeof this.name !== "string") throw new StowageError("INVALID_ARGUMENT", `a name must be a string, got ${typeof this.name}`, { namespace });
    this.codec = options.codec ?? (bytes as unknown as Codec<T>);
    this.queueOptions = { maxLen: options.maxLength ?? DEFAULT_MAX_LENGTH, overflow: options.overflow ?? "reject" };
    // Taken now so that bad bounds fail here, not at the first push.
    scope.queue(namespace, this.queueOptions);
    this.reasonPrefix = `${this.name.replaceAll("%", "%25").replaceAll("/", "%2F")}/`;
    const keyBytes = Buffer.byteLength(this.reasonPrefix, "utf8") + ID_DIGITS;
    if (keyBytes > LIMITS.maxKeyBytes) {
      throw new StowageError("INVALID_ARGUMENT", `a held-events name is at most ${LIMITS.maxKeyBytes - ID_DIGITS - 1} UTF-8 bytes (with % and / counted as 3): its reasons are keyed by name and id`, { namespace, key: this.name });
    }
  }

  /** Holds `event` with `reason`; resolves to its id. A full queue follows the overflow policy. */
  async push(reason: string, event: T): Promise<number> {
    const why = this.reasonBytes(reason);
    const body = this.encode(event);
    return this.run(async (tx) => {
      const queue = this.queueOf(tx);
      const full = this.queueOptions.overflow === "drop-oldest" && (await queue.len(this.name)) >= this.queueOptions.maxLen;
      const id = await queue.push(this.name, body);
      const reasons = this.reasonsOf(tx);
      await reasons.put(this.reasonKey(id), why);
      if (full) {
        // The push dropped the oldest: their reasons go too, all keys below the new head's.
        const [head] = await queue.peek(this.name, 1);
        await reasons.deleteRange({ start: this.reasonPrefix, end: this.reasonKey(head?.id ?? id) });
      }
      return id;
    });
  }

  /** Up to `limit` held events (default 1), oldest first, after `afterId` when given; nothing is removed. */
  async peek(limit = 1, options?: { afterId?: number }): Promise<Array<HeldEvent<T>>> {
    const page = await this.readPage(limit, options);
    return page.map((held) => this.open(held));
  }

  /** Removes the held event `id`; true when it was there. */
  async ack(id: number): Promise<boolean> {
    return this.run(async (tx) => {
      const removed = await this.queueOf(tx).ack(this.name, id);
      if (removed) await this.reasonsOf(tx).delete(this.reasonKey(id));
      return removed;
    });
  }

  /** Number of events held. */
  async len(): Promise<number> {
    return this.queueOf(this.scope).len(this.name);
  }

  /**
   * Offers held events to `handler`, oldest first, and acks exactly those it accepts (returns true). A refused event
   * (false, or a throw) stays where it was and the replay goes on past it. Offers only events held when it starts (up
   * to the highest id then), so an event pushed meanwhile — by the handler setting one aside again, or by anyone —
   * waits for the next replay; `accepted` counts only the events it removed itself.
   */
  async replay(handler: (entry: HeldEvent<T>) => boolean | Promise<boolean>, options: ReplayOptions = {}): Promise<ReplayReport> {
    if (typeof handler !== "function") throw new StowageError("INVALID_ARGUMENT", "replay needs a handler function", { namespace: this.namespace, key: this.name });
    const limit = checkOptionalInteger(this.namespace, "replay limit", options.limit, Number.MAX_SAFE_INTEGER, 0, Number.MAX_SAFE_INTEGER, this.name);
    const last = await this.highestId();
    const report: ReplayReport = { accepted: 0, refused: 0, goneMeanwhile: 0 };
    let afterId = 0;
    let offered = 0;
    // Each page moves afterId forward by at least one id, up to `last`: the loop ends.
    while (offered < limit && afterId < last) {
      const page = await this.readPage(Math.min(REPLAY_PAGE, limit - offered), { afterId });
      if (page.length === 0) break;
      for (const held of page) {
        afterId = held.item.id;
        if (afterId > last) return report;
        offered += 1;
        await this.offer(held, handler, report);
      }
    }
    return report;
  }

  private async offer(held: HeldItem, handler: (entry: HeldEvent<T>) => boolean | Promise<boolean>, report: ReplayReport): Promise<void> {
    let accepted = false;
    try {
      // An event this codec cannot read is refused like any other (reported in lastError), not a wall for the rest.
      accepted = (await handler(this.open(held))) === true;
    } catch (error) {
      report.lastError = error;
    }
    if (!accepted) report.refused += 1;
    // Acked only after the handler accepted: a crash in between replays the event again (at least once).
    else if (await this.ack(held.item.id)) report.accepted += 1;
    else report.goneMeanwhile += 1;
  }

  /** The highest id held now (0: none). */
  private async highestId(): Promise<number> {
    const newest = await this.reasonsOf(this.scope).list({ prefix: this.reasonPrefix, reverse: true, limit: 1, keysOnly: true });
    const key = newest.entries[0]?.key;
    if (key !== undefined) return Number(key.slice(this.reasonPrefix.length));
    // No reason keys: empty, or only events from before reasons were kept apart, found by paging (at most len's pages).
    const queue = this.queueOf(this.scope);
    let highest = 0;
    for (let pages = Math.ceil((await queue.len(this.name)) / REPLAY_PAGE); pages > 0; pages--) {
      const page = await queue.peek(this.name, REPLAY_PAGE, { afterId: highest });
      if (page.length === 0) break;
      highest = (page.at(-1) as QueueItem<Uint8Array>).id;
    }
    return highest;
  }

  /** A page of items with their reasons, read in one transaction so that each item's reason is the one it has. */
  private readPage(limit: number, options?: { afterId?: number }): Promise<HeldItem[]> {
    return this.run(async (tx) => {
      const items = await this.queueOf(tx).peek(this.name, limit, options);
      const first = items[0];
      const last = items.at(-1);
      if (first === undefined || last === undefined) return [];
      const found = await this.reasonsOf(tx).list({ start: this.reasonKey(first.id), end: this.reasonKey(last.id + 1), limit: items.length });
      const reasons = new Map(found.entries.map((entry) => [entry.key, entry.value]));
      return items.map((item) => ({ item, reason: reasons.get(this.reasonKey(item.id)) }));
    });
  }

  /** Runs `body` in a transaction of the store, or in the transaction the adapter was given. */
  private run<R>(body: (tx: Pick<TransactionScope, "queue" | "kv">) => Promise<R>): Promise<R> {
    return typeof this.scope.transaction === "function" ? this.scope.transaction((tx) => body(tx)) : body(this.scope);
  }

  private queueOf(scope: Pick<TransactionScope, "queue">): Queue<Uint8Array> {
    return scope.queue(this.namespace, this.queueOptions);
  }

  private reasonsOf(scope: Pick<TransactionScope, "kv">): Kv<Uint8Array> {
    return scope.kv(this.namespace);
  }

  private reasonKey(id: number): string {
    return `${this.reasonPrefix}${String(id).padStart(ID_DIGITS, "0")}`;
  }

  private reasonBytes(reason: string): Uint8Array {
    if (typeof reason !== "string") {
      throw new StowageError("INVALID_ARGUMENT", `a reason must be a string, got ${typeof reason}`, { namespace: this.namespace, key: this.name });
    }
    const why = Buffer.from(reason, "utf8");
    if (why.byteLength > MAX_REASON_BYTES) {
      throw new StowageError("LIMIT_EXCEEDED", `a reason is ${why.byteLength} bytes, above the limit of ${MAX_REASON_BYTES}`, { namespace: this.namespace, key: this.name });
    }
    return why;
  }

  private encode(event: T): Uint8Array {
    let body: unknown;
    try {
      body = this.codec.encode(event);
    } catch (cause) {
      throw new StowageError("INVALID_ARGUMENT", `the codec could not encode the event: ${cause instanceof Error ? cause.message : String(cause)}`, { namespace: this.namespace, key: this.name, cause });
    }
    if (!(body instanceof Uint8Array)) {
      throw new StowageError("INVALID_ARGUMENT", "an event must be a Uint8Array (or pass a codec)", { namespace: this.namespace, key: this.name });
    }
    return body;
  }

  private open({ item, reason }: HeldItem): HeldEvent<T> {
    const { id, pushedAt: at } = item;
    const [why, stored] = reason === undefined ? this.openEnvelope(item) : [reason, item.value];
    let event: T;
    try {
      event = this.codec.decode(stored);
    } catch (cause) {
      throw new StowageError("CORRUPT", `held event ${id} cannot be decoded by this codec (${cause instanceof Error ? cause.message : String(cause)}); ack(${id}) removes it`, { namespace: this.namespace, key: this.name, cause });
    }
    return { id, reason: Buffer.from(why).toString("utf8"), event, at };
  }

  /**
   * An item without a reason of its own was written by an earlier version, as one value: [reason length: u32]
   * [reason UTF-8][event bytes]. Read so that events held before an upgrade can still be replayed.
   */
  private openEnvelope({ id, value }: QueueItem<Uint8Array>): [Uint8Array, Uint8Array] {
    const length = value.byteLength >= 4 ? new DataView(value.buffer, value.byteOffset, value.byteLength).getUint32(0) : -1;
    if (length < 0 || 4 + length > value.byteLength) {
      throw new StowageError("CORRUPT", `held event ${id} has no reason and is not an envelope of this adapter; ack(${id}) removes it`, { namespace: this.namespace, key: this.name });
    }
    return [value.subarray(4, 4 + length), value.subarray(4 + length)];
  }
}
