/**
 * Connection rows of a reopened capture (reopen-recording.ts), rebuilt from its events as they are copied.
 */
import { quoteCommandLine } from "../../preload/command-line.ts";
import type { LifecycleTimelineEvent, Leg, TimelineEvent } from "../../preload/timeline.ts";
import type { ConnectionRecord } from "./recording-protocol.ts";
import type { Session } from "./session.ts";

/**
 * Rebuilds connection rows from a timeline, the way the recording factories filled them in live: numbered as
 * recorded, with the addresses of "connected" ("host -> peer") or a child's pid and command ("spawned"), counters
 * from data, and the loss reason (or how the child ended).
 */
export class ConnectionRows {
  private readonly records = new Map<number, ConnectionRecord>();
  /** Proxy: accepted legs that connected and have no upstream leg yet, oldest first. */
  private readonly unpaired: ConnectionRecord[] = [];

  constructor(
    private readonly session: Session,
    /** The recorded session's kind (from the capture's meta). */
    private readonly kind: string,
  ) {}

  saw(e: TimelineEvent): void {
    if (e.conn === 0) return;
    const record = this.records.get(e.conn) ?? this.open(e);
    if (e.kind === "data") {
      if (e.dir === "in") {
        record.bytesIn += e.data.byteLength;
        record.chunksIn += 1;
      } else {
        record.bytesOut += e.data.byteLength;
        record.chunksOut += 1;
      }
    } else if (e.kind === "lifecycle") {
      this.lifecycle(record, e);
    }
  }

  /**
   * The row of a connection seen for the first time, under its recorded number. Numbers the recording skips get no
   * row: a capture naming connection 300,000 alone makes one row, not 300,000.
   */
  private open(first: TimelineEvent): ConnectionRecord {
    const opened = first.kind === "lifecycle" && first.event === "connecting";
    const record = this.session.newConnection(this.legOf(opened), first.conn);
    record.openedAt = first.t;
    this.records.set(record.conn, record);
    if (this.kind === "proxy" && record.leg === "server") {
      const client = this.unpaired.shift();
      if (client) {
        client.pairedWith = record.conn;
        record.pairedWith = client.conn;
      }
    }
    return record;
  }

  /**
   * Which leg a connection was: on a listener or a proxy, one Wirescope opened (it starts with "connecting": a
   * proxy's upstream, a connection a protocol opened) is a "server" leg and an accepted one a "client" leg; a client
   * session's and an offline session's connections are "server" legs, as the engine records them.
   */
  private legOf(opened: boolean): Leg {
    if (this.kind === "listener" || this.kind === "proxy") return opened ? "server" : "client";
    return "server";
  }

  private lifecycle(record: ConnectionRecord, e: LifecycleTimelineEvent): void {
    switch (e.event) {
      case "connected": {
        const [host, peer] = e.detail.split(" -> ");
        record.host = host ?? "";
        record.peer = peer ?? "";
        record.state = "connected";
        if (this.kind === "proxy" && record.leg === "client") this.unpaired.push(record);
        break;
      }
      case "connecting":
        if (record.peer === "") record.peer = e.detail;
        break;
      case "read-closed":
      case "write-closed":
        if (record.state !== "closed") record.state = "half-closed";
        break;
      case "spawned": {
        // A process session's child (recording-process-protocol.ts): its pid and command in place of addresses.
        const { pid, argv } = e.fields ?? {};
        record.host = typeof pid === "number" ? `pid ${pid}` : "";
        record.peer = Array.isArray(argv) ? quoteCommandLine(argv.map(String)) : e.detail;
        record.state = "connected";
        break;
      }
      case "fd-closed":
        // The child's stdin closed: nothing more reaches it, its output may go on.
        if (e.fields?.["fd"] === 0 && record.state === "connected") record.state = "half-closed";
        break;
      case "lost":
      case "failed":
      case "ended":
        record.state = "closed";
        record.closedAt = e.t;
        record.reason = e.detail;
        break;
    }
  }

  /** Connections the recording leaves open end where the recording ends; `resume` undoes it. */
  finish(lastT: number): void {
    for (const record of this.records.values()) {
      if (record.state === "closed") continue;
      this.ended.push([record, record.state]);
      record.state = "closed";
      record.closedAt = lastT;
      record.reason = "ConnectionLost: the recording ends before the connection closed.";
    }
  }

  /** Connections `finish` ended, with the state each had: `resume` reopens them. */
  private ended: [ConnectionRecord, ConnectionRecord["state"]][] = [];

  /** The recording goes on after all (it was still being written): connections `finish` ended are open again. */
  resume(): void {
    for (const [record, state] of this.ended) {
      record.state = state;
      record.closedAt = undefined;
      record.reason = undefined;
    }
    this.ended = [];
  }
}
