/**
 * How a worker's log events cross to the main thread: as binary entries in one transferred buffer per batch, each
 * carrying its capture payload already written — the UTF-8 of `{"text":<text>,"fields":<fields>` (the head), and
 * what follows it when the worker knows it: `}` for a plain log line, `,"spans":[...]}` for a message of plain spans
 * (the tail). The engine records such an event by copying those bytes, never decoding its text or fields into
 * strings or encoding them again (main/recording/encoded-log-event.ts); when what it records differs from what the
 * worker wrote (spans moved onto the stream, a message refused, pairing filled in) it copies the head and writes the
 * rest itself. A protocol that reports every message it decodes sends hundreds of thousands a second; as JSON,
 * parsing them and writing their payloads was most of the engine thread's work.
 *
 * An entry (little-endian):
 *
 *     u32 entry bytes | f64 connection id (NaN: none) | f64 time (s) | u8 level | u8 message form | u16 namespace
 *     bytes | u32 head bytes | u32 tail bytes | message | namespace (UTF-8) | head (UTF-8) | tail (ASCII)
 *
 * The message form: 0 none; 1 plain spans (the usual decoded message: u16 count, then per span u8 direction (0 in,
 * 1 out), f64 offset, f64 length); 2 any other message, as u32 bytes of its JSON text, then the text (no tail).
 *
 * Written by the worker (LogEntryWriter, wire-batch.ts's BatchEncoder), read by the main thread (readLogEntry,
 * decodeBatch) into a LogEntryEvent that decodes what is asked of it, when asked. The main thread reads an entry
 * from a buffer user code could have written (a protocol can post on its own port): every length is checked against
 * the entry's bounds, and the payload bytes it will copy into the capture as they are must be exactly what the
 * worker's encoder writes (payload-check.ts); an entry that doesn't hold together is skipped (and what follows,
 * which can't be found).
 */
import type { Span } from "../../preload/timeline.ts";
import { spanJson } from "../recording/spans-json.ts";
import type { SandboxLogEvent, WireLogEvent } from "./messages.ts";
import { expect, expectCount, isPayloadHead } from "./payload-check.ts";

const LEVELS = ["debug", "info", "warn", "error", "critical"] as const;
const LEVEL_CODE = new Map<unknown, number>(LEVELS.map((level, code) => [level, code]));
/** The fixed part of an entry, before its message. */
const FIXED = 4 + 8 + 8 + 1 + 1 + 2 + 4 + 4;
const SPAN_BYTES = 1 + 8 + 8;
const MESSAGE_NONE = 0;
const MESSAGE_SPANS = 1;
const MESSAGE_JSON = 2;
/** The longest namespace an entry holds (u16); a longer one is cut. */
const MAX_NAMESPACE = 0xffff / 3;
/** The smallest buffer entries are written in. */
const MIN_BUFFER = 64 * 1024;
/** How a payload head starts, and what comes before its fields (PayloadBytes). */
export const TEXT_PREFIX = '{"text":';
export const FIELDS_PREFIX = ',"fields":';
const TEXT_HEAD = Buffer.from(TEXT_PREFIX, "latin1");
const FIELDS_HEAD = Buffer.from(FIELDS_PREFIX, "latin1");
/** A largest entry buffer the writer keeps between batches; past it, it starts again from MIN_BUFFER. */
const MAX_KEPT_BUFFER = 4 * 1024 * 1024;

/** Writes the log events of a worker's batches as entries (worker side): `take` hands over a batch's. */
export class LogEntryWriter {
  private buf = Buffer.allocUnsafeSlow(MIN_BUFFER);
  private view = new DataView(this.buf.buffer);
  private size = 0;
  /** The last namespace written, and its bytes: a protocol's events share one. */
  private lastNamespace = "";
  private lastNamespaceBytes = Buffer.alloc(0);

  /** How many entries were written. */
  count = 0;

