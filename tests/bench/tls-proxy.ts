/**
 * TLS-terminating proxy throughput (the goal: at least 0.8x a plain node:tls pipe). A node:tls client sends a
 * stream in 64 KiB writes to a node:tls server on 127.0.0.1 through one of two proxies in this process:
 *
 * - Wirescope: the engine in-process, a `proxy` session with `tls: { mode: "terminate" }` and no protocol (raw bytes,
 *   recorded to a capture as a user's session is): TLS server to the client with a leaf from Wirescope's CA, TLS
 *   client to the upstream;
 * - by hand: a node:tls server with the same certificate options whose every connection is piped to a node:tls
 *   connection to the same upstream (decrypt, re-encrypt: the least any terminating proxy does).
 *
 * The client and the upstream server run together in a worker thread (one encrypts what the other decrypts), so the
 * proxy being measured has the main thread to itself. The figure is bytes over the time from the client's handshake
 * to the upstream's last byte. Upstream verification is skipped in both (it costs per handshake, not per byte).
 * Rounds alternate and the medians are printed with the ratio, and the process's CPU time per round (all threads:
 * the worker's share is the same for both, so the difference is the proxies'), which a busy machine blurs less than
 * the throughput. Bounded: a round that stalls fails the run.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tls from "node:tls";
import { Worker } from "node:worker_threads";
import { createDispatcher } from "../../main/adapters/dispatch.ts";
import { Engine } from "../../main/engine/engine.ts";
import { CertificateAuthority } from "../../main/tls/ca.ts";
import type { SessionInfo } from "../../preload/contract.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const TOTAL = 128 * 1024 * 1024;
const CHUNK = 64 * 1024;
/** A round that takes longer than this has stalled (ms). */
const ROUND_LIMIT_MS = 120_000;
const GOAL = 0.8;

/**
 * The worker: a TLS upstream server that counts what it receives, and a TLS client that sends TOTAL bytes to the
 * proxy whose port it is given; it reports the seconds from the client's handshake to the upstream's last byte.
 */
const workerSource = `
const tls = require("node:tls");
const { parentPort, workerData } = require("node:worker_threads");
const { cert, key, total, chunk } = workerData;
let start = 0;
let onDone = null;
const server = tls.createServer({ cert, key }, (socket) => {
  let received = 0;
  socket.on("data", (d) => {
    received += d.length;
    if (received >= total) {
      const seconds = (performance.now() - start) / 1000;
      socket.end();
      onDone?.({ received, seconds });
    }
  });
  socket.on("error", () => {});
});
server.listen(0, "127.0.0.1", () => parentPort.postMessage({ kind: "listening", port: server.address().port }));
parentPort.on("message", ({ port }) => {
  if (port === undefined) return server.close(() => parentPort.close());
  const block = Buffer.alloc(chunk, 0x61);
  let sent = 0;
  onDone = (result) => { onDone = null; client.end(); parentPort.postMessage({ kind: "done", ...result }); };
  const client = tls.connect({ host: "127.0.0.1", port, servername: "localhost", rejectUnauthorized: false }, () => {
    start = performance.now();
    pump();
  });
  function pump() {
    while (sent < total) {
      sent += chunk;
      if (!client.write(block)) return void client.once("drain", pump);
    }
  }
  client.on("error", (e) => parentPort.postMessage({ kind: "error", error: String(e) }));
});
`;

type WorkerMessage =
  | { kind: "listening"; port: number }
  | { kind: "done"; received: number; seconds: number }
  | { kind: "error"; error: string };

/** One round: MB/s, and the CPU milliseconds the process spent (user + system, all threads). */
interface Round {
  mbps: number;
  cpuMs: number;
}

/** The worker, started: the upstream's port, and a way to run one round against a proxy's port. */
interface Load {
  upstream: number;
  round(proxyPort: number): Promise<Round>;
  stop(): Promise<void>;
}

