/**
 * Capture files: one session's timeline on disk, append-only, readable while it grows and after a crash.
 *
 * Format (version 1; every integer little-endian):
 *
 *     header   off  size
 *              0    8    magic "\x89WSCAP\r\n" (a high byte and CR LF, like PNG's, so that a text-mode copy shows)
 *              8    2    u16 format version (CAPTURE_VERSION)
 *              10   2    u16 flags, 0
 *              12   4    u32 length M of the meta block
 *              16   M    UTF-8 JSON object: CaptureMeta (timeOrigin, plus whatever the session layer keeps)
 *     records  16+M, then back to back until the end of the file:
 *              0    4    u32 L: length of the rest of the record (24 + payload + 4)
 *              4    1    u8 kind: 1 data, 2 lifecycle, 3 log
 *              5    1    u8 code: data 0 "in" / 1 "out"; lifecycle the index in LIFECYCLE_EVENTS; log the index in
 *                        LOG_LEVELS. Both tables are append-only: a code never changes meaning within a version.
 *              6    2    u16 reserved, 0
 *              8    4    u32 conn
 *              12   8    f64 seq (dense from 0: equal to the record's position in the file)
 *              20   8    f64 t, monotonic microseconds (see CaptureMeta.timeOrigin)
 *              28   P    payload: data, the raw bytes; lifecycle, JSON {"detail"}; log, JSON {"text","fields"}
 *              28+P 4    u32 CRC-32 (zlib's) of bytes 4 .. 28+P
 *
 * A process killed mid-write leaves at most a partial tail: the reader accepts records while the length fits in the
 * file, the CRC matches and `seq` is the next number, and ignores everything after the first record that fails
 * (reported as `lostBytes`; `CaptureWriter.resume` truncates it away). The CRC also rejects garbage appended after
 * the last record. Records are only ever appended, so damage can only be at the tail.
 *
 * Readers never hold one object per record: a sparse CaptureIndex keeps the offset of every 256th record (and of
 * the first record after each MiB), and a range read seeks to the nearest mark and walks forward.
 */
import * as fs from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { open as openFile } from "node:fs/promises";
import { crc32 } from "node:zlib";
import type {
  LifecycleEvent,
  LifecycleTimelineEvent,
  LogTimelineEvent,
  TimelineEvent,
} from "../../preload/timeline.ts";

/** The format version this code writes, and the newest it reads. */
export const CAPTURE_VERSION = 1;

const MAGIC = Buffer.from("\x89WSCAP\r\n", "latin1");
const HEADER_FIXED = 16;
/** Bytes of a record besides its payload: length, kind, code, reserved, conn, seq, t, CRC. */
export const RECORD_OVERHEAD = 32;
const BODY_FIXED = 24; // kind .. t, after the length field
const RECORD_HEAD = 4 + BODY_FIXED;
const MAX_RECORD_BODY = 0xffff_ffff;

const KIND_DATA = 1;
const KIND_LIFECYCLE = 2;
const KIND_LOG = 3;

/** Lifecycle event codes: the index is what the file stores. Append only; never reorder. */
export const LIFECYCLE_EVENTS = [
  "listening",
  "connecting",
  "connected",
  "read-closed",
  "write-closed",
  "lost",
  "failed",
  "paused",
  "resumed",
  "protocol-loaded",
  "protocol-reloaded",
  "protocol-halted",
  "protocol-error",
  "error",
  "closed",
] as const satisfies readonly LifecycleEvent[];

/** Log level codes, as stored. Append only. */
export const LOG_LEVELS = ["debug", "info", "warn", "error", "critical"] as const satisfies readonly LogLevel[];
type LogLevel = LogTimelineEvent["level"];

// A lifecycle event or log level added to preload/timeline.ts must get a code above: this fails to compile until then.
type Covers<All, Listed> = [Exclude<All, Listed>] extends [never] ? true : never;
const _everyEventHasACode: Covers<LifecycleEvent, (typeof LIFECYCLE_EVENTS)[number]> &
  Covers<LogLevel, (typeof LOG_LEVELS)[number]> = true;

const LIFECYCLE_CODE = new Map<string, number>(LIFECYCLE_EVENTS.map((e, i) => [e, i]));
const LOG_CODE = new Map<string, number>(LOG_LEVELS.map((l, i) => [l, i]));

