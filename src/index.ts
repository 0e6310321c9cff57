/**
 * stowage: one durable storage layer for a Node service's runtime state.
 * @packageDocumentation
 */
export { openStore, BACKENDS, DEFAULT_BACKEND, DEFAULT_SQLITE_PATH } from "./open-store.js";
export type { OpenStoreOptions, MemoryStoreOptions, SqliteStoreOptions, PostgresStoreOptions, LmdbOpenOptions, LevelDbOpenOptions, EtcdOpenOptions, RedisOpenOptions, StowageEngines, UntypedStoreOptions, RoutedStoreOptions, CompositeProviderOptions } from "./open-store.js";
export { compositeControl, type CompositeControl } from "./engines/composite/control.js";
export type { CompositeStatus } from "./engines/composite/composite-engine.js";
export { registerEngine, engineDescriptors, findEngine } from "./engines/registry.js";
export { settingNames, type EngineDescriptor, type EngineField, type FieldType } from "./engines/descriptor.js";
export { textField, pathField, choiceField, wholeNumberField, durationField, secretField, tlsFileFields, keyPrefixField, type FieldBasics } from "./engines/engine-fields.js";
export { loadDriver } from "./engines/load-driver.js";
export { OrderedEngine, orderedSupports } from "./engines/ordered/ordered-engine.js";
export type * from "./engines/ordered/ordered-store.js";
/** For engines written from scratch: the work-queue rules every engine shares, and the refusals of one without them. */
export { WORK_UNSUPPORTED_OPS } from "./engines/work-unsupported.js";
export { failDecision, isClaimable, expiredOverLimit, overLimitError, LEASE_EXPIRED_ERROR } from "./engines/work-rules.js";
export { createStore } from "./store/store.js";
export type { StoreOptions } from "./store/store.js";
export { DURABILITIES, DEFAULT_BUSY_TIMEOUT_MS, type Durability } from "./engines/sqlite/sqlite-engine.js";
export { loadConfig, resolveConfig, openConfiguredStore, CONFIG_FLAG_OPTIONS, configFlagOptions } from "./config/index.js";
export type { LoadConfigInput, ResolveConfigInput } from "./config/index.js";
export { StowageError, isStowageError } from "./api/errors.js";
export type { ErrorCode } from "./api/errors.js";
export { LIMITS } from "./api/limits.js";
export { WorkFailure, type WorkFailureOptions } from "./store/work-failure.js";
export { bytes, utf8, json } from "./api/codec.js";
export type { Codec } from "./api/codec.js";
export { compareKeys } from "./api/key-order.js";
export type * from "./api/types.js";
export type { KeyRange, RangeScan } from "./api/range.js";
export type * from "./engines/engine.js";
export { OP_FACTS, OP_NAMES, runCall, type CallResult, type EngineCall, type OpFacts, type OpName } from "./engines/engine-calls.js";
export { CheckpointStore, CHECKPOINTS_NAMESPACE, type Checkpoint } from "./adapters/checkpoint-store.js";
export { SnapshotCursor, SNAPSHOTS_NAMESPACE, type CursorState } from "./adapters/snapshot-cursor.js";
export { LeaderElection, LEASES_NAMESPACE, type LeaderElectionOptions } from "./adapters/leader-election.js";
export type { Campaign, CampaignOptions, LeadershipLoss } from "./adapters/campaign.js";
export {
  LeaseDirectory,
  DIRECTORY_NAMESPACE,
  MAX_LEASE_KEY_BYTES,
  type DirectoryLease,
  type LeaseRef,
  type LeaseDirectoryOptions,
  type LeaseTtlOptions,
  type NodeLeasesOptions,
  type NodeLeasesReport,
  type ReleaseNodeOptions,
  type LeaseListOptions,
} from "./adapters/lease-directory.js";
export {
  Membership,
  CLUSTER_NAMESPACE,
  MAX_NODE_INFO_BYTES,
  DEFAULT_MEMBERSHIP_SWEEP_MS,
  type NodeInfo,
  type ClusterNode,
  type MembershipEvent,
  type MembershipOptions,
  type MembershipWatch,
  type MembershipWatchOptions,
} from "./adapters/membership.js";
export { MAX_NODE_ID_BYTES } from "./adapters/node-id.js";
export { Quarantine, DeadLetterQueue, QUARANTINE_NAMESPACE, DLQ_NAMESPACE } from "./adapters/quarantine.js";
export { MAX_REASON_BYTES, type HeldEvent, type HeldEventsOptions, type ReplayReport, type ReplayOptions } from "./adapters/held-events.js";
export { withCache, type CacheOptions, type CacheStats, type ReadCache } from "./wrappers/cache.js";
export { PROBE_NAMESPACE } from "./store/health.js";
export {
  SchemaRegistry,
  SCHEMAS_NAMESPACE,
  canonicalSchema,
  schemaFingerprint,
  MAX_SCHEMA_DEPTH,
  type SchemaVersion,
  type TableRef,
  type RegisterOptions,
  type SchemaRegistryOptions,
  type JsonValue,
} from "./adapters/schema-registry.js";
export { createRuntime, type Runtime, type RuntimeOptions } from "./adapters/runtime.js";
export { withCasRetry, updateSlot, CAS_LOST, type CasLost, type CasRetryOptions } from "./wrappers/cas-retry.js";
export {
  BatchWriter,
  type BatchWriterOptions,
  type BatchWriterStats,
  type FlushReport,
  type FlushTrigger,
  type FailedWrite,
  type BatchOp,
  type BatchPushOptions,
} from "./wrappers/batch-writer.js";
export { withRateLimit, type RateLimitOptions, type RateLimitBy, type RateLimitStats, type RateLimiter, type BucketLimit } from "./wrappers/rate-limit.js";
export { withSizeLimits, type SizeLimitOptions, type SizeLimits, type SizeLimitStats } from "./wrappers/size-limits.js";
export { withMetrics, METRICS_NAMESPACES, type MetricsOptions, type StoreMetrics, type MetricsSnapshot, type SeriesSnapshot, type MetricsErrorCode } from "./wrappers/metrics.js";
export {
  exportStore,
  importStore,
  validateStores,
  migrateStore,
  type ExportOptions,
  type ImportOptions,
  type ImportSummary,
  type MigrationReport,
  type ValidationSide,
} from "./operations/store-dumps.js";
export { dumpBytes, dumpSource, readDumpHeader, verifyDump, type DumpSummary } from "./operations/dump-file.js";
export type { ValidationReport, NamespaceComparison, SectionFacts } from "./operations/compare-sources.js";
export type { RestoreProgress } from "./operations/restore-sink.js";
export { DUMP_VERSION, type DumpHeader, type SectionEnd } from "./operations/dump-format.js";
export { storeSource, type StoreSourceOptions } from "./operations/store-source.js";
export type { DumpEvent, DumpSink, DumpSource } from "./operations/dump-events.js";
export {
  backupStore,
  restoreStore,
  scheduleBackups,
  type BackupOptions,
  type BackupReport,
  type RestoreFromBackupOptions,
  type RestoreReport,
  type BackupSchedule,
  type ScheduledBackups,
} from "./operations/store-backups.js";
export { withScheduledBackups, type ScheduledBackupOptions } from "./wrappers/scheduled-backups.js";
export type { BackupBody, BackupObject, BackupTarget, PutOptions as BackupPutOptions } from "./operations/backup-targets/backup-target.js";
export { openBackupTarget, openBackupLocation, parseTargetUrl, type BackupTargetOptions, type TargetLocation } from "./operations/backup-targets/target-url.js";
export { backupName, parseBackupName, type BackupNameOptions, type BackupNameParts } from "./operations/backup-targets/backup-names.js";
export { expiredBackups, latestBackup, pruneBackups, type RetentionPolicy, type RetentionScope } from "./operations/backup-targets/retention.js";
