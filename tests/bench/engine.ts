/**
 * Recording overhead (the goal: at most 15% of throughput lost at 64 KiB writes). A proxy session forwards an
 * echo stream between a load worker and an echo server on 127.0.0.1; the same session code runs once recording to a
 * real capture file (both legs, both directions: four records of every chunk, the two forwarded ones written as
 * "data again" references) and once with a timeline that keeps nothing. Rounds alternate; medians are printed with
 * the ratio, and the process's CPU time per round (all threads, user and system), which shows what recording costs
 * even where the throughput figure is blurred by a busy machine. Recording runs both ways the capture thread can
 * write: around the page cache (O_DIRECT, the default where the file system allows it) and through it.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Factory, reactor, type IPv4Address } from "../../core/index.ts";
import { rawProtocols, Session } from "../../main/engine/session.ts";
import { Recorder } from "../../main/recording/recorder.ts";
import type { NewTimelineEvent } from "../../preload/timeline.ts";
import { runLoad } from "./load.ts";
import { Echo } from "../../core/protocols/wire.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const TOTAL = 256 * 1024 * 1024;

/** A timeline that counts and keeps nothing: the baseline. */
class NullTimeline {
  count = 0;
  append(_e: NewTimelineEvent): void {
    this.count += 1;
  }
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;

/** One round: MB/s, and the CPU milliseconds the process spent (user, system). */
interface Round {
  mbps: number;
  userMs: number;
  systemMs: number;
}

async function proxyThroughput(timeline: NullTimeline | Recorder, upstream: number): Promise<Round> {
  const session = new Session({
    id: "bench",
    kind: "proxy",
    name: "bench",
    reactor,
    timeline,
    protocols: rawProtocols,
    changed: () => {},
  });
  await session.startProxy({ port: 0 }, { host: "127.0.0.1", port: upstream }, null, null);
  const port = Number(session.listeningOn!.split(":")[1]);
  const cpu = process.cpuUsage();
  const r = await runLoad({ port, total: TOTAL, chunk: 64 * 1024, mode: "echo" });
  const used = process.cpuUsage(cpu);
  await session.close();
  if (r.received !== TOTAL) throw new Error(`lost bytes: ${r.received} of ${TOTAL}`);
  return { mbps: TOTAL / r.seconds / 1e6, userMs: used.user / 1000, systemMs: used.system / 1000 };
}

/** The three ways a round runs: recording with direct writes (the default), through the page cache, or nothing. */
type Mode = "direct" | "buffered" | "bare";

async function main(): Promise<void> {
  const echo = reactor.listenTCP(0, Factory.forProtocol(Echo), { interface: "127.0.0.1" });
  await echo.listening;
  const upstream = (echo.getHost() as IPv4Address).port;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wirescope-bench-"));
  const rounds: Record<Mode, Round[]> = { direct: [], buffered: [], bare: [] };
  let file = 0;
  const run = async (mode: Mode) => {
    if (mode === "bare") return rounds.bare.push(await proxyThroughput(new NullTimeline(), upstream));
    // Read when the capture thread opens the file (capture-thread.ts).
    if (mode === "buffered") process.env.WIRESCOPE_CAPTURE_DIRECT = "0";
    const recorder = await Recorder.create(path.join(dir, `${file++}.wscap`), { session: "bench" });
    delete process.env.WIRESCOPE_CAPTURE_DIRECT;
    rounds[mode].push(await proxyThroughput(recorder, upstream));
    await recorder.close();
    fs.rmSync(recorder.file);
  };
  await run("bare"); // warm-up
  rounds.bare.length = 0;
  const order: Mode[][] = [
    ["direct", "bare", "buffered"],
    ["bare", "buffered", "direct"],
    ["buffered", "direct", "bare"],
  ];
  for (let i = 0; i < ROUNDS; i++) for (const mode of order[i % order.length]!) await run(mode);
  await echo.stopListening();
  fs.rmSync(dir, { recursive: true, force: true });
  const mbps = (mode: Mode) => median(rounds[mode].map((x) => x.mbps));
  const cpu = (mode: Mode) => ({
    user: median(rounds[mode].map((x) => x.userMs)),
    system: median(rounds[mode].map((x) => x.systemMs)),
  });
  const b = mbps("bare");
  const bc = cpu("bare");
  console.log(
    `\nRecording overhead: ${TOTAL / 2 ** 20} MiB echoed through a proxy session in 64 KiB writes (${ROUNDS} rounds, medians)`,
  );
  const rows: [Mode, string][] = [
    ["direct", "recording, direct writes (default)"],
    ["buffered", "recording, through the page cache "],
    ["bare", "recording nothing (baseline)      "],
  ];
  for (const [mode, label] of rows) {
    const c = cpu(mode);
    const extra = c.user + c.system - bc.user - bc.system;
    console.log(
      `  ${label}  ${mbps(mode).toFixed(0).padStart(5)} MB/s  ${(mbps(mode) / b).toFixed(2)}x   CPU per round ` +
        `${c.user.toFixed(0)} ms user + ${c.system.toFixed(0)} ms system` +
        (mode === "bare"
          ? ""
          : ` (recording's own: ${extra.toFixed(0)} ms, +${((extra / (bc.user + bc.system)) * 100).toFixed(0)}%)`),
    );
  }
  const lost = (1 - mbps("direct") / b) * 100;
  console.log(`  throughput lost to recording: ${lost.toFixed(1)}% (goal <= 15%: ${lost <= 15 ? "met" : "NOT met"})`);
}

await main();
