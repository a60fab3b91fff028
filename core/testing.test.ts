/**
 * The test doubles users test their protocols with (src/twisted/internet/testing.py; test_protocols.py's
 * "StringTransport rejects text").
 */
import { describe, expect, it } from "vitest";
import { IPv4Address, IPv6Address, UNIXAddress } from "./address.ts";
import { ConnectionDone } from "./errors.ts";
import type { IPullProducer, IPushProducer } from "./interfaces.ts";
import { ClientFactory, Factory, Protocol, ServerFactory } from "./protocol.ts";
import { Clock } from "./task.ts";
import {
  MemoryConnector,
  MemoryReactor,
  StringTransport,
  StringTransportWithDisconnection,
  checkBytes,
  connectedProtocol,
} from "./testing.ts";

class Recorder extends Protocol {
  lost: Error[] = [];
  override connectionLost(reason: Error): void {
    super.connectionLost(reason);
    this.lost.push(reason);
  }
}

const producer: IPushProducer = { pauseProducing() {}, resumeProducing() {}, stopProducing() {} };

describe("StringTransport", () => {
  it("rejects text with a TypeError, as a real transport does", () => {
    const t = new StringTransport();
    // The cast stands for JavaScript callers and `unknown` data: the type system alone would stop it.
    const text = "hello" as unknown as Uint8Array;
    expect(() => t.write(text)).toThrow(TypeError);
    expect(() => t.write(text)).toThrow(/must be bytes.*not a string; encode text first/);
    expect(() => t.writeSequence([Buffer.from("ok"), text])).toThrow(TypeError);
    expect(() => t.write(null as unknown as Uint8Array)).toThrow(/not null/);
  });

  it("records every write, in order, Buffers and plain Uint8Arrays alike", () => {
    const t = new StringTransport();
    t.write(Buffer.from("PING"));
    t.write(new Uint8Array([13, 10]));
    t.writeSequence([Buffer.from("a"), Buffer.from("b")]);
    expect(t.value().toString()).toBe("PING\r\nab");
    expect(t.value()).toBeInstanceOf(Buffer);
  });

  it("copies what is written, so the caller may reuse its buffer", () => {
    const t = new StringTransport();
    const buf = Buffer.from("abc");
    t.write(buf);
    buf.write("xyz");
    expect(t.value().toString()).toBe("abc");
  });

  it("clear() forgets what was written; value() is empty at first", () => {
    const t = new StringTransport();
    expect(t.value()).toEqual(Buffer.alloc(0));
    t.write(Buffer.from("x"));
    t.clear();
    expect(t.value().length).toBe(0);
  });

  it("loseConnection, abortConnection and loseWriteConnection only record", () => {
    const t = new StringTransport();
    const p = new Recorder();
    p.makeConnection(t);
    t.loseWriteConnection();
    expect(t.writeDisconnected).toBe(true);
    expect(t.disconnecting).toBe(false);
    t.loseConnection();
    expect(t.disconnecting).toBe(true);
    expect(p.lost).toEqual([]);
    const t2 = new StringTransport();
    t2.abortConnection();
    expect(t2.aborted).toBe(true);
    expect(t2.disconnecting).toBe(true);
  });

  it("registerProducer twice throws; unregister then register again works", () => {
    const t = new StringTransport();
    t.registerProducer(producer, true);
    expect(t.producer).toBe(producer);
    expect(t.streaming).toBe(true);
    const pull: IPullProducer = { resumeProducing() {}, stopProducing() {} };
    expect(() => t.registerProducer(pull, false)).toThrow("Cannot register two producers");
    t.unregisterProducer();
    expect(t.producer).toBeNull();
    expect(() => t.unregisterProducer()).toThrow();
    t.registerProducer(pull, false);
    expect(t.streaming).toBe(false);
  });

  it("tracks what the protocol asks of it as a producer", () => {
    const t = new StringTransport();
    expect(t.producerState).toBe("producing");
    t.pauseProducing();
    expect(t.producerState).toBe("paused");
    t.resumeProducing();
    expect(t.producerState).toBe("producing");
    t.stopProducing();
    expect(t.producerState).toBe("stopped");
    expect(() => t.resumeProducing()).toThrow(/stopped/);
    const closing = new StringTransport();
    closing.loseConnection();
    expect(() => closing.resumeProducing()).toThrow(/loseConnection/);
  });

  it("has default addresses, or the ones given, and caches TCP options", () => {
    const t = new StringTransport();
    expect(t.getHost()).toEqual(new IPv4Address("TCP", "10.0.0.1", 12345));
    expect(t.getPeer()).toEqual(new IPv4Address("TCP", "192.168.1.1", 54321));
    const host = new IPv6Address("TCP", "::1", 1);
    const peer = new IPv6Address("TCP", "::1", 2);
    const t2 = new StringTransport(host, peer);
    expect([t2.getHost(), t2.getPeer()]).toEqual([host, peer]);
    expect([t.getTcpNoDelay(), t.getTcpKeepAlive()]).toEqual([false, false]);
    t.setTcpNoDelay(true);
    t.setTcpKeepAlive(true);
    expect([t.getTcpNoDelay(), t.getTcpKeepAlive()]).toEqual([true, true]);
  });
});

