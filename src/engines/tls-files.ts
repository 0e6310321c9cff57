import { readFileSync } from "node:fs";
import { createSecureContext } from "node:tls";
import { StowageError } from "../api/errors.js";

/** The TLS options of a networked engine (see `tlsFileFields`): paths of PEM files. */
export interface TlsFileOptions {
  /** The CA that signs the server's certificate, trusted instead of the system's CAs. */
  tlsCaFile?: string;
  /** A client certificate, for a server that checks client certificates; needs {@link tlsKeyFile}. */
  tlsCertFile?: string;
  /** The private key of {@link tlsCertFile}. */
  tlsKeyFile?: string;
}

/** What {@link readTlsFiles} read: the files' contents, for the engine's driver. */
export interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/** Whether any TLS file is named. */
export function namesTlsFiles(options: TlsFileOptions): boolean {
  return options.tlsCaFile !== undefined || options.tlsCertFile !== undefined || options.tlsKeyFile !== undefined;
}

/**
 * Reads the TLS files `options` names (none: undefined) and checks them the way a TLS connection would load them,
 * so that a wrong file fails the open with INVALID_ARGUMENT naming the option and the path (never a file's content)
 * rather than as a connection failure: a missing or unreadable file, a file that is not PEM, a certificate without
 * its key (or the reverse), a key that is not the certificate's.
 */
export function readTlsFiles(options: TlsFileOptions, engine: string): TlsMaterial | undefined {
  if (!namesTlsFiles(options)) return undefined;
  if ((options.tlsCertFile === undefined) !== (options.tlsKeyFile === undefined)) {
    throw new StowageError("INVALID_ARGUMENT", `the ${engine} engine's tlsCertFile and tlsKeyFile go together: a client certificate needs its private key`);
  }
  const material: TlsMaterial = {};
  if (options.tlsCaFile !== undefined) {
    material.ca = readOption(engine, "tlsCaFile", options.tlsCaFile);
    // Node takes a CA file without a certificate in it silently, and every connection would then fail its TLS check.
    if (!material.ca.includes("-----BEGIN CERTIFICATE-----")) {
      throw new StowageError("INVALID_ARGUMENT", `the ${engine} engine's tlsCaFile ${options.tlsCaFile} holds no PEM certificate`);
    }
  }
  if (options.tlsCertFile !== undefined) material.cert = readOption(engine, "tlsCertFile", options.tlsCertFile);
  if (options.tlsKeyFile !== undefined) material.key = readOption(engine, "tlsKeyFile", options.tlsKeyFile);
  try {
    createSecureContext(material);
  } catch (error) {
    // OpenSSL's reason ("no start line", "key values mismatch") quotes no content.
    const names = Object.entries({ tlsCaFile: options.tlsCaFile, tlsCertFile: options.tlsCertFile, tlsKeyFile: options.tlsKeyFile })
      .filter(([, path]) => path !== undefined)
      .map(([option, path]) => `${option} ${path}`);
    throw new StowageError("INVALID_ARGUMENT", `the ${engine} engine cannot use its TLS files (${names.join(", ")}): ${(error as Error).message}`, { cause: error });
  }
  return material;
}

function readOption(engine: string, option: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new StowageError("INVALID_ARGUMENT", `the ${engine} engine's ${option} ${path} cannot be read (${reason})`, { cause: error });
  }
}
