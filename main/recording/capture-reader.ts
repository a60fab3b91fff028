/**
 * Reading a capture file (format in capture-format.ts) by ranges of seq, through the sparse index: a finished or
 * crashed file scanned and checked once when opened, or the live file of a writer, followed.
 */
import type { FileHandle } from "node:fs/promises";
import { open as openFile } from "node:fs/promises";
import type { DataEvent, TimelineEvent } from "../../preload/timeline.ts";
import { checksumKind } from "./capture-checksum.ts";
import { dataBytesOf, decodeRecord, headIsPlausible, parseJson, recordIsValid, withFd } from "./capture-decoding.ts";
import {
  CAPTURE_VERSION,
  CaptureError,
  emptySummary,
  HEADER_FIXED,
  MAGIC,
  PADDING_BLOCK,
  RECORD_HEAD,
  RECORD_KIND,
  summarize,
  type CaptureMeta,
  type CaptureSummary,
} from "./capture-format.ts";
import { CaptureIndex } from "./capture-index.ts";
import type { CaptureWriter } from "./capture-writer.ts";

/** Reads go through blocks of at least this size; the open-time scan through larger ones. */
const READ_BLOCK = 256 * 1024;
const SCAN_BLOCK = 4 * 1024 * 1024;

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

  /** Where bytes [pos, pos+n) are in `buf` if they are there already, else -1 (without reading). */
  loaded(pos: number, n: number): number {
    return pos >= this.start && pos + n <= this.start + this.length ? pos - this.start : -1;
  }

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

/**
 * Checks the records from the index's end on (checksum, numbering) through `cursor`, up to its limit, noting each valid
 * one in `index` and `summary` and committing them; stops at the first that fails or doesn't fit. Returns where the
 * valid records end.
 */
async function scanRecords(
  cursor: BlockCursor,
  version: number,
  index: CaptureIndex,
  summary: CaptureSummary,
): Promise<number> {
  let pos = index.end;
  while (true) {
    let p = await cursor.at(pos, RECORD_HEAD);
    if (p < 0 || !headIsPlausible(cursor.buf, p, summary.count, version)) break;
    const body = cursor.buf.readUInt32LE(p);
    p = await cursor.at(pos, 4 + body);
    if (p < 0 || !recordIsValid(cursor.buf, p, body, summary.count, checksumKind(version))) break;
    index.note(pos);
    const b = cursor.buf;
    summarize(summary, b.readDoubleLE(p + 20), b[p + 4]!, b[p + 5]!, dataBytesOf(b, p, body));
    pos += 4 + body;
  }
  index.commit(summary.count, pos);
  return pos;
}

