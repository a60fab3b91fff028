/**
 * Recording, built on the core's TrafficLoggingFactory: every connection of a session is wrapped in a
 * RecordingProtocol, which puts each chunk in and out, the half-closes and the loss on the session's timeline and
 * keeps the connection's counters. The inner protocol (raw bytes, a sandboxed user protocol, a proxy leg) sees the
 * wrapper as its transport, so whatever it writes is recorded too — and can turn it TLS (`startTLS`, tls-stage.ts):
 * the timeline goes on with the plaintext.
 */
import * as tls from "node:tls";
import {
  CannotStartTLSError,
  checkBytes,
  Connection,
  Factory,
  TrafficLoggingFactory,
  TrafficLoggingProtocol,
  type Address,
  type Bytes,
  type IProtocol,
  type ITransport,
  type TLSInfo,
  type TrafficLogEntry,
  type TrafficLogSink,
} from "../../core/index.ts";
import type { ConnectionInfo, TLSDetails, TLSFailure } from "../../preload/contract.ts";
import { MAX_REASON_LENGTH, shorten } from "../../preload/limits.ts";
import type { Leg, NewTimelineEvent } from "../../preload/timeline.ts";
import { monotonicMicros as nowMicros } from "../recording/recorder.ts";
import { clientOptions, hasOwnCertificate, serverOptions } from "../tls/tls-options.ts";
import type { TLSRequest } from "../tls/tls-request.ts";
import { tlsDetails, detailsLine } from "../tls/tls-details.ts";
import { tlsFailure } from "../tls/tls-errors.ts";
import { formatAddress } from "./targets.ts";
import {
  isTLSHandshakeListener,
  MAX_TLS_KEY_LINES,
  NO_SERVER_TLS,
  TLSStage,
  type SessionTLSContext,
  type TLSStageHost,
} from "./tls-stage.ts";

/** Where recorded events go: the session's recorder. `append` is called on the hot path and must not block. */
export interface TimelineSink {
  append(event: NewTimelineEvent): unknown;
}

/** Renders a connection's loss reason as "ConnectionDone: Connection was closed cleanly." */
export function describeReason(reason: Error): string {
  return shorten(`${reason.name}: ${reason.message}`, MAX_REASON_LENGTH);
}

/** The live state of one recorded connection; `info()` is its contract snapshot. */
export class ConnectionRecord {
  state: ConnectionInfo["state"] = "connecting";
  peer = "";
  host = "";
  bytesIn = 0;
  bytesOut = 0;
  chunksIn = 0;
  chunksOut = 0;
  openedAt = nowMicros();
  closedAt: number | undefined;
  reason: string | undefined;
  pairedWith: number | undefined;
  /** The wrapper once connected: the session writes and closes through it. */
  wrapper: RecordingProtocol | null = null;
  /**
   * The host name this connection was opened to (a client session's target, a protocol's connectTCP host), when it
   * is a name and not an address: what a TLS client started on it asks for (SNI) and checks the certificate
   * against, unless the protocol names another.
   */
  dialedName: string | null = null;
  /** What the protocol column shows; set by whoever attaches a protocol. */
  protocol: ConnectionInfo["protocol"] = null;
  /** What its TLS handshake agreed on, once one completed. */
  tls: TLSDetails | undefined;
  /** Its TLS key log lines (SSLKEYLOGFILE, without newlines), at most MAX_TLS_KEY_LINES. */
  readonly tlsKeys: string[] = [];

  constructor(
    readonly conn: number,
    readonly leg: Leg,
  ) {}

  info(): ConnectionInfo {
    return {
      conn: this.conn,
      leg: this.leg,
      ...(this.pairedWith !== undefined ? { pairedWith: this.pairedWith } : {}),
      state: this.state,
      peer: this.peer,
      host: this.host,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      chunksIn: this.chunksIn,
      chunksOut: this.chunksOut,
      openedAt: this.openedAt,
      ...(this.closedAt !== undefined ? { closedAt: this.closedAt } : {}),
      ...(this.reason !== undefined ? { reason: this.reason } : {}),
      protocol: this.protocol,
      ...(this.tls !== undefined ? { tls: this.tls } : {}),
      ...(this.tlsKeys.length > 0 ? { tlsKeys: this.tlsKeys.length } : {}),
    };
  }
}

