/**
 * A failed TLS handshake as the timeline's "tls-failed" event tells it (the contract's TLSFailure): which side
 * Wirescope played, the code of what failed, the sentence, and the likely fix. The words for OpenSSL's and Node's
 * codes are the core's (`sslErrorFrom`); this module adds what a person does about them, which depends on the side:
 * as a client, Wirescope did not trust a server; as a server, a client did not trust Wirescope.
 */
import { SSLError, sslErrorFrom } from "../../core/index.ts";
import type { TLSFailure } from "../../preload/contract.ts";
import { ClientHelloError } from "./client-hello.ts";

/** What the hints name: the certificate clients are given, and how to skip checking an upstream's. */
export interface FailureContext {
  /** The CA certificate file clients must trust, when Wirescope's CA signs what they are given. */
  caPath: string | null;
  /** The user's own certificate file, when clients are given that instead. */
  certFile: string | null;
}

/** The certificate checks a client makes of a server (OpenSSL's X509 verify codes). */
const UNTRUSTED = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
]);
const SKIP = 'or skip verification: --insecure-upstream (in the app: "skip upstream verification")';

/** A client rejected what Wirescope presented (its alert names the certificate or its issuer). */
const CLIENT_REJECTED = /alert (unknown ca|bad certificate|certificate unknown|certificate expired)/i;
const CLIENT_REJECTED_CODES = new Set([
  "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA",
  "ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE",
  "ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN",
  "ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED",
]);
const PLAIN_TEXT = new Set(["ERR_SSL_HTTP_REQUEST", "ERR_SSL_WRONG_VERSION_NUMBER", "ERR_SSL_PACKET_LENGTH_TOO_LONG"]);

/** The Node or OpenSSL code of a failure: the error's own, or its cause's (an SSLError wraps Node's error). */
function codeOf(err: Error): string | undefined {
  const own = (err as Error & { code?: unknown }).code;
  if (typeof own === "string" && own !== "SSLError") return own;
  return err.cause instanceof Error ? codeOf(err.cause) : undefined;
}

/** The likely fix for `code` on `side`, if there is one worth saying. */
function hintFor(code: string, message: string, side: TLSFailure["side"], ctx: FailureContext): string | undefined {
  if (side === "client") {
    if (UNTRUSTED.has(code)) return `the upstream's certificate is not trusted: give the session its CA (ca), ${SKIP}`;
    if (code === "CERT_HAS_EXPIRED" || code === "CERT_NOT_YET_VALID")
      return `the upstream's certificate is outside its validity dates: renew it, ${SKIP}`;
    if (code === "ERR_TLS_CERT_ALTNAME_INVALID")
      return `the upstream's certificate is for other names: connect by a name it covers (servername), ${SKIP}`;
  } else if (CLIENT_REJECTED_CODES.has(code) || CLIENT_REJECTED.test(message)) {
    if (ctx.certFile !== null)
      return `the client does not trust your certificate (${ctx.certFile}): trust its CA in it`;
    const where = ctx.caPath ?? "Wirescope's CA certificate";
    return `the client does not trust Wirescope's CA: trust ${where} in it (Settings > Certificate authority)`;
  }
  if (PLAIN_TEXT.has(code))
    return side === "server"
      ? "the client does not speak TLS on this port: connect it without TLS, or with TLS from its first byte"
      : "the server does not speak TLS here: check the upstream's port, or whether it needs STARTTLS first";
  if (/protocol version|unsupported protocol/i.test(message))
    return "the two sides accept no TLS version in common: enable TLS 1.2 or 1.3 on the peer";
  return undefined;
}

/**
 * The TLSFailure for a handshake on `side` that ended with `err`: an SSLError (the core's, naming what failed), a
 * ClientHelloError (the client's first bytes were not TLS), or any other error the connection ended with meanwhile.
 */
export function tlsFailure(err: Error, side: TLSFailure["side"], ctx: FailureContext): TLSFailure {
  if (err instanceof ClientHelloError) {
    const hint = err.code === "closed" ? undefined : hintFor("ERR_SSL_HTTP_REQUEST", err.message, side, ctx);
    return { side, code: err.code, message: err.message, ...(hint !== undefined ? { hint } : {}) };
  }
  const message = withoutBase((err instanceof SSLError ? err : sslErrorFrom(err)).message);
  const code = codeOf(err) ?? err.name;
  const hint = hintFor(code, message, side, ctx);
  return { side, code, message, ...(hint !== undefined ? { hint } : {}) };
}

/**
 * An SSLError's message as a clause: without the class's "An SSL error occurred: ", OpenSSL's trailing newline and
 * Twisted's final period (the hint follows it).
 */
function withoutBase(message: string): string {
  const base = `${SSLError.baseMessage}: `;
  return (message.startsWith(base) ? message.slice(base.length) : message).trim().replace(/\.$/, "");
}

/** The TLSFailure of a handshake that did not complete within `ms` milliseconds. */
export function handshakeTimedOut(side: TLSFailure["side"], ms: number): TLSFailure {
  return {
    side,
    code: "timeout",
    message: `the TLS handshake did not complete within ${ms / 1000} s`,
    hint:
      side === "server"
        ? "the client sent no (or not all of its) ClientHello: it may not speak TLS, or waits for the server first"
        : "the server did not answer the ClientHello: it may not speak TLS on this port",
  };
}

/** A failure as the one-line detail of its "tls-failed" event: the sentence, then the fix. */
export function failureDetail(failure: TLSFailure): string {
  return failure.hint === undefined ? failure.message : `${failure.message} — ${failure.hint}`;
}

/**
 * Why an insecure client handshake's certificate check failed, in words, for TLSDetails.verifyError: Node keeps only
 * the code of the check (`authorizationError`); the core gives it its words ("certificate expired (CERT_HAS_EXPIRED:
 * ...)"). A hostname check's own error, when there is one, says which names the certificate has.
 */
export function describeVerifyError(code: string, identityError: Error | null): string {
  if (identityError !== null) return withoutBase(sslErrorFrom(identityError).message);
  return withoutBase(sslErrorFrom(Object.assign(new Error("the certificate check failed"), { code })).message);
}
