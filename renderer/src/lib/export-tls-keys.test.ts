import { describe, expect, it } from "vitest";
import type { ConnectionInfo, SessionInfo } from "../../../preload/contract.ts";
import { tlsKeyLines, tlsKeysFileName } from "./export-tls-keys.ts";

function connection(conn: number, tlsKeys?: number): ConnectionInfo {
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
    ...(tlsKeys !== undefined ? { tlsKeys } : {}),
  };
}

const session: SessionInfo = {
  id: "s1",
  kind: "listener",
  name: "listener 1",
  target: "tcp:0:interface=127.0.0.1",
  state: "listening",
  protocol: null,
  epochMs: 0,
  connections: [connection(1, 5), connection(2), connection(3, 4)],
  bytesIn: 0,
  bytesOut: 0,
  events: 0,
};

describe("Export TLS keys", () => {
  it("names the file after the session, as its pcapng exports are", () => {
    expect(tlsKeysFileName(session, null)).toBe("listener-1-tls-keys.txt");
    expect(tlsKeysFileName(session, 2)).toBe("listener-1-conn-2-tls-keys.txt");
  });

  it("counts the key lines of a connection, or of every listed connection of the session", () => {
    expect(tlsKeyLines(session, undefined)).toBe(9);
    expect(tlsKeyLines(session, session.connections[1])).toBe(0);
  });
});
