/**
 * Search figures (not pass/fail): `npx tsx tests/bench/search.ts`. Records a capture of SEARCH_BENCH_EVENTS events
 * (default 10,000,000: about 2 GB) through a Recorder, as a session does — 100 connections' chunks of ~200 B, a
 * decoded message (fields, spans, pair latency) every 5th event, "needle" in 1 chunk of 1,000, a 1,500 B chunk in 1
 * of 1,000, a DEL command in 1 message of 200, and one value of 1,000 chunks in a row — then measures, each beside
 * a baseline from the same run:
 *
 * 1. the first page (100 matches) of filters matching 1 event in 1,000: one the index's columns decide
 *    (`size > 1000`), a text search (`needle`) and a field predicate (`command == "DEL"`), through findTimeline
 *    called as the workbench calls it; baseline: the same page found by reading the events from the start and
 *    testing each, with no index (what a filter costs without one), and a plain sequential read of the whole file;
 * 2. the RSS of a fresh process that reopened the capture (Recorder.open: the index built reading it once) while it
 *    answers, beside its RSS before opening it; and the recording process's RSS and index, for comparison;
 * 3. locateSpans for the message spanning 1,000 chunks, and the same plus reading those chunks (what the hex view's
 *    highlight needs); baseline: reading the same 1,000 events by range.
 *
 * The answers are measured in that fresh process (this script again, with --answer). Everything goes to a temporary
 * directory that is removed at the end. A few minutes at full size; set
 * SEARCH_BENCH_EVENTS=1000000 for a quick run.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { setFlagsFromString } from "node:v8";
import { fileURLToPath } from "node:url";
import { runInNewContext } from "node:vm";
import { parseFilter } from "../../preload/filter-language.ts";
import type { NewTimelineEvent, TimelineEvent } from "../../preload/timeline.ts";
import { findTimeline } from "../../main/engine/find-timeline.ts";
import { locateSpans } from "../../main/engine/message-bytes.ts";
import { Recorder } from "../../main/recording/recorder.ts";

const EVENTS = Number(process.env.SEARCH_BENCH_EVENTS ?? 10_000_000);
const CONNS = 100;
const PAGE = 100;
const BIG_VALUE_CHUNKS = 1000;
const MiB = 1024 * 1024;

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

function fmt(n: number, digits = 1): string {
  return n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function rssMiB(): number {
  gc();
  return process.memoryUsage().rss / MiB;
}

/** Distinct chunks to cycle through (the same one twice in a row would be recorded as "data again"). */
const bodies = Array.from({ length: 16 }, (_, i) => Buffer.from(`+${"v".repeat(180 + i)} value ${i}\r\n`));
const needle = Buffer.from(`+here is the needle you look for ${"x".repeat(150)}\r\n`);
const large = Buffer.alloc(1500, 0x61);

/** Stream bytes so far per connection and direction: the spans of the messages. */
const streamBytes = new Map<string, number>();
function advance(conn: number, dir: "in" | "out", length: number): number {
  const key = `${conn}${dir}`;
  const offset = streamBytes.get(key) ?? 0;
  streamBytes.set(key, offset + length);
  return offset;
}

/** Event `i` of the bench's timeline (the 1,000-chunk value is appended separately, in the middle). */
function eventAt(i: number, t: number): NewTimelineEvent {
  const conn = 1 + (i % CONNS);
  if (i % 5 === 4) {
    const command = i % 1000 === 4 ? "DEL" : i % 2 === 0 ? "GET" : "SET";
    const offset = advance(conn, "out", 0);
    return {
      kind: "log",
      t,
      conn,
      level: "info",
      text: `${command} key:${i % 5000}`,
      fields: { command, key: `key:${i % 5000}`, args: [`key:${i % 5000}`, "value"] },
      spans: [{ dir: "out", offset: Math.max(0, offset - 30), length: 30 }],
      pair: { role: "response", request: i - 1, latency: 100 + (i % 997) * 7 },
    };
  }
  const data = i % 1000 === 500 ? needle : i % 1000 === 750 ? large : bodies[i % bodies.length]!;
  const dir = i % 2 === 0 ? "in" : "out";
  advance(conn, dir, data.byteLength);
  return { kind: "data", t, conn, dir, data };
}