/** Keep an index mark every this many records ... */
const MARK_EVERY = 256;
/** ... and at the first record after this many bytes since the last mark, so a seek never walks more than ~1 MiB. */
const MARK_BYTES = 1024 * 1024;

/** A writer writes its buffer out once it holds this much (and on its timer, and on flush/close). */
export const FLUSH_BYTES = 1024 * 1024;
/** ... and never keeps an appended record unwritten for longer than this. */
export const FLUSH_INTERVAL_MS = 250;
const BUFFER_BYTES = 2 * FLUSH_BYTES;
/** Reads go through blocks of at least this size; the open-time scan through larger ones. */
const READ_BLOCK = 256 * 1024;
const SCAN_BLOCK = 4 * 1024 * 1024;

/** What a capture file says about itself, in its header. Fixed when the file is created. */
export interface CaptureMeta {
  /** Wall-clock time (ms since the Unix epoch) at which the records' `t` is 0. */
  timeOrigin: number;
  /** Anything else the session layer keeps with the capture (kind, target, protocol, ...), JSON-safe. */
  [key: string]: unknown;
}

/** Totals over a capture's records. */
export interface CaptureSummary {
  /** Number of records. */
  count: number;
  /** Payload bytes of data records received from the peer, and written to it. */
  bytesIn: number;
  bytesOut: number;
  /** `t` of the first and last record; null while there are none. */
  firstT: number | null;
  lastT: number | null;
}

/** Why a capture could not be read or written. `code` is stable; the message names the file. */
export type CaptureErrorCode =
  | "NOT_A_CAPTURE" // no magic, or a header that does not parse
  | "NEWER_VERSION" // written by a newer Wirescope
  | "CORRUPT" // a record that was valid when indexed no longer is (the file changed underneath)
  | "INVALID_EVENT" // append() was given something the format can't hold
  | "WRITE_FAILED" // the disk refused a write; the records after it exist only in memory
  | "CLOSED"; // used after close()

/** Thrown by capture readers and writers (and by the recorder for their failures). */
export class CaptureError extends Error {
  constructor(
    readonly code: CaptureErrorCode,
    /** The capture file concerned. */
    readonly file: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "CaptureError";
  }
}

function emptySummary(): CaptureSummary {
  return { count: 0, bytesIn: 0, bytesOut: 0, firstT: null, lastT: null };
}

function summarize(s: CaptureSummary, t: number, kind: number, code: number, payloadBytes: number): void {
  s.count += 1;
  if (kind === KIND_DATA) {
    if (code === 0) s.bytesIn += payloadBytes;
    else s.bytesOut += payloadBytes;
  }
  s.firstT ??= t;
  s.lastT = t;
}

/**
 * Where records are in one capture file, sparsely: (seq, offset) marks in a growable Float64Array, never one object
 * per record. A writer notes every record it appends and commits them when they reach the file; a reader sharing
 * the same index (CaptureReader.follow) reads exactly the committed ones.
 */
export class CaptureIndex {
  /** Records in the file, readable. */
  count = 0;
  /** Offset just past the last readable record. */
  end: number;
  /** Records noted so far (committed or still in a writer's buffer). */
  private noted = 0;
  /** Pairs [seq, offset, seq, offset, ...]. */
  private marks = new Float64Array(512);
  private markCount = 0;
  private lastMarkOffset = -Infinity;

  constructor(
    /** Offset of the first record (just past the header). */
    readonly firstRecord: number,
  ) {
    this.end = firstRecord;
  }

  /** Called for every record, in order, with its offset. O(1) amortized. */
  note(offset: number): void {
    const seq = this.noted++;
    if (seq % MARK_EVERY !== 0 && offset - this.lastMarkOffset < MARK_BYTES) return;
    if (this.markCount * 2 === this.marks.length) {
      const grown = new Float64Array(this.marks.length * 2);
      grown.set(this.marks);
      this.marks = grown;
    }
    this.marks[this.markCount * 2] = seq;
    this.marks[this.markCount * 2 + 1] = offset;
    this.markCount += 1;
    this.lastMarkOffset = offset;
  }

