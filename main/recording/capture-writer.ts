/**
 * Appends records to one capture file (format in capture-format.ts) without making the event loop wait for the disk:
 * `append` encodes into a batch buffer on the main thread, and what it encoded goes to the capture thread
 * (capture-thread.ts) in regions of up to FLUSH_BYTES, which the thread checksums and writes from the batch itself.
 * What stays on the main thread per record is its head and one copy of its bytes into the batch; a chunk appended
 * again unchanged (a proxy forwarding what it received) is not copied at all but written as a 12-byte "data again"
 * record.
 */
import * as fs from "node:fs";
import { performance } from "node:perf_hooks";
import type { DataEvent, TimelineEvent } from "../../preload/timeline.ts";
import {
  describeEvent,
  encodeHeader,
  eventCode,
  encodedLogParts,
  jsonPayload,
  writeDataAgain,
  writeRecordHead,
} from "./capture-encoding.ts";
import {
  CAPTURE_VERSION,
  CaptureError,
  DATA_AGAIN_PAYLOAD,
  emptySummary,
  kindInVersion,
  MAX_PAYLOAD,
  PADDING_BLOCK,
  RECORD_HEAD,
  RECORD_KIND,
  RECORD_OVERHEAD,
  summarize,
  type CaptureMeta,
  type CaptureSummary,
} from "./capture-format.ts";
import { alignedSharedMemory, copyIntoShared, WASM_PAGE } from "./aligned-memory.ts";
import { checksumKind } from "./capture-checksum.ts";
import { CaptureIndex } from "./capture-index.ts";
import { EncodedLogEvent } from "./encoded-log-event.ts";
import type { CaptureReader } from "./capture-reader.ts";
import { CaptureChannel, CaptureThread } from "./capture-thread.ts";

/**
 * A writer hands what it encoded to the capture thread once it is this much or the next record doesn't fit in the
 * batch buffer (and on its timer, and on flush/close). A batch buffer holds this much, after room for the file's
 * partial last block (see WriteBatch).
 */
export const FLUSH_BYTES = 4 * 1024 * 1024;
/** ... and never keeps an appended record in its batch for longer than this. */
export const FLUSH_INTERVAL_MS = 250;
/**
 * At most this many bytes (and regions, counted as FLUSH_BYTES each) are handed to the capture thread and not yet
 * written: past it the disk is slower than the traffic, and handing over the next region waits (blocking the event
 * loop, which slows the sockets down too). So a writer's buffers never take more than this plus one batch, besides
 * those whose bytes its owner retains (retainFrom) and SPARE_BATCHES.
 */
export const MAX_QUEUED_BYTES = 64 * 1024 * 1024;
/**
 * ... and a batch handed over longer ago than this is waited for before the next one, so that a slow disk can't
 * stretch what a killed process loses: at most FLUSH_INTERVAL_MS in the batch plus this in the thread's queue.
 */
export const MAX_QUEUED_MS = 500;
/** A chunk appended again (the same Uint8Array) is written as a "data again" record from this many bytes. */
export const DATA_AGAIN_MIN_BYTES = 64;

/** Batch buffers a writer keeps for reuse once the thread is done with them (beyond the one being filled). */
const SPARE_BATCHES = 2;
/** The size of a batch buffer: FLUSH_BYTES after a block's room, in whole pages. */
const BATCH_BYTES = Math.ceil((FLUSH_BYTES + PADDING_BLOCK) / WASM_PAGE) * WASM_PAGE;

/** How a writer is set up. */
export interface CaptureWriterOptions {
  /** Bounds of the thread's queue for this file (default MAX_QUEUED_BYTES and MAX_QUEUED_MS). */
  maxQueuedBytes?: number;
  maxQueuedMs?: number;
}

