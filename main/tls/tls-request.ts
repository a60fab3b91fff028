/**
 * What a user protocol may ask of `startTLS`: the structured-cloneable subset of node:tls's options (no functions,
 * no SecureContext), as it crosses from the sandbox worker to the engine.
 */
export interface TLSRequest {
  /** Client side: the name to verify and send as SNI. */
  servername?: string;
  /** The ALPN protocols to offer (client) or accept (server). */
  ALPNProtocols?: string[];
  /** Client side: false to skip verifying the server's certificate. */
  rejectUnauthorized?: boolean;
  /** PEM CA certificate(s) to trust instead of the system's. */
  ca?: string;
  /** PEM certificate (chain) to present; with `key`. */
  cert?: string;
  /** PEM private key of `cert`. */
  key?: string;
}