describe("checkBytes", () => {
  it("accepts Uint8Array and Buffer, rejects the rest with the given name", () => {
    expect(() => checkBytes(new Uint8Array(1))).not.toThrow();
    expect(() => checkBytes(Buffer.alloc(1))).not.toThrow();
    expect(() => checkBytes([1, 2], "Line")).toThrow(/^Line must be bytes.*not object/);
    expect(() => checkBytes(new ArrayBuffer(2))).toThrow(TypeError);
  });
});

describe("StringTransportWithDisconnection", () => {
  it("delivers connectionLost(ConnectionDone) once, at loseConnection", () => {
    const t = new StringTransportWithDisconnection();
    const p = new Recorder();
    t.protocol = p;
    p.makeConnection(t);
    t.loseConnection();
    expect(p.lost).toHaveLength(1);
    expect(p.lost[0]).toBeInstanceOf(ConnectionDone);
    expect(p.connected).toBe(false);
    t.loseConnection();
    t.abortConnection();
    expect(p.lost).toHaveLength(1);
  });

  it("a protocol closing from inside connectionLost is not called back again", () => {
    const t = new StringTransportWithDisconnection();
    class Reentrant extends Recorder {
      override connectionLost(reason: Error): void {
        super.connectionLost(reason);
        this.transport.loseConnection();
      }
    }
    const p = new Reentrant();
    t.protocol = p;
    p.makeConnection(t);
    t.loseConnection();
    expect(p.lost).toHaveLength(1);
  });
});

describe("connectedProtocol", () => {
  it("builds a protocol from the factory and connects it to a StringTransport", () => {
    const factory = Factory.forProtocol(Recorder);
    const { protocol, transport } = connectedProtocol<Recorder>(factory);
    expect(protocol).toBeInstanceOf(Recorder);
    expect(protocol.connected).toBe(true);
    expect(protocol.transport).toBe(transport);
    expect(protocol.factory).toBe(factory);
  });

  it("throws when the factory refuses", () => {
    class Refusing extends Factory {
      override buildProtocol(): null {
        return null;
      }
    }
    expect(() => connectedProtocol(new Refusing())).toThrow(/refused/);
  });
});

