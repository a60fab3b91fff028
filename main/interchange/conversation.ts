/**
 * One TCP conversation, seen from outside: who the client and the server were, and what each sent, when. This is
 * the shape every interchange feature works on: pcapng export writes it as packets, pcap/pcapng import
 * produces it from reassembled streams, offline decoding feeds it to a protocol, replay sends one side of it again.
 *
 * A recorded connection becomes a Conversation with `conversationFromTimeline`: Wirescope recorded it from its own
 * socket ("in"/"out"); here directions are named by who sent the bytes ("client"/"server"), which is what a
 * capture shows and what a decoder or a replay needs to know.
 */
import type { ConnectionInfo } from "../../preload/contract.ts";
import type { Leg, TimelineEvent } from "../../preload/timeline.ts";
import type { ErrorCode } from "../../preload/errors.ts";

/** An address and port as captures show them. `host` is an IPv4 dotted quad or an IPv6 address (no brackets). */
export interface Endpoint {
  host: string;
  port: number;
}

/** Who sent something. */
export type Side = "client" | "server";

/** The other side. */
export function otherSide(side: Side): Side {
  return side === "client" ? "server" : "client";
}

/** Something that happened in a conversation, `t` µs after the conversation's epoch. */
export type ConversationEvent =
  /** Bytes `from` one side, in the order the other side received them. */
  | { t: number; kind: "data"; from: Side; data: Uint8Array }
  /** `from` shut its write side (FIN). */
  | { t: number; kind: "fin"; from: Side }
  /** `from` reset the connection (RST). */
  | { t: number; kind: "rst"; from: Side }
  /** A message about the traffic: a decoded message, a lifecycle note; a pcapng export writes it as a comment. */
  | { t: number; kind: "note"; text: string };

/** A TCP conversation: its two ends, when it opened, and its events in time order. */
export interface Conversation {
  client: Endpoint;
  server: Endpoint;
  /** Wall-clock milliseconds (Unix epoch) at t = 0. */
  epochMs: number;
  /** When the connection was opened (the handshake), µs after the epoch; at or before the first event. */
  openedAt: number;
  /** Sorted by `t` (ties keep their recorded order). */
  events: ConversationEvent[];
}

/** Thrown when a recorded connection can't be read as a conversation (never connected, a UNIX socket, ...). */
export class ConversationError extends Error {
  readonly code = "not-a-tcp-conversation" satisfies ErrorCode;
  constructor(message: string) {
    super(message);
    this.name = "ConversationError";
  }
}

/**
 * Parses "127.0.0.1:6379" or "[::1]:6379" (targets.ts's formatAddress). Anything else (a UNIX socket's path, an
 * empty string for a connection that never connected) is not a TCP endpoint: returns null.
 */
export function parseEndpoint(text: string): Endpoint | null {
  const v6 = /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(text);
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(text);
  const m = v6 ?? v4;
  if (!m) return null;
  const port = Number(m[2]);
  return port <= 65535 ? { host: m[1]!, port } : null;
}

/** "127.0.0.1:6379", "[::1]:6379". */
export function formatEndpoint(e: Endpoint): string {
  return e.host.includes(":") ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
}

/**
 * Which side Wirescope's own socket was on for a connection of `leg`: a "server" leg is one Wirescope opened (a
 * client session's connection, a proxy's upstream, a connection a protocol opened), so Wirescope was the client;
 * a "client" leg is one Wirescope accepted, so Wirescope was the server.
 */
export function wirescopeSide(leg: Leg): Side {
  return leg === "server" ? "client" : "server";
}

/**
 * The conversation of one recorded connection. `events` is the session's timeline (or any part of it holding the
 * connection's events); only those of `connection.conn` are used. `epochMs` is the session's `epochMs`. Holds the
 * whole conversation in memory: for a timeline too big for that, feed a ConversationTracker range by range.
 */
export function conversationFromTimeline(
  events: Iterable<TimelineEvent>,
  connection: ConnectionInfo,
  epochMs: number,
): Conversation {
  const tracker = new ConversationTracker(connection, epochMs);
  const out: ConversationEvent[] = [];
  for (const e of events) out.push(...tracker.push(e));
  return { ...tracker.header(), events: out };
}

/** A Conversation without its events: who talked, and when it opened. */
export type ConversationHeader = Omit<Conversation, "events">;