async function startLoad(leaf: { cert: string; key: string }): Promise<Load> {
  const worker = new Worker(workerSource, { eval: true, workerData: { ...leaf, total: TOTAL, chunk: CHUNK } });
  const next = () =>
    new Promise<WorkerMessage>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`a round took more than ${ROUND_LIMIT_MS} ms`)), ROUND_LIMIT_MS);
      worker.once("message", (m: WorkerMessage) => {
        clearTimeout(timer);
        resolve(m);
      });
      worker.once("error", reject);
    });
  const first = await next();
  if (first.kind !== "listening") throw new Error(`the load worker did not start: ${JSON.stringify(first)}`);
  return {
    upstream: first.port,
    async round(proxyPort) {
      const done = next();
      const cpu = process.cpuUsage();
      worker.postMessage({ port: proxyPort });
      const m = await done;
      const used = process.cpuUsage(cpu);
      if (m.kind !== "done") throw new Error(`the round failed: ${JSON.stringify(m)}`);
      if (m.received < TOTAL) throw new Error(`lost bytes: ${m.received} of ${TOTAL}`);
      return { mbps: TOTAL / m.seconds / 1e6, cpuMs: (used.user + used.system) / 1000 };
    },
    async stop() {
      worker.postMessage({});
      await new Promise((resolve) => worker.once("exit", resolve));
    },
  };
}

/** The hand-written pipe: one TLS connection to the upstream per client, piped both ways. */
async function handPipe(options: tls.TlsOptions, upstream: number): Promise<{ port: number; close(): Promise<void> }> {
  const server = tls.createServer(options, (client) => {
    const up = tls.connect({
      host: "127.0.0.1",
      port: upstream,
      servername: client.servername || undefined,
      rejectUnauthorized: false,
    });
    client.pipe(up).pipe(client);
    client.on("error", () => up.destroy());
    up.on("error", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wirescope-bench-tls-"));
  const configDir = path.join(dir, "config");
  const engine = await Engine.open({ workspaceRoot: path.join(dir, "workspace"), configDir });
  const dispatch = createDispatcher(engine);
  const ca = await CertificateAuthority.open(configDir);
  const load = await startLoad(await ca.leafFor("localhost"));
  const hand = await handPipe(ca.serverOptions(), load.upstream);

  const wirescopeRound = async (): Promise<Round> => {
    const started = await dispatch("proxy", {
      listen: { port: 0, interface: "127.0.0.1" },
      upstream: { host: "127.0.0.1", port: load.upstream },
      clientProtocol: null,
      serverProtocol: null,
      tls: { mode: "terminate", insecureUpstream: true },
    });
    if (!started.ok) throw new Error(`the proxy did not start: ${started.error.message}`);
    const session = started.value as SessionInfo;
    const port = Number(session.listeningOn!.split(":").at(-1));
    try {
      return await load.round(port);
    } finally {
      await dispatch("closeSession", { session: session.id });
      await dispatch("removeSession", { session: session.id });
    }
  };
  const rounds = { wirescope: [] as Round[], hand: [] as Round[] };
  // Warm-up (JIT, the leaf cache), then alternate so that a noisy neighbour hits both.
  await wirescopeRound();
  await load.round(hand.port);
  for (let i = 0; i < ROUNDS; i++) {
    if (i % 2 === 0) {
      rounds.wirescope.push(await wirescopeRound());
      rounds.hand.push(await load.round(hand.port));
    } else {
      rounds.hand.push(await load.round(hand.port));
      rounds.wirescope.push(await wirescopeRound());
    }
  }
  await hand.close();
  await load.stop();
  await engine.close();
  fs.rmSync(dir, { recursive: true, force: true });

  const w = median(rounds.wirescope.map((r) => r.mbps));
  const h = median(rounds.hand.map((r) => r.mbps));
  const wCpu = median(rounds.wirescope.map((r) => r.cpuMs));
  const hCpu = median(rounds.hand.map((r) => r.cpuMs));
  console.log(
    `\nTLS-terminating proxy: ${TOTAL / 2 ** 20} MiB from a node:tls client to a node:tls server in ${CHUNK / 1024} KiB` +
      ` writes (${ROUNDS} rounds, medians)`,
  );
  console.log(
    `  Wirescope proxy --tls (recorded)   ${w.toFixed(0).padStart(5)} MB/s   CPU per round ${wCpu.toFixed(0)} ms`,
  );
  console.log(
    `  node:tls pipe written by hand      ${h.toFixed(0).padStart(5)} MB/s   CPU per round ${hCpu.toFixed(0)} ms`,
  );
  const ratio = w / h;
  console.log(`  ratio ${ratio.toFixed(2)}x (goal >= ${GOAL}x: ${ratio >= GOAL ? "met" : "NOT met"})`);
}

await main();
