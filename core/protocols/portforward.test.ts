/**
 * The port forwarder (ported from Twisted's test/test_protocols.py PortforwardingTests): producer registrations
 * over StringTransport with a MemoryReactor, then real forwarding on 127.0.0.1 — bulk data, a slow reader, a slow
 * upstream.
 */
import { afterEach, describe, expect, it } from "vitest";
import { deferred, listenLocal, waitFor } from "../../tests/helpers/net.ts";
import { IPv4Address, type Address } from "../address.ts";
import { ConnectionDone, ConnectionRefusedError } from "../errors.ts";
import type { Bytes, IProtocol, ITransport } from "../interfaces.ts";
import { globalLogPublisher, type LogEvent } from "../logger.ts";
import { ClientFactory, Factory, Protocol } from "../protocol.ts";
import { reactor } from "../reactor.ts";
import type { Connection } from "../tcp.ts";
import { MemoryConnector, MemoryReactor, StringTransport, StringTransportWithDisconnection } from "../testing.ts";
import { ProxyClient, ProxyClientFactory, ProxyFactory, type ProxyServer } from "./portforward.ts";
import { Echo } from "./wire.ts";

const addr = new IPv4Address("TCP", "127.0.0.1", 0);

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A ProxyServer connected to `serverTransport`, with its upstream connection recorded by a MemoryReactor. */
function connectedServer(serverTransport: StringTransport = new StringTransport()) {
  const memoryReactor = new MemoryReactor();
  const factory = new ProxyFactory("upstream.example", 4321, memoryReactor);
  const server = factory.buildProtocol(addr) as ProxyServer;
  if (serverTransport instanceof StringTransportWithDisconnection) serverTransport.protocol = server;
  server.makeConnection(serverTransport);
  const clientFactory = memoryReactor.tcpClients[0]!.factory as ProxyClientFactory;
  return { memoryReactor, factory, server, serverTransport, clientFactory };
}

/** Connects the upstream side, as the reactor would once the upstream accepted. */
function connectClient(clientFactory: ProxyClientFactory, clientTransport: StringTransport = new StringTransport()) {
  const client = clientFactory.buildProtocol(addr);
  if (clientTransport instanceof StringTransportWithDisconnection) clientTransport.protocol = client;
  client.makeConnection(clientTransport);
  return { client, clientTransport };
}

describe("ProxyServer and ProxyClient over StringTransport", () => {
  it("registers the two transports as each other's streaming producers (test_registerProducers)", () => {
    // Twisted's way: the reactor is set on the ProxyServer itself.
    const server = new ProxyFactory("127.0.0.1", 0).buildProtocol(addr) as ProxyServer;
    const memoryReactor = new MemoryReactor();
    server.reactor = memoryReactor;
    const serverTransport = new StringTransport();
    server.makeConnection(serverTransport);

    expect(memoryReactor.tcpClients).toHaveLength(1);
    const clientFactory = memoryReactor.tcpClients[0]!.factory;
    expect(clientFactory).toBeInstanceOf(ProxyClientFactory);

    const client = clientFactory.buildProtocol(addr) as IProtocol;
    const clientTransport = new StringTransport();
    client.makeConnection(clientTransport);

    expect(clientTransport.producer).toBe(serverTransport);
    expect(serverTransport.producer).toBe(clientTransport);
    expect(clientTransport.streaming).toBe(true);
    expect(serverTransport.streaming).toBe(true);
  });

  it("connects to the factory's host and port through the factory's reactor", () => {
    const { memoryReactor, clientFactory, server } = connectedServer();
    const [call] = memoryReactor.tcpClients;
    expect(call!.host).toBe("upstream.example");
    expect(call!.port).toBe(4321);
    expect(clientFactory.server).toBe(server);
  });

  it("uses a reactor assigned to the factory after construction", () => {
    const memoryReactor = new MemoryReactor();
    const factory = new ProxyFactory("h", 1);
    factory.reactor = memoryReactor;
    factory.buildProtocol(addr)!.makeConnection(new StringTransport());
    expect(memoryReactor.tcpClients).toHaveLength(1);
  });

  it("pauses reading from the downstream client until the upstream connects, then resumes it", () => {
    const { serverTransport, clientFactory } = connectedServer();
    expect(serverTransport.producerState).toBe("paused");
    connectClient(clientFactory);
    expect(serverTransport.producerState).toBe("producing");
  });

  it("relays bytes both ways", () => {
    const { server, serverTransport, clientFactory } = connectedServer();
    const { client, clientTransport } = connectClient(clientFactory);
    expect(server.peer).toBe(client);
    expect(client.peer).toBe(server);
    server.dataReceived(Buffer.from("GET / HTTP/1.0\r\n\r\n"));
    client.dataReceived(Buffer.from("HTTP/1.0 200 OK\r\n\r\n"));
    expect(clientTransport.value().toString()).toBe("GET / HTTP/1.0\r\n\r\n");
    expect(serverTransport.value().toString()).toBe("HTTP/1.0 200 OK\r\n\r\n");
  });

  it("holds bytes that arrive before the upstream connects and sends them first", () => {
    const { server, clientFactory } = connectedServer();
    server.dataReceived(Buffer.from("early "));
    server.dataReceived(Buffer.from("bird"));
    const { client, clientTransport } = connectClient(clientFactory);
    server.dataReceived(Buffer.from("!"));
    expect(client.peer).toBe(server);
    expect(clientTransport.value().toString()).toBe("early bird!");
  });

  it("closes the upstream connection when the downstream one is lost", () => {
    const { server, clientFactory } = connectedServer(new StringTransportWithDisconnection());
    const { client, clientTransport } = connectClient(clientFactory, new StringTransportWithDisconnection());
    server.connectionLost(new ConnectionDone());
    expect(clientTransport.disconnecting).toBe(true);
    expect(server.peer).toBeNull();
    expect(client.peer).toBeNull();
  });

  it("closes the downstream connection when the upstream one is lost", () => {
    const { server, serverTransport, clientFactory } = connectedServer(new StringTransportWithDisconnection());
    const { client } = connectClient(clientFactory, new StringTransportWithDisconnection());
    client.connectionLost(new ConnectionDone());
    expect(serverTransport.disconnecting).toBe(true);
    expect(server.peer).toBeNull();
  });

  it("closes the downstream connection when the upstream can't be reached, and logs it", () => {
    const events: LogEvent[] = [];
    cleanups.push(globalLogPublisher.addObserver((e) => events.push(e)));
    const { server, serverTransport, clientFactory } = connectedServer(new StringTransportWithDisconnection());
    clientFactory.clientConnectionFailed(new MemoryConnector(addr), new ConnectionRefusedError());
    expect(serverTransport.disconnecting).toBe(true);
    expect(server.connected).toBe(false);
    expect(events.some((e) => e.log_source === server && /Unable to connect to peer/.test(e.log_format ?? ""))).toBe(
      true,
    );
  });
});

