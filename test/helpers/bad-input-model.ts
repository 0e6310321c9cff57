/**
 * The model behind test/bad-input.test.ts: the documented argument rules of every public method written down
 * independently of src/ (an oracle that says which calls are invalid and which codes they may give), fast-check
 * arbitraries that produce mostly-invalid arguments for them, and the seed data plus snapshot used to prove that
 * invalid calls change nothing.
 */
import fc from "fast-check";
import { bytes, json, LIMITS, utf8, type Codec, type ErrorCode, type Lease, type Store } from "../../src/index.js";

export const IA = "INVALID_ARGUMENT" satisfies ErrorCode;
export const LE = "LIMIT_EXCEEDED" satisfies ErrorCode;
export type BadCode = typeof IA | typeof LE;

/** One broken rule: the code the README gives for it and a label used to prove each kind was exercised. */
export interface Violation {
  code: BadCode;
  category: string;
}

export type Primitive = "kv" | "log" | "slot" | "queue";
export const PRIMITIVES: readonly Primitive[] = ["kv", "log", "slot", "queue"];

const encoder = new TextEncoder();
export const enc = (text: string): Uint8Array => encoder.encode(text);

// ---------------------------------------------------------------------------------------------------------------
// Seed data and snapshot
// ---------------------------------------------------------------------------------------------------------------

/** The namespace (of every primitive) that holds known data; invalid calls aim at it. */
export const SEED_NS = "seed";
/** Valid writes of the fuzz go here instead, so that the seeded namespace must stay exactly as it was. */
export const SCRATCH_NS = "scratch";
/** A valid namespace that holds nothing: invalid calls there must not create it. */
export const OTHER_NS = "other";
export const SEED_KEYS = ["k1", "k2", "k/3", "é", "kt"] as const;
/** A fixed clock: TTL'd seed entries never expire, so the snapshot is stable. */
export const FIXED_NOW = 1_900_000_000_000;

/** Every seeded value is valid JSON and UTF-8, so handles with the json, utf8 or bytes codec can all read it. */
export async function seed(store: Store): Promise<void> {
  const kv = store.kv(SEED_NS);
  await kv.put("k1", enc('"v1"'));
  await kv.put("k2", enc("42"));
  await kv.put("k/3", enc('{"a":1}'));
  await kv.put("é", enc("[]"));
  await kv.put("kt", enc("null"), { ttlMs: 60_000 });
  const log = store.log(SEED_NS);
  await log.append("k1", enc('"a"'));
  await log.append("k2", enc('"b"'));
  await log.append("k1", enc('"c"'));
  const slot = store.slot(SEED_NS);
  await slot.upsert("k1", enc("1"));
  await slot.upsert("k1", enc("2"));
  await slot.upsert("k2", enc('"x"'));
  const queue = store.queue(SEED_NS);
  for (const item of ["1", "2", "3"]) await queue.push("k1", enc(item));
  await queue.push("k2", enc("true"));
}

const hex = (value: Uint8Array | undefined): string | undefined => (value === undefined ? undefined : Buffer.from(value).toString("hex"));

/**
 * Everything a caller can observe of the seeded data, plus info() without the scratch namespaces: an invalid call
 * that wrote anywhere else (another key, another namespace) shows up here.
 */
