import { StowageError } from "../api/errors.js";
import { LIMITS } from "../api/limits.js";
import type { Log, LogEntry, LogReadOptions, TailOptions } from "../api/types.js";
import type { StoredLogEntry } from "../engines/engine.js";
import { requireCapability } from "./capabilities.js";
import { checkStartNotAhead, feedContextOf, follow } from "./feed.js";
import { HandleBase } from "./handle-base.js";
import { checkInteger, checkKey, checkOptions, checkSignal, utf8Length } from "./validate.js";

/** Entries a tail reads at a time. */
const TAIL_PAGE = 500;

/** The store's {@link Log} implementation. */
export class LogHandle<T> extends HandleBase<T> implements Log<T> {
  async append(key: string, value: T): Promise<number> {
    const ns = this.namespace;
    checkKey(ns, key);
    const bytes = this.codec.encode(key, value);
    const now = this.exec.now();
    return this.exec.write({ op: "logAppend", args: [ns, key, bytes, now] }, utf8Length(key) + bytes.byteLength);
  }

  list(key: string, options?: LogReadOptions): Promise<LogEntry<T>[]> {
    return this.read(key, 0, options);
  }

  since(key: string, seq: number, options?: LogReadOptions): Promise<LogEntry<T>[]> {
    return this.read(key, seq, options, true);
  }

  async lastSeq(): Promise<number> {
    const ns = this.namespace;
    return this.exec.read({ op: "logLastSeq", args: [ns] });
  }

  tail(target: string | { all: true }, options?: TailOptions): AsyncIterable<LogEntry<T>> {
    requireCapability(this.exec.engine, "liveFeeds", this.namespace);
    const ns = this.namespace;
    const all = typeof target === "object" && target !== null && !Array.isArray(target);
    if (all) checkOptions(ns, "tail target", target, ["all"]);
    if (all && (target as { all?: unknown }).all !== true) {
      throw new StowageError("INVALID_ARGUMENT", "tail takes a key or { all: true }", { namespace: ns });
    }
    const key = all ? undefined : checkKey(ns, target);
    const opts = checkOptions(ns, "tail options", options, ["since", "signal"]);
    const since = opts.since === undefined ? undefined : checkInteger(ns, "since", opts.since, 0, Number.MAX_SAFE_INTEGER, key);
    const signal = checkSignal(ns, opts.signal);
    const feeds = feedContextOf(this.exec.feeds, ns, key);
    return {
      [Symbol.asyncIterator]: () => {
        let position: number | undefined;
        return follow(feeds, signal, async () => {
          if (position === undefined) {
            const lastSeq = await this.exec.read({ op: "logLastSeq", args: [ns] });
            if (since !== undefined) checkStartNotAhead(since, lastSeq, "since", ns, key);
            position = since ?? lastSeq;
          }
          const after = position;
          const rows = await this.exec.read(key === undefined ? { op: "logReadAll", args: [ns, after, TAIL_PAGE] } : { op: "logRead", args: [ns, key, after, TAIL_PAGE] });
          if (rows.length > 0) position = (rows[rows.length - 1] as StoredLogEntry).seq;
          return { items: rows.map((row) => this.entryOf(row)), more: rows.length === TAIL_PAGE };
        });
      },
    };
  }

  private entryOf(row: StoredLogEntry): LogEntry<T> {
    return { seq: row.seq, key: row.key, value: this.codec.decode(row.key, row.value), timestamp: row.timestamp };
  }

  private async read(key: string, afterSeq: unknown, options: LogReadOptions | undefined, checkSeq = false): Promise<LogEntry<T>[]> {
    const ns = this.namespace;
    checkKey(ns, key);
    const after = checkSeq ? checkInteger(ns, "seq", afterSeq, 0, Number.MAX_SAFE_INTEGER, key) : 0;
    const opts = checkOptions(ns, "log read options", options, ["limit"]);
    // Without a limit a log read returns every entry: a silent cap would look like the end of the log.
    const limit = opts.limit === undefined ? Number.MAX_SAFE_INTEGER : checkInteger(ns, "limit", opts.limit, 1, LIMITS.maxPageSize, key);
    const rows = await this.exec.read({ op: "logRead", args: [ns, key, after, limit] });
    return rows.map((row: StoredLogEntry) => this.entryOf(row));
  }
}
