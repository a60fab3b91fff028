/**
 * Policies (ported from Twisted's test/test_policies.py): wrappers over StringTransport, throttling and timeouts on
 * a Clock, traffic logging, and the same wrappers over real sockets on 127.0.0.1.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { deferred, listenLocal, waitFor } from "../../tests/helpers/net.ts";
import { IPv4Address, type Address } from "../address.ts";
import { ConnectionAborted, ConnectionDone } from "../errors.ts";
import type { Bytes, IConnector, IHalfCloseableProtocol, IProtocol, IPushProducer } from "../interfaces.ts";
import { ClientFactory, Factory, Protocol, ServerFactory } from "../protocol.ts";
import { reactor } from "../reactor.ts";
import { Clock, MemoryConnector, StringTransport, StringTransportWithDisconnection } from "../testing.ts";
import {
  bytesRepr,
  formatTrafficLogLine,
  LimitConnectionsByPeer,
  LimitTotalConnectionsFactory,
  ProtocolWrapper,
  ThrottlingFactory,
  timeoutMixin,
  TimeoutFactory,
  TrafficLogFileSink,
  TrafficLoggingFactory,
  WrappingFactory,
  type ThrottlingProtocol,
  type TimeoutProtocol,
  type TrafficLogEntry,
  type TrafficLoggingProtocol,
  type TrafficLogStream,
} from "./policies.ts";

const addr = new IPv4Address("TCP", "127.0.0.1", 35);

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Records whether it connected and disconnected, and what it received (Twisted's SimpleProtocol). */
class SimpleProtocol extends Protocol {
  made = false;
  disconnected = false;
  reason: Error | null = null;
  buffer = Buffer.alloc(0);
  override connectionMade(): void {
    this.made = true;
  }
  override connectionLost(reason: Error): void {
    super.connectionLost(reason);
    this.disconnected = true;
    this.reason = reason;
  }
  override dataReceived(data: Bytes): void {
    this.buffer = Buffer.concat([this.buffer, data]);
  }
}

/** An echo protocol that is also a push producer, recording whether it is paused (Twisted's EchoProtocol). */
class EchoProtocol extends Protocol implements IPushProducer {
  paused = false;
  pauseProducing(): void {
    this.paused = true;
  }
  resumeProducing(): void {
    this.paused = false;
  }
  stopProducing(): void {}
  override dataReceived(data: Bytes): void {
    this.transport.write(data);
  }
}

/** A server factory of EchoProtocol (Twisted's Server). */
class Server extends ServerFactory {
  override protocol = EchoProtocol;
}

/** A wrapper connected to a StringTransport (Twisted's `_getWrapper`). */
function getWrapper(): { wrapper: ProtocolWrapper; transport: StringTransport; inner: Protocol } {
  const inner = new Protocol();
  const wrapper = new ProtocolWrapper(new WrappingFactory(new Server()), inner);
  const transport = new StringTransport();
  wrapper.makeConnection(transport);
  return { wrapper, transport, inner };
}

/** Builds `factory`'s protocol and connects it to a StringTransportWithDisconnection. */
function connectWrapper<P extends IProtocol>(factory: { buildProtocol(a: Address): IProtocol | null }) {
  const protocol = factory.buildProtocol(new IPv4Address("TCP", "127.0.0.1", 0)) as P;
  const transport = new StringTransportWithDisconnection();
  transport.protocol = protocol;
  protocol.makeConnection(transport);
  return { protocol, transport };
}

