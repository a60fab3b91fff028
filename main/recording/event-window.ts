/**
 * The recorder's in-memory window: the latest events of a timeline, so that the live tail needs no disk read.
 *
 * It holds no object per chunk. Data bytes are copied into one byte ring, allocated at the window's byte bound the
 * first time data comes (its pages are only touched as it fills), and their metadata goes into typed arrays; only
 * lifecycle and log events are kept as objects. Retaining the chunks themselves would keep hundreds of socket
 * buffers alive at a time: each one would outlive the young generation, and under heavy traffic V8 would spend more
 * time in full collections than the proxy spends forwarding. A read copies the bytes out again.
 */
import type { DataEvent, TimelineEvent } from "../../preload/timeline.ts";

/**
 * A circular byte queue: regions are allocated at the head and freed at the tail, in allocation order. A region is
 * never split: one that doesn't fit before the end starts again at 0.
 */
class ByteRing {
  readonly bytes: Uint8Array;
  private head = 0;
  private tail = 0;
  private regions = 0;

  constructor(capacity: number) {
    this.bytes = new Uint8Array(capacity);
  }

  /** Where `n` bytes can go, or -1 if they don't fit until older regions are freed. */
  allocate(n: number): number {
    let at = -1;
    if (this.regions === 0) this.head = this.tail = 0;
    // head never catches up with tail from behind (the strict comparisons), so head == tail means no bytes in use.
    if (this.head >= this.tail) {
      // Used: [tail, head). Free: [head, end), then [0, tail).
      if (this.bytes.length - this.head >= n) at = this.head;
      else if (n < this.tail) at = 0;
    } else if (this.tail - this.head > n) {
      at = this.head; // Used: [tail, end) and [0, head). Free: [head, tail).
    }
    if (at < 0) return -1;
    this.head = at + n;
    this.regions += 1;
    return at;
  }

  /** Frees the oldest region, which ends at `end`. */
  free(end: number): void {
    this.regions -= 1;
    this.tail = end;
  }
}

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
  /** Lifecycle and log events; null in the slots of data events. */
  private readonly objects: (TimelineEvent | null)[];
  private readonly sizes: Float64Array;
  private readonly t: Float64Array;
  private readonly conn: Uint32Array;
  private readonly dir: Uint8Array;
  /** A process session's child fd + 1 (capture-format.ts's encoding), 0 for a socket's bytes. */
  private readonly fd: Uint16Array;
  /** Where a data event's bytes are in `ring`, how many, and whether its eviction frees them. */
  private readonly at: Float64Array;
  private readonly byteLength: Float64Array;
  private readonly frees: Uint8Array;
  private ring: ByteRing | null = null;
  /** The last chunk copied into the ring, by the event `lastSeq` in slot `lastSlot`: a chunk passed again shares it. */
  private last: Uint8Array | null = null;
  private lastSeq = -1;
  private lastSlot = 0;

  constructor(
    /** seq of the next event added. */
    next: number,
    private readonly maxEvents: number,
    private readonly maxBytes: number,
  ) {
    this.start = next;
    this.objects = new Array<TimelineEvent | null>(maxEvents).fill(null);
    this.sizes = new Float64Array(maxEvents);
    this.t = new Float64Array(maxEvents);
    this.conn = new Uint32Array(maxEvents);
    this.dir = new Uint8Array(maxEvents);
    this.fd = new Uint16Array(maxEvents);
    this.at = new Float64Array(maxEvents);
    this.byteLength = new Float64Array(maxEvents);
    this.frees = new Uint8Array(maxEvents);
  }

  /**
   * Adds the newest event (its seq must be `start + length`), counted as `size` bytes, dropping the oldest past
   * either bound. An event larger than the byte bound on its own empties the window.
   */
  add(event: TimelineEvent, size: number): void {
    if (this.length === this.maxEvents) this.dropOldest();
    while (this.size + size > this.maxBytes && this.length > 0) this.dropOldest();
    if (size > this.maxBytes) return this.skip(event.seq);
    const slot = (this.first + this.length) % this.maxEvents;
    if (event.kind === "data") {
      if (!this.keepBytes(event, slot)) return this.skip(event.seq);
      this.objects[slot] = null;
      this.t[slot] = event.t;
      this.conn[slot] = event.conn;
      this.dir[slot] = event.dir === "in" ? 0 : 1;
      this.fd[slot] = event.fd === undefined ? 0 : event.fd + 1;
    } else {
      this.objects[slot] = event;
    }
    this.sizes[slot] = size;
    this.length += 1;
    this.size += size;
  }

  /** Events `from` .. `end - 1` (all in the window), data events with bytes of their own. */
  slice(from: number, end: number): TimelineEvent[] {
    const events: TimelineEvent[] = [];
    for (let seq = from; seq < end; seq += 1) {
      const slot = (this.first + seq - this.start) % this.maxEvents;
      const object = this.objects[slot];
      if (object !== null && object !== undefined) {
        events.push(object);
        continue;
      }
      const at = this.at[slot]!;
      const data = this.ring?.bytes.slice(at, at + this.byteLength[slot]!) ?? new Uint8Array(0);
      const dir = this.dir[slot] === 0 ? "in" : "out";
      const event: DataEvent = { seq, t: this.t[slot]!, conn: this.conn[slot]!, kind: "data", dir, data };
      if (this.fd[slot]! > 0) event.fd = this.fd[slot]! - 1;
      events.push(event);
    }
    return events;
  }

  /** Copies the event's bytes into the ring (or shares those of the chunk just before, if it is the same). */
  private keepBytes(event: DataEvent, slot: number): boolean {
    const n = event.data.byteLength;
    if (n === 0) {
      this.at[slot] = this.byteLength[slot] = this.frees[slot] = 0;
      return true;
    }
    if (event.data === this.last && this.lastSeq >= this.start) {
      this.at[slot] = this.at[this.lastSlot]!;
      this.frees[this.lastSlot] = 0; // the newest event holding the bytes frees them
    } else {
      this.ring ??= new ByteRing(this.maxBytes);
      let at = this.ring.allocate(n);
      while (at < 0 && this.length > 0) {
        this.dropOldest();
        at = this.ring.allocate(n);
      }
      if (at < 0) return false;
      this.ring.bytes.set(event.data, at);
      this.at[slot] = at;
      this.last = event.data;
      this.lastSeq = event.seq;
    }
    this.byteLength[slot] = n;
    this.frees[slot] = 1;
    this.lastSlot = slot;
    return true;
  }

  private skip(seq: number): void {
    this.start = seq + 1;
  }

  private dropOldest(): void {
    const slot = this.first;
    if (this.objects[slot] === null && this.frees[slot] === 1) this.ring!.free(this.at[slot]! + this.byteLength[slot]!);
    this.objects[slot] = null;
    this.size -= this.sizes[slot]!;
    this.first = (slot + 1) % this.maxEvents;
    this.length -= 1;
    this.start += 1;
  }
}
