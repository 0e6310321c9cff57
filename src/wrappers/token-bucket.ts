/** The rate and burst of one token bucket. */
export interface BucketLimit {
  /** Tokens added a second, continuously (fractions allowed: 0.5 is one call every 2 s). */
  ratePerSec: number;
  /** Most tokens the bucket holds: how many calls may run back to back after a quiet spell. */
  burst: number;
}

/**
 * Slack for floating-point error, in ms: a call that waited the whole delay it was told must be allowed, even when
 * the refill it earned comes out a hair under one token.
 */
const SLACK_MS = 1e-6;

/**
 * A token bucket refilled continuously: `tokens = min(burst, tokens + elapsed · rate)`. A call takes one token. The
 * balance may go below zero: that is a reservation, taken by a call that waits for its token, so that later calls
 * queue behind it instead of all waking at once to race for the same token.
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    readonly limit: BucketLimit,
    now: number,
  ) {
    this.tokens = limit.burst;
    this.updatedAt = now;
  }

  /** Whole ms from `now` until a token is free, reservations counted; 0 when one is free now. */
  delayMs(now: number): number {
    this.refill(now);
    const missing = 1 - this.tokens;
    if (missing <= 0) return 0;
    return Math.max(0, Math.ceil((missing * 1000) / this.limit.ratePerSec - SLACK_MS));
  }

  /** Takes a token: one that is free, or — for a call that then waits `delayMs` — one reserved ahead. */
  take(): void {
    this.tokens -= 1;
  }

  /** The tokens at `now` (below zero while reservations are outstanding). */
  available(now: number): number {
    this.refill(now);
    return this.tokens;
  }

  private refill(now: number): void {
    // A clock that steps back refills nothing until it has caught up again: never more than the rate.
    if (!(now > this.updatedAt)) return;
    this.tokens = Math.min(this.limit.burst, this.tokens + ((now - this.updatedAt) * this.limit.ratePerSec) / 1000);
    this.updatedAt = now;
  }
}

/**
 * Token buckets by name, at most `maxBuckets` of them: making one more drops the least recently used. A dropped bucket
 * comes back full, which is what it would be anyway once idle for `burst / ratePerSec` seconds — the least recently
 * used one usually has been.
 */
export class BucketTable {
  /** In use order: a Map keeps insertion order, so the first entry is the least recently used. */
  private readonly buckets = new Map<string, TokenBucket>();
  /** The bucket used last, already at the end of the order: the common run of calls to one bucket skips the reorder. */
  private lastName: string | undefined;

  constructor(private readonly maxBuckets: number) {}

  get size(): number {
    return this.buckets.size;
  }

  /** The bucket `name`, made full with `limitOf(name)` when it is new (or was dropped). */
  bucket(name: string, now: number, limitOf: (name: string) => BucketLimit): TokenBucket {
    const known = this.buckets.get(name);
    if (known !== undefined) {
      if (name !== this.lastName) {
        this.buckets.delete(name);
        this.buckets.set(name, known);
        this.lastName = name;
      }
      return known;
    }
    if (this.buckets.size >= this.maxBuckets) {
      const oldest = this.buckets.keys().next().value as string;
      this.buckets.delete(oldest);
    }
    const made = new TokenBucket(limitOf(name), now);
    this.buckets.set(name, made);
    this.lastName = name;
    return made;
  }
}
