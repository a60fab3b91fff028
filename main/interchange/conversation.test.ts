import { describe, expect, it } from "vitest";
import type { ConnectionInfo } from "../../preload/contract.ts";
import type { LifecycleEvent, TimelineEvent } from "../../preload/timeline.ts";
import { ConversationError, conversationFromTimeline, ConversationTracker } from "./conversation.ts";

function connection(over: Partial<ConnectionInfo> = {}): ConnectionInfo {
  return {
    conn: 1,
    leg: "server",
    state: "closed",
    peer: "127.0.0.1:6379",
    host: "127.0.0.1:40000",
    bytesIn: 0,
    bytesOut: 0,
    chunksIn: 0,
    chunksOut: 0,
    openedAt: 5,
    protocol: null,
    ...over,
  };
}

let seq = 0;
const life = (t: number, event: LifecycleEvent, detail = "", conn = 1): TimelineEvent => ({
  seq: seq++,
  t,
  conn,
  kind: "lifecycle",
  event,
  detail,
});
const data = (t: number, dir: "in" | "out", text: string, conn = 1): TimelineEvent => ({
  seq: seq++,
  t,
  conn,
  kind: "data",
  dir,
  data: Buffer.from(text),
});

describe("conversationFromTimeline", () => {
  it("names a client session's directions by who sent, and opens at 'connected'", () => {
    const c = conversationFromTimeline(
      [
        life(5, "connecting"),
        life(10, "connected"),
        data(20, "out", "PING"),
        data(21, "in", "other", 2), // another connection's
        data(30, "in", "PONG"),
        life(40, "lost", "ConnectionDone: Connection was closed cleanly."),
      ],
      connection(),
      1000,
    );
    expect(c.client).toEqual({ host: "127.0.0.1", port: 40000 });
    expect(c.server).toEqual({ host: "127.0.0.1", port: 6379 });
    expect(c.openedAt).toBe(10);
    expect(
      c.events.map((e) =>
        e.kind === "data" ? `${e.from}:${Buffer.from(e.data)}` : `${e.kind}:${"from" in e ? e.from : ""}`,
      ),
    ).toEqual(["client:PING", "server:PONG", "fin:client", "fin:server"]);
  });

  it("sees an accepted leg (a listener's, a proxy's client leg) from the server's side", () => {
    const c = conversationFromTimeline(
      [data(1, "in", "hi"), data(2, "out", "ho")],
      connection({ leg: "client", host: "127.0.0.1:8000", peer: "[::1]:5000" }),
      0,
    );
    expect(c.client).toEqual({ host: "::1", port: 5000 });
    expect(c.server).toEqual({ host: "127.0.0.1", port: 8000 });
    expect(c.events.map((e) => e.kind === "data" && e.from)).toEqual(["client", "server"]);
  });

  it("makes one FIN per side however the close was recorded", () => {
    const c = conversationFromTimeline(
      [
        life(1, "read-closed"),
        life(2, "write-closed"),
        life(2, "write-closed"),
        life(3, "lost", "ConnectionDone: Connection was closed cleanly."),
      ],
      connection(),
      0,
    );
    expect(c.events).toEqual([
      { t: 1, kind: "fin", from: "server" },
      { t: 2, kind: "fin", from: "client" },
    ]);
  });

  it.each([
    ["ConnectionAborted: Connection was aborted locally", "client"],
    ["ConnectionLost: Connection to the other side was lost in a non-clean fashion: ECONNRESET.", "server"],
  ])("reads a loss by %j as a RST from the %s", (detail, from) => {
    const c = conversationFromTimeline([life(1, "lost", detail), life(2, "lost", detail)], connection(), 0);
    expect(c.events).toEqual([{ t: 1, kind: "rst", from }]);
  });

  it("turns the connection's logs and protocol troubles into notes", () => {
    const log: TimelineEvent = { seq: 0, t: 1, conn: 1, kind: "log", level: "info", text: "decoded PING", fields: {} };
    const c = conversationFromTimeline([log, life(2, "protocol-halted", "TypeError at resp.ts:3:1")], connection(), 0);
    expect(c.events).toEqual([
      { t: 1, kind: "note", text: "decoded PING" },
      { t: 2, kind: "note", text: "protocol-halted: TypeError at resp.ts:3:1" },
    ]);
  });

  it.each([
    ["never connected", { host: "", peer: "" }],
    ["a UNIX socket", { host: "/tmp/s.sock", peer: "" }],
  ])("refuses %s with a sentence", (_what, over) => {
    expect(() => new ConversationTracker(connection(over), 0)).toThrow(ConversationError);
    expect(() => new ConversationTracker(connection(over), 0)).toThrow(/only TCP connections that connected/);
  });
});
