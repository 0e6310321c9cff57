import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { StowageError } from "../../api/errors.js";
import type { BackupTarget } from "./backup-target.js";
import { AzureTarget } from "./azure-target.js";
import { parseBackupName } from "./backup-names.js";
import { FolderTarget } from "./folder-target.js";
import { shownUrl } from "./location-text.js";
import { normalisePrefix } from "./object-names.js";
import { S3Target, type S3Credentials } from "./s3-target.js";

/** A target URL, parsed: which store, which bucket, container or folder, which prefix. */
export type TargetLocation =
  | { readonly kind: "s3"; readonly bucket: string; readonly prefix: string; readonly endpoint?: string; readonly region?: string; readonly forcePathStyle?: boolean }
  | { readonly kind: "azure"; readonly container: string; readonly prefix: string }
  | { readonly kind: "folder"; readonly folder: string };

/**
 * Settings of {@link openBackupTarget} beyond the URL. Each has an environment fallback; options win over the URL's
 * query, which wins over the environment.
 */
export interface BackupTargetOptions {
  /** S3: the region (else `?region=`, AWS_REGION, AWS_DEFAULT_REGION, then us-east-1). */
  readonly region?: string;
  /** S3: an S3-compatible server's http(s) URL (else `?endpoint=`, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL). */
  readonly endpoint?: string;
  /** S3: path-style requests (`host/bucket/key`); by default true exactly when an endpoint is set. */
  readonly forcePathStyle?: boolean;
  /** S3: access keys (else AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, else the SDK's default chain). */
  readonly credentials?: S3Credentials;
  /** Azure: a storage account connection string (else AZURE_STORAGE_CONNECTION_STRING). */
  readonly connectionString?: string;
  /** Object stores: bytes per upload part or block, 5 MiB to 512 MiB (default 8 MiB); one part is held in memory. */
  readonly partSize?: number;
  /** Object stores: objects per listing page, 1 to 1000 (default 1000). */
  readonly pageSize?: number;
  /** Where the environment fallbacks are read (default process.env). */
  readonly env?: Env;
}

type Env = Readonly<Record<string, string | undefined>>;

const MIB = 1024 * 1024;
const DEFAULT_PART_SIZE = 8 * MIB;
const PART_SIZE_RANGE = [5 * MIB, 512 * MIB] as const;
const PAGE_SIZE_RANGE = [1, 1000] as const;
const S3_QUERY = new Set(["endpoint", "region", "forcePathStyle"]);
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const CONTAINER = /^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/;
const REGION = /^[a-z0-9-]{1,40}$/;

/** A URL's scheme (`s3://`, `azure://`, `file://`); a target without one is a folder path. */
const URL_SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;

/**
 * A target as written in a place with a folder of its own (a command's working folder, a config file's folder): a
 * URL as it is, a plain folder path resolved against `base`.
 */
export function targetRelativeTo(base: string, target: string): string {
  return URL_SCHEME.test(target) ? target : resolve(base, target);
}

/**
 * Parses a backup target URL: `s3://bucket/prefix` (query `endpoint`, `region`, `forcePathStyle` allowed),
 * `azure://container/prefix`, `file:///absolute/folder`, or a plain path (relative to the working folder).
 * Throws INVALID_ARGUMENT for anything else — and for credentials in the URL, which it never repeats.
 */
export function parseTargetUrl(text: string): TargetLocation {
  if (typeof text !== "string" || text.trim() === "") throw invalid("a backup target is empty: give s3://bucket/prefix, azure://container/prefix, file:///folder or a folder path");
  const scheme = URL_SCHEME.exec(text)?.[1]?.toLowerCase();
  if (scheme === undefined) return { kind: "folder", folder: resolve(text) };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalid(`the backup target ${scheme}://… is not a valid URL`);
  }
  if (url.username !== "" || url.password !== "") {
    throw invalid(`the backup target ${shownUrl(text)} carries credentials in the URL; pass them as options or in the environment instead (they are not repeated here)`);
  }
  if (url.hash !== "") throw invalid(`the backup target ${shownUrl(text)} has a #fragment, which means nothing here`);
  switch (scheme) {
    case "s3":
      return s3Location(url, text);
    case "azure":
      return azureLocation(url, text);
    case "file":
      return fileLocation(url, text);
    default:
      throw invalid(`the backup target ${shownUrl(text)} has an unknown scheme "${scheme}": use s3://, azure://, file:// or a folder path`);
  }
}

