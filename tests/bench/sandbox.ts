/**
 * `npx tsx tests/bench/sandbox.ts`: figures of the protocol sandbox (main/sandbox), not pass/fail.
 *
 * 1. Throughput: a LineReceiver counting 64-byte lines that arrive over a real socket, run sandboxed (in a worker,
 *    through the bridge) vs the same class in-process. The load runs in its own worker thread (load.ts) and times
 *    from its first byte out to the server's close, which comes after the last line was counted. Goal >= 0.8x.
 *    Then the same with a protocol that logs every line (the cost of each log event's crossing to the main thread).
 * 2. Save-to-new-code latency on a live connection: `group.load()` of a new version until the peer gets the first
 *    reply showing the new behaviour (p50/p95). Goal p95 < 100 ms. Compiling is not included; the time esbuild
 *    takes to compile a 100-line protocol is printed separately.
 *
 * Rounds alternate between the contenders and the median is reported. Everything runs on 127.0.0.1 and stops.
 */
import * as net from "node:net";
import { ServerFactory } from "../../core/protocol.ts";
import { LineReceiver } from "../../core/protocols/basic.ts";
import { reactor } from "../../core/reactor.ts";
import type { ListeningPort } from "../../core/tcp.ts";
import type { SandboxGroup } from "../../main/sandbox/host.ts";
import { SandboxHost } from "../../main/sandbox/sandbox-host.ts";
import { compile, serveSandboxed } from "../../main/sandbox/test-helpers.ts";
import { runLoad } from "./load.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const LINE = "x".repeat(62) + "\r\n"; // 64 bytes
const LINES_PER_BLOCK = 1024; // 64 KiB writes
const LINE_COUNT = 2_000_000; // 128 MiB of lines
const RELOADS = 60;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function fmt(n: number, digits = 1): string {
  return n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function portOf(port: ListeningPort): number {
  const address = port.getHost();
  if (!("port" in address)) throw new Error("not a TCP port");
  return address.port;
}

// --- 1. throughput ----------------------------------------------------------------------------------------------

/** The protocol measured: counts lines. The sandboxed copy is the same class, compiled from this source. */
const COUNTER_SOURCE = `import { LineReceiver } from "wirescope";
export default class LineCounter extends LineReceiver {
  count = 0;
  lineReceived(): void {
    this.count += 1;
  }
  connectionLost(reason: Error): void {
    this.log.info("counted {count}", { count: this.count });
    super.connectionLost(reason);
  }
}`;

let inProcessCount = 0;

class LineCounter extends LineReceiver {
  count = 0;
  override lineReceived(): void {
    this.count += 1;
  }
  override connectionLost(reason: Error): void {
    inProcessCount = this.count;
    super.connectionLost(reason);
  }
}

/** Sends LINE_COUNT lines to `port`; returns lines/s from the first byte to the server's close. */
async function lineRun(port: number): Promise<number> {
  const fill = LINE.repeat(LINES_PER_BLOCK);
  const result = await runLoad({ port, total: LINE_COUNT * LINE.length, chunk: fill.length, mode: "send", fill });
  return LINE_COUNT / result.seconds;
}

async function throughput(group: SandboxGroup): Promise<void> {
  const inProcess = reactor.listenTCP(0, ServerFactory.forProtocol(LineCounter), { interface: "127.0.0.1" });
  await inProcess.listening;
  const counter = await compile(COUNTER_SOURCE, "line-counter.ts");
  const loaded = await group.load("line-counter.ts", counter.code, counter.sourceMap);
  if (!loaded.ok) throw new Error(loaded.error.message);
  const sandboxed = await serveSandboxed(group, "line-counter.ts");

  const local: number[] = [];
  const remote: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    inProcessCount = 0;
    local.push(await lineRun(portOf(inProcess)));
    // The server's connectionLost may run a moment after the load saw its close.
    for (let wait = 0; inProcessCount === 0 && wait < 200; wait++) await new Promise((r) => setTimeout(r, 5));
    if (inProcessCount !== LINE_COUNT) throw new Error(`in-process counted ${inProcessCount} lines`);

    remote.push(await lineRun(sandboxed.portNumber));
    const events = sandboxed.recorders[round]!.events;
    while (events.logs.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const counted = events.logs[0]!.fields["count"];
    if (counted !== LINE_COUNT) throw new Error(`the sandbox counted ${String(counted)} lines`);
  }
  await inProcess.stopListening();
  await sandboxed.port.stopListening();

  const a = median(local);
  const b = median(remote);
  console.log(`LineReceiver, 64-byte lines over a socket (median of ${ROUNDS}):`);
  console.log(`  in-process        ${fmt(a / 1e6, 2)} M lines/s`);
  console.log(`  sandboxed         ${fmt(b / 1e6, 2)} M lines/s`);
  console.log(`  ratio             ${fmt(b / a, 2)}x   (goal >= 0.8x)`);
}

// --- 1b. a protocol that logs every line ------------------------------------------------------------------------

/** Logs each line it counts: every log event crosses from the worker to the main thread. */
const LOGGER_SOURCE = `import { LineReceiver } from "wirescope";
export default class LineLogger extends LineReceiver {
  count = 0;
  lineReceived(): void {
    this.count += 1;
    this.log.info("line {count}", { count: this.count });
  }
}`;
const LOGGED_LINE_COUNT = 200 * LINES_PER_BLOCK;

/** Lines/s of LineLogger, sandboxed, until the server's close (which follows the last log event). */
async function loggingThroughput(group: SandboxGroup): Promise<void> {
  const logger = await compile(LOGGER_SOURCE, "line-logger.ts");
  const loaded = await group.load("line-logger.ts", logger.code, logger.sourceMap);
  if (!loaded.ok) throw new Error(loaded.error.message);
  const served = await serveSandboxed(group, "line-logger.ts");
  const fill = LINE.repeat(LINES_PER_BLOCK);
  const rates: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const total = LOGGED_LINE_COUNT * LINE.length;
    const result = await runLoad({ port: served.portNumber, total, chunk: fill.length, mode: "send", fill });
    const logs = served.recorders[round]!.events.logs.length;
    if (logs !== LOGGED_LINE_COUNT) throw new Error(`the sandbox logged ${logs} lines`);
    rates.push(LOGGED_LINE_COUNT / result.seconds);
  }
  await served.port.stopListening();
  console.log(`LineReceiver logging every 64-byte line, sandboxed (median of ${ROUNDS}):`);
  console.log(`  ${fmt(median(rates) / 1e3, 0)} k lines (and log events)/s`);
}

