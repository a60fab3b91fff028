/**
 * What a completed handshake agreed on, in the contract's shape (TLSDetails, CertificateSummary): read from the
 * node:tls socket of a connection once its handshake is done, for the "tls" event and ConnectionInfo.tls.
 */
import type * as tls from "node:tls";
import type { TLSInfo } from "../../core/index.ts";
import type { CertificateSummary, TLSDetails } from "../../preload/contract.ts";
import { describeVerifyError } from "./tls-errors.ts";

/** A certificate's subject or issuer as a person reads it: "CN=localhost, O=Wirescope". */
function distinguishedName(name: tls.Certificate | undefined): string {
  if (name === undefined) return "";
  return Object.entries(name as unknown as Record<string, string | string[]>)
    .flatMap(([key, value]) => (Array.isArray(value) ? value : [value]).map((v) => `${key}=${v}`))
    .join(", ");
}

/** node:tls's description of a certificate, cut to what a person reads; null for none (node gives `{}`). */
export function certificateSummary(cert: tls.PeerCertificate | object | null): CertificateSummary | null {
  if (cert === null || !("fingerprint256" in cert)) return null;
  return {
    subject: distinguishedName(cert.subject),
    issuer: distinguishedName(cert.issuer),
    validFrom: cert.valid_from,
    validTo: cert.valid_to,
    fingerprint256: cert.fingerprint256,
    ...(cert.subjectaltname ? { subjectAltName: cert.subjectaltname } : {}),
  };
}

/**
 * The TLSDetails of `socket`'s completed handshake, Wirescope being `side`. `identityError` is the hostname check's
 * error when a client handshake that does not verify (an insecure upstream) had one.
 */
export function tlsDetails(
  socket: tls.TLSSocket,
  side: TLSDetails["side"],
  info: TLSInfo,
  identityError: Error | null,
): TLSDetails {
  const verified = side === "server" || socket.authorized;
  // Node's typings say Error; it is the failed check's code ("CERT_HAS_EXPIRED"), or null.
  const code = socket.authorizationError as unknown as string | null;
  return {
    side,
    version: info.version,
    cipher: info.cipher,
    alpn: info.alpnProtocol,
    sni: info.servername,
    peerCertificate: certificateSummary(socket.getPeerCertificate()),
    localCertificate: side === "server" ? certificateSummary(socket.getCertificate()) : null,
    verified,
    ...(!verified && code ? { verifyError: describeVerifyError(code, identityError) } : {}),
  };
}

/** The one-line summary of a "tls" event: "TLSv1.3 TLS_AES_256_GCM_SHA384, SNI localhost, ALPN h2". */
export function detailsLine(details: TLSDetails): string {
  const parts = [`${details.version} ${details.cipher}`];
  if (details.sni !== null) parts.push(`SNI ${details.sni}`);
  if (details.alpn !== null) parts.push(`ALPN ${details.alpn}`);
  if (details.peerCertificate !== null && details.side === "client") parts.push(details.peerCertificate.subject);
  if (!details.verified) parts.push(`not verified: ${details.verifyError ?? "unknown reason"}`);
  return parts.join(", ");
}
