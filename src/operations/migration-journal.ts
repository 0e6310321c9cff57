import { readFile, rm, writeFile, rename } from "node:fs/promises";
import { StowageError } from "../api/errors.js";
import type { SectionEnd } from "./dump-format.js";

/** What a migration journal file holds. */
interface JournalContent {
  stowage: "migration";
  version: 1;
  source: string;
  target: string;
  startedAt: number;
  /** The namespaces copied whole, with their closing facts, in the order they were copied. */
  completed: SectionEnd[];
}

/**
 * A migration's record of the namespaces it copied whole, in a small JSON file, so that a run interrupted (killed,
 * a connection lost) goes on where it stopped: the next run skips those namespaces and resumes the one it was in.
 * Written before the first write and after each namespace (atomically: a temporary file renamed); removed once the
 * copy validated.
 */
export class MigrationJournal {
  private constructor(
    readonly path: string,
    private readonly content: JournalContent,
    /** True when the file was there already: this run resumes an interrupted one. */
    readonly resuming: boolean,
  ) {}

  /**
   * Opens the journal at `path`: the one an interrupted run of the same copy left (else CONFLICT), or a new one, which
   * is not written until {@link begin}.
   */
  static async open(path: string, source: string, target: string): Promise<MigrationJournal> {
    let text: string | undefined;
    try {
      text = await readFile(path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw new StowageError("INVALID_ARGUMENT", `the migration journal ${path} cannot be read: ${(error as Error).message}`, { cause: error });
    }
    if (text === undefined) return new MigrationJournal(path, { stowage: "migration", version: 1, source, target, startedAt: Date.now(), completed: [] }, false);
    let content: JournalContent;
    try {
      content = JSON.parse(text) as JournalContent;
    } catch {
      throw new StowageError("CORRUPT", `the migration journal ${path} is not JSON; remove it to start the migration over (into an empty target)`);
    }
    if (content.stowage !== "migration" || content.version !== 1 || !Array.isArray(content.completed)) {
      throw new StowageError("INCOMPATIBLE", `${path} is not a stowage migration journal`);
    }
    if (content.source !== source || content.target !== target) {
      throw new StowageError(
        "CONFLICT",
        `the migration journal ${path} belongs to a migration from ${content.source} to ${content.target}, not from ${source} to ${target}; finish that one or remove the journal`,
      );
    }
    return new MigrationJournal(path, content, true);
  }

  /** The namespaces copied whole by earlier runs. */
  get completed(): readonly SectionEnd[] {
    return this.content.completed;
  }

  /** Writes a new journal before the copy's first write, so that an interruption from then on resumes. */
  async begin(): Promise<void> {
    if (!this.resuming) await this.write();
  }

  async record(end: SectionEnd): Promise<void> {
    this.content.completed.push(end);
    await this.write();
  }

  async remove(): Promise<void> {
    await rm(this.path, { force: true });
  }

  private async write(): Promise<void> {
    const temporary = `${this.path}.partial`;
    await writeFile(temporary, `${JSON.stringify(this.content)}\n`);
    await rename(temporary, this.path);
  }
}
