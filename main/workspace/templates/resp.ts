/**
 * Redis client speaking RESP2 (https://redis.io/docs/latest/develop/reference/protocol-spec/).
 *
 * Connect it to a redis-server (`tcp:host=127.0.0.1:port=6379`). It sends nothing by itself: call
 * `this.sendCommand("SET", "greeting", "hello")` from your code (in `connectionMade`, say), or send raw bytes from
 * the app (`PING\r\n` works too: Redis accepts inline commands). Every reply is decoded and reported as a message,
 * "reply {reply}", tied to its bytes and answering the oldest command (replies come in order); override
 * `replyReceived` to act on replies.
 *
 * The decoder (RespDecoder) is resumable and never touches a socket, in the style of node-redis's
 * (packages/client/lib/RESP/decoder.ts). Other files import it from here: the resp-tap template decodes what
 * passes through a proxy with it.
 */
import { Protocol, ReceiveBuffer, type Bytes, type MessageOptions, type Span } from "wirescope";

/** An error reply ("-ERR unknown command ..."): a value the server sent, not an exception. */
export class RespError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RespError";
  }

  /** How it shows inside a logged array, as redis-cli shows it. */
  toJSON(): string {
    return `(error) ${this.message}`;
  }
}

/**
 * A decoded RESP2 reply. Simple and bulk strings are strings (bulk strings decoded as UTF-8), integers are
 * numbers (bigint beyond 2**53), a null bulk string or null array is null, an error reply is a RespError.
 */
export type RespReply = string | number | bigint | null | RespError | RespReply[];

const CR = 0x0d;
const LF = 0x0a;
const PLUS = 0x2b; // +simple string
const MINUS = 0x2d; // -error
const COLON = 0x3a; // :integer
const DOLLAR = 0x24; // $bulk string
const STAR = 0x2a; // *array
const CRLF = Buffer.from("\r\n");
const INTEGER = /^-?\d{1,20}$/;

/**
 * Where a decoded value's bytes are in the stream, counted from the decoder's first byte: a string's or an
 * integer's own bytes (a bulk string's body, a simple string's text), an array's whole encoding. A top-level array
 * also has the extents of its first MAX_ITEM_EXTENTS elements, in order.
 */
export interface RespExtent {
  offset: number;
  length: number;
  items?: RespExtent[];
}

/** Where the value `RespDecoder.next()` returned last came from: its whole encoding, and the value's own extent. */
export interface RespMessageExtent {
  offset: number;
  length: number;
  value: RespExtent;
}

/** The longest `line` (a command's words, as the timeline's row shows them) a command message carries whole. */
export const MAX_LINE_SHOWN = 1024;

/** How many elements of a top-level array get an extent of their own (the command and its first arguments). */
export const MAX_ITEM_EXTENTS = 16;

/** An array whose elements are still arriving. */
interface PendingArray {
  items: RespReply[];
  remaining: number;
  /** Stream offset of its `*` byte. */
  offset: number;
  /** Its elements' extents, kept for a top-level array only. */
  extents: RespExtent[] | null;
}

/** Thrown by `RespDecoder.next()` when the bytes are not RESP2: nothing after them can be trusted to be aligned. */
export class RespProtocolError extends Error {
  constructor(
    /** What was wrong, e.g. "a line not ended by CRLF". */
    readonly what: string,
  ) {
    super(`not RESP2: ${what}`);
    this.name = "RespProtocolError";
  }
}

/** What `RespDecoder.next()` returns while the next value is incomplete: "need more bytes", not an error. */
export const NEED_MORE: unique symbol = Symbol("need more bytes");

/**
 * A resumable RESP2 decoder that never touches a socket: `append` what arrives, then call `next()` until it returns
 * NEED_MORE. One buffer plus an offset; a value split over any number of chunks is "need more bytes", no byte is
 * parsed twice, and a bulk string's length is checked against MAX_BULK_LENGTH before its body is buffered.
 *
 * It decodes what one side of a connection sends. `sender` "server": replies. `sender` "client": commands, which
 * redis-server also accepts inline — a line not starting with "*", split on spaces ("SET greeting hello\r\n", or
 * just "\n"-ended, as typed into nc) — decoded as an array of its words, like the array a client library sends.
 */
