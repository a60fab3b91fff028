/**
 * How the workbench words TLS: a session's TLS next to its address, and the rows of the tables that show what a
 * handshake agreed on (ConnectionInfo.tls, a "tls" event's fields) or why it failed (a "tls-failed" event's fields).
 * Pure; the traffic view and its detail pane lay the rows out.
 */
import { TLSDetails, TLSFailure, type CertificateSummary, type SessionTLS } from "../../../preload/contract.ts";
import type { TimelineEvent } from "../../../preload/timeline.ts";

/** One row of a details table: what it is, and its value as a person reads it. */
export interface TLSRow {
  label: string;
  value: string;
}

/** "TLS (Wirescope CA)", "TLS (own certificate)" or "STARTTLS" for a listener's or proxy's TLS; null without. */
export function sessionTLSLabel(tls: SessionTLS | undefined): string | null {
  if (tls === undefined) return null;
  if (tls.mode === "starttls") return "STARTTLS";
  return tls.certificate === "own" ? "TLS (own certificate)" : "TLS (Wirescope CA)";
}

/** A certificate's rows, each label starting with `whose` ("Peer certificate"). */
function certificateRows(whose: string, cert: CertificateSummary): TLSRow[] {
  return [
    { label: `${whose} subject`, value: cert.subject },
    { label: `${whose} issuer`, value: cert.issuer },
    { label: `${whose} valid`, value: `${cert.validFrom} to ${cert.validTo}` },
    ...(cert.subjectAltName ? [{ label: `${whose} names`, value: cert.subjectAltName }] : []),
    { label: `${whose} SHA-256`, value: cert.fingerprint256 },
  ];
}

/** What a verification came to, in words: "verified", or what failed and that it was accepted anyway. */
export function verificationText(details: TLSDetails): string {
  if (details.side === "server") return "not asked: Wirescope does not ask clients for a certificate";
  if (details.verified) return "verified: trusted issuer, name matches";
  const why = details.verifyError ?? "no reason given";
  return `not verified, accepted because upstream verification is skipped: ${why}`;
}

/** The rows of a completed handshake: version, cipher, ALPN, SNI, the peer's certificate, verification. */
export function tlsDetailRows(details: TLSDetails): TLSRow[] {
  return [
    { label: "Wirescope's side", value: details.side === "server" ? "server (the peer connected to us)" : "client" },
    { label: "Version", value: details.version },
    { label: "Cipher", value: details.cipher },
    { label: "ALPN", value: details.alpn ?? "none agreed" },
    { label: "SNI", value: details.sni ?? "none sent" },
    ...(details.peerCertificate
      ? certificateRows("Peer certificate", details.peerCertificate)
      : [{ label: "Peer certificate", value: "none presented" }]),
    ...(details.localCertificate ? certificateRows("Our certificate", details.localCertificate) : []),
    { label: "Verification", value: verificationText(details) },
  ];
}

/** The rows of a failed handshake; the hint (the likely fix) whole. */
export function tlsFailureRows(failure: TLSFailure): TLSRow[] {
  return [
    { label: "Wirescope's side", value: failure.side },
    { label: "What failed", value: failure.message },
    { label: "Code", value: failure.code },
    ...(failure.hint ? [{ label: "Likely fix", value: failure.hint }] : []),
  ];
}

/**
 * The structured fields of a "tls" or "tls-failed" event, checked against the contract's shapes; null for any
 * other event, or fields that don't have the shape (a capture written by another version shows its detail only).
 */
export function tlsEventFields(
  event: TimelineEvent,
): { kind: "tls"; details: TLSDetails } | { kind: "tls-failed"; failure: TLSFailure } | null {
  if (event.kind !== "lifecycle" || event.fields === undefined) return null;
  if (event.event === "tls") {
    const parsed = TLSDetails.safeParse(event.fields);
    return parsed.success ? { kind: "tls", details: parsed.data } : null;
  }
  if (event.event === "tls-failed") {
    const parsed = TLSFailure.safeParse(event.fields);
    return parsed.success ? { kind: "tls-failed", failure: parsed.data } : null;
  }
  return null;
}
