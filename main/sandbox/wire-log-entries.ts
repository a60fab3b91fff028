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
 * 1 out), f64 offset, f64 length); 3 plain spans with field spans and/or pairing (the spans as in 1; u16 paths
 * (0xffff: no field spans), each u16 bytes of its path, the path (UTF-8) and its spans as in 1; u8 role (0: no
 * pairing, 1 request, 2 response), with a role u16 bytes of its key (0xffff: none) and the key (UTF-8)); 2 any
 * other message, as u32 bytes of its JSON text, then the text. Forms 2 and 3 have no tail: the engine writes it.
 *
 * Written by the worker (LogEntryWriter, wire-batch.ts's BatchEncoder), read by the main thread (readLogEntry,
 * decodeBatch) into a LogEntryEvent that decodes what is asked of it, when asked. The main thread reads an entry
 * from a buffer user code could have written (a protocol can post on its own port): every length is checked against
 * the entry's bounds, and the payload bytes it will copy into the capture as they are must be exactly what the
 * worker's encoder writes (payload-check.ts); an entry that doesn't hold together is skipped (and what follows,
 * which can't be found).
 */
import { LogLevel } from "../../core/logger.ts";
import type { Span } from "../../preload/timeline.ts";
import { spanJson } from "../recording/spans-json.ts";
import type { SandboxLogEvent, WireLogEvent } from "./messages.ts";
import { expect, expectCount, isPayloadHead } from "./payload-check.ts";

/** A level's code on the wire: its index in the core's LogLevel (both threads run the same build). */
const LEVEL_CODE = new Map<unknown, number>(LogLevel.map((level, code) => [level, code]));
/** The fixed part of an entry, before its message. */
const FIXED = 4 + 8 + 8 + 1 + 1 + 2 + 4 + 4;
const SPAN_BYTES = 1 + 8 + 8;
const MESSAGE_NONE = 0;
const MESSAGE_SPANS = 1;
const MESSAGE_JSON = 2;
const MESSAGE_PARTS = 3;
/** No field spans, or no pairing key, in a MESSAGE_PARTS entry. */
const NONE_U16 = 0xffff;
const ROLES = [undefined, "request", "response"] as const;
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
    const parts = spans === null && message !== undefined ? messageParts(message) : null;
    const messageJson = message === undefined || spans !== null || parts !== null ? "" : JSON.stringify(message);
    const namespace = this.namespaceBytes(ns);
    const tail = message === undefined ? "}" : spans === null ? "" : spansTail(spans);
    const most =
      FIXED +
      (spans !== null
        ? 2 + (spans.length / 3) * SPAN_BYTES
        : parts !== null
          ? parts.bytes
          : 4 + messageJson.length * 3) +
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
      p = writeSpans(view, p, spans);
    } else if (parts !== null) {
      view.setUint8(start + 21, MESSAGE_PARTS);
      p = writeSpans(view, p, parts.spans);
      if (parts.fieldSpans === null) {
        view.setUint16(p, NONE_U16, true);
        p += 2;
      } else {
        view.setUint16(p, parts.fieldSpans.length, true);
        p += 2;
        for (const [path, list] of parts.fieldSpans) {
          const written = buf.write(path, p + 2, "utf8");
          view.setUint16(p, written, true);
          p = writeSpans(view, p + 2 + written, list);
        }
      }
      view.setUint8(p, parts.role);
      p += 1;
      if (parts.role !== 0) {
        if (parts.key === null) {
          view.setUint16(p, NONE_U16, true);
          p += 2;
        } else {
          const written = buf.write(parts.key, p + 2, "utf8");
          view.setUint16(p, written, true);
          p += 2 + written;
        }
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

/** Writes `spans` ([dir, offset, length, ...]) at `p` as u16 count and the spans; returns where they end. */
function writeSpans(view: DataView, p: number, spans: number[]): number {
  view.setUint16(p, spans.length / 3, true);
  p += 2;
  for (let i = 0; i < spans.length; i += 3) {
    view.setUint8(p, spans[i]!);
    view.setFloat64(p + 1, spans[i + 1]!, true);
    view.setFloat64(p + 9, spans[i + 2]!, true);
    p += SPAN_BYTES;
  }
  return p;
}

/**
 * The message's spans as [dir (0 in, 1 out), offset, length, ...] when it is a message of plain spans only (no fd,
 * field spans or pairing), else null.
 */
function plainSpans(message: unknown): number[] | null {
  if (typeof message !== "object" || message === null) return null;
  for (const key in message) if (key !== "spans") return null;
  return flatSpans((message as { spans?: unknown }).spans);
}

/** What a MESSAGE_PARTS entry holds of a message, and the most bytes it takes. */
interface MessageParts {
  spans: number[];
  fieldSpans: [string, number[]][] | null;
  role: number;
  key: string | null;
  bytes: number;
}

/**
 * A message of plain spans, field spans of plain spans and pairing (a role, maybe a key: what the engine keeps of
 * it) flattened for a MESSAGE_PARTS entry, or null when it has anything else (it then crosses as JSON).
 */
function messageParts(message: unknown): MessageParts | null {
  if (typeof message !== "object" || message === null) return null;
  const { spans, fieldSpans, pair } = message as Record<string, unknown>;
  for (const key in message) if (key !== "spans" && key !== "fieldSpans" && key !== "pair") return null;
  const flat = flatSpans(spans);
  if (flat === null) return null;
  let bytes = 2 + (flat.length / 3) * SPAN_BYTES + 2 + 1 + 2;
  let lists: [string, number[]][] | null = null;
  if (fieldSpans !== undefined) {
    if (
      typeof fieldSpans !== "object" ||
      fieldSpans === null ||
      Object.getPrototypeOf(fieldSpans) !== Object.prototype
    ) {
      return null;
    }
    lists = [];
    for (const path of Object.keys(fieldSpans)) {
      const list = flatSpans((fieldSpans as Record<string, unknown>)[path]);
      if (list === null || path.length > MAX_PART_TEXT || lists.length >= NONE_U16) return null;
      lists.push([path, list]);
      bytes += 2 + path.length * 3 + 2 + (list.length / 3) * SPAN_BYTES;
    }
  }
  let role = 0;
  let key: string | null = null;
  if (pair !== undefined) {
    if (typeof pair !== "object" || pair === null) return null;
    const { role: r, key: k } = pair as Record<string, unknown>;
    for (const name in pair) if (name !== "role" && name !== "key") return null;
    role = ROLES.indexOf(r as (typeof ROLES)[number]);
    if (role < 1) return null;
    if (k !== undefined) {
      if (typeof k !== "string" || k.length > MAX_PART_TEXT) return null;
      key = k;
      bytes += k.length * 3;
    }
  }
  return { spans: flat, fieldSpans: lists, role, key, bytes };
}

/** The longest path or key (UTF-16 units) a MESSAGE_PARTS entry holds: its UTF-8 must fit a u16 below NONE_U16. */
const MAX_PART_TEXT = Math.floor((NONE_U16 - 1) / 3);

/** `spans` as [dir, offset, length, ...] when it is a list of plain spans (dir, numeric offset and length only). */
function flatSpans(spans: unknown): number[] | null {
  if (!Array.isArray(spans) || spans.length >= NONE_U16) return null;
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

const latin1 = (text: string) => Buffer.from(text, "latin1");
/** The pieces of a span's JSON around its two numbers, as spans-json.ts writes it: what the tail must hold. */
const [SPAN_IN, SPAN_LENGTH, CLOSE] = spanJson("in", 0, 0, undefined)!.split("0").map(latin1) as [
  Buffer,
  Buffer,
  Buffer,
];
const SPAN_OUT = latin1(spanJson("out", 0, 0, undefined)!.split("0")[0]!);
const SPANS_OPEN = latin1(',"spans":[');
const SPANS_CLOSE = latin1("]}");
const COMMA = latin1(",");

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

type WireSpan = { dir: "in" | "out"; offset: number; length: number };

/** The u16 count and spans at `p` (before `end`), or null when they don't fit. */
function readSpans(view: DataView, p: number, end: number): WireSpan[] | null {
  if (p + 2 > end) return null;
  const count = view.getUint16(p, true);
  p += 2;
  if (p + count * SPAN_BYTES > end) return null;
  const spans = new Array<WireSpan>(count);
  for (let i = 0; i < count; i++) {
    spans[i] = {
      dir: view.getUint8(p) === 0 ? "in" : "out",
      offset: view.getFloat64(p + 1, true),
      length: view.getFloat64(p + 9, true),
    };
    p += SPAN_BYTES;
  }
  return spans;
}

/** The message of a MESSAGE_PARTS entry at `p` (before `end`) and where it ends, or null when it doesn't fit. */
function readParts(buf: Buffer, view: DataView, p: number, end: number): { message: unknown; end: number } | null {
  const spans = readSpans(view, p, end);
  if (spans === null) return null;
  p += 2 + spans.length * SPAN_BYTES;
  const message: { spans: WireSpan[]; fieldSpans?: Record<string, WireSpan[]>; pair?: object } = { spans };
  if (p + 2 > end) return null;
  const paths = view.getUint16(p, true);
  p += 2;
  if (paths !== NONE_U16) {
    const fieldSpans: Record<string, WireSpan[]> = {};
    for (let i = 0; i < paths; i++) {
      if (p + 2 > end) return null;
      const bytes = view.getUint16(p, true);
      if (p + 2 + bytes > end) return null;
      const path = buf.toString("utf8", p + 2, p + 2 + bytes);
      const list = readSpans(view, p + 2 + bytes, end);
      if (list === null) return null;
      Object.defineProperty(fieldSpans, path, { value: list, enumerable: true, writable: true, configurable: true });
      p += 2 + bytes + 2 + list.length * SPAN_BYTES;
    }
    message.fieldSpans = fieldSpans;
  }
  if (p + 1 > end) return null;
  const role = ROLES[view.getUint8(p)];
  p += 1;
  if (view.getUint8(p - 1) >= ROLES.length) return null;
  if (role !== undefined) {
    if (p + 2 > end) return null;
    const bytes = view.getUint16(p, true);
    p += 2;
    if (bytes === NONE_U16) {
      message.pair = { role };
    } else {
      if (p + bytes > end) return null;
      message.pair = { role, key: buf.toString("utf8", p, p + bytes) };
      p += bytes;
    }
  }
  return { message, end: p };
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
  const level = LogLevel[view.getUint8(at + 20)];
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
    const spans = readSpans(view, p, end);
    if (spans === null) return -1;
    spanCount = spans.length;
    p += 2 + spans.length * SPAN_BYTES;
    message = { spans };
  } else if (form === MESSAGE_PARTS) {
    const parts = readParts(buf, view, p, end);
    if (parts === null) return -1;
    message = parts.message;
    p = parts.end;
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