  /**
   * Writes `event` of connection `id` as an entry, or returns false when it is not of the shape the worker makes
   * (wire-log-event.ts: a level the engine knows, text, namespace and fields as strings): it then crosses as it is.
   */
  add(id: number | null, event: WireLogEvent): boolean {
    const level = LEVEL_CODE.get(event.level);
    const { fieldsJson, message, namespace: ns, text, time } = event;
    if (level === undefined || typeof ns !== "string" || typeof text !== "string" || typeof fieldsJson !== "string") {
      return false;
    }
    if (typeof time !== "number" || !(id === null || typeof id === "number")) return false;
    const textJson = JSON.stringify(text);
    const spans = plainSpans(message);
    const messageJson = message === undefined || spans !== null ? "" : JSON.stringify(message);
    const namespace = this.namespaceBytes(ns);
    const tail = message === undefined ? "}" : spans === null ? "" : spansTail(spans);
    const most =
      FIXED +
      (spans === null ? 4 + messageJson.length * 3 : 2 + (spans.length / 3) * SPAN_BYTES) +
      namespace.length +
      TEXT_PREFIX.length +
      FIELDS_PREFIX.length +
      (textJson.length + fieldsJson.length) * 3 +
      tail.length;
    this.reserve(most);
    const { buf, view } = this;
    const start = this.size;
    let p = start + FIXED;
    view.setFloat64(start + 4, id === null ? NaN : id, true);
    view.setFloat64(start + 12, time, true);
    view.setUint8(start + 20, level);
    if (spans !== null) {
      view.setUint8(start + 21, MESSAGE_SPANS);
      view.setUint16(p, spans.length / 3, true);
      p += 2;
      for (let i = 0; i < spans.length; i += 3) {
        view.setUint8(p, spans[i]!);
        view.setFloat64(p + 1, spans[i + 1]!, true);
        view.setFloat64(p + 9, spans[i + 2]!, true);
        p += SPAN_BYTES;
      }
    } else if (message !== undefined) {
      view.setUint8(start + 21, MESSAGE_JSON);
      const written = buf.write(messageJson, p + 4, "utf8");
      view.setUint32(p, written, true);
      p += 4 + written;
    } else {
      view.setUint8(start + 21, MESSAGE_NONE);
    }
    view.setUint16(start + 22, namespace.length, true);
    buf.set(namespace, p);
    p += namespace.length;
    const payload = buf.write(TEXT_PREFIX + textJson + FIELDS_PREFIX + fieldsJson + tail, p, "utf8");
    p += payload;
    view.setUint32(start + 24, payload - tail.length, true);
    view.setUint32(start + 28, tail.length, true);
    view.setUint32(start, p - start, true);
    this.size = p;
    this.count += 1;
    return true;
  }

  /**
   * The entries written, in a buffer of their own to transfer (null if none); the writer starts afresh in the same
   * buffer. (Copying them out costs less than handing over the writer's buffer and allocating a new one per batch.)
   */
  take(): ArrayBuffer | null {
    if (this.count === 0) return null;
    const out = new ArrayBuffer(this.size);
    new Uint8Array(out).set(this.buf.subarray(0, this.size));
    this.size = 0;
    this.count = 0;
    if (this.buf.length > MAX_KEPT_BUFFER) {
      // One batch of huge events must not keep its buffer for the worker's life (outside the heap's limit).
      this.buf = Buffer.allocUnsafeSlow(MIN_BUFFER);
      this.view = new DataView(this.buf.buffer);
    }
    return out;
  }

  private namespaceBytes(namespace: string): Buffer {
    if (namespace !== this.lastNamespace) {
      this.lastNamespace = namespace;
      this.lastNamespaceBytes = Buffer.from(namespace.slice(0, MAX_NAMESPACE), "utf8");
    }
    return this.lastNamespaceBytes;
  }

  private reserve(bytes: number): void {
    if (this.size + bytes <= this.buf.length) return;
    const grown = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.size + bytes));
    this.buf.copy(grown, 0, 0, this.size);
    this.buf = grown;
    this.view = new DataView(grown.buffer);
  }
}

/**
 * The message's spans as [dir (0 in, 1 out), offset, length, ...] when it is a message of plain spans only (no fd,
 * field spans or pairing), else null.
 */
function plainSpans(message: unknown): number[] | null {
  if (typeof message !== "object" || message === null) return null;
  const spans = (message as { spans?: unknown }).spans;
  if (!Array.isArray(spans) || spans.length > 0xffff) return null;
  for (const key in message) if (key !== "spans") return null;
  const flat: number[] = [];
  for (const span of spans as unknown[]) {
    if (typeof span !== "object" || span === null) return null;
    const { dir, offset, length } = span as Record<string, unknown>;
    if ((dir !== "in" && dir !== "out") || typeof offset !== "number" || typeof length !== "number") return null;
    let keys = 0;
    for (const _ in span) keys += 1;
    if (keys !== 3) return null;
    flat.push(dir === "in" ? 0 : 1, offset, length);
  }
  return flat;
}

