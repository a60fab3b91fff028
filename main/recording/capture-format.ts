/**
 * Capture files: one session's timeline on disk, append-only, readable while it grows and after a crash.
 *
 * Format (version 3; every integer little-endian):
 *
 *     header   off  size
 *              0    8    magic "\x89WSCAP\r\n" (a high byte and CR LF, like PNG's, so that a text-mode copy shows)
 *              8    2    u16 format version (CAPTURE_VERSION)
 *              10   2    u16 flags, 0
 *              12   4    u32 length M of the meta block
 *              16   M    UTF-8 JSON object: CaptureMeta (timeOrigin, plus whatever the session layer keeps)
 *     records  16+M, then back to back until the end of the file:
 *              0    4    u32 L: length of the rest of the record (24 + payload + 4)
 *              4    1    u8 kind: 1 data, 2 lifecycle, 3 log, 4 data again (version 2)
 *              5    1    u8 code: data and data again 0 "in" / 1 "out"; lifecycle the index in LIFECYCLE_EVENTS;
 *                        log the index in LOG_LEVELS. Both tables are append-only: a code never changes meaning.
 *              6    2    u16 data and data again: the child's fd + 1 for a process session's bytes (1 stdin,
 *                        2 stdout, 3 stderr), 0 for a socket's; lifecycle and log 0. Once reserved and always 0,
 *                        so files written before hold no fd and readers that ignore it lose nothing else.
 *              8    4    u32 conn
 *              12   8    f64 seq (dense from 0: equal to the record's position in the file)
 *              20   8    f64 t, monotonic microseconds (see CaptureMeta.timeOrigin)
 *              28   P    payload: data, the raw bytes; lifecycle, JSON {"detail"} or {"detail","fields"}; log, JSON {"text","fields"},
 *                        a decoded message's with "spans" and, if it has them, "fieldSpans" and "pair" (LogTimelineEvent's);
 *                        data again (P = 12), f64 seq of an earlier data record (kind 1) and u32 length of its
 *                        bytes: the same bytes passed again, as when a proxy forwards the chunk it just received
 *              28+P 4    u32 checksum of bytes 4 .. 28+P: from version 3 the low 32 bits of XXH64, seed 0
 *                        (https://github.com/Cyan4973/xxHash/blob/dev/doc/xxhash_spec.md); before, CRC-32 (zlib's)
 *
 * Version 2 added "data again", which halves what a proxy writes; version 1 files have no such records and are
 * read the same way. Version 3 changed the checksum only: XXH64 costs less than half of what CRC-32 did a byte, and
 * a tenth a small record (capture-checksum.ts). A writer continuing an older file keeps to that file's version (its records, its
 * checksum), so the file stays readable by the Wirescope that made it.
 *
 * A process killed mid-write leaves at most a partial tail: the reader accepts records while the length fits in the
 * file, the checksum matches and `seq` is the next number, and ignores everything after the first record that fails
 * (reported as `lostBytes`; `CaptureWriter.resume` truncates it away). The checksum also rejects garbage appended after
 * the last record. Records are only ever appended, so damage can only be at the tail.
 *
 * While a writer runs, the file may end in zero bytes up to the next multiple of PADDING_BLOCK: the capture thread
 * writes whole blocks around the page cache (capture-worker-main.ts), and the writer cuts the padding when it
 * closes. A file left by a killed process can keep it; such a tail (zeros only, ending on a block boundary, shorter
 * than a block) is padding, not lost data.
 *
 * Readers never hold one object per record: a sparse CaptureIndex keeps the offset of every 256th record (and of
 * the first record after each MiB), and a range read seeks to the nearest mark and walks forward.
 *
 * This module is the format: its constants, the record layout and the tables of codes, and what a writer and a
 * reader both keep (meta, totals, errors). Records are encoded by capture-encoding.ts (for CaptureWriter, the
 * checksum filled in by the capture thread, capture-checksum.ts), checked and decoded by capture-decoding.ts, and
 * read by range by capture-reader.ts; the sparse index is capture-index.ts.
 */
import type { ErrorCodes } from "../../preload/errors.ts";
import type { LifecycleEvent, LogTimelineEvent } from "../../preload/timeline.ts";

/** The format version this code writes, and the newest it reads. */
export const CAPTURE_VERSION = 3;
/** The first version with "data again" records. */
const VERSION_DATA_AGAIN = 2;
/** The first version whose records end in XXH64 rather than CRC-32. */
export const VERSION_XXH64 = 3;

/** The first bytes of every capture file. */
export const MAGIC = Buffer.from("\x89WSCAP\r\n", "latin1");
/** The header's fixed part: magic, version, flags, meta length; the meta follows. */
export const HEADER_FIXED = 16;
/** The block size of direct writes: a live capture may end in zero padding up to a multiple of it. */
export const PADDING_BLOCK = 4096;