describe("ProtocolWrapper and WrappingFactory", () => {
  it("gives the inner protocol the wrapped factory, not the wrapping one (test_protocolFactoryAttribute)", () => {
    const f = new Server();
    const p = new WrappingFactory(f).buildProtocol(addr)!;
    expect((p.wrappedProtocol as EchoProtocol).factory).toBe(f);
  });

  it("names both factories in its log prefix (test_factoryLogPrefix and fallback)", () => {
    expect(new WrappingFactory(new Server()).logPrefix()).toBe("Server (WrappingFactory)");
    const withPrefix = Object.assign(new Server(), { logPrefix: () => "custom" });
    expect(new WrappingFactory(withPrefix).logPrefix()).toBe("custom (WrappingFactory)");
  });

  it("names both protocols in its log prefix (test_protocolLogPrefix)", () => {
    const p = new WrappingFactory(new Server()).buildProtocol(addr)!;
    expect(p.logPrefix()).toBe("EchoProtocol (ProtocolWrapper)");
  });

  it("forwards getHost, getPeer and the TCP options to the real transport", () => {
    const { wrapper, transport } = getWrapper();
    expect(wrapper.getHost()).toBe(transport.getHost());
    expect(wrapper.getPeer()).toBe(transport.getPeer());
    wrapper.setTcpNoDelay(true);
    wrapper.setTcpKeepAlive(true);
    expect(transport.getTcpNoDelay()).toBe(true);
    expect(wrapper.getTcpKeepAlive()).toBe(true);
  });

  it("forwards registerProducer and unregisterProducer", () => {
    const { wrapper, transport } = getWrapper();
    const producer = new EchoProtocol();
    wrapper.registerProducer(producer, true);
    expect(transport.producer).toBe(producer);
    expect(transport.streaming).toBe(true);
    wrapper.unregisterProducer();
    expect(transport.producer).toBeNull();
    expect(transport.streaming).toBeNull();
  });

  it("forwards pauseProducing, resumeProducing and stopProducing", () => {
    const { wrapper, transport } = getWrapper();
    wrapper.pauseProducing();
    expect(transport.producerState).toBe("paused");
    wrapper.resumeProducing();
    expect(transport.producerState).toBe("producing");
    wrapper.stopProducing();
    expect(transport.producerState).toBe("stopped");
  });

  it("is the inner protocol's transport: writes, closes and aborts go to the real one", () => {
    const { wrapper, transport, inner } = getWrapper();
    expect(inner.transport).toBe(wrapper);
    inner.transport.write(Buffer.from("a"));
    inner.transport.writeSequence([Buffer.from("b"), Buffer.from("c")]);
    expect(transport.value().toString()).toBe("abc");
    inner.transport.loseWriteConnection();
    expect(transport.writeDisconnected).toBe(true);
    expect(inner.transport.disconnecting).toBe(false);
    inner.transport.abortConnection();
    expect(transport.aborted).toBe(true);
    expect(inner.transport.disconnecting).toBe(true);
  });

  it("reports disconnecting after loseConnection, or when the real transport is closing", () => {
    const a = getWrapper();
    a.inner.transport.loseConnection();
    expect(a.wrapper.disconnecting).toBe(true);
    expect(a.transport.disconnecting).toBe(true);
    const b = getWrapper();
    b.transport.loseConnection();
    expect(b.inner.transport.disconnecting).toBe(true);
  });

  it("forwards startedConnecting, clientConnectionFailed and clientConnectionLost to a client factory", () => {
    const calls: unknown[][] = [];
    class Hooks extends ClientFactory {
      override startedConnecting(c: IConnector): void {
        calls.push(["started", c]);
      }
      override clientConnectionFailed(c: IConnector, r: Error): void {
        calls.push(["failed", c, r]);
      }
      override clientConnectionLost(c: IConnector, r: Error): void {
        calls.push(["lost", c, r]);
      }
    }
    const wrapper = new WrappingFactory(new Hooks());
    const connector = new MemoryConnector(addr);
    const reason = new ConnectionDone();
    wrapper.startedConnecting(connector);
    wrapper.clientConnectionFailed(connector, reason);
    wrapper.clientConnectionLost(connector, reason);
    expect(calls).toEqual([
      ["started", connector],
      ["failed", connector, reason],
      ["lost", connector, reason],
    ]);
  });

  it("ignores the client hooks when the wrapped factory has none", () => {
    const plain = { buildProtocol: () => null, doStart() {}, doStop() {} };
    const wrapper = new WrappingFactory(plain);
    const connector = new MemoryConnector(addr);
    expect(() => wrapper.startedConnecting(connector)).not.toThrow();
    expect(() => wrapper.clientConnectionFailed(connector, new ConnectionDone())).not.toThrow();
    expect(() => wrapper.clientConnectionLost(connector, new ConnectionDone())).not.toThrow();
  });

  it("starts and stops the wrapped factory with itself", () => {
    const events: string[] = [];
    class Inner extends Server {
      override startFactory(): void {
        events.push("inner start");
      }
      override stopFactory(): void {
        events.push("inner stop");
      }
    }
    class Outer extends WrappingFactory {
      override startFactory(): void {
        events.push("outer start");
      }
      override stopFactory(): void {
        events.push("outer stop");
      }
    }
    const f = new Outer(new Inner());
    f.doStart();
    f.doStop();
    expect(events).toEqual(["inner start", "outer start", "inner stop", "outer stop"]);
  });

  it("refuses the connection when the wrapped factory does", () => {
    const f = new WrappingFactory({ buildProtocol: () => null, doStart() {}, doStop() {} });
    expect(f.buildProtocol(addr)).toBeNull();
  });

  it("registers with the factory before the inner connectionMade, unregisters before the inner connectionLost", () => {
    const seen: boolean[] = [];
    const factory = new WrappingFactory(new Server());
    class Inner extends Protocol {
      override connectionMade(): void {
        seen.push(factory.protocols.has(this.transport as ProtocolWrapper));
      }
      override connectionLost(_reason: Error): void {
        seen.push(factory.protocols.size > 0);
      }
    }
    const wrapper = new ProtocolWrapper(factory, new Inner());
    const transport = new StringTransportWithDisconnection();
    transport.protocol = wrapper;
    wrapper.makeConnection(transport);
    expect(factory.protocols.has(wrapper)).toBe(true);
    transport.loseConnection();
    expect(seen).toEqual([true, false]);
    expect(factory.protocols.size).toBe(0);
  });

  it("drops the inner protocol on connection loss (test_breakReferenceCycle)", () => {
    const inner = new SimpleProtocol();
    const wrapper = new ProtocolWrapper(new WrappingFactory(new Server()), inner);
    const transport = new StringTransportWithDisconnection();
    transport.protocol = wrapper;
    wrapper.makeConnection(transport);
    expect(wrapper.wrappedProtocol).toBe(inner);
    transport.loseConnection();
    expect(wrapper.wrappedProtocol).toBeNull();
    expect(inner.disconnected).toBe(true);
    expect(inner.reason).toBeInstanceOf(ConnectionDone);
    // A second loss and late data are ignored.
    wrapper.connectionLost(new ConnectionDone());
    wrapper.dataReceived(Buffer.from("late"));
    expect(inner.buffer.length).toBe(0);
  });

  it("passes half-close events to a half-closeable inner protocol", () => {
    class HalfCloser extends Protocol implements IHalfCloseableProtocol {
      events: string[] = [];
      readConnectionLost(): void {
        this.events.push("read");
      }
      writeConnectionLost(): void {
        this.events.push("write");
      }
    }
    const inner = new HalfCloser();
    const wrapper = new ProtocolWrapper(new WrappingFactory(new Server()), inner);
    const transport = new StringTransport();
    wrapper.makeConnection(transport);
    wrapper.readConnectionLost();
    wrapper.writeConnectionLost();
    expect(inner.events).toEqual(["read", "write"]);
    expect(transport.disconnecting).toBe(false);
  });

  it("closes the connection on the peer's FIN when the inner protocol is not half-closeable", () => {
    const { wrapper, transport } = getWrapper();
    wrapper.readConnectionLost();
    expect(transport.disconnecting).toBe(true);
    expect(() => wrapper.writeConnectionLost()).not.toThrow();
  });
});

