/**
 * Capture files: one session's timeline on disk, append-only, readable while it grows and after a crash.
 *
 * Format (version 2; every integer little-endian):
 *
 *     header   off  size
 *              0    8    magic "\x89WSCAP\r\n" (a high byte and CR LF, like PNG's, so that a text-mode copy shows)
 *              8    2    u16 format version (CAPTURE_VERSION)
 *              10   2    u16 flags, 0
 *              12   4    u32 length M of the meta block
 *              16   M    UTF-8 JSON object: CaptureMeta (timeOrigin, plus whatever the session layer keeps)
 *     records  16+M, then back to back until the end of the file:
 *              0    4    u32 L: length of the rest of the record (24 + payload + 4)
 *              4    1    u8 kind: 1 data, 2 lifecycle, 3 log, 4 data again (version 2)
 *              5    1    u8 code: data and data again 0 "in" / 1 "out"; lifecycle the index in LIFECYCLE_EVENTS;
 *                        log the index in LOG_LEVELS. Both tables are append-only: a code never changes meaning.
 *              6    2    u16 reserved, 0
 *              8    4    u32 conn
 *              12   8    f64 seq (dense from 0: equal to the record's position in the file)
 *              20   8    f64 t, monotonic microseconds (see CaptureMeta.timeOrigin)
 *              28   P    payload: data, the raw bytes; lifecycle, JSON {"detail"}; log, JSON {"text","fields"};
 *                        data again (P = 12), f64 seq of an earlier data record (kind 1) and u32 length of its
 *                        bytes: the same bytes passed again, as when a proxy forwards the chunk it just received
 *              28+P 4    u32 CRC-32 (zlib's) of bytes 4 .. 28+P
 *
 * Version 2 added "data again", which halves what a proxy writes; version 1 files have no such records and are
 * read the same way. A writer continuing a version 1 file keeps to version 1 records, so the file stays readable by
 * the Wirescope that made it.
 *
 * A process killed mid-write leaves at most a partial tail: the reader accepts records while the length fits in the
 * file, the CRC matches and `seq` is the next number, and ignores everything after the first record that fails
 * (reported as `lostBytes`; `CaptureWriter.resume` truncates it away). The CRC also rejects garbage appended after
 * the last record. Records are only ever appended, so damage can only be at the tail.
 *
 * While a writer runs, the file may end in zero bytes up to the next multiple of PADDING_BLOCK: the capture thread
 * writes whole blocks around the page cache (capture-thread.ts), and the writer cuts the padding when it closes. A
 * file left by a killed process can keep it; such a tail (zeros only, ending on a block boundary, shorter than a
 * block) is padding, not lost data.
 *
 * Readers never hold one object per record: a sparse CaptureIndex keeps the offset of every 256th record (and of
 * the first record after each MiB), and a range read seeks to the nearest mark and walks forward.
 */
import type { FileHandle } from "node:fs/promises";
import { open as openFile } from "node:fs/promises";
import { crc32 } from "node:zlib";
import type {
  LifecycleEvent,
  LifecycleTimelineEvent,
  LogTimelineEvent,
  TimelineEvent,
} from "../../preload/timeline.ts";
import type { CaptureWriter } from "./capture-writer.ts";

/** The format version this code writes, and the newest it reads. */
export const CAPTURE_VERSION = 2;
/** The first version with "data again" records. */
const VERSION_DATA_AGAIN = 2;

const MAGIC = Buffer.from("\x89WSCAP\r\n", "latin1");
const HEADER_FIXED = 16;
/** The block size of direct writes: a live capture may end in zero padding up to a multiple of it. */
export const PADDING_BLOCK = 4096;

