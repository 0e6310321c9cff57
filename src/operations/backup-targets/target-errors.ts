import { StowageError, type ErrorCode } from "../../api/errors.js";

/** NOT_FOUND for an absent backup, naming it and its target. */
export function notFound(name: string, target: string): StowageError {
  return new StowageError("NOT_FOUND", `there is no backup named ${JSON.stringify(name)} in the backup ${target}`);
}

/** What an object-store SDK error says about itself, read without trusting its shape. */
interface ServiceFailure {
  /** The service's error code (`NoSuchKey`, `BlobNotFound`, `AccessDenied`…) or a network errno (`ECONNREFUSED`). */
  readonly name: string;
  readonly status: number | undefined;
}

function serviceFailure(error: unknown): ServiceFailure {
  const e = error as { name?: unknown; code?: unknown; Code?: unknown; statusCode?: unknown; $metadata?: { httpStatusCode?: unknown } };
  const status = typeof e?.$metadata?.httpStatusCode === "number" ? e.$metadata.httpStatusCode : typeof e?.statusCode === "number" ? e.statusCode : undefined;
  const named = [e?.Code, e?.code, e?.name].find((value) => typeof value === "string" && value !== "Error" && value !== "RestError" && value !== "S3ServiceException");
  return { name: (named as string | undefined) ?? "unknown error", status };
}

const MISSING_CONTAINERS = new Set(["NoSuchBucket", "ContainerNotFound"]);
const REFUSED = new Set(["AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AuthenticationFailed", "AuthorizationFailure", "ExpiredToken", "InvalidToken"]);

/** Errors of the code itself (the SDK's or ours), not of the store: a bug to report, not something to retry. */
const PROGRAM_ERRORS = new Set(["TypeError", "RangeError", "ReferenceError", "SyntaxError"]);

function codeOf({ name, status }: ServiceFailure): ErrorCode {
  if (MISSING_CONTAINERS.has(name)) return "INVALID_ARGUMENT";
  if (REFUSED.has(name) || status === 401 || status === 403) return "UNAUTHORIZED";
  if (status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429) return "INVALID_ARGUMENT";
  if (status === undefined && PROGRAM_ERRORS.has(name)) return "INTERNAL";
  // No HTTP answer (ECONNREFUSED, a timeout…), a throttle or a server error: worth retrying later.
  return "BACKEND_UNAVAILABLE";
}

/**
 * A typed error for a failed object-store call: its code from the service's error code and HTTP status, its
 * message naming what was tried, the target and the service's error code — never the SDK's message, which can echo
 * request details, and never a credential.
 */
export function objectStoreFailure(what: string, target: string, error: unknown): StowageError {
  if (error instanceof StowageError) return error;
  const failure = serviceFailure(error);
  const status = failure.status === undefined ? "" : `, HTTP ${failure.status}`;
  const hint = MISSING_CONTAINERS.has(failure.name) ? "; create it first" : "";
  return new StowageError(codeOf(failure), `could not ${what} in the backup ${target} (${failure.name}${status})${hint}`, { cause: error });
}

/** Whether an object-store error says the object (not its container) is absent. */
export function isMissingObject(error: unknown): boolean {
  const { name, status } = serviceFailure(error);
  return name === "NoSuchKey" || name === "BlobNotFound" || name === "NotFound" || (status === 404 && !MISSING_CONTAINERS.has(name));
}