describe("MemoryReactor", () => {
  it("is a Clock", () => {
    const reactor = new MemoryReactor();
    expect(reactor).toBeInstanceOf(Clock);
    const ran: number[] = [];
    reactor.callLater(1, () => ran.push(reactor.seconds()));
    reactor.advance(1);
    expect(ran).toEqual([1]);
  });

  it("records connectTCP's arguments, with Twisted's defaults, and returns a connector", () => {
    const reactor = new MemoryReactor();
    const factory = new ClientFactory();
    const c1 = reactor.connectTCP("example.com", 6379, factory);
    const c2 = reactor.connectTCP("10.0.0.2", 80, factory, { timeout: 7, bindAddress: ["10.0.0.1", 0] });

    expect(reactor.tcpClients).toEqual([
      { host: "example.com", port: 6379, factory, timeout: 30, bindAddress: null, tls: false, connector: c1 },
      { host: "10.0.0.2", port: 80, factory, timeout: 7, bindAddress: ["10.0.0.1", 0], tls: false, connector: c2 },
    ]);
    expect(c1).toBeInstanceOf(MemoryConnector);
    expect(c1.state).toBe("connecting");
    expect(c1.connectCount).toBe(1);
    expect(c2.getDestination()).toEqual(new IPv4Address("TCP", "10.0.0.2", 80));
  });

  it("gives an IPv6 destination for an IPv6 host", () => {
    const reactor = new MemoryReactor();
    const connector = reactor.connectTCP("::1", 6379, new ClientFactory());
    expect(connector.getDestination()).toEqual(new IPv6Address("TCP", "::1", 6379));
  });

  it("records connectSSL as a TLS client", () => {
    const reactor = new MemoryReactor();
    reactor.connectSSL("example.com", 443, new ClientFactory(), { servername: "example.com" }, { timeout: 5 });
    expect(reactor.tcpClients[0]).toMatchObject({ host: "example.com", port: 443, timeout: 5, tls: true });
  });

  it("records listenTCP's arguments, starts the factory, and stops it on stopListening", async () => {
    const reactor = new MemoryReactor();
    let started = 0;
    let stopped = 0;
    class Tracked extends ServerFactory {
      override startFactory(): void {
        started += 1;
      }
      override stopFactory(): void {
        stopped += 1;
      }
    }
    const factory = new Tracked();
    const port = reactor.listenTCP(8080, factory);
    reactor.listenTCP(8081, factory, { interface: "127.0.0.1", backlog: 5 });

    expect(reactor.tcpServers).toEqual([
      { port: 8080, factory, backlog: 50, interface: "", tls: false, listeningPort: port },
      { port: 8081, factory, backlog: 5, interface: "127.0.0.1", tls: false, listeningPort: expect.anything() },
    ]);
    expect(port.getHost()).toEqual(new IPv4Address("TCP", "0.0.0.0", 8080));
    await expect(port.listening).resolves.toBeUndefined();
    expect([started, stopped, factory.numPorts]).toEqual([1, 0, 2]);

    await port.stopListening();
    await port.stopListening(); // once only
    expect(port.stopped).toBe(true);
    expect(factory.numPorts).toBe(1);
    await reactor.tcpServers[1]!.listeningPort.stopListening();
    expect([started, stopped]).toEqual([1, 1]);
  });

  it("gives an IPv6 host address when listening on an IPv6 interface", () => {
    const reactor = new MemoryReactor();
    const port = reactor.listenTCP(8080, new ServerFactory(), { interface: "::" });
    expect(port.getHost()).toEqual(new IPv6Address("TCP", "::", 8080));
  });

  it("records UNIX clients and servers", () => {
    const reactor = new MemoryReactor();
    const factory = new Factory();
    const connector = reactor.connectUNIX("/tmp/sock", factory);
    const port = reactor.listenUNIX("/tmp/srv", factory, { mode: 0o600 });
    expect(reactor.unixClients).toEqual([{ path: "/tmp/sock", factory, timeout: 30 }]);
    expect(reactor.unixServers).toEqual([{ path: "/tmp/srv", factory, mode: 0o600 }]);
    expect(connector.getDestination()).toEqual(new UNIXAddress("/tmp/sock"));
    expect(port.getHost()).toEqual(new UNIXAddress("/tmp/srv"));
  });
});