export class RespDecoder {
  /** The longest bulk string accepted: Redis's own default `proto-max-bulk-len`, 512 MB. */
  MAX_BULK_LENGTH = 512 * 1024 * 1024;
  /** The longest header or inline line accepted while waiting for its end: Redis's inline limit, 64 KiB. */
  MAX_LINE_LENGTH = 64 * 1024;

  readonly #received = new ReceiveBuffer();
  /** "header": next is a type byte and a line ending in CRLF; "bulk": next is a bulk body of #bulkLength + CRLF. */
  #state: "header" | "bulk" = "header";
  #bulkLength = 0;
  /** How many bytes of the current line (from #received.start) are known to hold no LF. */
  #scanned = 0;
  /** The arrays being filled, outermost first. */
  readonly #arrays: PendingArray[] = [];
  /** The top-level value the last step completed, until `next()` returns it. */
  #completed: { value: RespReply; extent: RespMessageExtent } | null = null;
  /** Stream offset of the first byte of the top-level value being decoded (its type byte, or an inline line's). */
  #valueOffset = 0;
  /** The bytes of the value `next()` returned last; null before the first. */
  #lastMessage: RespMessageExtent | null = null;
  /** Set for good once the bytes broke the protocol. */
  #broken: RespProtocolError | null = null;

  constructor(
    /** Who sends the bytes decoded: "server" (replies) or "client" (commands, inline ones too). */
    readonly sender: "server" | "client" = "server",
  ) {}

