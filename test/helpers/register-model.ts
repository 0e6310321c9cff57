/**
 * The sequential specification of KV keys and slots that the linearizability tests check histories against: a KV
 * key is a register (get answers the last put); a slot is a versioned register (CAS succeeds exactly when the
 * expected version is current, upsert answers the next version).
 */
import type { Model } from "./linearizability.js";

export type RegisterInput =
  | { kind: "get"; key: string }
  | { kind: "put"; key: string; value: string }
  | { kind: "slotGet"; key: string }
  | { kind: "cas"; key: string; expected: number; value: string }
  | { kind: "upsert"; key: string; value: string };

/** get: the value or null; put: null; slotGet: { version, value } or null; cas: won or not; upsert: the new version. */
export type RegisterOutput = string | null | boolean | number | { version: number; value: string };

type Versioned = { version: number; value: string } | null;
type RegisterState = string | null | Versioned;

export const REGISTER_MODEL: Model<RegisterState, RegisterInput, RegisterOutput> = {
  init: () => null,
  describe: (state) => JSON.stringify(state),
  partition: (input) => `${input.kind === "get" || input.kind === "put" ? "kv" : "slot"}:${input.key}`,
  step(state, input, output) {
    switch (input.kind) {
      case "get":
        return output === state ? state : undefined;
      case "put":
        return input.value;
      case "slotGet": {
        const slot = state as Versioned;
        const seen = output as Versioned;
        if (slot === null || seen === null) return slot === seen ? state : undefined;
        return slot.version === seen.version && slot.value === seen.value ? state : undefined;
      }
      case "cas": {
        const current = (state as Versioned)?.version ?? 0;
        if (output === true) return current === input.expected ? { version: current + 1, value: input.value } : undefined;
        return current !== input.expected ? state : undefined;
      }
      case "upsert": {
        const next = ((state as Versioned)?.version ?? 0) + 1;
        return output === next ? { version: next, value: input.value } : undefined;
      }
    }
  },
};
