/**
 * The namespaces with a KV change history, as far as this process knows: learned from its own watches, and reloaded
 * from the database at most every `everyMs` (so that other processes' watches are learned too). It decides only
 * how puts are sent (batched or not), never what is recorded, so being late is harmless.
 */
export class KnownHistories {
  private readonly names = new Set<string>();
  private loadedAt = Number.NEGATIVE_INFINITY;
  private loading = false;

  constructor(
    private readonly load: () => Promise<string[]>,
    private readonly everyMs = 10_000,
  ) {}

  has(ns: string): boolean {
    return this.names.has(ns);
  }

  add(ns: string): void {
    this.names.add(ns);
  }

  /** Starts a reload in the background when the last one is older than `everyMs`; never waits, never throws. */
  refresh(): void {
    const now = Date.now();
    if (this.loading || now - this.loadedAt < this.everyMs) return;
    this.loading = true;
    this.loadedAt = now;
    void this.load()
      .then(
        (names) => names.forEach((ns) => this.names.add(ns)),
        () => undefined,
      )
      .finally(() => (this.loading = false));
  }
}
