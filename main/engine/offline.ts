/**
 * Sessions that show traffic recorded before: a conversation imported from a pcap/pcapng file, or a protocol's
 * passive decode of one. They have a timeline and connections like any session, and no sockets.
 *
 * `recordConversation` writes one Conversation onto such a session's timeline as a connection seen from the
 * client's side (what a client session would have recorded): the client's bytes go "out", the server's come "in",
 * so every view of the workbench (hex, text, conversation, decoded) shows it as it shows a live client session.
 */
import type { LifecycleEvent, NewTimelineEvent } from "../../preload/timeline.ts";
import { formatEndpoint, type Conversation, type Side } from "../interchange/conversation.ts";
import type { ConnectionRecord, TimelineSink } from "./recording-protocol.ts";
import type { Session } from "./session.ts";

/** Options of recordConversation. */
export interface RecordConversationOptions {
  /** Which side the recording is seen from (default "client": the client's bytes are "out"). */
  seenFrom?: Side;
  /** Added to every time: places the conversation on a timeline whose epoch is not the conversation's. */
  offsetMicros?: number;
}

/**
 * Adds a connection for `conversation` to `session` and appends its events to `timeline`: connecting, connected,
 * data in both directions, FINs as read-/write-closed, a RST as the loss reason, notes as log events, and lost at
 * the end. Returns the connection's record (counters filled in, state "closed").
 */
export function recordConversation(
  session: Session,
  timeline: TimelineSink,
  conversation: Conversation,
  options: RecordConversationOptions = {},
): ConnectionRecord {
  const seenFrom = options.seenFrom ?? "client";
  const offset = options.offsetMicros ?? 0;
  const record = session.newConnection(seenFrom === "client" ? "server" : "client");
  const conn = record.conn;
  const us = seenFrom === "client" ? conversation.client : conversation.server;
  const them = seenFrom === "client" ? conversation.server : conversation.client;
  record.host = formatEndpoint(us);
  record.peer = formatEndpoint(them);
  record.openedAt = conversation.openedAt + offset;
  const life = (t: number, event: LifecycleEvent, detail: string): void => {
    timeline.append({ kind: "lifecycle", t: t + offset, conn, event, detail });
  };
  life(conversation.openedAt, "connecting", record.peer);
  life(conversation.openedAt, "connected", `${record.host} -> ${record.peer}`);
  let last = conversation.openedAt;
  let reason = "ConnectionDone: Connection was closed cleanly.";
  let reset = false;
  for (const e of conversation.events) {
    last = Math.max(last, e.t);
    if (e.kind === "data") {
      const dir = e.from === seenFrom ? "out" : "in";
      const event: NewTimelineEvent = { kind: "data", t: e.t + offset, conn, dir, data: e.data };
      timeline.append(event);
      if (dir === "in") {
        record.bytesIn += e.data.byteLength;
        record.chunksIn += 1;
      } else {
        record.bytesOut += e.data.byteLength;
        record.chunksOut += 1;
      }
    } else if (e.kind === "fin") {
      if (e.from === seenFrom) life(e.t, "write-closed", "shut the write side (FIN)");
      else life(e.t, "read-closed", "the peer shut its write side (FIN)");
    } else if (e.kind === "rst") {
      reset = true;
      reason =
        e.from === seenFrom
          ? "ConnectionAborted: Connection was aborted locally (RST)."
          : "ConnectionLost: Connection reset by peer (RST).";
    } else {
      timeline.append({ kind: "log", t: e.t + offset, conn, level: "info", text: e.text, fields: {} });
    }
  }
  const closed = reset || conversation.events.some((e) => e.kind === "fin");
  if (!closed) reason = "ConnectionLost: the recording ends before the connection closed.";
  life(last, "lost", reason);
  record.state = "closed";
  record.closedAt = last + offset;
  record.reason = reason;
  return record;
}
