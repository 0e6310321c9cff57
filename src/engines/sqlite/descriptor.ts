import { LIMITS } from "../../api/limits.js";
import type { EngineDescriptor } from "../descriptor.js";
import { choiceField, durationField, pathField } from "../engine-fields.js";
import { DEFAULT_BUSY_TIMEOUT_MS, DURABILITIES, SqliteEngine, type SqliteEngineOptions } from "./sqlite-engine.js";

/** Where the SQLite engine keeps its file when no path is given. */
export const DEFAULT_SQLITE_PATH = "./data/stowage.db";

/** The embedded SQLite engine (the default); its driver, better-sqlite3, is loaded when it opens. */
export const SQLITE_ENGINE: EngineDescriptor<SqliteEngineOptions> = {
  name: "sqlite",
  summary: "An embedded SQLite file: one machine, any number of processes",
  supports: SqliteEngine.supports,
  fields: [
    pathField({ option: "path", doc: "SQLite database file; it and its folders are created if absent", default: DEFAULT_SQLITE_PATH }),
    choiceField({
      option: "durability",
      doc: "full (fsync every commit) or process (synced at checkpoints: survives a process kill, not a power cut)",
      choices: DURABILITIES,
      default: "full",
    }),
    durationField({
      option: "busyTimeoutMs",
      doc: "How long a write waits for another process's lock, in ms",
      min: 0,
      max: LIMITS.maxTimerMs,
      default: DEFAULT_BUSY_TIMEOUT_MS,
    }),
  ],
  open: (options) => SqliteEngine.open(options),
};
