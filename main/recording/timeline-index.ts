/**
 * The index the engine keeps of one timeline as it records it (and as a reopened or followed capture is copied onto
 * a session, which goes through the same recorder): what a filter, the I/O graph, the hex view's highlight and
 * "which message holds this byte" need to know without reading the capture file.
 *
 * Columns in typed arrays, in blocks of BLOCK_EVENTS events, never an object per event: about 6 bytes per event
 * (kind, direction and fd in one byte; connection in one while a block has at most 256; size and time in 16 bits
 * while they fit: see Block), plus, per decoded message, its seq and pair latency and its spans (about 24 bytes).
 * The stream offset of a chunk is not stored per event: each stream (connection, direction, fd) keeps a mark every
 * STREAM_MARK_EVERY chunks, and an offset is counted from the nearest mark.
 *
 * Seqs fit in 32 bits here (a timeline of 4 billion events is far beyond what a capture file holds in practice).
 */
import type { Direction, NewTimelineEvent, Span, TimelineEvent } from "../../preload/timeline.ts";

/** Events per block (a power of two: the block of a seq is `seq >>> BLOCK_SHIFT`). */
const BLOCK_SHIFT = 16;
const BLOCK_EVENTS = 1 << BLOCK_SHIFT;
/** The first block starts this small and doubles: an idle session's index costs a few KiB. */
const FIRST_BLOCK_EVENTS = 1024;
/** Events per run of times kept in 16 bits (Block.t). */
const TIME_RUN_SHIFT = 8;
const TIME_RUN = 1 << TIME_RUN_SHIFT;
/** A stream keeps its offset at every this many chunks of it: counting an offset walks at most that many. */
const STREAM_MARK_EVERY = 64;

/** What an event is, as the kind column stores it. */
export const EVENT_KIND = { data: 0, lifecycle: 1, log: 2, message: 3 } as const;
export type EventKindCode = (typeof EVENT_KIND)[keyof typeof EVENT_KIND];

const KIND_MASK = 0b11;
const DIR_OUT = 0b100;
const FD_SHIFT = 3;
const FD_MASK = 0b111 << FD_SHIFT;
/** Set when the event has a direction: every chunk, and a message with spans (its first span's). */
const HAS_DIR = 0b1000_0000;

/** One block of columns. */
class Block {
  meta: Uint8Array;
  /** Connections: ids into `connTable` in 8 bits, else connections in 16 bits while they fit, else 32. */
  conn: Uint8Array | Uint16Array | Uint32Array;
  /**
   * While `conn` is a Uint8Array, it holds ids into this table of the block's connections (at most 256 of them:
   * a block of busy traffic is a few connections'); null once the block keeps connections themselves.
   */
  connTable: number[] | null = [];
  private readonly connIds = new Map<number, number>();
  /** Sizes likewise: a block of chunks of 64 KiB or more keeps them in 32 bits. */
  size: Uint16Array | Uint32Array;
  /**
   * `t` in the narrowest way that holds the block's times so far: whole µs since the first event of its run of
   * TIME_RUN events (`runBase`) in 16 bits (busy traffic: a run within 65 ms), else since the block's first event
   * (`tBase`) in 32 bits, else as they are.
   */
  t: Uint16Array | Uint32Array | Float64Array;
  runBase: Float64Array;
  tBase = NaN;
  length = 0;

  constructor(capacity: number) {
    this.meta = new Uint8Array(capacity);
    this.conn = new Uint8Array(capacity);
    this.size = new Uint16Array(capacity);
    this.t = new Uint16Array(capacity);
    this.runBase = new Float64Array(capacity >> TIME_RUN_SHIFT);
  }

  get capacity(): number {
    return this.meta.length;
  }

  grow(): void {
    const capacity = Math.min(BLOCK_EVENTS, this.capacity * 2);
    this.meta = copyInto(new Uint8Array(capacity), this.meta);
    this.conn =
      this.conn instanceof Uint8Array ? copyInto(new Uint8Array(capacity), this.conn) : resized(this.conn, capacity);
    this.size = resized(this.size, capacity);
    this.runBase = copyInto(new Float64Array(capacity >> TIME_RUN_SHIFT), this.runBase);
    this.t =
      this.t instanceof Uint16Array
        ? copyInto(new Uint16Array(capacity), this.t)
        : this.t instanceof Uint32Array
          ? copyInto(new Uint32Array(capacity), this.t)
          : copyInto(new Float64Array(capacity), this.t);
  }

