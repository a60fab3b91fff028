/**
 * Recording figures (not pass/fail): `npx tsx tests/bench/recording.ts`.
 *
 * 1. memory after recording 1 GiB of 64 KiB chunks (rss, heapUsed, arrayBuffers before/after, peak rss), and
 *    the capture's size;
 * 2. append throughput of a Recorder at 64 KiB and 64 B chunks (events/s, MB/s), next to plain fs.writeSync of
 *    the same chunks as a baseline, and how long the event loop was held by it; recording's CPU per byte (every
 *    thread: the copy into the batch, the checksum on the capture thread, the write; and of it the event loop's)
 *    next to its floor on this machine, measured in the same rounds (floorRun): a copy of the bytes into memory that
 *    keeps the latest 32 MiB (the recorder's window), XXH64 of the copy (zlib's CRC-32 of it beside, what format 2
 *    paid), a direct write of it; and the design that copies nothing (noCopyRun): CRC-32 of each chunk where it
 *    is (XXH64 in WebAssembly can't read it there), the chunks themselves written with writev through the page cache
 *    (a direct write needs aligned memory), whose CPU doesn't even count the kernel's writeback;
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
import { alignedSharedMemory, copyIntoShared } from "../../main/recording/aligned-memory.ts";
import { RECORD_HEAD } from "../../main/recording/capture-format.ts";
import { Recorder, monotonicMicros } from "../../main/recording/recorder.ts";
import { Xxh64 } from "../../main/recording/xxh64.ts";

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

/**
 * One recorder round: wall seconds to all on disk (close included), of them the appends', CPU of every thread and,
 * of it, the main thread's (null where /proc can't say).
 */
interface Run {
  seconds: number;
  loopSeconds: number;
  cpuSeconds: number;
  mainCpuSeconds: number | null;
}

/** CPU seconds the main thread (the event loop) used so far, from /proc (Linux); null elsewhere. */
function mainThreadCpu(): number | null {
  try {
    const stat = fs.readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks of 10 ms
  } catch {
    return null;
  }
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
  const mainCpu = mainThreadCpu();
  const start = performance.now();
  for (let i = 0; i < count; i += 1) {
    recorder.append({ kind: "data", dir: i & 1 ? "in" : "out", conn: 1, t: monotonicMicros(), data: chunks[i & 1] });
  }
  const appended = performance.now();
  await recorder.close();
  const end = performance.now();
  const mainCpuAfter = mainThreadCpu();
  return {
    seconds: (end - start) / 1000,
    loopSeconds: (appended - start) / 1000,
    cpuSeconds: cpuSince(cpu),
    mainCpuSeconds: mainCpu === null || mainCpuAfter === null ? null : mainCpuAfter - mainCpu,
  };
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
  /** The checksum format 3 takes (XXH64 in WebAssembly), and the one format 2 took (zlib's CRC-32). */
  xxh64: number;
  crc32: number;
  /** null where O_DIRECT can't be had (not Linux, or a file system without it). */
  directWrite: number | null;
  /** Wall-clock seconds of those direct writes: the device's own write speed, which the recorder's writes share. */
  directWriteWall: number | null;
}

/** Size of the floor's write buffers, as the recorder's. */
const FLOOR_BLOCK = 4 * MiB;

/** A new file opened for direct writes (O_DIRECT), or null where it can't be. */
function openDirect(file: string): number | null {
  if (fs.constants.O_DIRECT === undefined) return null;
  try {
    return fs.openSync(
      file,
      fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_DIRECT,
    );
  } catch {
    return null;
  }
}

/**
 * The least the recorder's design does, on one thread, with nothing else: copies each chunk into shared memory that
 * keeps the latest 32 MiB (the recorder's window), and every 4 MiB takes the checksum of each chunk copied (XXH64,
 * and CRC-32 to compare) and writes them around the page cache (O_DIRECT, from aligned memory). Each part's CPU
 * time is counted on its own.
 */
function floorRun(file: string, chunks: [Uint8Array, Uint8Array], count: number): Floor {
  const size = chunks[0].byteLength;
  const memory = alignedSharedMemory(32 * MiB);
  const ring = Buffer.from(memory.buffer);
  const xxh64 = new Xxh64(memory);
  const fd = openDirect(file);
  const floor: Floor = {
    memcpy: 0,
    xxh64: 0,
    crc32: 0,
    directWrite: fd === null ? null : 0,
    directWriteWall: fd === null ? null : 0,
  };
  let sums = 0;
  let block = 0;
  let used = 0;
  const writeBlock = (): void => {
    const at = block * FLOOR_BLOCK;
    let cpu = process.cpuUsage();
    for (let p = at; p < at + used; p += size) sums ^= xxh64.hash(p, size);
    floor.xxh64 += cpuSince(cpu);
    cpu = process.cpuUsage();
    for (let p = at; p < at + used; p += size) sums ^= zlib.crc32(ring.subarray(p, p + size));
    floor.crc32 += cpuSince(cpu);
    cpu = process.cpuUsage();
    const wall = performance.now();
    if (fd !== null) fs.writeSync(fd, ring, at, Math.ceil(used / 4096) * 4096);
    if (floor.directWrite !== null) floor.directWrite += cpuSince(cpu);
    if (floor.directWriteWall !== null) floor.directWriteWall += (performance.now() - wall) / 1000;
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
      copyIntoShared(ring, chunks[i & 1], block * FLOOR_BLOCK + used);
      used += size;
    }
    floor.memcpy += cpuSince(cpu);
    writeBlock();
  } finally {
    if (fd !== null) fs.closeSync(fd);
    fs.rmSync(file, { force: true });
  }
  if (sums === 0.5) console.log(sums); // keeps the checksums from being optimized away
  return floor;
}

