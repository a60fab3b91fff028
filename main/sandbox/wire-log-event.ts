/**
 * A log event of the worker's core as it crosses to main (WireLogEvent): its fields JSON-safe, a failure's stack
 * mapped to the user's source, and a decoded message's "in" spans moved from the count of its protocol instance (a
 * framer counts from the instance's start) to the bytes the worker got for the connection (main maps those onto the
 * stream: stream-offsets.ts).
 *
 * Guarantees: what these functions return is JSON-safe and a copy: the logger's event and the objects user code
 * logged are never changed. Called by the runtime (runtime.ts) for every log event of the worker, so a protocol
 * reporting every message it decodes goes through here for each one.
 */
import { formatEvent, LogLevel, type LogEvent, type Span } from "../../core/logger.ts";
import type { WireLogEvent } from "./messages.ts";
import type { StackMapper } from "./stack-map.ts";

/**
 * Where a protocol instance's offsets start: the bytes its connection got before it was built (or was skipped by
 * it), by fd (-1 for a socket's). Replaced, never changed in place: a message already placed keeps its offsets.
 */
export interface CountedFrom {
  receivedBefore: ReadonlyMap<number, number>;
}

/**
 * How many values one log event's fields may hold once made JSON-safe (jsonSafe's budget): an object that refers to
 * itself would otherwise be walked 1,000 keys wide and 6 deep — seconds and tens of MB for one event.
 */
const MAX_FIELD_VALUES = 10_000;

/**
 * Log fields made JSON-safe: bytes as latin1 strings, errors as "Name: message", depth and size bounded (at most
 * `budget.left` values in all; past it, "…"). May throw what user code throws (a getter, a toString): see
 * `wireLogEvent`.
 */
export function jsonSafe(value: unknown, depth = 0, budget = { left: MAX_FIELD_VALUES }): unknown {
  if (--budget.left < 0) return "…";
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      return Number.isFinite(value) ? value : String(value);
    case "bigint":
    case "symbol":
      return value.toString();
    case "undefined":
      return null;
    case "function":
      return `<function ${(value as { name: string }).name || "(anonymous)"}>`;
  }
  if (value === null) return null;
  if (value instanceof Uint8Array)
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("latin1");
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  if (depth >= 6) return String(value);
  if (Array.isArray(value)) return value.slice(0, 1000).map((item) => jsonSafe(item, depth + 1, budget));
  const proto = Object.getPrototypeOf(value) as unknown;
  const plain = proto === Object.prototype || proto === null;
  if (!plain && (value as object).toString !== Object.prototype.toString) return String(value);
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value as object).slice(0, 1000)) {
    out[key] = jsonSafe(item, depth + 1, budget);
  }
  return out;
}

/**
 * `event` rendered and JSON-safe, without its decoded message (`placedMessage` gives that). Never throws, whatever
 * user code logged (the core's publisher drops an observer that throws, and the runtime's is the sandbox's only): a
 * field that throws as it is read is replaced by a note, a level the engine doesn't know is "info".
 */
export function wireLogEvent(event: LogEvent, stacks: StackMapper): WireLogEvent {
  return {
    level: isLogLevel(event.log_level) ? event.log_level : "info",
    namespace: typeof event.log_namespace === "string" ? event.log_namespace : "(no namespace)",
    text: tryOr(
      () => formatEvent(event),
      (err) => `(the log format could not be rendered: ${thrown(err)})`,
    ),
    fieldsJson: tryOr(
      () => fieldsJson(event, stacks),
      (err) => JSON.stringify({ unserializable: `a log field could not be read: ${thrown(err)}` }),
    ),
    time: typeof event.log_time === "number" ? event.log_time : Date.now() / 1000,
  };
}

/** `event`'s fields (all but log_*) as JSON text, JSON-safe within one budget; throws what user code throws. */
function fieldsJson(event: LogEvent, stacks: StackMapper): string {
  const fields: Record<string, unknown> = {};
  const budget = { left: MAX_FIELD_VALUES };
  for (const key of Object.keys(event)) {
    if (!key.startsWith("log_")) fields[key] = jsonSafe(event[key], 0, budget);
  }
  if (event.log_failure) fields["failure"] = stacks.mapStack(event.log_failure.stack ?? "").stack;
  return JSON.stringify(fields);
}

const LOG_LEVELS: ReadonlySet<unknown> = new Set(LogLevel);

