import type { ConfigEnv } from "../config/inputs.js";
import { ProgressLine } from "./progress-line.js";

/** What the CLI touches outside itself, injectable so that it can run in-process too. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  env: ConfigEnv;
  cwd: string;
  /** True when stderr is a terminal: progress is then one line redrawn in place, else plain lines. */
  stderrIsTTY?: boolean;
}

/**
 * Where a command prints its result. In `--json` mode each command prints exactly one JSON document on one line (easy
 * to pipe into `jq`); in text mode it prints lines for people and shell tools. Notes that are not the result (such
 * as the next list cursor) go to stderr so that stdout holds data only.
 */
export class Output {
  constructor(
    private readonly io: CliIo,
    readonly json: boolean,
  ) {}

  /** Prints the command's result: `json` in `--json` mode, else the text lines (none for a silent success). */
  result(json: unknown, text: string | readonly string[]): void {
    if (this.json) {
      this.io.stdout(`${JSON.stringify(json)}\n`);
      return;
    }
    const lines = typeof text === "string" ? [text] : text;
    if (lines.length > 0) this.io.stdout(`${lines.join("\n")}\n`);
  }

  /** Prints text lines whatever the mode: for commands (such as `demo`) whose output is a narrative. */
  line(text = ""): void {
    this.io.stdout(`${text}\n`);
  }

  /** A progress line on stderr for a long copy (`import`, `migrate`): redrawn on a terminal, plain lines elsewhere. */
  progress(verb: string, total: number | undefined): ProgressLine {
    return new ProgressLine({ write: (text) => this.io.stderr(text), isTTY: this.io.stderrIsTTY === true }, verb, total);
  }

  /** A note for the person at the terminal, on stderr. */
  note(text: string): void {
    this.io.stderr(`${text}\n`);
  }
}

/** A time in ms since the epoch as an ISO 8601 string, for text output. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** Lines of cells, each column padded to its widest cell; the last column is not padded. */
export function columns(rows: readonly (readonly string[])[], gap = "  "): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join(gap));
}
