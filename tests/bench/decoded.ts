/**
 * `npx tsx tests/bench/decoded.ts`: decoded messages recorded per second (issue 15's goal: >= 1M), not pass/fail.
 *
 * A listener session of the real engine (Engine.open: session, RecordingProtocol, sandbox group, pairing, recorder,
 * capture writer, timeline index) runs a LineReceiver that reports every 64-byte line with
 * `this.log.message("line {n}", { n })` (its span attached by the framer). A separate load client, a process of its
 * own, sends the lines over 127.0.0.1 in 64 KiB writes and closes. A message counts as recorded once it is on the
 * session's timeline (appended to the recorder: in its index and on its way to the capture file); the rate is
 * messages from the client's connect until the protocol's last event (logged from connectionLost) is on the
 * timeline. Afterwards the capture file is read back: every message must be there, in order, with its span.
 *
 * Baselines in the same run: the same protocol with `log.info` (no span), and one that logs nothing per line.
 * Rounds alternate between the three; medians are printed. CPU per message of each thread comes from
 * /proc/self/task/<tid>/stat (user + system ticks; Node 20 has no process.threadCpuUsage): the main thread, the
 * session's sandbox worker (the thread that appeared when its group started) and the capture thread (the one that
 * appeared with the first recorder), and the rest (V8's GC helpers, libuv's pool). Everything runs on 127.0.0.1.
 *
 * Last, the main thread's share alone, without a worker or a socket: the same messages, read from the log entries a
 * worker writes (wire-log-entries.ts) as the engine reads them (EncodedLogEvent) and appended to a Recorder; CPU and
 * V8's GC time per message.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Engine } from "../../main/engine/engine.ts";
import { PerformanceObserver } from "node:perf_hooks";
import { CaptureReader } from "../../main/recording/capture-reader.ts";
import { EncodedLogEvent } from "../../main/recording/encoded-log-event.ts";
import { Recorder } from "../../main/recording/recorder.ts";
import type { Span, TimelineEvent } from "../../preload/timeline.ts";
import { LogEntryWriter, readLogEntry, type LogEntryEvent } from "../../main/sandbox/wire-log-entries.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const LINES = Number(process.env.DECODED_LINES ?? 1_000_000);
const LINE = "x".repeat(62) + "\r\n"; // 64 bytes
const BLOCK_LINES = 1024; // 64 KiB writes
const GOAL = 1_000_000;
/** Clock ticks per second of /proc's stat (CLK_TCK). */
const TICKS = 100;

type Mode = "message" | "info" | "none";
/** DECODED_MODES=message,info picks some (for profiling one). */
const MODES = (process.env.DECODED_MODES ?? "message,info,none").split(",") as Mode[];

/** The protocol of each mode: what it does per line; each says "done {count}" from connectionLost. */
function protocolSource(mode: Mode): string {
  const perLine = {
    message: `this.log.message("line {n}", { n: this.count });`,
    info: `this.log.info("line {n}", { n: this.count });`,
    none: ``,
  }[mode];
  return `import { LineReceiver } from "wirescope";
export default class Lines extends LineReceiver {
  count = 0;
  lineReceived(): void {
    this.count += 1;
    ${perLine}
  }
  connectionLost(reason: Error): void {
    this.log.info("done {count}", { count: this.count });
    super.connectionLost(reason);
  }
}
`;
}

/** The load client, plain JavaScript in a process of its own: prints its connect time (epoch ms), sends, closes. */
const CLIENT = `
const net = require("node:net");
const [port, total] = process.argv.slice(1).map(Number);
const block = Buffer.from(${JSON.stringify(LINE)}.repeat(${BLOCK_LINES}), "latin1");
let sent = 0;
const socket = net.connect({ host: "127.0.0.1", port }, () => {
  process.stdout.write(String(performance.timeOrigin + performance.now()) + "\\n");
  pump();
});
function pump() {
  while (sent < total) {
    const n = Math.min(block.length, total - sent);
    sent += n;
    if (!socket.write(n === block.length ? block : block.subarray(0, n))) return void socket.once("drain", pump);
  }
  socket.end();
}
socket.on("error", (e) => { console.error(String(e)); process.exit(1); });
`;

/** CPU seconds (user + system) of each thread of this process, by tid. */
function threadCpu(): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of fs.readdirSync("/proc/self/task")) {
    try {
      const stat = fs.readFileSync(`/proc/self/task/${tid}/stat`, "latin1");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out.set(Number(tid), (Number(fields[11]) + Number(fields[12])) / TICKS);
    } catch {
      // The thread ended meanwhile.
    }
  }
  return out;
}

