import { StowageError } from "../../api/errors.js";
import { compareSources } from "../../operations/compare-sources.js";
import { RestoreSink } from "../../operations/restore-sink.js";
import { engineSource } from "../../operations/store-source.js";
import type { Engine } from "../engine.js";
import { STATE_SECTION, userNamespacesOf } from "./side-state.js";

/**
 * Copies every user namespace of `source` into `target` with the dump and restore machinery (the composite's own
 * namespace left out), then compares the two namespace by namespace. The target must hold no user data: CONFLICT
 * naming it otherwise, since a resync never deletes anything. CORRUPT when the copy differs from the source.
 */
export async function copySide(source: Engine, target: Engine, targetName: string, now: number): Promise<void> {
  const held = await userNamespacesOf(target, now);
  if (held.length > 0) {
    const shown = held.slice(0, 5).map((info) => `${info.primitive}:${info.namespace}`).join(", ");
    throw new StowageError("CONFLICT", `cannot resync ${targetName}: it holds data (${shown}${held.length > 5 ? ", …" : ""}); a resync copies into an empty store and deletes nothing: empty it first`);
  }
  const skip = new Set([STATE_SECTION]);
  const sink = new RestoreSink(target);
  await engineSource(source, now, skip)(sink.sink);
  await sink.finish();
  const report = await compareSources(engineSource(source, now, skip), engineSource(target, now, skip), { left: "serving side", right: targetName });
  if (!report.equal) throw new StowageError("CORRUPT", `the resync of ${targetName} does not match the serving side: ${report.firstDifference ?? "the namespaces differ"}`);
}
