/**
 * Checking a decoded message as it comes out of the sandbox (`log.message`'s `log_message`, JSON-safe but
 * unchecked: user code can put anything in it) before the engine records it as a LogTimelineEvent's spans,
 * fieldSpans and pair. Bounded, so one protocol can't make every event of a capture huge.
 */
import type { LogTimelineEvent, MessagePair, Span } from "../../preload/timeline.ts";

/** At most this many spans per message. */
export const MAX_MESSAGE_SPANS = 64;
/** At most this many field spans per message, over all its fields. */
export const MAX_FIELD_SPANS = 256;
/** The longest pairing key, and the longest field path. */
export const MAX_MESSAGE_KEY_LENGTH = 256;

/** What a checked message adds to its log event. */
export type CheckedMessage = Pick<LogTimelineEvent, "spans" | "fieldSpans" | "pair">;

/** A checked message, or why it was refused (said as "log.message: ..."). */
export type MessageCheck = { ok: true; message: CheckedMessage } | { ok: false; reason: string };

class BadMessage extends Error {}

/**
 * `raw` as the spans, field spans and pairing of a log event, or why not: at most MAX_MESSAGE_SPANS spans and
 * MAX_FIELD_SPANS field spans, keys and paths of at most MAX_MESSAGE_KEY_LENGTH characters, offsets and lengths
 * whole, finite and not negative. Never throws. Pairing results (`request`, `latency`) are the engine's to fill:
 * whatever the protocol put there is ignored.
 */
export function checkMessage(raw: unknown): MessageCheck {
  try {
    if (!isRecord(raw)) throw new BadMessage("not an object");
    if (!Array.isArray(raw.spans)) throw new BadMessage("spans is not a list");
    if (raw.spans.length > MAX_MESSAGE_SPANS) throw new BadMessage(`more than ${MAX_MESSAGE_SPANS} spans`);
    const message: CheckedMessage = { spans: checkSpans(raw.spans, null) };
    if (raw.fieldSpans !== undefined) message.fieldSpans = checkFieldSpans(raw.fieldSpans);
    if (raw.pair !== undefined) message.pair = checkPair(raw.pair);
    return { ok: true, message };
  } catch (err) {
    if (!(err instanceof BadMessage)) throw err;
    return { ok: false, reason: `log.message: ${err.message}` };
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function count(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new BadMessage(`${what} is not a whole number >= 0`);
  }
  return value;
}

/**
 * Where a span is, for an error: the message's spans (`path` null) or field `path`'s. Made only on failure: a busy
 * proxy checks several spans per message.
 */
function spanList(path: string | null): string {
  return path === null ? "spans" : `fieldSpans.${path}`;
}

/** Copies of the spans in `list`, the message's spans (`path` null) or field `path`'s. */
function checkSpans(list: unknown[], path: string | null): Span[] {
  const spans: Span[] = [];
  for (const raw of list) spans.push(checkSpan(raw, path));
  return spans;
}

function checkSpan(raw: unknown, path: string | null): Span {
  if (!isRecord(raw)) throw new BadMessage(`a span of ${spanList(path)} is not an object`);
  if (raw.dir !== "in" && raw.dir !== "out") {
    throw new BadMessage(`a span of ${spanList(path)} has no dir "in" or "out"`);
  }
  const span: Span = {
    dir: raw.dir,
    offset: count(raw.offset, "a span's offset"),
    length: count(raw.length, "a span's length"),
  };
  if (raw.fd !== undefined) span.fd = count(raw.fd, "a span's fd");
  return span;
}

function checkFieldSpans(raw: unknown): Record<string, Span[]> {
  if (!isRecord(raw)) throw new BadMessage("fieldSpans is not an object");
  const fieldSpans: Record<string, Span[]> = {};
  let total = 0;
  for (const path in raw) {
    if (!Object.hasOwn(raw, path)) continue;
    const list = raw[path];
    if (path.length > MAX_MESSAGE_KEY_LENGTH)
      throw new BadMessage(`a field path is longer than ${MAX_MESSAGE_KEY_LENGTH}`);
    if (!Array.isArray(list)) throw new BadMessage(`fieldSpans.${path} is not a list`);
    total += Math.max(1, list.length); // An empty list still costs a path: counted, so paths are bounded too.
    if (total > MAX_FIELD_SPANS) throw new BadMessage(`more than ${MAX_FIELD_SPANS} field spans`);
    fieldSpans[path] = checkSpans(list, path);
  }
  return fieldSpans;
}

function checkPair(raw: unknown): MessagePair {
  if (!isRecord(raw) || (raw.role !== "request" && raw.role !== "response")) {
    throw new BadMessage('pair has no role "request" or "response"');
  }
  if (raw.key === undefined) return { role: raw.role };
  if (typeof raw.key !== "string") throw new BadMessage("a pairing key is not a string");
  if (raw.key.length > MAX_MESSAGE_KEY_LENGTH) {
    throw new BadMessage(`a pairing key is longer than ${MAX_MESSAGE_KEY_LENGTH}`);
  }
  return { role: raw.role, key: raw.key };
}
