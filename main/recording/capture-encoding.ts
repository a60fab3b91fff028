/**
 * Encoding records and headers (format in capture-format.ts), for CaptureWriter: it encodes into its batch buffers
 * on the main thread and leaves each record's checksum to the capture thread (capture-worker-main.ts).
 */
import type { LifecycleTimelineEvent, LogTimelineEvent, TimelineEvent } from "../../preload/timeline.ts";
import {
  BODY_FIXED,
  CAPTURE_VERSION,
  HEADER_FIXED,
  LIFECYCLE_EVENTS,
  LOG_LEVELS,
  MAGIC,
  type CaptureMeta,
} from "./capture-format.ts";
import type { EncodedLogEvent } from "./encoded-log-event.ts";
import { spansJson } from "./spans-json.ts";

const LIFECYCLE_CODE = new Map<string, number>(LIFECYCLE_EVENTS.map((e, i) => [e, i]));
const LOG_CODE = new Map<string, number>(LOG_LEVELS.map((l, i) => [l, i]));

/**
 * The JSON payload of a lifecycle or log event (an EncodedLogEvent's is written from its bytes: `encodedLogParts`).
 * Never throws: unserializable fields are replaced, saying why.
 */
export function jsonPayload(e: LifecycleTimelineEvent | LogTimelineEvent): string {
  if (e.kind === "lifecycle") {
    return JSON.stringify(e.fields === undefined ? { detail: e.detail } : { detail: e.detail, fields: e.fields });
  }
  try {
    return JSON.stringify({ text: e.text, fields: e.fields, ...messageParts(e) });
  } catch (err) {
    // A bigint or a cycle in the fields must not cost the event: keep it, say why its fields are gone, and make
    // the in-memory event say the same as the file.
    e.fields = { unserializable: err instanceof Error ? err.message : String(err) };
    return JSON.stringify({ text: e.text, fields: e.fields, ...messageParts(e) });
  }
}

/**
 * How an EncodedLogEvent's payload is written: the first `copied` bytes of what its source wrote (the whole payload,
 * when the source wrote it for exactly these message parts; else the head: encoded-log-event.ts), then `tail`, so
 * that the payload is the text `jsonPayload` would write for the event (keys in the same order).
 */
export function encodedLogParts(e: EncodedLogEvent): { copied: number; tail: string } {
  const whole = e.fieldSpans === undefined && e.pair === undefined ? e.source.payloadBytesFor(e.spans) : -1;
  if (whole >= 0) return { copied: whole, tail: "" };
  let tail = "";
  if (e.spans !== undefined) tail += `,"spans":${spansJson(e.spans)}`;
  if (e.fieldSpans !== undefined) tail += `,"fieldSpans":${JSON.stringify(e.fieldSpans)}`;
  if (e.pair !== undefined) tail += `,"pair":${JSON.stringify(e.pair)}`;
  return { copied: e.source.headBytes, tail: `${tail}}` };
}

/** A decoded message's spans, field spans and pairing, for its payload (nothing for a plain log line). */
function messageParts(e: LogTimelineEvent): Pick<LogTimelineEvent, "spans" | "fieldSpans" | "pair"> {
  const parts: Pick<LogTimelineEvent, "spans" | "fieldSpans" | "pair"> = {};
  if (e.spans !== undefined) parts.spans = e.spans;
  if (e.fieldSpans !== undefined) parts.fieldSpans = e.fieldSpans;
  if (e.pair !== undefined) parts.pair = e.pair;
  return parts;
}

/** The code `e` is stored with, or undefined for an event the format has no code for. */
export function eventCode(e: TimelineEvent): number | undefined {
  switch (e.kind) {
    case "data":
      return e.dir === "in" ? 0 : e.dir === "out" ? 1 : undefined;
    case "lifecycle":
      return LIFECYCLE_CODE.get(e.event);
    case "log":
      return LOG_CODE.get(e.level);
  }
}

/**
 * Writes the fixed part of a record at `p` (its length field included) for a payload of `payloadBytes`. Through a
 * DataView: V8 inlines its accessors, where Buffer's writeUInt32LE / writeDoubleLE cost several times more, which a
 * small record feels.
 */
export function writeRecordHead(
  view: DataView,
  p: number,
  kind: number,
  code: number,
  e: TimelineEvent,
  payloadBytes: number,
): void {
  view.setUint32(p, BODY_FIXED + payloadBytes + 4, true);
  view.setUint8(p + 4, kind);
  view.setUint8(p + 5, code);
  view.setUint16(p + 6, e.kind === "data" && e.fd !== undefined ? e.fd + 1 : 0, true);
  view.setUint32(p + 8, e.conn, true);
  view.setFloat64(p + 12, e.seq, true);
  view.setFloat64(p + 20, e.t, true);
}

/** Writes the payload of a "data again" record at `p`: the bytes of record `source`, `length` of them. */
export function writeDataAgain(view: DataView, p: number, source: number, length: number): void {
  view.setFloat64(p, source, true);
  view.setUint32(p + 8, length, true);
}

/** The header of a new capture. */
export function encodeHeader(meta: CaptureMeta): Buffer {
  const json = Buffer.from(JSON.stringify(meta), "utf8");
  const header = Buffer.alloc(HEADER_FIXED + json.length);
  MAGIC.copy(header, 0);
  header.writeUInt16LE(CAPTURE_VERSION, 8);
  header.writeUInt16LE(0, 10);
  header.writeUInt32LE(json.length, 12);
  json.copy(header, HEADER_FIXED);
  return header;
}

/** "data event (in) seq 4 on conn 1", for error messages. */
export function describeEvent(e: TimelineEvent): string {
  const what = e.kind === "data" ? `data ${String(e.dir)}` : e.kind === "lifecycle" ? String(e.event) : String(e.level);
  return `${e.kind} event (${what}) seq ${e.seq} on conn ${e.conn}`;
}
