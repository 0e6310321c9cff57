/**
 * Throwaway certificates for the TLS tests of the networked engines, made by `openssl` (EC prime256v1 keys, valid 2 days).
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** The files {@link makeCertificates} writes. */
export interface TestCertificates {
  /** The CA that signs the server and client certificates. */
  caFile: string;
  /** A second CA, unrelated to the first: trusting it must fail verification. */
  otherCaFile: string;
  /** The server's certificate, for IP 127.0.0.1 only (so connecting as `localhost` fails the host check). */
  certFile: string;
  keyFile: string;
  /** A client certificate (CN `stowage-client`, clientAuth) signed by the CA, for servers that check client certificates. */
  clientCertFile: string;
  clientKeyFile: string;
}

/** A CA, a server certificate it signs for IP 127.0.0.1, a client certificate it signs, and an unrelated CA, in `folder`. */
export function makeCertificates(folder: string): TestCertificates {
  mkdirSync(folder, { recursive: true });
  const openssl = (args: string[]) => {
    const result = spawnSync("openssl", args, { cwd: folder, encoding: "utf8", timeout: 60_000 });
    if (result.status !== 0) throw new Error(`openssl ${args.join(" ")} failed (${result.status ?? result.signal}): ${result.stderr}`);
  };
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  const sign = (name: string, extensions: string) => {
    writeFileSync(join(folder, `${name}.ext`), extensions);
    openssl(["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.crt`, "-days", "2", "-extfile", `${name}.ext`]);
  };
  openssl(["req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=stowage test CA"]);
  openssl(["req", "-x509", ...ec, "-keyout", "other-ca.key", "-out", "other-ca.crt", "-days", "2", "-subj", "/CN=another CA"]);
  openssl(["req", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]);
  sign("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  openssl(["req", ...ec, "-keyout", "client.key", "-out", "client.csr", "-subj", "/CN=stowage-client"]);
  sign("client", "extendedKeyUsage=clientAuth\n");
  return {
    caFile: join(folder, "ca.crt"),
    otherCaFile: join(folder, "other-ca.crt"),
    certFile: join(folder, "server.crt"),
    keyFile: join(folder, "server.key"),
    clientCertFile: join(folder, "client.crt"),
    clientKeyFile: join(folder, "client.key"),
  };
}