/** Turns the core's traffic-log entries for one connection into timeline events and counters. */
class ConnectionSink implements TrafficLogSink {
  constructor(
    private readonly timeline: TimelineSink,
    private readonly connection: ConnectionRecord,
    private readonly changed: () => void,
  ) {}

  record(entry: TrafficLogEntry): void {
    const c = this.connection;
    const t = nowMicros();
    switch (entry.kind) {
      case "data":
        c.bytesIn += entry.data.byteLength;
        c.chunksIn += 1;
        this.timeline.append({ kind: "data", t, conn: c.conn, dir: "in", data: entry.data });
        break;
      case "write":
      case "writeSequence":
        // Writes after the close are dropped by the transport: don't record bytes that never left.
        if (entry.data.byteLength === 0 || c.state === "closed") return;
        c.bytesOut += entry.data.byteLength;
        c.chunksOut += 1;
        this.timeline.append({ kind: "data", t, conn: c.conn, dir: "out", data: entry.data });
        break;
      case "connectionMade":
        c.state = "connected";
        this.timeline.append({
          kind: "lifecycle",
          t,
          conn: c.conn,
          event: "connected",
          detail: `${c.host} -> ${c.peer}`,
        });
        break;
      case "connectionLost":
        c.state = "closed";
        c.closedAt = t;
        c.reason = describeReason(entry.reason);
        this.timeline.append({ kind: "lifecycle", t, conn: c.conn, event: "lost", detail: c.reason });
        break;
      case "loseConnection":
      case "abortConnection":
        return; // the loss that follows says how it ended
    }
    this.changed();
  }
}

/**
 * Wraps one connection: records, counts, and records the half-closes the core's wrapper doesn't log. Its TLS side
 * follows the leg: Wirescope is the TLS server on an accepted ("client") leg, the client on one it opened.
 */
export class RecordingProtocol extends TrafficLoggingProtocol implements TLSStageHost {
  private readingPaused = false;
  private tlsStage: TLSStage | null = null;
  constructor(
    factory: RecordingFactory,
    inner: IProtocol,
    readonly connection: ConnectionRecord,
    private readonly timeline: TimelineSink,
    private readonly changed: () => void,
    /** The session's TLS settings, for `startTLS`. */
    readonly tlsContext: SessionTLSContext = NO_SERVER_TLS,
    /** A TLS listener's connection: it turns TLS as soon as it is made, before the inner protocol is connected. */
    private readonly tlsAtOnce = false,
  ) {
    super(factory, inner, new ConnectionSink(timeline, connection, changed), connection.conn);
  }

  /** Recorded; on a TLS listener, the TLS stage starts here, so that whatever the inner protocol writes is held. */
  override connectionMade(): void {
    super.connectionMade();
    if (this.tlsAtOnce) this.startTLS();
  }

  /** Which end of TLS Wirescope plays on this connection. */
  get tlsSide(): TLSDetails["side"] {
    return this.connection.leg === "client" ? "server" : "client";
  }

  /**
   * Turns this connection TLS (ITLSTransport.startTLS, for the protocol inside): a connection Wirescope opened
   * starts a TLS client (the server's certificate verified unless the request or the session says not to); an
   * accepted one reads the client's ClientHello, then starts a TLS server with the request's certificate, else the
   * session's. Bytes written before go out in clear; after, encrypted. The outcome is a "tls" or "tls-failed"
   * event, then `handshakeCompleted(details)` on the protocol inside. Throws CannotStartTLSError when TLS is already
   * on or starting, the connection is closing or closed, or its transport can't do TLS.
   */
  startTLS(request: TLSRequest = {}): void {
    const stage = this.newTLSStage();
    if (stage.side === "client") {
      void stage.begin(clientOptions(request, this.tlsContext, this.connection.dialedName));
      return;
    }
    const base = hasOwnCertificate(request) ? Promise.resolve({}) : this.tlsContext.serverOptions();
    Promise.all([stage.readHello(), base]).then(
      ([, options]) => void stage.begin(serverOptions(request, options)),
      (err: Error) => stage.fail(tlsFailure(err, stage.side, this.tlsContext.failureContext())),
    );
  }