/** A batch buffer, shared with the capture thread under its number. */
interface Batch {
  id: number;
  bytes: Buffer;
  /** The same memory, for the records' fixed parts. */
  view: DataView;
  /** Its regions handed to the thread and not yet acknowledged. */
  inFlight: number;
  /**
   * The last seq whose bytes are in it: a lifecycle or log record, or a data record's bytes (a "data again" record
   * counts for the batch holding its bytes).
   */
  lastSeq: number;
  /** Counts the times it was released: a payload's location is good while its batch's generation is unchanged. */
  generation: number;
}

/** A region of a batch handed to the capture thread and not yet acknowledged. */
interface QueuedRegion {
  batch: Batch;
  /** Records in the file once it is written, and the offset just past them. */
  count: number;
  end: number;
  bytes: number;
  /** performance.now() when handed over. */
  handedAt: number;
  /** flush() calls waiting for it. */
  waiters: (() => void)[] | null;
}

/**
 * Appends records to one capture file. `append` is synchronous and never waits for the disk unless the queue is past
 * its bounds (MAX_QUEUED_BYTES, MAX_QUEUED_MS). A record reaches the capture thread when what is waiting passes
 * FLUSH_BYTES, at most FLUSH_INTERVAL_MS after it was appended (an unref'd timer: it never keeps the process alive),
 * or on flush()/close(); the thread writes it at once. A batch buffer is filled to its end, region after region,
 * before the writer moves on to the next. A record becomes readable (committed to `index`) when the
 * thread says it is written. A failed write is kept in `error`, never thrown from append: the writer stops writing
 * and the caller carries on from memory. The owner must close() it.
 *
 * A chunk appended again (the same Uint8Array, as a proxy forwards what it received) is written as a reference to
 * the record that holds its bytes, so the caller must not change a chunk's bytes once it is appended.
 *
 * The bytes of the data events appended, and the lifecycle and log records, stay readable where they were encoded
 * (`dataBuffer`, `dataOffset`; `recordBuffer`, `recordOffset`) for as long as the owner says it reads them
 * (`retainFrom`): the recorder's window holds no copy of its own.
 *
 * Memory: the batch being filled, the batches of at most MAX_QUEUED_BYTES in the thread's queue, those holding bytes
 * retained, SPARE_BATCHES kept for reuse.
 */
export class CaptureWriter {
  private readonly fd: number;
  private readonly channel: CaptureChannel;
  private readonly maxQueuedBytes: number;
  private readonly maxQueuedBatches: number;
  private readonly maxQueuedMs: number;
  /** The batch being filled; its bytes `start` .. `used` are records not handed over yet. */
  private batch: Batch;
  private start = 0;
  private used = 0;
  /** Offset in the file at which `start` falls: everything before it has been handed to the thread. */
  private regionOffset: number;
  private readonly queue: QueuedRegion[] = [];
  private queuedBytes = 0;
  /** Batches filled to their end with regions still in flight, oldest first. */
  private readonly filled: Batch[] = [];
  private readonly spares: Batch[] = [];
  private batchesMade = 0;
  /** performance.now() when the batch being filled got its first record. */
  private batchStartedAt = 0;
  /** Hands the batch over once it is FLUSH_INTERVAL_MS old; armed while a batch is being filled. */
  private timer: NodeJS.Timeout | null = null;
  private failure: CaptureError | null = null;
  private closing: Promise<void> | null = null;
  /** The last chunk whose bytes went into the file, and its seq: a "data again" record may name it. */
  private lastData: Uint8Array | null = null;
  private lastDataSeq = 0;
  /** Where its bytes are: the batch (in its generation then) and the offset in it. */
  private lastDataBatch: Batch | null = null;
  private lastDataGeneration = 0;
  private lastDataAt = 0;
  /** The batch and offset of the last lifecycle or log record appended. */
  private lastRecordBatch: Batch | null = null;
  private lastRecordAt = 0;
  /** Batches holding the bytes of records from this seq on are kept (see retainFrom). */
  private retained = Infinity;

