import { bytes, type Codec } from "../api/codec.js";
import { StowageError } from "../api/errors.js";
import { checkValueBytes, describeType } from "./validate.js";

/** What a codec threw, as text: any value can be thrown, and some (a Symbol, a prototype-less object) refuse a template. */
function describeThrown(thrown: unknown): string {
  if (thrown instanceof Error) return thrown.message;
  try {
    return String(thrown);
  } catch {
    return Object.prototype.toString.call(thrown);
  }
}

/**
 * Wraps a user codec so that its failures become typed errors: an encode failure is the caller's bad value
 * (INVALID_ARGUMENT), a decode failure is stored data that does not fit the codec (CORRUPT).
 */
export class CodecGuard<T> {
  private readonly codec: Codec<T>;

  constructor(
    private readonly namespace: string,
    codec: Codec<T> | undefined,
  ) {
    if (codec !== undefined && (typeof codec !== "object" && typeof codec !== "function" || codec === null ||
      typeof codec.encode !== "function" || typeof codec.decode !== "function")) {
      throw new StowageError("INVALID_ARGUMENT", `codec must be an object with encode and decode functions, got ${describeType(codec)}`, { namespace });
    }
    this.codec = codec ?? (bytes as unknown as Codec<T>);
  }

  /** Encodes and checks the value limit. */
  encode(key: string, value: T): Uint8Array {
    let encoded: unknown;
    try {
      encoded = this.codec.encode(value);
    } catch (cause) {
      throw new StowageError("INVALID_ARGUMENT", `the codec cannot encode the value: ${describeThrown(cause)}`, { namespace: this.namespace, key, cause });
    }
    const bytes = checkValueBytes(this.namespace, key, encoded);
    // The caller's own array (the bytes codec hands it through) is copied now: engines write later (group commit,
    // batches), and a caller that reuses its buffer meanwhile must not change what is stored.
    return encoded === value ? bytes.slice() : bytes;
  }

  decode(key: string, stored: Uint8Array): T {
    try {
      return this.codec.decode(stored);
    } catch (cause) {
      throw new StowageError("CORRUPT", `the stored value cannot be decoded by this handle's codec: ${describeThrown(cause)}`, { namespace: this.namespace, key, cause });
    }
  }
}
