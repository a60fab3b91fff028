/**
 * The recorder on a real disk: what was appended reads back exactly, wherever the window boundary falls; a reopened
 * capture continues; a killed process loses at most the last second; a full disk doesn't stop the session.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Clock } from "../../core/task.ts";
import type { NewTimelineEvent, TimelineEvent } from "../../preload/timeline.ts";
import { CaptureError, LIFECYCLE_EVENTS, LOG_LEVELS } from "./capture-format.ts";
import { ChangeNotifier, type SessionChange } from "./notifier.ts";
import { engineTimeOrigin, monotonicMicros, READ_MAX_BYTES, Recorder } from "./recorder.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const RECORDER_URL = new URL("./recorder.ts", import.meta.url).href;

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "wirescope-recorder-"));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const conn = fc.nat(20);
// Fields are JSON-safe by contract: normalize what fast-check makes (null prototypes, -0) the way JSON does.
const jsonFields = fc
  .dictionary(fc.string(), fc.jsonValue())
  .map((f) => JSON.parse(JSON.stringify(f)) as Record<string, unknown>);
const newEvent: fc.Arbitrary<NewTimelineEvent> = fc.oneof(
  fc.record({
    kind: fc.constant("data" as const),
    dir: fc.constantFrom("in" as const, "out" as const),
    conn,
    t: fc.constant(0),
    data: fc.uint8Array({ maxLength: 400 }),
    // A process session's bytes carry the child's fd; a socket's none.
    fd: fc.option(fc.nat(2), { nil: undefined }),
  }),
  fc.record({
    kind: fc.constant("lifecycle" as const),
    event: fc.constantFrom(...LIFECYCLE_EVENTS),
    conn,
    t: fc.constant(0),
    detail: fc.string(),
    fields: fc.option(jsonFields, { nil: undefined }),
  }),
  fc.record({
    kind: fc.constant("log" as const),
    level: fc.constantFrom(...LOG_LEVELS),
    conn,
    t: fc.constant(0),
    text: fc.string({ unit: "binary" }),
    fields: jsonFields,
  }),
);

/** Events as strings, bytes as their length and SHA-1: compared much faster than element by element. */
const digests = (events: TimelineEvent[]): string[] =>
  events.map((e) =>
    JSON.stringify(
      e.kind === "data" ? { ...e, data: [e.data.byteLength, createHash("sha1").update(e.data).digest("hex")] } : e,
    ),
  );

/** Events 0 .. `count` - 1, read as a client does: again from where each read stopped (at READ_MAX_BYTES). */
async function readAll(recorder: Recorder, count: number): Promise<TimelineEvent[]> {
  const events: TimelineEvent[] = [];
  while (events.length < count) events.push(...(await recorder.read(events.length, count - events.length)));
  return events;
}

/** 256 KiB that differ from those of any other `i`. */
const distinctChunk = (i: number): Uint8Array => new Uint8Array(256 * 1024).map((_, j) => (i * 7 + j) % 251);

/** Expected result of read(from, count) over `all`, with the recorder's clamping. */
function slice(all: TimelineEvent[], from: number, count: number): TimelineEvent[] {
  const start = Math.max(0, Math.min(all.length, from));
  return all.slice(start, Math.max(start, Math.min(all.length, start + count)));
}

