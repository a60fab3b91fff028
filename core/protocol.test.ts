/**
 * Protocols and factories (src/twisted/internet/protocol.py; test/test_factories.py, test_protocols.py).
 */
import { describe, expect, it, onTestFinished } from "vitest";
import { IPv4Address, type Address } from "./address.ts";
import { ConnectionDone } from "./errors.ts";
import type { ITransport } from "./interfaces.ts";
import { formatEvent, globalLogPublisher } from "./logger.ts";
import { BaseProtocol, ClientFactory, Factory, Protocol, ServerFactory, connectionDone } from "./protocol.ts";
import { StringTransport } from "./testing.ts";
import { Echo } from "./protocols/wire.ts";

const addr = new IPv4Address("TCP", "127.0.0.1", 12345);

describe("Factory.buildProtocol", () => {
  it("instantiates `protocol` and sets its factory", () => {
    const factory = new Factory();
    factory.protocol = Echo;
    const p = factory.buildProtocol(addr);
    expect(p).toBeInstanceOf(Echo);
    expect((p as Echo).factory).toBe(factory);
    expect(factory.buildProtocol(addr)).not.toBe(p);
  });

  it("throws a TypeError naming the factory when no protocol is set", () => {
    class NoProtocolFactory extends Factory {}
    expect(() => new NoProtocolFactory().buildProtocol(addr)).toThrow(TypeError);
    expect(() => new NoProtocolFactory().buildProtocol(addr)).toThrow("NoProtocolFactory.protocol is not set");
  });

  it("can be overridden to refuse a connection with null", () => {
    class Refusing extends Factory {
      override buildProtocol(_addr: Address): null {
        return null;
      }
    }
    expect(new Refusing().buildProtocol(addr)).toBeNull();
  });
});

describe("Factory.forProtocol", () => {
  it("creates an instance of the class it is called on, with protocol and props set", () => {
    class Counting extends ServerFactory {
      greeting = "hello";
      served = 0;
    }
    const factory = Counting.forProtocol(Echo, { greeting: "hi" });
    expect(factory).toBeInstanceOf(Counting);
    expect(factory.protocol).toBe(Echo);
    expect(factory.greeting).toBe("hi");
    expect(factory.served).toBe(0);
    expect((factory.buildProtocol(addr) as Echo).factory).toBe(factory);
  });

  it("works for ClientFactory", () => {
    const factory = ClientFactory.forProtocol(Echo);
    expect(factory).toBeInstanceOf(ClientFactory);
    expect(factory.buildProtocol(addr)).toBeInstanceOf(Echo);
  });
});

describe("Factory.doStart / doStop", () => {
  class Tracking extends Factory {
    events: string[] = [];
    override startFactory(): void {
      this.events.push("start");
    }
    override stopFactory(): void {
      this.events.push("stop");
    }
  }

  it("calls startFactory on the first doStart and stopFactory on the last doStop", () => {
    const f = new Tracking();
    f.doStart();
    f.doStart();
    f.doStart();
    expect(f.events).toEqual(["start"]);
    expect(f.numPorts).toBe(3);
    f.doStop();
    f.doStop();
    expect(f.events).toEqual(["start"]);
    f.doStop();
    expect(f.events).toEqual(["start", "stop"]);
    expect(f.numPorts).toBe(0);
  });

  it("starts again after it was stopped", () => {
    const f = new Tracking();
    f.doStart();
    f.doStop();
    f.doStart();
    f.doStop();
    expect(f.events).toEqual(["start", "stop", "start", "stop"]);
  });

  it("tolerates a doStop without doStart: nothing is called and the count stays at 0", () => {
    const f = new Tracking();
    f.doStop();
    expect(f.events).toEqual([]);
    expect(f.numPorts).toBe(0);
    f.doStart();
    expect(f.events).toEqual(["start"]);
  });

  it("noisy factories log starting and stopping", () => {
    const f = new Tracking();
    f.noisy = true;
    const seen: string[] = [];
    onTestFinished(globalLogPublisher.addObserver((e) => e.log_source === f && seen.push(formatEvent(e))));
    f.doStart();
    f.doStop();
    expect(seen).toEqual(["Starting factory Tracking", "Stopping factory Tracking"]);
  });
});

describe("makeConnection", () => {
  it("sets connected and transport, then calls connectionMade synchronously", () => {
    const observed: [boolean, ITransport | undefined][] = [];
    class Greeter extends Protocol {
      override connectionMade(): void {
        observed.push([this.connected, this.transport]);
        this.transport.write(Buffer.from("hello\r\n"));
      }
    }
    const p = new Greeter();
    const t = new StringTransport();
    expect(p.connected).toBe(false);
    p.makeConnection(t);
    expect(observed).toEqual([[true, t]]);
    expect(t.value().toString()).toBe("hello\r\n");
  });

  it("works for a BaseProtocol too", () => {
    let made = 0;
    class Bare extends BaseProtocol {
      override connectionMade(): void {
        made += 1;
      }
    }
    const p = new Bare();
    p.makeConnection(new StringTransport());
    expect(made).toBe(1);
    expect(p.connected).toBe(true);
  });

  it("a built protocol talks over a StringTransport", () => {
    const p = Factory.forProtocol(Echo).buildProtocol(addr)!;
    const t = new StringTransport();
    p.makeConnection(t);
    p.dataReceived(Buffer.from("PI"));
    p.dataReceived(Buffer.from("NG"));
    expect(t.value().toString()).toBe("PING");
  });

  it("connectionLost clears connected", () => {
    const p = new Echo();
    p.makeConnection(new StringTransport());
    p.connectionLost(connectionDone());
    expect(p.connected).toBe(false);
  });
});

describe("connectionDone", () => {
  it("makes a fresh ConnectionDone each time", () => {
    const a = connectionDone();
    expect(a).toBeInstanceOf(ConnectionDone);
    expect(connectionDone()).not.toBe(a);
  });
});

describe("ClientFactory hooks", () => {
  it("are no-ops by default", () => {
    const f = new ClientFactory();
    const connector = {
      state: "connecting" as const,
      connect() {},
      stopConnecting() {},
      disconnect() {},
      getDestination: () => addr,
    };
    expect(() => {
      f.startedConnecting(connector);
      f.clientConnectionFailed(connector, new Error("refused"));
      f.clientConnectionLost(connector, connectionDone());
    }).not.toThrow();
  });
});
