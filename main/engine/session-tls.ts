/**
 * A session's TLS context (tls-stage.ts's SessionTLSContext) from what the user asked (the contract's ListenTLS,
 * ProxyTLS) and what the engine has (Wirescope's CA, opened lazily; the handshake timeout; CAs trusted for
 * upstreams): where server certificates come from, whether upstreams are verified, what failures' hints name.
 */
import type { ListenTLS, ProxyTLS, SessionTLS } from "../../preload/contract.ts";
import type { CertificateAuthority } from "../tls/ca.ts";
import { readCertificateFiles } from "../tls/certificate-files.ts";
import type { SessionTLSContext } from "./tls-stage.ts";

/** What the engine gives every session's TLS. */
export interface EngineTLS {
  /** Wirescope's CA, opened on first use (one shared promise). */
  ca(): Promise<CertificateAuthority>;
  /** The CA's certificate file once it was opened (for hints), else null. */
  caPath(): string | null;
  readonly handshakeTimeoutMs: number;
  /** PEM of CAs trusted for upstream certificates besides the system's, or null. */
  readonly trustedCAs: string | null;
}

/**
 * The context of a session without TLS settings (a client, a plain listener or proxy): a protocol that turns an
 * accepted connection TLS gets certificates from Wirescope's CA; upstream certificates are verified.
 */
export function defaultTLSContext(engine: EngineTLS): SessionTLSContext {
  return {
    serverOptions: async () => (await engine.ca()).serverOptions(),
    insecureUpstream: false,
    trustedCAs: engine.trustedCAs,
    handshakeTimeoutMs: engine.handshakeTimeoutMs,
    failureContext: () => ({ caPath: engine.caPath(), certFile: null }),
  };
}

/**
 * The context and the session list's description of a listener's or proxy's TLS settings. The user's own files
 * are read and checked now (BadCertificateError naming the field); without them Wirescope's CA is opened now, so
 * that a CA that can't be used fails the session's start rather than its first handshake.
 */
export async function sessionTLSContext(
  settings: ListenTLS | ProxyTLS,
  mode: SessionTLS["mode"],
  engine: EngineTLS,
): Promise<{ context: SessionTLSContext; shown: SessionTLS }> {
  const insecureUpstream = "insecureUpstream" in settings && settings.insecureUpstream === true;
  const base = { insecureUpstream, trustedCAs: engine.trustedCAs, handshakeTimeoutMs: engine.handshakeTimeoutMs };
  const flag = insecureUpstream ? { insecureUpstream } : {};
  if (settings.certFile !== undefined && settings.keyFile !== undefined) {
    const files = await readCertificateFiles(settings.certFile, settings.keyFile);
    const certFile = settings.certFile;
    return {
      context: {
        ...base,
        serverOptions: () => Promise.resolve({ cert: files.cert, key: files.key }),
        failureContext: () => ({ caPath: null, certFile }),
      },
      shown: { mode, certificate: "own", certFile, ...flag },
    };
  }
  const ca = await engine.ca();
  return {
    context: {
      ...base,
      serverOptions: () => Promise.resolve(ca.serverOptions()),
      failureContext: () => ({ caPath: ca.certPath, certFile: null }),
    },
    shown: { mode, certificate: "wirescope-ca", ...flag },
  };
}
