/**
 * Recording figures (not pass/fail): `npx tsx tests/bench/recording.ts`.
 *
 * 1. memory after recording 1 GiB of 64 KiB chunks (rss, heapUsed, arrayBuffers before/after, peak rss), and
 *    the capture's size;
 * 2. append throughput of a Recorder at 64 KiB and 64 B chunks (events/s, MB/s), next to plain fs.writeSync of
 *    the same chunks as a baseline, and how long the event loop was held by it; recording's CPU per byte (every
 *    thread: the copy, the CRC on the capture thread, the write) next to its floor on this machine, measured in the
 *    same rounds: a copy of the bytes into memory that keeps the latest 32 MiB, zlib's CRC-32 of the copy, a direct
 *    write of it (floorRun);
 * 3. a 1 GiB, 1M-event capture (1,150 B chunks and log events): time to read 100 events at its start, middle and
 *    end, from the live recorder (file + window) and after reopening it (which scans and checks the whole file).
 *
 * Chunks alternate between two buffers, as distinct socket reads would: the same buffer appended twice in a row is
 * what a proxy forwards, and is recorded as a "data again" reference (see capture-format.ts), which is not measured here.
 *
 * Everything goes to a temporary directory that is removed at the end. About 30 s.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import * as zlib from "node:zlib";
import { alignedBuffer } from "../../main/recording/aligned-memory.ts";
import { Recorder, monotonicMicros } from "../../main/recording/recorder.ts";

const GiB = 1024 * 1024 * 1024;
const MiB = 1024 * 1024;
/** Rounds of each throughput figure (BENCH_ROUNDS, default 5). */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

