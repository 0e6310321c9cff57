/**
 * Where one configuration value was read. Errors name the source exactly as the user wrote it (the flag, the
 * variable, or the field and file), so that a bad value can be found without guessing which layer supplied it.
 */
export type SettingSource =
  | { kind: "flag"; flag: string }
  | { kind: "env"; variable: string }
  | { kind: "file"; field: string; file: string };

/** The source as error messages show it: `--storage-backend`, `STOWAGE_STORAGE_BACKEND`, `storage.backend in ./stowage.yaml`. */
export function describeSource(source: SettingSource): string {
  switch (source.kind) {
    case "flag":
      return `--${source.flag}`;
    case "env":
      return source.variable;
    case "file":
      return `${source.field} in ${source.file}`;
  }
}

/** A value as error messages quote it: strings JSON-quoted (so whitespace shows), other types by their JSON form. */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (typeof value === "string") return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  if (typeof value === "number" || typeof value === "boolean" || value === null) return String(value);
  if (Array.isArray(value)) return "a list";
  return typeof value === "object" ? "a mapping" : `a ${typeof value}`;
}
