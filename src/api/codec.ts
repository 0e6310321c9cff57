/**
 * Turns typed values into the bytes stowage stores, and back.
 *
 * @example
 * ```ts
 * const kv = store.kv("checkpoints", { codec: json<{ offset: number }>() });
 * ```
 */
export interface Codec<T> {
  encode(value: T): Uint8Array;
  decode(bytes: Uint8Array): T;
}

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true });

/** The identity codec: values are `Uint8Array`s, stored as given. */
export const bytes: Codec<Uint8Array> = {
  encode: (value) => value,
  decode: (value) => value,
};

/**
 * UTF-8 strings. Encoding refuses anything but a string (no silent `String(value)`) and strings with a lone surrogate,
 * which UTF-8 cannot hold (TextEncoder would store U+FFFD in its place, so the value would read back changed — keys
 * with one are refused too); decoding refuses bytes that are not valid UTF-8.
 */
export const utf8: Codec<string> = {
  encode: (value) => {
    if (typeof value !== "string") throw new TypeError(`the utf8 codec takes strings, got ${value === null ? "null" : typeof value}`);
    if (!value.isWellFormed()) throw new TypeError("the string contains a lone surrogate (not valid Unicode), which UTF-8 cannot hold");
    return encoder.encode(value);
  },
  decode: (value) => strictDecoder.decode(value),
};

/** JSON values, stored as UTF-8 text. `json<T>()` types the codec; `json` itself is `Codec<unknown>`. */
export function json<T = unknown>(): Codec<T> {
  return jsonCodec as Codec<T>;
}

const jsonCodec: Codec<unknown> = {
  encode: (value) => {
    const text = JSON.stringify(value);
    // JSON.stringify(undefined) and friends give undefined: there is nothing to store.
    if (text === undefined) throw new TypeError("value has no JSON form");
    return encoder.encode(text);
  },
  decode: (value) => JSON.parse(strictDecoder.decode(value)) as unknown,
};

/** `json` as a ready codec for `unknown` values; `json<T>()` gives a typed one. */
json.encode = jsonCodec.encode;
json.decode = jsonCodec.decode;
