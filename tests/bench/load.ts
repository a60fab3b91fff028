/**
 * The load side of the benchmarks, run in a worker thread so that it doesn't share the event loop with the
 * server being measured. Everything targets 127.0.0.1 and ends by itself.
 */
import { Worker } from "node:worker_threads";

/** What a load run reports: bytes sent and received, and the seconds from first byte out to last byte back. */
export interface LoadResult {
  sent: number;
  received: number;
  seconds: number;
}

/**
 * Plain JavaScript for the worker (no TypeScript loader needed there). Modes:
 * - "echo": send `total` bytes in `chunk`-sized writes, count the bytes echoed back, close when all are back.
 * - "send": send `total` bytes (the server counts), then half-close and wait for the server to close.
 */
const workerSource = `
const net = require("node:net");
const { parentPort, workerData } = require("node:worker_threads");
const { port, total, chunk, mode, fill } = workerData;
const block = fill ? Buffer.from(fill, "latin1") : Buffer.alloc(chunk, 0x61);
let sent = 0, received = 0, start = 0;
const socket = net.connect({ host: "127.0.0.1", port, allowHalfOpen: true }, () => {
  start = performance.now();
  pump();
});
function pump() {
  while (sent < total) {
    const n = Math.min(block.length, total - sent);
    sent += n;
    const ok = socket.write(n === block.length ? block : block.subarray(0, n));
    if (!ok) { socket.once("drain", pump); return; }
  }
  if (mode === "send") socket.end();
}
socket.on("data", (d) => {
  received += d.length;
  if (mode === "echo" && received >= total) socket.end();
});
socket.on("close", () => {
  parentPort.postMessage({ sent, received, seconds: (performance.now() - start) / 1000 });
});
socket.on("error", (e) => { parentPort.postMessage({ error: String(e) }); });
`;

/** Runs one load against 127.0.0.1:`port` in a worker thread. */
export function runLoad(options: {
  port: number;
  total: number;
  chunk: number;
  mode: "echo" | "send";
  /** A latin1 string to send repeatedly instead of 'a' bytes (e.g. a block of lines). */
  fill?: string;
}): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(workerSource, { eval: true, workerData: options });
    worker.once("message", (m: LoadResult | { error: string }) => {
      void worker.terminate();
      if ("error" in m) reject(new Error(m.error));
      else resolve(m);
    });
    worker.once("error", reject);
  });
}