  setConn(i: number, conn: number): void {
    if (this.conn instanceof Uint8Array) {
      const table = this.connTable!;
      let id = this.connIds.get(conn);
      if (id === undefined && table.length < 256) {
        id = table.length;
        table.push(conn);
        this.connIds.set(conn, id);
      }
      if (id !== undefined) return void (this.conn[i] = id);
      // A 257th connection: the block keeps connections themselves from now on.
      const wide = Math.max(conn, ...table) > 0xffff ? new Uint32Array(this.capacity) : new Uint16Array(this.capacity);
      for (let j = 0; j < this.length; j += 1) wide[j] = table[this.conn[j]!]!;
      this.conn = wide;
      this.connTable = null;
      this.connIds.clear();
    }
    if (conn > 0xffff && this.conn instanceof Uint16Array) this.conn = resized(this.conn, this.capacity, true);
    this.conn[i] = conn;
  }

  connAt(i: number): number {
    const value = this.conn[i]!;
    return this.connTable === null ? value : this.connTable[value]!;
  }

  setSize(i: number, size: number): void {
    if (size > 0xffff && this.size instanceof Uint16Array) this.size = resized(this.size, this.capacity, true);
    this.size[i] = size;
  }

  setT(i: number, t: number): void {
    if (i === 0) this.tBase = t;
    if (this.t instanceof Uint16Array) {
      const run = i >> TIME_RUN_SHIFT;
      if ((i & (TIME_RUN - 1)) === 0) this.runBase[run] = t;
      const delta = t - this.runBase[run]!;
      if (fits(delta, 0xffff)) return void (this.t[i] = delta);
      this.t = this.widerTimes(t);
    }
    if (this.t instanceof Uint32Array) {
      const delta = t - this.tBase;
      if (fits(delta, 0xffff_ffff)) return void (this.t[i] = delta);
      this.t = this.widerTimes(t);
    }
    this.t[i] = t;
  }

  tAt(i: number): number {
    if (this.t instanceof Uint16Array) return this.runBase[i >> TIME_RUN_SHIFT]! + this.t[i]!;
    return this.t instanceof Uint32Array ? this.tBase + this.t[i]! : this.t[i]!;
  }

  /**
   * The times so far (and `next`, about to be set) in the next wider way that holds them all: 32 bits from `tBase`
   * if they fit, else as they are.
   */
  private widerTimes(next: number): Uint32Array | Float64Array {
    const times = Array.from({ length: this.length }, (_, i) => this.tAt(i));
    const narrow =
      this.t instanceof Uint16Array && [...times, next].every((time) => fits(time - this.tBase, 0xffff_ffff));
    const wider = narrow ? new Uint32Array(this.capacity) : new Float64Array(this.capacity);
    times.forEach((time, i) => (wider[i] = narrow ? time - this.tBase : time));
    return wider;
  }
}

/** Whether `delta` is a whole number from 0 to `max`. */
function fits(delta: number, max: number): boolean {
  return Number.isInteger(delta) && delta >= 0 && delta <= max;
}

/** `array`'s values in a new array of `capacity`, of the same width or, when `widen`, 32 bits. */
function resized(array: Uint16Array | Uint32Array, capacity: number, widen = false): Uint16Array | Uint32Array {
  return array instanceof Uint16Array && !widen
    ? copyInto(new Uint16Array(capacity), array)
    : copyInto(new Uint32Array(capacity), array);
}

function copyInto<T extends NumberArray>(into: T, from: NumberArray): T {
  into.set(from);
  return into;
}

type NumberArray = Uint8Array | Uint16Array | Uint32Array | Float32Array | Float64Array;

/** A growable typed array, of the kind `make` makes. */
class Column {
  values: NumberArray;
  length = 0;

  constructor(private readonly make: (length: number) => NumberArray = (n) => new Float64Array(n)) {
    this.values = make(16);
  }