/** Reads and checks the header; returns the meta, version and where records start. */
async function readHeader(
  handle: FileHandle,
  file: string,
  size: number,
): Promise<{ meta: CaptureMeta; version: number; firstRecord: number }> {
  const notACapture = (why: string): CaptureError =>
    new CaptureError("not-a-capture", file, `${file} is not a Wirescope capture file (${why})`);
  const cursor = new BlockCursor(handle, size, 64 * 1024);
  let p = await cursor.at(0, HEADER_FIXED);
  if (p < 0 || !cursor.buf.subarray(0, MAGIC.length).equals(MAGIC)) throw notACapture("no capture header");
  const version = cursor.buf.readUInt16LE(8);
  if (version > CAPTURE_VERSION) {
    throw new CaptureError(
      "newer-version",
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
   * Opens `file`, checks its header and every record (checksum, numbering), and builds the sparse index. Never throws
   * for a truncated or garbled tail: the records before it are readable and the rest is counted in `lostBytes`.
   * Throws CaptureError "not-a-capture" / "newer-version" naming the file, or the fs error if it can't be opened.
   */
  static async open(file: string): Promise<CaptureReader> {
    const handle = await openFile(file, "r");
    try {
      const size = (await handle.stat()).size;
      const { meta, version, firstRecord } = await readHeader(handle, file, size);
      const index = new CaptureIndex(firstRecord);
      const summary = emptySummary();
      const cursor = new BlockCursor(handle, size, SCAN_BLOCK);
      const pos = await scanRecords(cursor, version, index, summary);
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

  /**
   * Reads on into what another process appended to the file since it was opened or last grown (a capture still
   * being written), checking each new record as `open` does and making it readable; `summary` counts them too. Reads
   * at most about `maxBytes` new bytes (all that was appended when the next record alone is larger), so a call's work is bounded.
   * Returns the file's size now and the bytes past the last valid record: a record still being written, the
   * writer's padding (`padding` true), or damage. Not for a reader following a writer in this process (`follow`).
   */
  async grow(maxBytes: number): Promise<{ size: number; unread: number; padding: boolean }> {
    const size = (await this.handle.stat()).size;
    const from = this.index.end;
    if (size > from) {
      await scanRecords(
        new BlockCursor(this.handle, Math.min(size, from + maxBytes), READ_BLOCK),
        this.version,
        this.index,
        this.summary,
      );
      if (this.index.end === from && size > from + maxBytes) {
        await scanRecords(new BlockCursor(this.handle, size, READ_BLOCK), this.version, this.index, this.summary);
      }
    }
    const end = this.index.end;
    const padding = await isPadding(new BlockCursor(this.handle, size, READ_BLOCK), end, size);
    return { size, unread: Math.max(0, size - end), padding };
  }

  /** Records readable now. */
  get count(): number {
    return this.index.count;
  }

  /**
   * Records `from` .. `from + count - 1`, clamped to the readable ones, in order. Each event owns its bytes, except
   * that a "data again" event shares them with its source when both are in the result (never mutate them). Stops
   * early, after at least one record, before the data bytes would pass `maxBytes`. Rejects with CaptureError "corrupt"
   * if a record changed since it was indexed, "closed" after close().
   */
  read(from: number, count: number, maxBytes = Infinity): Promise<TimelineEvent[]> {
    return this.track(this.readRange(from, count, maxBytes));
  }

  /**
   * Like `read`, but hands each event to `visit` as it is decoded, with a chunk's bytes a view into the reader's
   * block rather than a copy: valid only during the call (`visit` must not keep them). For searches that look at
   * every event and keep none. Resolves with how many events were visited.
   */
  scan(from: number, count: number, maxBytes: number, visit: (e: TimelineEvent) => void): Promise<number> {
    return this.track(
      this.walk(from, count, maxBytes, (buf, p, body, seq) => {
        if (buf[p + 4] === RECORD_KIND.data) {
          const data = buf.subarray(p + RECORD_HEAD, p + body);
          const dir = buf[p + 5] === 0 ? "in" : "out";
          visit(
            withFd(
              { seq, t: buf.readDoubleLE(p + 20), conn: buf.readUInt32LE(p + 8), kind: "data", dir, data },
              buf,
              p,
            ),
          );
        } else if (buf[p + 4] === RECORD_KIND.dataAgain) {
          return this.dataAgain(buf, p, seq, undefined).then(visit);
        } else {
          visit(decodeRecord(buf, p, body, this.file));
        }
      }),
    );
  }

  /** `reading`, waited for by close(). */
  private track<T>(reading: Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new CaptureError("closed", this.file, `${this.file}: reader is closed`));
    this.inFlight.add(reading);
    const untrack = (): void => void this.inFlight.delete(reading);
    reading.then(untrack, untrack);
    return reading;
  }

  private corrupt(seq: number): CaptureError {
    return new CaptureError(
      "corrupt",
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
    return this.checkedIfLoaded(cursor, pos, seq) ?? this.checkedAfterReading(cursor, pos, seq);
  }

  /**
   * `checked` without awaiting, when the whole record is in the cursor's block already (nearly always, walking
   * forward): null when it isn't. A walk checks record after record this way without a promise for each.
   */
  private checkedIfLoaded(cursor: BlockCursor, pos: number, seq: number): { p: number; body: number } | null {
    const head = cursor.loaded(pos, RECORD_HEAD);
    if (head < 0) return null;
    const body = cursor.buf.readUInt32LE(head);
    const p = cursor.loaded(pos, 4 + body);
    if (p < 0) return null;
    if (
      !headIsPlausible(cursor.buf, p, seq, this.version) ||
      !recordIsValid(cursor.buf, p, body, seq, checksumKind(this.version))
    ) {
      throw this.corrupt(seq);
    }
    return { p, body };
  }

  private async checkedAfterReading(
    cursor: BlockCursor,
    pos: number,
    seq: number,
  ): Promise<{ p: number; body: number }> {
    let p = await cursor.at(pos, RECORD_HEAD);
    if (p < 0 || !headIsPlausible(cursor.buf, p, seq, this.version)) throw this.corrupt(seq);
    const body = cursor.buf.readUInt32LE(p);
    p = await cursor.at(pos, 4 + body);
    if (p < 0 || !recordIsValid(cursor.buf, p, body, seq, checksumKind(this.version))) throw this.corrupt(seq);
    return { p, body };
  }

  /**
   * Walks the checked records `from` .. `from + count - 1`, clamped to the readable ones, handing each to `onRecord`
   * where it is in the block (`buf`, `p`, its body length); stops early, after at least one record, before the data
   * bytes would pass `maxBytes`. Resolves with how many were walked.
   */
  private async walk(
    from: number,
    count: number,
    maxBytes: number,
    onRecord: (buf: Buffer, p: number, body: number, seq: number) => Promise<void> | void,
  ): Promise<number> {
    const total = this.index.count;
    const start = Math.max(0, Math.min(total, Math.trunc(from) || 0));
    const end = Math.min(total, start + Math.max(0, Math.trunc(count) || 0));
    if (start >= end) return 0;
    const { cursor, pos: first } = await this.seek(start);
    let bytes = 0;
    let seq = start;
    for (let pos = first; seq < end; seq += 1) {
      const { p, body } = this.checkedIfLoaded(cursor, pos, seq) ?? (await this.checkedAfterReading(cursor, pos, seq));
      bytes += dataBytesOf(cursor.buf, p, body);
      if (bytes > maxBytes && seq > start) break;
      const handled = onRecord(cursor.buf, p, body, seq);
      if (handled !== undefined) await handled;
      pos += 4 + body;
    }
    return seq - start;
  }

  private async readRange(from: number, count: number, maxBytes: number): Promise<TimelineEvent[]> {
    const events: TimelineEvent[] = [];
    const start = Math.max(0, Math.trunc(from) || 0);
    await this.walk(from, count, maxBytes, (buf, p, body, seq) => {
      if (buf[p + 4] !== RECORD_KIND.dataAgain) return void events.push(decodeRecord(buf, p, body, this.file));
      const source = buf.readDoubleLE(p + RECORD_HEAD);
      const earlier = source >= start ? events[source - start] : undefined;
      return this.dataAgain(buf, p, seq, earlier?.kind === "data" ? earlier.data : undefined).then((e) => {
        events.push(e);
      });
    });
    return events;
  }

  /** The event of the "data again" record `seq` at `p`: its source's bytes (`known`, or read), not a copy of them. */
  private async dataAgain(buf: Buffer, p: number, seq: number, known: Uint8Array | undefined): Promise<DataEvent> {
    const source = buf.readDoubleLE(p + RECORD_HEAD);
    const length = buf.readUInt32LE(p + RECORD_HEAD + 8);
    const dir = buf[p + 5] === 0 ? "in" : "out";
    const [t, conn, fd] = [buf.readDoubleLE(p + 20), buf.readUInt32LE(p + 8), buf.readUInt16LE(p + 6)];
    const data = known ?? (await this.dataOf(source));
    if (data.byteLength !== length) throw this.corrupt(seq);
    const event: DataEvent = { seq, t, conn, kind: "data", dir, data };
    if (fd > 0) event.fd = fd - 1;
    return event;
  }

  /** The bytes of data record `seq`, which a "data again" record before the range being read names. */
  private async dataOf(seq: number): Promise<Uint8Array> {
    const { cursor, pos } = await this.seek(seq);
    const { p, body } = await this.checked(cursor, pos, seq);
    if (cursor.buf[p + 4] !== RECORD_KIND.data) throw this.corrupt(seq);
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