  /** Adds received bytes. Never copies when nothing is pending; the caller may not reuse `data`'s memory. */
  append(data: Bytes): void {
    if (this.#broken === null) this.#received.append(data);
  }

  /**
   * Where the value `next()` returned last is in the stream appended (offset 0 is the first byte appended): its
   * whole encoding, and `value`, the value's own bytes (with `items`, a top-level array's first elements'). Null
   * before the first value. Valid until the next call of `next()`.
   */
  get lastMessage(): RespMessageExtent | null {
    return this.#lastMessage;
  }

  /**
   * The next complete value, in the order sent, or NEED_MORE until more bytes are appended. Throws a
   * RespProtocolError when the bytes are not RESP2, and again on every later call.
   */
  next(): RespReply | typeof NEED_MORE {
    if (this.#broken !== null) throw this.#broken;
    while (this.#completed === null) {
      const progressed = this.#state === "header" ? this.#headerStep() : this.#bulkStep();
      if (!progressed) {
        this.#received.settle();
        return NEED_MORE;
      }
    }
    const { value, extent } = this.#completed;
    this.#completed = null;
    this.#lastMessage = extent;
    return value;
  }

  /** Parses one line; false when it is not complete yet. */
  #headerStep(): boolean {
    const received = this.#received;
    const { bytes, start, end } = received;
    if (start === end) return false;
    // Past `end` is spare room: an LF found there is not one of ours.
    let lf = bytes.indexOf(LF, start + this.#scanned);
    if (lf >= end) lf = -1;
    if (lf === -1) {
      this.#scanned = end - start;
      if (end - start > this.MAX_LINE_LENGTH) this.#fail(`a line longer than ${this.MAX_LINE_LENGTH}`);
      return false;
    }
    this.#scanned = 0;
    if (lf - start > this.MAX_LINE_LENGTH) this.#fail(`a line longer than ${this.MAX_LINE_LENGTH}`);
    const type = bytes[start];
    if (this.#arrays.length === 0) this.#valueOffset = this.#received.offsetOf(start);
    if (this.sender === "client" && this.#arrays.length === 0 && type !== STAR) return this.#inline(lf);
    if (lf === start || bytes[lf - 1] !== CR) this.#fail("a line not ended by CRLF");
    const textExtent = { offset: this.#received.offsetOf(start + 1), length: lf - 1 - (start + 1) };
    received.start = lf + 1;
    // Lengths and counts, nearly every line a command has, are read from the bytes: no string for them.
    if (type === DOLLAR) return this.#bulkHeader(lineInteger(bytes, start + 1, lf - 1), start, textExtent);
    if (type === STAR) return this.#arrayHeader(lineInteger(bytes, start + 1, lf - 1), start, textExtent);
    const text = bytes.toString("utf8", start + 1, lf - 1);
    switch (type) {
      case PLUS:
        return this.#push(text, textExtent);
      case MINUS:
        return this.#push(new RespError(text), textExtent);
      case COLON:
        if (!INTEGER.test(text)) this.#fail(`a bad integer ${text}`);
        return this.#push(toInteger(text), textExtent);
      default:
        this.#fail(`an unknown type byte ${JSON.stringify(String.fromCharCode(type ?? 0))}`);
    }
  }

  /**
   * An inline command (a client's line ending at `lf`): its words, each with its extent; an empty line is skipped,
   * as Redis does. Words are split on ASCII whitespace, which never occurs inside a UTF-8 sequence.
   */
  #inline(lf: number): boolean {
    const received = this.#received;
    const { bytes, start } = received;
    const lineEnd = lf > start && bytes[lf - 1] === CR ? lf - 1 : lf;
    const words: string[] = [];
    const extents: RespExtent[] = [];
    for (const match of bytes.toString("latin1", start, lineEnd).matchAll(/\S+/g)) {
      const at = start + match.index;
      words.push(bytes.toString("utf8", at, at + match[0].length));
      if (extents.length < MAX_ITEM_EXTENTS) extents.push({ offset: received.offsetOf(at), length: match[0].length });
    }
    received.start = lf + 1;
    if (words.length === 0) return true;
    const offset = this.#valueOffset;
    return this.#push(words, { offset, length: received.offsetOf(received.start) - offset, items: extents });
  }

  /**
   * `$<length>` (the line at `line`, its integer read: null if it is not one): null for -1, else the body follows;
   * its length is checked before any of it is buffered.
   */
  #bulkHeader(length: number | null, line: number, textExtent: RespExtent): boolean {
    if (length === null || length < -1) this.#fail(`a bad bulk length ${this.#lineText(line, textExtent)}`);
    if (length === -1) return this.#push(null, textExtent);
    if (length > this.MAX_BULK_LENGTH) {
      // The line's own digits: past 2**53 the number read from them is not exact.
      const digits = this.#lineText(line, textExtent);
      this.#fail(`a bulk string of ${Number.isSafeInteger(length) ? length : digits} bytes, over MAX_BULK_LENGTH`);
    }
    this.#bulkLength = length;
    this.#state = "bulk";
    return true;
  }

  /** `*<count>` (given as to `#bulkHeader`): null for -1, [] for 0, else the next `count` values are its elements. */
  #arrayHeader(count: number | null, line: number, textExtent: RespExtent): boolean {
    if (count === null || count < -1) this.#fail(`a bad array length ${this.#lineText(line, textExtent)}`);
    if (count === -1) return this.#push(null, textExtent);
    const offset = textExtent.offset - 1;
    if (count === 0) return this.#push([], { offset, length: textExtent.length + 3 });
    this.#arrays.push({ items: [], remaining: count, offset, extents: this.#arrays.length === 0 ? [] : null });
    return true;
  }

  /** A bulk string's body and its CRLF; false until all of it is here. */
  #bulkStep(): boolean {
    const received = this.#received;
    const length = this.#bulkLength;
    if (received.length < length + 2) return false;
    const bodyEnd = received.start + length;
    if (received.bytes[bodyEnd] !== CR || received.bytes[bodyEnd + 1] !== LF) {
      this.#fail("a bulk string not followed by CRLF");
    }
    const text = received.bytes.toString("utf8", received.start, bodyEnd);
    const extent = { offset: received.offsetOf(received.start), length };
    received.start = bodyEnd + 2;
    this.#state = "header";
    return this.#push(text, extent);
  }

  /**
   * Adds a decoded value (and the extent of its bytes) to the innermost open array, closing arrays it completes; a
   * top-level value is done, its extent widened to its whole encoding.
   */
  #push(value: RespReply, extent: RespExtent): true {
    let done = value;
    let doneExtent = extent;
    for (;;) {
      const open = this.#arrays.at(-1);
      if (open === undefined) break;
      open.items.push(done);
      if (open.extents !== null && open.extents.length < MAX_ITEM_EXTENTS) open.extents.push(doneExtent);
      open.remaining -= 1;
      if (open.remaining > 0) return true;
      this.#arrays.pop();
      done = open.items;
      doneExtent = { offset: open.offset, length: this.#received.offsetOf(this.#received.start) - open.offset };
      if (open.extents !== null) doneExtent.items = open.extents;
    }
    const offset = this.#valueOffset;
    const length = this.#received.offsetOf(this.#received.start) - offset;
    this.#completed = { value: done, extent: { offset, length, value: doneExtent } };
    return true;
  }

  /** The text after the type byte of the line at `line` (already consumed), for an error. */
  #lineText(line: number, textExtent: RespExtent): string {
    return this.#received.bytes.toString("utf8", line + 1, line + 1 + textExtent.length);
  }