/** Bytes of a record besides its payload: length, kind, code, reserved, conn, seq, t, checksum. */
export const RECORD_OVERHEAD = 32;
/** A record's fixed part after its length field: kind .. t. */
export const BODY_FIXED = 24;
/** The fixed part of a record, length field included: where its payload starts. */
export const RECORD_HEAD = 4 + BODY_FIXED;
/** The largest payload a record can hold. */
export const MAX_PAYLOAD = 0xffff_ffff - RECORD_OVERHEAD;
/** The payload of a "data again" record: the earlier record's seq and its length. */
export const DATA_AGAIN_PAYLOAD = 12;

const KIND_DATA = 1;
const KIND_LIFECYCLE = 2;
const KIND_LOG = 3;
const KIND_DATA_AGAIN = 4;

/** The record kinds, as stored. */
export const RECORD_KIND = {
  data: KIND_DATA,
  lifecycle: KIND_LIFECYCLE,
  log: KIND_LOG,
  dataAgain: KIND_DATA_AGAIN,
} as const;

/** Whether records of `kind` may appear in a file of format `version`. */
export function kindInVersion(kind: number, version: number): boolean {
  return kind === KIND_DATA_AGAIN ? version >= VERSION_DATA_AGAIN : kind >= KIND_DATA && kind <= KIND_LOG;
}

/** Lifecycle event codes: the index is what the file stores. Append only; never reorder. */
export const LIFECYCLE_EVENTS = [
  "listening",
  "connecting",
  "connected",
  "read-closed",
  "write-closed",
  "lost",
  "failed",
  "paused",
  "resumed",
  "protocol-loaded",
  "protocol-reloaded",
  "protocol-halted",
  "protocol-error",
  "error",
  "closed",
  "tls",
  "tls-failed",
  "spawned",
  "fd-closed",
  "exited",
  "ended",
] as const satisfies readonly LifecycleEvent[];

/** Log level codes, as stored. Append only. */
export const LOG_LEVELS = ["debug", "info", "warn", "error", "critical"] as const satisfies readonly LogLevel[];
type LogLevel = LogTimelineEvent["level"];

// A lifecycle event or log level added to preload/timeline.ts must get a code above: this fails to compile until then.
type Covers<All, Listed> = [Exclude<All, Listed>] extends [never] ? true : never;
const _everyEventHasACode: Covers<LifecycleEvent, (typeof LIFECYCLE_EVENTS)[number]> &
  Covers<LogLevel, (typeof LOG_LEVELS)[number]> = true;

/** What a capture file says about itself, in its header. Fixed when the file is created. */
export interface CaptureMeta {
  /** Wall-clock time (ms since the Unix epoch) at which the records' `t` is 0. */
  timeOrigin: number;
  /** Anything else the session layer keeps with the capture (kind, target, protocol, ...), JSON-safe. */
  [key: string]: unknown;
}

/** Totals over a capture's records. */
export interface CaptureSummary {
  /** Number of records. */
  count: number;
  /** Payload bytes of data records received from the peer, and written to it. */
  bytesIn: number;
  bytesOut: number;
  /** `t` of the first and last record; null while there are none. */
  firstT: number | null;
  lastT: number | null;
}

/** Why a capture could not be read or written. `code` is stable (preload/errors.ts); the message names the file. */
export type CaptureErrorCode = ErrorCodes<
  | "not-a-capture" // no magic, or a header that does not parse
  | "newer-version" // written by a newer Wirescope
  | "corrupt" // a record that was valid when indexed no longer is (the file changed underneath)
  | "invalid-event" // append() was given something the format can't hold
  | "write-failed" // the disk refused a write; the records after it exist only in memory
  | "closed" // used after close()
>;

/** Thrown by capture readers and writers (and by the recorder for their failures). */
export class CaptureError extends Error {
  constructor(
    readonly code: CaptureErrorCode,
    /** The capture file concerned. */
    readonly file: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "CaptureError";
  }
}

/** Totals over no records. */
export function emptySummary(): CaptureSummary {
  return { count: 0, bytesIn: 0, bytesOut: 0, firstT: null, lastT: null };
}

/** Counts one record in `s`; `dataBytes` is what a data or "data again" record carries (0 for the others). */
export function summarize(s: CaptureSummary, t: number, kind: number, code: number, dataBytes: number): void {
  s.count += 1;
  if (kind === KIND_DATA || kind === KIND_DATA_AGAIN) {
    if (code === 0) s.bytesIn += dataBytes;
    else s.bytesOut += dataBytes;
  }
  s.firstT ??= t;
  s.lastT = t;
}
