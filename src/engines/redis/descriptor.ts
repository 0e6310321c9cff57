import { StowageError } from "../../api/errors.js";
import { LIMITS } from "../../api/limits.js";
import type { EngineDescriptor, EngineField } from "../descriptor.js";
import { durationField, keyPrefixField, textField, tlsFileFields } from "../engine-fields.js";
import { OrderedEngine, orderedSupports } from "../ordered/ordered-engine.js";
import { DEFAULT_REDIS_PREFIX, DEFAULT_REDIS_TIMEOUT_MS, DEFAULT_REDIS_URL, openRedisStore, REDIS_LIMITS, type RedisStoreOptions } from "./redis-store.js";

/** What a Redis URL must look like (`rediss://` is TLS). */
const REDIS_URL_PATTERN = /^rediss?:\/\/\S+$/;

/** The server's URL; secret, since it may hold a password: a configuration error never quotes it. */
const URL_FIELD: EngineField = {
  ...textField({
    option: "url",
    doc: "redis://[user:password@]host:port[/db], or rediss:// for TLS",
    placeholder: "<url>",
    default: DEFAULT_REDIS_URL,
    accepts: "a redis:// or rediss:// URL",
    check: (url) => {
      if (typeof url !== "string" || !REDIS_URL_PATTERN.test(url)) throw new StowageError("INVALID_ARGUMENT", "url must be a redis:// (or rediss://) URL");
    },
  }),
  secret: true,
};

/** The Redis engine: the ordered-KV family on a Redis server; its driver, ioredis, is loaded when it opens. */
export const REDIS_ENGINE: EngineDescriptor<RedisStoreOptions> = {
  name: "redis",
  summary: "A Redis server (Lua scripts, AOF): state shared by many processes and machines",
  supports: orderedSupports({ singleWriter: false, limits: REDIS_LIMITS }),
  fields: [
    URL_FIELD,
    keyPrefixField({
      doc: "The start of the store's Redis keys and channel; stores with other prefixes share a Redis database safely",
      default: DEFAULT_REDIS_PREFIX,
    }),
    durationField({
      option: "requestTimeoutMs",
      doc: "How long one call to Redis may wait for its reply before BACKEND_UNAVAILABLE, in ms",
      min: 1,
      max: LIMITS.maxTimerMs,
      default: DEFAULT_REDIS_TIMEOUT_MS,
    }),
    ...tlsFileFields(),
  ],
  open: async (options) => OrderedEngine.open(await openRedisStore(options)),
};