async function record(
  recorder: Recorder,
): Promise<{ seconds: number; bigValue: { seq: number; span: [number, number] } }> {
  const started = performance.now();
  let t = 0;
  let bigValue: BigValue = { seq: -1, span: [0, 0] };
  for (let i = 0; recorder.count < EVENTS; i += 1) {
    t += 3;
    if (i === Math.floor(EVENTS / 2)) {
      const offset = streamBytes.get("1in") ?? 0;
      for (let c = 0; c < BIG_VALUE_CHUNKS; c += 1) {
        const data = bodies[c % bodies.length]!;
        recorder.append({ kind: "data", t, conn: 1, dir: "in", data });
        advance(1, "in", data.byteLength);
      }
      const length = (streamBytes.get("1in") ?? 0) - offset;
      const e = recorder.append({
        kind: "log",
        t,
        conn: 1,
        level: "info",
        text: "big value",
        fields: { command: "GET", key: "big" },
        spans: [{ dir: "in", offset, length }],
      });
      bigValue = { seq: e.seq, span: [offset, length] };
    }
    recorder.append(eventAt(i, t));
    if (i % 200_000 === 0) await recorder.flush();
  }
  await recorder.flush();
  return { seconds: (performance.now() - started) / 1000, bigValue };
}

/** Calls findTimeline as the workbench does until `PAGE` matches or the end: seconds, calls, matches. */
async function firstPage(
  recorder: Recorder,
  filter: string,
): Promise<{ seconds: number; calls: number; seqs: number[] }> {
  const parsed = parseFilter(filter);
  if (!parsed.ok) throw new Error(parsed.message);
  const started = performance.now();
  const seqs: number[] = [];
  let calls = 0;
  for (let from = 0; from !== -1 && seqs.length < PAGE; calls += 1) {
    const page = await findTimeline(recorder, { filter: parsed.filter, from, limit: PAGE - seqs.length });
    seqs.push(...page.seqs);
    from = page.next;
  }
  return { seconds: (performance.now() - started) / 1000, calls, seqs };
}

/** The baseline: the same page found by reading events from the start and testing each, no index. */
async function firstPageWithoutIndex(recorder: Recorder, test: (e: TimelineEvent) => boolean): Promise<number> {
  const started = performance.now();
  let found = 0;
  for (let from = 0; from < recorder.count && found < PAGE;) {
    const events = await recorder.read(from, 4096);
    for (const e of events) if (test(e) && ++found === PAGE) break;
    from += events.length;
  }
  return (performance.now() - started) / 1000;
}

async function sequentialRead(file: string): Promise<{ seconds: number; bytes: number }> {
  const started = performance.now();
  const handle = await fs.promises.open(file, "r");
  const buffer = Buffer.allocUnsafe(4 * MiB);
  let bytes = 0;
  for (let got = 1; got > 0; bytes += got) ({ bytesRead: got } = await handle.read(buffer, 0, buffer.length, bytes));
  await handle.close();
  return { seconds: (performance.now() - started) / 1000, bytes };
}

const latin1 = (e: TimelineEvent): string => (e.kind === "data" ? Buffer.from(e.data).toString("latin1") : "");

/** Where the 1,000-chunk value is: passed to the answering process. */
interface BigValue {
  seq: number;
  span: [number, number];
}

