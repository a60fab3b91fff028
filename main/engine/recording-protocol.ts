/**
 * Recording, built on the core's TrafficLoggingFactory: every connection of a session is wrapped in a
 * RecordingProtocol, which puts each chunk in and out, the half-closes and the loss on the session's timeline and
 * keeps the connection's counters. The inner protocol (raw bytes, a sandboxed user protocol, a proxy leg) sees the
 * wrapper as its transport, so whatever it writes is recorded too.
 */
import {
  Factory,
  TrafficLoggingFactory,
  TrafficLoggingProtocol,
  type Address,
  type IProtocol,
  type ITransport,
  type TrafficLogEntry,
  type TrafficLogSink,
} from "../../core/index.ts";
import type { ConnectionInfo } from "../../preload/contract.ts";
import { MAX_REASON_LENGTH, shorten } from "../../preload/limits.ts";
import type { Leg, NewTimelineEvent } from "../../preload/timeline.ts";
import { monotonicMicros as nowMicros } from "../recording/recorder.ts";
import { formatAddress } from "./targets.ts";

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
  /** What the protocol column shows; set by whoever attaches a protocol. */
  protocol: ConnectionInfo["protocol"] = null;

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

/** Wraps one connection: records, counts, and records the half-closes the core's wrapper doesn't log. */
export class RecordingProtocol extends TrafficLoggingProtocol {
  private readingPaused = false;
  constructor(
    factory: RecordingFactory,
    inner: IProtocol,
    readonly connection: ConnectionRecord,
    private readonly timeline: TimelineSink,
    private readonly changed: () => void,
  ) {
    super(factory, inner, new ConnectionSink(timeline, connection, changed), connection.conn);
  }

  override makeConnection(transport: ITransport): void {
    this.connection.peer = formatAddress(transport.getPeer());
    this.connection.host = formatAddress(transport.getHost());
    this.connection.wrapper = this;
    super.makeConnection(transport);
  }

  override readConnectionLost(): void {
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
  ) {
    // The entries go to each connection's own sink (see RecordingProtocol), not to a factory-wide one.
    super(new Factory(), { record: () => {} });
  }

  override buildProtocol(addr: Address): RecordingProtocol {
    const record = this.newConnection(addr);
    return new RecordingProtocol(this, this.buildInner(record), record, this.timeline, this.changed);
  }
}