/** Echo that reports its connection and loss, and can stop reading. */
class Upstream extends Echo {
  static instances: Upstream[] = [];
  received = 0;
  lost = deferred<Error>();
  constructor() {
    super();
    Upstream.instances.push(this);
  }
  override dataReceived(data: Bytes): void {
    this.received += data.byteLength;
    super.dataReceived(data);
  }
  override connectionLost(reason: Error): void {
    super.connectionLost(reason);
    this.lost.resolve(reason);
  }
}

/** A client that sends `payload` on connection and collects what comes back. */
class Client extends Protocol {
  chunks: Buffer[] = [];
  length = 0;
  made = deferred();
  lost = deferred<Error>();
  constructor(
    readonly payload: Buffer,
    readonly startPaused = false,
  ) {
    super();
  }
  override connectionMade(): void {
    if (this.startPaused) this.transport.pauseProducing();
    this.transport.write(this.payload);
    this.made.resolve();
  }
  override dataReceived(data: Bytes): void {
    this.chunks.push(Buffer.from(data));
    this.length += data.byteLength;
  }
  override connectionLost(reason: Error): void {
    super.connectionLost(reason);
    this.lost.resolve(reason);
  }
  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/** Counts the calls of a transport's pauseProducing and resumeProducing from now on. */
function watch(t: ITransport): { pauses: number; resumes: number } {
  const counts = { pauses: 0, resumes: 0 };
  const pause = t.pauseProducing.bind(t);
  const resume = t.resumeProducing.bind(t);
  t.pauseProducing = () => {
    counts.pauses += 1;
    pause();
  };
  t.resumeProducing = () => {
    counts.resumes += 1;
    resume();
  };
  return counts;
}

/**
 * A ProxyClient that counts how often the proxy paused and resumed reading from the upstream (`upstream`) and
 * from the client (`downstream`), from the moment the upstream connected.
 */
class WatchedProxyClient extends ProxyClient {
  static last: WatchedProxyClient | null = null;
  upstream = { pauses: 0, resumes: 0 };
  downstream = { pauses: 0, resumes: 0 };
  override connectionMade(): void {
    WatchedProxyClient.last = this;
    this.upstream = watch(this.transport);
    this.downstream = watch(this.peer!.transport);
    super.connectionMade();
  }
}

class WatchedProxyClientFactory extends ProxyClientFactory {
  override protocol = WatchedProxyClient;
}

/** A ProxyFactory whose servers use WatchedProxyClient and are remembered. */
class WatchedProxyFactory extends ProxyFactory {
  servers: ProxyServer[] = [];
  override buildProtocol(a: Address): ProxyServer {
    const p = super.buildProtocol(a) as ProxyServer;
    p.clientProtocolFactory = WatchedProxyClientFactory;
    this.servers.push(p);
    return p;
  }
}

/** An echo upstream and a proxy in front of it, both on 127.0.0.1. Returns the proxy's port. */
async function proxyToEcho(upstreamFactory: Factory = Factory.forProtocol(Upstream)) {
  const upstream = await listenLocal(upstreamFactory);
  cleanups.push(() => upstream.port.stopListening());
  const proxyFactory = new WatchedProxyFactory("127.0.0.1", upstream.portNumber, reactor);
  const proxy = await listenLocal(proxyFactory);
  cleanups.push(() => proxy.port.stopListening());
  return { proxyFactory, proxyPort: proxy.portNumber };
}

function connectClientTo(port: number, client: Client): void {
  const f = new ClientFactory();
  f.buildProtocol = () => client;
  reactor.connectTCP("127.0.0.1", port, f);
  cleanups.push(() => {
    if (client.connected) client.transport.abortConnection();
  });
}

/** `n` bytes of a pattern that shows reordering or loss. */
function pattern(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + (i >> 11)) & 0xff;
  return b;
}