/** Records the capture in this process, then has a fresh one reopen it and answer. */
async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wirescope-search-bench-"));
  try {
    const rssBefore = rssMiB();
    const recorder = await Recorder.create(path.join(dir, "bench.wscap"), { kind: "client", name: "bench" });
    const recorded = await record(recorder);
    const fileBytes = recorder.stats().fileBytes;
    const rssRecording = rssMiB();
    const indexBytes = recorder.index.memoryBytes;
    await recorder.close();
    console.log(
      `capture: ${EVENTS.toLocaleString("en-US")} events, ${fmt(fileBytes / 1e9, 2)} GB, recorded in ` +
        `${fmt(recorded.seconds)} s (${fmt(EVENTS / recorded.seconds / 1e6, 2)} M events/s); the recording process's ` +
        `RSS at the end ${fmt(rssRecording, 0)} MiB (before: ${fmt(rssBefore, 0)} MiB), its index ${fmt(indexBytes / MiB, 0)} MiB`,
    );
    const child = spawnSync(
      process.execPath,
      [
        ...process.execArgv,
        fileURLToPath(import.meta.url),
        "--answer",
        recorder.file,
        JSON.stringify(recorded.bigValue),
      ],
      { stdio: "inherit" },
    );
    if (child.status !== 0) throw new Error(`the answering process failed (${child.status ?? child.signal})`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** In a fresh process (the engine reopening a capture): opens `file`, indexes it, answers, and says what it cost. */
async function answer(file: string, bigValue: BigValue): Promise<void> {
  const rssBefore = rssMiB();
  const plain = await sequentialRead(file);
  console.log(
    `baseline: plain sequential read of the whole file: ${fmt(plain.seconds, 2)} s (${fmt(plain.bytes / plain.seconds / 1e6, 0)} MB/s)`,
  );
  let started = performance.now();
  const recorder = await Recorder.open(file);
  const opened = (performance.now() - started) / 1000;
  console.log(
    `reopened in a fresh process (the index built reading the file once): ${fmt(opened, 1)} s, index ` +
      `${fmt(recorder.index.memoryBytes / MiB, 0)} MiB`,
  );
  let rssPeak = rssMiB();
  const filters: [string, string, (e: TimelineEvent) => boolean][] = [
    ["columns", "size > 1000", (e) => e.kind === "data" && e.data.byteLength > 1000],
    ["text", "needle", (e) => latin1(e).toLowerCase().includes("needle")],
    ["field", 'command == "DEL"', (e) => e.kind === "log" && e.spans !== undefined && e.fields.command === "DEL"],
  ];
  console.log(`first page (${PAGE} matches) of a filter matching 1 event in 1,000 (goal < 1 s; field < 3 s):`);
  for (const [what, filter, test] of filters) {
    const page = await firstPage(recorder, filter);
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss / MiB);
    const without = await firstPageWithoutIndex(recorder, test);
    console.log(
      `  ${what.padEnd(8)} ${filter.padEnd(18)} ${fmt(page.seconds * 1000, 0).padStart(6)} ms ` +
        `(${page.calls} calls, ${page.seqs.length} matches, last seq ${page.seqs.at(-1)})` +
        `   baseline, reading and testing every event: ${fmt(without * 1000, 0)} ms`,
    );
  }
  const whole = await firstPage(recorder, "size > 1000 && conn == 52");
  rssPeak = Math.max(rssPeak, process.memoryUsage().rss / MiB);
  console.log(
    `  columns, no match, to the end: "size > 1000 && conn == 52" over all ${EVENTS.toLocaleString("en-US")} events: ` +
      `${fmt(whole.seconds, 2)} s (${whole.calls} calls)   baseline: the plain read above`,
  );

  const spanned = { dir: "in" as const, offset: bigValue.span[0], length: bigValue.span[1] };
  const locateTimes: number[] = [];
  const highlightTimes: number[] = [];
  const rangeTimes: number[] = [];
  let pieces = 0;
  for (let round = 0; round < 5; round += 1) {
    started = performance.now();
    pieces = locateSpans(recorder, 1, [spanned]).length;
    locateTimes.push(performance.now() - started);
    started = performance.now();
    const again = locateSpans(recorder, 1, [spanned]);
    const [first, last] = [again[0]!.seq, again.at(-1)!.seq];
    for (let from = first; from <= last;) from += (await recorder.read(from, last - from + 1)).length;
    highlightTimes.push(performance.now() - started);
    started = performance.now();
    for (let from = first; from <= last;) from += (await recorder.read(from, last - from + 1)).length;
    rangeTimes.push(performance.now() - started);
  }
  rssPeak = Math.max(rssPeak, process.memoryUsage().rss / MiB);
  const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
  console.log(
    `locateSpans, a message spanning ${pieces} chunks (goal < 100 ms): ${fmt(median(locateTimes), 2)} ms; ` +
      `with reading those chunks: ${fmt(median(highlightTimes), 1)} ms   baseline, reading the chunks by range: ` +
      `${fmt(median(rangeTimes), 1)} ms`,
  );
  const rssNow = rssMiB();
  const usage = process.memoryUsage();
  console.log(
    `engine RSS while answering (goal < 300 MB): ${fmt(Math.max(rssPeak, rssNow), 0)} MiB peak, ${fmt(rssNow, 0)} MiB ` +
      `after gc (heap ${fmt(usage.heapUsed / MiB, 0)} MiB, array buffers ${fmt(usage.arrayBuffers / MiB, 0)} MiB)` +
      `   baseline, the same process before opening the capture: ${fmt(rssBefore, 0)} MiB`,
  );
  await recorder.close();
}

if (process.argv[2] === "--answer") await answer(process.argv[3]!, JSON.parse(process.argv[4]!) as BigValue);
else await main();
