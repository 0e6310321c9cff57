import { StowageError } from "../../api/errors.js";
import { LIMITS } from "../../api/limits.js";
import type { EngineDescriptor } from "../descriptor.js";
import { durationField, keyPrefixField, secretField, textField, tlsFileFields } from "../engine-fields.js";
import { OrderedEngine, orderedSupports } from "../ordered/ordered-engine.js";
import { DEFAULT_ETCD_ENDPOINTS, DEFAULT_ETCD_PREFIX, DEFAULT_ETCD_TIMEOUT_MS, ETCD_LIMITS, openEtcdStore, type EtcdStoreOptions } from "./etcd-store.js";

/** A comma-separated list of http(s):// URLs. */
const ENDPOINTS_PATTERN = /^https?:\/\/[^\s,]+(\s*,\s*https?:\/\/[^\s,]+)*$/;

/** The etcd engine: the ordered-KV family on an etcd cluster; its driver, etcd3, is loaded when it opens. */
export const ETCD_ENGINE: EngineDescriptor<EtcdStoreOptions> = {
  name: "etcd",
  summary: "An etcd cluster (raft-replicated): state shared by many processes and machines",
  supports: orderedSupports({ singleWriter: false, limits: ETCD_LIMITS }),
  fields: [
    textField({
      option: "endpoints",
      doc: "The etcd cluster's client URLs, comma-separated",
      placeholder: "<urls>",
      default: DEFAULT_ETCD_ENDPOINTS,
      accepts: "comma-separated http:// or https:// URLs",
      check: (endpoints) => {
        if (typeof endpoints !== "string" || !ENDPOINTS_PATTERN.test(endpoints.trim())) {
          throw new StowageError("INVALID_ARGUMENT", `endpoints must be comma-separated http:// or https:// URLs, got ${JSON.stringify(endpoints)}`);
        }
      },
    }),
    keyPrefixField({
      doc: "The prefix of every key the store writes; stores with other prefixes share the cluster safely",
      default: DEFAULT_ETCD_PREFIX,
    }),
    durationField({
      option: "requestTimeoutMs",
      doc: "How long one request to etcd may take before BACKEND_UNAVAILABLE, in ms",
      min: 1,
      max: LIMITS.maxTimerMs,
      default: DEFAULT_ETCD_TIMEOUT_MS,
    }),
    textField({
      option: "username",
      doc: "The etcd user the store logs in as (with password), where the cluster has auth enabled",
      placeholder: "<name>",
      accepts: "a non-empty etcd user name",
      check: (username) => {
        if (typeof username !== "string" || username.length === 0) throw new StowageError("INVALID_ARGUMENT", "username must be a non-empty string");
      },
    }),
    secretField({ option: "password", doc: "The etcd user's password, never shown in errors, info or health (set it by file or environment: ps shows flags)" }),
    ...tlsFileFields(),
  ],
  open: async (options) => OrderedEngine.open(await openEtcdStore(options)),
};
