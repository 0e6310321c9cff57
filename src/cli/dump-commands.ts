import { resolve } from "node:path";
import { stat } from "node:fs/promises";
import { openStore, type OpenStoreOptions, type RoutedStoreOptions } from "../open-store.js";
import type { ValidationReport } from "../operations/compare-sources.js";
import { exportStore, importStore, migrateStore, validateStores } from "../operations/store-dumps.js";
import { type AnyCommand, type Command, type ConfigCommand, takeArgs } from "./command.js";
import { NegativeAnswer, UsageError } from "./errors.js";
import { columns, type Output } from "./output.js";

/** `export <file>`: a dump of the configured store. */
export const exportCommand: Command = {
  words: ["export"],
  synopsis: "<file>",
  summary:
    "Write a dump of one consistent snapshot of the store to <file> (gzip, versioned, a checksum per namespace; written beside it and renamed, so <file> never holds half a dump).",
  options: ["json"],
  prepare({ args, cwd }) {
    const path = resolve(cwd, takeArgs(this, args, ["file"]).file);
    return async (store, out) => {
      const summary = await exportStore(store, path);
      const size = (await stat(path)).size;
      out.result({ file: path, namespaces: summary.namespaces, items: summary.items, bytes: size }, `exported ${summary.items} items of ${summary.namespaces} namespaces to ${path} (${size} bytes)`);
    };
  },
};

/** `import <file>`: a dump into the configured store, empty unless told otherwise. */
export const importCommand: Command = {
  words: ["import"],
  synopsis: "<file> [--allow-non-empty]",
  summary:
    "Write a dump into the store, keeping TTL deadlines, log sequences and times, slot versions, queue ids and stream sequences. The dump is checked whole first (checksums, closing line); a store that holds data already is refused unless --allow-non-empty.",
  options: ["json", "allow-non-empty"],
  prepare({ args, cwd, options }) {
    const path = resolve(cwd, takeArgs(this, args, ["file"]).file);
    return async (store, out) => {
      let progress: ReturnType<Output["progress"]> | undefined;
      const summary = await importStore(store, path, {
        allowNonEmpty: options["allow-non-empty"] === true,
        onChecked: (checked) => (progress = out.progress("imported", checked.items)),
        onProgress: (done) => progress?.update(done),
      });
      progress?.done(summary);
      out.result(
        { file: path, namespaces: summary.namespaces, items: summary.items, bytes: summary.bytes, source: summary.header.source, snapshotAt: summary.header.snapshotAt },
        `imported ${summary.items} items of ${summary.namespaces} namespaces from ${path}`,
      );
    };
  },
};

/** `validate <dump> [<dump>]`: the store against a dump, or two dumps, namespace by namespace. */
export const validateCommand: Command = {
  words: ["validate"],
  synopsis: "<dump> [<other-dump>]",
  summary:
    "Compare the store with a dump (or two dumps) namespace by namespace: counts and digests, and the first difference by key, sequence or id. Exit status 3 when they differ.",
  options: ["json"],
  prepare({ args, cwd }) {
    const { dump, other } = takeArgs(this, args, ["dump"], ["other"]);
    const dumpPath = resolve(cwd, dump);
    return async (store, out) => {
      const report = other === undefined ? await validateStores(store, dumpPath, { left: "store", right: "dump" }) : await validateStores(dumpPath, resolve(cwd, other), { left: "first dump", right: "second dump" });
      printValidation(report, out);
    };
  },
};

/** `migrate --from <provider> --to <provider>`: one named provider's data into another, then validated. */
export const migrateCommand: ConfigCommand = {
  words: ["migrate"],
  synopsis: "--from <provider> --to <provider> [--journal <file>] [--allow-non-empty]",
  summary:
    "Copy one consistent snapshot of provider --from into provider --to (both named in the configuration's providers), with a progress line, then read the target back and compare it with the snapshot (exit status 3 if it differs). The target must be empty unless --allow-non-empty. Resumable: the journal (default stowage-migrate-<from>-<to>.json in the working folder) records each namespace copied; run the same command again after an interruption to go on.",
  options: ["json", "from", "to", "allow-non-empty", "journal"],
  prepareWithConfig({ args, options, cwd }) {
    takeArgs(this, args, []);
    const from = options.from;
    const to = options.to;
    if (typeof from !== "string" || typeof to !== "string") throw new UsageError("migrate needs --from <provider> and --to <provider>");
    if (from === to) throw new UsageError(`migrate needs two providers; --from and --to both name "${from}"`);
    const journal = resolve(cwd, typeof options.journal === "string" ? options.journal : `stowage-migrate-${from}-${to}.json`);
    return async (config, out) => {
      const source = await openStore(providerOptions(config, from, "--from"));
      try {
        const target = await openStore(providerOptions(config, to, "--to"));
        try {
          const total = (await source.info()).namespaces.reduce((sum, info) => sum + info.count, 0);
          const progress = out.progress("migrated", total);
          const report = await migrateStore(source, target, { allowNonEmpty: options["allow-non-empty"] === true, journal, onProgress: (done) => progress.update(done) });
          progress.done(report);
          const resumed = report.resumedAfter > 0 ? ` (resumed: ${report.resumedAfter} namespaces were copied before)` : "";
          out.note(`copied ${report.items} items of ${report.namespaces} namespaces from "${from}" to "${to}"${resumed}`);
          const migrated = { items: report.items, namespaces: report.namespaces, bytes: report.bytes, snapshotAt: report.snapshotAt, resumedAfter: report.resumedAfter };
          printValidation(report.validation, out, { migrated });
        } finally {
          await target.close();
        }
      } finally {
        await source.close();
      }
    };
  },
};

/** One provider's options from a configuration over named providers, with the configuration's store options. */
function providerOptions(config: OpenStoreOptions | RoutedStoreOptions, name: string, flag: string): OpenStoreOptions {
  if (!("providers" in config)) throw new UsageError(`${flag} names a provider, but the configuration names none: define providers (file, STOWAGE_PROVIDERS_<NAME>_<FIELD> or --provider ${name}.backend=...)`);
  const { providers, routes: _routes, defaultProvider: _default, ...storeOptions } = config;
  const own = providers[name];
  if (own === undefined) throw new UsageError(`${flag} names provider "${name}", which the configuration does not define; it defines ${Object.keys(providers).join(", ")}`);
  return { ...(own as OpenStoreOptions), ...storeOptions };
}

/** Prints a validation's table and verdict; a difference is a negative answer (exit 3). */
function printValidation(report: ValidationReport, out: Output, extra: Record<string, unknown> = {}): void {
  const rows = report.namespaces.map((ns) => [
    ns.equal ? "same" : "DIFFERENT",
    ns.primitive,
    ns.namespace,
    ns.left === undefined ? "-" : String(ns.left.count),
    ns.right === undefined ? "-" : String(ns.right.count),
  ]);
  const verdict = report.equal ? `identical: ${report.namespaces.length} namespaces` : `different: ${report.firstDifference}`;
  out.result({ ...extra, ...report }, [...columns([["", "primitive", "namespace", report.names.left, report.names.right], ...rows]), verdict]);
  if (!report.equal) throw new NegativeAnswer("DIFFERENT", report.firstDifference ?? "the two sides differ");
}

/** The dump commands, in the order usage lists them. */
export const DUMP_COMMANDS: readonly AnyCommand[] = [exportCommand, importCommand, validateCommand, migrateCommand];
