/**
 * How a batch from the worker crosses to the main thread: its operations as one JSON text beside the transferred
 * bytes, not as a structured clone of many small objects. A protocol that logs every message it decodes sends
 * thousands of log events per batch; V8 clones such a graph several times slower than it writes and parses the same
 * as JSON, and the parsing side is the engine's thread. Operations from the worker are JSON-safe by design (log
 * fields are made so by jsonSafe, wire-log-event.ts; the watchdog reads a hung worker's queue as JSON too:
 * Outbox.unsent).
 *
 * A log event of the usual shape (no message, or a message of plain spans only) goes as a flat list rather than
 * nested objects, its time in whole milliseconds: writing and parsing it is about twice as fast, on each thread:
 *
 *     [id, level, namespace, text, fieldsJson, timeMs, spanCount (-1: no message), dir0 (0 in, 1 out), offset0,
 *      length0, dir1, ...]
 *
 * Every other operation goes as it is, an object. Imported by worker-main.ts (encode) and host.ts (decode).
 */
import type { Batch, FromWorker, WireLogEvent } from "./messages.ts";

/** A batch as it crosses (see the module comment). */
export interface WireBatch {
  ops: string;
  bytes: ArrayBuffer | null;
  partial?: true;
}

type LogOp = Extract<FromWorker, { op: "log" }>;
/** Where a flat log event's spans start. */
const SPANS_AT = 7;
const LEVELS: ReadonlySet<unknown> = new Set<WireLogEvent["level"]>(["debug", "info", "warn", "error", "critical"]);

/** `batch` as it crosses. Called by the worker for every batch it posts. */
export function encodeBatch(batch: Batch<FromWorker>): WireBatch {
  const ops: unknown[] = batch.ops.map((op) => (op.op === "log" ? (flatLog(op) ?? op) : op));
  const wire: WireBatch = { ops: JSON.stringify(ops), bytes: batch.bytes };
  if (batch.partial) wire.partial = true;
  return wire;
}

/**
 * The batch `message` carries, or null when it is not one (user code may post anything on its worker's port: that
 * is ignored, never thrown on the main thread). The operations themselves are not checked beyond their shape: the
 * host applies what it knows and the engine checks what user code could have put in them (message-check.ts,
 * tls-request.ts).
 */
export function decodeBatch(message: unknown): Batch<FromWorker> | null {
  if (typeof message !== "object" || message === null) return null;
  const { ops, bytes, partial } = message as Partial<Record<keyof WireBatch, unknown>>;
  if (typeof ops !== "string" || !(bytes === null || bytes instanceof ArrayBuffer)) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(ops);
  } catch {
    return null;
  }
  if (!Array.isArray(parsed)) return null;
  const decoded: FromWorker[] = [];
  for (const op of parsed as unknown[]) {
    // An operation that can't be read is skipped, not the batch: its writes and acks are the connection's life.
    const one = Array.isArray(op) ? unflatLog(op) : (op as FromWorker);
    if (one !== null && typeof one === "object") decoded.push(one);
  }
  const batch: Batch<FromWorker> = { ops: decoded, bytes };
  if (partial === true) batch.partial = true;
  return batch;
}

/** `op` as a flat list, or null when it is not of the usual shape (it then crosses as it is). */
function flatLog(op: LogOp): unknown[] | null {
  const { level, namespace, text, fieldsJson, time, message } = op.event;
  if (!LEVELS.has(level) || typeof namespace !== "string" || typeof text !== "string") return null;
  if (typeof fieldsJson !== "string") return null;
  const timeMs = Math.round(time * 1000);
  if (timeMs / 1000 !== time) return null;
  const flat: unknown[] = [op.id, level, namespace, text, fieldsJson, timeMs, -1];
  if (message === undefined) return flat;
  if (typeof message !== "object" || message === null || Object.keys(message).length !== 1) return null;
  const spans = (message as { spans?: unknown }).spans;
  if (!Array.isArray(spans)) return null;
  for (const span of spans as unknown[]) {
    if (typeof span !== "object" || span === null || Object.keys(span).length !== 3) return null;
    const { dir, offset, length } = span as Record<string, unknown>;
    if ((dir !== "in" && dir !== "out") || !Number.isFinite(offset) || !Number.isFinite(length)) return null;
    flat.push(dir === "in" ? 0 : 1, offset, length);
  }
  flat[SPANS_AT - 1] = spans.length;
  return flat;
}

/** The log operation a flat list stands for, or null when it is not one of `flatLog`'s. */
function unflatLog(flat: unknown[]): LogOp | null {
  const [id, level, namespace, text, fieldsJson, timeMs, count] = flat;
  if (!(id === null || typeof id === "number") || !LEVELS.has(level)) return null;
  if (typeof namespace !== "string" || typeof text !== "string" || typeof fieldsJson !== "string") return null;
  if (typeof timeMs !== "number" || typeof count !== "number" || flat.length !== SPANS_AT + Math.max(0, count) * 3) {
    return null;
  }
  const event: WireLogEvent = {
    level: level as WireLogEvent["level"],
    namespace,
    text,
    fieldsJson,
    time: timeMs / 1000,
  };
  if (count >= 0) {
    const spans: { dir: "in" | "out"; offset: unknown; length: unknown }[] = [];
    for (let at = SPANS_AT; at < flat.length; at += 3) {
      spans.push({ dir: flat[at] === 0 ? "in" : "out", offset: flat[at + 1], length: flat[at + 2] });
    }
    event.message = { spans };
  }
  return { op: "log", id, event };
}
