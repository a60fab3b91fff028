/**
 * The reactor's TCP transports over real sockets on 127.0.0.1 (ported from Twisted's test/test_tcp.py and
 * internet/test/test_tcp.py).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { deferred, freePort, listenLocal, waitFor } from "../tests/helpers/net.ts";
import { IPv4Address, type Address } from "./address.ts";
import {
  AlreadyConnectingError,
  CannotListenError,
  ConnectionAborted,
  ConnectionClosed,
  ConnectionDone,
  ConnectionLost,
  ConnectionRefusedError,
  NotConnectingError,
  TimeoutError,
  UserError,
} from "./errors.ts";
import type { Bytes, IConnector, IHalfCloseableProtocol, IPushProducer } from "./interfaces.ts";
import { ClientFactory, Factory, Protocol, ServerFactory } from "./protocol.ts";
import { reactor } from "./reactor.ts";
import type { Connection, ListeningPort } from "./tcp.ts";
import { Echo } from "./protocols/wire.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function listen(factory: Factory): Promise<{ port: ListeningPort; portNumber: number }> {
  const r = await listenLocal(factory);
  cleanups.push(() => r.port.stopListening());
  return r;
}

/** A protocol that records its lifecycle and the bytes it receives. */
class Recorder extends Protocol {
  events: string[] = [];
  received: Buffer[] = [];
  reason: Error | null = null;
  lost = deferred<Error>();
  made = deferred();
  override connectionMade(): void {
    this.events.push("made");
    this.made.resolve();
  }
  override dataReceived(data: Bytes): void {
    this.received.push(Buffer.from(data));
  }
  override connectionLost(reason: Error): void {
    super.connectionLost(reason);
    this.events.push("lost");
    this.reason = reason;
    this.lost.resolve(reason);
  }
  text(): string {
    return Buffer.concat(this.received).toString();
  }
}

/** A client factory that records the connector's callbacks in order, and the protocol it built. */
class RecordingClientFactory extends ClientFactory {
  events: string[] = [];
  protocolInstance: Recorder | null = null;
  failed = deferred<Error>();
  lostDone = deferred<Error>();
  constructor(readonly make: () => Recorder = () => new Recorder()) {
    super();
  }
  override startFactory(): void {
    this.events.push("startFactory");
  }
  override stopFactory(): void {
    this.events.push("stopFactory");
  }
  override startedConnecting(_c: IConnector): void {
    this.events.push("startedConnecting");
  }
  override buildProtocol(_addr: Address): Recorder {
    this.events.push("buildProtocol");
    const p = this.make();
    p.factory = this;
    this.protocolInstance = p;
    const lost = p.connectionLost.bind(p);
    p.connectionLost = (reason: Error) => {
      this.events.push("connectionLost");
      lost(reason);
    };
    return p;
  }
  override clientConnectionFailed(_c: IConnector, reason: Error): void {
    this.events.push("clientConnectionFailed");
    this.failed.resolve(reason);
  }
  override clientConnectionLost(_c: IConnector, reason: Error): void {
    this.events.push("clientConnectionLost");
    this.lostDone.resolve(reason);
  }
}

