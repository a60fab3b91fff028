/**
 * One TCP conversation, seen from outside: who the client and the server were, and what each sent, when. This is
 * the shape every interchange feature works on (issue 6): pcapng export writes it as packets, pcap/pcapng import
 * produces it from reassembled streams, offline decoding feeds it to a protocol, replay sends one side of it again.
 *
 * A recorded connection becomes a Conversation with `conversationFromTimeline`: Wirescope recorded it from its own
 * socket ("in"/"out"); here directions are named by who sent the bytes ("client"/"server"), which is what a
 * capture shows and what a decoder or a replay needs to know.
 */
import type { ConnectionInfo } from "../../preload/contract.ts";
import type { Leg, TimelineEvent } from "../../preload/timeline.ts";

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
  readonly code = "not-a-tcp-conversation";
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
 * connection's events); only those of `connection.conn` are used. `epochMs` is the session's `epochMs`.
 *
 * Bytes "out" were sent by Wirescope's side, bytes "in" by the peer. A "write-closed" event is Wirescope's FIN, a
 * "read-closed" the peer's; an abort is Wirescope's RST, and a loss by "ConnectionLost" (reset by the peer) the
 * peer's. Log events on the connection become notes.
 */
export function conversationFromTimeline(
  events: Iterable<TimelineEvent>,
  connection: ConnectionInfo,
  epochMs: number,
): Conversation {
  const ours = parseEndpoint(connection.host);
  const theirs = parseEndpoint(connection.peer);
  if (!ours || !theirs) {
    throw new ConversationError(
      `connection ${connection.conn} has no TCP addresses (host "${connection.host}", peer "${connection.peer}"): ` +
        "only TCP connections that connected can be exported, decoded or replayed",
    );
  }
  const us = wirescopeSide(connection.leg);
  const them = otherSide(us);
  const out: ConversationEvent[] = [];
  let openedAt = connection.openedAt;
  let finished = false;
  for (const e of events) {
    if (e.conn !== connection.conn) continue;
    if (e.kind === "data") {
      out.push({ t: e.t, kind: "data", from: e.dir === "out" ? us : them, data: e.data });
    } else if (e.kind === "log") {
      out.push({ t: e.t, kind: "note", text: e.text });
    } else if (e.event === "connected") {
      openedAt = e.t;
    } else if (e.event === "write-closed") {
      out.push({ t: e.t, kind: "fin", from: us });
    } else if (e.event === "read-closed") {
      out.push({ t: e.t, kind: "fin", from: them });
    } else if (e.event === "lost" && !finished) {
      finished = true;
      // Twisted's reasons: ConnectionDone (clean close), ConnectionLost (reset or error), ConnectionAborted (ours).
      if (e.detail.startsWith("ConnectionAborted")) out.push({ t: e.t, kind: "rst", from: us });
      else if (e.detail.startsWith("ConnectionLost")) out.push({ t: e.t, kind: "rst", from: them });
      else out.push(...closeBoth(out, e.t, us, them));
    } else if (e.event === "protocol-error" || e.event === "protocol-halted" || e.event === "protocol-reloaded") {
      out.push({ t: e.t, kind: "note", text: `${e.event}: ${e.detail}` });
    }
  }
  const client = us === "client" ? ours : theirs;
  const server = us === "client" ? theirs : ours;
  return { client, server, epochMs, openedAt, events: out };
}

/** A clean close: a FIN from each side that hasn't sent one yet (the side that closed first, first). */
function closeBoth(events: readonly ConversationEvent[], t: number, us: Side, them: Side): ConversationEvent[] {
  const finned = new Set(events.filter((e) => e.kind === "fin").map((e) => (e as { from: Side }).from));
  return [us, them].filter((s) => !finned.has(s)).map((from) => ({ t, kind: "fin" as const, from }));
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
