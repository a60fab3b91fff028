/**
 * The reactor (twisted.internet.reactor): one per process, the entry point for connecting, listening, timing and
 * spawning. Node's event loop is the loop; the reactor is the Twisted-shaped API over it, so there is nothing
 * to `run()` or `stop()`: the process lives while sockets and timers are open.
 *
 *     import { reactor } from "wirescope/core";
 *     reactor.connectTCP("127.0.0.1", 6379, factory);
 */
import { reactorTime, type DelayedCall } from "./base.ts";
import type {
  ClientTLSOptions,
  ConnectTCPOptions,
  IProtocolFactory,
  IReactorNet,
  ListenTCPOptions,
  ListenUNIXOptions,
  ServerTLSOptions,
} from "./interfaces.ts";
import { spawnProcess } from "./process.ts";
import { Connector, ListeningPort } from "./tcp.ts";

function checkPort(port: number, what: string): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`${what}: port must be an integer from 0 to 65535, got ${String(port)}`);
  }
}

/** The real reactor: TCP, TLS and UNIX sockets over Node, timers over Node's, child processes. */
export class Reactor implements IReactorNet {
  /** Seconds on a monotonic clock (epoch-based at start). */
  seconds(): number {
    return reactorTime.seconds();
  }

  /**
   * Calls `fn(...args)` after `delay` seconds. Returns a DelayedCall to cancel, reset or delay it.
   * Delays longer than setTimeout's limit (about 24.8 days) are split transparently.
   */
  callLater<A extends unknown[]>(delay: number, fn: (...args: A) => unknown, ...args: A): DelayedCall {
    return reactorTime.callLater(delay, fn, ...args);
  }

  getDelayedCalls(): DelayedCall[] {
    return reactorTime.getDelayedCalls();
  }

  /**
   * Connects to `host:port` and returns the Connector at once; the attempt starts on the next turn. The factory
   * gets `startedConnecting`, then `buildProtocol` on success or `clientConnectionFailed` on failure
   * (ConnectionRefusedError, TimeoutError after `timeout` seconds, DNSLookupError, ...).
   */
  connectTCP(host: string, port: number, factory: IProtocolFactory, options: ConnectTCPOptions = {}): Connector {
    checkPort(port, "connectTCP");
    const connector = new Connector(
      { kind: "tcp", host, port },
      factory,
      options.timeout ?? 30,
      options.bindAddress ?? null,
    );
    connector.connect();
    return connector;
  }

  /** connectTCP over TLS (node:tls): the protocol is connected once the handshake is done. */
  connectSSL(
    host: string,
    port: number,
    factory: IProtocolFactory,
    tlsOptions: ClientTLSOptions = {},
    options: ConnectTCPOptions = {},
  ): Connector {
    checkPort(port, "connectSSL");
    const connector = new Connector(
      { kind: "tcp", host, port, tls: tlsOptions },
      factory,
      options.timeout ?? 30,
      options.bindAddress ?? null,
    );
    connector.connect();
    return connector;
  }

  /** Connects to a UNIX socket at `path`. */
  connectUNIX(path: string, factory: IProtocolFactory, options: { timeout?: number } = {}): Connector {
    const connector = new Connector({ kind: "unix", path }, factory, options.timeout ?? 30);
    connector.connect();
    return connector;
  }

  /**
   * Listens on `port` (0 picks a free one) and returns the port at once. Node binds asynchronously: await
   * `port.listening` (it rejects with CannotListenError, e.g. when the port is in use). `interface` defaults to
   * "" (all IPv4 interfaces) as in Twisted; pass "127.0.0.1" to stay on loopback. `backlog` defaults to Twisted's
   * 50: connections the kernel has completed past that many, not yet accepted, are dropped or reset, so a server
   * that takes bursts of hundreds of connections (a load test) should ask for more (Linux caps it at
   * net.core.somaxconn).
   */
  listenTCP(port: number, factory: IProtocolFactory, options: ListenTCPOptions = {}): ListeningPort {
    checkPort(port, "listenTCP");
    const p = new ListeningPort(
      { kind: "tcp", port, interface: options.interface ?? "", backlog: options.backlog ?? 50 },
      factory,
    );
    p.startListening();
    return p;
  }

  /** listenTCP over TLS: `tlsOptions` must carry at least `key` and `cert`. */
  listenSSL(
    port: number,
    factory: IProtocolFactory,
    tlsOptions: ServerTLSOptions,
    options: ListenTCPOptions = {},
  ): ListeningPort {
    checkPort(port, "listenSSL");
    const p = new ListeningPort(
      { kind: "tcp", port, interface: options.interface ?? "", backlog: options.backlog ?? 50, tls: tlsOptions },
      factory,
    );
    p.startListening();
    return p;
  }

  /** Listens on a UNIX socket at `path`, with file `mode` if given. */
  listenUNIX(path: string, factory: IProtocolFactory, options: ListenUNIXOptions = {}): ListeningPort {
    const p = new ListeningPort(
      { kind: "unix", path, mode: options.mode ?? null, backlog: options.backlog ?? 50 },
      factory,
    );
    p.startListening();
    return p;
  }

  /**
   * Starts a child process run by `processProtocol` (IReactorProcess.spawnProcess): `args[0]` is the child's
   * argv[0]; the environment is empty unless `env` is given (Twisted's rule). See core/process.ts.
   */
  spawnProcess = spawnProcess;
}

/** The process-wide reactor, as `from twisted.internet import reactor`. */
export const reactor = new Reactor();
