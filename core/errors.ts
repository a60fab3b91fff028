/**
 * Twisted's error hierarchy (src/twisted/internet/error.py), and the mapping of Node's error codes onto it.
 *
 * Every error is a real `Error` subclass, so `instanceof` follows Twisted's class tree
 * (`ConnectionAborted` is a `ConnectionLost`, `ConnectionRefusedError` is a `ConnectError`, ...).
 * Each carries a stable `code` (the class name) that survives structured cloning and IPC.
 */

/** Base of every Wirescope core error: a stable `code` and an optional underlying `cause`. */
export class TwistedError extends Error {
  /** Stable identifier of the error kind; equal to the class name. */
  readonly code: string;

  constructor(message?: string, options?: { cause?: unknown }) {
    super(message ?? "", options);
    this.name = new.target.name;
    this.code = new.target.name;
  }
}

/** Creates a message in Twisted's style: "base: detail." */
function describe(base: string, detail?: string): string {
  return detail ? `${base}: ${detail}.` : `${base}.`;
}

/** A connection was closed; the base of ConnectionDone and of ConnectionLost. */
export class ConnectionClosed extends TwistedError {}

/** The connection was closed cleanly, by either side (FIN). The reason given after `loseConnection()`. */
export class ConnectionDone extends ConnectionClosed {
  constructor(detail?: string, options?: { cause?: unknown }) {
    super(describe("Connection was closed cleanly", detail), options);
  }
}

/** The connection was lost in a non-clean fashion: reset, broken pipe, socket error. */
export class ConnectionLost extends ConnectionClosed {
  constructor(detail?: string, options?: { cause?: unknown }) {
    super(describe("Connection to the other side was lost in a non-clean fashion", detail), options);
  }
}

/** The connection was aborted locally with `abortConnection()`. */
export class ConnectionAborted extends ConnectionLost {
  constructor(detail?: string, options?: { cause?: unknown }) {
    super(detail ?? "Connection was aborted locally using ITCPTransport.abortConnection", options);
  }
}

/** The connection could not be established. Base of the specific connect failures. */
export class ConnectError extends TwistedError {
  constructor(detail?: string, options?: { cause?: unknown }) {
    super(describe(new.target.baseMessage, detail), options);
  }
  /** The fixed part of the message, Twisted's class docstring. */
  static baseMessage = "An error occurred while connecting";
}

/** The local address given as `bindAddress` could not be bound (EADDRINUSE, EADDRNOTAVAIL, EACCES). */
export class ConnectBindError extends ConnectError {
  static override baseMessage = "Couldn't bind";
}

/** The host name could not be resolved (Twisted's UnknownHostError; Node reports DNSLookupError cases). */
export class UnknownHostError extends ConnectError {
  static override baseMessage = "Hostname couldn't be looked up";
}

/** No route to the host (ENETUNREACH, EHOSTUNREACH). */
export class NoRouteError extends ConnectError {
  static override baseMessage = "No route to host";
}

/** Nobody listens on that port: the peer answered the SYN with a reset (ECONNREFUSED). */
export class ConnectionRefusedError extends ConnectError {
  static override baseMessage = "Connection was refused by other side";
}

/** The kernel gave up on the TCP handshake (ETIMEDOUT); not our `timeout`, which is TimeoutError. */
export class TCPTimedOutError extends ConnectError {
  static override baseMessage = "TCP connection timed out";
}

/** The UNIX socket path doesn't exist or isn't a socket (ENOENT, ENOTSOCK). */
export class BadFileError extends ConnectError {
  static override baseMessage = "File used for UNIX socket is no good";
}

/** A port given by service name that isn't known. */
export class ServiceNameUnknownError extends ConnectError {
  static override baseMessage = "Service name given as port is unknown";
}

/** The user stopped the connection attempt (`connector.stopConnecting()`). */
export class UserError extends ConnectError {
  static override baseMessage = "User aborted connection";
}

/** The connect attempt took longer than its timeout. */
export class TimeoutError extends UserError {
  static override baseMessage = "User timeout caused connection failure";
}

/** The TLS handshake failed: an unverifiable or mismatched certificate, a protocol error. */
export class SSLError extends ConnectError {
  static override baseMessage = "An SSL error occurred";
}

/** `startTLS()` was called where TLS can't start: TLS already on, a UNIX socket, a closing or closed transport. */
export class CannotStartTLSError extends TwistedError {}

