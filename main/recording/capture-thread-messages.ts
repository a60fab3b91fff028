/**
 * What the capture thread (capture-worker-main.ts) and the main thread's side of it (capture-thread.ts) say to each
 * other. Defined once here, so that both sides are checked against the same shapes.
 *
 * The main thread shares with the thread a control Int32Array of CONTROL_WORDS words (a SharedArrayBuffer, passed
 * as workerData): the thread bumps DOORBELL after every acknowledgement, so that a main thread blocked on it wakes
 * up, and sets ALIVE to 0 when it exits. Per capture file, the main thread sends an AttachFile over the worker's
 * port, then talks to the thread over the MessagePort it carries: ToCaptureThread messages in, one Written answer
 * per region written out, in order.
 */
import type { MessagePort } from "node:worker_threads";
import type { SharedMemory } from "./aligned-memory.ts";
import type { ChecksumKind } from "./capture-checksum.ts";

/** Index in the control array of the counter the thread bumps (and notifies) after every acknowledgement. */
export const DOORBELL = 0;
/** Index in the control array of whether the thread runs: 1 from its start, 0 once it exits. */
export const ALIVE = 1;
/** Length of the control array. */
export const CONTROL_WORDS = 2;

/** The thread's workerData. */
export interface CaptureThreadData {
  /** The control array's buffer: CONTROL_WORDS Int32 words. */
  control: SharedArrayBuffer;
}

/** Sent to the thread once per capture file, with `port` transferred. */
export interface AttachFile {
  /** The file's line to the main thread: ToCaptureThread in, Written out. */
  port: MessagePort;
  /** The writer's descriptor of the file, which stays the writer's: the thread only writes to it. */
  fd: number;
  path: string;
  /** Where the records end: the thread appends there. */
  size: number;
  /** Whether to write around the page cache where the file system allows it (O_DIRECT). */
  direct: boolean;
  /** The checksum the file's records carry (its format version's). */
  checksum: ChecksumKind;
}

/**
 * A batch buffer shown to the thread once, which later messages name by `id`: a shared WebAssembly memory,
 * page-aligned (aligned-memory.ts), so that the thread can write from it around the page cache and checksum records
 * in it in place (xxh64.ts).
 */
export interface ShareBatch {
  id: number;
  memory: SharedMemory;
}

/** The thread forgets batch buffer `id` (none of its batches is in flight). */
export interface UnshareBatch {
  id: number;
}

/**
 * Write bytes `start` .. `end` of batch buffer `id` (whole records, checksums not filled in yet) at the end of the
 * file. `start` is where the end of the file falls in its block (start % PADDING_BLOCK == file size % PADDING_BLOCK): the
 * bytes before it in the buffer, back to that block's start, are the thread's to fill in with the file's partial
 * last block (or already hold it, when the batch's previous region ended there), so that the thread can write whole
 * blocks from the buffer itself.
 */
export interface WriteBatch {
  id: number;
  start: number;
  end: number;
}

/** What the main thread sends over a file's port. */
export type ToCaptureThread = ShareBatch | UnshareBatch | WriteBatch;

/**
 * The thread's answer to each WriteBatch, in order: null when it is written, else why it (or an earlier region of
 * the same file) was not.
 */
export type Written = string | null;