  private constructor(
    thread: CaptureThread,
    /** The capture file. */
    readonly file: string,
    fd: number,
    /** The header's meta. */
    readonly meta: CaptureMeta,
    /** The file's format version: CAPTURE_VERSION for a new capture, or that of the one continued. */
    readonly version: number,
    /** Where the records are; readers following this writer share it. */
    readonly index: CaptureIndex,
    /** Totals over every record appended, queued ones included. */
    readonly summary: CaptureSummary,
    options: CaptureWriterOptions,
  ) {
    this.fd = fd;
    this.regionOffset = index.end;
    this.maxQueuedBytes = options.maxQueuedBytes ?? MAX_QUEUED_BYTES;
    this.maxQueuedBatches = Math.max(1, Math.floor(this.maxQueuedBytes / FLUSH_BYTES));
    this.maxQueuedMs = options.maxQueuedMs ?? MAX_QUEUED_MS;
    this.channel = new CaptureChannel(thread, fd, file, index.end, checksumKind(version), (error) =>
      this.written(error),
    );
    this.batch = this.newBatch(BATCH_BYTES);
    this.startBatch();
  }

  /**
   * Creates `file` (which must not exist: a capture is never overwritten) and writes its header. Waits for the
   * capture thread first (its script is loaded once per process: see CaptureThread.shared), and rejects, creating
   * nothing, if it can't be started.
   */
  static async create(file: string, meta: CaptureMeta, options: CaptureWriterOptions = {}): Promise<CaptureWriter> {
    const thread = await CaptureThread.shared();
    const header = encodeHeader(meta);
    const fd = fs.openSync(file, "ax");
    try {
      for (let done = 0; done < header.length;) done += fs.writeSync(fd, header, done, header.length - done);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
    const index = new CaptureIndex(header.length);
    return new CaptureWriter(thread, file, fd, meta, CAPTURE_VERSION, index, emptySummary(), options);
  }

  /**
   * Continues the capture `reader` opened (with CaptureReader.open): cuts off the tail it found torn, then appends
   * after its last valid record, numbering on, in the file's own format version. The reader stays usable and
   * follows this writer from now on. Waits for the capture thread as `create` does, and rejects, changing nothing,
   * if it can't be started.
   */
  static async resume(reader: CaptureReader, options: CaptureWriterOptions = {}): Promise<CaptureWriter> {
    if (reader.following) throw new TypeError("CaptureWriter.resume: the reader already follows a writer");
    if (reader.version > CAPTURE_VERSION) {
      throw new CaptureError(
        "newer-version",
        reader.file,
        `${reader.file} is in capture format ${reader.version}; only formats up to ${CAPTURE_VERSION} can be appended to`,
      );
    }
    const thread = await CaptureThread.shared();
    // A torn tail, or a direct writer's zero padding: appending starts right after the last record.
    if (reader.fileBytes > reader.index.end) fs.truncateSync(reader.file, reader.index.end);
    const fd = fs.openSync(reader.file, "a");
    const summary = { ...reader.summary };
    return new CaptureWriter(thread, reader.file, fd, reader.meta, reader.version, reader.index, summary, options);
  }

  /** Records appended so far (the next record's seq). */
  get count(): number {
    return this.summary.count;
  }

  /** Size of the file once everything appended is written. */
  get size(): number {
    return this.regionOffset + this.used - this.start;
  }

  /** Bytes handed to the capture thread and not yet written. */
  get queued(): number {
    return this.queuedBytes;
  }

  /** The write that failed, if one did: nothing appended since is in the file. */
  get error(): CaptureError | null {
    return this.failure;
  }

  /**
   * The buffer holding the bytes of the last data event appended, at `dataOffset`: readable (never changed) until
   * `retainFrom` is given a seq past that event's. Undefined before the first data event.
   */
  get dataBuffer(): Uint8Array | undefined {
    return this.lastDataBatch?.bytes;
  }

  /** Where in `dataBuffer` the last data event's bytes start. */
  get dataOffset(): number {
    return this.lastDataAt;
  }

  /**
   * The buffer holding the last lifecycle or log record appended (the whole record, from its length field), at
   * `recordOffset`: readable, like `dataBuffer`, until `retainFrom` is given a seq past that record's. Undefined
   * before the first such record.
   */
  get recordBuffer(): Buffer | undefined {
    return this.lastRecordBatch?.bytes;
  }

  /** Where in `recordBuffer` the last lifecycle or log record starts. */
  get recordOffset(): number {
    return this.lastRecordAt;
  }

  /**
   * Keeps the bytes of the data events from `seq` on where `dataBuffer` said they are; those of earlier ones may be
   * reused from now on. `seq` never goes back. Until it is first called nothing is kept past its write.
   */
  retainFrom(seq: number): void {
    this.retained = seq;
  }

  /**
   * Appends `e`, whose `seq` must be `count`. Synchronous, amortized O(size of the event); takes ownership of a data
   * event's bytes (see the class comment). Returns the bytes the record takes in the file. Throws CaptureError
   * "invalid-event" (before changing anything) for a wrong seq, a connection number outside u32, an unknown event
   * code or a payload too large for the format, "closed" once close() was called.
   */
  append(e: TimelineEvent): number {
    if (this.closing !== null) throw new CaptureError("closed", this.file, `${this.file}: writer is closed`);
    const code = eventCode(e);
    if (e.seq !== this.summary.count || code === undefined || !(e.conn >>> 0 === e.conn)) {
      throw new CaptureError("invalid-event", this.file, `${this.file}: can't record ${describeEvent(e)}`);
    }
    if (e.kind === "data") return this.appendData(e, code);
    if (e instanceof EncodedLogEvent) return this.appendEncodedLog(e, code);
    const json = jsonPayload(e);
    this.checkPayload(json.length * 3);
    const kind = RECORD_KIND[e.kind];
    const p = this.reserve(RECORD_OVERHEAD + json.length * 3);
    const payloadBytes = this.batch.bytes.write(json, p + RECORD_HEAD, "utf8");
    writeRecordHead(this.batch.view, p, kind, code, e, payloadBytes);
    this.batch.lastSeq = e.seq;
    this.lastRecordBatch = this.batch;
    this.lastRecordAt = p;
    return this.appended(e.t, kind, code, 0, RECORD_OVERHEAD + payloadBytes);
  }

  /**
   * A sandboxed protocol's log event: its payload copied as the worker wrote it, or its head copied and its message
   * parts written after it when they differ from the worker's.
   */
  private appendEncodedLog(e: EncodedLogEvent, code: number): number {
    const { copied, tail } = encodedLogParts(e);
    this.checkPayload(copied + tail.length * 3);
    const p = this.reserve(RECORD_OVERHEAD + copied + tail.length * 3);
    e.source.copyPayload(this.batch.bytes, p + RECORD_HEAD, copied);
    const payloadBytes = tail === "" ? copied : copied + this.batch.bytes.write(tail, p + RECORD_HEAD + copied, "utf8");
    writeRecordHead(this.batch.view, p, RECORD_KIND.log, code, e, payloadBytes);
    this.batch.lastSeq = e.seq;
    this.lastRecordBatch = this.batch;
    this.lastRecordAt = p;
    return this.appended(e.t, RECORD_KIND.log, code, 0, RECORD_OVERHEAD + payloadBytes);
  }

  private appendData(e: DataEvent, code: number): number {
    const bytes = e.data.byteLength;
    this.checkPayload(bytes);
    // Its bytes must still be where they were encoded (their batch not reused since): the window reads them there.
    const again =
      e.data === this.lastData &&
      bytes >= DATA_AGAIN_MIN_BYTES &&
      kindInVersion(RECORD_KIND.dataAgain, this.version) &&
      this.lastDataBatch?.generation === this.lastDataGeneration;
    const kind = again ? RECORD_KIND.dataAgain : RECORD_KIND.data;
    const size = RECORD_OVERHEAD + (again ? DATA_AGAIN_PAYLOAD : bytes);
    const p = this.reserve(size);
    const batch = this.batch;
    if (again) {
      writeDataAgain(batch.view, p + RECORD_HEAD, this.lastDataSeq, bytes);
      this.lastDataBatch!.lastSeq = e.seq;
    } else {
      copyIntoShared(batch.bytes, e.data, p + RECORD_HEAD);
      this.lastData = e.data;
      this.lastDataSeq = batch.lastSeq = e.seq;
      this.lastDataBatch = batch;
      this.lastDataGeneration = batch.generation;
      this.lastDataAt = p + RECORD_HEAD;
    }
    writeRecordHead(batch.view, p, kind, code, e, size - RECORD_OVERHEAD);
    return this.appended(e.t, kind, code, bytes, size);
  }

  /**
   * Hands everything appended to the capture thread and resolves once it is written (or failed: check `error`).
   * Never rejects.
   */
  flush(): Promise<void> {
    this.handOver();
    const last = this.queue.at(-1);
    if (last === undefined) return Promise.resolve();
    return new Promise((resolve) => (last.waiters ??= []).push(resolve));
  }

  /** Writes out everything appended and closes the file. Idempotent; append() throws from the moment it is called. */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    if (this.timer !== null) clearTimeout(this.timer);
    await this.flush();
    this.channel.close();
    // The capture thread's direct writes leave zero padding up to a block boundary: cut it (the records written end
    // at index.end; after a failed write, nothing past it is trusted either).
    try {
      if (fs.fstatSync(this.fd).size > this.index.end) fs.ftruncateSync(this.fd, this.index.end);
    } finally {
      fs.closeSync(this.fd);
    }
  }