  push(value: number): void {
    // Grown by a quarter: the index's largest columns (a busy stream's spans) waste little past their length.
    if (this.length === this.values.length) {
      this.values = copyInto(this.make(this.values.length + Math.max(16, this.values.length >> 2)), this.values);
    }
    this.values[this.length++] = value;
  }

  /** The last index whose value is <= `value` (values non-decreasing), or -1. */
  lastAtMost(value: number): number {
    let lo = 0;
    let hi = this.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.values[mid]! <= value) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }
}

const uint32 = (n: number): Uint32Array => new Uint32Array(n);

/** One stream's chunks, sparsely: (seq, offset) every STREAM_MARK_EVERY chunks, and its length so far. */
interface StreamMarks {
  seqs: Column;
  offsets: Column;
  chunks: number;
  bytes: number;
}

/** Spans per block of StreamSpans.blockMax. */
const SPAN_BLOCK_SHIFT = 6;

/** The spans of the messages decoded from one stream, in the order the messages were recorded. */
interface StreamSpans {
  starts: Column;
  lengths: Column;
  seqs: Column;
  /**
   * Per block of 1 << SPAN_BLOCK_SHIFT spans, the largest end among all spans up to that block's last: a walk back
   * stops at a block where no span so far reaches the offset.
   */
  blockMax: Column;
  /** Whether starts never went down: then the last span starting at or before an offset is found by bisection. */
  sorted: boolean;
}

/** A piece of a stream's bytes in one chunk: the chunk's event and the range [start, end) within its bytes. */
export interface ChunkPiece {
  seq: number;
  start: number;
  end: number;
}

/**
 * The key of a stream: connection, direction and, for what came in, the fd code (0 for a socket, fd + 1 for a
 * process's stdout and stderr). A connection has one stream out whatever its fd says: a process's stdin chunks carry
 * fd 0, and a span of them may leave it out.
 */
function streamKey(conn: number, out: boolean, fdCode: number): number {
  return conn * 16 + (out ? 8 : fdCode);
}

function fdCodeOf(fd: number | undefined): number {
  return fd === undefined ? 0 : Math.min(fd + 1, 7);
}

/**
 * The index of one timeline. The recorder adds every event it numbers (`add`), in order; everything else only
 * reads. Queries are for seqs already added.
 */
export class TimelineIndex {
  private readonly blocks: Block[] = [];
  /** Events indexed. */
  count = 0;
  private readonly streams = new Map<number, StreamMarks>();
  private readonly messageSeqs = new Column(uint32);
  /** µs in 32-bit floats: exact to the µs up to 16 s, within a millionth beyond. */
  private readonly latencies = new Column((n) => new Float32Array(n));
  private readonly spans = new Map<number, StreamSpans>();

  /** Indexes event `seq` (the next one: `count`), recorded at `t` (the timeline's time, as stored). */
  add(seq: number, t: number, e: NewTimelineEvent): void {
    if (seq !== this.count) throw new Error(`the index expected event ${this.count}, not ${seq}`);
    let block = this.blocks[seq >>> BLOCK_SHIFT];
    if (block === undefined) {
      block = new Block(this.blocks.length === 0 ? FIRST_BLOCK_EVENTS : BLOCK_EVENTS);
      this.blocks.push(block);
    }
    if (block.length === block.capacity) block.grow();
    const i = block.length;
    let meta: number;
    let size = 0;
    if (e.kind === "data") {
      size = e.data.byteLength;
      meta = EVENT_KIND.data | HAS_DIR | (e.dir === "out" ? DIR_OUT : 0) | (fdCodeOf(e.fd) << FD_SHIFT);
      this.noteChunk(seq, streamKey(e.conn, e.dir === "out", fdCodeOf(e.fd)), size);
    } else if (e.kind === "log" && e.spans !== undefined) {
      const first = e.spans[0];
      meta =
        EVENT_KIND.message |
        (first === undefined ? 0 : HAS_DIR | (first.dir === "out" ? DIR_OUT : 0) | (fdCodeOf(first.fd) << FD_SHIFT));
      for (const span of e.spans) size += span.length;
      this.noteMessage(seq, e.conn, e.spans, e.pair?.latency);
    } else {
      meta = e.kind === "log" ? EVENT_KIND.log : EVENT_KIND.lifecycle;
    }
    block.meta[i] = meta;
    block.setConn(i, e.conn);
    block.setSize(i, Math.min(size, 0xffff_ffff));
    block.setT(i, t);
    block.length += 1;
    this.count += 1;
  }