function s3Location(url: URL, text: string): TargetLocation {
  const bucket = url.hostname;
  if (!BUCKET.test(bucket)) throw invalid(`the bucket of the backup target ${shownUrl(text)} is not a valid S3 bucket name (3 to 63 of a-z 0-9 . -)`);
  for (const key of url.searchParams.keys()) {
    if (!S3_QUERY.has(key)) throw invalid(`the backup target ${shownUrl(text)} has an unknown query parameter "${key.slice(0, 40)}": only endpoint, region and forcePathStyle`);
  }
  const location = { kind: "s3" as const, bucket, prefix: normalisePrefix(decodeURIComponent(url.pathname), shownUrl(text)) };
  const endpoint = url.searchParams.get("endpoint");
  const region = url.searchParams.get("region");
  const pathStyle = url.searchParams.get("forcePathStyle");
  if (pathStyle !== null && pathStyle !== "true" && pathStyle !== "false") throw invalid(`forcePathStyle of the backup target ${shownUrl(text)} must be true or false`);
  return {
    ...location,
    ...(endpoint === null ? {} : { endpoint }),
    ...(region === null ? {} : { region }),
    ...(pathStyle === null ? {} : { forcePathStyle: pathStyle === "true" }),
  };
}

function azureLocation(url: URL, text: string): TargetLocation {
  const container = url.hostname;
  if (!CONTAINER.test(container)) throw invalid(`the container of the backup target ${shownUrl(text)} is not a valid Azure container name (3 to 63 of a-z 0-9 -)`);
  if (url.search !== "") throw invalid(`the backup target ${shownUrl(text)} has a query; azure:// takes none (the connection string comes from options or AZURE_STORAGE_CONNECTION_STRING)`);
  return { kind: "azure", container, prefix: normalisePrefix(decodeURIComponent(url.pathname), shownUrl(text)) };
}

function fileLocation(url: URL, text: string): TargetLocation {
  if (url.search !== "") throw invalid(`the backup target ${shownUrl(text)} has a query; file:// takes none`);
  try {
    return { kind: "folder", folder: fileURLToPath(url) };
  } catch {
    throw invalid(`the backup target ${shownUrl(text)} is not a local file URL: write file:///absolute/folder`);
  }
}

/**
 * Opens the target a URL names (see {@link parseTargetUrl}), loading the SDK it needs (NOT_SUPPORTED when that
 * optional package is not installed). Nothing is contacted yet: the first call reaches the store.
 *
 * @example
 * ```ts
 * const target = await openBackupTarget("s3://backups/orders?endpoint=http://127.0.0.1:9000", { credentials });
 * try { await target.put(backupName(), body); } finally { await target.close(); }
 * ```
 */
export async function openBackupTarget(url: string, options: BackupTargetOptions = {}): Promise<BackupTarget> {
  return openLocation(parseTargetUrl(url), url, options);
}

/**
 * Opens the target of a restore URL and the backup it names: when the URL's last path segment is a backup name
 * (`s3://backups/orders/stowage-2026-12-03T10-15-30-123Z-9f2c4e1a.dump.gz`), the target is its parent and `name` is
 * that backup; otherwise the whole URL is the target and `name` is undefined (restore the latest: see latestBackup).
 */