export async function snapshot(store: Store): Promise<unknown> {
  const kv = store.kv(SEED_NS);
  const log = store.log(SEED_NS);
  const slot = store.slot(SEED_NS);
  const queue = store.queue(SEED_NS);
  // The reads run at once: on a networked engine each is a round trip (or several), and nothing writes meanwhile.
  const [page, perKey, info, kvCount, lastSeq] = await Promise.all([
    kv.list({ limit: LIMITS.maxPageSize }),
    Promise.all(
      SEED_KEYS.map(async (key) => ({
        key,
        kv: hex(await kv.get(key)),
        log: (await log.list(key)).map((e) => [e.seq, e.key, hex(e.value), e.timestamp]),
        slot: await slot.get(key).then((s) => (s === undefined ? undefined : [s.version, hex(s.value)])),
        queue: (await queue.peek(key, LIMITS.maxPageSize)).map((i) => [i.id, hex(i.value), i.pushedAt]),
        queueLen: await queue.len(key),
      })),
    ),
    store.info(),
    kv.count(),
    log.lastSeq(),
  ]);
  return {
    kv: page.entries.map((e) => [e.key, hex(e.value)]),
    kvCursor: page.cursor,
    kvCount,
    lastSeq,
    perKey,
    namespaces: info.namespaces.filter((n) => n.namespace !== SCRATCH_NS),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Constants: bad and boundary inputs
// ---------------------------------------------------------------------------------------------------------------

export const MAX_VALUE = LIMITS.maxValueBytes;
/** Shared big buffers: generated once, reused by every case (the library never mutates an input). */
export const OVER_BYTES = new Uint8Array(MAX_VALUE + 1);
export const OVER_BUFFER = Buffer.alloc(MAX_VALUE + 1);
export const MAX_BYTES = new Uint8Array(MAX_VALUE);
/** Over the limit once encoded by json ("…" adds two quotes) or utf8. */
export const OVER_STRING = "x".repeat(MAX_VALUE + 1);
/** Exactly the limit once json-encoded. */
export const MAX_JSON_STRING = "x".repeat(MAX_VALUE - 2);
const circular: Record<string, unknown> = {};
circular.self = circular;
export const CIRCULAR = circular;

export const OVERSIZED_KEYS = ["a".repeat(1025), "é".repeat(513), "\u{10000}".repeat(256) + "a", "k".repeat(65_536)];
export const BOUNDARY_KEYS = ["a".repeat(1024), "\u{10FFFF}".repeat(256), "é".repeat(512)];
export const LONE_SURROGATES = ["\uD800", "\uDBFF", "\uDC00", "\uDFFF"];

/** Wrong types where a string is expected. */
export const NON_STRINGS: readonly unknown[] = [
  0, 42, -1, Number.NaN, null, undefined, true, {}, [], ["k1"], Symbol("k1"), 1n, new String("k1"), () => "k1", enc("k1"), new Date(0),
];

/** Codecs a handle may be given: the shipped ones and user codecs that fail in each documented way. */
export const CODECS = {
  bytes,
  json: json(),
  utf8,
  /** encode returns something that is not bytes. */
  notBytes: { encode: () => "not bytes", decode: (b: Uint8Array) => b } as unknown as Codec<unknown>,
  /** encode throws an Error. */
  throws: {
    encode: () => {
      throw new Error("cannot encode this");
    },
    decode: (b: Uint8Array) => b,
  } as Codec<unknown>,
  /** encode returns bytes over the value limit. */
  tooBig: { encode: () => OVER_BYTES, decode: (b: Uint8Array) => b } as Codec<unknown>,
} satisfies Record<string, Codec<unknown>>;
export type CodecName = keyof typeof CODECS | "default";
const CODEC_NAMES = new Map<unknown, CodecName>(Object.entries(CODECS).map(([name, codec]) => [codec, name as CodecName]));

export const BAD_CODECS: readonly unknown[] = [null, 5, "json", {}, { encode: 1, decode: (b: Uint8Array) => b }, { encode: (v: unknown) => v }, [bytes]];

/** A cursor as the store makes it (JSON [version, reverse, after] in base64url): used only to forge bad ones. */
export const forgeCursor = (payload: unknown): string => Buffer.from(JSON.stringify(payload), "utf8").toString("base64url");

// ---------------------------------------------------------------------------------------------------------------
// The oracle: the README's rules, checked independently
// ---------------------------------------------------------------------------------------------------------------

const NAMESPACE_RULE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function namespaceViolations(ns: unknown): Violation[] {
  if (typeof ns !== "string") return [{ code: IA, category: "ns:type" }];
  return NAMESPACE_RULE.test(ns) ? [] : [{ code: IA, category: "ns:bad" }];
}

/** A key (or, with `allowEmpty`, a range bound): 1 to 1,024 UTF-8 bytes, well-formed, no U+0000. */
export function keyViolations(key: unknown, allowEmpty = false, what = "key"): Violation[] {
  if (typeof key !== "string") return [{ code: IA, category: `${what}:type` }];
  const out: Violation[] = [];
  if (key.length === 0 && !allowEmpty) out.push({ code: IA, category: `${what}:empty` });
  const wellFormed = key.isWellFormed();
  if (!wellFormed) out.push({ code: IA, category: `${what}:surrogate` });
  if (key.includes("\u0000")) out.push({ code: IA, category: `${what}:nul` });
  if (wellFormed && Buffer.byteLength(key, "utf8") > LIMITS.maxKeyBytes) out.push({ code: LE, category: `${what}:size` });
  return out;
}

/** A whole number in [min, max]; `undefined` is fine only where the argument is optional. */
export function intViolations(value: unknown, min: number, max: number, optional = false): Violation[] {
  if (value === undefined && optional) return [];
  if (typeof value !== "number") return [{ code: IA, category: "number:type" }];
  if (!Number.isFinite(value)) return [{ code: IA, category: "number:nonfinite" }];
  if (!Number.isInteger(value)) return [{ code: IA, category: "number:fraction" }];
  if (value < min) return [{ code: IA, category: "number:below-min" }];
  if (value > max || !Number.isSafeInteger(value)) return [{ code: IA, category: "number:huge" }];
  return [];
}

export function boolViolations(value: unknown): Violation[] {
  return value === undefined || typeof value === "boolean" ? [] : [{ code: IA, category: "bool:type" }];
}

type FieldRule = (value: unknown, options: Record<string, unknown>) => Violation[];

/** An options object: absent, or a non-array object with only known fields, each valid (undefined counts as absent). */
export function optionsViolations(options: unknown, fields: Record<string, FieldRule>, required = false): Violation[] {
  if (options === undefined) return required ? [{ code: IA, category: "options:missing" }] : [];
  if (typeof options !== "object" || options === null || Array.isArray(options)) return [{ code: IA, category: "options:type" }];
  const record = options as Record<string, unknown>;
  const out: Violation[] = [];
  for (const field of Object.keys(record)) if (!Object.hasOwn(fields, field)) out.push({ code: IA, category: "options:unknown" });
  for (const [field, rule] of Object.entries(fields)) {
    const value = record[field];
    if (value !== undefined) out.push(...rule(value, record));
  }
  return out;
}

/** What a codec makes of a value: its size in bytes, or the rule it breaks (IA). */
type Encoded = number | Violation;

/** Big inputs are encoded once per codec: the oracle and the library would otherwise both stringify megabytes. */
const encodings = new Map<unknown, Map<unknown, Encoded>>();

function encodedSize(codec: Codec<unknown>, value: unknown): Encoded {
  const big = (typeof value === "string" && value.length > 4096) || (ArrayBuffer.isView(value) && value.byteLength > 4096);
  const cached = big ? encodings.get(codec)?.get(value) : undefined;
  if (cached !== undefined) return cached;
  let encoded: Encoded;
  try {
    const bytes: unknown = codec.encode(value);
    encoded = bytes instanceof Uint8Array ? bytes.byteLength : { code: IA, category: "value:type" };
  } catch {
    encoded = { code: IA, category: "value:codec-throws" };
  }
  if (big) {
    if (!encodings.has(codec)) encodings.set(codec, new Map());
    encodings.get(codec)!.set(value, encoded);
  }
  return encoded;
}

/**
 * A value as the handle's codec turns it into bytes: a throwing codec or non-bytes is IA, over the value limit
 * (1 MiB, or the engine's own when it is lower) is LIMIT.
 */
export function valueViolations(codec: Codec<unknown>, value: unknown, maxValueBytes = MAX_VALUE): Violation[] {
  const encoded = encodedSize(codec, value);
  if (typeof encoded !== "number") return [encoded];
  return encoded > maxValueBytes ? [{ code: LE, category: "value:size" }] : [];
}

/** The bytes a valid write counts against a transaction's limit: its key's (a range's: none) and its value's. */
export function writeBytes(spec: MethodSpec, args: readonly unknown[], codec: Codec<unknown>): number {
  const key = spec.keyed ? Buffer.byteLength(args[0] as string, "utf8") : 0;
  if (spec.valued !== true) return key;
  const encoded = encodedSize(codec, args[spec.name === "put" ? 1 : args.length - 1]);
  return key + (typeof encoded === "number" ? encoded : 0);
}

function codecViolations(codec: unknown): Violation[] {
  if (codec === undefined) return [];
  const ok = (typeof codec === "object" || typeof codec === "function") && codec !== null &&
    typeof (codec as Codec<unknown>).encode === "function" && typeof (codec as Codec<unknown>).decode === "function";
  return ok ? [] : [{ code: IA, category: "codec:bad" }];
}

/** What `store.kv/log/slot(ns, options)` or `store.queue(ns, options)` must refuse. */
export function handleViolations(primitive: Primitive, ns: unknown, options: unknown): Violation[] {
  const fields: Record<string, FieldRule> = { codec: codecViolations };
  if (primitive === "queue") {
    fields.maxLen = (v) => intViolations(v, 1, LIMITS.maxQueueLength);
    fields.overflow = (v) => (v === "reject" || v === "drop-oldest" ? [] : [{ code: IA, category: "overflow:bad" }]);
  }
  return [...namespaceViolations(ns), ...optionsViolations(options, fields)];
}

/** The codec a handle created with `options` uses (bytes by default), by name. */
export function codecNameOf(options: unknown): CodecName {
  if (typeof options !== "object" || options === null) return "default";
  return CODEC_NAMES.get((options as Record<string, unknown>).codec) ?? "default";
}

export function codecOf(name: CodecName): Codec<unknown> {
  return name === "default" ? (bytes as Codec<unknown>) : CODECS[name];
}

/** Valid cursors of the seeded KV namespace (taken from the store under test), for the cursor rule. */
export interface Cursors {
  forward: string;
  reverse: string;
}

/** What the oracle knows of the store under test: its valid cursors and its engine's value limit. */
export interface StoreFacts {
  cursors: Cursors;
  /** `LIMITS.maxValueBytes`, or the engine's lower limit (etcd, Azure Table). */
  maxValueBytes: number;
}

/** One method of a handle: how to draw its arguments, which of them break a rule, and whether it writes. */
export interface MethodSpec {
  primitive: Primitive;
  name: string;
  args: (codec: CodecName, facts: StoreFacts) => fc.Arbitrary<unknown[]>;
  violations: (args: unknown[], codec: Codec<unknown>, facts: StoreFacts) => Violation[];
  mutating: boolean;
  /** It writes a value (the last argument; put's second): its bytes count against a transaction's limit. */
  valued?: boolean;
  /** Its first argument is a key (so an error's `key` field, when set, must be that key). */
  keyed: boolean;
}

const rangeRules: Record<string, FieldRule> = {
  prefix: (v) => keyViolations(v, true, "bound"),
  start: (v) => keyViolations(v, true, "bound"),
  end: (v) => keyViolations(v, true, "bound"),
};

function listRules(cursors: Cursors): Record<string, FieldRule> {
  return {
    ...rangeRules,
    limit: (v) => intViolations(v, 1, LIMITS.maxPageSize),
    reverse: boolViolations,
    keysOnly: boolViolations,
    cursor: (v, options) => {
      const reverse = options.reverse === true;
      return v === (reverse ? cursors.reverse : cursors.forward) ? [] : [{ code: IA, category: "cursor:bad" }];
    },
  };
}

const logReadRules: Record<string, FieldRule> = { limit: (v) => intViolations(v, 1, LIMITS.maxPageSize) };
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

// ---------------------------------------------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------------------------------------------

const withInserted = (inserts: readonly string[]) =>
  fc.tuple(fc.string({ maxLength: 3 }), fc.constantFrom(...inserts), fc.string({ maxLength: 3 })).map(([a, x, b]) => a + x + b);

/** Keys: mostly seeded ones (so a wrongly accepted write would hit known data), and every kind of bad key. */
export const keyArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...SEED_KEYS) },
  { weight: 2, arbitrary: fc.string({ maxLength: 6 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 4 }) },
  { weight: 2, arbitrary: fc.constant("") },
  { weight: 2, arbitrary: withInserted(LONE_SURROGATES) },
  { weight: 2, arbitrary: withInserted(["\u0000"]) },
  { weight: 2, arbitrary: fc.constantFrom(...OVERSIZED_KEYS) },
  { weight: 1, arbitrary: fc.constantFrom(...BOUNDARY_KEYS) },
  { weight: 3, arbitrary: fc.constantFrom(...NON_STRINGS) },
);