describe("Recorder", () => {
  it("reads back exactly what was appended, across the window/file boundary, before and after reopening", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(newEvent, { maxLength: 400, size: "max" }),
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 0, max: 8000 }),
        fc.array(fc.tuple(fc.integer({ min: -3, max: 420 }), fc.integer({ min: 0, max: 120 })), { maxLength: 8 }),
        async (events, windowEvents, windowBytes, reads) => {
          const file = path.join(dir, `p${run++}.wscap`);
          const recorder = await Recorder.create(file, { session: "p" }, { windowEvents, windowBytes });
          const appended: TimelineEvent[] = [];
          for (const [i, e] of events.entries()) {
            const recorded = recorder.append({ ...e, t: i * 10 });
            expect(recorded).toEqual({ ...e, t: i * 10, seq: i });
            appended.push(recorded);
            // Read while recording too, as the renderer does.
            if (i === Math.floor(events.length / 2)) {
              for (const [from, count] of reads) {
                expect(await recorder.read(from, count)).toEqual(slice(appended, from, count));
              }
            }
          }
          const { window } = recorder.stats();
          expect(window.events).toBeLessThanOrEqual(windowEvents);
          expect(window.bytes).toBeLessThanOrEqual(windowBytes);
          for (const [from, count] of reads) {
            expect(await recorder.read(from, count)).toEqual(slice(appended, from, count));
          }
          expect(await recorder.read(0, appended.length)).toEqual(appended);
          await recorder.close();

          const reopened = await Recorder.open(file, { windowEvents, windowBytes });
          expect(reopened.count).toBe(appended.length);
          expect(await reopened.read(0, appended.length)).toEqual(appended);
          await reopened.close();
          fs.rmSync(file);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("continues numbering, totals and the time axis when a closed capture is reopened", async () => {
    const file = path.join(dir, "reopen.wscap");
    const first = await Recorder.create(file, { session: "s1", kind: "client" });
    first.append({ kind: "lifecycle", event: "connected", conn: 1, t: monotonicMicros(), detail: "a -> b" });
    first.append({ kind: "data", dir: "out", conn: 1, t: monotonicMicros(), data: Buffer.from("PING\r\n") });
    first.append({ kind: "data", dir: "in", conn: 1, t: monotonicMicros(), data: Buffer.from("+PONG\r\n") });
    const before = first.stats();
    await first.close();

    const second = await Recorder.open(file);
    expect(second.meta).toEqual({ session: "s1", kind: "client", timeOrigin: engineTimeOrigin });
    expect(second.timeOffset).toBe(0); // same engine: same axis
    expect(second.stats()).toMatchObject({
      count: 3,
      bytesIn: 7,
      bytesOut: 6,
      firstT: before.firstT,
      lastT: before.lastT,
    });
    const next = second.append({ kind: "lifecycle", event: "lost", conn: 1, t: monotonicMicros(), detail: "done" });
    expect(next.seq).toBe(3);
    expect(next.t).toBeGreaterThanOrEqual(before.lastT!);
    expect((await second.read(0, 10)).map((e) => e.seq)).toEqual([0, 1, 2, 3]);
    await second.close();
  });

  it("shifts a capture from an earlier engine run onto its own time axis", async () => {
    const file = path.join(dir, "earlier.wscap");
    const recorder = await Recorder.create(file, { session: "old" });
    recorder.append({ kind: "lifecycle", event: "connected", conn: 1, t: monotonicMicros(), detail: "" });
    await recorder.close();
    // Pretend the capture was made by an engine that started 10 s before this one.
    const bytes = fs.readFileSync(file);
    const metaLength = bytes.readUInt32LE(12);
    const shifted = JSON.stringify({ session: "old", timeOrigin: engineTimeOrigin - 10_000 });
    const header = Buffer.alloc(16);
    bytes.copy(header, 0, 0, 16);
    header.writeUInt32LE(Buffer.byteLength(shifted), 12);
    fs.writeFileSync(file, Buffer.concat([header, Buffer.from(shifted), bytes.subarray(16 + metaLength)]));

    const reopened = await Recorder.open(file);
    expect(reopened.timeOffset).toBe(10_000_000);
    const now = monotonicMicros();
    const e = reopened.append({ kind: "lifecycle", event: "lost", conn: 1, t: now, detail: "" });
    expect(e.t).toBe(now + 10_000_000);
    await reopened.close();
  });

  it("cuts a torn tail when reopening, counts it as lost, and carries on", async () => {
    const file = path.join(dir, "torn.wscap");
    const recorder = await Recorder.create(file, { session: "t" });
    for (let i = 0; i < 10; i += 1) {
      recorder.append({ kind: "data", dir: "in", conn: 1, t: i, data: new Uint8Array(100).fill(i) });
    }
    await recorder.close();
    fs.truncateSync(file, fs.statSync(file).size - 7);
    fs.appendFileSync(file, "garbage!");

    const reopened = await Recorder.open(file);
    expect(reopened.count).toBe(9);
    expect(reopened.stats().lostBytes).toBe(132 - 7 + 8);
    reopened.append({ kind: "data", dir: "out", conn: 1, t: 100, data: new Uint8Array([1]) });
    await reopened.close();
    const again = await Recorder.open(file);
    expect(again.stats()).toMatchObject({ count: 10, lostBytes: 0, bytesIn: 900, bytesOut: 1 });
    expect((await again.read(8, 2)).map((e) => e.seq)).toEqual([8, 9]);
    await again.close();
  });

  it("refuses a file that isn't a capture, naming it", async () => {
    const file = path.join(dir, "notes.txt");
    fs.writeFileSync(file, "not a capture\n");
    const error: unknown = await Recorder.open(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CaptureError);
    expect(error).toMatchObject({ code: "not-a-capture", message: expect.stringContaining(file) });
  });

  it("keeps its window within both bounds however much is recorded, and reads older events from the file", async () => {
    const recorder = await Recorder.create(
      path.join(dir, "window.wscap"),
      {},
      { windowEvents: 100, windowBytes: 50_000 },
    );
    for (let i = 0; i < 20_000; i += 1) {
      recorder.append({ kind: "data", dir: "in", conn: 1, t: i, data: new Uint8Array(1000).fill(i & 0xff) });
      if (i === 40) expect(recorder.stats().window).toEqual({ from: 0, events: 41, bytes: 41 * 1032 });
    }
    const { window } = recorder.stats();
    expect(window.events).toBe(48); // 50,000 bytes / 1,032 per record
    expect(window.from + window.events).toBe(20_000);
    const early = await recorder.read(5, 2);
    expect(early.map((e) => [e.seq, e.kind === "data" && e.data[0]])).toEqual([
      [5, 5],
      [6, 6],
    ]);
    await recorder.close();
  });

  it("returns fewer events than asked rather than more than READ_MAX_BYTES of data", async () => {
    const recorder = await Recorder.create(path.join(dir, "big.wscap"), {});
    const chunk = new Uint8Array(READ_MAX_BYTES / 4);
    for (let i = 0; i < 6; i += 1) recorder.append({ kind: "data", dir: "in", conn: 1, t: i, data: chunk });
    expect((await recorder.read(0, 6)).map((e) => e.seq)).toEqual([0, 1, 2, 3]);
    expect((await recorder.read(4, 6)).map((e) => e.seq)).toEqual([4, 5]);
    await recorder.close();
  });

  it("keeps a forwarded chunk once: both directions read back the same bytes, in memory, from the file and reopened", async () => {
    const file = path.join(dir, "forwarded.wscap");
    const recorder = await Recorder.create(file, {}, { windowEvents: 2 });
    const chunks = [0, 1, 2].map((i) => new Uint8Array(64 * 1024).fill(0x41 + i));
    const expected: [number, string, string][] = [];
    for (const [i, chunk] of chunks.entries()) {
      // A proxy: received on one leg, written as it is on the other.
      recorder.append({ kind: "data", dir: "in", conn: 1, t: i, data: chunk });
      recorder.append({ kind: "log", level: "info", conn: 1, t: i, text: "between", fields: {} });
      recorder.append({ kind: "data", dir: "out", conn: 2, t: i, data: chunk });
      expected.push([1, "in", String.fromCharCode(0x41 + i)], [2, "out", String.fromCharCode(0x41 + i)]);
    }
    const dataOf = (events: TimelineEvent[]) =>
      events.flatMap((e) =>
        e.kind === "data" && e.data.every((b) => b === e.data[0]) && e.data.byteLength === 64 * 1024
          ? [[e.conn, e.dir, String.fromCharCode(e.data[0]!)]]
          : e.kind === "data"
            ? [["damaged"]]
            : [],
      );
    expect(dataOf(await recorder.read(0, 9))).toEqual(expected); // 7 from the file, 2 from the window
    expect(dataOf(await recorder.read(2, 1))).toEqual([expected[1]]); // its first copy is before the range read
    await recorder.close();
    // Three chunks' bytes in the file, not six.
    expect(fs.statSync(file).size).toBeLessThan(4 * 64 * 1024);
    const reopened = await Recorder.open(file, { windowEvents: 1 });
    expect(reopened.stats()).toMatchObject({ count: 9, bytesIn: 3 * 64 * 1024, bytesOut: 3 * 64 * 1024 });
    expect(dataOf(await reopened.read(0, 9))).toEqual(expected);
    expect(dataOf(await reopened.read(5, 4))).toEqual(expected.slice(3));
    await reopened.close();
  });

  it("reads the window's chunks intact while the capture writer reuses the buffers it encoded them in", async () => {
    const file = path.join(dir, "reuse.wscap");
    const recorder = await Recorder.create(file, {}, { windowEvents: 1000 });
    const appended: TimelineEvent[] = [];
    // 24 MiB through the writer's 4 MiB buffers, each written soon after (the flushes): all of it in the window.
    for (let i = 0; i < 96; i += 1) {
      appended.push(recorder.append({ kind: "data", dir: "in", conn: 1, t: i, data: distinctChunk(i) }));
      if (i % 4 === 3) await recorder.flush();
    }
    expect(recorder.stats().window).toMatchObject({ from: 0, events: 96 });
    expect(digests(await readAll(recorder, 96))).toEqual(digests(appended));
    await recorder.close();
  });

  it("reads a chunk forwarded long after it was received intact, in the window and from the file", async () => {
    const file = path.join(dir, "forwarded-late.wscap");
    const recorder = await Recorder.create(file, {}, { windowEvents: 3 });
    const text = "x".repeat(60 * 1024);
    let received = distinctChunk(0);
    const appended = [recorder.append({ kind: "data", dir: "in", conn: 1, t: 0, data: received })];
    // Between receiving a chunk and forwarding it, 9 MiB of log events go through the writer's 4 MiB buffers: the
    // one that held the chunk is written, leaves the window and is reused.
    for (let i = 1; i <= 450; i += 1) {
      appended.push(recorder.append({ kind: "log", level: "info", conn: 1, t: i, text, fields: {} }));
      if (i % 10 === 0) await recorder.flush();
      if (i % 150 === 0) {
        appended.push(recorder.append({ kind: "data", dir: "out", conn: 2, t: i, data: received }));
        expect(digests(await recorder.read(appended.length - 1, 1))).toEqual(digests(appended.slice(-1)));
        received = distinctChunk(i);
        appended.push(recorder.append({ kind: "data", dir: "in", conn: 1, t: i, data: received }));
      }
    }
    expect(digests(await recorder.read(0, appended.length))).toEqual(digests(appended));
    await recorder.close();
    const reopened = await Recorder.open(file);
    expect(digests(await reopened.read(0, appended.length))).toEqual(digests(appended));
    await reopened.close();
  });

  it("touches its notifier on every append", async () => {
    const clock = new Clock();
    const batches: SessionChange[][] = [];
    const notifier = new ChangeNotifier(50, (b) => batches.push(b), clock);
    const recorder = await Recorder.create(path.join(dir, "n.wscap"), {}, { changes: { notifier, session: "s7" } });
    for (let i = 0; i < 1000; i += 1)
      recorder.append({ kind: "log", level: "info", conn: 0, t: i, text: "x", fields: {} });
    clock.advance(0);
    expect(batches).toEqual([[{ session: "s7", count: 1000 }]]);
    await recorder.close();
  });

  it("rejects use after close", async () => {
    const recorder = await Recorder.create(path.join(dir, "closed.wscap"), {});
    await recorder.close();
    await recorder.close();
    expect(() => recorder.append({ kind: "lifecycle", event: "closed", conn: 0, t: 0, detail: "" })).toThrow(/closed/);
    await expect(recorder.read(0, 1)).rejects.toMatchObject({ code: "closed" });
  });
});

