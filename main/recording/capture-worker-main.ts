/**
 * The capture thread's entry point: capture-thread.ts starts it, with this file and what it imports bundled into
 * one script (main/workers/worker-bundle.ts). Messages are those of capture-thread-messages.ts.
 *
 * For every region of a batch a CaptureWriter hands over, the thread fills in each record's checksum, writes the
 * region at the end of its file and says so, in the order they came. Records are laid out as in capture-format.ts:
 * u32 L, then L bytes whose last 4 are the checksum of the L - 4 before them (XXH64 computed in place in the batch's
 * memory, or CRC-32 for a file of an older format: capture-checksum.ts). A file's writes go one at a time, off this
 * thread's loop (libuv's pool), so that the checksums of the next region are computed while the last one is
 * written.
 * After a failed write the file takes nothing more (a gap would hide the records after it).
 *
 * Where the file system allows it (Linux, O_DIRECT) and the writer asks for it, a file is written around the page
 * cache: direct writes must start at a block boundary from an aligned buffer and be whole blocks. Batch buffers are
 * page-aligned and the writer lays records out in them at the offset they have in their block of the file, so the
 * thread writes the region's whole blocks from the batch itself, the file's partial last block copied in front of
 * them (it is the batch's own previous bytes when the region continues one), and the region's own partial last
 * block from a small aligned buffer, padded with zeros. The file then ends in zero padding up to the next block,
 * which the writer cuts at close. Elsewhere (tmpfs, macOS, Windows) the thread writes through the writer's own
 * descriptor, through the page cache.
 */
import * as fs from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { crc32 } from "node:zlib";
import { alignedBuffer, type SharedMemory } from "./aligned-memory.ts";
import type { ChecksumKind } from "./capture-checksum.ts";
import { PADDING_BLOCK } from "./capture-format.ts";
import {
  ALIVE,
  DOORBELL,
  type AttachFile,
  type CaptureThreadData,
  type ToCaptureThread,
  type Written,
} from "./capture-thread-messages.ts";
import { Xxh64 } from "./xxh64.ts";

/** Direct writes are whole blocks of this many bytes at offsets that are multiples of it (a page: safe everywhere). */
const DIRECT_BLOCK = PADDING_BLOCK;

/** A file written around the page cache. */
interface DirectFile {
  /** The thread's own O_DIRECT descriptor of the file. */
  fd: number;
  /** Where the records end: the next region goes here. */
  position: number;
  /** The file's partial last block: its first `position % DIRECT_BLOCK` bytes, written again before the next region. */
  carry: Buffer;
  /** An aligned block for a region's partial last block, padded with zeros. */
  tail: Buffer;
}

/** A batch buffer shared with the thread: its bytes, and XXH64 over them for a file whose records carry it. */
interface SharedBatch {
  bytes: Buffer;
  xxh64: Xxh64 | null;
}

/** A region handed over, its checksums filled in, waiting for its write. */
interface Region {
  bytes: Buffer;
  start: number;
  end: number;
  /** Why its checksums could not be filled in, if they couldn't: it fails in its turn. */
  unwritable: string | null;
}

