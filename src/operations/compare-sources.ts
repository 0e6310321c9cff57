import type { DumpItem, DumpPrimitive, SectionEnd, SectionStart } from "./dump-format.js";
import { sectionName, type DumpEvent, type DumpSource } from "./dump-events.js";
import { pullEvents } from "./pull-events.js";
import { compareSections } from "./store-source.js";

/** One side's facts of a namespace: its item count and digest. */
export interface SectionFacts {
  count: number;
  sha256: string;
}

/** A namespace as two sides hold it (a side that lacks it has no facts). */
export interface NamespaceComparison {
  primitive: DumpPrimitive;
  namespace: string;
  left?: SectionFacts;
  right?: SectionFacts;
  equal: boolean;
}

/** What `validate` found. */
export interface ValidationReport {
  /** True when every namespace has the same items (and counters) on both sides. */
  equal: boolean;
  namespaces: NamespaceComparison[];
  /** The first difference in dump order, in words ("kv namespace "a": key "k" differs"); absent when equal. */
  firstDifference?: string;
  /** What each side is called in messages. */
  names: { left: string; right: string };
}

/** A side's events one item at a time (pages expanded), for the item-by-item comparison. */
type ItemEvent = Exclude<DumpEvent, { type: "items" }> | { type: "item"; item: DumpItem; line: string };
type Side = AsyncGenerator<ItemEvent>;

async function* itemByItem(source: DumpSource): Side {
  for await (const event of pullEvents(source)) {
    if (event.type !== "items") yield event;
    else for (let i = 0; i < event.items.length; i++) yield { type: "item", item: event.items[i]!, line: event.lines[i]! };
  }
}

/** The next event that is not a header, or undefined when the side is done. */
async function nextEvent(side: Side): Promise<ItemEvent | undefined> {
  for (;;) {
    const { value, done } = await side.next();
    if (done === true) return undefined;
    if (value.type !== "header") return value;
  }
}

/**
 * Compares two dump sources namespace by namespace, in one pass over both (constant memory): counts, digests, and the
 * first item (or counter) that differs, named by its key, sequence or id.
 */
export async function compareSources(left: DumpSource, right: DumpSource, names = { left: "source", right: "target" }): Promise<ValidationReport> {
  const sides = [itemByItem(left), itemByItem(right)] as const;
  const namespaces: NamespaceComparison[] = [];
  let firstDifference: string | undefined;
  const differ = (text: string) => (firstDifference ??= text);
  try {
    let [a, b] = await Promise.all([nextEvent(sides[0]), nextEvent(sides[1])]);
    for (;;) {
      const aStart = a?.type === "start" ? a.start : undefined;
      const bStart = b?.type === "start" ? b.start : undefined;
      if (aStart === undefined && bStart === undefined) break;
      const order = aStart === undefined ? 1 : bStart === undefined ? -1 : compareSections(asSection(aStart), asSection(bStart));
      if (order < 0) {
        const facts = await skipSection(sides[0]);
        namespaces.push({ ...asSection(aStart!), left: facts, equal: false });
        differ(`${sectionName(aStart!.begin, aStart!.namespace)} is in the ${names.left} only`);
        a = await nextEvent(sides[0]);
      } else if (order > 0) {
        const facts = await skipSection(sides[1]);
        namespaces.push({ ...asSection(bStart!), right: facts, equal: false });
        differ(`${sectionName(bStart!.begin, bStart!.namespace)} is in the ${names.right} only`);
        b = await nextEvent(sides[1]);
      } else {
        const compared = await compareSection(sides, aStart!, bStart!, names);
        namespaces.push(compared.comparison);
        if (compared.difference !== undefined) differ(compared.difference);
        [a, b] = await Promise.all([nextEvent(sides[0]), nextEvent(sides[1])]);
      }
    }
  } finally {
    await Promise.all(sides.map((side) => side.return(undefined)));
  }
  return { equal: firstDifference === undefined, namespaces, ...(firstDifference === undefined ? {} : { firstDifference }), names };
}

const asSection = (start: SectionStart) => ({ primitive: start.begin, namespace: start.namespace });

/** Reads past a section's items to its end: its facts. */
async function skipSection(side: Side): Promise<SectionFacts> {
  for (;;) {
    const event = await nextEvent(side);
    if (event === undefined) throw new Error("a dump source ended inside a namespace");
    if (event.type === "end") return { count: event.end.count, sha256: event.end.sha256 };
  }
}

