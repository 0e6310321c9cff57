import type { Readable } from "node:stream";
import type * as S3 from "@aws-sdk/client-s3";
import { StowageError } from "../../api/errors.js";
import { loadOptionalPackage } from "../../engines/load-driver.js";
import type { BackupBody, BackupObject, BackupTarget, PutOptions } from "./backup-target.js";
import { splitBody } from "./body-parts.js";
import { shownUrl } from "./location-text.js";
import { checkObjectName, isObjectName } from "./object-names.js";
import { isMissingObject, notFound, objectStoreFailure } from "./target-errors.js";

/** S3 accepts at most this many parts in one multipart upload. */
const MAX_PARTS = 10_000;

/** AWS access keys, from options or the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN). */
export interface S3Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/** Everything an S3 target needs, resolved from its URL, options and environment (see openBackupTarget). */
export interface S3TargetSettings {
  readonly bucket: string;
  /** A normalised key prefix: empty or ending with "/". */
  readonly prefix: string;
  readonly region: string;
  /** An S3-compatible server's URL (MinIO, R2, s3rver…); absent for AWS itself. */
  readonly endpoint: string | undefined;
  readonly forcePathStyle: boolean;
  /** Absent: the SDK's default chain (shared config files, SSO, instance roles…). */
  readonly credentials: S3Credentials | undefined;
  /** Bytes per multipart part (at least 5 MiB on S3); a body that fits in one part is a single PutObject. */
  readonly partSize: number;
  /** Keys per ListObjectsV2 page (at most 1000 on S3). */
  readonly pageSize: number;
}

/**
 * Backups in an S3 bucket (or an S3-compatible store) under a key prefix. A body larger than one part is a multipart
 * upload whose object appears only when CompleteMultipartUpload succeeds; a failed or aborted upload is aborted
 * (best effort: a bucket lifecycle rule "AbortIncompleteMultipartUpload" reclaims the parts of a crashed process).
 */
export class S3Target implements BackupTarget {
  private constructor(
    private readonly sdk: typeof S3,
    private readonly client: S3.S3Client,
    private readonly settings: S3TargetSettings,
  ) {}

  /** Loads the optional `@aws-sdk/client-s3` (NOT_SUPPORTED when it is not installed) and makes a client. */
  static async open(settings: S3TargetSettings): Promise<S3Target> {
    const sdk = await loadOptionalPackage<typeof S3>("@aws-sdk/client-s3", "the s3 backup target");
    const client = new sdk.S3Client({
      region: settings.region,
      ...(settings.endpoint === undefined ? {} : { endpoint: settings.endpoint }),
      forcePathStyle: settings.forcePathStyle,
      // A copy: the SDK marks the credentials object it is given, which fails on a frozen one.
      ...(settings.credentials === undefined ? {} : { credentials: { ...settings.credentials } }),
      // Checksums only where S3 requires them: S3-compatible servers often reject the newer default trailers.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
    return new S3Target(sdk, client, settings);
  }

  describe(): string {
    const { bucket, prefix, region, endpoint } = this.settings;
    return `s3://${bucket}/${prefix} (region ${region}${endpoint === undefined ? "" : `, endpoint ${shownUrl(endpoint)}`})`;
  }

  async put(name: string, body: BackupBody, options: PutOptions = {}): Promise<void> {
    checkObjectName(name, this.describe());
    const { signal } = options;
    const object = { Bucket: this.settings.bucket, Key: this.key(name) };
    const split = await splitBody(body, this.settings.partSize, signal);
    if ("single" in split) {
      await this.call(`write ${name}`, (o) => this.client.send(new this.sdk.PutObjectCommand({ ...object, Body: split.single, ContentLength: split.single.length }), o), signal);
      return;
    }
    const created = await this.call(`start the upload of ${name}`, (o) => this.client.send(new this.sdk.CreateMultipartUploadCommand(object), o), signal).catch(async (error: unknown) => {
      await split.parts.return(undefined);
      throw error;
    });
    const upload = { ...object, UploadId: created.UploadId };
    try {
      const parts: S3.CompletedPart[] = [];
      for await (const part of split.parts) {
        const PartNumber = parts.length + 1;
        if (PartNumber > MAX_PARTS) throw tooManyParts(name, this.describe(), this.settings.partSize);
        const command = new this.sdk.UploadPartCommand({ ...upload, PartNumber, Body: part, ContentLength: part.length });
        const sent = await this.call(`upload part ${PartNumber} of ${name}`, (o) => this.client.send(command, o), signal);
        parts.push({ PartNumber, ETag: sent.ETag });
      }
      const complete = new this.sdk.CompleteMultipartUploadCommand({ ...upload, MultipartUpload: { Parts: parts } });
      await this.call(`complete the upload of ${name}`, (o) => this.client.send(complete, o), signal);
    } catch (error) {
      // Best effort (some S3-compatible servers do not implement it): the object never appears either way.
      await this.client.send(new this.sdk.AbortMultipartUploadCommand(upload)).catch(() => undefined);
      throw error;
    }
  }

  async get(name: string): Promise<Readable> {
    checkObjectName(name, this.describe());
    try {
      const answer = await this.client.send(new this.sdk.GetObjectCommand({ Bucket: this.settings.bucket, Key: this.key(name) }));
      return answer.Body as Readable;
    } catch (error) {
      if (isMissingObject(error)) throw notFound(name, this.describe());
      throw objectStoreFailure(`read ${name}`, this.describe(), error);
    }
  }

  async list(): Promise<BackupObject[]> {
    const { bucket, prefix, pageSize } = this.settings;
    const objects: BackupObject[] = [];
    let ContinuationToken: string | undefined;
    do {
      const command = new this.sdk.ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, Delimiter: "/", MaxKeys: pageSize, ContinuationToken });
      const page = await this.call("list the backups", (o) => this.client.send(command, o));
      for (const entry of page.Contents ?? []) {
        const name = (entry.Key ?? "").slice(prefix.length);
        if (isObjectName(name)) objects.push({ name, size: entry.Size ?? 0, modified: entry.LastModified ?? new Date(0) });
      }
      ContinuationToken = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (ContinuationToken !== undefined);
    return objects.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async remove(name: string): Promise<void> {
    checkObjectName(name, this.describe());
    const command = new this.sdk.DeleteObjectCommand({ Bucket: this.settings.bucket, Key: this.key(name) });
    await this.call(`remove ${name}`, (o) => this.client.send(command, o));
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  private key(name: string): string {
    return `${this.settings.prefix}${name}`;
  }

  /** Runs one SDK call; its failure is a typed error naming `what` (an abort stays an AbortError). */
  private async call<Output>(what: string, run: (options: { abortSignal?: AbortSignal }) => Promise<Output>, signal?: AbortSignal): Promise<Output> {
    try {
      return await run(signal === undefined ? {} : { abortSignal: signal });
    } catch (error) {
      if (signal?.aborted === true) throw signal.reason;
      throw objectStoreFailure(what, this.describe(), error);
    }
  }
}

function tooManyParts(name: string, target: string, partSize: number): StowageError {
  return new StowageError(
    "LIMIT_EXCEEDED",
    `the backup ${JSON.stringify(name)} for ${target} needs more than ${MAX_PARTS} parts of ${partSize} bytes: raise partSize`,
  );
}
