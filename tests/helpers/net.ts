/**
 * Helpers for tests over real sockets on 127.0.0.1: listen on a free port, wait for a condition, collect events.
 */
import * as net from "node:net";
import type { IProtocolFactory } from "../../core/interfaces.ts";
import { reactor } from "../../core/reactor.ts";
import type { ListeningPort } from "../../core/tcp.ts";

/** Listens on `host` (127.0.0.1 unless given: "::1") on a free port; resolves once bound, with the port number. */
export async function listenLocal(
  factory: IProtocolFactory,
  host = "127.0.0.1",
): Promise<{ port: ListeningPort; portNumber: number }> {
  const port = reactor.listenTCP(0, factory, { interface: host });
  await port.listening;
  const address = port.getHost();
  if (!("port" in address)) throw new Error("not a TCP port");
  return { port, portNumber: address.port };
}

/** Resolves when `predicate()` is true, polling each few ms; rejects with `what` after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Connects to `port` on 127.0.0.1, writes `chunks` one by one (each its own write, as latin1), and resolves with what
 * came back once it holds `expectedLength` bytes (then closes). Rejects on a socket error, or after `timeoutMs`.
 */
export function exchange(port: number, chunks: string[], expectedLength: number, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = "";
    const s = net.connect({ host: "127.0.0.1", port }, () => {
      for (const chunk of chunks) s.write(chunk, "latin1");
    });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`Timed out waiting for ${expectedLength} bytes from port ${port}, got ${got.length}`));
    }, timeoutMs);
    s.on("data", (d: Buffer) => {
      got += d.toString("latin1");
      if (got.length >= expectedLength) {
        clearTimeout(timer);
        s.destroy();
        resolve(got);
      }
    });
    s.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
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

/** A client: connects to `port` on 127.0.0.1, sends `text`, shuts its side (FIN) and resolves once its socket let go. */
export function sayAndGo(port: number, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port }, () => socket.end(text));
    socket.on("finish", () => {
      socket.destroy();
      resolve();
    });
    socket.on("error", reject);
  });
}

/** A TCP port on 127.0.0.1 that nobody listens on right now (bound, then released). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Tries to connect to 127.0.0.1:`port` every 20 ms until it is accepted (a server just started is listening):
 * resolves true then, false once `timeoutMs` has passed or `gaveUp()` says waiting is pointless (the server's
 * process exited, say). The caller says what failed to start.
 */
export async function pollConnect(
  port: number,
  options: { timeoutMs?: number; gaveUp?: () => boolean } = {},
): Promise<boolean> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: "127.0.0.1", port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on("error", () => resolve(false));
    });
    if (up) return true;
    if (Date.now() > deadline || options.gaveUp?.() === true) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}