describe("monotonicMicros", () => {
  it("counts whole microseconds, never backwards, in step with real time", async () => {
    const a = monotonicMicros();
    await new Promise((r) => setTimeout(r, 30));
    const b = monotonicMicros();
    expect(Number.isInteger(a)).toBe(true);
    expect(b - a).toBeGreaterThanOrEqual(29_000);
    expect(b - a).toBeLessThan(2_000_000);
    expect(Math.abs(engineTimeOrigin + b / 1000 - Date.now())).toBeLessThan(50);
  });
});

// --- real processes -------------------------------------------------------------------------------------------

/** Runs `source` (an ES module that may import RECORDER_URL) under node --import tsx. */
function runScript(
  source: string,
  args: string[],
  options: { shell?: string } = {},
): { child: ReturnType<typeof spawn>; lines: { at: number; text: string }[]; exited: Promise<number | null> } {
  const script = path.join(dir, `child-${Math.random().toString(36).slice(2)}.mjs`);
  fs.writeFileSync(script, source);
  const node = [process.execPath, "--import", "tsx", script, ...args];
  const child = options.shell
    ? spawn("bash", ["-c", `${options.shell}; exec "$@"`, "bash", ...node], { cwd: ROOT })
    : spawn(node[0]!, node.slice(1), { cwd: ROOT });
  const lines: { at: number; text: string }[] = [];
  let partial = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    const parts = (partial + chunk).split("\n");
    partial = parts.pop()!;
    for (const text of parts) lines.push({ at: performance.now(), text });
  });
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) =>
    child.on("exit", (code) => {
      if (code !== 0 && code !== null) process.stderr.write(stderr);
      resolve(code);
    }),
  );
  return { child, lines, exited };
}