describe("listening ports", () => {
  it("starts the factory once bound and stops it on stopListening (serverStartStop)", async () => {
    const calls: string[] = [];
    class F extends ServerFactory {
      override startFactory() {
        calls.push("start");
      }
      override stopFactory() {
        calls.push("stop");
      }
    }
    const f = F.forProtocol(Echo);
    const port = reactor.listenTCP(0, f, { interface: "127.0.0.1" });
    await port.listening;
    expect(calls).toEqual(["start"]);
    const host = port.getHost();
    expect(host).toBeInstanceOf(IPv4Address);
    expect((host as IPv4Address).host).toBe("127.0.0.1");
    expect((host as IPv4Address).port).toBeGreaterThan(0);
    await port.stopListening();
    expect(calls).toEqual(["start", "stop"]);
    // The port is free again at once: binding it succeeds.
    const again = reactor.listenTCP((host as IPv4Address).port, f, { interface: "127.0.0.1" });
    await again.listening;
    await again.stopListening();
  });

  it("rejects `listening` with CannotListenError when the port is taken (cannotBind)", async () => {
    const { portNumber } = await listen(Factory.forProtocol(Echo));
    const f = Factory.forProtocol(Echo);
    const second = reactor.listenTCP(portNumber, f, { interface: "127.0.0.1" });
    const err = await second.listening.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CannotListenError);
    expect((err as CannotListenError).message).toMatch(/EADDRINUSE/);
    expect(f.numPorts).toBe(0);
  });

  it("refuses port 70000 with a clear error", () => {
    expect(() => reactor.listenTCP(70000, Factory.forProtocol(Echo))).toThrow(/0 to 65535, got 70000/);
    expect(() => reactor.connectTCP("127.0.0.1", -1, new ClientFactory())).toThrow(/got -1/);
  });

  it("stopListening leaves open connections alone", async () => {
    const { port, portNumber } = await listen(Factory.forProtocol(Echo));
    const cf = new RecordingClientFactory();
    reactor.connectTCP("127.0.0.1", portNumber, cf);
    await waitFor(() => cf.protocolInstance?.connected === true, "connected");
    await port.stopListening();
    cf.protocolInstance!.transport.write(Buffer.from("still here"));
    await waitFor(() => cf.protocolInstance!.text() === "still here", "echo after stopListening");
    cf.protocolInstance!.transport.loseConnection();
    await cf.lostDone.promise;
  });

  it("can stop listening from inside buildProtocol (closePortInProtocolFactory)", async () => {
    let port: ListeningPort | null = null;
    const stopped = deferred();
    class F extends ServerFactory {
      override buildProtocol(addr: Address) {
        void port!.stopListening().then(() => stopped.resolve());
        return super.buildProtocol(addr);
      }
    }
    const r = await listen(F.forProtocol(Echo));
    port = r.port;
    const cf = new RecordingClientFactory();
    reactor.connectTCP("127.0.0.1", r.portNumber, cf);
    await stopped.promise;
    await waitFor(() => cf.protocolInstance?.connected === true, "connected");
    cf.protocolInstance!.transport.loseConnection();
    await cf.lostDone.promise;
  });

  it("closes the socket when buildProtocol returns null (buildProtocolReturnsNone)", async () => {
    class Refusing extends ServerFactory {
      override buildProtocol() {
        return null;
      }
    }
    const { portNumber } = await listen(new Refusing());
    const cf = new RecordingClientFactory();
    reactor.connectTCP("127.0.0.1", portNumber, cf);
    const reason = await cf.lostDone.promise;
    expect(reason).toBeInstanceOf(ConnectionDone);
  });
});