/** Threads present in `after` and not in `before`. */
function newThreads(before: Map<number, number>, after: Map<number, number>): number[] {
  return [...after.keys()].filter((tid) => !before.has(tid));
}

/** Runs the load client against `port`; resolves with its connect time (epoch ms) once it exited. */
function client(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["-e", CLIENT, String(port), String(LINES * LINE.length)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.setEncoding("latin1").on("data", (d: string) => (out += d));
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 ? resolve(Number(out.trim())) : reject(new Error(`client: ${code}`))));
  });
}

const nowEpoch = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Round {
  rate: number;
  /** CPU µs per line: main thread, sandbox worker, capture thread, the rest. */
  main: number;
  worker: number;
  capture: number;
  other: number;
}

/** Reads the capture back: every line's message (mode "message") or log line ("info") must be there, in order. */
async function verify(file: string, mode: Mode): Promise<void> {
  const reader = await CaptureReader.open(file);
  let seen = 0;
  let done = "";
  const check = (e: TimelineEvent) => {
    if (e.kind !== "log") return;
    if (e.text.startsWith("done ")) return void (done = e.text);
    seen += 1;
    if (e.text !== `line ${seen}` || e.fields["n"] !== seen) throw new Error(`event ${e.seq}: "${e.text}"`);
    if (mode !== "message") return;
    const span = e.spans?.[0];
    if (e.spans?.length !== 1 || span?.dir !== "in" || span.offset !== (seen - 1) * 64 || span.length !== 64) {
      throw new Error(`event ${e.seq}: line ${seen} has spans ${JSON.stringify(e.spans)}`);
    }
  };
  try {
    for (let from = 0; from < reader.count;) from += await reader.scan(from, 65_536, 64 * 2 ** 20, check);
  } finally {
    await reader.close();
  }
  const expected = mode === "none" ? 0 : LINES;
  if (seen !== expected || done !== `done ${LINES}`) throw new Error(`${mode}: ${seen} lines, "${done}"`);
}

async function round(engine: Engine, mode: Mode, captureThreads: number[]): Promise<Round> {
  const before = threadCpu();
  const info = await engine.listen({ target: { port: 0 }, protocol: `${mode}.ts`, name: mode });
  const workers = newThreads(before, threadCpu());
  const port = Number(info.listeningOn!.split(":").pop());
  const cpu0 = threadCpu();
  const started = client(port);
  let ended = 0;
  for (;;) {
    const count = (await engine.listSessions()).find((s) => s.id === info.id)!.events;
    const last =
      count > 0 ? (await engine.readTimeline({ session: info.id, from: count - 1, count: 1 })).events[0] : null;
    if (last?.kind === "log" && last.text.startsWith("done ")) {
      ended = nowEpoch();
      break;
    }
    await sleep(2);
  }
  const cpu1 = threadCpu();
  const connectedAt = await started;
  const file = engine.captureFileOf(info.id);
  await engine.removeSession({ session: info.id });
  if (process.env.DECODED_VERIFY !== "0") await verify(file, mode); // 0: when profiling the recording alone
  fs.rmSync(file);
  const used = (tids: (tid: number) => boolean) => {
    let s = 0;
    for (const [tid, t] of cpu1) if (tids(tid)) s += t - (cpu0.get(tid) ?? 0);
    return (s * 1e6) / LINES;
  };
  const main = used((tid) => tid === process.pid);
  const worker = used((tid) => workers.includes(tid));
  const capture = used((tid) => captureThreads.includes(tid));
  const other = used((tid) => tid !== process.pid && !workers.includes(tid) && !captureThreads.includes(tid));
  return { rate: LINES / ((ended - connectedAt) / 1000), main, worker, capture, other };
}

