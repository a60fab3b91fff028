/**
 * The capture thread: where capture files are written, off the event loop that runs the sockets. A CaptureWriter
 * encodes records into batch buffers on the main thread and hands regions of them over by number and offsets; the
 * thread (capture-worker-main.ts) fills in each record's checksum, writes the region from the batch itself and says
 * so. So the main thread never computes a checksum or waits for the disk, except where CaptureWriter bounds its queue.
 *
 * Where the file system allows it (Linux, O_DIRECT), the thread writes around the page cache: a buffered write
 * copies every byte into the page cache and costs the kernel more CPU than the proxy it records (on the 2-vCPU
 * machines this is built on, 512 MiB took 1.2 s buffered and 0.03 s of CPU direct). The file then ends in zero
 * padding up to the next block until the writer truncates it at close (a capture reopened after a crash ignores that
 * padding: see capture-reader.ts). Elsewhere (tmpfs, macOS, Windows) it writes through the page cache as before.
 *
 * Batch buffers are page-aligned SharedArrayBuffers (aligned-memory.ts), shown to the thread once and reused: moving
 * ArrayBuffers back and forth instead would make V8 count every batch as new external memory and collect garbage far
 * more often, and a direct write needs aligned memory (which spares the thread a copy into a staging buffer).
 *
 * One thread serves every capture of the process: started with the first one, it never keeps the process alive.
 * Its script is bundled from capture-worker-main.ts (or found prebuilt) once per process, as the sandbox worker's
 * is (main/workers/worker-bundle.ts). Each writer talks to it over a MessagePort of its own (a CaptureChannel), so
 * one file's regions are written in the order they were handed over, each acknowledged once.
 */
import { fileURLToPath } from "node:url";
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from "node:worker_threads";
import { WorkerBundle } from "../workers/worker-bundle.ts";
import type { SharedMemory } from "./aligned-memory.ts";
import type { ChecksumKind } from "./capture-checksum.ts";
import {
  ALIVE,
  CONTROL_WORDS,
  DOORBELL,
  type AttachFile,
  type CaptureThreadData,
  type ToCaptureThread,
  type Written,
} from "./capture-thread-messages.ts";

/** The capture thread's script, for the thread and the desktop build. */
export const CAPTURE_WORKER = new WorkerBundle(
  "capture thread",
  fileURLToPath(new URL("./capture-worker-main.ts", import.meta.url)),
  "capture-worker.js",
);

/**
 * Whether the thread writes a file opened from now on around the page cache where it can: yes, unless
 * `WIRESCOPE_CAPTURE_DIRECT=0` (the benchmark and the tests compare both).
 */
function directWrites(): boolean {
  return process.env.WIRESCOPE_CAPTURE_DIRECT !== "0";
}

/**
 * What the writer is told, once per region handed over, in order: null when it is written, else why it (or an
 * earlier region of the same file) was not.
 */
export type WrittenCallback = (error: Written) => void;

/** The capture thread of this process, as the main thread sees it. CaptureWriters get it from `shared()`. */
export class CaptureThread {
  private static current: CaptureThread | null = null;

  /**
   * The running thread, started (again, if the last one stopped) on demand. The first call of the process loads
   * its script (CAPTURE_WORKER: read prebuilt, or bundled from the sources); later ones resolve at once. Rejects,
   * saying why, when the script can't be had; the next call tries again.
   */
  static async shared(): Promise<CaptureThread> {
    const source = await CAPTURE_WORKER.source();
    if (CaptureThread.current === null || !CaptureThread.current.alive) {
      CaptureThread.current = new CaptureThread(source);
    }
    return CaptureThread.current;
  }

  readonly control = new Int32Array(new SharedArrayBuffer(CONTROL_WORDS * Int32Array.BYTES_PER_ELEMENT));
  /** Why the thread stopped, once it has. */
  stopped: string | null = null;
  private readonly worker: Worker;
  readonly channels = new Set<CaptureChannel>();

  private constructor(source: string) {
    Atomics.store(this.control, ALIVE, 1);
    const workerData: CaptureThreadData = { control: this.control.buffer };
    this.worker = new Worker(source, { eval: true, name: "wirescope capture writer", workerData });
    this.worker.unref();
    this.worker.on("error", (err) => this.stop(`the capture thread failed: ${err.message}`));
    this.worker.on("exit", (code) => this.stop(`the capture thread stopped (exit code ${code})`));
  }

  /** False once the thread has stopped, as seen from here or (while this thread blocks) from the thread itself. */
  get alive(): boolean {
    return this.stopped === null && Atomics.load(this.control, ALIVE) === 1;
  }

  /** Hands the thread one capture file (see CaptureChannel's constructor) and `port`, the file's line to it. */
  attach(port: MessagePort, fd: number, path: string, size: number, checksum: ChecksumKind): void {
    const file: AttachFile = { port, fd, path, size, direct: directWrites(), checksum };
    this.worker.postMessage(file, [port]);
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
  private readonly port: MessagePort;
  /** Batches handed over and not yet acknowledged. */
  private inFlight = 0;

  /**
   * `fd` is the writer's descriptor of `path`, whose records end at `size`: the thread appends there, through `fd`
   * or through a direct descriptor of its own. The file may then end in zero padding past the last record, which
   * the writer cuts with `truncate` once nothing is in flight.
   */
  constructor(
    /** The thread, from CaptureThread.shared(). */
    private readonly thread: CaptureThread,
    fd: number,
    path: string,
    size: number,
    /** The checksum of the file's records (its format version's). */
    checksum: ChecksumKind,
    private readonly written: WrittenCallback,
  ) {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    port1.on("message", (m: Written) => this.acknowledged(m));
    port1.unref();
    this.thread.channels.add(this);
    this.thread.attach(port2, fd, path, size, checksum);
  }

  /** Shows the thread batch buffer number `id`, which `send` may name from now on. */
  share(id: number, memory: SharedMemory): void {
    this.post({ id, memory });
  }

  /** The thread forgets batch buffer `id` (none of its batches in flight). */
  unshare(id: number): void {
    this.post({ id });
  }

  /**
   * Hands bytes `start` .. `end` of batch buffer `id` (whole records, laid out as WriteBatch says) to the thread,
   * which owns them, and the bytes in front of them back to their block's start, until the region is acknowledged:
   * the writer must not touch them meanwhile. Regions are written in the order they are sent.
   */
  send(id: number, start: number, end: number): void {
    this.inFlight += 1;
    if (this.inFlight === 1) this.port.ref();
    if (!this.thread.alive) {
      queueMicrotask(() => this.threadStopped());
      return;
    }
    this.post({ id, start, end });
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

  private post(m: ToCaptureThread): void {
    this.port.postMessage(m);
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
