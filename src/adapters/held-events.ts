import { bytes, type Codec } from "../api/codec.js";
import { StowageError } from "../api/errors.js";
import { checkOptionalInteger } from "../store/validate.js";
import type { OverflowPolicy, Queue, TransactionScope } from "../api/types.js";

/** Longest reason kept with a held event, in UTF-8 bytes. */
export const MAX_REASON_BYTES = 4_096;
const DEFAULT_MAX_LENGTH = 10_000;
/** Items read per page while replaying. */
const REPLAY_PAGE = 100;

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
  /** Events the handler accepted: acked. */
  accepted: number;
  /** Events the handler refused (returned false) or threw on, and events this codec cannot decode: still held. */
  refused: number;
  /** The handler's last thrown error, if any. */
  lastError?: unknown;
}

/** Options of `replay`. */
export interface ReplayOptions {
  /** Most events offered to the handler (default: every event held when the replay starts). */
  limit?: number;
}

/**
 * Events set aside with a reason, in a bounded Queue. Quarantine and the dead-letter queue are this class over their
 * own namespaces. It takes a store or a transaction scope, so that setting an event aside can commit together with
 * the checkpoint that moves past it.
 */
export class HeldEvents<T = Uint8Array> {
  readonly name: string;
  private readonly queue: Queue<Uint8Array>;
  private readonly codec: Codec<T>;

  protected constructor(
    readonly namespace: string,
    scope: Pick<TransactionScope, "queue">,
    options: HeldEventsOptions<T> = {},
  ) {
    if (typeof options !== "object" || options === null) {
      throw new StowageError("INVALID_ARGUMENT", "options must be an object", { namespace });
    }
    this.name = options.name ?? "default";
    this.codec = options.codec ?? (bytes as unknown as Codec<T>);
    this.queue = scope.queue(namespace, { maxLen: options.maxLength ?? DEFAULT_MAX_LENGTH, overflow: options.overflow ?? "reject" });
  }

  /** Holds `event` with `reason`; resolves to its id. A full queue follows the overflow policy. */
  async push(reason: string, event: T): Promise<number> {
    return this.queue.push(this.name, this.envelope(reason, event));
  }

  /** Up to `limit` held events (default 1), oldest first, after `afterId` when given; nothing is removed. */
  async peek(limit = 1, options?: { afterId?: number }): Promise<Array<HeldEvent<T>>> {
    const items = await this.queue.peek(this.name, limit, options);
    return items.map((item) => this.open(item.id, item.value, item.pushedAt));
  }

  /** Removes the held event `id`; true when it was there. */
  async ack(id: number): Promise<boolean> {
    return this.queue.ack(this.name, id);
  }

  /** Number of events held. */
  async len(): Promise<number> {
    return this.queue.len(this.name);
  }

  /**
   * Offers held events to `handler`, oldest first, and acks exactly those it accepts (returns true). A refused event
   * (false, or a throw) stays where it was and the replay goes on past it. Visits at most the events held when it
   * starts, so a handler that sets events aside again cannot make it loop.
   */
  async replay(handler: (entry: HeldEvent<T>) => boolean | Promise<boolean>, options: ReplayOptions = {}): Promise<ReplayReport> {
    if (typeof handler !== "function") throw new StowageError("INVALID_ARGUMENT", "replay needs a handler function", { namespace: this.namespace, key: this.name });
    const limit = checkOptionalInteger(this.namespace, "replay limit", options.limit, Number.MAX_SAFE_INTEGER, 0, Number.MAX_SAFE_INTEGER, this.name);
    const budget = Math.min(limit, await this.len());
    const report: ReplayReport = { accepted: 0, refused: 0 };
    let afterId = 0;
    let visited = 0;
    while (visited < budget) {
      const page = await this.queue.peek(this.name, Math.min(REPLAY_PAGE, budget - visited), { afterId });
      if (page.length === 0) break;
      for (const item of page) {
        visited += 1;
        afterId = item.id;
        let accepted = false;
        try {
          // An event this codec cannot read is refused like any other (reported in lastError), not a wall for the rest.
          const entry = this.open(item.id, item.value, item.pushedAt);
          accepted = (await handler(entry)) === true;
        } catch (error) {
          report.lastError = error;
        }
        if (accepted) {
          // Acked only after the handler accepted: a crash in between replays the event again (at least once).
          await this.ack(item.id);
          report.accepted += 1;
        } else {
          report.refused += 1;
        }
      }
    }
    return report;
  }

  /** [reason length: u32][reason UTF-8][event bytes]: the event's own bytes stay untouched. */
  private envelope(reason: string, event: T): Uint8Array {
    if (typeof reason !== "string") {
      throw new StowageError("INVALID_ARGUMENT", `a reason must be a string, got ${typeof reason}`, { namespace: this.namespace, key: this.name });
    }
    const why = Buffer.from(reason, "utf8");
    if (why.byteLength > MAX_REASON_BYTES) {
      throw new StowageError("LIMIT_EXCEEDED", `a reason is ${why.byteLength} bytes, above the limit of ${MAX_REASON_BYTES}`, { namespace: this.namespace, key: this.name });
    }
    const body = this.encode(event);
    const out = new Uint8Array(4 + why.byteLength + body.byteLength);
    new DataView(out.buffer).setUint32(0, why.byteLength);
    out.set(why, 4);
    out.set(body, 4 + why.byteLength);
    return out;
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

  private open(id: number, stored: Uint8Array, at: number): HeldEvent<T> {
    const view = new DataView(stored.buffer, stored.byteOffset, stored.byteLength);
    const length = stored.byteLength >= 4 ? view.getUint32(0) : -1;
    if (length < 0 || 4 + length > stored.byteLength) {
      throw new StowageError("CORRUPT", `held event ${id} is not an envelope of this adapter; ack(${id}) removes it`, { namespace: this.namespace, key: this.name });
    }
    const reason = Buffer.from(stored.subarray(4, 4 + length)).toString("utf8");
    let event: T;
    try {
      event = this.codec.decode(stored.subarray(4 + length));
    } catch (cause) {
      throw new StowageError("CORRUPT", `held event ${id} cannot be decoded by this codec (${cause instanceof Error ? cause.message : String(cause)}); ack(${id}) removes it`, { namespace: this.namespace, key: this.name, cause });
    }
    return { id, reason, event, at };
  }
}