/** Whole numbers for an argument in [min, max]: valid ones, then negative, fractional, non-finite, huge, wrong types. */
export function intArb(min: number, max: number): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min, max: Math.min(max, min + 1000) }) },
    { weight: 1, arbitrary: fc.constantFrom(min, max, -0) },
    { weight: 2, arbitrary: fc.constantFrom(min - 1, -1, -1000, Number.MIN_SAFE_INTEGER, -Number.MAX_VALUE) },
    {
      weight: 2,
      arbitrary: fc.double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true }).filter((x) => !Number.isInteger(x)),
    },
    { weight: 1, arbitrary: fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY) },
    { weight: 2, arbitrary: fc.constantFrom(max + 1, 2 ** 53, 2 ** 53 + 2, 1e300, Number.MAX_VALUE) },
    { weight: 2, arbitrary: fc.constantFrom("1", "", null, true, 1n, {}, [1], undefined, Symbol("n")) },
  );
}

const boolArb = fc.constantFrom<unknown>(true, false, undefined, undefined, "yes", 1, 0, null);

interface LimitValues {
  atLimit: Uint8Array;
  /** Exactly the limit once json-encoded. */
  atLimitJson: string;
  /** Bytes over the limit (the engine's, and stowage's own when the engine's is lower). */
  over: unknown[];
  overString: string[];
}

