/**
 * A session's recorder: numbers every event of the session's timeline, appends it to the session's capture file,
 * and keeps the most recent events in memory so that what the renderer looks at most (the live tail) needs no disk
 * read. Memory is bounded whatever the session's length: the window is capped by events and by bytes (its data
 * bytes are read in the capture writer's batch buffers, which it keeps for it: at most about twice the window's bytes
 * in whole buffers), the capture writer's queue by MAX_QUEUED_BYTES, the index is sparse.
 */
import { performance } from "node:perf_hooks";
import type { NewTimelineEvent, TimelineEvent } from "../../preload/timeline.ts";
import { CaptureError, RECORD_OVERHEAD, type CaptureMeta } from "./capture-format.ts";
import { CaptureReader } from "./capture-reader.ts";
import { CaptureWriter, type CaptureWriterOptions } from "./capture-writer.ts";
import { EncodedLogEvent } from "./encoded-log-event.ts";
import { EventWindow } from "./event-window.ts";
import type { ChangeNotifier } from "./notifier.ts";
import { TimelineIndex } from "./timeline-index.ts";

const ENGINE_START = process.hrtime.bigint();

/** Wall-clock time (ms since the Unix epoch) at which monotonicMicros() was 0: relates `t` to the calendar. */
export const engineTimeOrigin = performance.timeOrigin + performance.now();

/**
 * Microseconds since the engine started, on a monotonic clock (never jumps with the wall clock), as a whole
 * number. The `t` of every timeline event; cheap enough to call per chunk.
 */
export function monotonicMicros(): number {
  return Math.floor(Number(process.hrtime.bigint() - ENGINE_START) / 1000);
}

/** Events read at a time to index a capture that is continued. */
const INDEX_BATCH = 4096;

/** Default bounds of the in-memory window. */
export const WINDOW_EVENTS = 50_000;
export const WINDOW_BYTES = 32 * 1024 * 1024;
/**
 * A read returns fewer events than asked rather than more payload than this (always at least one event). Small
 * enough that the workbench's few reads in flight (base64 makes them 4/3 bigger) stay well under what browser mode
 * lets wait for one client before it drops it as too slow (ws-server.ts MAX_BUFFERED_AMOUNT, 64 MiB): a timeline of
 * 64 KiB chunks (a process writing as fast as it can) is read a few dozen rows at a time, not 500.
 */
export const READ_MAX_BYTES = 4 * 1024 * 1024;

/** How a recorder is set up. */
export interface RecorderOptions {
  /** The window keeps at most this many of the latest events (default WINDOW_EVENTS, at least 1) ... */
  windowEvents?: number;
  /**
   * ... and at most this many bytes of them (default WINDOW_BYTES), each counted as its size in the file, a data
   * event as its bytes plus RECORD_OVERHEAD (also when the file holds it as "data again").
   */
  windowBytes?: number;
  /** Told of every append, as `notifier.touch(session, count)`. */
  changes?: { notifier: ChangeNotifier; session: string };
  /** How the capture file is written (the bound of its write queue). */
  writer?: CaptureWriterOptions;
}

/** A recorder's figures, for the session list and the status bar. */
export interface RecorderStats {
  /** Events on the timeline. */
  count: number;
  /** Payload bytes received from peers, and written to them. */
  bytesIn: number;
  bytesOut: number;
  /** `t` of the first and last event, null while there are none. */
  firstT: number | null;
  lastT: number | null;
  /** Size of the capture file once everything appended is written. */
  fileBytes: number;
  /** A torn tail found and cut off when the capture was reopened (bytes); 0 for a new capture. */
  lostBytes: number;
  /** The in-memory window: first seq, events, bytes. */
  window: { from: number; events: number; bytes: number };
  /** Why the capture file stopped growing (a failed write), or null. Events since are in memory only. */
  error: string | null;
}

/**
 * Records one session. Created when the session starts (`create`) or to continue a saved capture (`open`); the
 * session owns it and closes it when the session ends. `append` is the hot path (every chunk): synchronous, O(1)
 * amortized beyond copying the bytes into the capture writer's batch, once however often the same chunk is appended
 * (the window reads them there); the disk is written off the event loop.
 */
export class Recorder {
  private readonly window: EventWindow;
  private closed = false;
  /** The timeline's index (timeline-index.ts): every event appended is in it as soon as `append` returns. */
  readonly index = new TimelineIndex();

