/**
 * Abort after close, as the CLI does it on the engine (closeConnection, then abortConnection at once), on a raw client
 * session: the connection must still be reset and recorded as lost with ConnectionAborted, also when the peer has
 * already shut its side (raw connections are half-closeable) and when the peer doesn't read.
 */
import * as net from "node:net";
import { describe, expect, it } from "vitest";
import type { TimelineEvent } from "../../preload/timeline.ts";
import { ok, useEngine, waitForTimeline } from "../helpers/engine.ts";
import { waitFor } from "../helpers/net.ts";

const { t, defer } = useEngine();

/** A peer on 127.0.0.1 that doesn't read, stays open after our FIN, and notices a reset when it writes. */
async function stubbornPeer(options: { shutsItsSide: boolean }) {
  const peer: { socket: net.Socket | null; error: string | null; closed: boolean } = {
    socket: null,
    error: null,
    closed: false,
  };
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    peer.socket = socket;
    socket.pause();
    socket.on("error", (err: NodeJS.ErrnoException) => (peer.error = err.code ?? err.message));
    socket.on("close", () => (peer.closed = true));
    if (options.shutsItsSide) socket.end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  defer(() => {
    peer.socket?.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return { peer, port: (server.address() as net.AddressInfo).port };
}

/** Has the peer write until it sees its connection reset (bounded); returns the error code it got, if any. */
async function probeForReset(peer: { socket: net.Socket | null; error: string | null; closed: boolean }) {
  peer.socket!.resume();
  for (let i = 0; i < 100 && peer.error === null && !peer.closed; i++) {
    peer.socket!.write("?");
    await new Promise((r) => setTimeout(r, 20));
  }
  return peer.error;
}

function lostDetail(events: TimelineEvent[]): string | undefined {
  const lost = events.find((e) => e.kind === "lifecycle" && e.conn === 1 && e.event === "lost");
  return lost?.kind === "lifecycle" ? lost.detail : undefined;
}

describe("abortConnection right after closeConnection", () => {
  it("resets a raw connection whose last bytes are still on their way, and records ConnectionAborted", async () => {
    const { peer, port } = await stubbornPeer({ shutsItsSide: false });
    const s = ok(await t.api.connect({ target: { host: "127.0.0.1", port } }));
    ok(await t.api.send({ session: s.id, conn: 1, data: "last words", encoding: "text" }));
    await waitFor(() => peer.socket !== null, "the peer's side");
    const closing = t.engine.closeConnection({ session: s.id, conn: 1 });
    const aborting = t.engine.abortConnection({ session: s.id, conn: 1 });
    await Promise.all([closing, aborting]);
    const events = await waitForTimeline(t.api, s.id, (e) => lostDetail(e) !== undefined, "the loss");
    expect(lostDetail(events)).toMatch(/^ConnectionAborted/);
    expect(await probeForReset(peer)).toMatch(/^(ECONNRESET|EPIPE)$/);
    const [info] = ok(await t.api.listSessions({}));
    expect(info!.connections[0]).toMatchObject({ state: "closed" });
  });

  it("resets a raw connection after the peer's FIN (half-closed), and records ConnectionAborted", async () => {
    const { peer, port } = await stubbornPeer({ shutsItsSide: true });
    const s = ok(await t.api.connect({ target: { host: "127.0.0.1", port } }));
    await waitForTimeline(
      t.api,
      s.id,
      (e) => e.some((x) => x.kind === "lifecycle" && x.event === "read-closed"),
      "the peer's FIN",
    );
    ok(await t.api.send({ session: s.id, conn: 1, data: "bye", encoding: "text" }));
    const closing = t.engine.closeConnection({ session: s.id, conn: 1 });
    const aborting = t.engine.abortConnection({ session: s.id, conn: 1 });
    await Promise.all([closing, aborting]);
    const events = await waitForTimeline(t.api, s.id, (e) => lostDetail(e) !== undefined, "the loss");
    expect(lostDetail(events)).toMatch(/^ConnectionAborted/);
    peer.socket!.resume();
    await waitFor(() => peer.closed || peer.error !== null, "the peer to see the connection go");
  });
});