const LIMIT_VALUES = new Map<number, LimitValues>([[MAX_VALUE, { atLimit: MAX_BYTES, atLimitJson: MAX_JSON_STRING, over: [OVER_BYTES, OVER_BUFFER], overString: [OVER_STRING] }]]);

/** The values at and over a value limit: made once per limit, since they are big. */
function limitValues(maxValueBytes: number): LimitValues {
  let values = LIMIT_VALUES.get(maxValueBytes);
  if (values === undefined) {
    values = {
      atLimit: new Uint8Array(maxValueBytes),
      atLimitJson: "x".repeat(maxValueBytes - 2),
      over: [new Uint8Array(maxValueBytes + 1), OVER_BYTES, OVER_BUFFER],
      overString: ["x".repeat(maxValueBytes + 1), OVER_STRING],
    };
    LIMIT_VALUES.set(maxValueBytes, values);
  }
  return values;
}

/**
 * Values for a handle with codec `name` on an engine whose values may be `maxValueBytes` long: big typed arrays only
 * where the codec does not stringify them.
 */
function valueArb(name: CodecName, maxValueBytes: number): fc.Arbitrary<unknown> {
  const stringifies = name === "json" || name === "utf8";
  const limits = limitValues(maxValueBytes);
  const bigBytes: unknown[] = stringifies ? [] : limits.over;
  return fc.oneof(
    { weight: 6, arbitrary: fc.uint8Array({ maxLength: 16 }) },
    { weight: 2, arbitrary: fc.string({ maxLength: 8 }) },
    { weight: 2, arbitrary: fc.constantFrom<unknown>(...limits.overString, ...bigBytes) },
    // A valid value of exactly the limit is rare: valid writes accumulate in the scratch namespace.
    { weight: 1, arbitrary: fc.oneof({ weight: 20, arbitrary: fc.constant(new Uint8Array(0)) }, { weight: 1, arbitrary: fc.constant(stringifies ? limits.atLimitJson : limits.atLimit) }) },
    {
      weight: 4,
      arbitrary: fc.constantFrom<unknown>(
        5, null, undefined, true, {}, [1, 2], new ArrayBuffer(2), new DataView(new ArrayBuffer(2)), new Uint8ClampedArray(2),
        new Int8Array(2), new Uint16Array(2), Symbol("v"), 1n, () => 1, CIRCULAR,
      ),
    },
  );
}