describe("ThrottlingFactory", () => {
  it("counts bytes written with writeSequence (test_writeSequence)", () => {
    const tServer = new ThrottlingFactory(new Server(), { clock: new Clock() });
    const { protocol, transport } = connectWrapper<ThrottlingProtocol>(tServer);
    protocol.writeSequence(Array.from({ length: 4 }, () => Buffer.from("bytes")));
    expect(transport.value().toString()).toBe("bytesbytesbytesbytes");
    expect(tServer.writtenThisSecond).toBe(20);
  });

  it("pauses the producer for a second after a second over writeLimit (test_writeLimit)", () => {
    const clock = new Clock();
    const tServer = new ThrottlingFactory(new Server(), { writeLimit: 10, clock });
    const { protocol: port, transport: tr } = connectWrapper<ThrottlingProtocol>(tServer);
    const echo = port.wrappedProtocol as EchoProtocol;
    port.producer = echo;

    port.dataReceived(Buffer.from("0123456789"));
    port.dataReceived(Buffer.from("abcdefghij"));
    expect(tr.value().toString()).toBe("0123456789abcdefghij");
    expect(tServer.writtenThisSecond).toBe(20);
    expect(echo.paused).toBe(false);

    // 20 bytes written, 10 over the limit: paused at about 1 s, resumed a second later.
    clock.advance(1.05);
    expect(tServer.writtenThisSecond).toBe(0);
    expect(echo.paused).toBe(true);

    clock.advance(1.05);
    expect(tServer.writtenThisSecond).toBe(0);
    expect(echo.paused).toBe(false);
  });

  it("pauses reading for a second after a second over readLimit, again and again (test_readLimit)", () => {
    const clock = new Clock();
    const tServer = new ThrottlingFactory(new Server(), { readLimit: 10, clock });
    const { protocol: port, transport: tr } = connectWrapper<ThrottlingProtocol>(tServer);

    for (let round = 0; round < 2; round++) {
      tr.clear();
      port.dataReceived(Buffer.from("0123456789"));
      port.dataReceived(Buffer.from("abcdefghij"));
      expect(tr.value().toString()).toBe("0123456789abcdefghij");
      expect(tServer.readThisSecond).toBe(20);

      clock.advance(1.05);
      expect(tServer.readThisSecond).toBe(0);
      expect(tr.producerState).toBe("paused");

      clock.advance(1.05);
      expect(tServer.readThisSecond).toBe(0);
      expect(tr.producerState).toBe("producing");
    }
  });

  it("does not throttle under the limits", () => {
    const clock = new Clock();
    const tServer = new ThrottlingFactory(new Server(), { readLimit: 100, clock });
    const { protocol: port, transport: tr } = connectWrapper<ThrottlingProtocol>(tServer);
    port.dataReceived(Buffer.alloc(100));
    clock.advance(1.05);
    expect(tr.producerState).toBe("producing");
  });

  it("refuses connections beyond maxConnectionCount until one is lost", () => {
    const tServer = new ThrottlingFactory(new Server(), { maxConnectionCount: 2, clock: new Clock() });
    const a = connectWrapper<ThrottlingProtocol>(tServer);
    connectWrapper<ThrottlingProtocol>(tServer);
    expect(tServer.buildProtocol(addr)).toBeNull();
    expect(tServer.connectionCount).toBe(2);
    expect(tServer.protocols.size).toBe(2);
    a.transport.loseConnection();
    expect(tServer.connectionCount).toBe(1);
    expect(tServer.buildProtocol(addr)).not.toBeNull();
  });

  it("stops its once-a-second checks when the last connection is lost", () => {
    const clock = new Clock();
    const tServer = new ThrottlingFactory(new Server(), { readLimit: 10, writeLimit: 10, clock });
    const { transport } = connectWrapper<ThrottlingProtocol>(tServer);
    expect(clock.getDelayedCalls()).toHaveLength(2);
    transport.loseConnection();
    expect(clock.getDelayedCalls()).toHaveLength(0);
  });
});

