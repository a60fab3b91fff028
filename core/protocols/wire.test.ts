/**
 * The small standard services (ported from Twisted's test/test_protocols.py WireTests), over StringTransport and
 * over real sockets on 127.0.0.1.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { deferred, listenLocal } from "../../tests/helpers/net.ts";
import type { Bytes } from "../interfaces.ts";
import { ClientFactory, Factory, Protocol } from "../protocol.ts";
import { reactor } from "../reactor.ts";
import { StringTransport } from "../testing.ts";
import { asctimeUTC, Chargen, Daytime, Discard, Echo, QOTD, RFC868_EPOCH_OFFSET, Time, Who } from "./wire.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const c of cleanups.splice(0).reverse()) await c();
});

function connect<P extends Protocol>(protocol: P): StringTransport {
  const t = new StringTransport();
  protocol.makeConnection(t);
  return t;
}

describe("wire over StringTransport", () => {
  it("Echo writes back every chunk", () => {
    const echo = new Echo();
    const t = connect(echo);
    for (const word of ["hello", "world", "how", "are", "you"]) echo.dataReceived(Buffer.from(word));
    expect(t.value().toString()).toBe("helloworldhowareyou");
  });

  it("Who sends root and closes", () => {
    const t = connect(new Who());
    expect(t.value().toString()).toBe("root\r\n");
    expect(t.disconnecting).toBe(true);
  });

  it("QOTD sends the quote and closes", () => {
    const t = connect(new QOTD());
    expect(t.value().toString()).toBe("An apple a day keeps the doctor away.\r\n");
    expect(t.disconnecting).toBe(true);
  });

  it("QOTD's quote can be overridden", () => {
    class Mine extends QOTD {
      override getQuote(): Bytes {
        return Buffer.from("Hello.\r\n");
      }
    }
    expect(connect(new Mine()).value().toString()).toBe("Hello.\r\n");
  });

  it("Discard writes nothing", () => {
    const d = new Discard();
    const t = connect(d);
    for (const word of ["hello", "world", "how", "are", "you"]) d.dataReceived(Buffer.from(word));
    expect(t.value().length).toBe(0);
    expect(t.disconnecting).toBe(false);
  });

  it("Chargen registers itself as a pull producer and writes one noise chunk per resumeProducing", () => {
    const c = new Chargen();
    const t = connect(c);
    expect(t.producer).toBe(c);
    expect(t.streaming).toBe(false);
    expect(t.value().length).toBe(0);
    for (let i = 0; i < 10; i++) c.resumeProducing();
    expect(t.value()).toEqual(Buffer.concat(Array.from({ length: 10 }, () => c.noise)));
    expect(Buffer.from(c.noise).toString("latin1")).toBe(
      '@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~ !"#$%&?',
    );
  });

  it("Daytime sends asctime in UTC as ASCII bytes, then closes", () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date(Date.UTC(1993, 5, 6, 9, 5, 2)));
    const t = connect(new Daytime());
    expect(t.value().toString("ascii")).toBe("Sun Jun  6 09:05:02 1993\r\n");
    expect(t.disconnecting).toBe(true);
  });

  it("asctimeUTC pads a two-digit day without a space", () => {
    expect(asctimeUTC(new Date(Date.UTC(2025, 10, 24, 18, 21, 0)))).toBe("Mon Nov 24 18:21:00 2025");
  });

  it("Time sends RFC 868 seconds since 1900 as 4 big-endian bytes, then closes", () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date(Date.UTC(2000, 0, 1)));
    const t = connect(new Time());
    // RFC 868: 00:00 1 Jan 1900 GMT is 0; 1 Jan 2000 is 946684800 Unix seconds later than 1970.
    expect(t.value()).toEqual(Buffer.from([0xbc, 0x17, 0xc2, 0x00]));
    expect(t.value().readUInt32BE()).toBe(946684800 + RFC868_EPOCH_OFFSET);
    expect(t.disconnecting).toBe(true);
  });

  it("StringTransport refuses text (test_noUnicode)", () => {
    const t = new StringTransport();
    expect(() => t.write("foo" as unknown as Bytes)).toThrow(TypeError);
  });
});

/** A client that collects what it receives and reports the loss. */
class Collector extends Protocol {
  received: Buffer[] = [];
  lost = deferred<Error>();
  onData: () => void = () => {};
  override dataReceived(data: Bytes): void {
    this.received.push(Buffer.from(data));
    this.onData();
  }
  override connectionLost(reason: Error): void {
    super.connectionLost(reason);
    this.lost.resolve(reason);
  }
  bytes(): Buffer {
    return Buffer.concat(this.received);
  }
}

function clientFactory(p: Protocol): ClientFactory {
  const f = new ClientFactory();
  f.buildProtocol = () => p;
  return f;
}

async function serve(protocolClass: new () => Protocol): Promise<number> {
  const { port, portNumber } = await listenLocal(Factory.forProtocol(protocolClass));
  cleanups.push(() => port.stopListening());
  return portNumber;
}

describe("wire over real sockets", () => {
  it("Echo echoes 256 KiB back", async () => {
    const portNumber = await serve(Echo);
    const payload = Buffer.alloc(256 * 1024, "e");
    const c = new Collector();
    const got = deferred();
    c.connectionMade = () => c.transport.write(payload);
    c.onData = () => {
      if (c.bytes().length >= payload.length) got.resolve();
    };
    reactor.connectTCP("127.0.0.1", portNumber, clientFactory(c));
    await got.promise;
    expect(c.bytes().equals(payload)).toBe(true);
    c.transport.loseConnection();
    await c.lost.promise;
  });

  it("QOTD's quote arrives, then a clean close", async () => {
    const portNumber = await serve(QOTD);
    const c = new Collector();
    reactor.connectTCP("127.0.0.1", portNumber, clientFactory(c));
    const reason = await c.lost.promise;
    expect(c.bytes().toString()).toBe("An apple a day keeps the doctor away.\r\n");
    expect(reason.name).toBe("ConnectionDone");
  });

  it("Chargen keeps sending noise until the client closes", async () => {
    const portNumber = await serve(Chargen);
    const c = new Collector();
    const enough = deferred();
    c.onData = () => {
      if (c.bytes().length >= 10_000) enough.resolve();
    };
    reactor.connectTCP("127.0.0.1", portNumber, clientFactory(c));
    await enough.promise;
    c.transport.loseConnection();
    await c.lost.promise;
    const noise = new Chargen().noise;
    const received = c.bytes();
    const whole = Math.floor(received.length / noise.length) * noise.length;
    expect(received.subarray(0, whole)).toEqual(
      Buffer.concat(Array.from({ length: whole / noise.length }, () => noise)),
    );
  });
});
