import { isStowageError } from "../api/errors.js";
import type { Engine } from "../engines/engine.js";
import type { SectionEnd } from "./dump-format.js";
import { namespaceFacts, type Section } from "./store-source.js";

const idOf = (section: Section) => `${section.primitive}:${section.namespace}`;

/**
 * A migration's read-back of its target, overlapped with the copy: each namespace is read back (count and digest, a
 * snapshot of its own) as soon as its last batch committed, while the next one copies; one read at a time, in order.
 * {@link finish} then checks that nothing changed since: the target's description (one count per namespace) must
 * match what was read, and a namespace that does not match, or that was not read back (a target that held data
 * already, or an earlier run's), is read again then.
 */
export class TargetReadBack {
  private chain: Promise<void> = Promise.resolve();
  private failure: unknown;
  /** Reads wait for the end (see {@link add}). */
  private deferred = false;
  /** Facts of the namespaces read back; undefined for one a dump would leave out (nothing to carry). */
  private readonly read = new Map<string, SectionEnd | undefined>();

  constructor(
    private readonly engine: Engine,
    private readonly now: number,
  ) {}

  /**
   * Reads `section` back once the reads asked for before it are done. Never rejects: a failure waits for
   * {@link finish}. An engine that cannot hold a snapshot (Redis, Azure Table) refuses a read that a commit landed in
   * with CONFLICT: that namespace, and every later one, is then read at the end, when the copy writes no more.
   */
  add(section: Section): void {
    this.chain = this.chain.then(async () => {
      if (this.failure !== undefined || this.deferred) return;
      try {
        this.read.set(idOf(section), await namespaceFacts(this.engine, this.now, section));
      } catch (error) {
        if (isStowageError(error, "CONFLICT")) this.deferred = true;
        else this.failure = error;
      }
    });
  }

  /** Waits for the reads asked for; their failure is dropped (for a copy that failed itself). */
  async stop(): Promise<void> {
    await this.chain;
  }

  /** The facts of every namespace the target holds now (see the class comment); rejects with a read's failure. */
  async finish(): Promise<SectionEnd[]> {
    await this.chain;
    if (this.failure !== undefined) throw this.failure;
    const described = await this.engine.read({ op: "describe", args: [this.now] });
    const counts = new Map(described.namespaces.map((info) => [idOf(info), info.count]));
    const sections = new Map<string, Section>(described.namespaces.map((info) => [idOf(info), { primitive: info.primitive, namespace: info.namespace }]));
    for (const [id, end] of this.read) if (end !== undefined) sections.set(id, { primitive: end.end, namespace: end.namespace });
    const ends: SectionEnd[] = [];
    for (const [id, section] of sections) {
      const readBack = this.read.get(id);
      const unchanged = this.read.has(id) && (readBack?.count ?? 0) === (counts.get(id) ?? 0);
      const end = unchanged ? readBack : await namespaceFacts(this.engine, this.now, section);
      if (end !== undefined) ends.push(end);
    }
    return ends;
  }
}
