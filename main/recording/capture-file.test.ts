/**
 * Capture files on a real disk: what is written reads back the same, a torn or garbled tail is ignored (and cut
 * when appending again), a file that isn't a capture is refused with its name in the message, captures of older
 * formats read as they were written.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { NewTimelineEvent, TimelineEvent } from "../../preload/timeline.ts";
import { CAPTURE_VERSION, CaptureError, LIFECYCLE_EVENTS, LOG_LEVELS, RECORD_OVERHEAD } from "./capture-format.ts";
import { CaptureReader } from "./capture-reader.ts";
import { CaptureWriter, FLUSH_BYTES, FLUSH_INTERVAL_MS } from "./capture-writer.ts";
import { rewriteAsVersion } from "./test-helpers.ts";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "wirescope-capture-"));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const meta = { timeOrigin: 1_700_000_000_000.5, session: "s1", target: "tcp:host=127.0.0.1:port=6379" };

/** One event of every kind, code and level, numbered from 0. */
function everyKind(): TimelineEvent[] {
  const events: NewTimelineEvent[] = [
    { kind: "data", dir: "in", conn: 1, t: 10, data: new Uint8Array([0, 1, 2, 255]) },
    { kind: "data", dir: "out", conn: 1, t: 11, data: new Uint8Array(0) },
    { kind: "data", dir: "out", conn: 4_000_000_000, t: 12.25, data: new Uint8Array(70_000).fill(7) },
    ...LIFECYCLE_EVENTS.map((event, i) => ({
      kind: "lifecycle" as const,
      event,
      conn: i,
      t: 20 + i,
      detail: `d ${i} ✓`,
    })),
    ...LOG_LEVELS.map((level, i) => ({
      kind: "log" as const,
      level,
      conn: 0,
      t: 40 + i,
      text: `decoded SET key=foo ${"\u{1F600}"}`,
      fields: { key: "foo", n: i, nested: { list: [1, "two", null, true] } },
    })),
  ];
  return events.map((e, seq) => ({ ...e, seq }) as TimelineEvent);
}

/** Writes `events` to a new capture; returns each record's size in the file. */
async function write(file: string, events: TimelineEvent[]): Promise<number[]> {
  const writer = await CaptureWriter.create(file, meta);
  const sizes = events.map((e) => writer.append(e));
  await writer.close();
  return sizes;
}

/** Events with their bytes as hex: compared as strings, much faster than element by element. */
function comparable(events: TimelineEvent[]): unknown[] {
  return events.map((e) => (e.kind === "data" ? { ...e, data: Buffer.from(e.data).toString("hex") } : e));
}

async function readAll(file: string): Promise<{ reader: CaptureReader; events: TimelineEvent[] }> {
  const reader = await CaptureReader.open(file);
  const events = await reader.read(0, reader.count);
  return { reader, events };
}