  /** Makes the first `count` records, ending at `end`, readable. */
  commit(count: number, end: number): void {
    this.count = count;
    this.end = end;
  }

  /** The mark at or before `seq` (seq must be < the records noted): where a reader starts walking. */
  locate(seq: number): { seq: number; offset: number } {
    let lo = 0;
    let hi = this.markCount - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.marks[mid * 2]! <= seq) lo = mid;
      else hi = mid - 1;
    }
    return { seq: this.marks[lo * 2]!, offset: this.marks[lo * 2 + 1]! };
  }
}

// --- encoding ---------------------------------------------------------------------------------------------------

function jsonPayload(e: LifecycleTimelineEvent | LogTimelineEvent): string {
  if (e.kind === "lifecycle") return JSON.stringify({ detail: e.detail });
  try {
    return JSON.stringify({ text: e.text, fields: e.fields });
  } catch (err) {
    // A bigint or a cycle in the fields must not cost the event: keep it, say why its fields are gone, and make
    // the in-memory event say the same as the file.
    e.fields = { unserializable: err instanceof Error ? err.message : String(err) };
    return JSON.stringify({ text: e.text, fields: e.fields });
  }
}

function eventCode(e: TimelineEvent): number | undefined {
  switch (e.kind) {
    case "data":
      return e.dir === "in" ? 0 : e.dir === "out" ? 1 : undefined;
    case "lifecycle":
      return LIFECYCLE_CODE.get(e.event);
    case "log":
      return LOG_CODE.get(e.level);
  }
}

const KIND_OF = { data: KIND_DATA, lifecycle: KIND_LIFECYCLE, log: KIND_LOG } as const;

/** Writes the fixed part of a record at `p` (its length field included) for a payload of `payloadBytes`. */
function writeRecordHead(buf: Buffer, p: number, e: TimelineEvent, code: number, payloadBytes: number): void {
  buf.writeUInt32LE(BODY_FIXED + payloadBytes + 4, p);
  buf[p + 4] = KIND_OF[e.kind];
  buf[p + 5] = code;
  buf.writeUInt16LE(0, p + 6);
  buf.writeUInt32LE(e.conn, p + 8);
  buf.writeDoubleLE(e.seq, p + 12);
  buf.writeDoubleLE(e.t, p + 20);
}

/** Writes the CRC of the record at `p` whose payload is `payloadBytes` long. */
function sealRecord(buf: Buffer, p: number, payloadBytes: number): void {
  const crcAt = p + 28 + payloadBytes;
  buf.writeUInt32LE(crc32(buf.subarray(p + 4, crcAt)), crcAt);
}

// --- decoding ---------------------------------------------------------------------------------------------------

/** Whether the fixed part at `p` (RECORD_HEAD bytes, in `buf`) can start record number `seq`: a cheap check that
 * rejects most garbage before its claimed length is read. */
function headIsPlausible(buf: Buffer, p: number, seq: number): boolean {
  const body = buf.readUInt32LE(p);
  const kind = buf[p + 4]!;
  const code = buf[p + 5]!;
  const codes =
    kind === KIND_DATA
      ? 2
      : kind === KIND_LIFECYCLE
        ? LIFECYCLE_EVENTS.length
        : kind === KIND_LOG
          ? LOG_LEVELS.length
          : 0;
  return body >= BODY_FIXED + 4 && code < codes && buf.readDoubleLE(p + 12) === seq;
}

/** Whether the whole record at `p` (all `4 + body` bytes in `buf`) has the CRC it carries. */
function crcMatches(buf: Buffer, p: number, body: number): boolean {
  return buf.readUInt32LE(p + body) === crc32(buf.subarray(p + 4, p + body));
}

