import { describe, expect, it } from "vitest";
import type { ConnectionInfo, SessionInfo } from "../../../preload/contract.ts";
import { connectionLabel, displayOrder, itemKey, sessionLabel, shortEndpoint, where } from "./session-tree.ts";

function connection(conn: number, extra: Partial<ConnectionInfo> = {}): ConnectionInfo {
  return {
    conn,
    leg: "client",
    state: "connected",
    peer: "127.0.0.1:50000",
    host: "127.0.0.1:6379",
    bytesIn: 0,
    bytesOut: 0,
    chunksIn: 0,
    chunksOut: 0,
    openedAt: 0,
    protocol: null,
    ...extra,
  };
}

function session(extra: Partial<SessionInfo> = {}): SessionInfo {
  return {
    id: "s1",
    kind: "client",
    name: "client 1",
    target: "tcp:host=127.0.0.1:port=6379",
    state: "connected",
    protocol: null,
    epochMs: 0,
    connections: [],
    bytesIn: 0,
    bytesOut: 0,
    events: 0,
    ...extra,
  };
}

const IDLE = { in: 0, out: 0 };

describe("session tree", () => {
  it("shows a proxy's accepted leg followed by its upstream leg, whatever their numbers", () => {
    const proxy = session({
      kind: "proxy",
      connections: [
        connection(4, { leg: "server", pairedWith: 1 }),
        connection(3, { leg: "client", pairedWith: 2 }),
        connection(2, { leg: "server", pairedWith: 3 }),
        connection(1, { leg: "client", pairedWith: 4 }),
        connection(5, { leg: "server" }),
      ],
    });
    expect(displayOrder(proxy).map((c) => c.conn)).toEqual([1, 4, 3, 2, 5]);
    expect(displayOrder(session({ connections: [connection(2), connection(1)] })).map((c) => c.conn)).toEqual([1, 2]);
  });

  it("shortens TCP and TLS endpoint strings and leaves others as typed", () => {
    expect(shortEndpoint("tcp:host=127.0.0.1:port=6379")).toBe("127.0.0.1:6379");
    expect(shortEndpoint("ssl:host=localhost:port=443")).toBe("localhost:443 (TLS)");
    expect(shortEndpoint("unix:path=/tmp/app.sock")).toBe("unix:path=/tmp/app.sock");
  });

  it("says where a session is: its target, a proxy's upstream, a recording's source", () => {
    expect(where(session())).toBe("127.0.0.1:6379");
    expect(
      where(
        session({ kind: "proxy", target: "tcp:0", listeningOn: "127.0.0.1:4000", upstream: "tcp:host=::1:port=80" }),
      ),
    ).toBe("127.0.0.1:4000 → tcp:host=::1:port=80");
    expect(where(session({ kind: "imported", target: "x.pcap", source: "x.pcap, conversation 2" }))).toBe(
      "x.pcap, conversation 2",
    );
  });

  it("names items as the tests and screen readers find them", () => {
    const listener = session({
      kind: "listener",
      name: "listener 1",
      state: "listening",
      target: "tcp:0",
      listeningOn: "127.0.0.1:4000",
      bytesIn: 2048,
      connections: [connection(1), connection(2, { state: "closed", reason: "ConnectionDone: closed cleanly" })],
    });
    expect(sessionLabel(listener, { in: 512, out: 0 })).toBe(
      "listener 1, listener, listening, 127.0.0.1:4000, 2.0 KiB in, 0 B out, 512 B/s, 1 open connection",
    );
    expect(connectionLabel(listener, listener.connections[1]!, IDLE)).toBe(
      "Connection 2, closed, 127.0.0.1:50000, 0 B in, 0 B out, 0 B/s, ConnectionDone: closed cleanly",
    );
    expect(itemKey("s1", null)).toBe("s1");
    expect(itemKey("s1", 2)).not.toBe(itemKey("s1", null));
  });
});
