/**
 * The capture writer on a real disk, through the real capture thread: its queue stays bounded when the event loop
 * never turns, close() writes what is in flight, reads see a consistent prefix while batches are on their way, a
 * chunk appended again is stored once, and captures of older formats are continued in their own.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { TimelineEvent } from "../../preload/timeline.ts";
import { checksumKind, checksumOf } from "./capture-checksum.ts";
import { CAPTURE_VERSION, RECORD_OVERHEAD } from "./capture-format.ts";
import { CaptureReader } from "./capture-reader.ts";
import { CaptureWriter, DATA_AGAIN_MIN_BYTES, FLUSH_BYTES } from "./capture-writer.ts";
import { Recorder } from "./recorder.ts";
import { rewriteAsVersion } from "./test-helpers.ts";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "wirescope-writer-"));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const meta = { timeOrigin: 1_700_000_000_000, session: "w" };
const KiB = 1024;

/** Data event `seq`: 64 KiB (or `size`) of bytes that say which event they belong to. */
function chunk(seq: number, size = 64 * KiB): TimelineEvent {
  const data = new Uint8Array(size).fill(seq & 0xff);
  return { seq, t: seq, conn: 1 + (seq % 2), kind: "data", dir: seq % 2 ? "in" : "out", data };
}

/** Whether `e` is, byte for byte, what chunk(e.seq, size) appended. */
function isChunk(e: TimelineEvent, size = 64 * KiB): boolean {
  return e.kind === "data" && e.data.byteLength === size && e.data.every((b) => b === (e.seq & 0xff));
}

