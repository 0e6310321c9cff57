import { access } from "node:fs/promises";
import type { Engine, EngineFacts } from "../engines/engine.js";
import type { MemoryPersistence } from "../engines/memory/memory-engine.js";
import { StowageError } from "../api/errors.js";
import { writeDumpFile } from "./dump-file.js";
import { restoreDump } from "./restore-sink.js";
import { engineSource } from "./store-source.js";

/**
 * An engine's data kept in a dump file across restarts (the memory engine's `snapshotPath`): loaded at open, written
 * every `intervalMs` (0: only at close) and at close, each time whole and atomically (the file holds the previous
 * snapshot or the new one). What a crash loses is what changed since the last snapshot. KV entries go in as stored,
 * expired ones too (judged at time 0), so that no clock decides what survives: the store's sweep removes them.
 */
export class SnapshotFile implements MemoryPersistence {
  private timer: NodeJS.Timeout | undefined;
  private saving: Promise<void> = Promise.resolve();
  private lastSavedAt = 0;
  private lastFailure: string | undefined;

  constructor(
    private readonly engine: Engine,
    readonly path: string,
    private readonly intervalMs: number,
  ) {}

  /**
   * Restores the file into the (empty) engine, when there is one: checked whole first, so that a damaged file refuses
   * the open (CORRUPT) rather than start with part of the data — and is left as it is, for the operator to look at.
   */
  async load(): Promise<void> {
    if (await exists(this.path)) await restoreDump(this.engine, this.path);
  }

  /** Starts the periodic snapshots; the timer does not keep the process alive. */
  start(): void {
    if (this.intervalMs === 0) return;
    this.timer = setInterval(() => void this.save().catch(() => undefined), this.intervalMs);
    this.timer.unref();
  }

  /** Writes a snapshot now, after the one under way (snapshots never overlap). */
  save(): Promise<void> {
    const next = this.saving.then(async () => {
      try {
        await writeDumpFile(engineSource(this.engine, 0), this.path);
        this.lastSavedAt = Date.now();
        this.lastFailure = undefined;
      } catch (error) {
        this.lastFailure = (error as Error).message;
        throw error;
      }
    });
    this.saving = next.catch(() => undefined);
    return next;
  }

  /** For `store.health()`: a failing snapshot makes the store `degraded` (what a crash would lose grows). */
  facts(): EngineFacts {
    const facts = { "snapshot.path": this.path, "snapshot.lastSavedAt": this.lastSavedAt, "snapshot.intervalMs": this.intervalMs };
    return { facts, warnings: this.lastFailure === undefined ? [] : [`the last snapshot to ${this.path} failed: ${this.lastFailure}`] };
  }

  /** Stops the timer and writes the last snapshot; a failure of it rejects, naming the file. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    try {
      await this.save();
    } catch (error) {
      throw new StowageError("BACKEND_UNAVAILABLE", `the memory engine's last snapshot to ${this.path} failed: ${(error as Error).message}`, { cause: error });
    }
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