  private checkPayload(bytes: number): void {
    if (bytes > MAX_PAYLOAD) {
      throw new CaptureError("invalid-event", this.file, `${this.file}: event of ${bytes} bytes is too large`);
    }
  }

  /**
   * Where a record of at most `size` bytes goes in `batch`: after the last one (handing the region over first if the
   * record would take it past FLUSH_BYTES), or at the start of the next batch buffer once this one is full (a record
   * larger than a batch buffer gets one of its own).
   */
  private reserve(size: number): number {
    if (this.used - this.start + size > FLUSH_BYTES) this.handOver();
    if (this.used + size <= this.batch.bytes.length) return this.used;
    this.handOver();
    const own = size + PADDING_BLOCK > BATCH_BYTES;
    this.retire(this.batch);
    this.batch = own ? this.newBatch(size + PADDING_BLOCK) : this.nextBatch();
    this.startBatch();
    return this.used;
  }

  /** Lays the next record out in the batch just taken at its offset in the file's block (see WriteBatch). */
  private startBatch(): void {
    this.start = this.used = this.regionOffset % PADDING_BLOCK;
  }

  /** A new page-aligned batch buffer of at least `size` bytes, shown to the capture thread. */
  private newBatch(size: number): Batch {
    const memory = alignedSharedMemory(size);
    const batch = {
      id: this.batchesMade++,
      bytes: Buffer.from(memory.buffer),
      view: new DataView(memory.buffer),
      inFlight: 0,
      lastSeq: -1,
      generation: 0,
    };
    this.channel.share(batch.id, memory);
    return batch;
  }