const unknownFieldArb = fc.constantFrom("color", "ttl", "Limit", "maxlen", "codecs", "constructor");

/** An options object drawn from `fields`, sometimes with an unknown field, sometimes not an object at all. */
function optionsArb(fields: Record<string, fc.Arbitrary<unknown>>, undefinedWeight = 3): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: undefinedWeight, arbitrary: fc.constant(undefined) },
    { weight: 6, arbitrary: fc.record(fields, { requiredKeys: [] }) },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.record(fields, { requiredKeys: [] }), unknownFieldArb, fc.anything({ maxDepth: 0 })).map(([o, f, v]) => {
        Object.defineProperty(o, f, { value: v, enumerable: true, writable: true, configurable: true });
        return o;
      }),
    },
    { weight: 1, arbitrary: fc.constantFrom<unknown>(null, "x", 5, true, [], [{}], () => ({})) },
  );
}

function cursorArb(cursors: Cursors): fc.Arbitrary<unknown> {
  return fc.constantFrom<unknown>(
    cursors.forward, cursors.forward, cursors.reverse, "", "garbage!", "!!!!", 17, null, {},
    forgeCursor([2, 0, "k1"]), forgeCursor([1, 0]), forgeCursor({ after: "k1" }), forgeCursor([1, 0, 5]),
  );
}

const codecArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom<unknown>(...Object.values(CODECS)) },
  { weight: 2, arbitrary: fc.constantFrom(...BAD_CODECS) },
);

export function handleOptionsArb(primitive: Primitive): fc.Arbitrary<unknown> {
  if (primitive !== "queue") {
    return fc.oneof(
      { weight: 5, arbitrary: optionsArb({ codec: codecArb }, 4) },
      { weight: 1, arbitrary: fc.record({ codec: codecArb, maxLen: fc.constant(5) }) },
    );
  }
  return optionsArb({
    maxLen: intArb(1, LIMITS.maxQueueLength),
    overflow: fc.constantFrom<unknown>("reject", "drop-oldest", "drop-newest", "REJECT", null, 1),
    codec: codecArb,
  }, 4);
}

/** Namespaces: mostly the seeded one, and every kind of bad name. */
export const nsArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 14, arbitrary: fc.constant(SEED_NS) },
  { weight: 1, arbitrary: fc.constant(OTHER_NS) },
  {
    weight: 2,
    arbitrary: fc.constantFrom<unknown>(
      "", "n".repeat(65), "-a", ".a", "_a", "a b", "a/b", "ä", "a\u0000", "a\n", "\uD800", "seed\uD800", "seed!", "x".repeat(1000),
    ),
  },
  { weight: 1, arbitrary: fc.constantFrom(...NON_STRINGS) },
);