  private noteChunk(seq: number, key: number, size: number): void {
    let stream = this.streams.get(key);
    if (stream === undefined) {
      stream = { seqs: new Column(), offsets: new Column(), chunks: 0, bytes: 0 };
      this.streams.set(key, stream);
    }
    if (stream.chunks % STREAM_MARK_EVERY === 0) {
      stream.seqs.push(seq);
      stream.offsets.push(stream.bytes);
    }
    stream.chunks += 1;
    stream.bytes += size;
  }

  private noteMessage(seq: number, conn: number, spans: Span[], latency: number | undefined): void {
    this.messageSeqs.push(seq);
    this.latencies.push(typeof latency === "number" ? latency : NaN);
    for (const span of spans) {
      const key = streamKey(conn, span.dir === "out", fdCodeOf(span.fd));
      let s = this.spans.get(key);
      if (s === undefined) {
        s = {
          starts: new Column(),
          lengths: new Column(uint32),
          seqs: new Column(uint32),
          blockMax: new Column(),
          sorted: true,
        };
        this.spans.set(key, s);
      }
      const n = s.starts.length;
      if (n > 0 && span.offset < s.starts.values[n - 1]!) s.sorted = false;
      s.starts.push(span.offset);
      s.lengths.push(span.length);
      s.seqs.push(seq);
      const end = span.offset + span.length;
      const block = n >> SPAN_BLOCK_SHIFT;
      if (block === s.blockMax.length) s.blockMax.push(Math.max(end, block > 0 ? s.blockMax.values[block - 1]! : 0));
      else s.blockMax.values[block] = Math.max(end, s.blockMax.values[block]!);
    }
  }

  private block(seq: number): Block {
    return this.blocks[seq >>> BLOCK_SHIFT]!;
  }

  /** Bytes the index's arrays take (for figures: what the index costs a session). */
  get memoryBytes(): number {
    let bytes = 0;
    for (const b of this.blocks) {
      bytes += b.meta.byteLength + b.conn.byteLength + b.size.byteLength + b.t.byteLength + b.runBase.byteLength;
    }
    for (const s of this.streams.values()) bytes += s.seqs.values.byteLength + s.offsets.values.byteLength;
    for (const s of this.spans.values()) {
      bytes += s.starts.values.byteLength + s.lengths.values.byteLength + s.seqs.values.byteLength;
      bytes += s.blockMax.values.byteLength;
    }
    return bytes + this.messageSeqs.values.byteLength + this.latencies.values.byteLength;
  }

  /** EVENT_KIND of event `seq`. */
  kindOf(seq: number): EventKindCode {
    return (this.block(seq).meta[seq & (BLOCK_EVENTS - 1)]! & KIND_MASK) as EventKindCode;
  }

  /** The direction of a chunk, or of the first span of a message; null for other events and spanless messages. */
  dirOf(seq: number): Direction | null {
    const meta = this.block(seq).meta[seq & (BLOCK_EVENTS - 1)]!;
    if ((meta & HAS_DIR) === 0) return null;
    return (meta & DIR_OUT) !== 0 ? "out" : "in";
  }

  connOf(seq: number): number {
    return this.block(seq).connAt(seq & (BLOCK_EVENTS - 1));
  }

  /** The event's `t`, as recorded. */
  tOf(seq: number): number {
    return this.block(seq).tAt(seq & (BLOCK_EVENTS - 1));
  }

  /** A chunk's length, a message's spans added up; 0 for other events. */
  sizeOf(seq: number): number {
    return this.block(seq).size[seq & (BLOCK_EVENTS - 1)]!;
  }

  /** `t` of the first event, or null while there is none. */
  get firstT(): number | null {
    return this.count === 0 ? null : this.tOf(0);
  }

  /** The first seq whose `t` is >= `t` (times never go down on a timeline), or `count`. */
  seqAtT(t: number): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.tOf(mid) < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The pair latency (µs) of message `seq`, or NaN when it is not a paired response (or not a message). */
  latencyOf(seq: number): number {
    const i = this.messageSeqs.lastAtMost(seq);
    return i >= 0 && this.messageSeqs.values[i] === seq ? this.latencies.values[i]! : NaN;
  }

