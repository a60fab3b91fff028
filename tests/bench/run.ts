/**
 * `npm run bench`: figures, not pass/fail. Each figure is printed next to a baseline measured in the same run,
 * over loopback, with the load in a worker thread:
 *
 * 1. passthrough: a core Protocol echoing every chunk vs a hand-written node:net echo server (MB/s, ratio).
 * 2. lines: a core LineReceiver counting 64-byte lines vs a hand-written node:net line counter (lines/s, ratio);
 *    LineOnlyReceiver too; and Twisted 22.4's own LineReceiver as a reference when python3-twisted is installed.
 *
 * Rounds alternate between the contenders and the median is reported, so that a noisy neighbour hits both.
 */
import { spawn } from "node:child_process";
import * as net from "node:net";
import * as path from "node:path";
import * as readline from "node:readline";
import type { IPv4Address } from "../../core/address.ts";
import { Factory } from "../../core/protocol.ts";
import { LineOnlyReceiver, LineReceiver } from "../../core/protocols/basic.ts";
import { reactor } from "../../core/reactor.ts";
import { runLoad } from "./load.ts";
import { Echo } from "../../core/protocols/wire.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const PASSTHROUGH_BYTES = 256 * 1024 * 1024;
const LINE = "x".repeat(62) + "\r\n"; // 64 bytes
const LINES_PER_BLOCK = 1024; // 64 KiB blocks
const LINE_COUNT = 2_000_000; // 128 MiB of lines

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function fmt(n: number, digits = 1): string {
  return n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** A listening server of either kind, and how to stop it. */
interface Server {
  port: number;
  close(): Promise<void>;
}

async function netServer(onConnection: (s: net.Socket) => void): Promise<Server> {
  const server = net.createServer(onConnection);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

async function coreServer(factory: Factory): Promise<Server> {
  const port = reactor.listenTCP(0, factory, { interface: "127.0.0.1" });
  await port.listening;
  return { port: (port.getHost() as IPv4Address).port, close: () => port.stopListening() };
}

// --- 1. passthrough -------------------------------------------------------------------------------------------

async function passthrough(server: Server): Promise<number> {
  const r = await runLoad({ port: server.port, total: PASSTHROUGH_BYTES, chunk: 64 * 1024, mode: "echo" });
  if (r.received !== PASSTHROUGH_BYTES) throw new Error(`echo lost bytes: ${r.received} of ${PASSTHROUGH_BYTES}`);
  return PASSTHROUGH_BYTES / r.seconds / 1e6;
}

// --- 2. lines -------------------------------------------------------------------------------------------------

/** Measures from the first byte to the last line counted, on the server side. */
class Stopwatch {
  start = 0;
  count = 0;
  seconds = 0;
  done: Promise<void>;
  private resolve!: () => void;
  constructor(readonly expected: number) {
    this.done = new Promise((r) => (this.resolve = r));
  }
  tick(n = 1): void {
    if (this.start === 0) this.start = performance.now();
    this.count += n;
    if (this.count === this.expected) {
      this.seconds = (performance.now() - this.start) / 1000;
      this.resolve();
    }
  }
}

let watch = new Stopwatch(LINE_COUNT);

class CountingLineReceiver extends LineReceiver {
  override lineReceived(): void {
    watch.tick();
  }
}

class CountingLineOnlyReceiver extends LineOnlyReceiver {
  override lineReceived(): void {
    watch.tick();
  }
}

/** The hand-written baseline: find CRLFs in each chunk, carry the unterminated tail. */
function handWrittenLineCounter(socket: net.Socket): void {
  let tail: Buffer | null = null;
  socket.on("data", (chunk: Buffer) => {
    let buf = chunk;
    if (tail !== null) {
      buf = Buffer.concat([tail, chunk]);
      tail = null;
    }
    let from = 0;
    let n = 0;
    for (let i = buf.indexOf("\r\n", from); i !== -1; i = buf.indexOf("\r\n", from)) {
      n += 1;
      from = i + 2;
    }
    if (n > 0) watch.tick(n);
    if (from < buf.length) tail = buf.subarray(from);
  });
  socket.on("error", () => {});
}

async function lines(server: Server): Promise<number> {
  watch = new Stopwatch(LINE_COUNT);
  const fill = LINE.repeat(LINES_PER_BLOCK);
  await runLoad({ port: server.port, total: LINE_COUNT * LINE.length, chunk: fill.length, mode: "send", fill });
  await watch.done;
  return LINE_COUNT / watch.seconds;
}

/** Twisted 22.4's LineReceiver on the same load, if python3-twisted is installed. */
async function twistedLines(): Promise<number | string> {
  const child = spawn("/usr/bin/python3", [path.join(import.meta.dirname, "twisted_lines.py"), String(ROUNDS)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const out = readline.createInterface({ input: child.stdout });
  const linesOut: string[] = [];
  const next = () =>
    new Promise<string>((resolve, reject) => {
      if (linesOut.length) return resolve(linesOut.shift()!);
      out.once("line", () => resolve(linesOut.shift()!));
      child.once("exit", () => reject(new Error(stderr.trim() || "python3 exited")));
    });
  out.on("line", (l) => linesOut.push(l));
  try {
    const port = Number(await next());
    const rates: number[] = [];
    const fill = LINE.repeat(LINES_PER_BLOCK);
    for (let i = 0; i < ROUNDS; i++) {
      await runLoad({ port, total: LINE_COUNT * LINE.length, chunk: fill.length, mode: "send", fill });
      const m = /lines=(\d+) seconds=([\d.]+)/.exec(await next());
      if (!m || Number(m[1]) !== LINE_COUNT) throw new Error(`Twisted counted ${m?.[1]} lines`);
      rates.push(LINE_COUNT / Number(m[2]));
    }
    return median(rates);
  } catch (err) {
    child.kill();
    return `not measured (${(err as Error).message.split("\n").pop()})`;
  }
}

async function compare(
  title: string,
  unit: string,
  contenders: { name: string; server: Server }[],
  measure: (s: Server) => Promise<number>,
): Promise<number[]> {
  const results = contenders.map(() => [] as number[]);
  await measure(contenders[0]!.server); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate the order each round, so that neither contender always runs first (warmer or colder).
    const order = [...contenders.keys()];
    if (round % 2 === 1) order.reverse();
    for (const i of order) results[i]!.push(await measure(contenders[i]!.server));
  }
  const medians = results.map(median);
  console.log(`\n${title}`);
  for (const [i, c] of contenders.entries()) {
    const ratio = medians[i]! / medians[medians.length - 1]!;
    console.log(`  ${c.name.padEnd(34)} ${fmt(medians[i]!, 0).padStart(12)} ${unit}   ${fmt(ratio, 2)}x`);
  }
  return medians;
}

async function main(): Promise<void> {
  console.log(`Wirescope core benchmark — node ${process.version}, ${ROUNDS} rounds, medians; ratios vs the last row`);

  const echoCore = await coreServer(Factory.forProtocol(Echo));
  const echoNet = await netServer((s) => {
    s.on("data", (d) => s.write(d));
    s.on("end", () => s.end());
    s.on("error", () => {});
  });
  const [core, base] = await compare(
    `passthrough: ${PASSTHROUGH_BYTES / 2 ** 20} MiB echoed in 64 KiB writes`,
    "MB/s",
    [
      { name: "core Protocol (echo)", server: echoCore },
      { name: "node:net echo (baseline)", server: echoNet },
    ],
    passthrough,
  );
  await echoCore.close();
  await echoNet.close();

  const lr = await coreServer(Factory.forProtocol(CountingLineReceiver));
  const lor = await coreServer(Factory.forProtocol(CountingLineOnlyReceiver));
  const hand = await netServer(handWrittenLineCounter);
  const [lrRate, , handRate] = await compare(
    `lines: ${fmt(LINE_COUNT / 1e6, 0)}M lines of 64 bytes, sent in 64 KiB writes`,
    "lines/s",
    [
      { name: "core LineReceiver", server: lr },
      { name: "core LineOnlyReceiver", server: lor },
      { name: "node:net line counter (baseline)", server: hand },
    ],
    lines,
  );
  await Promise.all([lr.close(), lor.close(), hand.close()]);

  const twisted = await twistedLines();
  console.log(
    `  ${"Twisted 22.4 LineReceiver (ref.)".padEnd(34)} ${typeof twisted === "number" ? `${fmt(twisted, 0).padStart(12)} lines/s   ${fmt(twisted / handRate!, 2)}x` : twisted}`,
  );

  console.log("\nGoals:");
  const verdict = (ok: boolean) => (ok ? "met" : "NOT met");
  console.log(
    `  passthrough >= 0.9x node:net ............ ${fmt(core! / base!, 2)}x  ${verdict(core! / base! >= 0.9)}`,
  );
  console.log(
    `  LineReceiver >= 0.5x hand-written loop .. ${fmt(lrRate! / handRate!, 2)}x  ${verdict(lrRate! / handRate! >= 0.5)}`,
  );
  if (typeof twisted === "number") {
    console.log(`  LineReceiver vs Twisted's ............... ${fmt(lrRate! / twisted, 1)}x`);
  }
}

await main();
