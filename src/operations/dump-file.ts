import { once } from "node:events";
import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createInterface } from "node:readline";
import { PassThrough, Readable } from "node:stream";
import { createGunzip, createGzip } from "node:zlib";
import { StowageError } from "../api/errors.js";
import { readHeader, readLine, type DumpHeader, type DumpItem, type DumpPrimitive, type SectionEnd } from "./dump-format.js";
import { DUMP_PAGE } from "./store-source.js";
import { SectionDigest, sectionName, type DumpSink, type DumpSource } from "./dump-events.js";

/** What a dump holds, as its writer or reader counted it. */
export interface DumpSummary {
  namespaces: number;
  items: number;
  /** Each namespace's closing facts: count and digest. */
  sections: SectionEnd[];
}

/**
 * The compressed bytes of a dump of `source`, as a stream a file, an upload or a pipe reads at its own pace: the
 * source waits while the stream is full (constant memory for any size). A failing source ends the stream with its
 * error. `summary` resolves once the whole dump went out.
 */
export function dumpBytes(source: DumpSource): { stream: Readable; summary: Promise<DumpSummary> } {
  const gzip = createGzip();
  const summary: DumpSummary = { namespaces: 0, items: 0, sections: [] };
  const write = async (line: string): Promise<void> => {
    if (!gzip.write(`${line}\n`)) await Promise.race([once(gzip, "drain"), once(gzip, "close")]);
    if (gzip.destroyed) throw new StowageError("CLOSED", "the dump's reader stopped reading");
  };
  const sink: DumpSink = async (event) => {
    switch (event.type) {
      case "header":
        return write(JSON.stringify(event.header));
      case "start":
        return write(event.line);
      case "items":
        return write(event.lines.join("\n"));
      case "end":
        summary.namespaces += 1;
        summary.items += event.end.count;
        summary.sections.push(event.end);
        return write(JSON.stringify(event.end));
      case "trailer":
        return write(JSON.stringify(event.trailer));
    }
  };
  const done = source(sink).then(
    () => {
      gzip.end();
      return summary;
    },
    (error: unknown) => {
      gzip.destroy(error as Error);
      throw error;
    },
  );
  // The stream carries the failure to its reader; the summary's own rejection is for whoever awaits it.
  done.catch(() => undefined);
  return { stream: gzip, summary: done };
}

/**
 * Writes a dump of `source` to a file atomically: beside it under a temporary name, flushed to disk, renamed over
 * `path`, and the folder flushed, so that `path` holds the old file or the whole new one, never half a dump.
 */
