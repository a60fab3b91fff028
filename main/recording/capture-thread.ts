/**
 * The capture thread: where capture files are written, off the event loop that runs the sockets. A CaptureWriter
 * encodes records into batch buffers on the main thread and hands each full one over by number; the thread fills
 * in each record's CRC, writes the batch and says so. So the main thread never computes a CRC or waits for the
 * disk, except where CaptureWriter bounds its queue.
 *
 * Where the file system allows it (Linux, O_DIRECT), the thread writes around the page cache: a buffered write
 * copies every byte into the page cache and costs the kernel more CPU than the proxy it records (on the 2-vCPU
 * machines this is built on, 512 MiB took 1.2 s buffered and 0.03 s of CPU direct). Direct writes must start at a
 * block boundary from an aligned buffer and be whole blocks, so the thread copies each batch, behind the partial
 * block the last write ended in, into one aligned staging buffer (WebAssembly memory is page-aligned) and writes
 * whole blocks from there: the file ends in zero padding up to the next block until the writer truncates it at
 * close (a capture reopened after a crash ignores that padding: see capture-reader.ts). Elsewhere (tmpfs, macOS,
 * Windows) it writes through the page cache as before.
 *
 * Batch buffers are SharedArrayBuffers, shown to the thread once and reused: moving ArrayBuffers back and forth
 * instead would make V8 count every batch as new external memory and collect garbage far more often.
 *
 * One thread serves every capture of the process: started with the first one, it never keeps the process alive.
 * Each writer talks to it over a MessagePort of its own (a CaptureChannel), so one file's batches are written in
 * the order they were handed over, each acknowledged once.
 */
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from "node:worker_threads";
import { PADDING_BLOCK } from "./capture-format.ts";

/** Control words shared with the thread: a counter it bumps after every acknowledgement, and whether it runs. */
const DOORBELL = 0;
const ALIVE = 1;

/**
 * Whether the thread writes a file opened from now on around the page cache where it can: yes, unless
 * `WIRESCOPE_CAPTURE_DIRECT=0` (the benchmark and the tests compare both).
 */
function directWrites(): boolean {
  return process.env.WIRESCOPE_CAPTURE_DIRECT !== "0";
}

/** Direct writes are whole blocks of this many bytes at offsets that are multiples of it (a page: safe everywhere). */
const DIRECT_BLOCK = PADDING_BLOCK;

/**
 * The thread's script: plain JavaScript with no imports beyond Node's, so that it starts the same way under tsx,
 * vitest and a bundled app. Records are laid out as in capture-format.ts: u32 L, then L bytes whose last 4 are the CRC
 * of the L - 4 before them. After a failed write the file takes nothing more (a gap would hide the records after it).
 */
const THREAD_SOURCE = `"use strict";
const { parentPort, workerData } = require("node:worker_threads");
const fs = require("node:fs");
const { crc32 } = require("node:zlib");
const control = new Int32Array(workerData.control);
const BLOCK = ${DIRECT_BLOCK};
const PAGE = 65536;
process.on("exit", () => Atomics.store(control, ${ALIVE}, 0));
/** The aligned staging buffer of direct writes (WebAssembly memory starts on a page), grown as batches need. */
let staging = null;
function stagingFor(bytes) {
  if (staging === null || staging.length < bytes) {
    const pages = Math.ceil(bytes / PAGE);
    staging = Buffer.from(new WebAssembly.Memory({ initial: pages, maximum: pages }).buffer);
  }
  return staging;
}
/** A direct descriptor for the file, with the partial block its end is in; null where O_DIRECT can't be had. */
function openDirect(path, size, wanted) {
  if (!wanted || fs.constants.O_DIRECT === undefined) return null;
  let fd;
  try {
    fd = fs.openSync(path, fs.constants.O_WRONLY | fs.constants.O_DIRECT);
  } catch {
    return null;
  }
  const start = size - (size % BLOCK);
  const carry = Buffer.alloc(size - start);
  try {
    const reader = fs.openSync(path, "r");
    try {
      for (let done = 0; done < carry.length; ) {
        const n = fs.readSync(reader, carry, done, carry.length - done, start + done);
        if (n === 0) throw new Error("the file is shorter than its writer says");
        done += n;
      }
    } finally {
      fs.closeSync(reader);
    }
  } catch {
    fs.closeSync(fd);
    return null;
  }
  return { fd, position: size, carry };
}
function writeDirect(file, bytes, used) {
  const c = file.carry.length;
  const end = c + used;
  const padded = Math.ceil(end / BLOCK) * BLOCK;
  const out = stagingFor(padded);
  file.carry.copy(out, 0);
  out.fill(bytes.subarray(0, used), c, end);
  out.fill(0, end, padded);
  const at = file.position - c;
  for (let done = 0; done < padded; ) done += fs.writeSync(file.fd, out, done, padded - done, at + done);
  file.position += used;
  const tail = end % BLOCK;
  file.carry = Buffer.from(out.subarray(end - tail, end));
}
parentPort.on("message", ({ port, fd, path, size, direct: wanted }) => {
  const buffers = new Map();
  const direct = openDirect(path, size, wanted);
  let failure = null;
  port.on("close", () => {
    if (direct !== null) fs.closeSync(direct.fd);
  });
  port.on("message", (m) => {
    if (m.buffer !== undefined) return void buffers.set(m.id, Buffer.from(m.buffer));
    if (m.used === undefined) return void buffers.delete(m.id);
    if (failure === null) {
      const bytes = buffers.get(m.id);
      try {
        for (let p = 0; p < m.used; ) {
          const length = bytes.readUInt32LE(p);
          bytes.writeUInt32LE(crc32(bytes.subarray(p + 4, p + length)), p + length);
          p += 4 + length;
        }
        if (direct !== null) writeDirect(direct, bytes, m.used);
        else for (let done = 0; done < m.used; ) done += fs.writeSync(fd, bytes, done, m.used - done);
      } catch (err) {
        failure = err instanceof Error ? err.message : String(err);
      }
    }
    port.postMessage(failure);
    Atomics.add(control, ${DOORBELL}, 1);
    Atomics.notify(control, ${DOORBELL});
  });
});
`;

