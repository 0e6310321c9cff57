import { LIMITS } from "../api/limits.js";
import type { Log, LogEntry, LogReadOptions } from "../api/types.js";
import type { StoredLogEntry } from "../engines/engine.js";
import { HandleBase } from "./handle-base.js";
import { checkInteger, checkKey, checkOptions, utf8Length } from "./validate.js";

/** The store's {@link Log} implementation. */
export class LogHandle<T> extends HandleBase<T> implements Log<T> {
  async append(key: string, value: T): Promise<number> {
    const ns = this.namespace;
    checkKey(ns, key);
    const bytes = this.codec.encode(key, value);
    const now = this.exec.now();
    return this.exec.write((ops) => ops.logAppend(ns, key, bytes, now), utf8Length(key) + bytes.byteLength);
  }

  list(key: string, options?: LogReadOptions): Promise<LogEntry<T>[]> {
    return this.read(key, 0, options);
  }

  since(key: string, seq: number, options?: LogReadOptions): Promise<LogEntry<T>[]> {
    return this.read(key, seq, options, true);
  }

  async lastSeq(): Promise<number> {
    const ns = this.namespace;
    return this.exec.read((ops) => ops.logLastSeq(ns));
  }

  private async read(key: string, afterSeq: unknown, options: LogReadOptions | undefined, checkSeq = false): Promise<LogEntry<T>[]> {
    const ns = this.namespace;
    checkKey(ns, key);
    const after = checkSeq ? checkInteger(ns, "seq", afterSeq, 0, Number.MAX_SAFE_INTEGER, key) : 0;
    const opts = checkOptions(ns, "log read options", options, ["limit"]);
    // Without a limit a log read returns every entry: a silent cap would look like the end of the log.
    const limit = opts.limit === undefined ? Number.MAX_SAFE_INTEGER : checkInteger(ns, "limit", opts.limit, 1, LIMITS.maxPageSize, key);
    const rows = await this.exec.read((ops) => ops.logRead(ns, key, after, limit));
    return rows.map((row: StoredLogEntry) => ({ seq: row.seq, key: row.key, value: this.codec.decode(key, row.value), timestamp: row.timestamp }));
  }
}
