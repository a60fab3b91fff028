/**
 * node:tls options from what a protocol asked (TLSRequest) and what its session says (the TLS context): one place
 * for the defaults, so that a direct `startTLS`, a STARTTLS pair upgrade and a terminating proxy agree.
 */
import type { ClientTLSOptions, ServerTLSOptions } from "../../core/index.ts";
import type { TLSRequest } from "./tls-request.ts";

/**
 * The options of a TLS client (a connection Wirescope opened): the server's certificate is verified unless the
 * request or the session (an insecure upstream) says not to; `fallbackName` is the name to ask for (SNI) and
 * check when the request names none (an upstream's host name; an address is never sent as SNI).
 */
export function clientOptions(
  request: TLSRequest,
  session: { insecureUpstream: boolean },
  fallbackName: string | null = null,
): ClientTLSOptions {
  const servername = request.servername ?? fallbackName;
  return {
    rejectUnauthorized: request.rejectUnauthorized ?? !session.insecureUpstream,
    ...(servername !== null && servername !== "" ? { servername } : {}),
    ...(request.ALPNProtocols !== undefined && request.ALPNProtocols.length > 0
      ? { ALPNProtocols: request.ALPNProtocols }
      : {}),
    ...(request.ca !== undefined ? { ca: request.ca } : {}),
    ...(request.cert !== undefined && request.key !== undefined ? { cert: request.cert, key: request.key } : {}),
  };
}

/**
 * The options of a TLS server (an accepted connection): the request's own certificate and key when it has both,
 * else `base` (the session's files or Wirescope's CA's); the request's ALPN list, if any, is what is offered.
 */
export function serverOptions(request: TLSRequest, base: ServerTLSOptions): ServerTLSOptions {
  const own = request.cert !== undefined && request.key !== undefined;
  return {
    ...(own ? { cert: request.cert, key: request.key } : base),
    ...(request.ALPNProtocols !== undefined && request.ALPNProtocols.length > 0
      ? { ALPNProtocols: request.ALPNProtocols }
      : {}),
  };
}

/** Whether a request brings its own server certificate (then no session certificate is needed). */
export function hasOwnCertificate(request: TLSRequest): boolean {
  return request.cert !== undefined && request.key !== undefined;
}
