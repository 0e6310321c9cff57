/**
 * A third-party engine for the registry tests: the memory engine under another name, with two options of its own
 * (a text tag and a whole number), which show in its location.
 */
import { StowageError, textField, wholeNumberField, type EngineDescriptor, type StoreOptions } from "../../src/index.js";
import { MemoryEngine } from "../../src/engines/memory/memory-engine.js";

export const TAGGED_ENGINE_NAME = "tagged-memory";

/** The options it takes, for `StowageEngines` (see engine-registry.test.ts). */
export interface TaggedStoreOptions extends StoreOptions {
  backend: typeof TAGGED_ENGINE_NAME;
  tag?: string;
  shards?: number;
}

export const TAGGED_ENGINE: EngineDescriptor<{ tag: string; shards: number }> = {
  name: TAGGED_ENGINE_NAME,
  summary: "The memory engine with a tag, for tests",
  supports: MemoryEngine.supports,
  fields: [
    textField({
      option: "tag",
      doc: "A name shown in the location",
      default: "none",
      accepts: "1 to 16 letters a-z",
      check: (tag) => {
        if (typeof tag !== "string" || !/^[a-z]{1,16}$/.test(tag)) {
          throw new StowageError("INVALID_ARGUMENT", `tag must be 1 to 16 letters a-z, got ${JSON.stringify(tag)}`);
        }
      },
    }),
    wholeNumberField({ option: "shards", doc: "A number shown in the location", min: 1, max: 64, default: 1 }),
  ],
  open: async ({ tag, shards }) =>
    Object.defineProperties(new MemoryEngine(), {
      name: { value: TAGGED_ENGINE_NAME },
      location: { value: `memory tagged ${tag}, ${shards} shards` },
    }),
};