function fmt(n: number, digits = 1): string {
  return n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function mib(bytes: number): string {
  return `${fmt(bytes / MiB)} MiB`;
}

function memory(): NodeJS.MemoryUsage {
  gc();
  return process.memoryUsage();
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function randomChunk(size: number): Uint8Array {
  const chunk = new Uint8Array(size);
  for (let i = 0; i < size; i += 1) chunk[i] = (Math.random() * 256) | 0;
  return chunk;
}

/** Two different chunks of `size` random bytes, to alternate. */
function chunkPair(size: number): [Uint8Array, Uint8Array] {
  return [randomChunk(size), randomChunk(size)];
}

/** One recorder round: wall seconds to all on disk (close included), of them the appends', and CPU of every thread. */
interface Run {
  seconds: number;
  loopSeconds: number;
  cpuSeconds: number;
}

/** CPU seconds (user + system, every thread of the process) since `since`. */
function cpuSince(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1e6;
}

/** Appends `count` data events (alternating the two chunks) to a new capture. */
async function appendRun(file: string, chunks: [Uint8Array, Uint8Array], count: number): Promise<Run> {
  const recorder = await Recorder.create(file, { session: "bench" });
  const cpu = process.cpuUsage();
  const start = performance.now();
  for (let i = 0; i < count; i += 1) {
    recorder.append({ kind: "data", dir: i & 1 ? "in" : "out", conn: 1, t: monotonicMicros(), data: chunks[i & 1] });
  }
  const appended = performance.now();
  await recorder.close();
  const end = performance.now();
  return { seconds: (end - start) / 1000, loopSeconds: (appended - start) / 1000, cpuSeconds: cpuSince(cpu) };
}

/** The same chunks written with fs.writeSync, no recorder: what the disk takes. */
function baselineRun(file: string, chunk: Uint8Array, count: number): number {
  const start = performance.now();
  const fd = fs.openSync(file, "ax");
  // Batched in 1 MiB writes (the recorder's are larger), or a 64 B chunk would measure syscalls, not the disk.
  const batch = Buffer.allocUnsafe(Math.max(MiB, chunk.byteLength));
  let used = 0;
  for (let i = 0; i < count; i += 1) {
    if (used + chunk.byteLength > batch.length) {
      fs.writeSync(fd, batch, 0, used);
      used = 0;
    }
    batch.set(chunk, used);
    used += chunk.byteLength;
  }
  fs.writeSync(fd, batch, 0, used);
  fs.closeSync(fd);
  return (performance.now() - start) / 1000;
}

/**
 * What recording a byte can't cost less than on this machine: each part's CPU seconds (of the whole process, as the
 * recorder's are counted) for `count` chunks.
 */
interface Floor {
  memcpy: number;
  crc: number;
  /** null where O_DIRECT can't be had (not Linux, or a file system without it). */
  directWrite: number | null;
}

/** Size of the floor's write buffers, as the recorder's. */
const FLOOR_BLOCK = 4 * MiB;

/**
 * The least any recorder does, on one thread, with nothing else: copies each chunk into memory that keeps the latest
 * 32 MiB (the recorder's window), and every 4 MiB takes zlib's CRC-32 of what was copied (64 KiB at a time) and
 * writes it around the page cache (O_DIRECT, from aligned memory). Each part's CPU time is counted on its own.
 */
function floorRun(file: string, chunks: [Uint8Array, Uint8Array], count: number): Floor {
  const size = chunks[0].byteLength;
  const ring = alignedBuffer(32 * MiB);
  let fd: number | null = null;
  if (fs.constants.O_DIRECT !== undefined) {
    try {
      fd = fs.openSync(
        file,
        fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_DIRECT,
      );
    } catch {
      fd = null;
    }
  }
  const floor: Floor = { memcpy: 0, crc: 0, directWrite: fd === null ? null : 0 };
  let crc = 0;
  let block = 0;
  let used = 0;
  const writeBlock = (): void => {
    const at = block * FLOOR_BLOCK;
    let cpu = process.cpuUsage();
    for (let p = at; p < at + used; p += 64 * 1024)
      crc ^= zlib.crc32(ring.subarray(p, Math.min(p + 64 * 1024, at + used)));
    floor.crc += cpuSince(cpu);
    cpu = process.cpuUsage();
    if (fd !== null) fs.writeSync(fd, ring, at, Math.ceil(used / 4096) * 4096);
    if (floor.directWrite !== null) floor.directWrite += cpuSince(cpu);
    block = (block + 1) % (ring.length / FLOOR_BLOCK);
    used = 0;
  };
  try {
    let cpu = process.cpuUsage();
    for (let i = 0; i < count; i += 1) {
      if (used + size > FLOOR_BLOCK) {
        floor.memcpy += cpuSince(cpu);
        writeBlock();
        cpu = process.cpuUsage();
      }
      ring.set(chunks[i & 1], block * FLOOR_BLOCK + used);
      used += size;
    }
    floor.memcpy += cpuSince(cpu);
    writeBlock();
  } finally {
    if (fd !== null) fs.closeSync(fd);
    fs.rmSync(file, { force: true });
  }
  if (crc === 0.5) console.log(crc); // keeps the CRCs from being optimized away
  return floor;
}

function range(values: number[], digits = 2): string {
  return `${fmt(median(values), digits)} (${fmt(Math.min(...values), digits)}-${fmt(Math.max(...values), digits)})`;
}

async function throughput(dir: string): Promise<void> {
  console.log(
    `2. append throughput (recorder: number, encode and copy into the writer's batch, where the window reads it; ` +
      `CRC and write on the capture thread), ${ROUNDS} rounds alternating with the baseline: median (min-max)`,
  );
  for (const [label, size, count] of [
    ["64 KiB", 64 * 1024, 4096],
    ["64 B", 64, 2_000_000],
  ] as const) {
    const chunks = chunkPair(size);
    const bytes = count * size;
    const runs: Run[] = [];
    const ratios: number[] = [];
    const baselines: number[] = [];
    const floors: Floor[] = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      const file = path.join(dir, `throughput-${round}.wscap`);
      const run = await appendRun(file, chunks, count);
      runs.push(run);
      fs.rmSync(file);
      const base = baselineRun(file, chunks[0], count);
      baselines.push(base);
      fs.rmSync(file);
      ratios.push((base / run.seconds) * 100);
      floors.push(floorRun(file, chunks, count));
    }
    const mbps = (seconds: number[]): string =>
      range(
        seconds.map((x) => bytes / 1e6 / x),
        0,
      );
    const ns = (seconds: number[]): string =>
      range(
        seconds.map((x) => (x * 1e9) / bytes),
        3,
      );
    console.log(
      `   ${label.padEnd(6)} chunks: ${fmt(count / median(runs.map((r) => r.seconds)) / 1e3)} k events/s, ` +
        `${mbps(runs.map((r) => r.seconds))} MB/s; fs.writeSync baseline ${mbps(baselines)} MB/s; recorder at ` +
        `${range(ratios, 0)}% of it (goal at 64 KiB >= 50%); event loop held ${mbps(runs.map((r) => r.loopSeconds))} MB/s`,
    );
    const total = (f: Floor): number => f.memcpy + f.crc + (f.directWrite ?? 0);
    const overFloor = runs.map((r, i) => r.cpuSeconds / total(floors[i]!));
    const parts = [
      `memcpy ${ns(floors.map((f) => f.memcpy))}`,
      `CRC-32 ${ns(floors.map((f) => f.crc))}`,
      floors.every((f) => f.directWrite !== null)
        ? `direct write ${ns(floors.map((f) => f.directWrite ?? 0))}`
        : "no direct write (no O_DIRECT here)",
    ];
    console.log(
      `          recording's CPU (every thread) ${ns(runs.map((r) => r.cpuSeconds))} ns/B (goal at 64 KiB <= 0.4), ` +
        `${range(overFloor, 2)}x its floor ${ns(floors.map(total))} ns/B = ${parts.join(" + ")}`,
    );
  }
}

async function memoryAfterGiB(dir: string): Promise<void> {
  console.log("1. memory, recording 1 GiB of 64 KiB chunks into one capture");
  const file = path.join(dir, "gib.wscap");
  const chunks = chunkPair(64 * 1024);
  const before = memory();
  let peakRss = before.rss;
  const recorder = await Recorder.create(file, { session: "memory" });
  const start = performance.now();
  const checkpoints: string[] = [];
  for (let i = 0; i < GiB / chunks[0].byteLength; i += 1) {
    recorder.append({ kind: "data", dir: "in", conn: 1, t: monotonicMicros(), data: chunks[i & 1] });
    if ((i & 255) === 0) peakRss = Math.max(peakRss, process.memoryUsage().rss);
    // rss at each 128 MiB: flat once the window is full, whatever the length of the session.
    if (((i + 1) & 2047) === 0) checkpoints.push(mib(process.memoryUsage().rss));
  }
  const seconds = (performance.now() - start) / 1000;
  const after = memory();
  const stats = recorder.stats();
  await recorder.close();
  const row = (name: keyof NodeJS.MemoryUsage): string =>
    `${name.padEnd(12)} ${mib(before[name]).padStart(12)} -> ${mib(after[name]).padStart(12)}`;
  console.log(`   recorded ${mib(GiB)} in ${fmt(seconds, 2)} s (${fmt(GiB / 1e6 / seconds)} MB/s)`);
  console.log(`   ${row("rss")}   (peak during: ${mib(peakRss)})`);
  console.log(`   rss every 128 MiB recorded: ${checkpoints.join(", ")}`);
  console.log(`   ${row("heapUsed")}`);
  console.log(`   ${row("arrayBuffers")}`);
  console.log(
    `   window: ${stats.window.events} events, ${mib(stats.window.bytes)}; file ${mib(fs.statSync(file).size)}`,
  );
  fs.rmSync(file);
}

/** Median ms of reading 100 events at `from`, over a few rounds. */
async function readTime(recorder: Recorder, from: number): Promise<string> {
  const times: number[] = [];
  for (let round = 0; round < 15; round += 1) {
    const start = performance.now();
    const events = await recorder.read(from, 100);
    times.push(performance.now() - start);
    if (events.length !== 100 || events[0]!.seq !== from) throw new Error(`read(${from}, 100) returned wrong events`);
  }
  return `${fmt(median(times), 2)} ms`;
}

async function reads(dir: string): Promise<void> {
  console.log("3. reading 100 events from a 1 GiB, 1M-event capture (1,150 B chunks, every 10th a log event)");
  const file = path.join(dir, "million.wscap");
  const chunks = chunkPair(1150);
  const recorder = await Recorder.create(file, { session: "reads" });
  const count = 1_000_000;
  const start = performance.now();
  for (let i = 0, data = 0; i < count; i += 1) {
    const t = monotonicMicros();
    if (i % 10 === 9) recorder.append({ kind: "log", level: "info", conn: 1, t, text: "decoded GET", fields: { i } });
    else recorder.append({ kind: "data", dir: i & 1 ? "in" : "out", conn: 1, t, data: chunks[data++ & 1] });
  }
  const seconds = (performance.now() - start) / 1000;
  await recorder.flush();
  const size = fs.statSync(file).size;
  console.log(`   written in ${fmt(seconds, 2)} s; file ${mib(size)}; window from seq ${recorder.stats().window.from}`);
  const at = { start: 0, middle: count / 2, end: count - 100 };
  console.log(
    `   live recorder: start ${await readTime(recorder, at.start)}, middle ${await readTime(recorder, at.middle)},` +
      ` end ${await readTime(recorder, at.end)} (window)`,
  );
  await recorder.close();
  const openStart = performance.now();
  const reopened = await Recorder.open(file, { windowEvents: 1 });
  const openMs = performance.now() - openStart;
  console.log(
    `   reopened (scan + CRC of the whole file: ${fmt(openMs, 0)} ms): start ${await readTime(reopened, at.start)},` +
      ` middle ${await readTime(reopened, at.middle)}, end ${await readTime(reopened, at.end)} (file)`,
  );
  await reopened.close();
  fs.rmSync(file);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wirescope-bench-recording-"));
try {
  const started = performance.now();
  await memoryAfterGiB(dir); // first, so that "before" is a fresh process
  await throughput(dir);
  await reads(dir);
  console.log(`(${fmt((performance.now() - started) / 1000)} s)`);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
