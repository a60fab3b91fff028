/**
 * Sessions over real sockets on 127.0.0.1: client, listener and proxy, recorded on a timeline.
 */
import * as net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { Factory, Protocol, reactor, type Bytes, type IProtocol } from "../../core/index.ts";
import { MemoryTimeline } from "../../tests/helpers/memory-timeline.ts";
import { freePort, listenLocal, waitFor } from "../../tests/helpers/net.ts";
import { EngineError } from "./errors.ts";
import { rawProtocols, Session, type ProtocolProvider, type SessionKind } from "./session.ts";
import { Echo } from "../../core/protocols/wire.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

let ids = 0;
function session(
  kind: SessionKind,
  protocols: ProtocolProvider = rawProtocols,
): { s: Session; timeline: MemoryTimeline } {
  const timeline = new MemoryTimeline();
  const s = new Session({
    id: `s${++ids}`,
    kind,
    name: kind,
    reactor,
    timeline,
    protocols,
    changed: () => {},
  });
  cleanups.push(() => s.close());
  return { s, timeline };
}

async function echoServer(): Promise<number> {
  const { port, portNumber } = await listenLocal(Factory.forProtocol(Echo));
  cleanups.push(() => port.stopListening());
  return portNumber;
}

/** What a proxy leg's protocol writes goes to the other side: this one forwards what it receives... */
class Passthrough extends Protocol {
  override dataReceived(data: Bytes): void {
    this.transport.write(data);
  }
}

/** ...and this one rewrites it on the way. */
class Upper extends Protocol {
  override dataReceived(data: Bytes): void {
    this.transport.write(Buffer.from(Buffer.from(data).toString("latin1").toUpperCase(), "latin1"));
  }
}

/** ...and this one greets the upstream as soon as the client is accepted, before the upstream is connected. */
class Greet extends Passthrough {
  override connectionMade(): void {
    this.transport.write(Buffer.from("hello\n"));
    this.transport.writeSequence([Buffer.from("there\n")]);
  }
}

/** Protocols that run in-process (no sandbox), by name. */
const inProcess: ProtocolProvider = {
  create: (protocol): IProtocol =>
    protocol === "upper" ? new Upper() : protocol === "greet" ? new Greet() : new Passthrough(),
};

