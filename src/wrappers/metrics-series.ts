/** One metrics series of {@link withMetrics}: counts since the start and a ring of the most recent latencies. */

/** Smallest ring a series starts with; it doubles up to its capacity, so a rarely used series stays small. */
const INITIAL_SAMPLES = 16;

/** Latency figures of the samples inside the window, in ms (null: no sample in the window). */
export interface WindowStats {
  samples: number;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

/**
 * Counts of one (operation, namespace) pair, and its most recent latencies with the times they were taken. Recording
 * writes two array slots: no sorting, and no allocation except when the ring doubles (at most log2(capacity) times).
 */
export class Series {
  calls = 0;
  /** Failed calls by error code; created at the first failure. */
  errors: Map<string, number> | undefined;
  private latencies: Float64Array;
  private times: Float64Array;
  /** Where the next sample goes. */
  private next = 0;
  /** Slots holding a sample. */
  private filled = 0;

  constructor(
    readonly op: string,
    readonly namespace: string,
    private readonly capacity: number,
  ) {
    const size = Math.min(INITIAL_SAMPLES, capacity);
    this.latencies = new Float64Array(size);
    this.times = new Float64Array(size);
  }

  /** One latency of `ms` taken at `at` (the metrics clock), replacing the oldest sample when the ring is full. */
  record(ms: number, at: number): void {
    let slot = this.next;
    if (slot === this.latencies.length) {
      if (slot < this.capacity) this.grow();
      else slot = 0;
    }
    this.latencies[slot] = ms;
    this.times[slot] = at;
    this.next = slot + 1;
    if (this.filled < this.next) this.filled = this.next;
  }

  /** Samples held, inside the window or not. */
  get size(): number {
    return this.filled;
  }

  countError(code: string): void {
    const errors = (this.errors ??= new Map());
    errors.set(code, (errors.get(code) ?? 0) + 1);
  }

  /**
   * Percentiles of the samples taken after `cutoff`, by nearest rank: the p-th percentile of n sorted samples is the
   * ⌈p·n/100⌉-th smallest, an actual sample (for latencies of 1, 2, …, 100 ms: p50 = 50, p95 = 95, p99 = 99).
   * `scratch` holds at least {@link Series.size} numbers.
   */
  window(cutoff: number, scratch: Float64Array): WindowStats {
    let n = 0;
    for (let i = 0; i < this.filled; i++) {
      if ((this.times[i] as number) > cutoff) scratch[n++] = this.latencies[i] as number;
    }
    if (n === 0) return { samples: 0, p50Ms: null, p95Ms: null, p99Ms: null, maxMs: null };
    const sorted = scratch.subarray(0, n).sort();
    return { samples: n, p50Ms: rank(sorted, 50), p95Ms: rank(sorted, 95), p99Ms: rank(sorted, 99), maxMs: sorted[n - 1] as number };
  }

  private grow(): void {
    const size = Math.min(this.latencies.length * 2, this.capacity);
    const latencies = new Float64Array(size);
    const times = new Float64Array(size);
    // Only a full ring that has not wrapped grows, so its samples are in order from slot 0.
    latencies.set(this.latencies);
    times.set(this.times);
    this.latencies = latencies;
    this.times = times;
  }
}

/** The nearest-rank percentile; integer arithmetic, so that 95 · 100 / 100 is exactly rank 95. */
function rank(sorted: Float64Array, percent: number): number {
  const position = Math.max(1, Math.ceil((percent * sorted.length) / 100));
  return sorted[position - 1] as number;
}
