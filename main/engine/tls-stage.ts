/**
 * The TLS stage of one recorded connection: how a connection accepted or opened as TCP turns TLS with the core's
 * `startTLS` (at once on a TLS listener or a terminating proxy, later on STARTTLS), and how the timeline tells it.
 * The timeline only ever shows plaintext "data" events: the handshake is one "tls" lifecycle event (its fields the
 * contract's TLSDetails), or a "tls-failed" one (TLSFailure) after which the connection closes with an SSLError.
 *
 * Owned by the connection's RecordingProtocol, which hands it what arrives (`divert`), what is written (`hold`),
 * the core's `handshakeCompleted` and the loss. On an accepted connection, the client's ClientHello is read first
 * (client-hello.ts): its bytes are not recorded nor given to the inner protocol, and go back to the TLS layer when
 * the handshake starts (unshifted on the plain socket: node's TLSSocket reads a socket's buffered bytes first).
 */
import type * as net from "node:net";
import * as tls from "node:tls";
import type { Connection } from "../../core/index.ts";
import {
  CannotStartTLSError,
  SSLError,
  type Bytes,
  type ClientTLSOptions,
  type TLSInfo,
  type TLSOptions,
} from "../../core/index.ts";
import type { TLSDetails, TLSFailure } from "../../preload/contract.ts";
import {
  ClientHelloReader,
  closedBeforeHello,
  MAX_CLIENT_HELLO_BYTES,
  tooLarge,
  type ClientHello,
} from "../tls/client-hello.ts";
import { detailsLine, tlsDetails } from "../tls/tls-details.ts";
import {
  closedDuringHandshake,
  failureDetail,
  handshakeTimedOut,
  tlsFailure,
  type FailureContext,
} from "../tls/tls-errors.ts";

/** How long a handshake may take, the ClientHello included, before the connection is given up. */
export const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

/** Key log lines (SSLKEYLOGFILE) kept per connection: a TLS 1.3 handshake logs 5, each key update one more. */
export const MAX_TLS_KEY_LINES = 64;

/** A protocol inside a recorded connection that wants to know its handshake completed, and with what. */
export interface TLSHandshakeListener {
  handshakeCompleted(details: TLSDetails): void;
}

/** Whether `p` implements `handshakeCompleted`. */
export function isTLSHandshakeListener(p: unknown): p is TLSHandshakeListener {
  return typeof (p as Partial<TLSHandshakeListener> | null)?.handshakeCompleted === "function";
}

/** What a session gives its connections for TLS: where server certificates come from, what clients verify. */
export interface SessionTLSContext {
  /**
   * The node:tls server options of an accepted connection turning TLS without a certificate of its own: the
   * session's files, or Wirescope's CA's (a certificate for the name the client asks). Rejects when there is none.
   */
  serverOptions(): Promise<tls.TlsOptions>;
  /** Whether upstream (server) certificates go unchecked: the handshake goes on, `verified: false` says why. */
  readonly insecureUpstream: boolean;
  /** CAs trusted for servers' certificates besides the system's (PEM), or null. */
  readonly trustedCAs: string | null;
  readonly handshakeTimeoutMs: number;
  /** What the hints of a failure name (the CA file to trust, the user's own certificate). */
  failureContext(): FailureContext;
}

/** A context with no certificate: an accepted connection can't turn TLS without its own cert and key. */
export const NO_SERVER_TLS: SessionTLSContext = {
  serverOptions: () =>
    Promise.reject(new CannotStartTLSError("This session has no certificate to present: pass cert and key.")),
  insecureUpstream: false,
  trustedCAs: null,
  handshakeTimeoutMs: TLS_HANDSHAKE_TIMEOUT_MS,
  failureContext: () => ({ caPath: null, certFile: null }),
};

/** What the stage needs of its connection's RecordingProtocol. */
export interface TLSStageHost {
  /** The core connection under the recording, or null when the transport can't do TLS. */
  coreConnection(): Connection | null;
  /** Puts a "tls" or "tls-failed" event on the connection's timeline. */
  noteTLS(event: "tls" | "tls-failed", detail: string, fields: TLSDetails | TLSFailure): void;
  /** The handshake completed: the record shows it, then the inner protocol hears of it. */
  handshakeDone(details: TLSDetails): void;
  /** A key log line for the record. */
  keyLogged(line: string): void;
  /** Writes what was held (recorded when written) to the connection, now under TLS. */
  writeThrough(chunks: readonly Bytes[]): void;
  /** Closes the connection at once. */
  abort(): void;
}