/**
 * What a TLS failure was, in words, by Node's error code: the certificate checks of node:tls (OpenSSL's X509
 * verify codes, ERR_TLS_CERT_ALTNAME_INVALID) and the OpenSSL errors and alerts Node names ERR_SSL_*.
 */
const TLS_FAILURES: Readonly<Record<string, string>> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "unknown CA: the peer's certificate is not signed by a trusted CA",
  UNABLE_TO_GET_ISSUER_CERT: "unknown CA: the peer's certificate is not signed by a trusted CA",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "unknown CA: the peer's certificate is not signed by a trusted CA",
  DEPTH_ZERO_SELF_SIGNED_CERT: "unknown CA: the peer's certificate is self-signed",
  SELF_SIGNED_CERT_IN_CHAIN: "unknown CA: the peer's chain ends in an untrusted self-signed certificate",
  CERT_HAS_EXPIRED: "certificate expired",
  CERT_NOT_YET_VALID: "certificate not yet valid",
  CERT_REVOKED: "certificate revoked",
  ERR_TLS_CERT_ALTNAME_INVALID: "hostname mismatch: the certificate is not for the name connected to",
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: "unknown CA: the peer rejected our certificate's issuer",
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: "bad certificate: the peer rejected our certificate",
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED: "certificate expired: the peer rejected our certificate",
  ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE: "certificate required: the peer sent none",
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: "certificate required: the peer wanted ours",
  ERR_SSL_UNSUPPORTED_PROTOCOL: "protocol version: no TLS version both sides accept",
  ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION: "protocol version: the peer accepts none of our TLS versions",
  ERR_SSL_NO_PROTOCOLS_AVAILABLE: "protocol version: no TLS version enabled",
  ERR_SSL_WRONG_VERSION_NUMBER: "protocol version: the peer did not answer in TLS (plain text?)",
  ERR_SSL_HTTP_REQUEST: "not TLS: the peer sent an HTTP request in plain text",
  ERR_SSL_NO_SHARED_CIPHER: "handshake failure: no cipher both sides accept",
  ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE: "handshake failure: the peer refused the handshake",
  ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL: "no application protocol: no ALPN protocol both sides accept",
};

/**
 * The same, by OpenSSL's reason text, for what Node reports as a socket error (a write failing with EPROTO after
 * the peer's alert carries OpenSSL's message, not an ERR_SSL code).
 */
const TLS_REASONS: readonly (readonly [RegExp, string])[] = [
  [/alert protocol version|unsupported protocol|wrong version number/i, "protocol version"],
  [/alert unknown ca/i, "unknown CA: the peer rejected our certificate's issuer"],
  [/alert bad certificate|certificate required/i, "bad certificate: the peer rejected our certificate"],
  [/no shared cipher|alert handshake failure/i, "handshake failure"],
];

/** Whether a Node error is a TLS failure (a certificate check, an OpenSSL error or alert) rather than a socket one. */
export function isTLSFailure(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as NodeSystemError).code ?? "";
  // OpenSSL has more X509 verify codes than the table names; Node's messages for them all say "certificate".
  return (
    code in TLS_FAILURES ||
    code.startsWith("ERR_TLS") ||
    code.startsWith("ERR_SSL") ||
    /certificate|SSL routines/i.test(err.message)
  );
}

/**
 * An SSLError for a TLS failure, its message naming what failed ("unknown CA", "hostname mismatch", "protocol
 * version"...) before Node's code and message; the Node error is its `cause`.
 */
export function sslErrorFrom(err: Error): SSLError {
  const code = (err as NodeSystemError).code;
  const what = (code ? TLS_FAILURES[code] : undefined) ?? TLS_REASONS.find(([re]) => re.test(err.message))?.[1];
  const detail = code ? `${code}: ${err.message}` : err.message;
  return new SSLError(what ? `${what} (${detail})` : detail, { cause: err });
}

/** DNS lookup failed (Twisted's DNSLookupError is an IOError; here it is a ConnectError too, as it ends a connect). */
export class DNSLookupError extends ConnectError {
  static override baseMessage = "DNS lookup failed";
}

/** A listening port could not be bound. */
export class CannotListenError extends TwistedError {
  constructor(
    readonly iface: string,
    readonly port: number | string,
    readonly socketError: unknown,
  ) {
    const where = `${iface || "any"}:${port}`;
    const why = socketError instanceof Error ? socketError.message : String(socketError);
    super(`Couldn't listen on ${where}: ${why}.`, { cause: socketError });
  }
}

