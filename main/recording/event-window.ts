/**
 * The recorder's in-memory window: the latest events of a timeline, so that the live tail needs no disk read.
 *
 * It holds no object and no copy per event. A data event's bytes are read where the capture writer encoded them (its
 * batch buffer, which the writer keeps while the window holds an event in it: CaptureWriter.retainFrom), and their
 * metadata goes into typed arrays; a lifecycle or log event is read back from its record there, decoded as a capture
 * reader decodes it. Retaining the chunks themselves would keep hundreds of socket buffers alive at a time, and
 * retaining events as objects tens of thousands of them (a protocol logging every message it decodes): each one
 * would outlive the young generation, and under heavy traffic V8 would spend more time in full collections than the
 * engine spends recording. A read copies the bytes out and decodes the records it returns.
 */
import type { DataEvent, TimelineEvent } from "../../preload/timeline.ts";
import { decodeRecord } from "./capture-decoding.ts";
import { EncodedLogEvent } from "./encoded-log-event.ts";

/**
 * The latest events of a timeline, at most `maxEvents` of them and `maxBytes` by size. The recorder adds every event
 * it numbers; the oldest go first.
 */
export class EventWindow {
  /** seq of the oldest event held. */
  start: number;
  /** Events held. */
  length = 0;
  /** Their sizes added up. */
  size = 0;
  /** Ring slot of the oldest event. */
  private first = 0;
  /** Events given without a record to read them from (see `add`); null in the other slots. */
  private readonly objects: (TimelineEvent | null)[];
  /** 1 in the slots of lifecycle and log events read from their record (at `at` in their holder), 0 elsewhere. */
  private readonly isRecord: Uint8Array;
  private readonly sizes: Float64Array;
  private readonly t: Float64Array;
  private readonly conn: Uint32Array;
  private readonly dir: Uint8Array;
  /** A process session's child fd + 1 (capture-format.ts's encoding), 0 for a socket's bytes. */
  private readonly fd: Uint16Array;
  /** Where a data event's bytes are: the buffer holding them (null in other slots), the offset, how many. */
  private readonly holders: (Uint8Array | null)[];
  private readonly at: Float64Array;
  private readonly byteLength: Float64Array;

  constructor(
    /** seq of the next event added. */
    next: number,
    private readonly maxEvents: number,
    private readonly maxBytes: number,
    /** The capture file, named in the error a damaged record would give (see decodeRecord). */
    private readonly file: string,
  ) {
    this.start = next;
    this.objects = new Array<TimelineEvent | null>(maxEvents).fill(null);
    this.isRecord = new Uint8Array(maxEvents);
    this.sizes = new Float64Array(maxEvents);
    this.t = new Float64Array(maxEvents);
    this.conn = new Uint32Array(maxEvents);
    this.dir = new Uint8Array(maxEvents);
    this.fd = new Uint16Array(maxEvents);
    this.holders = new Array<Uint8Array | null>(maxEvents).fill(null);
    this.at = new Float64Array(maxEvents);
    this.byteLength = new Float64Array(maxEvents);
  }

  /**
   * Adds the newest event (its seq must be `start + length`), counted as `size` bytes, dropping the oldest past
   * either bound. An event larger than the byte bound on its own empties the window. A data event's bytes are read
   * from `holder` at `at`, a lifecycle or log event from its record (capture-format.ts) at `at` in `holder`, as long
   * as the window holds it: whoever gives them must not change them until then. Without a holder, a lifecycle or log
   * event is kept as it is.
   */
  add(event: TimelineEvent, size: number, holder: Uint8Array | undefined, at: number): void {
    if (this.length === this.maxEvents) this.dropOldest();
    while (this.size + size > this.maxBytes && this.length > 0) this.dropOldest();
    if (size > this.maxBytes) return this.skip(event.seq);
    const slot = (this.first + this.length) % this.maxEvents;
    if (event.kind === "data") {
      this.holders[slot] = holder ?? null;
      this.at[slot] = at;
      this.byteLength[slot] = event.data.byteLength;
      this.objects[slot] = null;
      this.t[slot] = event.t;
      this.conn[slot] = event.conn;
      this.dir[slot] = event.dir === "in" ? 0 : 1;
      this.fd[slot] = event.fd === undefined ? 0 : event.fd + 1;
      this.isRecord[slot] = 0;
    } else if (holder !== undefined) {
      this.holders[slot] = holder;
      this.at[slot] = at;
      this.objects[slot] = null;
      this.isRecord[slot] = 1;
    } else {
      this.objects[slot] = event instanceof EncodedLogEvent ? event.plain() : event;
      this.isRecord[slot] = 0;
    }
    this.sizes[slot] = size;
    this.length += 1;
    this.size += size;
  }

  /**
   * Events `from` .. `end - 1` (all in the window), data events with bytes of their own, lifecycle and log events
   * decoded from their records (new objects each time: the caller may keep or change them).
   */
  slice(from: number, end: number): TimelineEvent[] {
    const events: TimelineEvent[] = [];
    for (let seq = from; seq < end; seq += 1) {
      const slot = (this.first + seq - this.start) % this.maxEvents;
      const object = this.objects[slot];
      if (object !== null && object !== undefined) {
        events.push(object);
        continue;
      }
      const holder = this.holders[slot];
      if (this.isRecord[slot] === 1) {
        const buf = Buffer.from(holder!.buffer, holder!.byteOffset, holder!.byteLength);
        const p = this.at[slot]!;
        events.push(decodeRecord(buf, p, buf.readUInt32LE(p), this.file));
        continue;
      }
      // A copy, and a plain Uint8Array whatever the holder is (Buffer's slice would be a view).
      const data =
        holder === null || holder === undefined
          ? new Uint8Array(0)
          : new Uint8Array(holder.buffer, holder.byteOffset + this.at[slot]!, this.byteLength[slot]).slice();
      const dir = this.dir[slot] === 0 ? "in" : "out";
      const event: DataEvent = { seq, t: this.t[slot]!, conn: this.conn[slot]!, kind: "data", dir, data };
      if (this.fd[slot]! > 0) event.fd = this.fd[slot]! - 1;
      events.push(event);
    }
    return events;
  }

  private skip(seq: number): void {
    this.start = seq + 1;
  }

  private dropOldest(): void {
    const slot = this.first;
    this.holders[slot] = null;
    this.objects[slot] = null;
    this.size -= this.sizes[slot]!;
    this.first = (slot + 1) % this.maxEvents;
    this.length -= 1;
    this.start += 1;
  }
}
