import type { BackupBody } from "./backup-target.js";

/**
 * Cuts a body into parts of exactly `partSize` bytes (the last one shorter), holding at most one part in memory: the
 * multipart uploads of the object-store targets send one part while the next fills. An empty body is one empty part.
 * Rejects with the signal's reason (an AbortError) when `signal` aborts between chunks.
 */
export async function* bodyParts(body: BackupBody, partSize: number, signal?: AbortSignal): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let yielded = false;
  for await (const chunk of body as AsyncIterable<Uint8Array | string>) {
    signal?.throwIfAborted();
    let bytes = typeof chunk === "string" ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    while (pendingBytes + bytes.length >= partSize) {
      const take = partSize - pendingBytes;
      pending.push(bytes.subarray(0, take));
      // Copied by concat, so the part stays intact while the source reuses its chunk buffers.
      yield Buffer.concat(pending, partSize);
      yielded = true;
      bytes = bytes.subarray(take);
      pending = [];
      pendingBytes = 0;
      signal?.throwIfAborted();
    }
    if (bytes.length > 0) {
      pending.push(Buffer.from(bytes));
      pendingBytes += bytes.length;
    }
  }
  signal?.throwIfAborted();
  if (pendingBytes > 0 || !yielded) yield Buffer.concat(pending, pendingBytes);
}

/**
 * The parts of a body, told apart as one part (a body that fits: stored with a single atomic write) or several (a
 * multipart upload). Reads at most two parts ahead to decide.
 */
export async function splitBody(
  body: BackupBody,
  partSize: number,
  signal?: AbortSignal,
): Promise<{ single: Buffer } | { parts: AsyncGenerator<Buffer> }> {
  const parts = bodyParts(body, partSize, signal);
  const first = await parts.next();
  const second = await parts.next();
  if (second.done === true) return { single: first.value ?? Buffer.alloc(0) };
  return { parts: prepend([first.value as Buffer, second.value], parts) };
}

async function* prepend(head: Buffer[], rest: AsyncGenerator<Buffer>): AsyncGenerator<Buffer> {
  try {
    yield* head;
    yield* rest;
  } finally {
    // Also when the consumer stops early: releases the body (a Readable is destroyed).
    await rest.return(undefined);
  }
}
