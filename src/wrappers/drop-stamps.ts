/**
 * When each cached key (and namespace) was last dropped, on a counter that grows with every drop, so that a read
 * that started before a drop of its key does not store the value it read — while reads of other keys still fill.
 * Bounded: a forgotten drop raises a floor, and reads that started below the floor do not fill (conservative).
 */
export class DropStamps {
  private stamp = 0;
  private floor = 0;
  private readonly keys = new Map<string, number>();
  private readonly namespaces = new Map<string, number>();

  constructor(private readonly max: number) {}

  /** The reading a read takes as it starts, to pass to `unchangedSince` when it ends. */
  start(): number {
    return this.stamp;
  }

  key(key: string): void {
    this.record(this.keys, key);
  }

  namespace(prefix: string): void {
    this.record(this.namespaces, prefix);
  }

  /** Everything was dropped: no read that started before now may fill. */
  all(): void {
    this.stamp += 1;
    this.floor = this.stamp;
    this.keys.clear();
    this.namespaces.clear();
  }

  /** True when neither `key` nor the namespace `prefix` was dropped since the read that took `started` began. */
  unchangedSince(key: string, prefix: string, started: number): boolean {
    if (this.floor > started) return false;
    const keyStamp = this.keys.get(key);
    if (keyStamp !== undefined && keyStamp > started) return false;
    const namespaceStamp = this.namespaces.get(prefix);
    return namespaceStamp === undefined || namespaceStamp <= started;
  }

  private record(stamps: Map<string, number>, name: string): void {
    this.stamp += 1;
    stamps.delete(name); // re-inserted last: the map stays in stamp order, oldest first
    stamps.set(name, this.stamp);
    while (stamps.size > this.max) {
      const [oldest, stamp] = stamps.entries().next().value as [string, number];
      stamps.delete(oldest);
      this.floor = Math.max(this.floor, stamp);
    }
  }
}