describe("TimeoutProtocol", () => {
  function protocolAndClock(timeoutPeriod: number | null = null) {
    const clock = new Clock();
    const wrapped = Factory.forProtocol(SimpleProtocol);
    const factory = new TimeoutFactory(wrapped, { timeoutPeriod, clock });
    const { protocol } = connectWrapper<TimeoutProtocol>(factory);
    return { sut: protocol, clock, inner: protocol.wrappedProtocol as SimpleProtocol };
  }

  it("cancelTimeout cancels the ongoing timeout", () => {
    const { sut, clock, inner } = protocolAndClock();
    sut.setTimeout(3);
    expect(sut.timeoutCall).not.toBeNull();
    clock.advance(1);
    sut.cancelTimeout();
    expect(sut.timeoutCall).toBeNull();
    clock.advance(3);
    expect(inner.disconnected).toBe(false);
  });

  it("cancelTimeout does nothing when no timeout is set", () => {
    const { sut, inner } = protocolAndClock();
    expect(sut.timeoutCall).toBeNull();
    sut.cancelTimeout();
    expect(inner.disconnected).toBe(false);
  });

  it("cancelTimeout does nothing once the timeout ran", () => {
    const { sut, clock, inner } = protocolAndClock();
    sut.setTimeout(3);
    clock.advance(3);
    expect(inner.disconnected).toBe(true);
    expect(() => sut.cancelTimeout()).not.toThrow();
  });

  it("cancelTimeout does nothing when the call was cancelled elsewhere", () => {
    const { sut, inner } = protocolAndClock();
    sut.setTimeout(3);
    sut.timeoutCall!.cancel();
    expect(() => sut.cancelTimeout()).not.toThrow();
    expect(inner.disconnected).toBe(false);
  });
});

describe("TimeoutFactory", () => {
  function setUp() {
    const clock = new Clock();
    const factory = new TimeoutFactory(Factory.forProtocol(SimpleProtocol), { timeoutPeriod: 3, clock });
    const { protocol: proto } = connectWrapper<TimeoutProtocol>(factory);
    return { clock, proto, wrappedProto: proto.wrappedProtocol as SimpleProtocol };
  }

  it("defaults to 30 minutes", () => {
    expect(new TimeoutFactory(new Server()).timeoutPeriod).toBe(1800);
  });

  it("closes a connection with no traffic for the period (test_timeout)", () => {
    const { clock, wrappedProto } = setUp();
    clock.pump([0.0, 0.5, 1.0, 1.0, 0.4]);
    expect(wrappedProto.disconnected).toBe(false);
    clock.pump([0.0, 0.2]);
    expect(wrappedProto.disconnected).toBe(true);
  });

  it("restarts the countdown on write and writeSequence (test_sendAvoidsTimeout)", () => {
    const { clock, proto, wrappedProto } = setUp();
    clock.pump([0.0, 0.5, 1.0]);
    expect(wrappedProto.disconnected).toBe(false);
    proto.write(Buffer.from("bytes bytes bytes"));
    clock.pump([0.0, 1.0, 1.0]);
    expect(wrappedProto.disconnected).toBe(false);
    proto.writeSequence([Buffer.from("bytes"), Buffer.from("bytes"), Buffer.from("bytes")]);
    clock.pump([0.0, 1.0, 1.0]);
    expect(wrappedProto.disconnected).toBe(false);
    clock.pump([0.0, 2.0]);
    expect(wrappedProto.disconnected).toBe(true);
  });

  it("restarts the countdown on data received (test_receiveAvoidsTimeout)", () => {
    const { clock, proto, wrappedProto } = setUp();
    clock.pump([0.0, 1.0, 0.5]);
    expect(wrappedProto.disconnected).toBe(false);
    proto.dataReceived(Buffer.from("bytes bytes bytes"));
    clock.pump([0.0, 1.0, 1.0]);
    expect(wrappedProto.disconnected).toBe(false);
    clock.pump([0.0, 1.0, 1.0]);
    expect(wrappedProto.disconnected).toBe(true);
  });

  it("cancels the timeout when the connection is lost", () => {
    const { clock, proto } = setUp();
    expect(clock.getDelayedCalls()).toHaveLength(1);
    proto.transport.loseConnection();
    expect(clock.getDelayedCalls()).toHaveLength(0);
  });

  it("writing after the timeout ran does not throw", () => {
    const { clock, proto } = setUp();
    clock.advance(3);
    expect(() => proto.write(Buffer.from("late"))).not.toThrow();
  });
});

