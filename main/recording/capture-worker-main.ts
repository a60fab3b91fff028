/**
 * The capture thread's entry point: capture-thread.ts starts it, with this file and what it imports bundled into
 * one script (main/workers/worker-bundle.ts). Messages are those of capture-thread-messages.ts.
 *
 * For every batch a CaptureWriter hands over, the thread fills in each record's CRC, writes the batch at the end of
 * its file and says so. Records are laid out as in capture-format.ts: u32 L, then L bytes whose last 4 are the CRC
 * of the L - 4 before them. After a failed write the file takes nothing more (a gap would hide the records after it).
 *
 * Where the file system allows it (Linux, O_DIRECT) and the writer asks for it, a file is written around the page
 * cache: direct writes must start at a block boundary from an aligned buffer and be whole blocks, so each batch is
 * copied, behind the partial block the last write ended in, into one aligned staging buffer (WebAssembly memory is
 * page-aligned) and written as whole blocks from there. The file then ends in zero padding up to the next block,
 * which the writer cuts at close. Elsewhere (tmpfs, macOS, Windows) the thread writes through the writer's own
 * descriptor, through the page cache.
 */
import * as fs from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { crc32 } from "node:zlib";
import { alignedBuffer } from "./aligned-memory.ts";
import { PADDING_BLOCK } from "./capture-format.ts";
import {
  ALIVE,
  DOORBELL,
  type AttachFile,
  type CaptureThreadData,
  type ToCaptureThread,
  type Written,
} from "./capture-thread-messages.ts";

/** Direct writes are whole blocks of this many bytes at offsets that are multiples of it (a page: safe everywhere). */
const DIRECT_BLOCK = PADDING_BLOCK;

/** A file written around the page cache. */
interface DirectFile {
  /** The thread's own O_DIRECT descriptor of the file. */
  fd: number;
  /** Where the records end: the next batch goes here. */
  position: number;
  /** The bytes of the partial block the records end in, written again (with more after them) by the next batch. */
  carry: Buffer;
}

const parent = parentPort;
if (parent === null) throw new Error("capture-worker-main.ts runs only as the capture thread");
const control = new Int32Array((workerData as CaptureThreadData).control);
process.on("exit", () => Atomics.store(control, ALIVE, 0));

/** The aligned staging buffer of direct writes, grown as batches need; one for every file. */
let staging: Buffer | null = null;

function stagingFor(bytes: number): Buffer {
  if (staging === null || staging.length < bytes) {
    staging = alignedBuffer(bytes);
  }
  return staging;
}

/** A direct descriptor for `path`, whose records end at `size`; null where O_DIRECT can't be had (or isn't wanted). */
function openDirect(path: string, size: number, wanted: boolean): DirectFile | null {
  if (!wanted || fs.constants.O_DIRECT === undefined) return null;
  let fd: number;
  try {
    fd = fs.openSync(path, fs.constants.O_WRONLY | fs.constants.O_DIRECT);
  } catch {
    return null;
  }
  const start = size - (size % DIRECT_BLOCK);
  const carry = Buffer.alloc(size - start);
  try {
    const reader = fs.openSync(path, "r");
    try {
      for (let done = 0; done < carry.length;) {
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

/** Writes the first `used` bytes of `bytes` at the end of `file`, as whole blocks padded with zeros. */
function writeDirect(file: DirectFile, bytes: Buffer, used: number): void {
  const c = file.carry.length;
  const end = c + used;
  const padded = Math.ceil(end / DIRECT_BLOCK) * DIRECT_BLOCK;
  const out = stagingFor(padded);
  file.carry.copy(out, 0);
  out.fill(bytes.subarray(0, used), c, end);
  out.fill(0, end, padded);
  const at = file.position - c;
  for (let done = 0; done < padded;) done += fs.writeSync(file.fd, out, done, padded - done, at + done);
  file.position += used;
  const tail = end % DIRECT_BLOCK;
  file.carry = Buffer.from(out.subarray(end - tail, end));
}

/** Fills in the CRC of every record in the first `used` bytes of `bytes`. */
function fillCrcs(bytes: Buffer, used: number): void {
  for (let p = 0; p < used;) {
    const length = bytes.readUInt32LE(p);
    bytes.writeUInt32LE(crc32(bytes.subarray(p + 4, p + length)), p + length);
    p += 4 + length;
  }
}

/** Serves one capture file, from its AttachFile until the main thread closes its port. */
function attach({ port, fd, path, size, direct: wanted }: AttachFile): void {
  const buffers = new Map<number, Buffer>();
  const direct = openDirect(path, size, wanted);
  let failure: Written = null;
  port.on("close", () => {
    if (direct !== null) fs.closeSync(direct.fd);
  });
  port.on("message", (m: ToCaptureThread) => {
    if ("buffer" in m) return void buffers.set(m.id, Buffer.from(m.buffer));
    if (!("used" in m)) return void buffers.delete(m.id);
    if (failure === null) {
      try {
        const bytes = buffers.get(m.id);
        if (bytes === undefined) throw new Error(`batch buffer ${m.id} was never shared`);
        fillCrcs(bytes, m.used);
        if (direct !== null) writeDirect(direct, bytes, m.used);
        else for (let done = 0; done < m.used;) done += fs.writeSync(fd, bytes, done, m.used - done);
      } catch (err) {
        failure = err instanceof Error ? err.message : String(err);
      }
    }
    port.postMessage(failure);
    Atomics.add(control, DOORBELL, 1);
    Atomics.notify(control, DOORBELL);
  });
}

parent.on("message", attach);