  /** The bytes broke the protocol: drop what is buffered and refuse to decode further. */
  #fail(what: string): never {
    this.#broken = new RespProtocolError(what);
    this.#received.takeAll();
    throw this.#broken;
  }
}

/** The field paths of a command's first MAX_ITEM_EXTENTS words ("command", "args.0", ...), made once. */
const COMMAND_PATHS = Array.from({ length: MAX_ITEM_EXTENTS }, (_, i) => (i === 0 ? "command" : `args.${i - 1}`));

/**
 * A decoded command, as `log.message` reports it: `command` (its name, upper-cased: Redis reads it so), `args`, and
 * `line`, the words as sent (cut at MAX_LINE_SHOWN characters); the bytes of the name and of the first arguments as
 * field spans. `dir` is the direction the command went on this connection; `extent` where it is in that stream.
 */
export function commandMessage(
  command: RespReply,
  extent: RespMessageExtent,
  dir: Span["dir"],
): { fields: Record<string, unknown>; options: MessageOptions } {
  const words = Array.isArray(command) ? command.map((word) => String(word)) : [String(command)];
  const fieldSpans: Record<string, Span> = {};
  extent.value.items?.forEach((item, i) => {
    fieldSpans[COMMAND_PATHS[i] ?? `args.${i - 1}`] = { dir, offset: item.offset, length: item.length };
  });
  return {
    fields: {
      command: (words[0] ?? "").toUpperCase(),
      args: words.slice(1),
      line: shorten(words.join(" "), MAX_LINE_SHOWN),
    },
    options: { spans: [{ dir, offset: extent.offset, length: extent.length }], fieldSpans, request: true },
  };
}

/**
 * A decoded reply, as `log.message` reports it: `reply` (the value), with the bytes of the value, or of a reply
 * array's first elements (`reply.0`, `reply.1`...), as field spans. Replies answer commands in order.
 */
export function replyMessage(
  reply: RespReply,
  extent: RespMessageExtent,
  dir: Span["dir"],
): { fields: Record<string, unknown>; options: MessageOptions } {
  const { value } = extent;
  const fieldSpans: Record<string, Span> = {};
  if (value.items === undefined) fieldSpans["reply"] = { dir, offset: value.offset, length: value.length };
  else value.items.forEach((item, i) => (fieldSpans[`reply.${i}`] = { dir, offset: item.offset, length: item.length }));
  return {
    fields: { reply },
    options: { spans: [{ dir, offset: extent.offset, length: extent.length }], fieldSpans, response: true },
  };
}