describe("client sessions", () => {
  it("closed twice (the CLI, then the engine at exit), notes its close once", async () => {
    const port = await echoServer();
    const { s, timeline } = session("client");
    await s.startClient({ host: "127.0.0.1", port }, null);
    await Promise.all([s.close(), s.close()]);
    await s.close();
    const closes = timeline.events.filter((e) => e.kind === "lifecycle" && e.event === "closed");
    expect(closes).toHaveLength(1);
  });

  it("connects, sends, records both directions and the lifecycle", async () => {
    const port = await echoServer();
    const { s, timeline } = session("client");
    await s.startClient({ host: "127.0.0.1", port }, null);
    expect(s.info().state).toBe("connected");
    expect(s.target).toBe(`tcp:host=127.0.0.1:port=${port}`);
    s.send(1, Buffer.from("hello\r\n"));
    await waitFor(() => timeline.bytes(1, "in") === "hello\r\n", "echo recorded");
    expect(timeline.bytes(1, "out")).toBe("hello\r\n");
    const c = s.info().connections[0]!;
    expect(c).toMatchObject({ conn: 1, state: "connected", bytesIn: 7, bytesOut: 7, peer: `127.0.0.1:${port}` });
    s.closeConnection(1);
    await waitFor(() => s.info().connections[0]!.state === "closed", "closed");
    expect(timeline.lifecycleEvents(1)).toEqual(["connecting", "connected", "lost"]);
    expect(s.info().connections[0]!.reason).toMatch(/^ConnectionDone/);
    expect(() => s.send(1, Buffer.from("late"))).toThrow(/is closed: can't send/);
  });

  it("accepts Twisted endpoint strings and reconnects on the same timeline", async () => {
    const port = await echoServer();
    const { s, timeline } = session("client");
    await s.startClient({ endpoint: `tcp:127.0.0.1:${port}` }, null);
    s.abortConnection(1);
    await waitFor(() => s.info().connections[0]!.state === "closed", "aborted");
    expect(s.info().connections[0]!.reason).toMatch(/^ConnectionAborted/);
    await s.connectClient();
    expect(s.info().connections.map((c) => [c.conn, c.state])).toEqual([
      [1, "closed"],
      [2, "connected"],
    ]);
    s.send(2, Buffer.from("again"));
    await waitFor(() => timeline.bytes(2, "in") === "again", "echo on the new connection");
  });

  it("a refused connection fails with the core's reason, recorded", async () => {
    const { s, timeline } = session("client");
    const port = await freePort();
    const err = await s.startClient({ host: "127.0.0.1", port }, null).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect((err as EngineError).code).toBe("ConnectionRefusedError");
    expect((err as EngineError).message).toMatch(/Could not connect to .*refused/);
    expect(s.info()).toMatchObject({ state: "failed" });
    expect(timeline.lifecycleEvents(1)).toEqual(["connecting", "failed"]);
  });

  it("an unknown endpoint type is explained", async () => {
    const { s } = session("client");
    const err = await s.startClient({ endpoint: "tpc:127.0.0.1:80" }, null).catch((e: unknown) => e);
    expect((err as EngineError).code).toBe("bad-endpoint");
    expect((err as EngineError).message).toMatch(/Unknown endpoint type: 'tpc'/);
  });

  it("records the peer's half-close and keeps the connection open for us to write", async () => {
    let serverGot = "";
    const server = net.createServer({ allowHalfOpen: true }, (socket) => {
      socket.end("bye"); // FIN after a last word; keeps reading
      socket.on("data", (d) => {
        serverGot += d.toString();
        socket.destroy();
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const { s, timeline } = session("client");
    await s.startClient({ host: "127.0.0.1", port: (server.address() as net.AddressInfo).port }, null);
    await waitFor(() => s.info().connections[0]!.state === "half-closed", "half-closed");
    expect(timeline.bytes(1, "in")).toBe("bye");
    s.send(1, Buffer.from("still here"));
    await waitFor(() => serverGot === "still here", "the server got our bytes after its FIN");
    // Both directions are shut once we shut ours: the connection ends cleanly.
    s.halfCloseConnection(1);
    await waitFor(() => s.info().connections[0]!.state === "closed", "closed");
    expect(timeline.lifecycleEvents(1)).toEqual(["connecting", "connected", "read-closed", "write-closed", "lost"]);
    expect(s.info().connections[0]!.reason).toMatch(/^ConnectionDone/);
  });
});

describe("listeners", () => {
  it("binds 127.0.0.1 by default and records 200 connections at once", async () => {
    const { s, timeline } = session("listener");
    await s.startListener({ port: 0 }, null);
    const info = s.info();
    expect(info.state).toBe("listening");
    expect(info.listeningOn).toMatch(/^127\.0\.0\.1:\d+$/);
    const port = Number(info.listeningOn!.split(":")[1]);
    const N = 200;
    const clients = await Promise.all(
      Array.from(
        { length: N },
        (_, i) =>
          new Promise<net.Socket>((resolve, reject) => {
            const c = net.connect({ host: "127.0.0.1", port }, () => {
              c.write(`client ${i}\n`);
              resolve(c);
            });
            c.on("error", reject);
          }),
      ),
    );
    await waitFor(() => s.info().connections.length === N && s.info().bytesIn === sum(N), "all bytes in");
    expect(new Set(s.info().connections.map((c) => c.conn)).size).toBe(N);
    for (const c of clients) c.end();
    await waitFor(() => s.info().connections.every((c) => c.state !== "connected"), "all half-closed or closed");
    expect(timeline.events.filter((e) => e.kind === "data").length).toBe(N);
  });

  it("an endpoint string without an interface still binds 127.0.0.1; a port in use is explained", async () => {
    const { s } = session("listener");
    await s.startListener({ endpoint: "tcp:0" }, null);
    expect(s.info().listeningOn).toMatch(/^127\.0\.0\.1:/);
    const port = Number(s.info().listeningOn!.split(":")[1]);
    const { s: second } = session("listener");
    const err = await second.startListener({ port }, null).catch((e: unknown) => e);
    expect((err as EngineError).code).toBe("cannot-listen");
    expect((err as EngineError).message).toMatch(/EADDRINUSE/);
    expect(s.info().state).toBe("listening");
  });
});

function sum(n: number): number {
  let total = 0;
  for (let i = 0; i < n; i++) total += `client ${i}\n`.length;
  return total;
}

describe("proxies", () => {
  it("forwards both ways and records both legs as one conversation", async () => {
    const upstream = await echoServer();
    const { s, timeline } = session("proxy");
    await s.startProxy({ port: 0 }, { host: "127.0.0.1", port: upstream }, null, null);
    const port = Number(s.info().listeningOn!.split(":")[1]);
    const payload = Buffer.alloc(2 * 1024 * 1024, "proxied ");
    const got = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let n = 0;
      const c = net.connect({ host: "127.0.0.1", port }, () => c.write(payload));
      c.on("data", (d) => {
        chunks.push(d);
        n += d.length;
        if (n >= payload.length) c.end();
      });
      c.on("close", () => resolve(Buffer.concat(chunks)));
      c.on("error", reject);
    });
    expect(got.equals(payload)).toBe(true);
    await waitFor(() => s.info().connections.every((c) => c.state === "closed"), "both legs closed");
    const [client, server] = s.info().connections;
    expect(client).toMatchObject({
      conn: 1,
      leg: "client",
      pairedWith: 2,
      bytesIn: payload.length,
      bytesOut: payload.length,
    });
    expect(server).toMatchObject({
      conn: 2,
      leg: "server",
      pairedWith: 1,
      bytesIn: payload.length,
      bytesOut: payload.length,
    });
    // The client's FIN was passed on upstream as a half-close, then the echo server closed.
    expect(timeline.lifecycleEvents(2)).toEqual(["connecting", "connected", "write-closed", "read-closed", "lost"]);
  });

  it("runs a protocol on each leg: what it writes goes to the other side, and is recorded as sent", async () => {
    const upstream = await echoServer();
    const { s, timeline } = session("proxy", inProcess);
    await s.startProxy({ port: 0 }, { host: "127.0.0.1", port: upstream }, "upper", "passthrough");
    const port = Number(s.info().listeningOn!.split(":")[1]);
    const payload = Buffer.alloc(1024 * 1024, "proxied ");
    const got = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const c = net.connect({ host: "127.0.0.1", port }, () => c.end(payload));
      c.on("data", (d) => chunks.push(d));
      c.on("close", () => resolve(Buffer.concat(chunks)));
      c.on("error", reject);
    });
    const upper = payload.toString().toUpperCase();
    expect(got.toString()).toBe(upper);
    await waitFor(() => s.info().connections.every((c) => c.state === "closed"), "both legs closed");
    expect(timeline.bytes(1, "in")).toBe(payload.toString());
    expect(timeline.bytes(2, "out")).toBe(upper);
    expect(timeline.bytes(2, "in")).toBe(upper);
    expect(timeline.bytes(1, "out")).toBe(upper);
    expect(timeline.lifecycleEvents(2)).toEqual(["connecting", "connected", "write-closed", "read-closed", "lost"]);
  });

  it("what a client leg's protocol writes before the upstream is connected is sent first, in order", async () => {
    const upstream = await echoServer();
    const { s, timeline } = session("proxy", inProcess);
    await s.startProxy({ port: 0 }, { host: "127.0.0.1", port: upstream }, "greet", null);
    const port = Number(s.info().listeningOn!.split(":")[1]);
    const got = await new Promise<string>((resolve, reject) => {
      let text = "";
      const c = net.connect({ host: "127.0.0.1", port }, () => c.write("and you\n"));
      c.on("data", (d) => {
        text += d.toString();
        if (text.endsWith("and you\n")) {
          c.end();
          resolve(text);
        }
      });
      c.on("error", reject);
    });
    expect(got).toBe("hello\nthere\nand you\n");
    expect(timeline.bytes(2, "out")).toBe("hello\nthere\nand you\n");
  });

  it("a client that does not read slows the upstream through protocol legs, then gets every byte", async () => {
    const TOTAL = 64 * 1024 * 1024;
    const flood = net.createServer((socket) => {
      const chunk = Buffer.alloc(64 * 1024, "z");
      let sent = 0;
      const more = () => {
        while (sent < TOTAL) {
          sent += chunk.length;
          if (!socket.write(chunk)) return void socket.once("drain", more);
        }
        socket.end();
      };
      socket.on("error", () => {});
      more();
    });
    await new Promise<void>((r) => flood.listen(0, "127.0.0.1", r));
    cleanups.push(() => new Promise((r) => flood.close(r)));
    const { s, timeline } = session("proxy", inProcess);
    const upstream = (flood.address() as net.AddressInfo).port;
    await s.startProxy({ port: 0 }, { host: "127.0.0.1", port: upstream }, "passthrough", "passthrough");
    const port = Number(s.info().listeningOn!.split(":")[1]);
    const c = net.connect({ host: "127.0.0.1", port });
    c.pause();
    cleanups.push(() => c.destroy());
    const read = () => s.info().connections.find((x) => x.leg === "server")?.bytesIn ?? 0;
    let last = -1;
    while (read() !== last || last <= 0) {
      last = read();
      await new Promise((r) => setTimeout(r, 300));
    }
    // About 4 MiB here (socket buffers): without flow control the proxy would read all 64 MiB and hold them.
    expect(last).toBeLessThan(TOTAL / 2);
    let received = 0;
    c.on("data", (d: Buffer) => (received += d.length));
    const ended = new Promise((r) => c.on("end", r));
    c.resume();
    await ended;
    expect(received).toBe(TOTAL);
    // The stall is on the timeline: the upstream leg's reading was paused, then resumed.
    const upstreamConn = s.info().connections.find((x) => x.leg === "server")!.conn;
    const flow = timeline.lifecycleEvents(upstreamConn).filter((e) => e === "paused" || e === "resumed");
    expect(flow[0]).toBe("paused");
    expect(flow).toContain("resumed");
  });

  it("closes the client leg when the upstream refuses", async () => {
    const { s, timeline } = session("proxy");
    await s.startProxy({ port: 0 }, { host: "127.0.0.1", port: await freePort() }, null, null);
    const port = Number(s.info().listeningOn!.split(":")[1]);
    await new Promise<void>((resolve) => {
      const c = net.connect({ host: "127.0.0.1", port });
      c.on("close", () => resolve());
      c.on("error", () => {});
    });
    await waitFor(() => timeline.lifecycleEvents(2).includes("failed"), "upstream failure recorded");
    await waitFor(() => s.info().connections[0]!.state === "closed", "client leg closed");
  });
});