/** A protocol with a timeout that records its expiry instead of closing (Twisted's TimeoutTester). */
class TimeoutTester extends timeoutMixin(Protocol) {
  override timeOut: number | null = 3;
  timedOut = false;
  constructor(clock: Clock) {
    super();
    this.clock = clock;
  }
  override connectionMade(): void {
    this.setTimeout(this.timeOut);
  }
  override dataReceived(data: Bytes): void {
    this.resetTimeout();
    super.dataReceived(data);
  }
  override connectionLost(reason: Error): void {
    this.setTimeout(null);
    super.connectionLost(reason);
  }
  override timeoutConnection(): void {
    this.timedOut = true;
  }
}

describe("timeoutMixin", () => {
  function setUp() {
    const clock = new Clock();
    return { clock, proto: new TimeoutTester(clock) };
  }

  it("schedules on the injected clock (test_overriddenCallLater)", () => {
    const { clock, proto } = setUp();
    proto.setTimeout(10);
    expect(clock.calls).toHaveLength(1);
  });

  it("times out after timeOut seconds (test_timeout)", () => {
    const { clock, proto } = setUp();
    proto.makeConnection(new StringTransport());
    clock.pump([0, 0.5, 1.0, 1.0]);
    expect(proto.timedOut).toBe(false);
    clock.pump([0, 1.0]);
    expect(proto.timedOut).toBe(true);
  });

  it("receiving data delays the timeout (test_noTimeout)", () => {
    const { clock, proto } = setUp();
    proto.makeConnection(new StringTransport());
    clock.pump([0, 0.5, 1.0, 1.0]);
    expect(proto.timedOut).toBe(false);
    proto.dataReceived(Buffer.from("hello there"));
    clock.pump([0, 1.0, 1.0, 0.5]);
    expect(proto.timedOut).toBe(false);
    clock.pump([0, 1.0]);
    expect(proto.timedOut).toBe(true);
  });

  it("a new value replaces the pending timeout (test_resetTimeout)", () => {
    const { clock, proto } = setUp();
    proto.timeOut = null;
    proto.makeConnection(new StringTransport());
    proto.setTimeout(1);
    expect(proto.timeOut).toBe(1);
    clock.pump([0, 0.9]);
    expect(proto.timedOut).toBe(false);
    clock.pump([0, 0.2]);
    expect(proto.timedOut).toBe(true);
  });

  it("null cancels the timeout (test_cancelTimeout)", () => {
    const { clock, proto } = setUp();
    proto.timeOut = 5;
    proto.makeConnection(new StringTransport());
    proto.setTimeout(null);
    expect(proto.timeOut).toBeNull();
    clock.pump([0, 5, 5, 5]);
    expect(proto.timedOut).toBe(false);
  });

  it("setTimeout returns the previous value (test_setTimeoutReturn)", () => {
    const { proto } = setUp();
    proto.timeOut = 5;
    expect(proto.setTimeout(10)).toBe(5);
    expect(proto.setTimeout(null)).toBe(10);
    expect(proto.setTimeout(1)).toBeNull();
    expect(proto.timeOut).toBe(1);
    proto.setTimeout(null);
  });

  it("setTimeout(null) after the call was cancelled elsewhere does not throw", () => {
    const { clock, proto } = setUp();
    proto.setTimeout(3);
    clock.getDelayedCalls()[0]!.cancel();
    expect(proto.timeOut).not.toBeNull();
    proto.setTimeout(null);
    expect(proto.timeOut).toBeNull();
  });

  it("a new timeout after the last one expired is armed again", () => {
    const { clock, proto } = setUp();
    proto.makeConnection(new StringTransport());
    clock.advance(3);
    expect(proto.timedOut).toBe(true);
    proto.timedOut = false;
    proto.resetTimeout(); // nothing pending: no effect
    proto.setTimeout(2);
    clock.advance(2);
    expect(proto.timedOut).toBe(true);
  });

  it("closes the connection with loseConnection (not an abort) by default, as Twisted does", () => {
    class Idle extends timeoutMixin(Protocol) {}
    const clock = new Clock();
    const p = new Idle();
    p.clock = clock;
    const t = new StringTransport();
    p.makeConnection(t);
    p.setTimeout(5);
    clock.advance(5);
    expect(t.disconnecting).toBe(true);
    expect(t.aborted).toBe(false);
  });

  it("keeps the base class's constructor and members", () => {
    class Base extends Protocol {
      constructor(readonly greeting: string) {
        super();
      }
      greet(): string {
        return this.greeting;
      }
    }
    class Greeter extends timeoutMixin(Base) {}
    const g = new Greeter("hi");
    expect(g.greet()).toBe("hi");
    expect(g).toBeInstanceOf(Base);
    expect(g.setTimeout(null)).toBeNull();
  });
});