describe("port forwarding over real sockets", () => {
  it("forwards 1000 bytes to an echo server and back (test_portforward)", async () => {
    Upstream.instances = [];
    const { proxyPort } = await proxyToEcho();
    const client = new Client(Buffer.alloc(1000, "x"));
    connectClientTo(proxyPort, client);
    await waitFor(() => client.length >= 1000, "1000 bytes back");
    expect(client.bytes().toString()).toBe("x".repeat(1000));
  });

  it("forwards 2 MiB both ways, every byte in order, and closes the upstream when the client closes", async () => {
    Upstream.instances = [];
    const { proxyPort } = await proxyToEcho();
    const payload = pattern(2 * 1024 * 1024);
    const client = new Client(payload);
    connectClientTo(proxyPort, client);
    await waitFor(() => client.length >= payload.length, "2 MiB back");
    expect(client.bytes().equals(payload)).toBe(true);
    client.transport.loseConnection();
    expect(await client.lost.promise).toBeInstanceOf(ConnectionDone);
    expect(await Upstream.instances[0]!.lost.promise).toBeInstanceOf(ConnectionDone);
  });

  it("stops reading from the upstream while the client doesn't read, and gets everything once it does", async () => {
    Upstream.instances = [];
    WatchedProxyClient.last = null;
    const { proxyFactory, proxyPort } = await proxyToEcho();
    // More than the kernel buffers between the proxy and the client can absorb.
    const payload = pattern(32 * 1024 * 1024);
    const client = new Client(payload, true);
    connectClientTo(proxyPort, client);
    await waitFor(() => (WatchedProxyClient.last?.upstream.pauses ?? 0) > 0, "the proxy to pause the upstream");
    const watched = WatchedProxyClient.last!;
    // Give the proxy time to misbehave: while paused, what it holds for the client stays near one buffer's worth.
    await new Promise((r) => setTimeout(r, 200));
    const downstream = proxyFactory.servers[0]!.transport as Connection;
    expect(downstream.bufferedAmount).toBeLessThan(512 * 1024);
    expect(client.length).toBe(0);

    client.transport.resumeProducing();
    await waitFor(() => client.length >= payload.length, "32 MiB back", 20_000);
    expect(client.bytes().equals(payload)).toBe(true);
    expect(watched.upstream.resumes).toBeGreaterThan(0);
  });

  it("stops reading from the client while the upstream doesn't read, and delivers everything once it does", async () => {
    Upstream.instances = [];
    WatchedProxyClient.last = null;
    class SlowUpstream extends Upstream {
      override connectionMade(): void {
        this.transport.pauseProducing();
      }
    }
    const { proxyPort } = await proxyToEcho(Factory.forProtocol(SlowUpstream));
    // More than the kernel buffers between the client and the upstream can absorb.
    const payload = pattern(32 * 1024 * 1024);
    const client = new Client(payload);
    connectClientTo(proxyPort, client);
    await waitFor(() => (WatchedProxyClient.last?.downstream.pauses ?? 0) > 0, "the proxy to pause the client");
    const watched = WatchedProxyClient.last!;
    await new Promise((r) => setTimeout(r, 200));
    // While paused, what the proxy holds for the upstream stays near one buffer's worth.
    expect((watched.transport as Connection).bufferedAmount).toBeLessThan(512 * 1024);
    const upstream = Upstream.instances[0]!;
    expect(upstream.received).toBe(0);

    upstream.transport.resumeProducing();
    await waitFor(() => client.length >= payload.length, "32 MiB echoed back", 20_000);
    expect(upstream.received).toBe(payload.length);
    expect(client.bytes().equals(payload)).toBe(true);
    expect(watched.downstream.resumes).toBeGreaterThan(0);
  });
});
