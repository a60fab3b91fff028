/**
 * `startTLS` on a session's direct connections, over real sockets on 127.0.0.1, with in-process protocols (the
 * sandbox's bridge calls the same method): a client connection that upgrades after the server's go-ahead (the
 * server's certificate verified against the session's trusted CAs), an accepted one that upgrades after sending
 * its go-ahead (its certificate from the session), and the key log each keeps, in SSLKEYLOGFILE's shape, naming the
 * ClientHello's random as it went over the wire.
 */
import * as net from "node:net";
import * as tls from "node:tls";
import { afterEach, describe, expect, it } from "vitest";
import { Protocol, reactor, type Bytes } from "../../core/index.ts";
import type { TLSDetails } from "../../preload/contract.ts";
import { MemoryTimeline } from "../../tests/helpers/memory-timeline.ts";
import { waitFor } from "../../tests/helpers/net.ts";
import { startTLSServer, TEST_TLS, tlsDetailsOf, until } from "../../tests/helpers/tls.ts";
import type { RecordingProtocol } from "./recording-protocol.ts";
import { Session, type ProtocolProvider, type SessionKind } from "./session.ts";
import { exportTLSKeys } from "./tls-keys.ts";
import { TLS_HANDSHAKE_TIMEOUT_MS, type SessionTLSContext } from "./tls-stage.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const context: SessionTLSContext = {
  serverOptions: () => Promise.resolve({ cert: TEST_TLS.cert, key: TEST_TLS.key }),
  insecureUpstream: false,
  trustedCAs: TEST_TLS.ca,
  handshakeTimeoutMs: TLS_HANDSHAKE_TIMEOUT_MS,
  failureContext: () => ({ caPath: null, certFile: TEST_TLS.certFile }),
};

function session(kind: SessionKind, protocols: ProtocolProvider): { s: Session; timeline: MemoryTimeline } {
  const timeline = new MemoryTimeline();
  const s = new Session({ id: "s1", kind, name: kind, reactor, timeline, protocols, changed: () => {}, tls: context });
  cleanups.push(() => s.close());
  return { s, timeline };
}

/** The client: says STARTTLS after the greeting, upgrades at the go-ahead, then sends its secret. */
class ClientStartTLS extends Protocol {
  handshake: TLSDetails | null = null;
  override dataReceived(data: Bytes): void {
    const text = Buffer.from(data).toString("latin1");
    if (text.includes("hello")) this.transport.write(Buffer.from("STARTTLS\r\n"));
    if (text.includes("220 ")) (this.transport as RecordingProtocol).startTLS({ servername: "localhost" });
  }
  handshakeCompleted(details: TLSDetails): void {
    this.handshake = details;
    this.transport.write(Buffer.from("secret"));
  }
}

/** The server: answers STARTTLS with the go-ahead and upgrades; then answers in upper case. */
class ServerStartTLS extends Protocol {
  override dataReceived(data: Bytes): void {
    const text = Buffer.from(data).toString("latin1");
    if (text === "STARTTLS\r\n") {
      this.transport.write(Buffer.from("220 go ahead\r\n"));
      (this.transport as RecordingProtocol).startTLS();
      return;
    }
    this.transport.write(Buffer.from(text.toUpperCase()));
  }
}

/** The lines of an SSLKEYLOGFILE for TLS 1.3 (NSS's key log format), each naming a 32-byte client random. */
const KEY_LOG_LINE =
  /^(CLIENT_HANDSHAKE_TRAFFIC_SECRET|SERVER_HANDSHAKE_TRAFFIC_SECRET|CLIENT_TRAFFIC_SECRET_0|SERVER_TRAFFIC_SECRET_0|EXPORTER_SECRET) ([0-9a-f]{64}) [0-9a-f]{64,96}$/;

describe("startTLS on a session's connections", () => {
  it("upgrades a client connection after the server's go-ahead, verifying the server", async () => {
    const upstream = await startTLSServer();
    cleanups.push(() => upstream.close());
    const protocol = new ClientStartTLS();
    const { s, timeline } = session("client", { create: () => protocol });
    await s.startClient({ host: "127.0.0.1", port: upstream.port }, "client");
    await waitFor(() => timeline.bytes(1, "in").endsWith("SECRET"), "the upper-cased secret");
    expect(timeline.bytes(1, "out")).toBe("STARTTLS\r\nsecret");
    expect(timeline.bytes(1, "in")).toBe("hello\r\n220 go ahead\r\nSECRET");
    expect(protocol.handshake).toMatchObject({ side: "client", sni: "localhost", verified: true });
    expect(tlsDetailsOf(timeline.events, 1)).toEqual(protocol.handshake);
    expect(upstream.servername()).toBe("localhost");
    expect(s.connection(1).tlsKeys.every((line) => KEY_LOG_LINE.test(line))).toBe(true);
  });

  it("upgrades an accepted connection after its go-ahead; its key log names the client's random", async () => {
    const { s, timeline } = session("listener", { create: () => new ServerStartTLS() });
    await s.startListener({ port: 0 }, "server");
    const port = Number(s.listeningOn!.split(":").pop());
    // A relay in front of the listener keeps what the client really sent, ClientHello included.
    const sent: Buffer[] = [];
    const relay = net.createServer((c) => {
      const u = net.connect({ host: "127.0.0.1", port });
      c.on("data", (d: Buffer) => (sent.push(d), u.write(d)));
      u.pipe(c);
      c.on("error", () => u.destroy());
      u.on("error", () => c.destroy());
    });
    await new Promise<void>((resolve) => relay.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise<void>((resolve) => relay.close(() => resolve())));
    const plain = net.connect({ host: "127.0.0.1", port: (relay.address() as net.AddressInfo).port });
    cleanups.push(() => plain.destroy());
    plain.write("STARTTLS\r\n");
    await until(plain, "220 go ahead\r\n");
    const clientKeys: string[] = [];
    const secure = tls.connect({ socket: plain, servername: "localhost", ca: TEST_TLS.ca });
    secure.on("keylog", (line: Buffer) => clientKeys.push(line.toString().trimEnd()));
    secure.write("ping");
    await until(secure, "PING");
    expect(secure.authorized).toBe(true);
    expect(timeline.bytes(1, "in")).toBe("STARTTLS\r\nping");
    expect(timeline.bytes(1, "out")).toBe("220 go ahead\r\nPING");

    const wire = Buffer.concat(sent);
    const hello = wire.subarray("STARTTLS\r\n".length);
    expect(hello[0]).toBe(0x16); // a TLS handshake record, then a ClientHello
    expect(hello[5]).toBe(0x01);
    const random = hello.subarray(11, 43).toString("hex");
    const { text, lines, connections } = exportTLSKeys(s.connections.values());
    const logged = text.trimEnd().split("\n");
    expect({ lines, connections }).toEqual({ lines: logged.length, connections: 1 });
    expect(logged.length).toBeGreaterThanOrEqual(5);
    for (const line of logged) expect(line).toMatch(KEY_LOG_LINE);
    expect(new Set(logged.map((line) => KEY_LOG_LINE.exec(line)![2]))).toEqual(new Set([random]));
    // The same secrets the client derived: with them, a capture of this connection decrypts.
    expect(new Set(logged)).toEqual(new Set(clientKeys));
    expect(s.info().connections[0]!.tlsKeys).toBe(logged.length);
  });
});