describe("LimitTotalConnectionsFactory", () => {
  it("counts connections as they are made and lost (testConnectionCounting)", () => {
    const factory = new LimitTotalConnectionsFactory();
    factory.protocol = Protocol;
    expect(factory.connectionCount).toBe(0);
    const p1 = factory.buildProtocol(addr)!;
    expect(factory.connectionCount).toBe(1);
    const p2 = factory.buildProtocol(addr)!;
    expect(factory.connectionCount).toBe(2);
    p1.connectionLost(new ConnectionDone());
    expect(factory.connectionCount).toBe(1);
    p2.connectionLost(new ConnectionDone());
    expect(factory.connectionCount).toBe(0);
  });

  it("refuses or overflows beyond the limit (testConnectionLimiting)", () => {
    const factory = new LimitTotalConnectionsFactory();
    factory.protocol = Protocol;
    factory.connectionLimit = 1;
    const p = factory.buildProtocol(addr);
    expect(p).not.toBeNull();
    expect(factory.connectionCount).toBe(1);
    expect(factory.buildProtocol(addr)).toBeNull();
    expect(factory.connectionCount).toBe(1);

    let overflowed = false;
    factory.overflowProtocol = class extends Protocol {
      override connectionMade(): void {
        overflowed = true;
      }
    };
    const op = factory.buildProtocol(addr)!;
    op.makeConnection(new StringTransport());
    expect(overflowed).toBe(true);
    expect(factory.connectionCount).toBe(2);
    p!.connectionLost(new ConnectionDone());
    expect(factory.connectionCount).toBe(1);
    op.connectionLost(new ConnectionDone());
    expect(factory.connectionCount).toBe(0);
  });
});

describe("LimitConnectionsByPeer", () => {
  it("refuses a sixth connection from one host, not from another, and again after a loss", () => {
    const factory = new LimitConnectionsByPeer(new Server());
    factory.doStart();
    const peer = new IPv4Address("TCP", "10.0.0.7", 4000);
    const transports: StringTransportWithDisconnection[] = [];
    for (let i = 0; i < 5; i++) {
      const p = factory.buildProtocol(peer)!;
      const t = new StringTransportWithDisconnection(undefined, peer);
      t.protocol = p;
      p.makeConnection(t);
      transports.push(t);
    }
    expect(factory.buildProtocol(peer)).toBeNull();
    expect(factory.buildProtocol(new IPv4Address("TCP", "10.0.0.8", 4000))).not.toBeNull();
    transports[0]!.loseConnection();
    expect(factory.peerConnections.get("10.0.0.7")).toBe(4);
    expect(factory.buildProtocol(peer)).not.toBeNull();
  });
});

/** A sink that keeps every entry. */
class MemorySink {
  entries: TrafficLogEntry[] = [];
  record(entry: TrafficLogEntry): void {
    this.entries.push(entry);
  }
}

/** Echo that uses writeSequence when it sees "vector!" (Twisted's WriteSequenceEchoProtocol). */
class WriteSequenceEchoProtocol extends EchoProtocol {
  override dataReceived(data: Bytes): void {
    if (Buffer.from(data).includes("vector!")) this.transport.writeSequence([data]);
    else super.dataReceived(data);
  }
}

/** A TrafficLogFileSink writing to in-memory streams, one per opened path (Twisted's TestLoggingFactory). */
function memoryFileSink(lengthLimit: number | null = null) {
  const files = new Map<string, string>();
  const sink = new TrafficLogFileSink("test", {
    lengthLimit,
    open: (p): TrafficLogStream => {
      files.set(p, "");
      return {
        write: (text: string) => files.set(p, files.get(p)! + text),
        end: (cb?: () => void) => cb?.(),
      };
    },
  });
  return { sink, files };
}