/** Bytes of a record besides its payload: length, kind, code, reserved, conn, seq, t, CRC. */
export const RECORD_OVERHEAD = 32;
const BODY_FIXED = 24; // kind .. t, after the length field
/** The fixed part of a record, length field included: where its payload starts. */
export const RECORD_HEAD = 4 + BODY_FIXED;
/** The largest payload a record can hold. */
export const MAX_PAYLOAD = 0xffff_ffff - RECORD_OVERHEAD;
/** The payload of a "data again" record: the earlier record's seq and its length. */
export const DATA_AGAIN_PAYLOAD = 12;

const KIND_DATA = 1;
const KIND_LIFECYCLE = 2;
const KIND_LOG = 3;
const KIND_DATA_AGAIN = 4;

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

/** Totals over no records. */
export function emptySummary(): CaptureSummary {
  return { count: 0, bytesIn: 0, bytesOut: 0, firstT: null, lastT: null };
}

/** Counts one record in `s`; `dataBytes` is what a data or "data again" record carries (0 for the others). */
export function summarize(s: CaptureSummary, t: number, kind: number, code: number, dataBytes: number): void {
  s.count += 1;
  if (kind === KIND_DATA || kind === KIND_DATA_AGAIN) {
    if (code === 0) s.bytesIn += dataBytes;
    else s.bytesOut += dataBytes;
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

// --- encoding (by CaptureWriter; the CRC is filled in by the capture thread) ----------------------------------

/** The record kinds, as stored. */
export const RECORD_KIND = {
  data: KIND_DATA,
  lifecycle: KIND_LIFECYCLE,
  log: KIND_LOG,
  dataAgain: KIND_DATA_AGAIN,
} as const;

/** Whether records of `kind` may appear in a file of format `version`. */
export function kindInVersion(kind: number, version: number): boolean {
  return kind === KIND_DATA_AGAIN ? version >= VERSION_DATA_AGAIN : kind >= KIND_DATA && kind <= KIND_LOG;
}

/** The JSON payload of a lifecycle or log event. Never throws: unserializable fields are replaced, saying why. */
export function jsonPayload(e: LifecycleTimelineEvent | LogTimelineEvent): string {
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

/** The code `e` is stored with, or undefined for an event the format has no code for. */
export function eventCode(e: TimelineEvent): number | undefined {
  switch (e.kind) {
    case "data":
      return e.dir === "in" ? 0 : e.dir === "out" ? 1 : undefined;
    case "lifecycle":
      return LIFECYCLE_CODE.get(e.event);
    case "log":
      return LOG_CODE.get(e.level);
  }
}

/** Writes the fixed part of a record at `p` (its length field included) for a payload of `payloadBytes`. */
export function writeRecordHead(
  buf: Buffer,
  p: number,
  kind: number,
  code: number,
  e: TimelineEvent,
  payloadBytes: number,
): void {
  buf.writeUInt32LE(BODY_FIXED + payloadBytes + 4, p);
  buf[p + 4] = kind;
  buf[p + 5] = code;
  buf.writeUInt16LE(0, p + 6);
  buf.writeUInt32LE(e.conn, p + 8);
  buf.writeDoubleLE(e.seq, p + 12);
  buf.writeDoubleLE(e.t, p + 20);
}

/** Writes the payload of a "data again" record at `p`: the bytes of record `source`, `length` of them. */
export function writeDataAgain(buf: Buffer, p: number, source: number, length: number): void {
  buf.writeDoubleLE(source, p);
  buf.writeUInt32LE(length, p + 8);
}

/** The header of a new capture. */
export function encodeHeader(meta: CaptureMeta): Buffer {
  const json = Buffer.from(JSON.stringify(meta), "utf8");
  const header = Buffer.alloc(HEADER_FIXED + json.length);
  MAGIC.copy(header, 0);
  header.writeUInt16LE(CAPTURE_VERSION, 8);
  header.writeUInt16LE(0, 10);
  header.writeUInt32LE(json.length, 12);
  json.copy(header, HEADER_FIXED);
  return header;
}

/** "data event (in) seq 4 on conn 1", for error messages. */
export function describeEvent(e: TimelineEvent): string {
  const what = e.kind === "data" ? `data ${String(e.dir)}` : e.kind === "lifecycle" ? String(e.event) : String(e.level);
  return `${e.kind} event (${what}) seq ${e.seq} on conn ${e.conn}`;
}

// --- decoding ---------------------------------------------------------------------------------------------------

/**
 * Whether the fixed part at `p` (RECORD_HEAD bytes, in `buf`) can start record number `seq` of a file of format
 * `version`: a cheap check that rejects most garbage before its claimed length is read.
 */
function headIsPlausible(buf: Buffer, p: number, seq: number, version: number): boolean {
  const body = buf.readUInt32LE(p);
  const kind = buf[p + 4]!;
  const code = buf[p + 5]!;
  if (!kindInVersion(kind, version)) return false;
  const codes = kind === KIND_LIFECYCLE ? LIFECYCLE_EVENTS.length : kind === KIND_LOG ? LOG_LEVELS.length : 2; // in, out
  const bodyFits = kind === KIND_DATA_AGAIN ? body === BODY_FIXED + DATA_AGAIN_PAYLOAD + 4 : body >= BODY_FIXED + 4;
  return bodyFits && code < codes && buf.readDoubleLE(p + 12) === seq;
}

/**
 * Whether the whole record at `p` (all `4 + body` bytes in `buf`), already found plausible as record `seq`, has the
 * CRC it carries, and, if it is "data again", names an earlier record.
 */
function recordIsValid(buf: Buffer, p: number, body: number, seq: number): boolean {
  if (buf.readUInt32LE(p + body) !== crc32(buf.subarray(p + 4, p + body))) return false;
  if (buf[p + 4] !== KIND_DATA_AGAIN) return true;
  const source = buf.readDoubleLE(p + RECORD_HEAD);
  return Number.isInteger(source) && source >= 0 && source < seq;
}

/** The data bytes a valid record at `p` carries or stands for (0 for lifecycle and log records). */
function dataBytesOf(buf: Buffer, p: number, body: number): number {
  const kind = buf[p + 4];
  return kind === KIND_DATA ? body - 28 : kind === KIND_DATA_AGAIN ? buf.readUInt32LE(p + RECORD_HEAD + 8) : 0;
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

/**
 * Decodes a data, lifecycle or log record already checked by headIsPlausible and recordIsValid. Payload bytes are
 * copied: the event owns them.
 */
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

/** Whether the bytes from `pos` to the end (`size`) are a direct writer's zero padding (see the top comment). */
async function isPadding(cursor: BlockCursor, pos: number, size: number): Promise<boolean> {
  const n = size - pos;
  if (n <= 0 || n >= PADDING_BLOCK || size % PADDING_BLOCK !== 0) return false;
  const p = await cursor.at(pos, n);
  if (p < 0) return false;
  for (let i = p; i < p + n; i += 1) if (cursor.buf[i] !== 0) return false;
  return true;
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
        if (p < 0 || !headIsPlausible(cursor.buf, p, summary.count, version)) break;
        const body = cursor.buf.readUInt32LE(p);
        p = await cursor.at(pos, 4 + body);
        if (p < 0 || !recordIsValid(cursor.buf, p, body, summary.count)) break;
        index.note(pos);
        const b = cursor.buf;
        summarize(summary, b.readDoubleLE(p + 20), b[p + 4]!, b[p + 5]!, dataBytesOf(b, p, body));
        pos += 4 + body;
      }
      index.commit(summary.count, pos);
      const lost = (await isPadding(cursor, pos, size)) ? 0 : size - pos;
      return new CaptureReader(file, handle, meta, version, index, summary, size, lost, false);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  /** Opens the file `writer` is appending to; reads see every record the writer has written. */
  static async follow(writer: CaptureWriter): Promise<CaptureReader> {
    const handle = await openFile(writer.file, "r");
    const size = writer.index.end;
    return new CaptureReader(
      writer.file,
      handle,
      writer.meta,
      writer.version,
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
   * Records `from` .. `from + count - 1`, clamped to the readable ones, in order. Each event owns its bytes, except
   * that a "data again" event shares them with its source when both are in the result (never mutate them). Stops
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

  private corrupt(seq: number): CaptureError {
    return new CaptureError(
      "CORRUPT",
      this.file,
      `${this.file}: record ${seq} changed or vanished since it was indexed`,
    );
  }

  /** A cursor positioned at record `seq` (< count): its offset, found from the nearest mark. */
  private async seek(seq: number): Promise<{ cursor: BlockCursor; pos: number }> {
    const cursor = new BlockCursor(this.handle, this.index.end, READ_BLOCK);
    let { seq: at, offset: pos } = this.index.locate(seq);
    for (; at < seq; at += 1) {
      const p = await cursor.at(pos, 4);
      if (p < 0) throw this.corrupt(at);
      pos += 4 + cursor.buf.readUInt32LE(p);
    }
    return { cursor, pos };
  }

  /** Where the checked record `seq` at `pos` is in `cursor.buf`, and its body length. */
  private async checked(cursor: BlockCursor, pos: number, seq: number): Promise<{ p: number; body: number }> {
    let p = await cursor.at(pos, RECORD_HEAD);
    if (p < 0 || !headIsPlausible(cursor.buf, p, seq, this.version)) throw this.corrupt(seq);
    const body = cursor.buf.readUInt32LE(p);
    p = await cursor.at(pos, 4 + body);
    if (p < 0 || !recordIsValid(cursor.buf, p, body, seq)) throw this.corrupt(seq);
    return { p, body };
  }

  private async readRange(from: number, count: number, maxBytes: number): Promise<TimelineEvent[]> {
    const total = this.index.count;
    const start = Math.max(0, Math.min(total, Math.trunc(from) || 0));
    const end = Math.min(total, start + Math.max(0, Math.trunc(count) || 0));
    if (start >= end) return [];
    const { cursor, pos: first } = await this.seek(start);
    const events: TimelineEvent[] = [];
    let bytes = 0;
    for (let seq = start, pos = first; seq < end; seq += 1) {
      const { p, body } = await this.checked(cursor, pos, seq);
      const buf = cursor.buf;
      bytes += dataBytesOf(buf, p, body);
      if (bytes > maxBytes && events.length > 0) break;
      if (buf[p + 4] === KIND_DATA_AGAIN) {
        const source = buf.readDoubleLE(p + RECORD_HEAD);
        const length = buf.readUInt32LE(p + RECORD_HEAD + 8);
        const dir = buf[p + 5] === 0 ? "in" : "out";
        const [t, conn] = [buf.readDoubleLE(p + 20), buf.readUInt32LE(p + 8)];
        const earlier = source >= start ? events[source - start] : undefined;
        const data = earlier?.kind === "data" ? earlier.data : await this.dataOf(source);
        if (data.byteLength !== length) throw this.corrupt(seq);
        events.push({ seq, t, conn, kind: "data", dir, data });
      } else {
        events.push(decodeRecord(buf, p, body, this.file));
      }
      pos += 4 + body;
    }
    return events;
  }

  /** The bytes of data record `seq`, which a "data again" record before the range being read names. */
  private async dataOf(seq: number): Promise<Uint8Array> {
    const { cursor, pos } = await this.seek(seq);
    const { p, body } = await this.checked(cursor, pos, seq);
    if (cursor.buf[p + 4] !== KIND_DATA) throw this.corrupt(seq);
    const data = new Uint8Array(body - 28);
    data.set(cursor.buf.subarray(p + RECORD_HEAD, p + body));
    return data;
  }

  /** Waits for reads in flight, then closes the file. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.inFlight]);
    await this.handle.close();
  }
}