export async function openBackupLocation(url: string, options: BackupTargetOptions = {}): Promise<{ target: BackupTarget; name: string | undefined }> {
  const location = parseTargetUrl(url);
  const path = location.kind === "folder" ? location.folder : location.prefix.replace(/\/$/, "");
  const name = path.slice(path.lastIndexOf("/") + 1);
  if (parseBackupName(name) === undefined) return { target: await openLocation(location, url, options), name: undefined };
  const parent = path.slice(0, path.length - name.length);
  const parentLocation: TargetLocation = location.kind === "folder" ? { kind: "folder", folder: parent === "/" ? parent : parent.replace(/\/$/, "") } : { ...location, prefix: parent };
  return { target: await openLocation(parentLocation, url, options), name };
}

async function openLocation(location: TargetLocation, url: string, options: BackupTargetOptions): Promise<BackupTarget> {
  const env = options.env ?? process.env;
  switch (location.kind) {
    case "folder":
      return new FolderTarget(location.folder);
    case "azure":
      return AzureTarget.open({ ...location, connectionString: azureConnectionString(options, env, url), ...transfer(options) });
    case "s3":
      return S3Target.open({ ...location, ...s3Settings(location, options, env, url), ...transfer(options) });
  }
}

function s3Settings(location: TargetLocation & { kind: "s3" }, options: BackupTargetOptions, env: Env, url: string) {
  const region = options.region ?? location.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? "us-east-1";
  if (!REGION.test(region)) throw invalid(`the region of the backup target ${shownUrl(url)} is not a valid region name`);
  const endpoint = options.endpoint ?? location.endpoint ?? env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL;
  if (endpoint !== undefined) checkEndpoint(endpoint, url);
  return {
    region,
    endpoint,
    forcePathStyle: options.forcePathStyle ?? location.forcePathStyle ?? endpoint !== undefined,
    credentials: options.credentials ?? s3CredentialsFromEnv(env),
  };
}

function checkEndpoint(endpoint: string, url: string): void {
  let parsed: URL | undefined;
  try {
    parsed = new URL(endpoint);
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || (parsed.protocol !== "http:" && parsed.protocol !== "https:")) {
    throw invalid(`the endpoint of the backup target ${shownUrl(url)} must be an http:// or https:// URL`);
  }
  if (parsed.username !== "" || parsed.password !== "") {
    throw invalid(`the endpoint of the backup target ${shownUrl(url)} carries credentials; pass them as options or in the environment instead (they are not repeated here)`);
  }
}

function s3CredentialsFromEnv(env: Env): S3Credentials | undefined {
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (accessKeyId === undefined && secretAccessKey === undefined) return undefined;
  if (accessKeyId === undefined || secretAccessKey === undefined) {
    throw invalid(`AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY go together, but only ${accessKeyId === undefined ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID"} is set`);
  }
  const sessionToken = env.AWS_SESSION_TOKEN;
  return sessionToken === undefined ? { accessKeyId, secretAccessKey } : { accessKeyId, secretAccessKey, sessionToken };
}

function azureConnectionString(options: BackupTargetOptions, env: Env, url: string): string {
  const connectionString = options.connectionString ?? env.AZURE_STORAGE_CONNECTION_STRING;
  if (connectionString === undefined || connectionString.trim() === "") {
    throw invalid(`the backup target ${shownUrl(url)} needs a storage account connection string: pass connectionString or set AZURE_STORAGE_CONNECTION_STRING`);
  }
  return connectionString;
}

function transfer(options: BackupTargetOptions): { partSize: number; pageSize: number } {
  return {
    partSize: within("partSize", options.partSize ?? DEFAULT_PART_SIZE, PART_SIZE_RANGE),
    pageSize: within("pageSize", options.pageSize ?? PAGE_SIZE_RANGE[1], PAGE_SIZE_RANGE),
  };
}

function within(name: string, value: number, [min, max]: readonly [number, number]): number {
  if (Number.isSafeInteger(value) && value >= min && value <= max) return value;
  throw invalid(`the backup target option ${name} must be an integer from ${min} to ${max}, not ${String(value)}`);
}

function invalid(message: string): StowageError {
  return new StowageError("INVALID_ARGUMENT", message);
}