/**
 * The design that copies nothing, at its least, on one thread: each chunk's record head, the chunk itself and its
 * CRC-32 (over the head and the chunk where it is: zlib takes a running value) go to the file with writev, 64
 * chunks at a time, through the page cache (the chunk's memory isn't aligned, so no direct write). CPU seconds of the
 * process; the kernel's writeback of the dirty pages comes later, on its own threads, and isn't counted.
 */
function noCopyRun(file: string, chunks: [Uint8Array, Uint8Array], count: number): number {
  const fd = fs.openSync(file, "ax");
  const head = Buffer.alloc(RECORD_HEAD);
  const cpu = process.cpuUsage();
  try {
    let pending: Uint8Array[] = [];
    for (let i = 0; i < count; i += 1) {
      const crc = Buffer.allocUnsafe(4);
      crc.writeUInt32LE(zlib.crc32(chunks[i & 1], zlib.crc32(head.subarray(4))));
      pending.push(head, chunks[i & 1], crc);
      if (pending.length >= 3 * 64) {
        fs.writevSync(fd, pending);
        pending = [];
      }
    }
    if (pending.length > 0) fs.writevSync(fd, pending);
    return cpuSince(cpu);
  } finally {
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
  }
}

function range(values: number[], digits = 2): string {
  return `${fmt(median(values), digits)} (${fmt(Math.min(...values), digits)}-${fmt(Math.max(...values), digits)})`;
}

/** The goals at 64 KiB chunks: the recorder's appends at this share of fs.writeSync's rate, CPU at most this. */
const GOAL_RATE_PERCENT = 50;
const GOAL_NS_PER_BYTE = 0.4;

async function throughput(dir: string): Promise<void> {
  console.log(
    `2. append throughput (recorder: number, encode and copy into the writer's batch, where the window reads it; ` +
      `checksum and write on the capture thread), ${ROUNDS} rounds alternating with the baseline: median (min-max)`,
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
    const noCopy: number[] = [];
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
      noCopy.push(noCopyRun(file, chunks, count));
    }
    const mbps = (seconds: number[]): string =>
      range(
        seconds.map((x) => bytes / 1e6 / x),
        0,
      );
    const perByte = (seconds: number[]): number[] => seconds.map((x) => (x * 1e9) / bytes);
    const ns = (seconds: number[]): string => range(perByte(seconds), 3);
    const goals = label === "64 KiB";
    const verdict = (met: boolean): string => (goals ? (met ? ": met" : ": NOT met") : "");
    const rateGoal = goals ? ` (goal >= ${GOAL_RATE_PERCENT}%${verdict(median(ratios) >= GOAL_RATE_PERCENT)})` : "";
    console.log(
      `   ${label.padEnd(6)} chunks: ${fmt(count / median(runs.map((r) => r.seconds)) / 1e3)} k events/s, ` +
        `${mbps(runs.map((r) => r.seconds))} MB/s; fs.writeSync baseline ${mbps(baselines)} MB/s; recorder at ` +
        `${range(ratios, 0)}% of it${rateGoal}; event loop held ${mbps(runs.map((r) => r.loopSeconds))} MB/s`,
    );
    if (floors.every((f) => f.directWriteWall !== null)) {
      const direct = floors.map((f) => f.directWriteWall!);
      const ofDirect = runs.map((r, i) => (direct[i]! / r.seconds) * 100);
      console.log(
        `          direct writes of the same bytes (O_DIRECT, the device's own speed, which the recorder's writes ` +
          `share) ${mbps(direct)} MB/s; recorder at ${range(ofDirect, 0)}% of it`,
      );
    }
    const total = (f: Floor): number => f.memcpy + f.xxh64 + (f.directWrite ?? 0);
    const overFloor = runs.map((r, i) => r.cpuSeconds / total(floors[i]!));
    const parts = [
      `memcpy ${ns(floors.map((f) => f.memcpy))}`,
      `XXH64 ${ns(floors.map((f) => f.xxh64))} (CRC-32, format 2's, ${ns(floors.map((f) => f.crc32))})`,
      floors.every((f) => f.directWrite !== null)
        ? `direct write ${ns(floors.map((f) => f.directWrite ?? 0))}`
        : "no direct write (no O_DIRECT here)",
    ];
    const cpu = median(perByte(runs.map((r) => r.cpuSeconds)));
    const mainThread = runs.every((r) => r.mainCpuSeconds !== null)
      ? `, of it the event loop's ${ns(runs.map((r) => r.mainCpuSeconds ?? 0))}`
      : "";
    console.log(
      `          recording's CPU (every thread) ${ns(runs.map((r) => r.cpuSeconds))} ns/B${mainThread}` +
        `${goals ? ` (goal <= ${GOAL_NS_PER_BYTE}${verdict(cpu <= GOAL_NS_PER_BYTE)})` : ""}, ` +
        `${range(overFloor, 2)}x its floor ${ns(floors.map(total))} ns/B = ${parts.join(" + ")}`,
    );
    console.log(
      `          the design that copies nothing (CRC-32 of each chunk in place, writev of the chunks through the ` +
        `page cache): ${ns(noCopy)} ns/B, writeback not counted`,
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
    `   reopened (scan + checksum of the whole file: ${fmt(openMs, 0)} ms): start ${await readTime(reopened, at.start)},` +
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