describe("CaptureWriter", () => {
  it("bounds its queue when the event loop never turns: appends wait for the disk, and everything lands", async () => {
    const file = path.join(dir, "bounded.wscap");
    const maxQueuedBytes = 3 * FLUSH_BYTES;
    const writer = await CaptureWriter.create(file, meta, { maxQueuedBytes });
    let peak = 0;
    let committedMeanwhile = 0;
    // 64 MiB in one synchronous loop: no acknowledgement can arrive through the event loop.
    for (let seq = 0; seq < 1024; seq += 1) {
      writer.append(chunk(seq));
      peak = Math.max(peak, writer.queued);
      committedMeanwhile = writer.index.count;
    }
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(maxQueuedBytes);
    // Written while the loop ran: all but what the queue and the batch being filled can hold.
    expect(committedMeanwhile).toBeGreaterThanOrEqual(1024 - (maxQueuedBytes + FLUSH_BYTES) / (64 * KiB));
    await writer.close();
    const reader = await CaptureReader.open(file);
    expect(reader.count).toBe(1024);
    expect(reader.lostBytes).toBe(0);
    const events = await reader.read(1000, 24);
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 24 }, (_, i) => 1000 + i));
    expect(events.every((e) => isChunk(e))).toBe(true);
    await reader.close();
  });

  it("waits for a batch queued longer than maxQueuedMs before handing over the next one", async () => {
    const file = path.join(dir, "aged.wscap");
    // 0 ms: any batch still queued is too old, so each hand-over first waits for the one before.
    const writer = await CaptureWriter.create(file, meta, { maxQueuedMs: 0 });
    const perBatch = FLUSH_BYTES / (64 * KiB);
    let lag = 0;
    for (let seq = 0; seq < 8 * perBatch; seq += 1) {
      writer.append(chunk(seq));
      lag = Math.max(lag, writer.count - writer.index.count);
    }
    // Never more than the batch being filled and the one just handed over.
    expect(lag).toBeLessThanOrEqual(2 * perBatch);
    await writer.close();
    const reader = await CaptureReader.open(file);
    expect(reader.count).toBe(8 * perBatch);
    await reader.close();
  });

  it("close() writes the batches in flight and the one being filled, and refuses appends from the moment it is called", async () => {
    const file = path.join(dir, "closing.wscap");
    const writer = await CaptureWriter.create(file, meta);
    const count = Math.ceil((2.5 * FLUSH_BYTES) / (40 * KiB)); // several batches, the last partial
    for (let seq = 0; seq < count; seq += 1) writer.append(chunk(seq, 40 * KiB));
    expect(writer.queued).toBeGreaterThan(0);
    const closing = writer.close();
    expect(() => writer.append(chunk(count))).toThrow(/closed/);
    await closing;
    await writer.close(); // idempotent
    expect(fs.statSync(file).size).toBe(writer.size);
    const reader = await CaptureReader.open(file);
    expect(reader.count).toBe(count);
    expect((await reader.read(0, count)).every((e) => isChunk(e, 40 * KiB))).toBe(true);
    await reader.close();
  });

  it("lets a following reader see a consistent prefix while batches are in flight, and all of it once written", async () => {
    const file = path.join(dir, "inflight.wscap");
    const writer = await CaptureWriter.create(file, meta);
    const reader = await CaptureReader.follow(writer);
    for (let seq = 0; seq < 200; seq += 1) writer.append(chunk(seq, 20 * KiB));
    const reads = [reader.read(0, 200), reader.read(50, 200)];
    const flushed = writer.flush();
    reads.push(reader.read(0, 200));
    for (const events of await Promise.all(reads)) {
      // Whatever was written when the read started: whole records, numbered on from where it asked.
      expect(events.every((e) => isChunk(e, 20 * KiB))).toBe(true);
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => (events[0]?.seq ?? 0) + i));
    }
    await flushed;
    expect((await reader.read(0, 200)).map((e) => e.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    await writer.close();
    await reader.close();
  });

  it("stores a chunk appended again once, as a 12-byte reference, from DATA_AGAIN_MIN_BYTES", async () => {
    const file = path.join(dir, "again.wscap");
    const writer = await CaptureWriter.create(file, meta);
    const big = new Uint8Array(10 * KiB).fill(7);
    const small = new Uint8Array(DATA_AGAIN_MIN_BYTES - 1).fill(8);
    const sizes = [
      writer.append({ seq: 0, t: 0, conn: 1, kind: "data", dir: "in", data: big }),
      writer.append({ seq: 1, t: 1, conn: 2, kind: "data", dir: "out", data: big }),
      writer.append({ seq: 2, t: 2, conn: 1, kind: "data", dir: "in", data: small }),
      writer.append({ seq: 3, t: 3, conn: 2, kind: "data", dir: "out", data: small }),
      writer.append({ seq: 4, t: 4, conn: 2, kind: "data", dir: "out", data: big }), // not the last chunk stored
    ];
    expect(sizes).toEqual([
      RECORD_OVERHEAD + big.byteLength,
      RECORD_OVERHEAD + 12,
      RECORD_OVERHEAD + small.byteLength,
      RECORD_OVERHEAD + small.byteLength,
      RECORD_OVERHEAD + big.byteLength,
    ]);
    expect(writer.summary).toMatchObject({ bytesIn: big.byteLength + small.byteLength });
    await writer.close();
    const reader = await CaptureReader.open(file);
    expect(reader.version).toBe(CAPTURE_VERSION);
    expect(reader.summary).toMatchObject({ count: 5, bytesIn: 10 * KiB + 63, bytesOut: 20 * KiB + 63 });
    const events = await reader.read(0, 5);
    expect(events.map((e) => e.kind === "data" && [e.conn, e.dir, e.data.byteLength, e.data[0]])).toEqual([
      [1, "in", 10 * KiB, 7],
      [2, "out", 10 * KiB, 7],
      [1, "in", 63, 8],
      [2, "out", 63, 8],
      [2, "out", 10 * KiB, 7],
    ]);
    await reader.close();
  });

  it("continues a version 1 capture in version 1: no references, still readable by the version that made it", async () => {
    const file = path.join(dir, "v1.wscap");
    const first = await CaptureWriter.create(file, meta);
    first.append(chunk(0, 4 * KiB));
    await first.close();
    rewriteAsVersion(file, 1); // what Wirescope with format 1 wrote: the same records, with CRC-32

    const reader = await CaptureReader.open(file);
    expect(reader.version).toBe(1);
    const writer = await CaptureWriter.resume(reader);
    const again = chunk(1, 4 * KiB);
    writer.append(again);
    expect(writer.append({ ...again, seq: 2 })).toBe(RECORD_OVERHEAD + 4 * KiB); // stored again in full
    await writer.close();
    await reader.close();
    const reopened = await CaptureReader.open(file);
    expect(reopened.version).toBe(1);
    expect(reopened.count).toBe(3);
    expect(fs.statSync(file).size).toBe(reopened.index.firstRecord + 3 * (RECORD_OVERHEAD + 4 * KiB));
    await reopened.close();
  });

  it("continues a version 2 capture in version 2: CRC-32 records, references still made", async () => {
    const file = path.join(dir, "v2.wscap");
    const first = await CaptureWriter.create(file, meta);
    first.append(chunk(0, 4 * KiB));
    await first.close();
    rewriteAsVersion(file, 2);

    const reader = await CaptureReader.open(file);
    expect(reader.version).toBe(2);
    const writer = await CaptureWriter.resume(reader);
    const again = chunk(1, 4 * KiB);
    writer.append(again);
    expect(writer.append({ ...again, seq: 2 })).toBe(RECORD_OVERHEAD + 12); // a reference, as version 2 has them
    await writer.close();
    await reader.close();
    const before = fs.readFileSync(file);
    rewriteAsVersion(file, 2); // recomputes every CRC-32: the writer wrote the same ones
    expect(fs.readFileSync(file).equals(before)).toBe(true);
    const reopened = await CaptureReader.open(file);
    expect(reopened.version).toBe(2);
    expect(reopened.lostBytes).toBe(0);
    const events = await reopened.read(0, 3);
    expect(events.map((e) => e.kind === "data" && [e.data.byteLength, e.data[0]])).toEqual([
      [4 * KiB, 0],
      [4 * KiB, 1],
      [4 * KiB, 1],
    ]);
    await reopened.close();
  });

  it("a reference to a record that isn't data reads as corrupt", async () => {
    const file = path.join(dir, "bad-ref.wscap");
    const writer = await CaptureWriter.create(file, meta);
    writer.append({ seq: 0, t: 0, conn: 1, kind: "lifecycle", event: "connected", detail: "" });
    await writer.close();
    // A well-formed "data again" record (checksum and all) naming record 0.
    const record = Buffer.alloc(RECORD_OVERHEAD + 12);
    record.writeUInt32LE(24 + 12 + 4, 0);
    record[4] = 4;
    record.writeUInt32LE(1, 8);
    record.writeDoubleLE(1, 12);
    record.writeUInt32LE(100, 28 + 8);
    record.writeUInt32LE(checksumOf(checksumKind(CAPTURE_VERSION), record.subarray(4, 28 + 12)), 28 + 12);
    fs.appendFileSync(file, record);
    const reader = await CaptureReader.open(file);
    expect(reader.count).toBe(2);
    await expect(reader.read(1, 1)).rejects.toMatchObject({ code: "corrupt" });
    await reader.close();
  });
});