/** Sends commands as RESP arrays and decodes every reply, reporting both as messages on the connection's timeline. */
export class RespClient extends Protocol {
  /** Decodes the server's replies; set its MAX_BULK_LENGTH / MAX_LINE_LENGTH to change the limits. */
  readonly decoder = new RespDecoder("server");
  /** Set for good, after closing the connection, when the server sent something that is not RESP2. */
  brokenPeer = false;
  /**
   * How many bytes `sendCommand` wrote: where the next command starts in what this connection sent. Bytes sent
   * from the app's send box on the same connection are not counted, so commands sent after them show shifted bytes.
   */
  sentBytes = 0;

  /** Called by the transport with each chunk; hands on every reply it completes, in order. */
  override dataReceived(data: Bytes): void {
    if (this.brokenPeer) return;
    this.decoder.append(data);
    while (!this.transport.disconnecting) {
      let reply: RespReply | typeof NEED_MORE;
      try {
        reply = this.decoder.next();
      } catch (err) {
        if (!(err instanceof RespProtocolError)) throw err;
        // Nothing after it can be trusted to be aligned on a reply.
        this.log.error("not RESP2: the server sent {what}; closing", { what: err.what });
        this.brokenPeer = true;
        this.transport.loseConnection();
        return;
      }
      if (reply === NEED_MORE) return;
      this.replyReceived(reply);
    }
  }

  /**
   * Called with each complete reply, in the order the server sent them (which is the order of the commands).
   * The default reports it as a message answering the oldest command ("reply {reply}", its bytes as spans).
   * Override it to act on replies; call `super.replyReceived(reply)` to keep the report.
   */
  replyReceived(reply: RespReply): void {
    const { fields, options } = replyMessage(reply, this.decoder.lastMessage!, "in");
    this.log.message("reply {reply}", fields, options);
  }

  /**
   * Sends a command as a RESP array of bulk strings, e.g. `sendCommand("SET", "key", "value")`; numbers are sent
   * as their decimal text, bytes as they are. Reported as a message ("command {line}", a request that the next
   * reply answers) before it is written in one write.
   */
  sendCommand(...args: (string | number | Bytes)[]): void {
    if (args.length === 0) throw new TypeError("sendCommand needs at least the command name");
    const parts: Uint8Array[] = [Buffer.from(`*${args.length}\r\n`)];
    const items: RespExtent[] = [];
    let size = parts[0]!.length;
    for (const arg of args) {
      const bytes = typeof arg === "string" || typeof arg === "number" ? Buffer.from(String(arg), "utf8") : arg;
      const header = Buffer.from(`$${bytes.length}\r\n`);
      if (items.length < MAX_ITEM_EXTENTS)
        items.push({ offset: this.sentBytes + size + header.length, length: bytes.length });
      parts.push(header, bytes, CRLF);
      size += header.length + bytes.length + CRLF.length;
    }
    const words = args.map((arg) => (typeof arg === "object" ? `<${arg.length} bytes>` : String(arg)));
    const extent = { offset: this.sentBytes, length: size, value: { offset: this.sentBytes, length: size, items } };
    const { fields, options } = commandMessage(words, extent, "out");
    this.log.message("command {line}", fields, options);
    this.sentBytes += size;
    this.transport.write(Buffer.concat(parts));
  }
}

/** `text`, cut to `max` characters with an ellipsis: a row of the timeline, not a copy of a big value. */
function shorten(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * The integer `bytes[from, to)` spells as INTEGER does (an optional "-", then 1 to 20 digits), or null when it is not
 * one. A length or a count: past 2**53 it is too big for anything, so it needn't be exact.
 */
function lineInteger(bytes: Uint8Array, from: number, to: number): number | null {
  const negative = bytes[from] === MINUS;
  const first = negative ? from + 1 : from;
  if (to <= first || to - first > 20) return null;
  let n = 0;
  for (let i = first; i < to; i++) {
    const digit = bytes[i]! - 0x30;
    if (digit < 0 || digit > 9) return null;
    n = n * 10 + digit;
  }
  return negative ? -n : n;
}

/** A RESP integer as a number, or a bigint when a number would lose digits. */
function toInteger(text: string): number | bigint {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : BigInt(text);
}

export default RespClient;