/**
 * What the thread says about one batch, and what the writer is told, once per batch handed over, in order: null
 * when it is written, else why it (or an earlier batch of the same file) was not.
 */
type Written = string | null;
export type WrittenCallback = (error: Written) => void;

class CaptureThread {
  private static current: CaptureThread | null = null;

  /** The running thread, started (again, if the last one stopped) on demand. */
  static shared(): CaptureThread {
    if (CaptureThread.current === null || !CaptureThread.current.alive) CaptureThread.current = new CaptureThread();
    return CaptureThread.current;
  }

  readonly control = new Int32Array(new SharedArrayBuffer(8));
  /** Why the thread stopped, once it has. */
  stopped: string | null = null;
  private readonly worker: Worker;
  readonly channels = new Set<CaptureChannel>();

  private constructor() {
    Atomics.store(this.control, ALIVE, 1);
    this.worker = new Worker(THREAD_SOURCE, {
      eval: true,
      name: "wirescope capture writer",
      workerData: { control: this.control.buffer },
    });
    this.worker.unref();
    this.worker.on("error", (err) => this.stop(`the capture thread failed: ${err.message}`));
    this.worker.on("exit", (code) => this.stop(`the capture thread stopped (exit code ${code})`));
  }

  /** False once the thread has stopped, as seen from here or (while this thread blocks) from the thread itself. */
  get alive(): boolean {
    return this.stopped === null && Atomics.load(this.control, ALIVE) === 1;
  }

  attach(port: MessagePort, fd: number, path: string, size: number): void {
    this.worker.postMessage({ port, fd, path, size, direct: directWrites() }, [port]);
  }

  private stop(reason: string): void {
    if (this.stopped !== null) return;
    this.stopped = reason;
    Atomics.store(this.control, ALIVE, 0);
    for (const channel of this.channels) channel.threadStopped();
  }
}

/**
 * One capture file's line to the capture thread. Opened by a CaptureWriter for its file descriptor, which stays the
 * writer's (the thread only writes to it); the writer closes the channel once nothing is in flight, then the file.
 * While batches are in flight the channel keeps the process alive, so that they reach the disk.
 */
export class CaptureChannel {
  private readonly thread = CaptureThread.shared();
  private readonly port: MessagePort;
  /** Batches handed over and not yet acknowledged. */
  private inFlight = 0;

  /**
   * `fd` is the writer's descriptor of `path`, whose records end at `size`: the thread appends there, through `fd`
   * or through a direct descriptor of its own. The file may then end in zero padding past the last record, which
   * the writer cuts with `truncate` once nothing is in flight.
   */
  constructor(
    fd: number,
    path: string,
    size: number,
    private readonly written: WrittenCallback,
  ) {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    port1.on("message", (m: Written) => this.acknowledged(m));
    port1.unref();
    this.thread.channels.add(this);
    this.thread.attach(port2, fd, path, size);
  }

  /** Shows the thread batch buffer number `id`, which `send` may name from now on. */
  share(id: number, buffer: SharedArrayBuffer): void {
    this.port.postMessage({ id, buffer });
  }

  /** The thread forgets batch buffer `id` (none of its batches in flight). */
  unshare(id: number): void {
    this.port.postMessage({ id });
  }

  /**
   * Hands the first `used` bytes of batch buffer `id` (whole records) to the thread, which owns them until the
   * batch is acknowledged: the writer must not touch them meanwhile.
   */
  send(id: number, used: number): void {
    this.inFlight += 1;
    if (this.inFlight === 1) this.port.ref();
    if (!this.thread.alive) {
      queueMicrotask(() => this.threadStopped());
      return;
    }
    this.port.postMessage({ id, used });
  }

  /**
   * Blocks the calling (main) thread until the oldest batch in flight is acknowledged, and delivers it. For a writer
   * whose queue is past its bounds: the disk is slower than the traffic, so the traffic waits.
   */
  waitForOne(): void {
    while (this.inFlight > 0) {
      const seen = Atomics.load(this.thread.control, DOORBELL);
      const received = receiveMessageOnPort(this.port) as { message: Written } | undefined;
      if (received !== undefined) return this.acknowledged(received.message);
      if (!this.thread.alive) return this.threadStopped();
      Atomics.wait(this.thread.control, DOORBELL, seen, 1000);
    }
  }

  /** Stops listening. Batches still in flight are written but not acknowledged. */
  close(): void {
    this.thread.channels.delete(this);
    this.port.close();
  }

  private acknowledged(m: Written): void {
    if (this.inFlight === 0) return; // already counted as lost when the thread stopped
    this.inFlight -= 1;
    if (this.inFlight === 0) this.port.unref();
    this.written(m);
  }

  /** Fails every batch in flight: the thread is gone, and what it had not acknowledged may not be on disk. */
  threadStopped(): void {
    const reason = this.thread.stopped ?? "the capture thread stopped";
    while (this.inFlight > 0) {
      this.inFlight -= 1;
      if (this.inFlight === 0) this.port.unref();
      this.written(reason);
    }
  }
}
