/**
 * The user's own certificate and key files for a TLS listener or proxy, read and checked when the session starts,
 * so that a wrong file is an error next to its field, not a failed handshake later: a key file that holds no
 * private key, a certificate file that holds no certificate, a certificate that does not go with the key.
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import * as fsp from "node:fs/promises";
import { BadCertificateError } from "../engine/errors.ts";

/** A certificate chain and its key, PEM, as node:tls's `cert` and `key` take them. */
export interface CertificateFiles {
  cert: string;
  key: string;
}

/** The most a certificate or key file may hold: a long chain fits easily. */
const MAX_PEM_FILE_BYTES = 1024 * 1024;

async function readPem(file: string, field: "tls.certFile" | "tls.keyFile", what: string): Promise<string> {
  let text: Buffer;
  try {
    const handle = await fsp.open(file, "r");
    try {
      const { size } = await handle.stat();
      if (size > MAX_PEM_FILE_BYTES)
        throw new BadCertificateError(field, `${file} is ${size.toLocaleString("en-US")} bytes: not a PEM ${what}`);
      text = await handle.readFile();
    } finally {
      await handle.close();
    }
  } catch (err) {
    if (err instanceof BadCertificateError) throw err;
    const why = err instanceof Error ? err.message : String(err);
    throw new BadCertificateError(field, `can't read the ${what} file ${file}: ${why}`, err);
  }
  return text.toString("utf8");
}

/**
 * Reads `certFile` (PEM certificate, chain allowed) and `keyFile` (its PEM private key) and checks that they go
 * together. Throws BadCertificateError naming the field at fault ("tls.keyFile": not a key; "tls.certFile": not a
 * certificate, or not the key's).
 */
export async function readCertificateFiles(certFile: string, keyFile: string): Promise<CertificateFiles> {
  const [cert, key] = await Promise.all([
    readPem(certFile, "tls.certFile", "certificate"),
    readPem(keyFile, "tls.keyFile", "key"),
  ]);
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(key)) {
      throw new BadCertificateError(
        "tls.keyFile",
        `${keyFile} is encrypted with a passphrase, which Wirescope can't ask for: give a copy without one ` +
          `(openssl pkey -in ${keyFile} -out key.pem)`,
        err,
      );
    }
    throw new BadCertificateError(
      "tls.keyFile",
      `${keyFile} is not a private key: give the PEM file with the certificate's key ("-----BEGIN PRIVATE KEY-----")`,
      err,
    );
  }
  let x509;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    throw new BadCertificateError(
      "tls.certFile",
      `${certFile} is not a certificate: give the PEM file of the certificate ("-----BEGIN CERTIFICATE-----")`,
      err,
    );
  }
  if (!x509.checkPrivateKey(privateKey)) {
    throw new BadCertificateError(
      "tls.certFile",
      `${certFile} does not match the key in ${keyFile}: give the certificate that was made for this key (or its key)`,
    );
  }
  return { cert, key };
}
