/**
 * Burst figures (not pass/fail): `npx tsx tests/bench/burst.ts`. A thousand clients, in a worker thread, connect at
 * once to a server on 127.0.0.1; each sends a short line and shuts its side. Printed per server: the connections
 * that got through, how long until every line was received (or recorded), and the kernel's net.core.somaxconn,
 * which caps any backlog asked for. Servers: node:net with Twisted's backlog of 50 and with 4096, the engine's
 * listener with backlog=50 and with its default, and the engine's proxy.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { Worker } from "node:worker_threads";
import { Engine } from "../../main/engine/engine.ts";

const CLIENTS = 1000;
/** A server that received nothing new for this long has got all it will get. */
const QUIET_MS = 5_000;

/** Plain JavaScript for the worker: opens every connection in one turn, sends, shuts, lets go. */
const clientsSource = `
const net = require("node:net");
const { parentPort, workerData } = require("node:worker_threads");
const { port, clients } = workerData;
const errors = {};
let done = 0;
const finished = () => { if (++done === clients) parentPort.postMessage(errors); };
for (let i = 0; i < clients; i++) {
  const socket = net.connect({ host: "127.0.0.1", port }, () => socket.end("client " + i + "\\n"));
  socket.on("finish", () => { socket.destroy(); finished(); });
  socket.on("error", (err) => { errors[err.code] = (errors[err.code] || 0) + 1; finished(); });
}
`;

const lineBytes = Array.from({ length: CLIENTS }, (_, i) => `client ${i}\n`.length).reduce((a, b) => a + b, 0);

/** Runs the clients against `port`; resolves with the errors they saw, by code. */
function clients(port: number): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(clientsSource, { eval: true, workerData: { port, clients: CLIENTS } });
    worker.once("message", (errors: Record<string, number>) => {
      void worker.terminate();
      resolve(errors);
    });
    worker.once("error", reject);
  });
}

/**
 * Polls `received()` (bytes the server has so far) until it reaches every line or stops growing for QUIET_MS.
 * Resolves with the ms from `start` until the last growth.
 */
async function settled(start: number, received: () => number | Promise<number>): Promise<number> {
  let last = -1;
  let lastChange = performance.now();
  for (;;) {
    const now = await received();
    if (now !== last) {
      last = now;
      lastChange = performance.now();
    }
    if (now >= lineBytes || performance.now() - lastChange > QUIET_MS) return lastChange - start;
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface Figure {
  server: string;
  accepted: number;
  receivedBytes: number;
  ms: number;
  clientErrors: Record<string, number>;
}

async function plainNet(backlog: number): Promise<Figure> {
  let accepted = 0;
  let bytes = 0;
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    accepted += 1;
    socket.on("data", (d) => (bytes += d.length));
    socket.on("end", () => socket.end());
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen({ port: 0, host: "127.0.0.1", backlog }, resolve));
  const start = performance.now();
  const clientErrors = await clients((server.address() as net.AddressInfo).port);
  const ms = await settled(start, () => bytes);
  server.close();
  return { server: `node:net, backlog ${backlog}`, accepted, receivedBytes: bytes, ms, clientErrors };
}

async function engineSession(kind: "listener" | "proxy", endpoint?: string): Promise<Figure> {
  const workspaceRoot = fs.mkdtempSync(path.join(os.tmpdir(), "wirescope-bench-burst-"));
  const engine = await Engine.open({ workspaceRoot });
  const upstream = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on("data", () => {});
    socket.on("end", () => socket.end());
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => upstream.listen({ port: 0, host: "127.0.0.1", backlog: 4096 }, resolve));
  const listen = endpoint !== undefined ? { endpoint } : { port: 0 };
  const info =
    kind === "listener"
      ? await engine.listen({ target: listen, protocol: null })
      : await engine.proxy({
          listen,
          upstream: { host: "127.0.0.1", port: (upstream.address() as net.AddressInfo).port },
          clientProtocol: null,
          serverProtocol: null,
        });
  const session = async () => (await engine.listSessions()).find((s) => s.id === info.id)!;
  const start = performance.now();
  const clientErrors = await clients(Number(info.listeningOn!.split(":").pop()));
  // A proxy's accepted leg is read once its upstream is connected: bytes in count on the accepted legs only.
  const ms = await settled(start, async () => (await session()).bytesIn);
  const final = await session();
  // Every connection (the session list names at most 200 of them).
  const accepted = engine.connectionsOf(info.id).filter((c) => c.leg === "client").length;
  await engine.close();
  upstream.close();
  fs.rmSync(workspaceRoot, { recursive: true, force: true });
  return {
    server: `engine ${kind}, backlog ${final.backlog}`,
    accepted,
    receivedBytes: final.bytesIn,
    ms,
    clientErrors,
  };
}

const somaxconn = fs.existsSync("/proc/sys/net/core/somaxconn")
  ? fs.readFileSync("/proc/sys/net/core/somaxconn", "utf8").trim()
  : "unknown";
console.log(`${CLIENTS} clients at once; net.core.somaxconn = ${somaxconn}; ${os.cpus().length} cores`);
for (const run of [
  () => plainNet(50),
  () => plainNet(4096),
  () => engineSession("listener", "tcp:0:interface=127.0.0.1:backlog=50"),
  () => engineSession("listener"),
  () => engineSession("proxy"),
]) {
  const f = await run();
  const errors = Object.entries(f.clientErrors).map(([code, n]) => `${n} ${code}`);
  console.log(
    `${f.server.padEnd(30)} ${String(f.accepted).padStart(5)} accepted, ` +
      `${String(f.receivedBytes).padStart(6)}/${lineBytes} bytes in ${f.ms.toFixed(0).padStart(6)} ms` +
      (errors.length > 0 ? `; clients saw ${errors.join(", ")}` : ""),
  );
}