  private constructor(
    private readonly writer: CaptureWriter,
    private readonly reader: CaptureReader,
    /** Added to the `t` of appended events so that a reopened capture keeps its time axis (0 for a new one). */
    readonly timeOffset: number,
    private readonly lostBytes: number,
    private readonly options: RecorderOptions,
  ) {
    const events = Math.max(1, Math.trunc(options.windowEvents ?? WINDOW_EVENTS));
    this.window = new EventWindow(writer.count, events, Math.max(0, options.windowBytes ?? WINDOW_BYTES), writer.file);
  }

  /**
   * Starts a capture in `file`, which must not exist. `meta` (JSON-safe) is kept in the file's header along with
   * the engine's `timeOrigin`.
   */
  static async create(file: string, meta: Record<string, unknown>, options: RecorderOptions = {}): Promise<Recorder> {
    const writer = await CaptureWriter.create(file, { ...meta, timeOrigin: engineTimeOrigin }, options.writer);
    try {
      return new Recorder(writer, await CaptureReader.follow(writer), 0, 0, options);
    } catch (err) {
      await writer.close();
      throw err;
    }
  }

  /**
   * Continues the capture in `file`: a torn tail (the process was killed mid-write) is cut off and reported in
   * `stats().lostBytes`, numbering continues after the last valid event, and new events' `t` are shifted onto the
   * capture's time axis (`timeOffset`), never before its last event. Its events are indexed first (read once,
   * INDEX_BATCH at a time). Throws CaptureError for a file that is not
   * a capture or is of a newer format.
   */
  static async open(file: string, options: RecorderOptions = {}): Promise<Recorder> {
    const reader = await CaptureReader.open(file);
    try {
      const writer = await CaptureWriter.resume(reader, options.writer);
      const axisShift = (engineTimeOrigin - reader.meta.timeOrigin) * 1000;
      const offset = Math.max(axisShift, (reader.summary.lastT ?? -Infinity) - monotonicMicros());
      const recorder = new Recorder(writer, reader, offset, reader.lostBytes, options);
      const index = (e: TimelineEvent): void => recorder.index.add(e.seq, e.t, e);
      for (let from = 0; from < reader.count; from = recorder.index.count) {
        await reader.scan(from, INDEX_BATCH, READ_MAX_BYTES, index);
      }
      return recorder;
    } catch (err) {
      await reader.close();
      throw err;
    }
  }

  /** The capture file. */
  get file(): string {
    return this.writer.file;
  }

  /** The capture's header. */
  get meta(): CaptureMeta {
    return this.writer.meta;
  }

  /** Events on the timeline (the next event's seq). */
  get count(): number {
    return this.writer.count;
  }

  /**
   * Numbers `e`, records it and returns the recorded event (a new object holding `e.data` itself). Takes ownership
   * of a data event's bytes: the caller must never change them afterwards (the engine's chunks are fresh Buffers from
   * a socket or copies from the sandbox; a buffer that is reused must be copied before it is appended). That is what
   * lets appending the same chunk again, as a proxy does when it forwards what it received, cost no second copy in
   * memory or on disk. Synchronous; the event is on its way to the file within FLUSH_INTERVAL_MS. A disk failure
   * doesn't throw (see `stats().error`); a closed recorder or an event the format can't hold (conn outside u32)
   * does.
   */
  append(e: NewTimelineEvent): TimelineEvent {
    if (this.closed) throw new CaptureError("closed", this.file, `${this.file}: recorder is closed`);
    const seq = this.writer.count;
    const t = e.t + this.timeOffset;
    let event: TimelineEvent;
    switch (e.kind) {
      case "data":
        event = { seq, t, conn: e.conn, kind: "data", dir: e.dir, data: e.data };
        if (e.fd !== undefined) event.fd = e.fd;
        break;
      case "lifecycle":
        event = { seq, t, conn: e.conn, kind: "lifecycle", event: e.event, detail: e.detail };
        if (e.fields !== undefined) event.fields = e.fields;
        break;
      case "log":
        if (e instanceof EncodedLogEvent) {
          event = e.numbered(seq, t); // its payload stays the bytes its source wrote; text and fields parsed if read
          break;
        }
        event = { seq, t, conn: e.conn, kind: "log", level: e.level, text: e.text, fields: e.fields };
        if (e.spans !== undefined) event.spans = e.spans;
        if (e.fieldSpans !== undefined) event.fieldSpans = e.fieldSpans;
        if (e.pair !== undefined) event.pair = e.pair;
        break;
    }
    const size = this.writer.append(event);
    this.index.add(seq, t, e);
    if (event.kind === "data") {
      this.window.add(event, RECORD_OVERHEAD + event.data.byteLength, this.writer.dataBuffer, this.writer.dataOffset);
    } else {
      this.window.add(event, size, this.writer.recordBuffer, this.writer.recordOffset);
    }
    this.writer.retainFrom(this.window.start);
    this.options.changes?.notifier.touch(this.options.changes.session, seq + 1);
    return event;
  }