  /** The key of the stream chunk `seq` belongs to (call for data events only). */
  private keyOf(seq: number): number {
    const meta = this.block(seq).meta[seq & (BLOCK_EVENTS - 1)]!;
    return streamKey(this.connOf(seq), (meta & DIR_OUT) !== 0, (meta & FD_MASK) >> FD_SHIFT);
  }

  /** The stream offset of chunk `seq`'s first byte (call for data events only), counted from its stream's mark. */
  streamOffsetOf(seq: number): number {
    const key = this.keyOf(seq);
    const stream = this.streams.get(key)!;
    const m = stream.seqs.lastAtMost(seq);
    let offset = stream.offsets.values[m]!;
    for (let s = stream.seqs.values[m]!; s < seq; s += 1) {
      if (this.kindOf(s) === EVENT_KIND.data && this.keyOf(s) === key) offset += this.sizeOf(s);
    }
    return offset;
  }

  /**
   * Sets `offset` (the stream offset) on every data event of `events`, events read from this timeline in seq order:
   * from the index for the first chunk of each stream among them, then by adding up when they follow each other
   * (a chunk cut to a preview by its whole `size`).
   */
  fillOffsets(events: TimelineEvent[]): void {
    /** Per stream: the seq of its last chunk among `events`, and where its bytes ended. */
    const last = new Map<number, { seq: number; end: number }>();
    // Where the current run of consecutive seqs began: a gap may hide chunks of the same stream.
    let runStart = -1;
    let previous = -2;
    for (const e of events) {
      if (e.seq !== previous + 1) runStart = e.seq;
      previous = e.seq;
      if (e.kind !== "data" || e.seq >= this.count) continue;
      const key = this.keyOf(e.seq);
      const seen = last.get(key);
      e.offset = seen !== undefined && seen.seq >= runStart ? seen.end : this.streamOffsetOf(e.seq);
      last.set(key, { seq: e.seq, end: e.offset + (e.size ?? e.data.byteLength) });
    }
  }

  /**
   * The chunks holding bytes [span.offset, span.offset + span.length) of connection `conn`'s stream in `span.dir`
   * (and `span.fd`), in stream order, each with the range within its bytes; only as much as has been recorded.
   */
  locate(conn: number, span: Span): ChunkPiece[] {
    const key = streamKey(conn, span.dir === "out", fdCodeOf(span.fd));
    const stream = this.streams.get(key);
    const pieces: ChunkPiece[] = [];
    const end = span.offset + span.length;
    if (stream === undefined || span.length <= 0) return pieces;
    const m = Math.max(0, stream.offsets.lastAtMost(span.offset));
    let offset = stream.offsets.values[m]!;
    for (let seq = stream.seqs.values[m]!; seq < this.count && offset < end; seq += 1) {
      if (this.kindOf(seq) !== EVENT_KIND.data || this.keyOf(seq) !== key) continue;
      const size = this.sizeOf(seq);
      if (offset + size > span.offset && size > 0) {
        pieces.push({
          seq,
          start: Math.max(span.offset, offset) - offset,
          end: Math.min(end, offset + size) - offset,
        });
      }
      offset += size;
    }
    return pieces;
  }

  /**
   * The latest decoded message of connection `conn` whose spans cover byte `offset` of its stream in `dir` (and
   * `fd`), or null.
   */
  messageAt(conn: number, dir: Direction, fd: number | undefined, offset: number): number | null {
    const s = this.spans.get(streamKey(conn, dir === "out", fdCodeOf(fd)));
    if (s === undefined) return null;
    const from = s.sorted ? s.starts.lastAtMost(offset) : s.starts.length - 1;
    const last = (1 << SPAN_BLOCK_SHIFT) - 1;
    for (let j = from; j >= 0; j -= 1) {
      if ((j === from || (j & last) === last) && s.blockMax.values[j >> SPAN_BLOCK_SHIFT]! <= offset) break;
      const start = s.starts.values[j]!;
      if (start <= offset && offset < start + s.lengths.values[j]!) return s.seqs.values[j]!;
    }
    return null;
  }
}