describe("client connections", () => {
  it("calls the factory and protocol in Twisted's order on connect and close (clientStartStop, loseOrder)", async () => {
    const { portNumber } = await listen(Factory.forProtocol(Echo));
    const cf = new RecordingClientFactory();
    const connector = reactor.connectTCP("127.0.0.1", portNumber, cf);
    // connect() returns at once: the factory started and was told, nothing built yet.
    expect(cf.events).toEqual(["startFactory", "startedConnecting"]);
    expect(connector.state).toBe("connecting");
    await cf.protocolInstance?.made.promise;
    await waitFor(() => cf.protocolInstance?.connected === true, "connected");
    expect(connector.state).toBe("connected");
    cf.protocolInstance!.transport.loseConnection();
    const reason = await cf.lostDone.promise;
    expect(reason).toBeInstanceOf(ConnectionDone);
    expect(cf.events).toEqual([
      "startFactory",
      "startedConnecting",
      "buildProtocol",
      "connectionLost",
      "clientConnectionLost",
      "stopFactory",
    ]);
    expect(cf.protocolInstance!.connected).toBe(false);
  });

  it("reports a refused connection as ConnectionRefusedError (connectionRefusedErrorNumber)", async () => {
    const cf = new RecordingClientFactory();
    reactor.connectTCP("127.0.0.1", await freePort(), cf);
    const reason = await cf.failed.promise;
    expect(reason).toBeInstanceOf(ConnectionRefusedError);
    expect(reason.message).toMatch(/ECONNREFUSED/);
    expect(cf.events).toEqual(["startFactory", "startedConnecting", "clientConnectionFailed", "stopFactory"]);
  });

  it("the same connector can connect again after a failure and after a loss (connectorIdentity, reconnect)", async () => {
    const cf = new RecordingClientFactory();
    const portNumber = await freePort();
    const connector = reactor.connectTCP("127.0.0.1", portNumber, cf);
    await cf.failed.promise;
    expect(connector.state).toBe("disconnected");
    const server = reactor.listenTCP(portNumber, Factory.forProtocol(Echo), { interface: "127.0.0.1" });
    cleanups.push(() => server.stopListening());
    await server.listening;
    connector.connect();
    await waitFor(() => cf.protocolInstance?.connected === true, "connected on retry");
    cf.protocolInstance!.transport.loseConnection();
    await cf.lostDone.promise;
    cf.lostDone = deferred();
    const first = cf.protocolInstance;
    connector.connect();
    await waitFor(() => cf.protocolInstance !== first && cf.protocolInstance?.connected === true, "reconnected");
    cf.protocolInstance!.transport.write(Buffer.from("again"));
    await waitFor(() => cf.protocolInstance!.text() === "again", "echo");
    connector.disconnect();
    await cf.lostDone.promise;
  });

  it("connect() throws unless disconnected; stopConnecting() throws unless connecting (userFail)", async () => {
    const { portNumber } = await listen(Factory.forProtocol(Echo));
    const cf = new RecordingClientFactory();
    const connector = reactor.connectTCP("127.0.0.1", portNumber, cf);
    expect(() => connector.connect()).toThrow(AlreadyConnectingError);
    connector.stopConnecting();
    const reason = await cf.failed.promise;
    expect(reason).toBeInstanceOf(UserError);
    expect(() => connector.stopConnecting()).toThrow(NotConnectingError);
    expect(cf.events).toEqual(["startFactory", "startedConnecting", "clientConnectionFailed", "stopFactory"]);
    // Never got to build anything, and the server saw no connection we keep.
    expect(cf.protocolInstance).toBeNull();
  });

  it("times out with TimeoutError when the handshake never completes", async () => {
    // A listener with a backlog of 1 that never accepts still completes handshakes in the kernel; instead use
    // a server whose socket we stop reading from... the portable way is a tiny timeout against a black hole:
    // connecting to 127.0.0.1 completes at once, so we use a 0-second timeout, which fires before the next turn.
    const { portNumber } = await listen(Factory.forProtocol(Echo));
    const cf = new RecordingClientFactory();
    reactor.connectTCP("127.0.0.1", portNumber, cf, { timeout: 0 });
    const reason = await cf.failed.promise;
    expect(reason).toBeInstanceOf(TimeoutError);
    expect(reason).toBeInstanceOf(UserError);
  });

  it("gives peer and host addresses, normalised", async () => {
    let serverSide: Recorder | null = null;
    class F extends ServerFactory {
      override buildProtocol() {
        serverSide = new Recorder();
        return serverSide;
      }
    }
    const { portNumber } = await listen(new F());
    const cf = new RecordingClientFactory();
    const connector = reactor.connectTCP("127.0.0.1", portNumber, cf);
    await waitFor(() => cf.protocolInstance?.connected === true && serverSide?.connected === true, "both ends");
    const client = cf.protocolInstance!.transport;
    expect(client.getPeer()).toEqual(new IPv4Address("TCP", "127.0.0.1", portNumber));
    expect(serverSide!.transport.getPeer()).toEqual(client.getHost());
    expect(connector.getDestination()).toEqual(new IPv4Address("TCP", "127.0.0.1", portNumber));
    client.setTcpNoDelay(true);
    client.setTcpKeepAlive(true);
    expect(client.getTcpNoDelay()).toBe(true);
    expect(client.getTcpKeepAlive()).toBe(true);
    connector.disconnect();
    await cf.lostDone.promise;
  });

  it("binds the local end to bindAddress before connecting", async () => {
    let serverSide: Recorder | null = null;
    const sf = new ServerFactory();
    sf.buildProtocol = () => (serverSide = new Recorder());
    const { portNumber } = await listen(sf);
    const cf = new RecordingClientFactory();
    const connector = reactor.connectTCP("127.0.0.1", portNumber, cf, { bindAddress: ["127.0.0.2", 0] });
    await waitFor(() => cf.protocolInstance?.connected === true && serverSide !== null, "connected");
    expect((cf.protocolInstance!.transport.getHost() as IPv4Address).host).toBe("127.0.0.2");
    expect((serverSide!.transport.getPeer() as IPv4Address).host).toBe("127.0.0.2");
    connector.disconnect();
    await cf.lostDone.promise;
  });

  it("works over IPv6 loopback (::1)", async () => {
    const port = reactor.listenTCP(0, Factory.forProtocol(Echo), { interface: "::1" });
    cleanups.push(() => port.stopListening());
    const ok = await port.listening.then(
      () => true,
      () => false,
    );
    if (!ok) {
      console.log("skipped: this machine has no ::1");
      return;
    }
    const portNumber = (port.getHost() as IPv4Address).port;
    expect(port.getHost().family).toBe("IPv6");
    const cf = new RecordingClientFactory();
    reactor.connectTCP("::1", portNumber, cf);
    await waitFor(() => cf.protocolInstance?.connected === true, "connected");
    cf.protocolInstance!.transport.write(Buffer.from("six"));
    await waitFor(() => cf.protocolInstance!.text() === "six", "echo over v6");
    cf.protocolInstance!.transport.loseConnection();
    await cf.lostDone.promise;
  });
});