describe("CaptureWriter and CaptureReader", () => {
  it("round-trips every event kind, the meta and the totals", async () => {
    const file = path.join(dir, "every.wscap");
    const events = everyKind();
    await write(file, events);
    const { reader, events: read } = await readAll(file);
    expect(comparable(read)).toEqual(comparable(events));
    expect(reader.meta).toEqual(meta);
    expect(reader.version).toBe(CAPTURE_VERSION);
    expect(reader.lostBytes).toBe(0);
    expect(reader.summary).toEqual({ count: events.length, bytesIn: 4, bytesOut: 70_000, firstT: 10, lastT: 44 });
    await reader.close();
  });

  it("round-trips a decoded message's spans, field spans and pairing; a plain log line gets none", async () => {
    const file = path.join(dir, "messages.wscap");
    const base = { kind: "log" as const, level: "info" as const, conn: 1, fields: { command: "SET", key: "k" } };
    const events: TimelineEvent[] = [
      { ...base, seq: 0, t: 1, text: "plain" },
      {
        ...base,
        seq: 1,
        t: 2,
        text: "SET k",
        spans: [{ dir: "in", offset: 0, length: 9 }],
        fieldSpans: { key: [{ dir: "in", offset: 4, length: 1 }] },
        pair: { role: "request", key: "7" },
      },
      { ...base, seq: 2, t: 3, text: "+OK", spans: [], pair: { role: "response", key: "7", request: 1, latency: 1 } },
      { ...base, seq: 3, t: 4, text: "stdout", spans: [{ dir: "in", offset: 3, length: 2, fd: 1 }] },
    ];
    await write(file, events);
    const { reader, events: read } = await readAll(file);
    expect(read).toEqual(events);
    expect(Object.keys(read[0]!)).not.toContain("spans");
    await reader.close();
  });

  it("reads any range, clamped, across index marks and records larger than a read block", async () => {
    const file = path.join(dir, "ranges.wscap");
    // 2,000 records from 0 bytes to 300 KiB: marks come both every 256 records and every MiB.
    const events: TimelineEvent[] = [];
    for (let seq = 0; seq < 2000; seq += 1) {
      const size = seq % 97 === 0 ? 300 * 1024 : (seq * 7919) % 3000;
      const data = new Uint8Array(size).map((_, i) => (seq + i) & 0xff);
      events.push({ seq, t: seq * 3, conn: seq % 5, kind: "data", dir: seq % 2 ? "in" : "out", data });
    }
    await write(file, events);
    const reader = await CaptureReader.open(file);
    for (const [from, count] of [
      [0, 1],
      [255, 3],
      [256, 1],
      [1000, 300],
      [1990, 50],
      [-5, 3],
      [2000, 10],
      [1500.7, 2.9],
    ] as const) {
      const start = Math.max(0, Math.trunc(from));
      const expected = events.slice(start, Math.min(2000, start + Math.trunc(count)));
      expect(comparable(await reader.read(from, count))).toEqual(comparable(expected));
    }
    await reader.close();
  });

  it("stops a read early, after at least one record, at maxBytes of data", async () => {
    const file = path.join(dir, "budget.wscap");
    const events = [0, 1, 2, 3].map((seq): TimelineEvent => ({
      seq,
      t: seq,
      conn: 1,
      kind: "data",
      dir: "in",
      data: new Uint8Array(1000),
    }));
    await write(file, events);
    const reader = await CaptureReader.open(file);
    expect(await reader.read(0, 4, 2500)).toHaveLength(2);
    expect(await reader.read(0, 4, 10)).toHaveLength(1);
    await reader.close();
  });

  /**
   * The records a fresh reader finds in `file`, where they end, and what it counts as lost. While a writer runs, the
   * file may end in zero padding past them (the capture thread's direct writes): that is not lost.
   */
  async function recordsOnDisk(file: string): Promise<{ count: number; end: number; lostBytes: number }> {
    const reader = await CaptureReader.open(file);
    const found = { count: reader.count, end: reader.index.end, lostBytes: reader.lostBytes };
    await reader.close();
    return found;
  }

  it("writes the buffer out on its timer within FLUSH_INTERVAL_MS, and at once when it passes FLUSH_BYTES", async () => {
    const file = path.join(dir, "flush.wscap");
    const writer = await CaptureWriter.create(file, meta);
    const headerBytes = fs.statSync(file).size;
    writer.append({ seq: 0, t: 0, conn: 1, kind: "data", dir: "in", data: new Uint8Array(100) });
    expect(fs.statSync(file).size).toBe(headerBytes); // buffered
    await new Promise((r) => setTimeout(r, FLUSH_INTERVAL_MS + 100));
    expect(await recordsOnDisk(file)).toEqual({ count: 1, end: headerBytes + RECORD_OVERHEAD + 100, lostBytes: 0 });
    expect(writer.index.count).toBe(1);
    let seq = 1;
    for (; writer.size - headerBytes < FLUSH_BYTES; seq += 1) {
      writer.append({ seq, t: seq, conn: 1, kind: "data", dir: "out", data: new Uint8Array(64 * 1024) });
    }
    // A full batch goes to the capture thread without waiting for the timer: readable well before it would fire.
    // (The record that didn't fit in it starts the next batch.)
    const started = performance.now();
    while (writer.index.count < seq - 1 && performance.now() - started < FLUSH_INTERVAL_MS / 2) {
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(writer.index.count).toBe(seq - 1);
    expect(await recordsOnDisk(file)).toEqual({ count: seq - 1, end: writer.index.end, lostBytes: 0 });
    await writer.close();
    expect(fs.statSync(file).size).toBe(writer.size); // the padding of direct writes is cut at close
  });

  it("lets a reader follow the writer: it sees what was flushed", async () => {
    const file = path.join(dir, "follow.wscap");
    const writer = await CaptureWriter.create(file, meta);
    const reader = await CaptureReader.follow(writer);
    const events = everyKind();
    for (const e of events) writer.append(e);
    expect(await reader.read(0, 100)).toEqual([]);
    await writer.flush();
    expect(comparable(await reader.read(0, 100))).toEqual(comparable(events));
    await writer.close();
    await reader.close();
  });

  it("never overwrites an existing file", async () => {
    const file = path.join(dir, "exists.wscap");
    fs.writeFileSync(file, "precious");
    await expect(CaptureWriter.create(file, meta)).rejects.toThrow(/EEXIST/);
    expect(fs.readFileSync(file, "utf8")).toBe("precious");
  });

  it("refuses events the format can't hold, before writing anything", async () => {
    const writer = await CaptureWriter.create(path.join(dir, "invalid.wscap"), meta);
    const data = new Uint8Array(1);
    expect(() => writer.append({ seq: 1, t: 0, conn: 1, kind: "data", dir: "in", data })).toThrow(CaptureError);
    expect(() => writer.append({ seq: 0, t: 0, conn: -1, kind: "data", dir: "in", data })).toThrow(/conn -1/);
    expect(writer.count).toBe(0);
    await writer.close();
    expect(() => writer.append({ seq: 0, t: 0, conn: 1, kind: "data", dir: "in", data })).toThrow(/closed/);
  });

  it("keeps a log event whose fields can't be serialized, saying why", async () => {
    const file = path.join(dir, "bigint.wscap");
    const writer = await CaptureWriter.create(file, meta);
    const e: TimelineEvent = { seq: 0, t: 0, conn: 1, kind: "log", level: "info", text: "hi", fields: { n: 1n } };
    writer.append(e);
    await writer.close();
    const { reader, events } = await readAll(file);
    expect(comparable(events)).toEqual(comparable([e]));
    expect(e.fields).toEqual({ unserializable: expect.stringMatching(/BigInt/) });
    await reader.close();
  });
});

describe("the checksum", () => {
  it("of a record is the low 32 bits of its XXH64, as xxhsum computes it", async () => {
    const file = path.join(dir, "xxh64.wscap");
    await write(file, [{ seq: 0, t: 20, conn: 3, kind: "lifecycle", event: "connected", detail: "ok" }]);
    const bytes = fs.readFileSync(file);
    // XXH64 (libxxhash 0.8.1) of bytes 4 .. 28+P: kind 2, code 2, fd 0, conn 3, seq 0, t 20, {"detail":"ok"}.
    expect(bytes.readUInt32LE(bytes.length - 4)).toBe(0x9777653d);
  });

  it("of a format 2 capture (CRC-32) is checked as such: it reads as written, a damaged record is cut", async () => {
    const file = path.join(dir, "v2.wscap");
    const events = everyKind();
    await write(file, events);
    rewriteAsVersion(file, 2);
    const { reader, events: read } = await readAll(file);
    expect(reader.version).toBe(2);
    expect(reader.lostBytes).toBe(0);
    expect(comparable(read)).toEqual(comparable(events));
    await reader.close();

    const bytes = fs.readFileSync(file);
    bytes[bytes.length - 10] ^= 1; // inside the last record's JSON
    fs.writeFileSync(file, bytes);
    const damaged = await CaptureReader.open(file);
    expect(damaged.count).toBe(events.length - 1);
    expect(damaged.lostBytes).toBeGreaterThan(0);
    await damaged.close();
  });
});

describe("a damaged tail", () => {
  async function damaged(
    damage: (file: string) => void,
  ): Promise<{ file: string; events: TimelineEvent[]; lost: number; lastSize: number }> {
    const file = path.join(dir, "torn.wscap");
    const events = everyKind();
    const sizes = await write(file, events);
    const size = fs.statSync(file).size;
    damage(file);
    return { file, events, lost: fs.statSync(file).size - size, lastSize: sizes.at(-1)! };
  }

  for (const cut of [1, 4, 5, RECORD_OVERHEAD - 1, RECORD_OVERHEAD + 10]) {
    it(`a last record cut by ${cut} bytes is ignored and counted as lost`, async () => {
      const { file, events, lastSize } = await damaged((f) => fs.truncateSync(f, fs.statSync(f).size - cut));
      const { reader, events: read } = await readAll(file);
      expect(comparable(read)).toEqual(comparable(events.slice(0, -1)));
      expect(reader.lostBytes).toBe(lastSize - cut);
      await reader.close();
    });
  }

  it("garbage after the last record (random bytes, or a plausible record head with a bad CRC) is ignored", async () => {
    for (const garbage of [
      Buffer.from("\x00\x01 not a record, just noise \xff\xfe".repeat(20), "latin1"),
      Buffer.alloc(3, 0xff),
      // A record head that looks right (length, kind, code, next seq) followed by a wrong CRC.
      (() => {
        const b = Buffer.alloc(RECORD_OVERHEAD + 8);
        b.writeUInt32LE(RECORD_OVERHEAD + 4, 0);
        b[4] = 1;
        b.writeDoubleLE(everyKind().length, 12);
        return b;
      })(),
    ]) {
      const { file, events, lost } = await damaged((f) => fs.appendFileSync(f, garbage));
      const { reader, events: read } = await readAll(file);
      expect(comparable(read)).toEqual(comparable(events));
      expect(reader.lostBytes).toBe(lost);
      await reader.close();
      fs.rmSync(file);
    }
  });

  it("is cut off when the capture is reopened for appending, and numbering continues", async () => {
    const { file, events } = await damaged((f) => {
      fs.truncateSync(f, fs.statSync(f).size - 3);
      fs.appendFileSync(f, "garbage");
    });
    const reader = await CaptureReader.open(file);
    const writer = await CaptureWriter.resume(reader);
    expect(writer.count).toBe(events.length - 1);
    const next: TimelineEvent = {
      seq: events.length - 1,
      t: 99,
      conn: 2,
      kind: "data",
      dir: "in",
      data: new Uint8Array([9]),
    };
    writer.append(next);
    await writer.close();
    // The same reader follows the writer; a fresh one finds a clean file.
    expect(await reader.read(events.length - 2, 5)).toEqual([events.at(-2), next]);
    await reader.close();
    const { reader: fresh, events: all } = await readAll(file);
    expect(comparable(all)).toEqual(comparable([...events.slice(0, -1), next]));
    expect(fresh.lostBytes).toBe(0);
    await fresh.close();
  });

  it("a file with only a header reads as an empty capture", async () => {
    const file = path.join(dir, "empty.wscap");
    await (await CaptureWriter.create(file, meta)).close();
    const { reader, events } = await readAll(file);
    expect(events).toEqual([]);
    expect(reader.count).toBe(0);
    expect(reader.summary.firstT).toBeNull();
    await reader.close();
  });
});

describe("not a capture", () => {
  async function openError(contents: Buffer | string): Promise<CaptureError> {
    const file = path.join(dir, "notes.txt");
    fs.writeFileSync(file, contents);
    const error: unknown = await CaptureReader.open(file).catch((e: unknown) => e);
    if (!(error instanceof CaptureError)) throw new Error(`expected a CaptureError, got ${String(error)}`);
    expect(error.file).toBe(file);
    expect(error.message).toContain(file);
    return error;
  }

  it("a text file, an empty file, a damaged header: not-a-capture, naming the file", async () => {
    expect((await openError("hello, world\n".repeat(10))).code).toBe("not-a-capture");
    expect((await openError("")).code).toBe("not-a-capture");
    const header = fs.readFileSync(await writtenCapture());
    expect((await openError(header.subarray(0, 20))).code).toBe("not-a-capture");
    expect((await openError(Buffer.concat([header.subarray(0, 16), Buffer.from("{nope")]))).message).toMatch(
      /is not a Wirescope capture file/,
    );
  });

  it("a newer format: newer-version, saying so", async () => {
    const bytes = fs.readFileSync(await writtenCapture());
    bytes.writeUInt16LE(CAPTURE_VERSION + 1, 8);
    const error = await openError(bytes);
    expect(error.code).toBe("newer-version");
    expect(error.message).toMatch(/newer Wirescope/);
  });

  async function writtenCapture(): Promise<string> {
    const file = path.join(dir, "good.wscap");
    await write(file, everyKind());
    return file;
  }
});