describe("Recorder over the capture thread", () => {
  it("a read of events still on their way to the file waits for them", async () => {
    const recorder = await Recorder.create(path.join(dir, "wait.wscap"), {}, { windowEvents: 1 });
    for (let i = 0; i < 50; i += 1) {
      recorder.append({ kind: "data", dir: "in", conn: 1, t: i, data: new Uint8Array(100).fill(i) });
    }
    const events = await recorder.read(0, 50); // nothing written yet: 49 come from the file
    expect(events.map((e) => e.kind === "data" && e.data[99])).toEqual(Array.from({ length: 50 }, (_, i) => i));
    await recorder.close();
  });
});

describe("direct writes (around the page cache)", () => {
  /** Appends `n` chunks of odd sizes (so batches end mid-block) and hands them to the thread, without closing. */
  async function liveCapture(file: string, n: number): Promise<CaptureWriter> {
    const writer = await CaptureWriter.create(file, meta);
    for (let seq = 0; seq < n; seq += 1) {
      writer.append(chunk(seq, 1000 + seq * 37));
      if (seq % 7 === 6) await writer.flush(); // several writes, each ending inside a block
    }
    await writer.flush();
    return writer;
  }

  it("leave at most zero padding past the last record while writing, and none once closed", async () => {
    const file = path.join(dir, "padded.wscap");
    const writer = await liveCapture(file, 40);
    const size = fs.statSync(file).size;
    expect(size).toBeGreaterThanOrEqual(writer.index.end);
    expect(size - writer.index.end).toBeLessThan(4096);
    expect(
      fs
        .readFileSync(file)
        .subarray(writer.index.end)
        .every((b) => b === 0),
    ).toBe(true);
    const reader = await CaptureReader.open(file);
    expect(reader.lostBytes).toBe(0);
    const events = await reader.read(0, 100);
    expect(events).toHaveLength(40);
    expect(events.every((e) => isChunk(e, 1000 + e.seq * 37))).toBe(true);
    await reader.close();
    await writer.close();
    expect(fs.statSync(file).size).toBe(writer.index.end);
  });

  it("leave a capture that a killed process left behind readable, and continued with no gap", async () => {
    const file = path.join(dir, "live.wscap");
    const writer = await liveCapture(file, 30);
    // What a killed process leaves: the file as it is now, padding and all.
    const left = path.join(dir, "left.wscap");
    fs.copyFileSync(file, left);
    await writer.close();

    const recorder = await Recorder.open(left);
    expect(recorder.stats().lostBytes).toBe(0);
    expect(recorder.count).toBe(30);
    recorder.append({ t: 1_000_000, conn: 1, kind: "data", dir: "in", data: new Uint8Array(5000).fill(7) });
    await recorder.close();
    const reader = await CaptureReader.open(left);
    expect(reader.lostBytes).toBe(0);
    const events = await reader.read(0, 100);
    expect(events).toHaveLength(31);
    expect(events.slice(0, 30).every((e) => isChunk(e, 1000 + e.seq * 37))).toBe(true);
    expect(events[30]).toMatchObject({ seq: 30, kind: "data", data: new Uint8Array(5000).fill(7) });
    await reader.close();
  });

  it("write through the page cache when told to (WIRESCOPE_CAPTURE_DIRECT=0), as where O_DIRECT can't be had", async () => {
    process.env.WIRESCOPE_CAPTURE_DIRECT = "0";
    try {
      const file = path.join(dir, "buffered.wscap");
      const writer = await liveCapture(file, 20);
      expect(fs.statSync(file).size).toBe(writer.index.end); // buffered: no padding, ever
      await writer.close();
      const reader = await CaptureReader.open(file);
      expect(reader.count).toBe(20);
      expect((await reader.read(0, 20)).every((e) => isChunk(e, 1000 + e.seq * 37))).toBe(true);
      await reader.close();
    } finally {
      delete process.env.WIRESCOPE_CAPTURE_DIRECT;
    }
  });
});
