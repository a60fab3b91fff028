/**
 * `npm run bench`: figures, not pass/fail. Each figure is printed next to a baseline measured in the same run,
 * over loopback, with the load in a worker thread of this process:
 *
 * 1. passthrough: a core Protocol echoing every chunk vs a hand-written node:net echo server (MB/s, ratio);
 * 2. lines: a core LineReceiver counting 64-byte lines vs two hand-written node:net line counters (lines/s,
 *    ratio): the loop the goal was set against (indexOf of the string "\r\n") and a tighter one (indexOf of the
 *    LF byte); LineOnlyReceiver too; and Twisted 22.4's own LineReceiver when python3-twisted is installed.
 *
 * Each is measured twice: with the servers in this process (sharing it with the load's thread), and with each
 * server in a process of its own (server-process.ts; Twisted's in python3) against the same load, where the
 * server's CPU per byte or per line is printed too: the steadier figure on a busy machine. Rounds alternate
 * between the contenders and the median is reported, so that a noisy neighbour hits each.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import * as readline from "node:readline";
import { runLoad } from "./load.ts";
import { cpuSeconds } from "./proc-cpu.ts";
import { startServer, type Meter, type ServerKind } from "./servers.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
/** The passthrough goal is a ratio stable over 7 rounds. */
const PASSTHROUGH_ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const PASSTHROUGH_BYTES = 256 * 1024 * 1024;
const LINE = "x".repeat(62) + "\r\n"; // 64 bytes
const LINES_PER_BLOCK = 1024; // 64 KiB blocks
const LINE_COUNT = 2_000_000; // 128 MiB of lines
const GOALS = { passthrough: 0.9, linesVsHand: 1.2, linesVsTwisted: 6 } as const;

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function fmt(n: number, digits = 1): string {
  return n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** A server under measure: where to send the load, what it reports of each connection, its process if its own. */
interface Contender {
  name: string;
  port: number;
  /** The process it runs in, when not this one: its CPU is measured per round. */
  pid: number | null;
  /** A line counter's report of the connection that just closed (its lines, the seconds from its first). */
  report(): Promise<{ lines: number; seconds: number }>;
  close(): Promise<void>;
}

/** One round's figures: a rate, and the server's CPU seconds when it runs in a process of its own. */
interface Figure {
  rate: number;
  cpu: number | null;
}

// --- the servers ---------------------------------------------------------------------------------------------

/** Reports of a line counter's connections, as they close, in order. */
class Reports {
  private readonly queue: { lines: number; seconds: number }[] = [];
  private waiting: ((r: { lines: number; seconds: number }) => void) | null = null;
  add(r: { lines: number; seconds: number }): void {
    if (this.waiting !== null) {
      const w = this.waiting;
      this.waiting = null;
      w(r);
    } else this.queue.push(r);
  }
  next(): Promise<{ lines: number; seconds: number }> {
    const r = this.queue.shift();
    if (r !== undefined) return Promise.resolve(r);
    return new Promise((resolve) => (this.waiting = resolve));
  }
}

/** A server of `kind` in this process. */
async function inProcess(name: string, kind: ServerKind): Promise<Contender> {
  const reports = new Reports();
  const meter = (): Meter => {
    let count = 0;
    let start = 0;
    return {
      lines(n) {
        if (count === 0) start = performance.now();
        count += n;
      },
      closed: () => reports.add({ lines: count, seconds: (performance.now() - start) / 1000 }),
    };
  };
  const server = await startServer(kind, meter);
  return { name, port: server.port, pid: null, report: () => reports.next(), close: () => server.close() };
}

/**
 * A server in a process of its own that prints its port, then "lines=N seconds=S" per connection: ours
 * (server-process.ts, run by this process's Node with tsx's loader) or Twisted's (twisted_lines.py).
 */
async function ownProcess(name: string, command: string, args: string[]): Promise<Contender> {
  const child: ChildProcess = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const reports = new Reports();
  const port = new Promise<number>((resolve, reject) => {
    const out = readline.createInterface({ input: child.stdout! });
    out.on("line", (line) => {
      const m = /lines=(\d+) seconds=([\d.]+)/.exec(line);
      if (m) reports.add({ lines: Number(m[1]), seconds: Number(m[2]) });
      else resolve(Number(line));
    });
    child.once("exit", () => reject(new Error(stderr.trim().split("\n").pop() || `${command} exited`)));
  });
  return {
    name,
    port: await port,
    pid: child.pid!,
    report: () => reports.next(),
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.stdin!.end();
        setTimeout(() => child.kill(), 5000).unref();
      }),
  };
}