type Stage = "pending" | "handshaking" | "secure" | "failed";

/**
 * How a stage's `completed` rejects, and the reason its connection's loss is recorded with: an SSLError (by name
 * and code, as the core's) carrying the TLSFailure its "tls-failed" event told.
 */
export class TLSStageFailed extends SSLError {
  override readonly code = "SSLError";
  constructor(readonly failure: TLSFailure) {
    super(failureDetail(failure));
    this.name = "SSLError";
  }
}

/**
 * One connection's way to TLS. Created by the RecordingProtocol on its first `startTLS` (or by the pair upgrade),
 * which then calls `begin` at once (a TLS client), or `readHello` and then `begin` (a TLS server); the pair upgrade
 * holds the upstream leg's writes (`holdWrites`) until its turn. Guarantees: exactly one "tls" or
 * "tls-failed" event; writes made while the stage waits (for the ClientHello, the upstream, a certificate, the
 * handshake) are held and sent once the handshake completed, encrypted, after the "tls" event, or dropped if TLS
 * fails — never sent in clear, and never recorded as sent when they weren't; a handshake not done
 * within the context's timeout fails with a "timeout" TLSFailure and the connection is aborted.
 */
export class TLSStage {
  private stage: Stage = "pending";
  private held: (readonly Bytes[])[] | null = null;
  private reader: ClientHelloReader | null = null;
  /** The client's whole ClientHello was read (a close from then on is during the handshake, not before it). */
  private helloRead = false;
  private timer: NodeJS.Timeout | null = null;
  /** The reason the connection's loss is recorded with, once the stage failed. */
  private failure: SSLError | null = null;
  private identityError: Error | null = null;
  private readonly done: { resolve: (d: TLSDetails) => void; reject: (e: Error) => void };
  /** Settles once: with the handshake's details, or with the failure (after its "tls-failed" event). */
  readonly completed: Promise<TLSDetails>;

  constructor(
    private readonly host: TLSStageHost,
    /** Which end of TLS Wirescope plays: "server" on an accepted connection. */
    readonly side: TLSDetails["side"],
    private readonly context: SessionTLSContext,
  ) {
    let done!: TLSStage["done"];
    this.completed = new Promise<TLSDetails>((resolve, reject) => (done = { resolve, reject }));
    this.completed.catch(() => {});
    this.done = done;
  }

  /** Whether the handshake is over, either way. */
  get settled(): boolean {
    return this.stage === "secure" || this.stage === "failed";
  }

  /** Writes are held from now until the handshake completed (sent then, encrypted), or dropped if it fails. */
  holdWrites(): void {
    this.held ??= [];
  }

  /** Holds `chunks` when writes are held; false to let them through. Called by the RecordingProtocol's write. */
  hold(chunks: readonly Bytes[]): boolean {
    if (this.held === null) return false;
    this.held.push(chunks);
    return true;
  }

  /**
   * Reads the client's ClientHello from what arrives next (accepted connections): its bytes are kept for the TLS
   * layer, writes are held meanwhile. Rejects (after the "tls-failed" event, the connection aborted) for bytes
   * that are not TLS, a hello too large, a close, or the timeout.
   */
  readHello(): Promise<ClientHello> {
    this.holdWrites();
    const reader = new ClientHelloReader();
    this.reader = reader;
    this.arm();
    reader.hello.then(
      () => {
        this.helloRead = true;
        this.disarm();
      },
      (err: Error) => this.fail(tlsFailure(err, this.side, this.context.failureContext())),
    );
    return reader.hello;
  }

  /** Takes bytes that arrived while the ClientHello is being read; false once TLS reads them itself. */
  divert(data: Bytes): boolean {
    const reader = this.reader;
    if (reader === null) return false;
    reader.feed(data);
    // Past the hello (waiting for the upstream), a client that goes on sending is not speaking TLS.
    if (reader.size > MAX_CLIENT_HELLO_BYTES)
      this.fail(tlsFailure(tooLarge(reader.size), this.side, this.context.failureContext()));
    return true;
  }