/** Whether `level` is one the engine knows (core/logger.ts LogLevel); a user's own level is logged as "info". */
export function isLogLevel(level: unknown): level is LogLevel {
  return LOG_LEVELS.has(level);
}

/** What `fn` returns, or what `fallback` makes of what it threw. */
export function tryOr<T>(fn: () => T, fallback: (err: unknown) => T): T {
  try {
    return fn();
  } catch (err) {
    return fallback(err);
  }
}

/** A thrown value as text, even one whose own toString throws (a revoked Proxy). */
function thrown(err: unknown): string {
  return tryOr(
    () => (err instanceof Error ? `${err.name}: ${err.message}` : String(err)),
    () => "(unprintable)",
  );
}

/**
 * A decoded message's `log_message`, JSON-safe, its "in" spans counted among the bytes this worker got for the
 * connection (`counted`; null: no connection, the spans stay as logged). A stream protocol run on a process
 * session's child receives the child's stdout (`onStdout`): its "in" spans get fd 1.
 */
export function placedMessage(logged: unknown, counted: CountedFrom | null, onStdout: boolean): unknown {
  const message = safeMessage(logged);
  if (counted === null || typeof message !== "object" || message === null) return message;
  const { spans, fieldSpans } = message as { spans?: unknown; fieldSpans?: unknown };
  placeSpans(counted, spans, onStdout);
  if (typeof fieldSpans === "object" && fieldSpans !== null) {
    for (const list of Object.values(fieldSpans)) placeSpans(counted, list, onStdout);
  }
  return message;
}

/**
 * `logged` made JSON-safe, as `jsonSafe` would make it, and a copy (it is changed in place afterwards). The message of
 * the core's `log.message` (spans, and maybe field spans and pairing) is checked and copied on a fast path; anything
 * else goes through jsonSafe. A protocol reporting every message it decodes calls this for each one.
 */
function safeMessage(logged: unknown): unknown {
  if (typeof logged !== "object" || logged === null || Object.getPrototypeOf(logged) !== Object.prototype) {
    return jsonSafe(logged);
  }
  const given = logged as Record<string, unknown>;
  const spans = given["spans"];
  if (!Array.isArray(spans) || spans.length > 1000) return jsonSafe(logged);
  const copied: Span[] = [];
  for (const span of spans as unknown[]) {
    const plain = plainSpan(span);
    if (plain === null) return jsonSafe(logged);
    copied.push(plain);
  }
  const message: Record<string, unknown> = {};
  for (const key of Object.keys(given)) message[key] = key === "spans" ? copied : jsonSafe(given[key], 1);
  return message;
}

/** A copy of `value` if it is a span of plain finite numbers and a string `dir` (nothing else), or null. */
function plainSpan(value: unknown): Span | null {
  if (typeof value !== "object" || value === null || Object.getPrototypeOf(value) !== Object.prototype) return null;
  const { dir, offset, length, fd } = value as Record<string, unknown>;
  if (typeof dir !== "string" || !Number.isFinite(offset) || !Number.isFinite(length)) return null;
  if (!(fd === undefined || Number.isFinite(fd))) return null;
  if (Object.keys(value).length !== (fd === undefined ? 3 : 4)) return null; // another key, or one undefined
  const span = { dir, offset, length } as Span;
  if (fd !== undefined) span.fd = fd as number;
  return span;
}

/**
 * Moves the "in" spans of `list` (unchecked) from the protocol instance's count to the worker's: by the bytes its
 * connection got before the instance was built, on its fd (fd 1 for a stream protocol on a child's stdout).
 */
function placeSpans(record: CountedFrom, list: unknown, onStdout: boolean): void {
  if (!Array.isArray(list)) return;
  for (const span of list as unknown[]) {
    const s = span as { dir?: unknown; fd?: unknown; offset?: unknown } | null;
    if (typeof s !== "object" || s === null || s.dir !== "in") continue;
    if (onStdout && s.fd === undefined) s.fd = 1;
    const before = record.receivedBefore.get(typeof s.fd === "number" ? s.fd : -1) ?? 0;
    if (typeof s.offset === "number") s.offset += before;
  }
}

/**
 * Bytes that were on their way when `record`'s protocol halted reach it and are dropped: its framers never see them.
 * A reload keeps the instance (its prototype swapped), so its own offsets now start that much later in the stream.
 */
export function skippedWhileHalted(record: CountedFrom, fd: number, length: number): void {
  const before = new Map(record.receivedBefore);
  before.set(fd, (before.get(fd) ?? 0) + length);
  record.receivedBefore = before;
}