/** µs of CPU (this process) and of GC pauses per message, appending LINES decoded messages to a Recorder. */
async function recorderAlone(dir: string, round: number): Promise<{ cpu: number; gc: number }> {
  let gcMs = 0;
  const observer = new PerformanceObserver((list) => list.getEntries().forEach((e) => (gcMs += e.duration)));
  observer.observe({ entryTypes: ["gc"] });
  const recorder = await Recorder.create(path.join(dir, `alone-${round}.wscap`), {});
  // The worker's part, not timed: the messages as log entries, in batches of a 64 KiB read's lines.
  const batches: { entries: Buffer; count: number }[] = [];
  const writer = new LogEntryWriter();
  for (let n = 1; n <= LINES; n++) {
    const message = { spans: [{ dir: "in", offset: (n - 1) * 64, length: 64 }] };
    writer.add(1, { level: "info", namespace: "Lines", text: `line ${n}`, fieldsJson: `{"n":${n}}`, time: n, message });
    if (n % BLOCK_LINES === 0 || n === LINES) {
      const count = writer.count;
      batches.push({ entries: Buffer.from(writer.take()!), count });
    }
  }
  const entry: { id: number | null; event: LogEntryEvent | null } = { id: null, event: null };
  const cpu = process.cpuUsage();
  let n = 0;
  for (const { entries, count } of batches) {
    const view = new DataView(entries.buffer);
    for (let i = 0, at = 0; i < count; i++) {
      at = readLogEntry(entries, view, at, entry);
      const e = new EncodedLogEvent(-1, ++n, 1, "info", entry.event!);
      e.spans = (entry.event!.message as { spans: Span[] }).spans;
      recorder.append(e);
    }
  }
  const used = process.cpuUsage(cpu);
  await sleep(50); // GC entries are delivered to the observer asynchronously
  observer.disconnect();
  await recorder.close();
  fs.rmSync(recorder.file);
  return { cpu: (used.user + used.system) / LINES, gc: (gcMs * 1000) / LINES };
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
const fmt = (n: number, digits = 2) => n.toFixed(digits);

async function main(): Promise<void> {
  const workspaceRoot = fs.mkdtempSync(path.join(os.tmpdir(), "wirescope-bench-decoded-"));
  const beforeEngine = threadCpu();
  const engine = await Engine.open({ workspaceRoot });
  try {
    for (const mode of MODES) await engine.saveProtocol({ path: `${mode}.ts`, content: protocolSource(mode) });
    // A raw session first: the capture thread starts with the first recorder.
    const warm = await engine.listen({ target: { port: 0 }, protocol: null });
    const captureThreads = newThreads(beforeEngine, threadCpu());
    await engine.removeSession({ session: warm.id });
    const rounds: Record<Mode, Round[]> = { message: [], info: [], none: [] };
    await round(engine, MODES[0]!, captureThreads); // warm-up
    for (let i = 0; i < ROUNDS; i++) {
      for (const mode of i % 2 === 0 ? MODES : [...MODES].reverse()) {
        rounds[mode].push(await round(engine, mode, captureThreads));
      }
    }
    console.log(
      `Decoded events: ${LINES.toLocaleString("en-US")} 64-byte lines from a separate client process into a ` +
        `sandboxed LineReceiver of a listener session recording to its capture (median of ${ROUNDS}; ${os.cpus().length} cores)`,
    );
    console.log(`  CPU per line (µs), by thread: main + sandbox worker + capture thread + other (GC helpers, libuv)`);
    const label = { message: "log.message per line", info: "log.info per line   ", none: "no log per line     " };
    for (const mode of MODES) {
      const r = rounds[mode];
      const rate = median(r.map((x) => x.rate));
      const goal =
        mode === "message"
          ? `  (goal >= ${(GOAL / 1e3).toLocaleString("en-US")} k/s: ${rate >= GOAL ? "met" : "NOT met"})`
          : "";
      console.log(
        `  ${label[mode]}  ${(rate / 1e3).toLocaleString("en-US", { maximumFractionDigits: 0 }).padStart(5)} k lines/s${goal}\n` +
          `      CPU/line ${fmt(median(r.map((x) => x.main)))} + ${fmt(median(r.map((x) => x.worker)))} + ` +
          `${fmt(median(r.map((x) => x.capture)))} + ${fmt(median(r.map((x) => x.other)))} µs`,
      );
    }
    const alone = [];
    for (let i = 0; i < ROUNDS; i++) alone.push(await recorderAlone(workspaceRoot, i));
    console.log(
      `  the recorder alone (main thread, no worker): ${fmt(median(alone.map((a) => a.cpu)))} µs CPU per message, ` +
        `of it ${fmt(median(alone.map((a) => a.gc)))} µs in GC pauses`,
    );
  } finally {
    await engine.close();
    fs.rmSync(workspaceRoot, { recursive: true, force: true });
  }
}

await main();