export async function writeDumpFile(source: DumpSource, path: string): Promise<DumpSummary> {
  const { stream, summary } = dumpBytes(source);
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString("hex")}.partial`);
  try {
    await pipeline(stream, createWriteStream(temporary, { flags: "wx" }));
    const written = await summary;
    await syncPath(temporary, "r+");
    await rename(temporary, path);
    await syncPath(dirname(path), "r");
    return written;
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

async function syncPath(path: string, flags: string): Promise<void> {
  const handle = await open(path, flags);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * A dump (a file's path, or its compressed bytes) as a source. It checks as it reads: the header's format version,
 * each line, each namespace's count and SHA-256 digest, and the closing line; any failure is CORRUPT (INCOMPATIBLE for
 * another program's file or a newer format) naming the line, and what was read before it reached the sink already —
 * a sink that must not keep a half dump (an import) reads it from a file it can first check whole (`verifyDump`).
 */
export function dumpSource(input: string | Readable | AsyncIterable<Uint8Array>): DumpSource {
  return async (sink) => {
    const raw = typeof input === "string" ? openDumpFile(input) : Readable.from(input as AsyncIterable<Uint8Array>, { objectMode: false });
    const gunzip = createGunzip();
    const text = new PassThrough();
    raw.on("error", (error) => text.destroy(error));
    gunzip.on("error", (error) => text.destroy(new StowageError("CORRUPT", `the dump is not readable gzip data: ${error.message}`, { cause: error })));
    raw.pipe(gunzip).pipe(text);
    const lines = createInterface({ input: text, crlfDelay: Infinity });
    let number = 0;
    let header = false;
    let section: SectionDigest | undefined;
    let ended = false;
    // Items go to the sink a page at a time, like a store's.
    let page: DumpItem[] = [];
    let pageLines: string[] = [];
    const flush = async () => {
      if (page.length === 0) return;
      const items = page;
      const lines = pageLines;
      page = [];
      pageLines = [];
      await sink({ type: "items", items, lines });
    };
    try {
      for await (const line of lines) {
        number += 1;
        if (ended) throw new StowageError("CORRUPT", `the dump goes on after its closing line (line ${number})`);
        if (!header) {
          await sink({ type: "header", header: readHeader(line) });
          header = true;
          continue;
        }
        const place = section === undefined ? { line: number } : { line: number, namespace: section.start.namespace };
        const read = readLine(line, section?.start.begin as DumpPrimitive | undefined, place);
        switch (read.type) {
          case "start":
            section = new SectionDigest(read.start, line);
            await sink({ type: "start", start: read.start, line });
            break;
          case "item":
            section!.add(line);
            page.push(read.item);
            pageLines.push(line);
            if (page.length === DUMP_PAGE) await flush();
            break;
          case "end": {
            await flush();
            const computed = section!.finish();
            checkSection(read.end, computed, number);
            section = undefined;
            await sink({ type: "end", end: computed });
            break;
          }
          case "trailer":
            ended = true;
            await sink({ type: "trailer", trailer: read.trailer });
            break;
        }
      }
    } catch (error) {
      raw.destroy();
      throw readFailure(error);
    }
    if (!header) throw new StowageError("CORRUPT", "the dump is empty");
    if (!ended) throw new StowageError("CORRUPT", `the dump is cut short: it ends at line ${number} without its closing line`);
  };
}

function openDumpFile(path: string): Readable {
  return createReadStream(path);
}

function checkSection(written: SectionEnd, computed: SectionEnd, line: number): void {
  const name = sectionName(written.end, written.namespace);
  if (written.namespace !== computed.namespace) throw new StowageError("CORRUPT", `line ${line} closes namespace "${written.namespace}" inside "${computed.namespace}"`);
  if (written.count !== computed.count) throw new StowageError("CORRUPT", `${name} holds ${computed.count} items but its closing line (line ${line}) says ${written.count}`, { namespace: written.namespace });
  if (written.sha256 !== computed.sha256) throw new StowageError("CORRUPT", `${name} does not match its checksum (line ${line}): the dump was changed or damaged`, { namespace: written.namespace });
}

/** INVALID_ARGUMENT naming the dump when `error` is a file that cannot be opened (absent, a folder, not allowed). */
function cannotOpen(error: unknown): StowageError | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === "ENOENT" || code === "EISDIR" || code === "EACCES") return new StowageError("INVALID_ARGUMENT", `the dump cannot be opened: ${(error as Error).message}`, { cause: error });
  return undefined;
}

/** A dump that cannot be opened is INVALID_ARGUMENT naming it; anything else unreadable is CORRUPT. */
function readFailure(error: unknown): unknown {
  if (error instanceof StowageError) return error;
  return cannotOpen(error) ?? new StowageError("CORRUPT", `the dump cannot be read: ${(error as Error)?.message ?? String(error)}`, { cause: error });
}

/** The header of a dump file, read from its first line alone. */
export async function readDumpHeader(path: string): Promise<DumpHeader> {
  const input = createReadStream(path);
  const lines = createInterface({ input: input.pipe(createGunzip()), crlfDelay: Infinity });
  try {
    for await (const line of lines) return readHeader(line);
    throw new StowageError("CORRUPT", `the dump ${path} is empty`);
  } catch (error) {
    if (error instanceof StowageError) throw error;
    throw cannotOpen(error) ?? new StowageError("INCOMPATIBLE", `${path} is not a stowage dump (not gzip text)`, { cause: error });
  } finally {
    lines.close();
    input.destroy();
  }
}

/** Reads a whole dump and checks every namespace's digest and the closing line, keeping nothing: its summary. */
export async function verifyDump(input: string | Readable | AsyncIterable<Uint8Array>): Promise<DumpSummary> {
  const summary: DumpSummary = { namespaces: 0, items: 0, sections: [] };
  await dumpSource(input)((event) => {
    if (event.type !== "end") return;
    summary.namespaces += 1;
    summary.items += event.end.count;
    summary.sections.push(event.end);
  });
  return summary;
}