export const METHODS: readonly MethodSpec[] = [
  {
    primitive: "kv", name: "put", mutating: true, keyed: true, valued: true,
    args: (c, facts) => fc.tuple(keyArb, valueArb(c, facts.maxValueBytes), optionsArb({ ttlMs: intArb(1, LIMITS.maxTtlMs) })),
    violations: ([k, v, o], codec, facts) => [
      ...keyViolations(k), ...optionsViolations(o, { ttlMs: (x) => intViolations(x, 1, LIMITS.maxTtlMs) }), ...valueViolations(codec, v, facts.maxValueBytes),
    ],
  },
  { primitive: "kv", name: "get", mutating: false, keyed: true, args: () => fc.tuple(keyArb), violations: ([k]) => keyViolations(k) },
  { primitive: "kv", name: "delete", mutating: true, keyed: true, args: () => fc.tuple(keyArb), violations: ([k]) => keyViolations(k) },
  {
    primitive: "kv", name: "list", mutating: false, keyed: false,
    args: (_c, facts) => fc.tuple(optionsArb({
      prefix: keyArb, start: keyArb, end: keyArb, limit: intArb(1, LIMITS.maxPageSize), cursor: cursorArb(facts.cursors), reverse: boolArb, keysOnly: boolArb,
    })),
    violations: ([o], _c, facts) => optionsViolations(o, listRules(facts.cursors)),
  },
  {
    primitive: "kv", name: "count", mutating: false, keyed: false,
    args: () => fc.tuple(optionsArb({ prefix: keyArb, start: keyArb, end: keyArb })),
    violations: ([o]) => optionsViolations(o, rangeRules),
  },
  {
    primitive: "kv", name: "deleteRange", mutating: true, keyed: false,
    args: () => fc.tuple(optionsArb({ prefix: keyArb, start: keyArb, end: keyArb }, 2)),
    violations: ([o]) => optionsViolations(o, rangeRules, true),
  },
  {
    primitive: "log", name: "append", mutating: true, keyed: true, valued: true,
    args: (c, facts) => fc.tuple(keyArb, valueArb(c, facts.maxValueBytes)),
    violations: ([k, v], codec, facts) => [...keyViolations(k), ...valueViolations(codec, v, facts.maxValueBytes)],
  },
  {
    primitive: "log", name: "list", mutating: false, keyed: true,
    args: () => fc.tuple(keyArb, optionsArb({ limit: intArb(1, LIMITS.maxPageSize) })),
    violations: ([k, o]) => [...keyViolations(k), ...optionsViolations(o, logReadRules)],
  },
  {
    primitive: "log", name: "since", mutating: false, keyed: true,
    args: () => fc.tuple(keyArb, intArb(0, MAX_SAFE), optionsArb({ limit: intArb(1, LIMITS.maxPageSize) })),
    violations: ([k, s, o]) => [...keyViolations(k), ...intViolations(s, 0, MAX_SAFE), ...optionsViolations(o, logReadRules)],
  },
  { primitive: "log", name: "lastSeq", mutating: false, keyed: false, args: () => fc.constant([]), violations: () => [] },
  { primitive: "slot", name: "get", mutating: false, keyed: true, args: () => fc.tuple(keyArb), violations: ([k]) => keyViolations(k) },
  {
    primitive: "slot", name: "upsert", mutating: true, keyed: true, valued: true,
    args: (c, facts) => fc.tuple(keyArb, valueArb(c, facts.maxValueBytes)),
    violations: ([k, v], codec, facts) => [...keyViolations(k), ...valueViolations(codec, v, facts.maxValueBytes)],
  },
  {
    primitive: "slot", name: "cas", mutating: true, keyed: true, valued: true,
    args: (c, facts) => fc.tuple(keyArb, intArb(0, MAX_SAFE), valueArb(c, facts.maxValueBytes)),
    violations: ([k, n, v], codec, facts) => [...keyViolations(k), ...intViolations(n, 0, MAX_SAFE), ...valueViolations(codec, v, facts.maxValueBytes)],
  },
  {
    primitive: "queue", name: "push", mutating: true, keyed: true, valued: true,
    args: (c, facts) => fc.tuple(keyArb, valueArb(c, facts.maxValueBytes)),
    violations: ([k, v], codec, facts) => [...keyViolations(k), ...valueViolations(codec, v, facts.maxValueBytes)],
  },
  {
    primitive: "queue", name: "peek", mutating: false, keyed: true,
    args: () => fc.tuple(keyArb, intArb(1, LIMITS.maxPageSize)),
    violations: ([k, n]) => [...keyViolations(k), ...intViolations(n, 1, LIMITS.maxPageSize, true)],
  },
  {
    primitive: "queue", name: "ack", mutating: true, keyed: true,
    args: () => fc.tuple(keyArb, intArb(1, MAX_SAFE)),
    violations: ([k, n]) => [...keyViolations(k), ...intViolations(n, 1, MAX_SAFE)],
  },
  {
    primitive: "queue", name: "dropOldest", mutating: true, keyed: true,
    args: () => fc.tuple(keyArb, intArb(0, MAX_SAFE)),
    violations: ([k, n]) => [...keyViolations(k), ...intViolations(n, 0, MAX_SAFE)],
  },
  { primitive: "queue", name: "len", mutating: false, keyed: true, args: () => fc.tuple(keyArb), violations: ([k]) => keyViolations(k) },
];