describe("TrafficLoggingFactory", () => {
  it("logs Twisted's lines: connection, data both ways, writeSequence, close (test_thingsGetLogged)", () => {
    const wrapped = Factory.forProtocol(WriteSequenceEchoProtocol);
    const { sink, files } = memoryFileSink();
    const f = new TrafficLoggingFactory(wrapped, sink);
    const { protocol: p, transport: t } = connectWrapper<TrafficLoggingProtocol>(f);
    const v = () => files.get("test-1") ?? "";

    expect(v()).toContain("*");
    expect(t.value().length).toBe(0);

    p.dataReceived(Buffer.from("here are some bytes"));
    expect(v()).toContain("C 1: b'here are some bytes'");
    expect(v()).toContain("S 1: b'here are some bytes'");
    expect(t.value().toString()).toBe("here are some bytes");

    t.clear();
    p.dataReceived(Buffer.from("prepare for vector! to the extreme"));
    expect(v()).toContain("SV 1: [b'prepare for vector! to the extreme']");
    expect(t.value().toString()).toBe("prepare for vector! to the extreme");

    p.loseConnection();
    expect(v()).toContain("S 1: *");
    expect(v()).toContain("ConnectionDone");
    expect(v().split("\n")).toEqual([
      "*",
      "C 1: b'here are some bytes'",
      "S 1: b'here are some bytes'",
      "C 1: b'prepare for vector! to the extreme'",
      "SV 1: [b'prepare for vector! to the extreme']",
      "S 1: *",
      "C 1: <Failure ConnectionDone: Connection was closed cleanly.>",
      "",
    ]);
  });

  it("numbers connections from 1, and resetCounter starts again (test_counter)", () => {
    const { sink } = memoryFileSink();
    const f = new TrafficLoggingFactory(new Server(), sink);
    expect(f.counter).toBe(0);
    expect(f.buildProtocol(addr)!.connectionNumber).toBe(1);
    expect(f.buildProtocol(addr)!.connectionNumber).toBe(2);
    f.resetCounter();
    expect(f.counter).toBe(0);
    expect(f.buildProtocol(addr)!.connectionNumber).toBe(1);
  });

  it("records every event to the sink in order, with the bytes themselves", () => {
    const sink = new MemorySink();
    const f = new TrafficLoggingFactory(Factory.forProtocol(WriteSequenceEchoProtocol), sink);
    const p = f.buildProtocol(addr)!;
    const t = new StringTransport();
    p.makeConnection(t);
    const hello = Buffer.from("hello");
    p.dataReceived(hello);
    p.writeSequence([Buffer.from("a"), Buffer.from("b")]);
    p.abortConnection();
    // StringTransport doesn't deliver the loss; a real transport would, on a later turn.
    p.connectionLost(new ConnectionAborted());
    expect(sink.entries.map((e) => e.kind)).toEqual([
      "connectionMade",
      "data",
      "write",
      "writeSequence",
      "abortConnection",
      "connectionLost",
    ]);
    const [, data, write, seq, , lost] = sink.entries;
    expect(data).toEqual({ kind: "data", connectionNumber: 1, data: hello });
    expect(write!.kind === "write" && write.data).toBe(hello);
    expect(seq!.kind === "writeSequence" && Buffer.from(seq.data).toString()).toBe("ab");
    expect(lost!.kind === "connectionLost" && lost.reason).toBeInstanceOf(ConnectionAborted);
    expect(t.aborted).toBe(true);
  });

  it("refuses text writes before recording them", () => {
    const sink = new MemorySink();
    const { protocol: p } = connectWrapper<TrafficLoggingProtocol>(new TrafficLoggingFactory(new Server(), sink));
    expect(() => p.write("text" as unknown as Bytes)).toThrow(TypeError);
    expect(sink.entries.map((e) => e.kind)).toEqual(["connectionMade"]);
  });

  it("writes Python's bytes repr and elides long data", () => {
    expect(bytesRepr(Buffer.from("a'b"))).toBe(`b"a'b"`);
    expect(bytesRepr(Buffer.from("a'b\""))).toBe(`b'a\\'b"'`);
    expect(bytesRepr(Buffer.from([0, 9, 10, 13, 0x5c, 0x7f, 0xff, 0x41]))).toBe("b'\\x00\\t\\n\\r\\\\\\x7f\\xffA'");
    const entry: TrafficLogEntry = { kind: "data", connectionNumber: 3, data: Buffer.alloc(100, "z") };
    expect(formatTrafficLogLine(entry, 20)).toBe(`C 3: b'${"z".repeat(8)}<... elided>'`);
    expect(formatTrafficLogLine({ kind: "abortConnection", connectionNumber: 3 })).toBe("S 3: !");
  });

  it("writes one file per connection, as Twisted's TrafficLoggingFactory(f, prefix)", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wirescope-traffic-"));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const sink = new TrafficLogFileSink(path.join(dir, "log"));
    const f = new TrafficLoggingFactory(new Server(), sink);
    const a = connectWrapper<TrafficLoggingProtocol>(f);
    const b = connectWrapper<TrafficLoggingProtocol>(f);
    a.protocol.dataReceived(Buffer.from("one"));
    b.protocol.dataReceived(Buffer.from("two"));
    a.transport.loseConnection();
    await sink.close();
    expect(fs.readdirSync(dir).sort()).toEqual(["log-1", "log-2"]);
    expect(fs.readFileSync(path.join(dir, "log-1"), "utf8")).toBe(
      "*\nC 1: b'one'\nS 1: b'one'\nC 1: <Failure ConnectionDone: Connection was closed cleanly.>\n",
    );
    expect(fs.readFileSync(path.join(dir, "log-2"), "utf8")).toBe("*\nC 2: b'two'\nS 2: b'two'\n");
  });
});

