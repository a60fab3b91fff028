/**
 * The contract's TLS shapes: what a handshake agreed on or why it failed (the "tls" and "tls-failed" events' fields,
 * ConnectionInfo.tls), a listener's and a proxy's TLS settings, and Wirescope's CA as Settings shows it.
 * contract.ts re-exports them.
 */
import { z } from "zod";
import { filePath } from "./contract-text.ts";

/** A certificate as the workbench shows it (node:tls's PeerCertificate, cut to what a person reads). */
export const CertificateSummary = z.object({
  /** "CN=localhost, O=Wirescope" */
  subject: z.string(),
  issuer: z.string(),
  /** node:tls's dates ("Dec  6 18:00:00 2026 GMT"). */
  validFrom: z.string(),
  validTo: z.string(),
  /** SHA-256 of the DER, as "AB:CD:..." (node:tls's fingerprint256). */
  fingerprint256: z.string(),
  /** "DNS:localhost, IP Address:127.0.0.1" */
  subjectAltName: z.string().optional(),
});
export type CertificateSummary = z.infer<typeof CertificateSummary>;

/**
 * What a completed TLS handshake on one connection agreed on, from Wirescope's side of it. Carried by the
 * connection's "tls" lifecycle event (its fields) and by ConnectionInfo.tls.
 */
export const TLSDetails = z.object({
  /** Which end Wirescope played: "server" toward a client that connected to it, "client" toward a server. */
  side: z.enum(["client", "server"]),
  /** "TLSv1.3" */
  version: z.string(),
  /** "TLS_AES_256_GCM_SHA384" */
  cipher: z.string(),
  /** The protocol ALPN settled on ("h2"), or null. */
  alpn: z.string().nullable(),
  /** The server name the client asked for (SNI), or null when it sent none. */
  sni: z.string().nullable(),
  /** The certificate the peer presented (a server's; a client's only when it sent one), or null. */
  peerCertificate: CertificateSummary.nullable(),
  /** The certificate Wirescope presented, on the server side. */
  localCertificate: CertificateSummary.nullable(),
  /**
   * Client side: whether the peer's certificate was verified against the trusted CAs and the name. False with
   * `verifyError` ("certificate has expired") when verification failed but was skipped (insecure upstream).
   * Server side: true (Wirescope does not ask clients for certificates).
   */
  verified: z.boolean(),
  verifyError: z.string().optional(),
});
export type TLSDetails = z.infer<typeof TLSDetails>;

/** A TLS handshake that failed: the fields of a "tls-failed" lifecycle event. */
export const TLSFailure = z.object({
  side: z.enum(["client", "server"]),
  /** OpenSSL's or Node's code ("UNABLE_TO_VERIFY_LEAF_SIGNATURE", "ERR_SSL_WRONG_VERSION_NUMBER", "timeout"). */
  code: z.string(),
  /** What failed, in a sentence. */
  message: z.string(),
  /** The likely fix ("trust Wirescope's CA in the client: its certificate is at /root/.config/wirescope/ca.pem"). */
  hint: z.string().optional(),
});
export type TLSFailure = z.infer<typeof TLSFailure>;

const certFiles = {
  /** A PEM certificate (chain) file; with keyFile. Absent: a certificate from Wirescope's CA for the SNI asked. */
  certFile: filePath.trim().min(1, "the certificate file is empty: give a path or leave both files out").optional(),
  /** The PEM private key of certFile. */
  keyFile: filePath.trim().min(1, "the key file is empty: give a path or leave both files out").optional(),
};

function bothFilesOrNeither(t: { certFile?: string; keyFile?: string }, ctx: z.RefinementCtx): void {
  if (t.certFile !== undefined && t.keyFile === undefined)
    ctx.addIssue({ code: "custom", path: ["keyFile"], message: "give the certificate's key file too" });
  if (t.keyFile !== undefined && t.certFile === undefined)
    ctx.addIssue({ code: "custom", path: ["certFile"], message: "give the key's certificate file too" });
}

/** TLS on a listener: every accepted connection is TLS; the certificate is Wirescope's CA's, or the user's files. */
export const ListenTLS = z.object(certFiles).strict().superRefine(bothFilesOrNeither);
export type ListenTLS = z.infer<typeof ListenTLS>;

/**
 * TLS on a proxy. "terminate": clients speak TLS to Wirescope from the first byte (a certificate for the SNI they
 * ask), Wirescope speaks TLS to the upstream (SNI and ALPN passed through). "starttls": both legs start plain and a
 * leg protocol upgrades them at the right byte (`this.transport.startTLS()`); these settings apply then. Upstream
 * certificates are verified unless `insecureUpstream`.
 */
export const ProxyTLS = z
  .object({ mode: z.enum(["terminate", "starttls"]), ...certFiles, insecureUpstream: z.boolean().optional() })
  .strict()
  .superRefine(bothFilesOrNeither);
export type ProxyTLS = z.infer<typeof ProxyTLS>;

/** How a session does TLS, as the session list shows it. */
export const SessionTLS = z.object({
  mode: z.enum(["terminate", "starttls"]),
  /** Whose certificate clients see: Wirescope's CA's leaf certificates, or the user's own files. */
  certificate: z.enum(["wirescope-ca", "own"]),
  certFile: z.string().optional(),
  insecureUpstream: z.boolean().optional(),
});
export type SessionTLS = z.infer<typeof SessionTLS>;

/** Wirescope's certificate authority, as Settings shows it. */
export const CAInfo = z.object({
  /** The CA certificate's file (PEM), to give to a client to trust. */
  path: z.string(),
  /** The certificate itself, PEM. */
  pem: z.string(),
  subject: z.string(),
  validFrom: z.string(),
  validTo: z.string(),
  fingerprint256: z.string(),
});
export type CAInfo = z.infer<typeof CAInfo>;
