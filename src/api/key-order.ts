/**
 * Key order is UTF-8 byte order, which equals Unicode code point order. JavaScript compares strings by UTF-16 code
 * units, which differs for characters above U+FFFF against U+E000–U+FFFF; these helpers compare by code point so
 * every engine agrees with SQLite's BINARY collation and PostgreSQL's "C" collation.
 */

/** Maps a UTF-16 code unit so that plain numeric order of the mapped units is code point order. */
function orderUnit(unit: number): number {
  if (unit < 0xd800) return unit;
  if (unit < 0xe000) return unit + 0x2000; // surrogates (above U+FFFF) sort after the BMP
  return unit - 0x800;
}

/** Compares two keys in UTF-8 byte order: negative, zero or positive. */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return orderUnit(x) - orderUnit(y);
  }
  return a.length - b.length;
}

/**
 * The smallest string greater than every string that starts with `prefix`, or `undefined` when there is none
 * (a prefix of only U+10FFFF). Incrementing the last code point keeps byte order because UTF-8 preserves it.
 */
export function prefixUpperBound(prefix: string): string | undefined {
  const points = Array.from(prefix);
  while (points.length > 0) {
    const last = points.pop() as string;
    let next = (last.codePointAt(0) as number) + 1;
    if (next === 0xd800) next = 0xe000; // skip the surrogate range: not characters
    if (next <= 0x10ffff) return points.join("") + String.fromCodePoint(next);
  }
  return undefined;
}