  /**
   * A batch buffer to fill next: a spare, or a new one while fewer than the queue's bound are in flight. (Batches
   * whose bytes are retained don't count: the owner's window bounds them.)
   */
  private nextBatch(): Batch {
    this.releaseFilled();
    while (this.spares.length === 0 && this.queue.length >= this.maxQueuedBatches) {
      this.channel.waitForOne();
      this.releaseFilled();
    }
    return this.spares.pop() ?? this.newBatch(BATCH_BYTES);
  }

  /** Done with filling `batch`: kept until the thread and the owner are done with it. */
  private retire(batch: Batch): void {
    this.filled.push(batch);
    this.releaseFilled();
  }

  /** Releases the oldest filled batches, as long as they are neither in flight nor retained. */
  private releaseFilled(): void {
    for (let b = this.filled[0]; b !== undefined && b.inFlight === 0 && b.lastSeq < this.retained; b = this.filled[0]) {
      this.filled.shift();
      b.generation += 1;
      if (b.bytes.length === BATCH_BYTES && this.spares.length < SPARE_BATCHES) this.spares.push(b);
      else this.channel.unshare(b.id);
    }
  }

  /** Notes the record just encoded at `used`, and hands the batch over if it is full enough. */
  private appended(t: number, kind: number, code: number, dataBytes: number, size: number): number {
    if (this.used === this.start) {
      this.batchStartedAt = performance.now();
      // One timer at a time, left armed across batches: under heavy traffic it wakes every FLUSH_INTERVAL_MS to
      // find a young batch, instead of being set and cleared for every batch.
      this.timer ??= setTimeout(this.handOverOnTimer, FLUSH_INTERVAL_MS).unref();
    }
    // After a failed write records are still encoded (the window reads their bytes) but never reach the index.
    if (this.failure === null) this.index.note(this.regionOffset + this.used - this.start);
    this.used += size;
    summarize(this.summary, t, kind, code, dataBytes);
    if (this.used - this.start >= FLUSH_BYTES) this.handOver();
    return size;
  }

