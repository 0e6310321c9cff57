import { connect } from "node:tls";
import type { TlsMaterial } from "./tls-files.js";

/**
 * Node's codes for a failed TLS check of the server (its certificate is not trusted, has expired, or names another
 * host; the server speaks no TLS).
 */
const VERIFY_CODES = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_SIGNATURE_FAILURE",
  "CERT_UNTRUSTED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "ERR_SSL_WRONG_VERSION_NUMBER",
]);

/** The server's refusal of the client during the handshake: an alert (`ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED`, `…_BAD_CERTIFICATE`, …). */
const ALERT_CODE = /^ERR_SSL_.*ALERT/;

/**
 * The same failures as drivers that do not keep Node's code put them in their text (grpc-js: "No connection
 * established. Last error: Error: unable to verify the first certificate"; OpenSSL: "SSL alert number 42").
 */
export const TLS_TEXT = /certificate|self[- ]signed|SSL alert|alert (bad|unknown|handshake|certificate)|wrong version number|altnames/i;

/** Whether Node's error `code` is a failed TLS check, of either side. */
export function isTlsFailureCode(code: string): boolean {
  return VERIFY_CODES.has(code) || ALERT_CODE.test(code);
}

/** Whether an error (by its code, or its text where the driver dropped the code) is a failed TLS check. */
export function isTlsFailure(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === "string" && isTlsFailureCode(code)) return true;
  return TLS_TEXT.test(error instanceof Error ? error.message : String(error));
}

/** How long {@link tlsRefusal} waits for the server's verdict after the handshake. */
const VERDICT_MS = 2_000;

/**
 * Why the TLS server at `host:port` refuses this client, when it does: connects with `material`, sends nothing, and
 * resolves with the TLS error the server's alert raised (a client certificate required or not trusted) or the
 * client's own check raised; undefined when the connection stays up (or fails otherwise) for {@link VERDICT_MS}.
 *
 * Why: with TLS 1.3 a server checks the client's certificate after the client considers the handshake done, so a
 * driver that writes its first command at once usually meets a reset (ECONNRESET) instead of the server's alert, and
 * cannot tell a refused certificate from a network failure. A connection that writes nothing reads the alert.
 */
export function tlsRefusal(host: string, port: number, material: TlsMaterial = {}): Promise<Error | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, ...material });
    let settled = false;
    const done = (verdict: Error | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(verdict);
    };
    const timer = setTimeout(() => done(undefined), VERDICT_MS);
    socket.on("error", (error) => done(isTlsFailure(error) ? error : undefined));
    socket.on("close", () => done(undefined));
  });
}