  /**
   * The TLS stage of this connection, new: for `startTLS` and a proxy's pair upgrade (tls-pair.ts). Throws
   * CannotStartTLSError where TLS can't start (see startTLS).
   */
  newTLSStage(): TLSStage {
    this.checkCanStartTLS();
    this.tlsStage = new TLSStage(this, this.tlsSide, this.tlsContext);
    return this.tlsStage;
  }

  /** Throws CannotStartTLSError where TLS can't start (see startTLS); returns where it can. */
  checkCanStartTLS(): void {
    const conn = this.coreConnection();
    if (conn === null) throw new CannotStartTLSError("This connection can't turn TLS: it is not a TCP connection.");
    if (this.tlsStage !== null || conn.getTLSInfo() !== null)
      throw new CannotStartTLSError("TLS is already started on this connection.");
    if (this.disconnecting || conn.disconnected)
      throw new CannotStartTLSError("The connection is closing or closed: TLS can't start on it.");
  }

  /** What the handshake agreed on, once it completed; null before and without TLS. */
  getTLSInfo(): TLSInfo | null {
    return this.coreConnection()?.getTLSInfo() ?? null;
  }

  /** The peer's certificate once the handshake completed, as node:tls describes it; null otherwise. */
  getPeerCertificate(): tls.PeerCertificate | null {
    return this.coreConnection()?.getPeerCertificate() ?? null;
  }

  /**
   * Called by the core once a handshake completed: after this connection's `startTLS`, or at once on a connection
   * that was TLS from the start (an `ssl:` client), which has no stage and is described here.
   */
  handshakeCompleted(info: TLSInfo): void {
    if (this.tlsStage !== null) {
      this.tlsStage.handshakeCompleted(info);
      return;
    }
    const socket = this.coreConnection()?.socket;
    if (!(socket instanceof tls.TLSSocket)) return;
    const details = tlsDetails(socket, this.tlsSide, info, null);
    this.noteTLS("tls", detailsLine(details), details);
    this.handshakeDone(details);
  }

  // TLSStageHost: what the TLS stage does to this connection.

  coreConnection(): Connection | null {
    return this.transport instanceof Connection ? this.transport : null;
  }

  noteTLS(event: "tls" | "tls-failed", detail: string, fields: TLSDetails | TLSFailure): void {
    if (this.connection.state === "closed") return;
    this.timeline.append({
      kind: "lifecycle",
      t: nowMicros(),
      conn: this.connection.conn,
      event,
      detail,
      fields: { ...fields },
    });
    this.changed();
  }

  handshakeDone(details: TLSDetails): void {
    this.connection.tls = details;
    this.changed();
    const inner = this.wrappedProtocol;
    if (isTLSHandshakeListener(inner)) inner.handshakeCompleted(details);
  }

  keyLogged(line: string): void {
    if (this.connection.tlsKeys.length < MAX_TLS_KEY_LINES) this.connection.tlsKeys.push(line);
  }

  /** Sends what the stage held, now that TLS is on: recorded as sent now (never if the handshake failed). */
  writeThrough(chunks: readonly Bytes[]): void {
    const connectionNumber = this.connectionNumber;
    if (chunks.length === 1) {
      this.sink.record({ kind: "write", connectionNumber, data: chunks[0]! });
      this.transport.write(chunks[0]!);
    } else {
      this.sink.record({ kind: "writeSequence", connectionNumber, data: Buffer.concat(chunks), sequence: chunks });
      this.transport.writeSequence(chunks);
    }
  }

  abort(): void {
    this.transport.abortConnection();
  }

  // Recording, around the TLS stage.