function parseJson(buf: Buffer, start: number, end: number): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(buf.toString("utf8", start, end));
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Decodes a record already checked by headIsPlausible and crcMatches. Payload bytes are copied: the event owns them. */
function decodeRecord(buf: Buffer, p: number, body: number, file: string): TimelineEvent {
  const kind = buf[p + 4]!;
  const code = buf[p + 5]!;
  const conn = buf.readUInt32LE(p + 8);
  const seq = buf.readDoubleLE(p + 12);
  const t = buf.readDoubleLE(p + 20);
  const start = p + 28;
  const end = p + body;
  if (kind === KIND_DATA) {
    const data = new Uint8Array(end - start);
    data.set(buf.subarray(start, end));
    return { seq, t, conn, kind: "data", dir: code === 0 ? "in" : "out", data };
  }
  const json = parseJson(buf, start, end);
  if (json === undefined) throw new CaptureError("CORRUPT", file, `${file}: record ${seq} has a damaged payload`);
  if (kind === KIND_LIFECYCLE) {
    const detail = typeof json.detail === "string" ? json.detail : "";
    return { seq, t, conn, kind: "lifecycle", event: LIFECYCLE_EVENTS[code]!, detail };
  }
  const text = typeof json.text === "string" ? json.text : "";
  const fields =
    typeof json.fields === "object" && json.fields !== null ? (json.fields as Record<string, unknown>) : {};
  return { seq, t, conn, kind: "log", level: LOG_LEVELS[code]!, text, fields };
}

/** Reads a file through one reusable block: "give me bytes [pos, pos+n)", re-reading only when they aren't there. */
class BlockCursor {
  buf: Buffer = Buffer.alloc(0);
  private start = 0;
  private length = 0;

  constructor(
    private readonly handle: FileHandle,
    /** Never read at or past this offset. */
    private readonly limit: number,
    private readonly block: number,
  ) {}

