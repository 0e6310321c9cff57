import { StowageError } from "../../api/errors.js";

/** The HTTP status of an @azure/data-tables RestError (undefined when the request never got an answer). */
export function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof status === "number" ? status : undefined;
}

/**
 * A typed error for a failure of Azure Table storage at `location` (the endpoint and table, never the key): no answer
 * (refused, reset, timed out, aborted) or an overloaded service (5xx, 429) is BACKEND_UNAVAILABLE; a refused
 * credential (a wrong key, an expired SAS) is UNAUTHORIZED; a request the service finds too large (413: a commit
 * over the limits a direct `OrderedStore` caller did not keep) is LIMIT_EXCEEDED; what is not known is INTERNAL.
 */
export function mapAzureError(error: unknown, location: string): StowageError {
  if (error instanceof StowageError) return error;
  const status = statusOf(error);
  const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
  const code = (error as { code?: unknown } | undefined)?.code;
  if (status === undefined || status >= 500 || status === 429 || status === 408) {
    return new StowageError("BACKEND_UNAVAILABLE", `the azure-table engine cannot reach ${location}: ${typeof code === "string" ? `${code}: ` : ""}${message}`, { cause: error });
  }
  if (status === 401 || status === 403) {
    return new StowageError("UNAUTHORIZED", `Azure Table storage refused the credentials for ${location} (HTTP ${status}): ${message}`, { cause: error });
  }
  if (status === 413) {
    return new StowageError("LIMIT_EXCEEDED", `Azure Table storage refused a request too large for ${location} (HTTP 413): ${message}`, { cause: error });
  }
  return new StowageError("INTERNAL", `Azure Table storage failed on ${location} (HTTP ${status}): ${message}`, { cause: error });
}