  /** Hands over the batch being filled once it is FLUSH_INTERVAL_MS old. */
  private readonly handOverOnTimer = (): void => {
    this.timer = null;
    if (this.used === this.start || this.closing !== null) return;
    const age = performance.now() - this.batchStartedAt;
    if (age < FLUSH_INTERVAL_MS) this.timer = setTimeout(this.handOverOnTimer, FLUSH_INTERVAL_MS - age).unref();
    else this.handOver();
  };

  /**
   * Hands the records not handed over yet to the capture thread, once the queue is within its bounds; the next ones
   * go on in the same batch.
   */
  private handOver(): void {
    const start = this.start;
    const bytes = this.used - start;
    if (bytes === 0) return;
    if (this.failure !== null) {
      // The file takes nothing more.
      this.regionOffset += bytes;
      this.start = this.used;
      return;
    }
    this.waitForQueue(bytes);
    const batch = this.batch;
    const end = this.regionOffset + bytes;
    this.queue.push({ batch, count: this.summary.count, end, bytes, handedAt: performance.now(), waiters: null });
    this.queuedBytes += bytes;
    batch.inFlight += 1;
    this.regionOffset = end;
    this.start = this.used;
    this.channel.send(batch.id, start, this.used);
  }

  /**
   * Blocks while adding `bytes` would pass MAX_QUEUED_BYTES (or its number of batches), or the oldest batch queued
   * is past MAX_QUEUED_MS.
   */
  private waitForQueue(bytes: number): void {
    while (this.queue.length > 0) {
      const full = this.queuedBytes + bytes > this.maxQueuedBytes || this.queue.length >= this.maxQueuedBatches;
      if (!full && performance.now() - this.queue[0]!.handedAt < this.maxQueuedMs) return;
      this.channel.waitForOne();
    }
  }

  /** The thread's answer for the oldest queued batch: commits its records, or keeps why it failed. */
  private written(error: string | null): void {
    const queued = this.queue.shift();
    if (queued === undefined) return;
    this.queuedBytes -= queued.bytes;
    if (error !== null) {
      this.failure ??= new CaptureError("write-failed", this.file, `${this.file}: write failed: ${error}`);
    } else if (this.failure === null) {
      this.index.commit(queued.count, queued.end);
    }
    queued.batch.inFlight -= 1;
    this.releaseFilled();
    for (const resolve of queued.waiters ?? []) resolve();
  }
}