/** A body for store.transaction: valid ones do nothing. */
export const VALID_BODY = async (): Promise<string> => "done";
export const txBodyArb = fc.oneof(
  { weight: 3, arbitrary: fc.constant<unknown>(VALID_BODY) },
  { weight: 2, arbitrary: fc.constantFrom<unknown>(undefined, null, 5, "body", {}, [], Promise.resolve()) },
);
export const txOptionsArb = optionsArb({ maxAttempts: intArb(1, 1_000) });
export function transactionViolations(body: unknown, options: unknown): Violation[] {
  const bodyRule: Violation[] = typeof body === "function" ? [] : [{ code: IA, category: "tx:body" }];
  return [...bodyRule, ...optionsViolations(options, { maxAttempts: (v) => intViolations(v, 1, 1_000) })];
}

/** Renders any argument for an assertion message, whatever its type or size. */
export function show(value: unknown, depth = 0): string {
  if (typeof value === "string") return value.length > 40 ? `${JSON.stringify(value.slice(0, 40))}…(${value.length} units)` : JSON.stringify(value);
  if (typeof value === "number") return Object.is(value, -0) ? "-0" : String(value);
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "symbol" || typeof value === "boolean" || value === undefined || value === null) return String(value);
  if (typeof value === "function") return "function";
  if (ArrayBuffer.isView(value)) return `${value.constructor.name}(${value.byteLength} bytes)`;
  if (value instanceof ArrayBuffer) return `ArrayBuffer(${value.byteLength})`;
  if (depth > 2) return "…";
  if (Array.isArray(value)) return `[${value.map((v) => show(v, depth + 1)).join(", ")}]`;
  const name = (value as { constructor?: { name?: string } }).constructor?.name;
  const fields = Object.keys(value as object).map((k) => `${k}: ${show((value as Record<string, unknown>)[k], depth + 1)}`);
  return `${name !== undefined && name !== "Object" ? name : ""}{${fields.join(", ")}}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Work queues: seed data, a held lease, and the snapshot of both
// ---------------------------------------------------------------------------------------------------------------

/** The lease length of the seeded claim: with the fixed clock, extending by it again changes nothing. */
export const WORK_VISIBILITY_MS = 60_000;
/** The work queue handle options of the seeded namespace. */
export const WORK_OPTIONS = { visibilityMs: WORK_VISIBILITY_MS } as const;
/** The keys of the seeded work queues: ready and delayed items (k1), a leased one (k2), a dead letter (k/3). */
export const WORK_KEYS = ["k1", "k2", "k/3"] as const;

/**
 * Seeds the work queues of {@link SEED_NS}: k1 holds a ready item with a dedup key, a ready one of high priority and a
 * delayed one; k2 an item claimed under the lease this returns; k/3 a dead letter.
 */
export async function seedWork(store: Store): Promise<Lease> {
  const work = store.workQueue(SEED_NS, WORK_OPTIONS);
  await work.push("k1", enc('"w1"'), { dedupKey: "d1" });
  await work.push("k1", enc('"w2"'), { priority: 5 });
  await work.push("k1", enc('"w3"'), { delayMs: 60_000 });
  await work.push("k2", enc('"held"'));
  const [held] = await work.claim("k2");
  await work.push("k/3", enc('"gone"'), { retry: { maxAttempts: 1 } });
  const [doomed] = await work.claim("k/3");
  await work.fail(doomed!, new Error("seeded failure"));
  return held!;
}

/**
 * What a caller can observe of the seeded work queues: keys, counts, dead letters, and that the held lease is still
 * current with its deadline (extended by its own length again under the fixed clock: the same deadline).
 */
export async function workSnapshot(store: Store, held: Lease): Promise<unknown> {
  const work = store.workQueue(SEED_NS, WORK_OPTIONS);
  const [keys, perKey, extended] = await Promise.all([
    work.keys(),
    Promise.all(WORK_KEYS.map(async (key) => ({ key, counts: await work.counts(key), dead: (await work.dead(key)).map((d) => ({ ...d, value: hex(d.value) })) }))),
    work.extendMany([held], WORK_VISIBILITY_MS),
  ]);
  return { keys, perKey, held: extended.map((lease) => (lease === null ? "lost" : { ...lease })) };
}
