/**
 * Helpers for tests over real sockets on 127.0.0.1: listen on a free port, wait for a condition, collect events.
 */
import * as net from "node:net";
import type { IProtocolFactory } from "../../core/interfaces.ts";
import { reactor } from "../../core/reactor.ts";
import type { ListeningPort } from "../../core/tcp.ts";

/** Listens on 127.0.0.1 on a free port; resolves once bound, with the port number. */
export async function listenLocal(factory: IProtocolFactory): Promise<{ port: ListeningPort; portNumber: number }> {
  const port = reactor.listenTCP(0, factory, { interface: "127.0.0.1" });
  await port.listening;
  const host = port.getHost();
  if (!("port" in host)) throw new Error("not a TCP port");
  return { port, portNumber: host.port };
}

/** Resolves when `predicate()` is true, polling each few ms; rejects with `what` after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A promise with its resolve function, for events a test waits on. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A TCP port on 127.0.0.1 that nobody listens on right now (bound, then released). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