/** The tail of a message of `spans` ([dir, offset, length, ...]), or "" when a span is not of whole numbers >= 0. */
function spansTail(spans: number[]): string {
  let list = "";
  for (let i = 0; i < spans.length; i += 3) {
    const one = spanJson(spans[i] === 0 ? "in" : "out", spans[i + 1]!, spans[i + 2]!, undefined);
    if (one === null) return "";
    list += i === 0 ? one : `,${one}`;
  }
  return `,"spans":[${list}]}`;
}

const CLOSE = Buffer.from("}", "latin1");
const SPANS_OPEN = Buffer.from(',"spans":[', "latin1");
const SPAN_IN = Buffer.from('{"dir":"in","offset":', "latin1");
const SPAN_OUT = Buffer.from('{"dir":"out","offset":', "latin1");
const SPAN_LENGTH = Buffer.from(',"length":', "latin1");
const SPANS_CLOSE = Buffer.from("]}", "latin1");
const COMMA = Buffer.from(",", "latin1");

/**
 * Whether `buf[p, end)` is the tail the worker's encoder writes for an entry of message `form`: `}` for no message,
 * for plain spans (`count` of them at `spansAt`) exactly what spansJson writes for them.
 */
function isTail(buf: Buffer, p: number, end: number, form: number, view: DataView, spansAt: number, count: number) {
  if (form === MESSAGE_NONE) return expect(buf, p, end, CLOSE) === end;
  if (form !== MESSAGE_SPANS) return false;
  p = expect(buf, p, end, SPANS_OPEN);
  for (let i = 0, at = spansAt; i < count && p >= 0; i++, at += SPAN_BYTES) {
    if (i > 0) p = expect(buf, p, end, COMMA);
    p = expect(buf, p, end, view.getUint8(at) === 0 ? SPAN_IN : SPAN_OUT);
    p = expectCount(buf, p, end, view.getFloat64(at + 1, true));
    p = expect(buf, p, end, SPAN_LENGTH);
    p = expectCount(buf, p, end, view.getFloat64(at + 9, true));
    p = expect(buf, p, end, CLOSE);
  }
  return expect(buf, p, end, SPANS_CLOSE) === end;
}

/** A log event read from an entry (main side): what is cheap is read at once, the rest when asked. */
export class LogEntryEvent implements SandboxLogEvent {
  readonly level: SandboxLogEvent["level"];
  readonly time: number;
  readonly message?: unknown;
  readonly headBytes: number;
  readonly #buf: Buffer;
  readonly #namespaceAt: number;
  readonly #headAt: number;
  /** The message's span count (-1: no message; -2: another message) and where its spans are in the entry. */
  readonly #spanCount: number;
  readonly #spansAt: number;
  readonly #tailBytes: number;
  #parsed: { text: string; fields: Record<string, unknown> } | null = null;

  constructor(
    buf: Buffer,
    level: SandboxLogEvent["level"],
    time: number,
    message: unknown,
    namespaceAt: number,
    headAt: number,
    headBytes: number,
    tailBytes: number,
    spanCount: number,
    spansAt: number,
  ) {
    this.#buf = buf;
    this.level = level;
    this.time = time;
    if (message !== undefined) this.message = message;
    this.#namespaceAt = namespaceAt;
    this.#headAt = headAt;
    this.headBytes = headBytes;
    this.#tailBytes = tailBytes;
    this.#spanCount = spanCount;
    this.#spansAt = spansAt;
  }

  get namespace(): string {
    return this.#buf.toString("utf8", this.#namespaceAt, this.#headAt);
  }

  get text(): string {
    return this.#read().text;
  }

  get fields(): Record<string, unknown> {
    return this.#read().fields;
  }

  get fieldsJson(): string {
    return JSON.stringify(this.fields);
  }