const parent = parentPort;
if (parent === null) throw new Error("capture-worker-main.ts runs only as the capture thread");
const control = new Int32Array((workerData as CaptureThreadData).control);
process.on("exit", () => Atomics.store(control, ALIVE, 0));

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
  const carry = Buffer.alloc(DIRECT_BLOCK);
  try {
    const reader = fs.openSync(path, "r");
    try {
      for (let done = 0; done < size - start;) {
        const n = fs.readSync(reader, carry, done, size - start - done, start + done);
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
  return { fd, position: size, carry, tail: alignedBuffer(DIRECT_BLOCK).subarray(0, DIRECT_BLOCK) };
}

/**
 * Writes all of `buffers` to `fd` at `position` (null: at the descriptor's own position), going on after a short
 * write; calls `done` once, from libuv's callback.
 */
function writeAll(fd: number, buffers: Buffer[], position: number | null, done: (err: Error | null) => void): void {
  fs.writev(fd, buffers, position, (err, written) => {
    if (err !== null) return done(err);
    const rest: Buffer[] = [];
    let skip = written;
    for (const b of buffers) {
      if (skip < b.length) rest.push(b.subarray(skip));
      skip = Math.max(0, skip - b.length);
    }
    if (rest.length === 0) return done(null);
    if (written === 0) return done(new Error("the disk took no bytes"));
    writeAll(fd, rest, position === null ? null : position + written, done);
  });
}

/**
 * Starts writing `region` at the end of `file` as whole blocks: from the file's last block boundary, in place in the
 * batch, then the region's partial last block padded with zeros. Throws, writing nothing, for a region that isn't
 * laid out at its offset in the block.
 */
function writeDirect(file: DirectFile, { bytes, start, end }: Region, done: (err: Error | null) => void): void {
  const carried = file.position % DIRECT_BLOCK;
  const from = start - carried;
  if (from < 0 || from % DIRECT_BLOCK !== 0) {
    throw new Error(`region at ${start} is not laid out at its offset in the block (${carried})`);
  }
  // In front of a region that continues its batch these are the same bytes already.
  file.carry.copy(bytes, from, 0, carried);
  const whole = end - from - ((end - from) % DIRECT_BLOCK);
  const buffers = whole > 0 ? [bytes.subarray(from, from + whole)] : [];
  if (end > from + whole) {
    file.tail.fill(0);
    bytes.copy(file.tail, 0, from + whole, end);
    buffers.push(file.tail);
  }
  bytes.copy(file.carry, 0, from + whole, end);
  const at = file.position - carried;
  file.position += end - start;
  writeAll(file.fd, buffers, at, done);
}

/** Fills in the checksum of every record in bytes `start` .. `end` of `batch`: XXH64 where it has it, else CRC-32. */
function fillChecksums({ bytes, xxh64 }: SharedBatch, start: number, end: number): void {
  if (xxh64 !== null) return xxh64.fill(start, end);
  for (let p = start; p < end;) {
    const length = bytes.readUInt32LE(p);
    bytes.writeUInt32LE(crc32(bytes.subarray(p + 4, p + length)), p + length);
    p += 4 + length;
  }
}

/** A batch buffer just shared, ready to checksum records of `checksum` in. */
function sharedBatch(memory: SharedMemory, checksum: ChecksumKind): SharedBatch {
  return { bytes: Buffer.from(memory.buffer), xxh64: checksum === "xxh64" ? new Xxh64(memory) : null };
}

/** Serves one capture file, from its AttachFile until the main thread closes its port. */
function attach({ port, fd, path, size, direct: wanted, checksum }: AttachFile): void {
  const buffers = new Map<number, SharedBatch>();
  const direct = openDirect(path, size, wanted);
  const waiting: Region[] = [];
  let writing = false;
  let closed = false;
  let failure: Written = null;

  const closeDirect = (): void => {
    if (direct !== null) fs.closeSync(direct.fd);
  };
  const answer = (): void => {
    port.postMessage(failure);
    Atomics.add(control, DOORBELL, 1);
    Atomics.notify(control, DOORBELL);
  };
  const written = (err: Error | null): void => {
    writing = false;
    if (err !== null) failure ??= err.message;
    answer();
    // The writer closes its port only once every region is answered: nothing is left to write.
    if (closed) closeDirect();
    else writeNext();
  };
  /** Starts the next region's write unless one is under way; answers at once for those a failure stops. */
  const writeNext = (): void => {
    while (!writing && waiting.length > 0) {
      const region = waiting.shift()!;
      failure ??= region.unwritable;
      if (failure !== null) {
        answer();
        continue;
      }
      try {
        if (direct !== null) writeDirect(direct, region, written);
        else writeAll(fd, [region.bytes.subarray(region.start, region.end)], null, written);
        writing = true;
      } catch (err) {
        failure = err instanceof Error ? err.message : String(err);
        answer();
      }
    }
  };

  port.on("close", () => {
    closed = true;
    if (!writing) closeDirect();
  });
  port.on("message", (m: ToCaptureThread) => {
    if ("memory" in m) return void buffers.set(m.id, sharedBatch(m.memory, checksum));
    if (!("end" in m)) return void buffers.delete(m.id);
    const batch = buffers.get(m.id);
    const region: Region = { bytes: batch?.bytes ?? Buffer.alloc(0), start: m.start, end: m.end, unwritable: null };
    if (failure === null) {
      try {
        if (batch === undefined) throw new Error(`batch buffer ${m.id} was never shared`);
        fillChecksums(batch, m.start, m.end);
      } catch (err) {
        region.unwritable = err instanceof Error ? err.message : String(err);
      }
    }
    waiting.push(region);
    writeNext();
  });
}

parent.on("message", attach);
