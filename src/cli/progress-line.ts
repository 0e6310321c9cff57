import type { RestoreProgress } from "../operations/restore-sink.js";

/** Where progress goes: stderr, and whether it is a terminal (a line redrawn in place) or not (plain lines). */
export interface ProgressTarget {
  write(text: string): void;
  isTTY: boolean;
  /** The clock, in ms (a parameter so that tests can drive it). */
  now?: () => number;
}

/** Plain lines at most this often when stderr is not a terminal; a terminal's line is redrawn at most 10 times a second. */
const PLAIN_EVERY_MS = 2_000;
const TTY_EVERY_MS = 100;

/**
 * Prints a copy's progress: items (of the total, when known), bytes, rate and time left. On a terminal one line is
 * redrawn in place with a bar; elsewhere (a log file, CI) a plain line every two seconds. `done` prints the last one.
 */
export class ProgressLine {
  private readonly started: number;
  private lastPrinted = -Infinity;
  private readonly now: () => number;

  constructor(
    private readonly target: ProgressTarget,
    private readonly verb: string,
    private readonly total: number | undefined,
  ) {
    this.now = target.now ?? Date.now;
    this.started = this.now();
  }

  update(progress: RestoreProgress): void {
    const now = this.now();
    if (now - this.lastPrinted < (this.target.isTTY ? TTY_EVERY_MS : PLAIN_EVERY_MS)) return;
    this.lastPrinted = now;
    this.print(progress, now, false);
  }

  done(progress: RestoreProgress): void {
    this.print(progress, this.now(), true);
  }

  /** The line's text (without the bar): `12,000 of 40,000 items · 3.1 MB · 5,120 items/s · 6s left`. */
  describe(progress: RestoreProgress, now: number): string {
    const seconds = Math.max((now - this.started) / 1000, 0.001);
    const rate = progress.items / seconds;
    const parts = [
      this.total === undefined ? `${count(progress.items)} items` : `${count(progress.items)} of ${count(this.total)} items`,
      bytes(progress.bytes),
      `${count(Math.round(rate))} items/s`,
    ];
    if (this.total !== undefined && rate > 0 && progress.items < this.total) parts.push(`${duration((this.total - progress.items) / rate)} left`);
    return `${this.verb} ${parts.join(" · ")}`;
  }

  private print(progress: RestoreProgress, now: number, last: boolean): void {
    const text = this.describe(progress, now);
    if (!this.target.isTTY) {
      this.target.write(`${text}\n`);
      return;
    }
    const share = this.total === undefined || this.total === 0 ? (last ? 1 : 0) : Math.min(progress.items / this.total, 1);
    const width = 24;
    const filled = Math.round(share * width);
    this.target.write(`\r\x1b[2K[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${Math.floor(share * 100)}% ${text}${last ? "\n" : ""}`);
  }
}

const count = (n: number): string => n.toLocaleString("en-US");

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

function duration(seconds: number): string {
  if (seconds < 60) return `${Math.ceil(seconds)}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${Math.ceil(seconds % 60)}s`;
  return `${Math.floor(seconds / 3600)}h ${Math.ceil((seconds % 3600) / 60)}m`;
}