describe("wrappers over real sockets", () => {
  /** A client that sends `payload`, collects what comes back, and reports its loss. */
  class Client extends Protocol {
    received: Buffer[] = [];
    length = 0;
    made = deferred();
    lost = deferred<Error>();
    constructor(readonly payload: Buffer = Buffer.alloc(0)) {
      super();
    }
    override connectionMade(): void {
      if (this.payload.length > 0) this.transport.write(this.payload);
      this.made.resolve();
    }
    override dataReceived(data: Bytes): void {
      this.received.push(Buffer.from(data));
      this.length += data.byteLength;
    }
    override connectionLost(reason: Error): void {
      super.connectionLost(reason);
      this.lost.resolve(reason);
    }
  }

  function connect(port: number, client: Client): void {
    const f = new ClientFactory();
    f.buildProtocol = () => client;
    reactor.connectTCP("127.0.0.1", port, f);
    cleanups.push(() => {
      if (client.connected) client.transport.abortConnection();
    });
  }

  async function listen(factory: Factory) {
    const r = await listenLocal(factory);
    cleanups.push(() => r.port.stopListening());
    return r.portNumber;
  }

  it("ThrottlingFactory accepts two connections, drops the third, accepts a fourth after one closes (test_limit)", async () => {
    const tServer = new ThrottlingFactory(new Server(), { maxConnectionCount: 2 });
    const port = await listen(tServer);
    const [c1, c2, c3, c4] = [new Client(), new Client(), new Client(), new Client()];
    connect(port, c1);
    await c1.made.promise;
    connect(port, c2);
    await c2.made.promise;
    connect(port, c3);
    await c3.lost.promise;
    expect([c1.connected, c2.connected, c3.connected]).toEqual([true, true, false]);
    await waitFor(() => tServer.protocols.size === 2, "two server-side protocols");

    c1.transport.loseConnection();
    await c1.lost.promise;
    await waitFor(() => tServer.connectionCount === 1, "the server to see the loss");
    connect(port, c4);
    await c4.made.promise;
    c4.transport.write(Buffer.from("ping"));
    await waitFor(() => c4.length === 4, "the echo");
    expect(c4.connected).toBe(true);
  });

  it("TrafficLoggingFactory records every byte in and out of an echo server", async () => {
    const sink = new MemorySink();
    const port = await listen(new TrafficLoggingFactory(new Server(), sink));
    const payload = Buffer.alloc(512 * 1024);
    for (let i = 0; i < payload.length; i++) payload[i] = i % 253;
    const client = new Client(payload);
    connect(port, client);
    await waitFor(() => client.length === payload.length, "the echo");
    client.transport.loseConnection();
    await waitFor(() => sink.entries.at(-1)?.kind === "connectionLost", "the server-side loss");

    const join = (kind: "data" | "write") =>
      Buffer.concat(sink.entries.flatMap((e) => (e.kind === kind ? [Buffer.from(e.data)] : [])));
    expect(join("data").equals(payload)).toBe(true);
    expect(join("write").equals(payload)).toBe(true);
    expect(sink.entries[0]!.kind).toBe("connectionMade");
    const lost = sink.entries.at(-1)!;
    expect(lost.kind === "connectionLost" && lost.reason).toBeInstanceOf(ConnectionDone);
  });

  it("forwards a real half-close to a half-closeable inner protocol, which can still answer", async () => {
    class Answerer extends Protocol implements IHalfCloseableProtocol {
      readConnectionLost(): void {
        this.transport.write(Buffer.from("bye"));
        this.transport.loseConnection();
      }
      writeConnectionLost(): void {}
    }
    const port = await listen(new WrappingFactory(Factory.forProtocol(Answerer)));
    const client = new Client();
    connect(port, client);
    await client.made.promise;
    client.transport.loseWriteConnection();
    expect(await client.lost.promise).toBeInstanceOf(ConnectionDone);
    expect(Buffer.concat(client.received).toString()).toBe("bye");
  });

  it("closes cleanly on the peer's FIN when the inner protocol is not half-closeable", async () => {
    const inner = deferred<Error>();
    class Plain extends SimpleProtocol {
      override connectionLost(reason: Error): void {
        super.connectionLost(reason);
        inner.resolve(reason);
      }
    }
    const port = await listen(new WrappingFactory(Factory.forProtocol(Plain)));
    const client = new Client();
    connect(port, client);
    await client.made.promise;
    client.transport.loseWriteConnection();
    expect(await inner.promise).toBeInstanceOf(ConnectionDone);
    expect(await client.lost.promise).toBeInstanceOf(ConnectionDone);
  });
});
