import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import type * as Blob from "@azure/storage-blob";
import { StowageError } from "../../api/errors.js";
import { loadOptionalPackage } from "../../engines/load-driver.js";
import type { BackupBody, BackupObject, BackupTarget, PutOptions } from "./backup-target.js";
import { splitBody } from "./body-parts.js";
import { shownUrl } from "./location-text.js";
import { checkObjectName, isObjectName } from "./object-names.js";
import { isMissingObject, notFound, objectStoreFailure } from "./target-errors.js";

/** Azure accepts at most this many committed blocks in one block blob. */
const MAX_BLOCKS = 50_000;

/** Everything an Azure Blob target needs, resolved from its URL, options and environment (see openBackupTarget). */
export interface AzureTargetSettings {
  readonly container: string;
  /** A normalised blob-name prefix: empty or ending with "/". */
  readonly prefix: string;
  /** A storage account connection string (a secret: never shown). */
  readonly connectionString: string;
  /** Bytes per staged block; a body that fits in one block is a single upload. */
  readonly partSize: number;
  /** Blobs per listing page (at most 5000 on Azure). */
  readonly pageSize: number;
}

/**
 * Backups in an Azure Blob Storage container under a name prefix. A body larger than one block is staged block by
 * block and becomes visible only when its block list is committed at the end; the uncommitted blocks of a failed
 * upload are invisible and Azure discards them after a week.
 */
export class AzureTarget implements BackupTarget {
  private constructor(
    private readonly container: Blob.ContainerClient,
    private readonly settings: AzureTargetSettings,
    private readonly location: string,
  ) {}

  /** Loads the optional `@azure/storage-blob` (NOT_SUPPORTED when it is not installed) and makes a client. */
  static async open(settings: AzureTargetSettings): Promise<AzureTarget> {
    const sdk = await loadOptionalPackage<typeof Blob>("@azure/storage-blob", "the azure backup target");
    const location = `azure://${settings.container}/${settings.prefix} (${accountOf(settings.connectionString)})`;
    let service: Blob.BlobServiceClient;
    try {
      service = sdk.BlobServiceClient.fromConnectionString(settings.connectionString);
    } catch (cause) {
      // The SDK's message may quote the string; ours never does.
      throw new StowageError("INVALID_ARGUMENT", `the connection string of the backup ${location} is not a valid Azure Storage connection string (not shown: it holds a secret)`, { cause });
    }
    return new AzureTarget(service.getContainerClient(settings.container), settings, location);
  }

  describe(): string {
    return this.location;
  }

  async put(name: string, body: BackupBody, options: PutOptions = {}): Promise<void> {
    checkObjectName(name, this.describe());
    const { signal } = options;
    const blob = this.container.getBlockBlobClient(this.blobName(name));
    const split = await splitBody(body, this.settings.partSize, signal);
    if ("single" in split) {
      await this.call(`write ${name}`, (abortSignal) => blob.upload(split.single, split.single.length, { abortSignal }), signal);
      return;
    }
    // Block ids must all have the same length; a random upload tag keeps concurrent uploads of one name apart.
    const tag = randomBytes(8).toString("hex");
    const blockIds: string[] = [];
    for await (const part of split.parts) {
      if (blockIds.length >= MAX_BLOCKS) {
        throw new StowageError("LIMIT_EXCEEDED", `the backup ${JSON.stringify(name)} for ${this.describe()} needs more than ${MAX_BLOCKS} blocks of ${this.settings.partSize} bytes: raise partSize`);
      }
      const id = Buffer.from(`${tag}-${String(blockIds.length).padStart(6, "0")}`).toString("base64");
      await this.call(`stage block ${blockIds.length + 1} of ${name}`, (abortSignal) => blob.stageBlock(id, part, part.length, { abortSignal }), signal);
      blockIds.push(id);
    }
    await this.call(`commit the blocks of ${name}`, (abortSignal) => blob.commitBlockList(blockIds, { abortSignal }), signal);
  }

  async get(name: string): Promise<Readable> {
    checkObjectName(name, this.describe());
    try {
      const answer = await this.container.getBlobClient(this.blobName(name)).download();
      const stream = answer.readableStreamBody;
      if (stream === undefined) throw new StowageError("INTERNAL", `reading ${name} from the backup ${this.describe()} gave no body`);
      return stream instanceof Readable ? stream : Readable.from(stream as AsyncIterable<Buffer>);
    } catch (error) {
      if (isMissingObject(error)) throw notFound(name, this.describe());
      throw objectStoreFailure(`read ${name}`, this.describe(), error);
    }
  }

  async list(): Promise<BackupObject[]> {
    const { prefix, pageSize } = this.settings;
    const objects: BackupObject[] = [];
    const pages = this.container.listBlobsByHierarchy("/", { prefix }).byPage({ maxPageSize: pageSize });
    await this.call("list the backups", async () => {
      for await (const page of pages) {
        for (const blob of page.segment.blobItems) {
          const name = blob.name.slice(prefix.length);
          if (isObjectName(name)) objects.push({ name, size: blob.properties.contentLength ?? 0, modified: blob.properties.lastModified });
        }
      }
    });
    return objects.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async remove(name: string): Promise<void> {
    checkObjectName(name, this.describe());
    await this.call(`remove ${name}`, () => this.container.getBlobClient(this.blobName(name)).deleteIfExists());
  }

  async close(): Promise<void> {
    // The SDK holds no connection that outlives a call.
  }

  private blobName(name: string): string {
    return `${this.settings.prefix}${name}`;
  }

  /** Runs one SDK call; its failure is a typed error naming `what` (an abort stays an AbortError). */
  private async call<Output>(what: string, run: (abortSignal: AbortSignal | undefined) => Promise<Output>, signal?: AbortSignal): Promise<Output> {
    try {
      return await run(signal);
    } catch (error) {
      if (signal?.aborted === true) throw signal.reason;
      throw objectStoreFailure(what, this.describe(), error);
    }
  }
}

/**
 * The account a connection string names, for describe(): its blob endpoint without query, or its account name; never
 * its key or signature.
 */
function accountOf(connectionString: string): string {
  const fields = new Map<string, string>();
  for (const pair of connectionString.split(";")) {
    const at = pair.indexOf("=");
    if (at > 0) fields.set(pair.slice(0, at).trim().toLowerCase(), pair.slice(at + 1).trim());
  }
  const endpoint = fields.get("blobendpoint");
  if (endpoint !== undefined) return `endpoint ${shownUrl(endpoint)}`;
  if (fields.get("usedevelopmentstorage") === "true") return "the local storage emulator";
  const account = fields.get("accountname");
  return account === undefined ? "an account named by its connection string" : `account ${account}`;
}