describe("a killed process", () => {
  it("loses at most the last second: every event appended 1.5 s before SIGKILL is in the capture", async () => {
    const file = path.join(dir, "crash.wscap");
    const { child, lines, exited } = runScript(
      `import { Recorder, monotonicMicros } from ${JSON.stringify(RECORDER_URL)};
       const eventFor = ${childEvent.toString()};
       const recorder = await Recorder.create(process.argv[2], { session: "crash" });
       // Traffic as sockets bring it: bursts on every turn of the event loop.
       const burst = () => {
         for (let k = 0; k < 20; k++) recorder.append(eventFor(recorder.count, monotonicMicros()));
         setTimeout(burst, 1);
       };
       burst();
       setInterval(() => process.stdout.write(recorder.count + "\\n"), 20);`,
      [file],
    );
    while (lines.length === 0) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 2500));
    const killedAt = performance.now();
    child.kill("SIGKILL");
    await exited;

    // Every event counted in a progress line printed 1.5 s before the kill must be there.
    const safe = lines.filter((l) => l.at <= killedAt - 1500).map((l) => Number(l.text));
    const mustHave = Math.max(...safe);
    const printed = Math.max(...lines.map((l) => Number(l.text)));
    expect(mustHave).toBeGreaterThan(1000);

    const recorder = await Recorder.open(file);
    const recovered = recorder.count;
    expect(recovered).toBeGreaterThanOrEqual(mustHave);
    // And in practice much more: all but the last few hundred ms.
    expect(recovered).toBeGreaterThanOrEqual(printed - 20 * 1000);
    for (let from = 0; from < recovered; from += 500) {
      for (const e of await recorder.read(from, 500)) expectChildEvent(e);
    }
    const next = recorder.append({ kind: "lifecycle", event: "closed", conn: 0, t: monotonicMicros(), detail: "" });
    expect(next.seq).toBe(recovered);
    await recorder.close();
  });

  it("a full disk: the session carries on in memory, and says why the file stopped", async () => {
    const file = path.join(dir, "full.wscap");
    const { lines, exited } = runScript(
      `import { Recorder } from ${JSON.stringify(RECORDER_URL)};
       process.on("SIGXFSZ", () => {}); // ulimit -f: writes past it fail with EFBIG instead of killing us
       const recorder = await Recorder.create(process.argv[2], { session: "full" }, { windowEvents: 100 });
       for (let i = 0; i < 400; i++) recorder.append({ kind: "data", dir: "in", conn: 1, t: i, data: new Uint8Array(1024).fill(i & 0xff) });
       let flushed = "flushed";
       try { await recorder.flush(); } catch (e) { flushed = e.code; }
       const recent = await recorder.read(390, 10);
       const old = await recorder.read(0, 1).then(() => "read", (e) => e.code);
       console.log(JSON.stringify({ count: recorder.count, flushed, error: recorder.stats().error, recent: recent.map((e) => e.data[0]), old }));
       await recorder.close();`,
      [file],
      { shell: "ulimit -f 64" }, // 64 KiB
    );
    expect(await exited).toBe(0);
    const result = JSON.parse(lines[0]!.text) as Record<string, unknown>;
    expect(result).toMatchObject({
      count: 400,
      flushed: "write-failed",
      error: expect.stringMatching(/EFBIG/),
      recent: [134, 135, 136, 137, 138, 139, 140, 141, 142, 143], // (390 .. 399) & 0xff, from memory
      old: "write-failed",
    });
  });
});

/** Event `n` of the crash child (its source is sent to the child: self-contained, no types at run time). */
function childEvent(n: number, t: number): NewTimelineEvent {
  if (n % 10 === 9) return { kind: "log", level: "info", conn: 0, t, text: "event " + n, fields: { n } };
  const data = new Uint8Array((n * 7919) % 4096).fill(n & 0xff);
  return { kind: "data", dir: n % 2 ? "in" : "out", conn: 1 + (n % 3), t, data };
}

/** Checks that a recovered event is, byte for byte, the one the child appended with that seq. */
function expectChildEvent(e: TimelineEvent): void {
  const expected = { ...childEvent(e.seq, e.t), seq: e.seq };
  if (e.kind !== "data" || expected.kind !== "data") {
    expect(e).toEqual(expected);
    return;
  }
  const { data, ...rest } = e;
  const { data: expectedData, ...expectedRest } = expected;
  expect(rest).toEqual(expectedRest);
  expect(Buffer.from(data).equals(expectedData)).toBe(true);
}