function serverProcess(name: string, kind: ServerKind): Promise<Contender> {
  return ownProcess(name, process.execPath, [
    "--import",
    "tsx",
    path.join(import.meta.dirname, "server-process.ts"),
    kind,
  ]);
}

/** Twisted 22.4's LineReceiver (twisted_lines.py), serving `connections` connections; null if it can't run. */
async function twistedProcess(connections: number): Promise<Contender | string> {
  try {
    return await ownProcess("Twisted 22.4 LineReceiver", "/usr/bin/python3", [
      path.join(import.meta.dirname, "twisted_lines.py"),
      String(connections),
    ]);
  } catch (err) {
    return `not measured (${(err as Error).message}; apt-get install python3-twisted)`;
  }
}

// --- the measures -----------------------------------------------------------------------------------------------

/** Wraps a round in the server process's CPU time, when it has one. */
async function withCpu(c: Contender, round: () => Promise<number>): Promise<Figure> {
  const before = c.pid !== null ? cpuSeconds(c.pid) : 0;
  const rate = await round();
  return { rate, cpu: c.pid !== null ? cpuSeconds(c.pid) - before : null };
}

function passthrough(c: Contender): Promise<Figure> {
  return withCpu(c, async () => {
    const r = await runLoad({ port: c.port, total: PASSTHROUGH_BYTES, chunk: 64 * 1024, mode: "echo" });
    if (r.received !== PASSTHROUGH_BYTES) throw new Error(`echo lost bytes: ${r.received} of ${PASSTHROUGH_BYTES}`);
    return PASSTHROUGH_BYTES / r.seconds / 1e6;
  });
}

function lines(c: Contender): Promise<Figure> {
  return withCpu(c, async () => {
    const fill = LINE.repeat(LINES_PER_BLOCK);
    const report = c.report();
    await runLoad({ port: c.port, total: LINE_COUNT * LINE.length, chunk: fill.length, mode: "send", fill });
    const { lines: counted, seconds } = await report;
    if (counted !== LINE_COUNT) throw new Error(`${c.name} counted ${counted} lines of ${LINE_COUNT}`);
    return LINE_COUNT / seconds;
  });
}

/**
 * Measures each contender `rounds` times after a warm-up of each, alternating the order; prints the medians with
 * their ratio to the last contender (the baseline), and CPU per `cpuUnit` where measured. Returns the medians.
 */
async function compare(
  title: string,
  unit: string,
  contenders: Contender[],
  measure: (c: Contender) => Promise<Figure>,
  rounds: number,
  cpuUnit: { name: string; count: number },
): Promise<Figure[]> {
  const results = contenders.map(() => [] as Figure[]);
  for (const c of contenders) await measure(c); // warm-up (JIT)
  for (let round = 0; round < rounds; round++) {
    // Alternate the order each round, so that no contender always runs first (warmer or colder).
    const order = [...contenders.keys()];
    if (round % 2 === 1) order.reverse();
    for (const i of order) results[i]!.push(await measure(contenders[i]!));
  }
  const medians = results.map((r) => median(r.map((f) => f.rate)));
  const cpuMedians = results.map((r) => {
    const cpus = r.flatMap((f) => (f.cpu === null ? [] : [f.cpu]));
    return cpus.length > 0 ? median(cpus) : null;
  });
  console.log(`\n${title} (${rounds} rounds, medians; ratios vs the last row)`);
  for (const [i, c] of contenders.entries()) {
    const ratio = medians[i]! / medians[medians.length - 1]!;
    const used = cpuMedians[i]!;
    const cpu = used !== null ? `   server CPU ${fmt((used / cpuUnit.count) * 1e9, 2)} ns/${cpuUnit.name}` : "";
    const spread = results[i]!.map((f) => f.rate);
    console.log(
      `  ${c.name.padEnd(34)} ${fmt(medians[i]!, 0).padStart(12)} ${unit}   ${fmt(ratio, 2)}x` +
        `   (${fmt(Math.min(...spread), 0)}-${fmt(Math.max(...spread), 0)})${cpu}`,
    );
  }
  return medians.map((rate, i) => ({ rate, cpu: cpuMedians[i]! }));
}

