/**
 * STARTTLS through a proxy, over real sockets on 127.0.0.1: a leg protocol (in-process here; the sandbox's bridge
 * calls the same `startTLS`) upgrades the proxied connection right after forwarding the server's go-ahead. The
 * peers are a node:net server that turns TLS on "STARTTLS" (node:tls over its socket) and a node:net client that
 * turns TLS after the go-ahead: what each sent before goes in clear, what after, encrypted; the timeline of both
 * legs is plaintext, and both leg protocols hear of their handshake.
 */
import * as net from "node:net";
import * as tls from "node:tls";
import { afterEach, describe, expect, it } from "vitest";
import { Protocol, reactor, type Bytes, type IProtocol } from "../../core/index.ts";
import type { TLSDetails } from "../../preload/contract.ts";
import { MemoryTimeline } from "../../tests/helpers/memory-timeline.ts";
import { waitFor } from "../../tests/helpers/net.ts";
import { startTLSServer, TEST_TLS, tlsDetailsOf, until } from "../../tests/helpers/tls.ts";
import type { ForwardingTransport } from "./proxy-leg.ts";
import { Session, type ProtocolProvider } from "./session.ts";
import { TLS_HANDSHAKE_TIMEOUT_MS, type SessionTLSContext, type TLSHandshakeListener } from "./tls-stage.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The test certificate for localhost, trusted for upstreams as the test CA signed it. */
const context: SessionTLSContext = {
  serverOptions: () => Promise.resolve({ cert: TEST_TLS.cert, key: TEST_TLS.key }),
  insecureUpstream: false,
  trustedCAs: TEST_TLS.ca,
  handshakeTimeoutMs: TLS_HANDSHAKE_TIMEOUT_MS,
  failureContext: () => ({ caPath: null, certFile: TEST_TLS.certFile }),
};

/** A leg protocol that forwards what it receives and keeps the handshakes it hears of. */
class Forward extends Protocol implements TLSHandshakeListener {
  readonly handshakes: TLSDetails[] = [];
  override dataReceived(data: Bytes): void {
    this.transport.write(data);
  }
  handshakeCompleted(details: TLSDetails): void {
    this.handshakes.push(details);
  }
}

/** The upstream leg's: after forwarding the server's go-ahead, upgrades the proxied connection. */
class UpgradeOnGoAhead extends Forward {
  override dataReceived(data: Bytes): void {
    super.dataReceived(data);
    if (Buffer.from(data).toString("latin1").startsWith("220 ")) (this.transport as ForwardingTransport).startTLS();
  }
}

describe("STARTTLS through a proxy", () => {
  it("upgrades both legs at the go-ahead: clear before, encrypted after, plaintext on the timeline", async () => {
    const upstream = await startTLSServer();
    cleanups.push(() => upstream.close());
    const legs: Forward[] = [];
    const protocols: ProtocolProvider = {
      create: (file): IProtocol => {
        const leg = file === "server" ? new UpgradeOnGoAhead() : new Forward();
        legs.push(leg);
        return leg;
      },
    };
    const timeline = new MemoryTimeline();
    const s = new Session({
      id: "s1",
      kind: "proxy",
      name: "proxy",
      reactor,
      timeline,
      protocols,
      changed: () => {},
      tls: context,
    });
    cleanups.push(() => s.close());
    await s.startProxy({ port: 0 }, { host: "127.0.0.1", port: upstream.port }, "client", "server");
    const port = Number(s.listeningOn!.split(":").pop());

    const plain = net.connect({ host: "127.0.0.1", port });
    cleanups.push(() => plain.destroy());
    await until(plain, "hello\r\n");
    plain.write("STARTTLS\r\n");
    await until(plain, "220 go ahead\r\n");
    const secure = tls.connect({ socket: plain, servername: "localhost", ca: TEST_TLS.ca });
    await new Promise<void>((resolve, reject) => {
      secure.once("secureConnect", () => resolve());
      secure.once("error", reject);
    });
    expect(secure.authorized).toBe(true);
    secure.write("secret");
    await until(secure, "SECRET");

    await waitFor(() => timeline.bytes(1, "out").endsWith("SECRET"), "the answer recorded");
    expect(timeline.bytes(1, "in")).toBe("STARTTLS\r\nsecret");
    expect(timeline.bytes(1, "out")).toBe("hello\r\n220 go ahead\r\nSECRET");
    expect(timeline.bytes(2, "out")).toBe("STARTTLS\r\nsecret");
    expect(timeline.bytes(2, "in")).toBe("hello\r\n220 go ahead\r\nSECRET");
    expect(tlsDetailsOf(timeline.events, 1)).toMatchObject({ side: "server", sni: "localhost", verified: true });
    expect(tlsDetailsOf(timeline.events, 2)).toMatchObject({ side: "client", sni: "localhost", verified: true });
    expect(upstream.servername()).toBe("localhost");
    // Each leg protocol heard its own leg's handshake.
    expect(legs.map((l) => l.handshakes.map((d) => d.side))).toEqual([["server"], ["client"]]);
    expect(s.info().connections.map((c) => c.tls?.side)).toEqual(["server", "client"]);
  });
});