describe("transports", () => {
  async function pair(server: () => Protocol, client: () => Recorder = () => new Recorder()) {
    let serverSide: Protocol | null = null;
    class F extends ServerFactory {
      override buildProtocol() {
        serverSide = server();
        return serverSide;
      }
    }
    const { portNumber } = await listen(new F());
    const cf = new RecordingClientFactory(client);
    const connector = reactor.connectTCP("127.0.0.1", portNumber, cf);
    // Both protocols were built (and so connected: makeConnection runs right after buildProtocol).
    await waitFor(() => cf.protocolInstance !== null && serverSide !== null, "both ends");
    return { cf, connector, server: serverSide! as Protocol, client: cf.protocolInstance! };
  }

  it("loseConnection flushes what was written before closing, and delivers nothing after", async () => {
    const big = Buffer.alloc(4 * 1024 * 1024, 7);
    let delivered = 0;
    class Server extends Recorder {
      override dataReceived(data: Bytes) {
        super.dataReceived(data);
        delivered += 1;
        this.transport.write(big);
        this.transport.loseConnection();
        expect(this.transport.disconnecting).toBe(true);
      }
    }
    const { client, server } = await pair(() => new Server());
    client.transport.write(Buffer.from("go"));
    client.transport.write(Buffer.from("more"));
    const reason = await client.lost.promise;
    expect(reason).toBeInstanceOf(ConnectionDone);
    expect(Buffer.concat(client.received).length).toBe(big.length);
    expect(delivered).toBe(1);
    expect(await (server as Server).lost.promise).toBeInstanceOf(ConnectionDone);
  });

  it("writes after close are dropped silently; text is refused with a TypeError", async () => {
    const { client, cf } = await pair(() => new Echo());
    expect(() => client.transport.write("text" as unknown as Bytes)).toThrow(TypeError);
    client.transport.loseConnection();
    await cf.lostDone.promise;
    expect(() => client.transport.write(Buffer.from("late"))).not.toThrow();
  });

  it("abortConnection discards pending writes; connectionLost(ConnectionAborted) comes later, once", async () => {
    let serverGot = 0;
    class Sink extends Recorder {
      override dataReceived(data: Bytes) {
        serverGot += data.length;
      }
    }
    const { client, server } = await pair(() => new Sink());
    const calls: string[] = [];
    const lost = client.connectionLost.bind(client);
    client.connectionLost = (r: Error) => {
      calls.push("lost");
      lost(r);
    };
    (server.transport as Connection).pauseProducing(); // the server stops reading: our writes pile up
    client.transport.write(Buffer.alloc(32 * 1024 * 1024, 1));
    client.transport.abortConnection();
    client.transport.abortConnection(); // idempotent
    expect(calls).toEqual([]); // never re-entrant
    const reason = await client.lost.promise;
    expect(reason).toBeInstanceOf(ConnectionAborted);
    expect(reason).toBeInstanceOf(ConnectionLost);
    // A paused transport notices the reset only once it reads again (as in Twisted).
    (server.transport as Connection).resumeProducing();
    // The RST meets the peer's zero receive window; whether Linux then shows it a reset or a close depends on
    // sequence numbers, so only "closed" is asserted here (the next test checks the plain reset).
    const serverReason = await (server as Sink).lost.promise;
    expect(serverReason).toBeInstanceOf(ConnectionClosed);
    expect(serverGot).toBeLessThan(32 * 1024 * 1024);
    expect(calls).toEqual(["lost"]);
  });

  it("the peer of an aborted connection sees a reset: ConnectionLost (ECONNRESET)", async () => {
    const { client, server } = await pair(() => new Recorder());
    client.transport.write(Buffer.from("last words"));
    await waitFor(() => (server as Recorder).text() === "last words", "data before the reset");
    client.transport.abortConnection();
    const reason = await (server as Recorder).lost.promise;
    expect(reason).toBeInstanceOf(ConnectionLost);
    expect(reason).not.toBeInstanceOf(ConnectionAborted);
    expect(reason.message).toMatch(/ECONNRESET/);
  });

  it("a throw in dataReceived drops the connection with that error as the reason (dataReceivedThrows)", async () => {
    class Boom extends Error {}
    class Thrower extends Recorder {
      override dataReceived() {
        throw new Boom("protocol bug");
      }
    }
    const { client, server } = await pair(() => new Thrower());
    client.transport.write(Buffer.from("x"));
    const reason = await (server as Thrower).lost.promise;
    expect(reason).toBeInstanceOf(Boom);
    // As in Twisted, the socket is closed in an orderly way: the peer sees the close, not a reset.
    expect(await client.lost.promise).toBeInstanceOf(ConnectionClosed);
  });

  it("abortConnection inside dataReceived stops delivery (dataReceivedAbort)", async () => {
    class Aborter extends Recorder {
      override dataReceived(data: Bytes) {
        super.dataReceived(data);
        this.transport.abortConnection();
      }
    }
    const { client, server } = await pair(() => new Aborter());
    client.transport.write(Buffer.from("a"));
    await waitFor(() => (server as Aborter).received.length > 0, "first chunk");
    client.transport.write(Buffer.from("b"));
    expect(await (server as Aborter).lost.promise).toBeInstanceOf(ConnectionAborted);
    expect((server as Aborter).received.length).toBe(1);
  });

  it("connectionLost arrives for a paused transport (connectionLostAfterPausedTransport)", async () => {
    const { client, server } = await pair(() => new Recorder());
    (server.transport as Connection).pauseProducing();
    client.transport.loseConnection();
    expect(await (server as Recorder).lost.promise).toBeInstanceOf(ConnectionDone);
  });

  describe("abortConnection after loseConnection (Twisted: the abort still wins)", () => {
    /**
     * A peer that stays open after our FIN (half-closeable) and answers it, so that it notices a reset: a write to
     * a reset connection fails (EPIPE/ECONNRESET: ConnectionLost), a write to one that was only shut succeeds.
     */
    class Probe extends Recorder implements IHalfCloseableProtocol {
      readConnectionLost() {
        this.events.push("readConnectionLost");
        this.transport.write(Buffer.from("still there?"));
      }
      writeConnectionLost() {}
    }

    /** A client like the engine's RawProtocol: half-closeable, so the peer's FIN leaves it open. */
    class HalfOpenClient extends Recorder implements IHalfCloseableProtocol {
      readConnectionLost() {
        this.events.push("readConnectionLost");
      }
      writeConnectionLost() {}
    }

    /** Counts the calls of the client's connectionLost, to see it come once and never re-entrantly. */
    function countLosses(client: Recorder): string[] {
      const calls: string[] = [];
      const lost = client.connectionLost.bind(client);
      client.connectionLost = (r: Error) => {
        calls.push("lost");
        lost(r);
      };
      return calls;
    }

    /** The client's connectionLost, waited for with a message that says what went wrong if it never comes. */
    async function lossOf(p: Recorder, who: string): Promise<Error> {
      await waitFor(() => p.reason !== null, `${who}'s connectionLost`);
      return p.reason!;
    }

    /** Makes the peer write until its connection is lost (a reset shows on a write), a bounded number of times. */
    async function probeUntilLost(peer: Recorder): Promise<Error | null> {
      for (let i = 0; i < 100 && peer.reason === null; i++) {
        peer.transport.write(Buffer.from("?"));
        await new Promise((r) => setTimeout(r, 20));
      }
      return peer.reason;
    }

    it("with writes still queued in Node (a peer that doesn't read): they are dropped, the peer is reset", async () => {
      const { client, server } = await pair(() => new Probe());
      const probe = server as Probe;
      const calls = countLosses(client);
      (probe.transport as Connection).pauseProducing(); // the peer doesn't read: our writes pile up
      client.transport.write(Buffer.alloc(32 * 1024 * 1024, 1));
      client.transport.loseConnection();
      client.transport.abortConnection();
      expect(calls).toEqual([]); // never re-entrant
      expect(await lossOf(client, "client")).toBeInstanceOf(ConnectionAborted);
      (probe.transport as Connection).resumeProducing();
      const peerReason = await probeUntilLost(probe);
      expect(peerReason).toBeInstanceOf(ConnectionLost);
      expect(Buffer.concat(probe.received).length).toBeLessThan(32 * 1024 * 1024);
      expect(calls).toEqual(["lost"]);
    });

    it("with the last bytes already in the kernel (our FIN on its way): still a reset, ConnectionAborted once", async () => {
      const { client, server } = await pair(() => new Probe());
      const probe = server as Probe;
      const calls = countLosses(client);
      (probe.transport as Connection).pauseProducing();
      client.transport.write(Buffer.from("last words"));
      client.transport.loseConnection();
      client.transport.abortConnection();
      client.transport.abortConnection(); // idempotent
      expect(calls).toEqual([]);
      expect(await lossOf(client, "client")).toBeInstanceOf(ConnectionAborted);
      (probe.transport as Connection).resumeProducing();
      // Without the reset the peer's writes would go on succeeding: the socket would stay open, only shut.
      expect(await probeUntilLost(probe)).toBeInstanceOf(ConnectionLost);
      expect(calls).toEqual(["lost"]);
    });

    it("with nothing buffered: the connection is reset, not closed cleanly", async () => {
      const { client, server } = await pair(() => new Probe());
      const calls = countLosses(client);
      client.transport.loseConnection();
      client.transport.abortConnection();
      expect(await lossOf(client, "client")).toBeInstanceOf(ConnectionAborted);
      expect(await probeUntilLost(server as Probe)).toBeInstanceOf(ConnectionLost);
      expect(calls).toEqual(["lost"]);
    });

    it("on a half-closeable protocol after the peer's FIN (the engine's raw connections)", async () => {
      class ShutsItsSide extends Recorder {
        override connectionMade() {
          super.connectionMade();
          this.transport.loseWriteConnection();
        }
      }
      const { client, server } = await pair(
        () => new ShutsItsSide(),
        () => new HalfOpenClient(),
      );
      const calls = countLosses(client);
      await waitFor(() => client.events.includes("readConnectionLost"), "the peer's FIN");
      client.transport.write(Buffer.from("bye"));
      client.transport.loseConnection();
      client.transport.abortConnection();
      expect(await lossOf(client, "client")).toBeInstanceOf(ConnectionAborted);
      expect(await lossOf(server as Recorder, "peer")).toBeInstanceOf(ConnectionClosed);
      expect(calls).toEqual(["lost"]);
    });

    it("on a UNIX socket, where Node has no reset: closes at once, ConnectionAborted", async () => {
      const dir = mkdtempSync(join(tmpdir(), "wirescope-tcp-"));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      let serverSide: Recorder | null = null;
      const sf = new ServerFactory();
      sf.buildProtocol = () => (serverSide = new Recorder());
      const port = reactor.listenUNIX(join(dir, "s.sock"), sf);
      cleanups.push(() => port.stopListening());
      await port.listening;
      const cf = new RecordingClientFactory();
      reactor.connectUNIX(join(dir, "s.sock"), cf);
      await waitFor(() => cf.protocolInstance?.connected === true && serverSide !== null, "both ends");
      const client = cf.protocolInstance!;
      client.transport.write(Buffer.from("last words"));
      client.transport.loseConnection();
      expect(() => client.transport.abortConnection()).not.toThrow();
      expect(await lossOf(client, "client")).toBeInstanceOf(ConnectionAborted);
      expect(await lossOf(serverSide!, "peer")).toBeInstanceOf(ConnectionClosed);
    });

    it("after loseWriteConnection: the abort still resets", async () => {
      const { client, server } = await pair(() => new Probe());
      const calls = countLosses(client);
      client.transport.loseWriteConnection();
      client.transport.abortConnection();
      expect(await lossOf(client, "client")).toBeInstanceOf(ConnectionAborted);
      expect(await probeUntilLost(server as Probe)).toBeInstanceOf(ConnectionLost);
      expect(calls).toEqual(["lost"]);
    });
  });

  describe("half-close (HalfCloseTests)", () => {
    class HalfCloseable extends Recorder implements IHalfCloseableProtocol {
      readLost = false;
      writeLost = false;
      readConnectionLost() {
        this.readLost = true;
        this.events.push("readConnectionLost");
        this.transport.write(Buffer.from("reply after FIN"));
        this.transport.loseWriteConnection();
      }
      writeConnectionLost() {
        this.writeLost = true;
        this.events.push("writeConnectionLost");
      }
    }

    it("a half-closeable protocol gets readConnectionLost and may still write", async () => {
      const { client, server } = await pair(
        () => new HalfCloseable(),
        () => new HalfCloseable(),
      );
      client.transport.write(Buffer.from("request"));
      client.transport.loseWriteConnection();
      await client.lost.promise;
      expect(client.text()).toBe("reply after FIN");
      expect((server as HalfCloseable).text()).toBe("request");
      expect((server as HalfCloseable).events).toEqual(["made", "readConnectionLost", "writeConnectionLost", "lost"]);
      expect(client.events).toEqual(["made", "writeConnectionLost", "readConnectionLost", "lost"]);
      expect(client.reason).toBeInstanceOf(ConnectionDone);
      expect((server as HalfCloseable).reason).toBeInstanceOf(ConnectionDone);
    });

    it("a protocol that isn't half-closeable gets connectionLost(ConnectionDone) on the peer's FIN", async () => {
      const { client, server } = await pair(
        () => new Recorder(),
        () => new HalfCloseable(),
      );
      client.transport.loseWriteConnection();
      expect(await (server as Recorder).lost.promise).toBeInstanceOf(ConnectionDone);
      expect(await client.lost.promise).toBeInstanceOf(ConnectionDone);
    });

    it("a throwing readConnectionLost closes the connection fully with that error", async () => {
      class BadHalf extends HalfCloseable {
        override readConnectionLost() {
          throw new Error("half-close hook failed");
        }
      }
      const { client, server } = await pair(
        () => new BadHalf(),
        () => new HalfCloseable(),
      );
      client.transport.loseWriteConnection();
      const reason = await (server as BadHalf).lost.promise;
      expect(reason.message).toBe("half-close hook failed");
      await client.lost.promise;
    });
  });

  describe("producers", () => {
    /** Writes 16 KiB chunks while not paused, until `total` bytes are out. */
    class Streamer implements IPushProducer {
      paused = 0;
      resumed = 0;
      stopped = false;
      sent = 0;
      private running = false;
      constructor(
        readonly transport: Connection,
        readonly total: number,
      ) {}
      start() {
        this.running = true;
        this.pump();
      }
      private pump() {
        while (this.running && this.sent < this.total && !this.stopped) {
          const n = Math.min(16384, this.total - this.sent);
          this.sent += n;
          this.transport.write(Buffer.alloc(n, 0x61));
        }
        if (this.sent >= this.total && !this.stopped) {
          this.stopped = true;
          this.transport.unregisterProducer();
          this.transport.loseConnection();
        }
      }
      pauseProducing() {
        this.paused += 1;
        this.running = false;
      }
      resumeProducing() {
        this.resumed += 1;
        this.running = true;
        setImmediate(() => this.pump());
      }
      stopProducing() {
        this.stopped = true;
      }
    }

    it("a slow reader pauses a streaming producer, which resumes on drain; every byte arrives (streamingProducer)", async () => {
      const total = 8 * 1024 * 1024;
      let streamer: Streamer | null = null;
      class Producing extends Recorder {
        override connectionMade() {
          super.connectionMade();
          streamer = new Streamer(this.transport as Connection, total);
          this.transport.registerProducer(streamer, true);
          streamer.start();
        }
      }
      class SlowReader extends Recorder {
        bytes = 0;
        override dataReceived(data: Bytes) {
          this.bytes += data.length;
          // Read in bursts: pause reading for a moment every ~256 KiB.
          if (this.bytes % (256 * 1024) < data.length) {
            this.transport.pauseProducing();
            setTimeout(() => this.transport.resumeProducing(), 5);
          }
        }
      }
      const { client } = await pair(
        () => new Producing(),
        () => new SlowReader(),
      );
      await client.lost.promise;
      expect((client as SlowReader).bytes).toBe(total);
      expect(streamer!.paused).toBeGreaterThan(0);
      expect(streamer!.resumed).toBeGreaterThan(0);
    });

    it("registering two producers throws; registering on a closed transport stops the producer at once", async () => {
      const { client, cf } = await pair(() => new Echo());
      const p = { pauseProducing() {}, resumeProducing() {}, stopProducing() {} };
      client.transport.registerProducer(p, true);
      expect(() => client.transport.registerProducer(p, true)).toThrow(/never unregistered/);
      client.transport.unregisterProducer();
      client.transport.loseConnection();
      await cf.lostDone.promise;
      let stopped = false;
      client.transport.registerProducer({ ...p, stopProducing: () => (stopped = true) }, true);
      expect(stopped).toBe(true);
    });

    it("loseConnection with a paused streaming producer closes once the buffer drains, without unregister", async () => {
      const events: string[] = [];
      class Holding extends Recorder {
        override connectionMade() {
          super.connectionMade();
          const t = this.transport;
          t.registerProducer(
            {
              pauseProducing: () => events.push("paused"),
              resumeProducing: () => events.push("resumed"),
              stopProducing: () => events.push("stopped"),
            },
            true,
          );
          t.write(Buffer.alloc(32 * 1024 * 1024, 0x63)); // more than the kernel takes at once: the producer is paused
          t.loseConnection(); // held back by the paused producer, which nobody unregisters
        }
      }
      const { client } = await pair(() => new Holding());
      expect(await client.lost.promise).toBeInstanceOf(ConnectionDone);
      expect(Buffer.concat(client.received).length).toBe(32 * 1024 * 1024);
      expect(events).toEqual(["paused", "resumed", "stopped"]);
    });

    it("a pull producer is asked for data on register and on each drain until it unregisters", async () => {
      const chunks = 200;
      class Pulling extends Recorder {
        override connectionMade() {
          super.connectionMade();
          let n = 0;
          const t = this.transport;
          t.registerProducer(
            {
              resumeProducing() {
                n += 1;
                t.write(Buffer.alloc(32 * 1024, 0x62));
                if (n === chunks) {
                  t.unregisterProducer();
                }
              },
              stopProducing() {},
            },
            false,
          );
          t.loseConnection(); // waits for the pull producer to finish
        }
      }
      const { client } = await pair(() => new Pulling());
      await client.lost.promise;
      expect(Buffer.concat(client.received).length).toBe(chunks * 32 * 1024);
    });
  });

  it("1,000 concurrent connections to one listener: every byte accounted for", async () => {
    const N = 1000;
    let serverBytes = 0;
    let accepted = 0;
    class CountingEcho extends Echo {
      override connectionMade() {
        accepted += 1;
      }
      override dataReceived(data: Bytes) {
        serverBytes += data.length;
        super.dataReceived(data);
      }
    }
    const port = reactor.listenTCP(0, Factory.forProtocol(CountingEcho), { interface: "127.0.0.1", backlog: 1024 });
    cleanups.push(() => port.stopListening());
    await port.listening;
    const portNumber = (port.getHost() as IPv4Address).port;
    const payload = (i: number) => Buffer.from(`connection ${i} `.repeat(20 + (i % 50)));
    let expectedBytes = 0;
    const done: Promise<boolean>[] = [];
    class Client extends Protocol {
      constructor(
        readonly i: number,
        readonly result: (ok: boolean) => void,
      ) {
        super();
      }
      got: Buffer[] = [];
      override connectionMade() {
        this.transport.write(payload(this.i));
      }
      override dataReceived(data: Bytes) {
        this.got.push(Buffer.from(data));
        if (Buffer.concat(this.got).length >= payload(this.i).length) this.transport.loseConnection();
      }
      override connectionLost() {
        this.result(Buffer.concat(this.got).equals(payload(this.i)));
      }
    }
    for (let i = 0; i < N; i++) {
      expectedBytes += payload(i).length;
      const d = deferred<boolean>();
      done.push(d.promise);
      const f = new ClientFactory();
      f.buildProtocol = () => new Client(i, d.resolve);
      f.clientConnectionFailed = (_c, reason) => d.reject(reason);
      reactor.connectTCP("127.0.0.1", portNumber, f);
    }
    const results = await Promise.all(done);
    expect(results.filter((ok) => !ok).length).toBe(0);
    expect(accepted).toBe(N);
    expect(serverBytes).toBe(expectedBytes);
    await waitFor(() => port.connections.size === 0, "server side closed");
  }, 60_000);
});

describe("loopback semantics (test_loopback)", () => {
  it("write inside dataReceived is not re-entrant and no lines arrive after loseConnection", async () => {
    let depth = 0;
    let maxDepth = 0;
    const seen: string[] = [];
    class Server extends Recorder {
      override dataReceived(data: Bytes) {
        depth += 1;
        maxDepth = Math.max(maxDepth, depth);
        seen.push(Buffer.from(data).toString());
        this.transport.write(data);
        this.transport.loseConnection();
        depth -= 1;
      }
    }
    let serverSide: Server | null = null;
    const sf = new ServerFactory();
    sf.buildProtocol = () => (serverSide = new Server());
    const { portNumber } = await listen(sf);
    const cf = new RecordingClientFactory();
    reactor.connectTCP("127.0.0.1", portNumber, cf);
    await waitFor(() => cf.protocolInstance?.connected === true, "connected");
    cf.protocolInstance!.transport.write(Buffer.from("one\r\n"));
    await cf.lostDone.promise;
    cf.protocolInstance!.transport.write(Buffer.from("two\r\n"));
    expect(maxDepth).toBe(1);
    expect(seen.join("")).toBe("one\r\n");
    expect(serverSide).not.toBeNull();
  });
});
