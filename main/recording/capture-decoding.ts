/**
 * Checking and decoding records (format in capture-format.ts) where a reader found them in its buffer: cheap checks
 * first, the checksum next, then the event. Pure functions of the bytes: the file is capture-reader.ts's.
 */
import type { DataEvent, LogTimelineEvent, MessagePair, Span, TimelineEvent } from "../../preload/timeline.ts";
import {
  BODY_FIXED,
  CaptureError,
  DATA_AGAIN_PAYLOAD,
  kindInVersion,
  LIFECYCLE_EVENTS,
  LOG_LEVELS,
  RECORD_HEAD,
  RECORD_KIND,
} from "./capture-format.ts";
import { checksumOf, type ChecksumKind } from "./capture-checksum.ts";

/**
 * Whether the fixed part at `p` (RECORD_HEAD bytes, in `buf`) can start record number `seq` of a file of format
 * `version`: a cheap check that rejects most garbage before its claimed length is read.
 */
export function headIsPlausible(buf: Buffer, p: number, seq: number, version: number): boolean {
  const body = buf.readUInt32LE(p);
  const kind = buf[p + 4]!;
  const code = buf[p + 5]!;
  if (!kindInVersion(kind, version)) return false;
  const codes =
    kind === RECORD_KIND.lifecycle ? LIFECYCLE_EVENTS.length : kind === RECORD_KIND.log ? LOG_LEVELS.length : 2; // in, out
  const bodyFits =
    kind === RECORD_KIND.dataAgain ? body === BODY_FIXED + DATA_AGAIN_PAYLOAD + 4 : body >= BODY_FIXED + 4;
  return bodyFits && code < codes && buf.readDoubleLE(p + 12) === seq;
}

/**
 * Whether the whole record at `p` (all `4 + body` bytes in `buf`), already found plausible as record `seq`, has the
 * checksum it carries (of `kind`: capture-checksum.ts's checksumKind of the file's version), and, if it is "data
 * again", names an earlier record.
 */
export function recordIsValid(buf: Buffer, p: number, body: number, seq: number, kind: ChecksumKind): boolean {
  if (buf.readUInt32LE(p + body) !== checksumOf(kind, buf.subarray(p + 4, p + body))) return false;
  if (buf[p + 4] !== RECORD_KIND.dataAgain) return true;
  const source = buf.readDoubleLE(p + RECORD_HEAD);
  return Number.isInteger(source) && source >= 0 && source < seq;
}

/** The data bytes a valid record at `p` carries or stands for (0 for lifecycle and log records). */
export function dataBytesOf(buf: Buffer, p: number, body: number): number {
  const kind = buf[p + 4];
  return kind === RECORD_KIND.data
    ? body - 28
    : kind === RECORD_KIND.dataAgain
      ? buf.readUInt32LE(p + RECORD_HEAD + 8)
      : 0;
}

/** The JSON object in `buf` from `start` to `end`, or undefined where there is none. */
export function parseJson(buf: Buffer, start: number, end: number): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(buf.toString("utf8", start, end));
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** `e` with the child fd that the data or "data again" record at `p` stores (capture-format.ts), if it has one. */
export function withFd(e: DataEvent, buf: Buffer, p: number): DataEvent {
  const fd = buf.readUInt16LE(p + 6);
  if (fd > 0) e.fd = fd - 1;
  return e;
}

/**
 * Decodes a data, lifecycle or log record already checked by headIsPlausible and recordIsValid. Payload bytes are
 * copied: the event owns them.
 */
export function decodeRecord(buf: Buffer, p: number, body: number, file: string): TimelineEvent {
  const kind = buf[p + 4]!;
  const code = buf[p + 5]!;
  const conn = buf.readUInt32LE(p + 8);
  const seq = buf.readDoubleLE(p + 12);
  const t = buf.readDoubleLE(p + 20);
  const start = p + 28;
  const end = p + body;
  if (kind === RECORD_KIND.data) {
    const data = new Uint8Array(end - start);
    data.set(buf.subarray(start, end));
    return withFd({ seq, t, conn, kind: "data", dir: code === 0 ? "in" : "out", data }, buf, p);
  }
  const json = parseJson(buf, start, end);
  if (json === undefined) throw new CaptureError("corrupt", file, `${file}: record ${seq} has a damaged payload`);
  if (kind === RECORD_KIND.lifecycle) {
    const detail = typeof json.detail === "string" ? json.detail : "";
    const event = LIFECYCLE_EVENTS[code]!;
    return typeof json.fields === "object" && json.fields !== null
      ? { seq, t, conn, kind: "lifecycle", event, detail, fields: json.fields as Record<string, unknown> }
      : { seq, t, conn, kind: "lifecycle", event, detail };
  }
  const text = typeof json.text === "string" ? json.text : "";
  const fields = isObject(json.fields) ? json.fields : {};
  const event: LogTimelineEvent = { seq, t, conn, kind: "log", level: LOG_LEVELS[code]!, text, fields };
  // Written by the recorder after the engine checked them (message-check.ts), under the record's checksum; files from
  // before decoded messages have none of them.
  if (Array.isArray(json.spans)) event.spans = json.spans as Span[];
  if (isObject(json.fieldSpans)) event.fieldSpans = json.fieldSpans as Record<string, Span[]>;
  if (isObject(json.pair)) event.pair = json.pair as unknown as MessagePair;
  return event;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