  /**
   * The peer shut its write side. Before a whole ClientHello, the client gave up; during the handshake, the peer
   * left it (a Node client that rejects the certificate closes without an alert). Either way the handshake can't
   * complete: true, the stage failed (at once, not at the timeout).
   */
  readClosed(): boolean {
    if (this.settled) return false;
    if (this.reader !== null && !this.helloRead) {
      this.fail(tlsFailure(closedBeforeHello(), this.side, this.context.failureContext()));
      return true;
    }
    if (this.stage !== "handshaking" && !this.helloRead) return false;
    this.fail(closedDuringHandshake(this.side, this.context.failureContext()));
    return true;
  }

  /**
   * Turns the connection TLS now with node:tls `options` (the core's startTLS), handing back the bytes read for the
   * ClientHello; writes are held until the handshake completed. Resolves with the details once it did.
   */
  begin(options: TLSOptions): Promise<TLSDetails> {
    const conn = this.host.coreConnection();
    if (this.stage !== "pending" || conn === null) return this.completed;
    const unread = this.reader?.bytes() ?? null;
    this.reader = null;
    const plain: net.Socket = conn.socket;
    try {
      conn.startTLS(this.side === "client" ? this.clientOptions(options as ClientTLSOptions) : options);
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      this.fail(tlsFailure(error, this.side, this.context.failureContext()));
      return this.completed;
    }
    this.stage = "handshaking";
    this.holdWrites(); // until the handshake completed: what TLS would only buffer is not recorded as sent yet
    if (unread !== null && unread.byteLength > 0) {
      // Before the TLS socket's first read (next tick): it takes the plain socket's buffered bytes first.
      plain.pause();
      plain.unshift(unread);
    }
    conn.socket.on("keylog", (line: Buffer) => this.host.keyLogged(line.toString("latin1").trimEnd()));
    this.arm();
    return this.completed;
  }

  /** Client options: with the trusted CAs, and the hostname check's error kept when verification is skipped. */
  private clientOptions(options: ClientTLSOptions): ClientTLSOptions {
    const ca =
      options.ca ?? (this.context.trustedCAs !== null ? [...tls.rootCertificates, this.context.trustedCAs] : undefined);
    return {
      ...options,
      ...(ca !== undefined ? { ca } : {}),
      checkServerIdentity: (hostname, cert) => {
        const err = tls.checkServerIdentity(hostname, cert);
        this.identityError = err ?? null;
        return err;
      },
    };
  }

  /** The core's `handshakeCompleted`: the "tls" event, the record, then the inner protocol. */
  handshakeCompleted(info: TLSInfo): void {
    const socket = this.host.coreConnection()?.socket;
    if (this.stage !== "handshaking" || !(socket instanceof tls.TLSSocket)) return;
    this.stage = "secure";
    this.disarm();
    const details = tlsDetails(socket, this.side, info, this.identityError);
    this.host.noteTLS("tls", detailsLine(details), details);
    // What was written while the handshake went on leaves now, encrypted, and is recorded as sent from here.
    const held = this.held ?? [];
    this.held = null;
    for (const chunks of held) this.host.writeThrough(chunks);
    this.host.handshakeDone(details);
    this.done.resolve(details);
  }

  /**
   * The stage failed (here, or on the other leg of a proxied pair): the "tls-failed" event, then the connection is
   * aborted; its loss is recorded with an SSLError saying what failed. Nothing if the stage is already settled.
   */
  fail(failure: TLSFailure): void {
    if (this.settled) return;
    this.stage = "failed";
    this.disarm();
    this.held = null;
    this.reader = null;
    this.host.noteTLS("tls-failed", failureDetail(failure), failure);
    this.failure = new TLSStageFailed(failure);
    this.done.reject(this.failure);
    this.host.abort();
  }

  /**
   * The connection is gone: a handshake under way failed with `reason` (an SSLError from the core, or the peer's
   * close). Returns the reason to record the loss with: the stage's own failure when it failed first.
   */
  lost(reason: Error): Error {
    if (!this.settled) {
      if (this.helloRead && !(reason instanceof SSLError))
        this.fail(closedDuringHandshake(this.side, this.context.failureContext()));
      else {
        const err = this.reader !== null ? closedBeforeHello() : reason;
        this.fail(tlsFailure(err, this.side, this.context.failureContext()));
      }
      return reason instanceof SSLError ? reason : (this.failure ?? reason);
    }
    return this.failure ?? reason;
  }

  private arm(): void {
    this.disarm();
    const ms = this.context.handshakeTimeoutMs;
    this.timer = setTimeout(() => this.fail(handshakeTimedOut(this.side, ms)), ms);
    this.timer.unref();
  }

  private disarm(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