  /** Bytes that arrive while the ClientHello is read are the TLS layer's: neither recorded nor passed on. */
  override dataReceived(data: Bytes): void {
    if (this.tlsStage?.divert(data)) return;
    super.dataReceived(data);
  }

  /**
   * Writes while the TLS stage waits are held by it, and recorded when they are sent, encrypted, once TLS is on
   * (writeThrough); a failed handshake drops them, and the timeline never shows them as sent.
   */
  override write(data: Bytes): void {
    checkBytes(data);
    if (this.tlsStage?.hold([data])) return;
    super.write(data);
  }

  override writeSequence(sequence: readonly Bytes[]): void {
    for (const chunk of sequence) checkBytes(chunk);
    if (this.tlsStage?.hold(sequence)) return;
    super.writeSequence(sequence);
  }

  /** A handshake under way fails with the loss ("tls-failed" first); a failed stage gives the loss its reason. */
  override connectionLost(reason: Error): void {
    super.connectionLost(this.tlsStage?.lost(reason) ?? reason);
  }

  override makeConnection(transport: ITransport): void {
    this.connection.peer = formatAddress(transport.getPeer());
    this.connection.host = formatAddress(transport.getHost());
    this.connection.wrapper = this;
    super.makeConnection(transport);
  }

  override readConnectionLost(): void {
    if (this.tlsStage?.readClosed()) return;
    this.connection.state = "half-closed";
    this.timeline.append({
      kind: "lifecycle",
      t: nowMicros(),
      conn: this.connection.conn,
      event: "read-closed",
      detail: "the peer shut its write side (FIN)",
    });
    this.changed();
    super.readConnectionLost();
  }

  override loseWriteConnection(): void {
    if (this.connection.state === "closed") return;
    this.connection.state = "half-closed";
    this.timeline.append({
      kind: "lifecycle",
      t: nowMicros(),
      conn: this.connection.conn,
      event: "write-closed",
      detail: "we shut our write side (FIN)",
    });
    this.changed();
    super.loseWriteConnection();
  }

  /**
   * Reading stops (a proxy's other side is slow, a sandboxed protocol is behind, the user paused it): recorded
   * once per pause, so that a stall on the timeline has its cause next to it.
   */
  override pauseProducing(): void {
    if (!this.readingPaused && this.connection.state !== "closed") {
      this.readingPaused = true;
      this.note("paused", "reading paused (flow control)");
    }
    super.pauseProducing();
  }

  override resumeProducing(): void {
    if (this.readingPaused && this.connection.state !== "closed") {
      this.readingPaused = false;
      this.note("resumed", "reading resumed");
    }
    super.resumeProducing();
  }

  private note(event: "paused" | "resumed", detail: string): void {
    this.timeline.append({ kind: "lifecycle", t: nowMicros(), conn: this.connection.conn, event, detail });
  }
}

/**
 * A TrafficLoggingFactory whose connections take their numbers from the session (so that a proxy's two legs share
 * one numbering) and whose protocols are RecordingProtocols. `buildInner` gets the connection's record, so that the
 * inner protocol can show its state on it.
 */
export class RecordingFactory extends TrafficLoggingFactory {
  constructor(
    private readonly newConnection: (addr: Address) => ConnectionRecord,
    private readonly buildInner: (connection: ConnectionRecord) => IProtocol,
    private readonly timeline: TimelineSink,
    private readonly changed: () => void,
    /** The session's TLS settings, given to each connection. */
    private readonly tlsContext: SessionTLSContext = NO_SERVER_TLS,
    /** Whether each connection turns TLS as soon as it is made (a TLS listener). */
    private readonly tlsAtOnce = false,
  ) {
    // The entries go to each connection's own sink (see RecordingProtocol), not to a factory-wide one.
    super(new Factory(), { record: () => {} });
  }

  override buildProtocol(addr: Address): RecordingProtocol {
    const record = this.newConnection(addr);
    return new RecordingProtocol(
      this,
      this.buildInner(record),
      record,
      this.timeline,
      this.changed,
      this.tlsContext,
      this.tlsAtOnce,
    );
  }
}
