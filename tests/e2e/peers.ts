/**
 * Real peers for the end-to-end tests, all on 127.0.0.1: an echo server, a line-counting client, a port held busy,
 * redis-server. Each returns something to close; the fixtures close them.
 *
 * Node built-ins only, on purpose: the end-to-end tests reach the app the way a user does (browser mode, sockets),
 * so the test runner never loads the engine (tests/helpers/engine.ts imports it, to drive it in-process).
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";

/** How long a peer waits for what a test expects before it fails with what it got instead. */
const PEER_TIMEOUT_MS = 10_000;

/** A TCP server on 127.0.0.1 on a port the OS picked; closing it also drops its connections. */
export interface LocalServer {
  port: number;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1:0 with `onConnection` for each accepted socket. */
async function listenLocal(onConnection: (socket: net.Socket) => void): Promise<LocalServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    onConnection(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** An echo server: writes back every byte it receives. */
export function startEchoServer(): Promise<LocalServer> {
  return listenLocal((socket) => socket.pipe(socket));
}

/** A port in use: a server that accepts and does nothing (to try a listener on it). */
export function holdPort(): Promise<LocalServer> {
  return listenLocal(() => {});
}

/** A client that collects what it receives as lines ("\n"-terminated, a trailing "\r" removed). */
export interface LineClient {
  /** Complete lines received so far. */
  readonly lines: readonly string[];
  /** Writes `data` as it is (no line ending added). */
  write(data: string | Uint8Array): void;
  /** Resolves with the first line (received before or after the call) that matches; rejects after a while. */
  waitForLine(match: string | RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves once the server closed the connection. */
  readonly closed: Promise<void>;
  close(): Promise<void>;
}

/** Connects a LineClient to 127.0.0.1:`port`, with TCP_NODELAY. */
export async function lineClient(port: number): Promise<LineClient> {
  const socket = net.connect({ host: "127.0.0.1", port, noDelay: true });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  let pending = "";
  socket.setEncoding("latin1");
  socket.on("data", (chunk: string) => {
    pending += chunk;
    let end: number;
    while ((end = pending.indexOf("\n")) !== -1) {
      lines.push(pending.slice(0, end).replace(/\r$/, ""));
      pending = pending.slice(end + 1);
    }
    for (const wake of waiters) wake();
  });
  socket.on("error", () => {});
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  const matches = (line: string, match: string | RegExp) =>
    typeof match === "string" ? line === match : match.test(line);

  return {
    lines,
    closed,
    write: (data) => void socket.write(data),
    waitForLine(match, timeoutMs = PEER_TIMEOUT_MS) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const line = lines.find((l) => matches(l, match));
          if (line === undefined) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(line);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no line matching ${String(match)} within ${timeoutMs} ms; got ${JSON.stringify(lines)}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close() {
      socket.destroy();
      return closed;
    },
  };
}

/** A free TCP port on 127.0.0.1 (bound, then released), to type into a dialog. */
export async function freePort(): Promise<number> {
  const server = await holdPort();
  await server.close();
  return server.port;
}

/** Whether 127.0.0.1:`port` can be bound now (nothing listens there any more). */
export function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** Debian's redis-server. */
export const REDIS_SERVER = "/usr/bin/redis-server";

/** Starts redis-server on a free port on 127.0.0.1 without persistence; fails saying how to install it. */
export async function startRedis(): Promise<LocalServer> {
  if (!fs.existsSync(REDIS_SERVER)) {
    throw new Error("This test needs redis-server as a real peer: apt-get install redis-server (.ci/run does this).");
  }
  const port = await freePort();
  const child = spawn(
    REDIS_SERVER,
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "yes"],
    { stdio: "ignore" },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await exited;
  };
  const deadline = Date.now() + PEER_TIMEOUT_MS;
  while (!(await accepts(port))) {
    if (Date.now() > deadline || child.exitCode !== null) {
      await close();
      throw new Error(`redis-server did not start on 127.0.0.1:${port}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return { port, close };
}

/** Whether something accepts connections on 127.0.0.1:`port`. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
  });
}
