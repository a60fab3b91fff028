/**
 * The `tls` and `tls-failed` lifecycle events as the CLI prints them, from their fields (the contract's TLSDetails
 * and TLSFailure), in one line a person can scan and a script can grep:
 *
 *   tls TLSv1.3 TLS_AES_256_GCM_SHA384 sni=localhost alpn=- peer=CN=localhost verified
 *   tls TLSv1.3 TLS_AES_128_GCM_SHA256 sni=- alpn=h2 cert=CN=localhost          (Wirescope was the server)
 *   tls-failed client CERT_HAS_EXPIRED: the upstream's certificate has expired — use --insecure-upstream to skip
 *
 * An event whose fields are missing or not of that shape (a capture written by another version) prints its detail.
 * Every lifecycle event prints on one line, whatever newlines its detail holds.
 */
import { TLSDetails, TLSFailure } from "../../preload/contract.ts";
import type { LifecycleTimelineEvent } from "../../preload/timeline.ts";

/** "CN=localhost, O=Wirescope" as one word-ish token: the subject, or "-" when there is no certificate. */
function subjectOf(cert: TLSDetails["peerCertificate"]): string {
  return cert === null ? "-" : cert.subject;
}

/** A completed handshake: version, cipher, SNI, ALPN, and the certificate that matters on this side. */
export function tlsDetailsText(d: TLSDetails): string {
  const head = `${d.version} ${d.cipher} sni=${d.sni ?? "-"} alpn=${d.alpn ?? "-"}`;
  if (d.side === "server") return `${head} cert=${subjectOf(d.localCertificate)}`;
  const verdict = d.verified ? "verified" : `unverified${d.verifyError ? ` (${d.verifyError})` : ""}`;
  return `${head} peer=${subjectOf(d.peerCertificate)} ${verdict}`;
}

/** `text` on one line (one event, one line): OpenSSL's messages end in a newline, and some hold several. */
export function oneLine(text: string): string {
  return text.trim().replace(/\s*\n\s*/g, " ");
}

/** A failed handshake: which side Wirescope played, the code, what failed and the likely fix; on one line. */
export function tlsFailureText(f: TLSFailure): string {
  return oneLine(`${f.side} ${f.code}: ${f.message}${f.hint ? ` — ${f.hint}` : ""}`);
}

/**
 * The detail to print after a lifecycle event's name, on one line: from its fields for `tls` / `tls-failed`, else
 * its detail (a connection lost to an SSLError carries OpenSSL's multi-line message).
 */
export function lifecycleDetail(e: LifecycleTimelineEvent): string {
  if (e.event === "tls") {
    const parsed = TLSDetails.safeParse(e.fields);
    if (parsed.success) return tlsDetailsText(parsed.data);
  } else if (e.event === "tls-failed") {
    const parsed = TLSFailure.safeParse(e.fields);
    if (parsed.success) return tlsFailureText(parsed.data);
  }
  return oneLine(e.detail);
}