  /**
   * The head's text and fields, parsed the first time they are read. An entry some other code posted may hold a
   * head that is not JSON: it reads as a note saying so.
   */
  #read(): { text: string; fields: Record<string, unknown> } {
    if (this.#parsed !== null) return this.#parsed;
    try {
      const parsed = JSON.parse(`${this.#buf.toString("utf8", this.#headAt, this.#headAt + this.headBytes)}}`) as {
        text: unknown;
        fields: unknown;
      };
      const { text, fields } = parsed;
      if (typeof text !== "string" || typeof fields !== "object" || fields === null) throw new Error("not a log event");
      this.#parsed = { text, fields: fields as Record<string, unknown> };
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      this.#parsed = { text: "(a log event that could not be read)", fields: { unreadable: reason } };
    }
    return this.#parsed;
  }

  payloadBytesFor(spans: readonly Span[] | undefined): number {
    if (this.#tailBytes === 0 || (spans === undefined ? -1 : spans.length) !== this.#spanCount) return -1;
    const buf = this.#buf;
    for (let i = 0, p = this.#spansAt; i < this.#spanCount; i++, p += SPAN_BYTES) {
      const s = spans![i]!;
      if (s.fd !== undefined || s.dir !== (buf[p] === 0 ? "in" : "out")) return -1;
      if (s.offset !== buf.readDoubleLE(p + 1) || s.length !== buf.readDoubleLE(p + 9)) return -1;
    }
    return this.headBytes + this.#tailBytes;
  }

  copyPayload(target: Uint8Array, at: number, bytes: number): void {
    this.#buf.copy(target, at, this.#headAt, this.#headAt + bytes);
  }
}

/**
 * Reads the entry at `at` of `buf` (`view` over the same bytes) as connection `id`'s log event: returns where the
 * next entry starts, or -1 when this one doesn't hold together (the rest of the buffer can't be read then).
 */
export function readLogEntry(
  buf: Buffer,
  view: DataView,
  at: number,
  into: { id: number | null; event: LogEntryEvent | null },
): number {
  if (at + FIXED > buf.length) return -1;
  const size = view.getUint32(at, true);
  const end = at + size;
  if (size < FIXED || end > buf.length) return -1;
  const id = view.getFloat64(at + 4, true);
  const time = view.getFloat64(at + 12, true);
  const level = LEVELS[view.getUint8(at + 20)];
  const form = view.getUint8(at + 21);
  const namespaceBytes = view.getUint16(at + 22, true);
  const headBytes = view.getUint32(at + 24, true);
  const tailBytes = view.getUint32(at + 28, true);
  if (level === undefined) return -1;
  let p = at + FIXED;
  let message: unknown;
  let spanCount = form === MESSAGE_NONE ? -1 : -2;
  const spansAt = p + 2;
  if (form === MESSAGE_SPANS) {
    if (p + 2 > end) return -1;
    const count = (spanCount = view.getUint16(p, true));
    p += 2;
    if (p + count * SPAN_BYTES > end) return -1;
    const spans = new Array<{ dir: "in" | "out"; offset: number; length: number }>(count);
    for (let i = 0; i < count; i++) {
      spans[i] = {
        dir: view.getUint8(p) === 0 ? "in" : "out",
        offset: view.getFloat64(p + 1, true),
        length: view.getFloat64(p + 9, true),
      };
      p += SPAN_BYTES;
    }
    message = { spans };
  } else if (form === MESSAGE_JSON) {
    if (p + 4 > end) return -1;
    const bytes = view.getUint32(p, true);
    if (p + 4 + bytes > end) return -1;
    try {
      message = JSON.parse(buf.toString("utf8", p + 4, p + 4 + bytes)) as unknown;
    } catch {
      return -1;
    }
    p += 4 + bytes;
  } else if (form !== MESSAGE_NONE) {
    return -1;
  }
  const headAt = p + namespaceBytes;
  const tailAt = headAt + headBytes;
  if (tailAt + tailBytes !== end || !isPayloadHead(buf, headAt, tailAt, TEXT_HEAD, FIELDS_HEAD)) return -1;
  if (tailBytes > 0 && !isTail(buf, tailAt, end, form, view, spansAt, spanCount)) return -1;
  into.id = Number.isNaN(id) ? null : id;
  into.event = new LogEntryEvent(buf, level, time, message, p, headAt, headBytes, tailBytes, spanCount, spansAt);
  return end;
}
