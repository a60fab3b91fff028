/**
 * A simple port forwarder (src/twisted/protocols/portforward.py).
 *
 *     reactor.listenTCP(8080, new ProxyFactory("example.com", 80));
 *
 * Each accepted connection (a ProxyServer) opens a connection upstream (a ProxyClient) and relays bytes both ways.
 * Flow control comes from the transports: each one is registered as the other's streaming producer, so when one
 * side can't keep up, reading from the other side pauses, and the proxy never buffers more than a transport's
 * `bufferSize` per direction.
 *
 * The reactor is injectable: `ProxyFactory`'s third argument or its `reactor` field (MemoryReactor in tests), or a
 * ProxyServer's own `reactor` as in Twisted. It defaults to the process's reactor (core/reactor.ts), which Twisted
 * also imports on first use.
 */
import type { Address } from "../address.ts";
import type { Bytes, IConnector, IReactorNet } from "../interfaces.ts";
import { ClientFactory, Factory, Protocol, type ProtocolClass } from "../protocol.ts";
import { reactor as defaultReactor } from "../reactor.ts";

/**
 * One end of a forwarded connection (twisted.protocols.portforward.Proxy): whatever arrives is written to the
 * peer's transport; when this connection is lost, the peer's is closed.
 */
export class Proxy extends Protocol {
  /** Whether to log a connection lost before a peer was ever attached (an upstream that could not be reached). */
  noisy = true;
  /** The other end; null until connected and after the loss. */
  peer: Proxy | null = null;

  /** Called when the other end is connected. */
  setPeer(peer: Proxy): void {
    this.peer = peer;
  }

  /**
   * Closes the other end (after it flushed what it has), or logs that the peer was never reached. Our transport is
   * unregistered as the peer transport's producer first: it can't produce any more, and a transport holding a
   * paused producer would otherwise wait for it before closing.
   */
  override connectionLost(reason: Error): void {
    super.connectionLost(reason);
    const peer = this.peer;
    if (peer !== null) {
      this.peer = null;
      try {
        peer.transport.unregisterProducer();
      } catch {
        // Some transports (StringTransport) throw when no producer is registered; nothing to undo then.
      }
      peer.transport.loseConnection();
    } else if (this.noisy) {
      this.log.info("Unable to connect to peer: {reason}", { reason });
    }
  }

  /** Relays the bytes to the peer. */
  override dataReceived(data: Bytes): void {
    if (this.peer === null) throw new Error(`${this.constructor.name} received data without a peer`);
    this.peer.transport.write(data);
  }
}

/**
 * The upstream end (twisted.protocols.portforward.ProxyClient). On connection it attaches itself to the
 * ProxyServer, registers the two transports as each other's streaming producers, and resumes reading from the
 * downstream client.
 */
export class ProxyClient extends Proxy {
  override connectionMade(): void {
    const server = this.peer;
    if (server === null)
      throw new Error("ProxyClient connected without a ProxyServer; build it with ProxyClientFactory");
    server.setPeer(this);
    // Wire the transports together for flow control: neither side fills the proxy's memory when it produces
    // faster than the other consumes.
    this.transport.registerProducer(server.transport, true);
    server.transport.registerProducer(this.transport, true);
    // Connected: everybody can read to their heart's content.
    server.transport.resumeProducing();
  }
}

/**
 * Connects upstream for one ProxyServer (twisted.protocols.portforward.ProxyClientFactory). If the connection
 * fails, the downstream connection is closed.
 */
export class ProxyClientFactory extends ClientFactory {
  override protocol: ProtocolClass | null = ProxyClient;
  /** The downstream end this factory connects for; set by ProxyServer before connecting. */
  server: ProxyServer | null = null;

  setServer(server: ProxyServer): void {
    this.server = server;
  }

  /** Builds a ProxyClient whose peer is `server`. */
  override buildProtocol(addr: Address): ProxyClient {
    const p = super.buildProtocol(addr) as ProxyClient;
    if (this.server !== null) p.setPeer(this.server);
    return p;
  }

  /** The upstream could not be reached: close the downstream connection. */
  override clientConnectionFailed(_connector: IConnector, _reason: Error): void {
    this.server?.transport.loseConnection();
  }
}

/**
 * The downstream end (twisted.protocols.portforward.ProxyServer). On connection it pauses reading — nothing is
 * read until there is somewhere to send it — and connects to `factory.host:factory.port` through `reactor` (or
 * the factory's). Bytes that arrive before the upstream connects anyway (a transport whose pause takes effect
 * late) are held and sent first, where Twisted would fail.
 */
export class ProxyServer extends Proxy {
  declare factory: ProxyFactory;
  /** The factory class used for the upstream connection; a subclass may be put here. */
  clientProtocolFactory: new () => ProxyClientFactory = ProxyClientFactory;
  /** The reactor to connect through; null uses the factory's. */
  reactor: IReactorNet | null = null;
  #pending: Bytes[] = [];

  override connectionMade(): void {
    this.transport.pauseProducing();
    const client = new this.clientProtocolFactory();
    client.setServer(this);
    const reactor = this.reactor ?? this.factory.reactor;
    reactor.connectTCP(this.factory.host, this.factory.port, client);
  }

  /** Called by the ProxyClient once connected: attaches it and sends what arrived before. */
  override setPeer(peer: Proxy): void {
    super.setPeer(peer);
    const pending = this.#pending;
    this.#pending = [];
    if (pending.length > 0) peer.transport.writeSequence(pending);
  }

  override dataReceived(data: Bytes): void {
    if (this.peer === null) this.#pending.push(data);
    else super.dataReceived(data);
  }
}

/**
 * The port forwarder's factory (twisted.protocols.portforward.ProxyFactory): every connection it accepts is
 * forwarded to `host:port`.
 */
export class ProxyFactory extends Factory {
  override protocol: ProtocolClass | null = ProxyServer;

  constructor(
    /** Where connections are forwarded. */
    readonly host: string,
    readonly port: number,
    /** The reactor upstream connections are made with; the process's reactor by default. */
    public reactor: IReactorNet = defaultReactor,
  ) {
    super();
  }
}