async function compareSection(
  sides: readonly [Side, Side],
  aStart: SectionStart,
  bStart: SectionStart,
  names: { left: string; right: string },
): Promise<{ comparison: NamespaceComparison; difference?: string }> {
  const name = sectionName(aStart.begin, aStart.namespace);
  let difference: string | undefined;
  if (JSON.stringify(aStart) !== JSON.stringify(bStart)) difference = `${name}: ${counterText(aStart)} in the ${names.left}, ${counterText(bStart)} in the ${names.right}`;
  let a = await nextEvent(sides[0]);
  let b = await nextEvent(sides[1]);
  while (a?.type === "item" && b?.type === "item") {
    if (difference === undefined && a.line !== b.line) {
      const aPlace = placeOf(a.item);
      const bPlace = placeOf(b.item);
      difference = aPlace === bPlace ? `${name}: ${aPlace} differs` : `${name}: the ${names.left} has ${aPlace} where the ${names.right} has ${bPlace}`;
    }
    [a, b] = await Promise.all([nextEvent(sides[0]), nextEvent(sides[1])]);
  }
  if (a?.type === "item") {
    difference ??= `${name}: ${placeOf(a.item)} is in the ${names.left} only`;
    while (a?.type === "item") a = await nextEvent(sides[0]);
  }
  if (b?.type === "item") {
    difference ??= `${name}: ${placeOf(b.item)} is in the ${names.right} only`;
    while (b?.type === "item") b = await nextEvent(sides[1]);
  }
  if (a?.type !== "end" || b?.type !== "end") throw new Error("a dump source ended inside a namespace");
  const left = { count: a.end.count, sha256: a.end.sha256 };
  const right = { count: b.end.count, sha256: b.end.sha256 };
  const equal = difference === undefined && left.sha256 === right.sha256;
  return { comparison: { ...asSection(aStart), left, right, equal }, ...(difference === undefined ? {} : { difference }) };
}

function counterText(start: SectionStart): string {
  if (start.begin === "log") return `last sequence ${start.lastSeq}`;
  if (start.begin === "queue" || start.begin === "work") return `last id ${start.lastId}`;
  return "no counter";
}

/** An item's place in words: its key, sequence or id. */
function placeOf(item: DumpItem): string {
  switch (item.kind) {
    case "kv":
    case "slot":
      return `key ${JSON.stringify(item.row.key)}`;
    case "log":
      return `sequence ${item.entry.seq}`;
    case "queue":
      return `item ${item.row.id} of queue ${JSON.stringify(item.row.key)}`;
    case "work":
      return `item ${item.row.id} of work queue ${JSON.stringify(item.row.key)}`;
    case "stream":
      return `entry ${item.entry.seq} of segment ${JSON.stringify(item.segment)} in space ${JSON.stringify(item.space)}`;
  }
}

/** Compares two sources' namespace facts (counts and digests, in dump order): which namespaces differ, not which items. */
export function compareFacts(left: readonly SectionEnd[], right: readonly SectionEnd[], names = { left: "source", right: "target" }): ValidationReport {
  const byName = (ends: readonly SectionEnd[]) => new Map(ends.map((end) => [`${end.end}:${end.namespace}`, end]));
  const lefts = byName(left);
  const rights = byName(right);
  const all = [...new Map([...left, ...right].map((end) => [`${end.end}:${end.namespace}`, { primitive: end.end, namespace: end.namespace }])).values()].sort(compareSections);
  const namespaces: NamespaceComparison[] = [];
  let firstDifference: string | undefined;
  for (const section of all) {
    const id = `${section.primitive}:${section.namespace}`;
    const l = lefts.get(id);
    const r = rights.get(id);
    const equal = l !== undefined && r !== undefined && l.count === r.count && l.sha256 === r.sha256;
    namespaces.push({ ...section, ...(l === undefined ? {} : { left: { count: l.count, sha256: l.sha256 } }), ...(r === undefined ? {} : { right: { count: r.count, sha256: r.sha256 } }), equal });
    if (equal || firstDifference !== undefined) continue;
    const name = sectionName(section.primitive, section.namespace);
    firstDifference =
      l === undefined ? `${name} is in the ${names.right} only`
      : r === undefined ? `${name} is in the ${names.left} only`
      : l.count !== r.count ? `${name} holds ${l.count} items in the ${names.left} and ${r.count} in the ${names.right}`
      : `${name} holds other items (or counters) in the ${names.right} than in the ${names.left}`;
  }
  return { equal: firstDifference === undefined, namespaces, ...(firstDifference === undefined ? {} : { firstDifference }), names };
}