async function main(): Promise<void> {
  console.log(`Wirescope core benchmark — node ${process.version}`);
  const verdicts: string[] = [];
  /** The rate's ratio against the goal; beside it, where measured, the ratio of work done per CPU second. */
  const verdict = (what: string, ours: Figure, theirs: Figure, goal: number) => {
    const ratio = ours.rate / theirs.rate;
    const cpu = ours.cpu !== null && theirs.cpu !== null ? `  (per CPU second: ${fmt(theirs.cpu / ours.cpu, 2)}x)` : "";
    verdicts.push(
      `  ${what.padEnd(52, ".")} ${fmt(ratio, 2)}x  goal >= ${goal}x: ${ratio >= goal ? "met" : "NOT met"}${cpu}`,
    );
  };
  const perByte = { name: "B", count: PASSTHROUGH_BYTES * 2 }; // each byte read and written
  const perLine = { name: "line", count: LINE_COUNT };

  for (const own of [false, true]) {
    const where = own ? "each server in its own process" : "servers in the bench's process";
    const start = own ? serverProcess : inProcess;
    const echo = [
      await start("core Protocol (echo)", "core-echo"),
      await start("node:net echo (baseline)", "net-echo"),
    ];
    const [core, base] = await compare(
      `passthrough, ${where}: ${PASSTHROUGH_BYTES / 2 ** 20} MiB echoed in 64 KiB writes`,
      "MB/s",
      echo,
      passthrough,
      PASSTHROUGH_ROUNDS,
      perByte,
    );
    for (const c of echo) await c.close();
    verdict(`passthrough vs node:net, ${own ? "own processes" : "in-process"}`, core!, base!, GOALS.passthrough);

    const counters = [
      await start("core LineReceiver", "core-lines"),
      await start("core LineOnlyReceiver", "core-line-only"),
    ];
    // Twisted serves the warm-up and every round, then exits.
    const twisted = own ? await twistedProcess(ROUNDS + 1) : null;
    if (twisted !== null && typeof twisted !== "string") counters.push(twisted);
    counters.push(await start("node:net, indexOf('\\r\\n') (the issue's)", "net-lines-crlf-string"));
    counters.push(await start("node:net, indexOf(LF) (baseline)", "net-lines"));
    const figures = await compare(
      `lines, ${where}: ${fmt(LINE_COUNT / 1e6, 0)}M lines of 64 bytes, sent in 64 KiB writes`,
      "lines/s",
      counters,
      lines,
      ROUNDS,
      perLine,
    );
    if (typeof twisted === "string") console.log(`  Twisted 22.4 LineReceiver          ${twisted}`);
    for (const c of counters) await c.close();
    const lr = figures[0]!;
    const setup = own ? "own processes" : "in-process";
    // Two hand-written loops: the one the goal was set against (Buffer.concat of the tail, indexOf of "\r\n"), and a
    // tighter one (indexOf of the LF byte). Neither makes an object per line; LineReceiver hands each line over
    // as a Buffer view, whose making and collecting took 41% of its server's time in a profile.
    verdict(`LineReceiver vs the issue's hand-written loop, ${setup}`, lr, figures.at(-2)!, GOALS.linesVsHand);
    verdict(`LineReceiver vs a tighter loop (LF byte), ${setup}`, lr, figures.at(-1)!, GOALS.linesVsHand);
    if (twisted !== null && typeof twisted !== "string") {
      verdict("LineReceiver vs Twisted 22.4's, own processes", lr, figures.at(-3)!, GOALS.linesVsTwisted);
    }
  }
  console.log("\nGoals:");
  for (const v of verdicts) console.log(v);
}

await main();