  /** Where bytes [pos, pos+n) are in `buf`, or -1 if the file (up to the limit) ends first. */
  async at(pos: number, n: number): Promise<number> {
    if (pos >= this.start && pos + n <= this.start + this.length) return pos - this.start;
    if (pos + n > this.limit) return -1;
    const want = Math.min(Math.max(n, this.block), this.limit - pos);
    if (this.buf.length < want) this.buf = Buffer.allocUnsafe(Math.max(want, this.block));
    let got = 0;
    while (got < want) {
      const { bytesRead } = await this.handle.read(this.buf, got, want - got, pos + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    this.start = pos;
    this.length = got;
    return got >= n ? 0 : -1;
  }
}

/** Reads and checks the header; returns the meta, version and where records start. */
async function readHeader(
  handle: FileHandle,
  file: string,
  size: number,
): Promise<{ meta: CaptureMeta; version: number; firstRecord: number }> {
  const notACapture = (why: string): CaptureError =>
    new CaptureError("NOT_A_CAPTURE", file, `${file} is not a Wirescope capture file (${why})`);
  const cursor = new BlockCursor(handle, size, 64 * 1024);
  let p = await cursor.at(0, HEADER_FIXED);
  if (p < 0 || !cursor.buf.subarray(0, MAGIC.length).equals(MAGIC)) throw notACapture("no capture header");
  const version = cursor.buf.readUInt16LE(8);
  if (version > CAPTURE_VERSION) {
    throw new CaptureError(
      "NEWER_VERSION",
      file,
      `${file} was written by a newer Wirescope (capture format ${version}; this version reads up to ${CAPTURE_VERSION})`,
    );
  }
  if (version === 0) throw notACapture("format version 0");
  const metaLength = cursor.buf.readUInt32LE(12);
  p = await cursor.at(HEADER_FIXED, metaLength);
  const meta = p < 0 ? undefined : parseJson(cursor.buf, p, p + metaLength);
  if (meta === undefined || typeof meta.timeOrigin !== "number") throw notACapture("its header is damaged");
  return { meta: meta as CaptureMeta, version, firstRecord: HEADER_FIXED + metaLength };
}

// --- reader -----------------------------------------------------------------------------------------------------

/**
 * Reads a capture by ranges of seq. Opened on a finished or crashed file (`open`: scans and checks every record
 * once), or alongside the live writer of the same file (`follow`: shares its index, sees every flushed record).
 * The owner closes it.
 */
export class CaptureReader {
  private readonly inFlight = new Set<Promise<unknown>>();
  private closed = false;

  private constructor(
    /** The capture file. */
    readonly file: string,
    private readonly handle: FileHandle,
    /** The header's meta. */
    readonly meta: CaptureMeta,
    /** The file's format version. */
    readonly version: number,
    /** Where the records are; shared with the writer when following one. */
    readonly index: CaptureIndex,
    /** Totals over the valid records found when opened (empty when following a writer). */
    readonly summary: CaptureSummary,
    /** Size of the file when opened. */
    readonly fileBytes: number,
    /** Bytes after the last valid record when opened: a torn or damaged tail, ignored. 0 when following. */
    readonly lostBytes: number,
    /** True when reading alongside a writer (`follow`). */
    readonly following: boolean,
  ) {}

  /**
   * Opens `file`, checks its header and every record (CRC, numbering), and builds the sparse index. Never throws
   * for a truncated or garbled tail: the records before it are readable and the rest is counted in `lostBytes`.
   * Throws CaptureError NOT_A_CAPTURE / NEWER_VERSION naming the file, or the fs error if it can't be opened.
   */
  static async open(file: string): Promise<CaptureReader> {
    const handle = await openFile(file, "r");
    try {
      const size = (await handle.stat()).size;
      const { meta, version, firstRecord } = await readHeader(handle, file, size);
      const index = new CaptureIndex(firstRecord);
      const summary = emptySummary();
      const cursor = new BlockCursor(handle, size, SCAN_BLOCK);
      let pos = firstRecord;
      while (true) {
        let p = await cursor.at(pos, RECORD_HEAD);
        if (p < 0 || !headIsPlausible(cursor.buf, p, summary.count)) break;
        const body = cursor.buf.readUInt32LE(p);
        p = await cursor.at(pos, 4 + body);
        if (p < 0 || !crcMatches(cursor.buf, p, body)) break;
        index.note(pos);
        summarize(summary, cursor.buf.readDoubleLE(p + 20), cursor.buf[p + 4]!, cursor.buf[p + 5]!, body - 28);
        pos += 4 + body;
      }
      index.commit(summary.count, pos);
      return new CaptureReader(file, handle, meta, version, index, summary, size, size - pos, false);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  /** Opens the file `writer` is appending to; reads see every record the writer has flushed. */
  static async follow(writer: CaptureWriter): Promise<CaptureReader> {
    const handle = await openFile(writer.file, "r");
    const size = writer.index.end;
    return new CaptureReader(
      writer.file,
      handle,
      writer.meta,
      CAPTURE_VERSION,
      writer.index,
      emptySummary(),
      size,
      0,
      true,
    );
  }

  /** Records readable now. */
  get count(): number {
    return this.index.count;
  }

  /**
   * Records `from` .. `from + count - 1`, clamped to the readable ones, in order, each owning its bytes. Stops
   * early, after at least one record, before the data bytes would pass `maxBytes`. Rejects with CaptureError CORRUPT
   * if a record changed since it was indexed, CLOSED after close().
   */
  read(from: number, count: number, maxBytes = Infinity): Promise<TimelineEvent[]> {
    if (this.closed) return Promise.reject(new CaptureError("CLOSED", this.file, `${this.file}: reader is closed`));
    const reading = this.readRange(from, count, maxBytes);
    this.inFlight.add(reading);
    const untrack = (): void => void this.inFlight.delete(reading);
    reading.then(untrack, untrack);
    return reading;
  }

  private async readRange(from: number, count: number, maxBytes: number): Promise<TimelineEvent[]> {
    const total = this.index.count;
    const start = Math.max(0, Math.min(total, Math.trunc(from) || 0));
    const end = Math.min(total, start + Math.max(0, Math.trunc(count) || 0));
    if (start >= end) return [];
    const corrupt = (seq: number): CaptureError =>
      new CaptureError("CORRUPT", this.file, `${this.file}: record ${seq} changed or vanished since it was indexed`);
    const cursor = new BlockCursor(this.handle, this.index.end, READ_BLOCK);
    let { seq, offset: pos } = this.index.locate(start);
    for (; seq < start; seq += 1) {
      const p = await cursor.at(pos, 4);
      if (p < 0) throw corrupt(seq);
      pos += 4 + cursor.buf.readUInt32LE(p);
    }
    const events: TimelineEvent[] = [];
    let bytes = 0;
    for (; seq < end; seq += 1) {
      let p = await cursor.at(pos, RECORD_HEAD);
      if (p < 0 || !headIsPlausible(cursor.buf, p, seq)) throw corrupt(seq);
      const body = cursor.buf.readUInt32LE(p);
      p = await cursor.at(pos, 4 + body);
      if (p < 0 || !crcMatches(cursor.buf, p, body)) throw corrupt(seq);
      if (cursor.buf[p + 4] === KIND_DATA) bytes += body - 28;
      if (bytes > maxBytes && events.length > 0) break;
      events.push(decodeRecord(cursor.buf, p, body, this.file));
      pos += 4 + body;
    }
    return events;
  }

  /** Waits for reads in flight, then closes the file. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.inFlight]);
    await this.handle.close();
  }
}

// --- writer -----------------------------------------------------------------------------------------------------

function encodeHeader(meta: CaptureMeta): Buffer {
  const json = Buffer.from(JSON.stringify(meta), "utf8");
  const header = Buffer.alloc(HEADER_FIXED + json.length);
  MAGIC.copy(header, 0);
  header.writeUInt16LE(CAPTURE_VERSION, 8);
  header.writeUInt16LE(0, 10);
  header.writeUInt32LE(json.length, 12);
  json.copy(header, HEADER_FIXED);
  return header;
}

/** writeSync until every byte is out (a regular file may take a write in parts). */
function writeAll(fd: number, buf: Buffer, length: number): void {
  let done = 0;
  while (done < length) done += fs.writeSync(fd, buf, done, length - done);
}

/**
 * Appends records to one capture file. `append` is synchronous and cheap: it encodes into a buffer that is written
 * with writeSync when it passes FLUSH_BYTES, at most FLUSH_INTERVAL_MS after a record was appended (an unref'd
 * timer: it never keeps the process alive), and on flush()/close(). So a killed process loses at most the last
 * FLUSH_INTERVAL_MS of records while its event loop turns. A failed write is kept in `error`, never thrown from
 * append: the writer stops writing and the caller carries on from memory. The owner must close() it.
 */
export class CaptureWriter {
  private fd: number | null;
  private buffer = Buffer.allocUnsafe(BUFFER_BYTES);
  private used = 0;
  /** Offset in the file at which `buffer` starts. */
  private written: number;
  private timer: NodeJS.Timeout | null = null;
  private failure: CaptureError | null = null;

  private constructor(
    /** The capture file. */
    readonly file: string,
    fd: number,
    /** The header's meta. */
    readonly meta: CaptureMeta,
    /** Where the records are; readers following this writer share it. */
    readonly index: CaptureIndex,
    /** Totals over every record appended, buffered ones included. */
    readonly summary: CaptureSummary,
  ) {
    this.fd = fd;
    this.written = index.end;
  }

  /** Creates `file` (which must not exist: a capture is never overwritten) and writes its header. */
  static create(file: string, meta: CaptureMeta): CaptureWriter {
    const header = encodeHeader(meta);
    const fd = fs.openSync(file, "ax");
    try {
      writeAll(fd, header, header.length);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
    const index = new CaptureIndex(header.length);
    return new CaptureWriter(file, fd, meta, index, emptySummary());
  }

  /**
   * Continues the capture `reader` opened (with CaptureReader.open): cuts off the tail it found torn, then appends
   * after its last valid record, numbering on. The reader stays usable and follows this writer from now on.
   */
  static resume(reader: CaptureReader): CaptureWriter {
    if (reader.following) throw new TypeError("CaptureWriter.resume: the reader already follows a writer");
    if (reader.version !== CAPTURE_VERSION) {
      throw new CaptureError(
        "NEWER_VERSION",
        reader.file,
        `${reader.file} is in capture format ${reader.version}; only format ${CAPTURE_VERSION} can be appended to`,
      );
    }
    if (reader.lostBytes > 0) fs.truncateSync(reader.file, reader.index.end);
    const fd = fs.openSync(reader.file, "a");
    return new CaptureWriter(reader.file, fd, reader.meta, reader.index, { ...reader.summary });
  }

  /** Records appended so far (the next record's seq). */
  get count(): number {
    return this.summary.count;
  }

  /** Size of the file once everything appended is written. */
  get size(): number {
    return this.written + this.used;
  }

  /** The write that failed, if one did: nothing appended since is in the file. */
  get error(): CaptureError | null {
    return this.failure;
  }

  /**
   * Appends `e`, whose `seq` must be `count`. Synchronous, amortized O(size of the event). Returns the bytes the
   * record takes in the file. Throws CaptureError INVALID_EVENT (before changing anything) for a wrong seq, a
   * connection number outside u32 or an unknown event code, CLOSED after close().
   */
  append(e: TimelineEvent): number {
    const code = eventCode(e);
    if (this.fd === null) throw new CaptureError("CLOSED", this.file, `${this.file}: writer is closed`);
    if (e.seq !== this.summary.count || code === undefined || !(e.conn >>> 0 === e.conn)) {
      throw new CaptureError("INVALID_EVENT", this.file, `${this.file}: can't record ${describeEvent(e)}`);
    }
    const json = e.kind === "data" ? "" : jsonPayload(e);
    const payloadMax = e.kind === "data" ? e.data.byteLength : json.length * 3;
    if (payloadMax > MAX_RECORD_BODY - RECORD_OVERHEAD) {
      throw new CaptureError("INVALID_EVENT", this.file, `${this.file}: event of ${payloadMax} bytes is too large`);
    }
    const kind = KIND_OF[e.kind];
    if (this.failure !== null) {
      const bytes = e.kind === "data" ? e.data.byteLength : Buffer.byteLength(json);
      summarize(this.summary, e.t, kind, code, bytes);
      return RECORD_OVERHEAD + bytes;
    }
    if (this.used + RECORD_OVERHEAD + payloadMax > this.buffer.length) this.writeBuffer();
    let target = this.buffer;
    let p = this.used;
    if (RECORD_OVERHEAD + payloadMax > target.length) {
      // Larger than the whole buffer: encode it on its own and write it straight after what's buffered.
      const bytes = e.kind === "data" ? e.data.byteLength : Buffer.byteLength(json);
      target = Buffer.allocUnsafe(RECORD_OVERHEAD + bytes);
      p = 0;
    }
    const payloadBytes = e.kind === "data" ? copyInto(target, p + 28, e.data) : target.write(json, p + 28, "utf8");
    writeRecordHead(target, p, e, code, payloadBytes);
    sealRecord(target, p, payloadBytes);
    const size = RECORD_OVERHEAD + payloadBytes;
    this.index.note(this.written + this.used);
    summarize(this.summary, e.t, kind, code, e.kind === "data" ? payloadBytes : 0);
    if (target !== this.buffer) {
      this.writeOut(target, size);
    } else {
      this.used += size;
      if (this.used >= FLUSH_BYTES) this.writeBuffer();
      else this.timer ??= setTimeout(this.flushOnTimer, FLUSH_INTERVAL_MS).unref();
    }
    return size;
  }

  /** Writes out everything appended. Never throws for a disk error: check `error`. */
  flush(): void {
    if (this.fd !== null && this.used > 0) this.writeBuffer();
  }

  /** Flushes and closes the file. Idempotent; append() afterwards throws. */
  close(): void {
    if (this.fd === null) return;
    this.flush();
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    fs.closeSync(this.fd);
    this.fd = null;
  }

  private readonly flushOnTimer = (): void => {
    this.timer = null;
    this.flush();
  };

  private writeBuffer(): void {
    const used = this.used;
    this.used = 0;
    if (used > 0) this.writeOut(this.buffer, used);
  }

  /** Writes `length` bytes of `buf` at the end of the file and commits the records they complete. */
  private writeOut(buf: Buffer, length: number): void {
    if (this.failure !== null || this.fd === null) return;
    try {
      writeAll(this.fd, buf, length);
      this.written += length;
      this.index.commit(this.summary.count, this.written);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      this.failure = new CaptureError("WRITE_FAILED", this.file, `${this.file}: write failed: ${reason}`, {
        cause: err,
      });
    }
  }
}

function copyInto(target: Buffer, at: number, data: Uint8Array): number {
  target.set(data, at);
  return data.byteLength;
}

function describeEvent(e: TimelineEvent): string {
  const what = e.kind === "data" ? `data ${String(e.dir)}` : e.kind === "lifecycle" ? String(e.event) : String(e.level);
  return `${e.kind} event (${what}) seq ${e.seq} on conn ${e.conn}`;
}