// --- 2. save-to-new-code latency ---------------------------------------------------------------------------------

const versioned = (version: number) => `import { LineReceiver } from "wirescope";
export default class Versioned extends LineReceiver {
  lineReceived(line: Buffer): void {
    this.sendLine(Buffer.from("v${version} " + line.toString()));
  }
}`;

/** A 100-line protocol, for timing the compile step. */
function hundredLineProtocol(): string {
  const lines = [`import { LineReceiver } from "wirescope";`, `export default class Big extends LineReceiver {`];
  for (let i = 0; lines.length < 96; i++) {
    lines.push(`  handle${i}(line: Buffer): string {`, `    return "r${i} " + line.toString().trim();`, `  }`);
  }
  lines.push(`  lineReceived(line: Buffer): void {`, `    this.sendLine(Buffer.from(this.handle0(line)));`);
  lines.push(`  }`, `}`);
  return lines.join("\n");
}

async function latency(group: SandboxGroup): Promise<void> {
  const versions = await Promise.all(Array.from({ length: RELOADS + 1 }, (_, i) => compile(versioned(i), "v.ts")));
  const first = await group.load("v.ts", versions[0]!.code, versions[0]!.sourceMap);
  if (!first.ok) throw new Error(first.error.message);
  const served = await serveSandboxed(group, "v.ts");
  const socket = net.connect({ host: "127.0.0.1", port: served.portNumber });
  await new Promise<void>((resolve) => socket.once("connect", resolve));
  socket.setNoDelay(true);
  let waiting: { prefix: string; resolve: () => void } | null = null;
  let tail = "";
  socket.setEncoding("latin1");
  socket.on("data", (text: string) => {
    const parts = (tail + text).split("\r\n");
    tail = parts.pop()!;
    for (const part of parts) if (waiting && part.startsWith(waiting.prefix)) waiting.resolve();
  });

  const times: number[] = [];
  for (let v = 1; v <= RELOADS; v++) {
    const started = performance.now();
    const replied = new Promise<void>((resolve) => (waiting = { prefix: `v${v} `, resolve }));
    const result = await group.load("v.ts", versions[v]!.code, versions[v]!.sourceMap);
    if (!result.ok) throw new Error(result.error.message);
    socket.write("ping\r\n");
    await replied;
    times.push(performance.now() - started);
  }
  socket.destroy();
  await served.port.stopListening();

  const source = hundredLineProtocol();
  await compile(source, "big.ts"); // esbuild's service starts on the first call
  const compiles: number[] = [];
  for (let i = 0; i < 20; i++) {
    const started = performance.now();
    await compile(source, "big.ts");
    compiles.push(performance.now() - started);
  }

  console.log(`Save-to-new-code on a live connection (${RELOADS} reloads):`);
  console.log(
    `  load() -> first new reply   p50 ${fmt(percentile(times, 50))} ms   p95 ${fmt(percentile(times, 95))} ms`,
  );
  console.log(`  (goal p95 < 100 ms; compile not included)`);
  console.log(`  esbuild compile, 100-line protocol   p50 ${fmt(median(compiles))} ms`);
}

async function main(): Promise<void> {
  const host = new SandboxHost();
  try {
    const started = performance.now();
    const warm = host.createGroup("startup");
    const loaded = await warm.load("empty.ts", "module.exports = {};");
    if (!loaded.ok) throw new Error(loaded.error.message);
    console.log(`Sandbox worker start (bundle + spawn + first load): ${fmt(performance.now() - started)} ms`);
    await warm.dispose();

    await throughput(host.createGroup("throughput"));
    await loggingThroughput(host.createGroup("logging"));
    await latency(host.createGroup("latency"));
  } finally {
    await host.dispose();
  }
}

await main();
