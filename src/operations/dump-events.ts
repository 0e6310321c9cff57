import { createHash, type Hash } from "node:crypto";
import type { DumpHeader, DumpItem, DumpPrimitive, DumpTrailer, SectionEnd, SectionStart } from "./dump-format.js";
import { itemLine, startLine } from "./dump-format.js";

/**
 * What a dump source (a store's snapshot, a dump file) tells its sink, in order: the header, then per namespace its
 * start, its items in pages (one event per page: a call per row would cost more than the row), and its end, then the
 * trailer. Every start and item carries its line as the dump format writes it, which is what the namespace's digest
 * covers.
 */
export type DumpEvent =
  | { type: "header"; header: DumpHeader }
  | { type: "start"; start: SectionStart; line: string }
  | { type: "items"; items: readonly DumpItem[]; lines: readonly string[] }
  | { type: "end"; end: SectionEnd }
  | { type: "trailer"; trailer: DumpTrailer };

/** Takes a source's events one at a time; a promise holds the source back until the sink caught up (constant memory). */
export type DumpSink = (event: DumpEvent) => void | Promise<void>;

/** A source of dump events: it calls `sink` with each, in order, and resolves once the trailer went out. */
export type DumpSource = (sink: DumpSink) => Promise<void>;

/** The running digest and count of one namespace's lines. */
export class SectionDigest {
  private readonly hash: Hash = createHash("sha256");
  count = 0;

  constructor(readonly start: SectionStart, startText: string = startLine(start)) {
    this.hash.update(startText).update("\n");
  }

  add(line: string): void {
    this.hash.update(line).update("\n");
    this.count += 1;
  }

  /** The namespace's closing line's facts; ends the digest. */
  finish(): SectionEnd {
    return { end: this.start.begin, namespace: this.start.namespace, count: this.count, sha256: this.hash.digest("hex") };
  }
}

/** `<primitive> "<namespace>"`, for messages. */
export function sectionName(primitive: DumpPrimitive, namespace: string): string {
  return `${primitive} namespace "${namespace}"`;
}

/** A sink's emitter for a namespace being read: its start goes out with its first item, or not at all when it holds nothing to carry. */
export class SectionEmitter {
  private digest: SectionDigest | undefined;
  private readonly startText: string;
  items = 0;

  constructor(
    private readonly start: SectionStart,
    private readonly sink: DumpSink,
  ) {
    this.startText = startLine(start);
  }

  /** A page of the namespace's items, in dump order. */
  async page(items: readonly DumpItem[]): Promise<void> {
    if (items.length === 0) return;
    if (this.digest === undefined) await this.open();
    const lines = items.map(itemLine);
    for (const line of lines) this.digest!.add(line);
    this.items += items.length;
    await this.sink({ type: "items", items, lines });
  }

  /** Ends the namespace; one with no items and no counter to keep (a log's last sequence, a queue's or work queue's last id) is left out. True when it went out. */
  async finish(): Promise<boolean> {
    if (this.digest === undefined) {
      const start = this.start;
      const counter = start.begin === "log" ? start.lastSeq : start.begin === "queue" || start.begin === "work" ? start.lastId : 0;
      if (counter === 0) return false;
      await this.open();
    }
    await this.sink({ type: "end", end: this.digest!.finish() });
    return true;
  }

  private async open(): Promise<void> {
    this.digest = new SectionDigest(this.start, this.startText);
    await this.sink({ type: "start", start: this.start, line: this.startText });
  }
}