/**
 * Reads one recorded connection's conversation as its timeline comes, a range at a time (a pcapng export of a
 * session of any size): the caller creates one per connection and `push`es the session's events to it in timeline
 * order; each push returns the conversation events that timeline event makes (often none). The constructor throws
 * ConversationError for a connection without TCP addresses (a UNIX socket, one that never connected).
 *
 * Bytes "out" were sent by Wirescope's side, bytes "in" by the peer. A "write-closed" event is Wirescope's FIN, a
 * "read-closed" the peer's; an abort is Wirescope's RST, and a loss by "ConnectionLost" (reset by the peer) the
 * peer's; a clean loss ("ConnectionDone") is a FIN from each side that hadn't sent one. Log events on the
 * connection, and its protocol's errors, halts and reloads, become notes.
 */
export class ConversationTracker {
  readonly client: Endpoint;
  readonly server: Endpoint;
  /** When the connection opened: its "connected" event once that was pushed, else when it was created. */
  openedAt: number;
  private readonly us: Side;
  private readonly finned = new Set<Side>();
  private finished = false;

  constructor(
    private readonly connection: ConnectionInfo,
    readonly epochMs: number,
  ) {
    const ours = parseEndpoint(connection.host);
    const theirs = parseEndpoint(connection.peer);
    if (!ours || !theirs) {
      throw new ConversationError(
        `connection ${connection.conn} has no TCP addresses (host "${connection.host}", peer "${connection.peer}"): ` +
          "only TCP connections that connected can be exported, decoded or replayed",
      );
    }
    this.us = wirescopeSide(connection.leg);
    this.client = this.us === "client" ? ours : theirs;
    this.server = this.us === "client" ? theirs : ours;
    this.openedAt = connection.openedAt;
  }

  /** The conversation's header as it stands (`openedAt` is final once the "connected" event was pushed). */
  header(): ConversationHeader {
    return { client: this.client, server: this.server, epochMs: this.epochMs, openedAt: this.openedAt };
  }

  /** The conversation events `e` makes; none for another connection's event or one that isn't traffic. */
  push(e: TimelineEvent): ConversationEvent[] {
    if (e.conn !== this.connection.conn) return [];
    const us = this.us;
    const them = otherSide(us);
    if (e.kind === "data") return [{ t: e.t, kind: "data", from: e.dir === "out" ? us : them, data: e.data }];
    if (e.kind === "log") return [{ t: e.t, kind: "note", text: e.text }];
    switch (e.event) {
      case "connected":
        this.openedAt = e.t;
        return [];
      case "write-closed":
        return this.fin(e.t, us);
      case "read-closed":
        return this.fin(e.t, them);
      case "lost":
        if (this.finished) return [];
        this.finished = true;
        // Twisted's reasons: ConnectionDone (clean close), ConnectionLost (reset or error), ConnectionAborted (ours).
        if (e.detail.startsWith("ConnectionAborted")) return [{ t: e.t, kind: "rst", from: us }];
        if (e.detail.startsWith("ConnectionLost")) return [{ t: e.t, kind: "rst", from: them }];
        // A clean close: a FIN from each side that hasn't sent one yet (ours first: the side that closed first
        // without a FIN recorded is ours, since the peer's FIN is recorded as "read-closed" when it comes).
        return [us, them].flatMap((side) => this.fin(e.t, side));
      case "protocol-error":
      case "protocol-halted":
      case "protocol-reloaded":
        return [{ t: e.t, kind: "note", text: `${e.event}: ${e.detail}` }];
      default:
        return [];
    }
  }

  /** A FIN from `side`, unless it sent one already. */
  private fin(t: number, side: Side): ConversationEvent[] {
    if (this.finned.has(side)) return [];
    this.finned.add(side);
    return [{ t, kind: "fin", from: side }];
  }
}

/** The bytes one side sent, concatenated. */
export function bytesFrom(conversation: Conversation, side: Side): Uint8Array {
  const parts = conversation.events.filter(
    (e): e is Extract<ConversationEvent, { kind: "data" }> => e.kind === "data" && e.from === side,
  );
  const total = parts.reduce((n, p) => n + p.data.byteLength, 0);
  const joined = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    joined.set(p.data, at);
    at += p.data.byteLength;
  }
  return joined;
}
