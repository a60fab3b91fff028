/**
 * `npx tsx tests/bench/tls-handshakes.ts`: TLS handshakes per second (figures, not pass/fail) against a node:tls
 * server on 127.0.0.1 using Wirescope's CA (main/tls/ca.ts `serverOptions()`), from a client in a worker thread that
 * trusts only the CA and verifies each certificate. Full handshakes, one after another (no session resumption):
 *
 * - warm: the same server name (SNI) every time, so its leaf and SecureContext come from the cache;
 * - cold: a new server name every time, so each handshake waits for a new leaf to be signed;
 * - baseline: a server with one fixed certificate and no SNI callback, the floor of what node:tls does here.
 *
 * Rounds alternate between the three and the median is reported, with warm/cold and baseline/warm ratios. Stops by
 * itself; the CA lives in a temporary folder, removed at the end.
 */
import * as fs from "node:fs";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import tls from "node:tls";
import { Worker } from "node:worker_threads";
import { CertificateAuthority } from "../../main/tls/ca.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
/** Handshakes per round and case: fewer than the CA's cache holds, so a cold round never meets a name twice. */
const HANDSHAKES = 200;

/**
 * Plain JavaScript for the worker: `count` handshakes in a row, each a new connection that verifies the server's
 * certificate for its server name, then closes. Posts the elapsed ms, or the first error's message.
 */
const clientSource = `
const tls = require("node:tls");
const { parentPort, workerData } = require("node:worker_threads");
const { port, ca, names } = workerData;
function handshake(servername) {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: "127.0.0.1", port, ca: [ca], servername }, () => { socket.destroy(); resolve(); });
    socket.on("error", reject);
  });
}
(async () => {
  const start = performance.now();
  for (const name of names) await handshake(name);
  parentPort.postMessage({ ms: performance.now() - start });
})().catch((err) => parentPort.postMessage({ error: err.message }));
`;

/** Runs one round: a handshake per name in `names` against `port`; resolves with handshakes per second. */
function round(port: number, ca: string, names: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(clientSource, { eval: true, workerData: { port, ca, names } });
    worker.once("message", (result: { ms: number } | { error: string }) => {
      void worker.terminate();
      if ("error" in result) reject(new Error(`a handshake failed: ${result.error}`));
      else resolve((names.length * 1000) / result.ms);
    });
    worker.once("error", reject);
  });
}

/** Listens on 127.0.0.1 with `options`; every connection is closed as soon as its handshake is done. */
async function serve(options: tls.TlsOptions): Promise<{ port: number; close(): Promise<void> }> {
  const server = tls.createServer(options, (socket) => socket.destroy());
  server.on("tlsClientError", () => {}); // a client's abrupt close after its handshake is not news here
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wirescope-bench-tls-"));
try {
  const ca = await CertificateAuthority.open(dir);
  const fixed = await ca.leafFor("fixed.test");
  const withCA = await serve(ca.serverOptions());
  const baseline = await serve({ cert: fixed.cert, key: fixed.key });
  const figures = { warm: [] as number[], cold: [] as number[], baseline: [] as number[] };
  try {
    await round(withCA.port, ca.certPem, ["warm.test"]); // the warm name's leaf, made once before timing
    for (let r = 0; r < ROUNDS; r++) {
      figures.warm.push(await round(withCA.port, ca.certPem, Array(HANDSHAKES).fill("warm.test")));
      const fresh = Array.from({ length: HANDSHAKES }, (_, i) => `cold-${r}-${i}.test`);
      figures.cold.push(await round(withCA.port, ca.certPem, fresh));
      figures.baseline.push(await round(baseline.port, ca.certPem, Array(HANDSHAKES).fill("fixed.test")));
    }
  } finally {
    await withCA.close();
    await baseline.close();
  }
  const warm = median(figures.warm);
  const cold = median(figures.cold);
  const floor = median(figures.baseline);
  console.log(`TLS handshakes per second on 127.0.0.1 (median of ${ROUNDS} rounds of ${HANDSHAKES}, ECDSA P-256):`);
  console.log(`  CA, warm leaf cache (same SNI)     ${fmt(warm).padStart(7)} /s`);
  console.log(`  CA, cold leaf cache (new SNI)      ${fmt(cold).padStart(7)} /s`);
  console.log(`  baseline: one fixed certificate    ${fmt(floor).padStart(7)} /s`);
  console.log(`  warm/cold ${fmt(warm / cold, 2)}x; baseline/warm ${fmt(floor / warm, 2)}x`);
  console.log(`  a leaf costs about ${fmt(1000 / cold - 1000 / warm, 2)} ms more than a cached one`);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
