import { StowageError } from "../api/errors.js";
import { checkKey, utf8Length } from "../store/validate.js";

/** Longest node id of the coordination adapters, in UTF-8 bytes: it is part of index keys beside another key. */
export const MAX_NODE_ID_BYTES = 128;

/**
 * Checks a node id (the membership's node, a lease directory's owner): a key of at most {@link MAX_NODE_ID_BYTES}
 * bytes without `/`, so that an index prefix `node/<id>/` names exactly one node.
 */
export function checkNodeId(namespace: string, id: unknown, argument = "node id"): string {
  const checked = checkKey(namespace, id, argument);
  if (checked.includes("/")) throw new StowageError("INVALID_ARGUMENT", `${argument} must not contain "/"`, { namespace, key: checked });
  const size = utf8Length(checked);
  if (size > MAX_NODE_ID_BYTES) {
    throw new StowageError("LIMIT_EXCEEDED", `${argument} is ${size} bytes; the limit is ${MAX_NODE_ID_BYTES} bytes of UTF-8`, { namespace, key: checked });
  }
  return checked;
}