  /**
   * Events `from` .. `from + count - 1`, clamped to the timeline, in order: from memory when they are in the
   * window, else from the file (waiting for the ones still on their way to it). Fewer than asked only past
   * READ_MAX_BYTES of payload. Rejects with CaptureError "write-failed" if they never reached a failed file. Two
   * events of a forwarded chunk may share one byte array: treat the bytes as read-only.
   */
  async read(from: number, count: number): Promise<TimelineEvent[]> {
    if (this.closed) throw new CaptureError("closed", this.file, `${this.file}: recorder is closed`);
    const total = this.count;
    const start = Math.max(0, Math.min(total, Math.trunc(from) || 0));
    const end = Math.min(total, start + Math.max(0, Math.trunc(count) || 0));
    const windowStart = this.window.start;
    // Taken now: by the time the file answers, the window may have moved on.
    const tail = this.window.slice(Math.max(start, windowStart), end);
    if (start >= windowStart) return takeWithin(tail, READ_MAX_BYTES, []);
    const fileEnd = Math.min(end, windowStart);
    if (this.writer.index.count < fileEnd) await this.flush();
    const head = await this.reader.read(start, fileEnd - start, READ_MAX_BYTES);
    if (head.length < fileEnd - start) return head;
    return takeWithin(tail, READ_MAX_BYTES - payloadBytes(head), head);
  }

  /**
   * Hands events `from` .. `from + count - 1` (clamped to the timeline) to `visit` in order, as `read` finds them,
   * without copying the chunks read from the file: their bytes are valid only during the call. At least one event,
   * then none past `maxBytes` of payload. Resolves with how many were visited. For searches (findTimeline), which look
   * at every event and keep none.
   */
  async scan(from: number, count: number, maxBytes: number, visit: (e: TimelineEvent) => void): Promise<number> {
    if (this.closed) throw new CaptureError("closed", this.file, `${this.file}: recorder is closed`);
    const total = this.count;
    const start = Math.max(0, Math.min(total, Math.trunc(from) || 0));
    const end = Math.min(total, start + Math.max(0, Math.trunc(count) || 0));
    const windowStart = this.window.start;
    if (start >= windowStart) {
      const tail = takeWithin(this.window.slice(start, end), maxBytes, []);
      tail.forEach(visit);
      return tail.length;
    }
    const fileEnd = Math.min(end, windowStart);
    if (this.writer.index.count < fileEnd) await this.flush();
    return this.reader.scan(start, fileEnd - start, maxBytes, visit);
  }

  /** The recorder's figures now. */
  stats(): RecorderStats {
    const s = this.writer.summary;
    return {
      count: s.count,
      bytesIn: s.bytesIn,
      bytesOut: s.bytesOut,
      firstT: s.firstT,
      lastT: s.lastT,
      fileBytes: this.writer.size,
      lostBytes: this.lostBytes,
      window: { from: this.window.start, events: this.window.length, bytes: this.window.size },
      error: this.writer.error?.message ?? null,
    };
  }

  /** Writes out everything appended so far. Rejects with CaptureError "write-failed" if the file can't take it. */
  async flush(): Promise<void> {
    await this.writer.flush();
    if (this.writer.error !== null) throw this.writer.error;
  }

  /**
   * Writes out everything and closes the file; waits for reads in flight. Idempotent. Doesn't reject for a failed
   * disk (that is in `stats().error`).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.writer.close();
    await this.reader.close();
  }
}

function payloadBytes(events: TimelineEvent[]): number {
  let bytes = 0;
  for (const e of events) if (e.kind === "data") bytes += e.data.byteLength;
  return bytes;
}

/** Appends `events` to `into` while their payload stays within `budget`; at least one if `into` is empty. */
function takeWithin(events: TimelineEvent[], budget: number, into: TimelineEvent[]): TimelineEvent[] {
  let bytes = 0;
  for (const e of events) {
    bytes += e.kind === "data" ? e.data.byteLength : 0;
    if (bytes > budget && into.length > 0) break;
    into.push(e);
  }
  return into;
}