/** `stopConnecting()` was called on a connector that is not connecting. */
export class NotConnectingError extends TwistedError {
  constructor(detail?: string) {
    super(describe("The Connector was not connecting when it was asked to stop connecting", detail));
  }
}

/** `stopListening()`/`loseConnection()` on something that is not listening. */
export class NotListeningError extends TwistedError {
  constructor(detail?: string) {
    super(describe("The Port was not listening when it was asked to stop listening", detail));
  }
}

/** `connector.connect()` was called while it was not disconnected. */
export class AlreadyConnectingError extends TwistedError {}

/** A DelayedCall was cancelled, reset or delayed after it had run. */
export class AlreadyCalled extends TwistedError {
  constructor(detail?: string) {
    super(describe("Tried to cancel an already-called event", detail));
  }
}

/** A DelayedCall was cancelled, reset or delayed after it had been cancelled. */
export class AlreadyCancelled extends TwistedError {
  constructor(detail?: string) {
    super(describe("Tried to cancel an already-cancelled event", detail));
  }
}

/** A process ended; the base of ProcessDone and ProcessTerminated. */
export class ProcessEnded extends TwistedError {
  constructor(
    readonly exitCode: number | null,
    readonly signal: string | null,
    message: string,
  ) {
    super(message);
  }
}

/** A process ended with exit code 0. */
export class ProcessDone extends ProcessEnded {
  constructor() {
    super(0, null, "A process has ended without apparent errors: process finished with exit code 0.");
  }
}

/** A process ended with a non-zero exit code or was killed by a signal. */
export class ProcessTerminated extends ProcessEnded {
  constructor(exitCode: number | null, signal: string | null) {
    const how = signal !== null ? `process ended by signal ${signal}` : `process ended with exit code ${exitCode}`;
    super(exitCode, signal, `A process has ended with a probable error condition: ${how}.`);
  }
}

/** `signalProcess()` was called after the process exited. */
export class ProcessExitedAlready extends TwistedError {
  constructor() {
    super("The process has already exited and can't be signalled.");
  }
}

/** `IntNStringReceiver.sendString` was given a string too long for the length prefix. */
export class StringTooLongError extends TwistedError {}

/** Raised for a malformed netstring; the NetstringReceiver then closes the connection. */
export class NetstringParseError extends TwistedError {}

/** A Node error as seen by the socket layer: a message and an errno-style code. */
interface NodeSystemError extends Error {
  code?: string;
  syscall?: string;
}

/**
 * Maps a Node socket error onto Twisted's hierarchy.
 *
 * `during` says whether the error happened while connecting (-> a ConnectError subclass) or on an established
 * connection (-> ConnectionLost). A TLS failure is an SSLError either way (`sslErrorFrom`), as Twisted gives
 * OpenSSL's error as the reason. The original error is kept as `cause`. Errors that already are TwistedErrors
 * pass through unchanged.
 */
export function fromNodeError(err: unknown, during: "connect" | "connection"): TwistedError {
  if (err instanceof TwistedError) return err;
  const e = (err instanceof Error ? err : new Error(String(err))) as NodeSystemError;
  const detail = e.code ? `${e.code}: ${e.message}` : e.message;
  const options = { cause: e };
  if (isTLSFailure(e)) return sslErrorFrom(e);
  if (during === "connection") return new ConnectionLost(detail, options);
  switch (e.code) {
    case "ECONNREFUSED":
      return new ConnectionRefusedError(detail, options);
    case "ENETUNREACH":
    case "EHOSTUNREACH":
      return new NoRouteError(detail, options);
    case "ETIMEDOUT":
      return new TCPTimedOutError(detail, options);
    case "ENOTFOUND":
    case "EAI_AGAIN":
    case "EAI_NONAME":
    case "EAI_FAIL":
      return new DNSLookupError(detail, options);
    case "EADDRINUSE":
    case "EADDRNOTAVAIL":
    case "EACCES":
      return new ConnectBindError(detail, options);
    case "ENOENT":
    case "ENOTSOCK":
      return new BadFileError(detail, options);
    case "ECONNRESET":
    case "EPIPE":
      return new ConnectionLost(detail, options);
    default:
      return new ConnectError(detail, options);
  }
}
