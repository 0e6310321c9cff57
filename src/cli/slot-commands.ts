import { stringOption, wholeNumber } from "./args.js";
import { type Command, takeArgs } from "./command.js";
import { NegativeAnswer } from "./errors.js";
import { displayValue, inputValue, jsonValue } from "./values.js";

/** `slot get <ns> <key>`: prints version and value; an absent slot is exit 3 with NOT_FOUND. */
export const slotGet: Command = {
  words: ["slot", "get"],
  synopsis: "<ns> <key>",
  summary: 'Print "<version><TAB><value>". Absent: nothing on stdout, NOT_FOUND, exit 3.',
  options: ["json"],
  prepare({ args }) {
    const { ns, key } = takeArgs(this, args, ["ns", "key"]);
    return async (store, out) => {
      const current = await store.slot(ns).get(key);
      if (current === undefined) {
        if (out.json) out.result(null, []);
        throw new NegativeAnswer("NOT_FOUND", `no slot under key ${JSON.stringify(key)} in slot namespace "${ns}"`);
      }
      out.result({ key, version: current.version, ...jsonValue(current.value) }, `${current.version}\t${displayValue(current.value)}`);
    };
  },
};

/** `slot upsert <ns> <key> <value>`: prints the new version. */
export const slotUpsert: Command = {
  words: ["slot", "upsert"],
  synopsis: "<ns> <key> <value>",
  summary: "Write <value> whatever the current version. Prints the new version (1 for a new slot).",
  options: ["json", "file"],
  prepare({ args, options, cwd }) {
    const { ns, key, value } = takeArgs(this, args, ["ns", "key"], ["value"]);
    const bytes = inputValue(value, stringOption(options, "file"), cwd);
    return async (store, out) => {
      const version = await store.slot(ns).upsert(key, bytes);
      out.result({ version }, String(version));
    };
  },
};

/**
 * `slot cas <ns> <key> <expectedVersion> <value>`: a win prints the new version; a loss is exit 3 with CONFLICT and
 * names the current version, which the caller needs to retry.
 */
export const slotCas: Command = {
  words: ["slot", "cas"],
  synopsis: "<ns> <key> <expectedVersion> <value>",
  summary:
    "Write <value> only if the slot is at <expectedVersion> (0: only if absent). Won: prints the new version. " +
    "Lost: CONFLICT naming the current version, exit 3.",
  options: ["json", "file"],
  prepare({ args, options, cwd }) {
    const { ns, key, expectedVersion, value } = takeArgs(this, args, ["ns", "key", "expectedVersion"], ["value"]);
    const expected = wholeNumber(expectedVersion, "<expectedVersion>");
    const bytes = inputValue(value, stringOption(options, "file"), cwd);
    return async (store, out) => {
      const slot = store.slot(ns);
      if (await slot.cas(key, expected, bytes)) {
        out.result({ swapped: true, version: expected + 1 }, String(expected + 1));
        return;
      }
      // Read after the loss for the message only: another writer may move the version again at any time.
      const current = (await slot.get(key))?.version ?? 0;
      if (out.json) out.result({ swapped: false, version: current }, []);
      throw new NegativeAnswer(
        "CONFLICT",
        `cas lost: slot ${JSON.stringify(key)} in namespace "${ns}" is at version ${current}, not ${expected}`,
      );
    };
  },
};

/** The slot commands, in usage order. */
export const SLOT_COMMANDS: readonly Command[] = [slotGet, slotUpsert, slotCas];
