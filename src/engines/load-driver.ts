import { StowageError } from "../api/errors.js";

/**
 * Loads an engine's driver package (`better-sqlite3`, `pg`, …) when the engine opens, never when stowage is imported:
 * drivers are optional peer dependencies, so a memory-only or PostgreSQL-only install has no SQLite build. A package
 * that is not installed, or that is installed but fails to load (a native build that never ran), is NOT_SUPPORTED
 * naming the engine, the package and the command that installs it.
 *
 * @example
 * ```ts
 * const { default: Database } = await loadDriver<{ default: typeof Database }>("better-sqlite3", "sqlite");
 * ```
 */
export async function loadDriver<Module>(packageName: string, engineName: string): Promise<Module> {
  return loadOptionalPackage<Module>(packageName, `the ${engineName} engine`);
}

/**
 * Loads an optional peer dependency for `user` (a phrase such as "the s3 backup target"), with the same typed errors
 * as {@link loadDriver}: NOT_SUPPORTED naming the user, the package and the command that installs it.
 */
export async function loadOptionalPackage<Module>(packageName: string, user: string): Promise<Module> {
  try {
    // Resolved from stowage's own folder, where npm installs a peer dependency.
    return (await import(packageName)) as Module;
  } catch (cause) {
    const needs = `${user} needs the npm package "${packageName}"`;
    if (isMissing(cause, packageName)) {
      throw new StowageError("NOT_SUPPORTED", `${needs}: npm install ${packageName}`, { cause });
    }
    const reason = String((cause as Error)?.message ?? cause).split("\n")[0];
    throw new StowageError("NOT_SUPPORTED", `${needs}, which is installed but does not load (${reason}); reinstall it: npm install ${packageName}`, { cause });
  }
}

/** Whether the import failed because the package itself is absent (not a module it imports, which is a broken install). */
function isMissing(error: unknown, packageName: string): boolean {
  const code = (error as NodeJS.ErrnoException)?.code;
  if (code !== "ERR_MODULE_NOT_FOUND" && code !== "MODULE_NOT_FOUND") return false;
  const message = String((error as Error).message);
  return message.includes(`'${packageName}'`) || message.includes(`"${packageName}"`);
}
