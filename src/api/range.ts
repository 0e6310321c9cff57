/**
 * A key range as engines receive it: already validated, with prefix, start, end and cursor folded into two bounds.
 * The lower bound may be inclusive or exclusive; the upper bound is always exclusive.
 */
export interface KeyRange {
  lower?: string;
  lowerInclusive: boolean;
  upper?: string;
}

/** A page request over a {@link KeyRange}. */
export interface RangeScan extends KeyRange {
  reverse: boolean;
  limit: number;
  keysOnly: boolean;
}
