/**
 * Basic framers (src/twisted/protocols/basic.py): lines, netstrings and length-prefixed strings.
 *
 * Each framer turns an arbitrary split of the byte stream (half a message, several, one byte at a time) into
 * calls with whole messages. They share one way of buffering, ReceiveBuffer: one buffer plus an offset.
 *
 * No copies: a message handed to a callback is a view (`subarray`) of the chunk it arrived in, or of the buffer
 * that joined the chunks it spanned. So a chunk given to `dataReceived` must not be modified afterwards (Node's
 * sockets hand out a fresh Buffer per read and never touch it again). Keep a message past the callback freely;
 * copy it (`Buffer.from(line)`) only to let a large chunk be collected sooner.
 *
 * Each framer counts the bytes it received and sets `messageSpan` to the whole frame of the message it delivers
 * (delimiter, prefix, trailing comma included) during the callback, so `this.log.message(...)` called there ties
 * the decoded message to its bytes however the stream was chunked.
 */
import { NetstringParseError, StringTooLongError } from "../errors.ts";
import type { Bytes, IPushProducer } from "../interfaces.ts";
import type { Span } from "../logger.ts";
import { Protocol, type BaseProtocol } from "../protocol.ts";

const EMPTY = Buffer.alloc(0);
const COLON = 0x3a;
const COMMA = 0x2c;
const ZERO = 0x30;
const NINE = 0x39;

/** A Buffer over the same memory as `data` (no copy). */
function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Bytes received but not yet consumed, for framers: the unconsumed bytes are `bytes[start, end)`.
 *
 * A parser reads `bytes` between `start` and `end`, advances `start` as it consumes, and hands out views of what
 * it consumed. The buffer guarantees those views stay valid: it never writes below `end`, only into room past
 * `end` that it allocated itself. A chunk that arrives when nothing is pending becomes the buffer as is (no copy);
 * a chunk that arrives behind a pending tail is appended into room left by an earlier growth, or the tail and the
 * chunk are copied into a new buffer at least twice the tail's size, so a message spanning many small chunks costs
 * linear time.
 */
export class ReceiveBuffer {
  /** Storage. Only `bytes[start, end)` means anything; past `end` is spare room (or nothing). */
  bytes: Buffer = EMPTY;
  /** Index in `bytes` of the first unconsumed byte; parsers advance it. */
  start = 0;
  /** Index in `bytes` just past the last received byte. */
  end = 0;
  /** Bytes of the stream received so far, counted by `append`: the stream offset of `bytes[end]`. */
  received = 0;

  /** How many bytes are pending. */
  get length(): number {
    return this.end - this.start;
  }

  /**
   * Adds `data` after the pending bytes. Called by `dataReceived`; never copies when nothing is pending. `fresh`
   * false: `data` is the tail of what was already received, handed back (LineReceiver's `setLineMode(extra)`), so it
   * is not counted again.
   */
  append(data: Uint8Array, fresh = true): void {
    const size = data.length;
    if (size === 0) return;
    if (fresh) this.received += size;
    if (this.start === this.end) {
      this.bytes = asBuffer(data);
      this.start = 0;
      this.end = size;
    } else if (this.end + size <= this.bytes.length) {
      this.bytes.set(data, this.end);
      this.end += size;
    } else {
      const pending = this.end - this.start;
      const grown = Buffer.allocUnsafe(Math.max(pending + size, 2 * pending));
      this.bytes.copy(grown, 0, this.start, this.end);
      grown.set(data, pending);
      this.bytes = grown;
      this.start = 0;
      this.end = pending + size;
    }
  }

  /** The stream offset of `bytes[index]` (an index between `start` and `end`). */
  offsetOf(index: number): number {
    return this.received - (this.end - index);
  }

  /** The span of the received bytes `bytes[from, to)`. */
  span(from: number, to: number): Span {
    return { dir: "in", offset: this.offsetOf(from), length: to - from };
  }

  /** Consumes every pending byte and returns them (a view, no copy). */
  takeAll(): Buffer {
    const all = this.bytes.subarray(this.start, this.end);
    this.bytes = EMPTY;
    this.start = this.end = 0;
    return all;
  }

  /**
   * Called by a framer when it stops parsing, to not keep a big chunk alive for a few pending bytes: forgets the
   * storage when everything was consumed, and copies a tail that is small next to its storage.
   */
  settle(): void {
    const pending = this.end - this.start;
    if (pending === 0) {
      this.bytes = EMPTY;
      this.start = this.end = 0;
    } else if (pending * 4 <= this.bytes.length) {
      this.bytes = Buffer.from(this.bytes.subarray(this.start, this.end));
      this.start = 0;
      this.end = pending;
    }
  }
}

/**
 * The index in `bytes` where `delimiter` starts, searching `[from, end)`, or -1.
 * Looks for the delimiter's last byte with Buffer's native byte search (much faster than a multi-byte search
 * for short delimiters like "\r\n"), then checks the bytes before it.
 */
function findDelimiter(bytes: Buffer, delimiter: Bytes, from: number, end: number): number {
  const last = delimiter.length - 1;
  const lastByte = delimiter[last];
  for (let at = bytes.indexOf(lastByte, from + last); at !== -1 && at < end; at = bytes.indexOf(lastByte, at + 1)) {
    const begin = at - last;
    let k = 0;
    while (k < last && bytes[begin + k] === delimiter[k]) k++;
    if (k === last) return begin;
  }
  return -1;
}

/**
 * Calls `callback` with `protocol.messageSpan` set to `span`, and puts back what it was (null between messages; the
 * outer message's when a callback feeds the protocol more bytes). Returns what the callback returned.
 */
export function deliverMessage<T>(protocol: BaseProtocol, span: Span, callback: () => T): T {
  const outer = protocol.messageSpan;
  protocol.messageSpan = span;
  try {
    return callback();
  } finally {
    protocol.messageSpan = outer;
  }
}

function notImplemented(self: object, method: string): Error {
  return new Error(`${self.constructor.name}.${method} is not implemented: override it in a subclass`);
}

/**
 * A protocol that is also a push producer of what it receives (Twisted's private `_PauseableMixin`): pausing it
 * pauses its transport and holds back the messages already buffered until it is resumed. Shared by LineReceiver
 * and IntNStringReceiver.
 */
export class PauseableProtocol extends Protocol implements IPushProducer {
  /** True while paused or after `stopProducing()`: no message is delivered. */
  paused = false;

  /**
   * Stops delivering messages and pauses the transport. Called by the protocol itself (to apply back-pressure)
   * or by a consumer it is registered with. Messages already received wait in the buffer.
   */
  pauseProducing(): void {
    this.paused = true;
    this.transport.pauseProducing();
  }

  /** Resumes the transport and delivers, synchronously, the messages buffered while paused. */
  resumeProducing(): void {
    this.paused = false;
    this.transport.resumeProducing();
    this.dataReceived(EMPTY);
  }

  /** Stops delivering for good and stops the transport. */
  stopProducing(): void {
    this.paused = true;
    this.transport.stopProducing();
  }
}

/** Returned by a LineReceiver step that delivered something and may go on. */
const GO_ON = Symbol("go on");

/**
 * Receives lines and/or raw data, depending on mode (twisted.protocols.basic.LineReceiver): the base of
 * line-oriented protocols such as HTTP, SMTP, IRC, Redis's inline commands.
 *
 * In line mode each line becomes a `lineReceived(line)` call, delimiter removed; in raw mode each chunk becomes a
 * `rawDataReceived(data)` call. `setRawMode()` and `setLineMode(extra)` switch, also from inside the callbacks:
 * the rest of the chunk goes to the new mode. Delivery is a loop, not a recursion, so a chunk that flips modes
 * thousands of times does not grow the stack.
 *
 * Delivery stops, keeping the rest buffered, when a callback returns a truthy value (returned from `dataReceived`)
 * or the protocol is paused; it stops for good once `transport.disconnecting` is set (checked before each
 * delivery: Twisted checks after each line, so a chunk fed after `loseConnection` would still yield one line).
 */
export class LineReceiver extends PauseableProtocol {
  /** The line ending, sent by `sendLine` and split on when receiving. Set it in a subclass to change it. */
  delimiter: Bytes = Buffer.from("\r\n");
  /** The longest line accepted, without its delimiter; a longer one goes to `lineLengthExceeded`. */
  MAX_LENGTH = 16384;
  /** True in line mode (the default), false in raw mode. Switch with `setLineMode` / `setRawMode`. */
  lineMode = true;
  readonly #received = new ReceiveBuffer();
  #busyReceiving = false;
  /** Set by `setLineMode(extra)` for the `dataReceived(extra)` it makes: those bytes were counted already. */
  #handedBack = false;

  /**
   * Called by the transport with each chunk; delivers the lines (or raw data) it completes, in order. Called again
   * from inside a callback (by `setLineMode(extra)` or `resumeProducing`), it only queues the bytes: the delivery
   * loop already running picks them up. Returns what a callback returned to stop delivery, else undefined.
   */
  override dataReceived(data: Bytes): unknown {
    const fresh = !this.#handedBack;
    this.#handedBack = false;
    this.#received.append(data, fresh);
    if (this.#busyReceiving) return undefined;
    this.#busyReceiving = true;
    try {
      return this.#deliver();
    } finally {
      this.#busyReceiving = false;
    }
  }

  #deliver(): unknown {
    const received = this.#received;
    let result: unknown = GO_ON;
    while (result === GO_ON && received.start < received.end && !this.paused && !this.transport?.disconnecting) {
      result = this.lineMode ? this.#lineStep(received) : this.#rawStep(received);
    }
    received.settle();
    return result === GO_ON ? undefined : result;
  }

  /** Delivers the next line, or reports an over-long one; undefined when the line is not complete yet. */
  #lineStep(received: ReceiveBuffer): unknown {
    const { bytes, start, end } = received;
    const delimiter = this.delimiter;
    const at = findDelimiter(bytes, delimiter, start, end);
    if (at === -1) {
      // Without a delimiter, the line is only known to be too long once even a delimiter starting at the last
      // bytes could not end it within MAX_LENGTH (Twisted's rule: a partial delimiter may be pending).
      return end - start >= this.MAX_LENGTH + delimiter.length ? this.#lengthExceeded(received) : undefined;
    }
    if (at - start > this.MAX_LENGTH) return this.#lengthExceeded(received);
    received.start = at + delimiter.length;
    // deliverMessage's work, inline: no closure per line, and no span object unless it is read (this runs once per
    // line of every LineReceiver).
    const outer = this.messageSpan;
    this.setMessageSpanAt(received.offsetOf(start), at + delimiter.length - start);
    try {
      return this.#stopIf(this.lineReceived(bytes.subarray(start, at)));
    } finally {
      this.messageSpan = outer;
    }
  }

  /** Hands every buffered byte to `rawDataReceived`. */
  #rawStep(received: ReceiveBuffer): unknown {
    const span = received.span(received.start, received.end);
    return this.#stopIf(deliverMessage(this, span, () => this.rawDataReceived(received.takeAll())));
  }

  /** Hands the over-long line and everything after it (line + delimiter + rest, as in Twisted) to the hook. */
  #lengthExceeded(received: ReceiveBuffer): unknown {
    const span = received.span(received.start, received.end);
    return this.#stopIf(deliverMessage(this, span, () => this.lineLengthExceeded(received.takeAll())));
  }

  /** A callback's truthy return value stops delivery (and is returned from `dataReceived`); else go on. */
  #stopIf(why: unknown): unknown {
    return why ? why : GO_ON;
  }

  /**
   * Switches to line mode: later bytes are split into lines. From inside `rawDataReceived`, pass the bytes that
   * followed the raw part as `extra`: they are parsed for lines right after the callback returns. Do not pass
   * `extra` from inside `lineReceived` (the rest of the chunk is still buffered and would come after it).
   * Returns what `dataReceived(extra)` returned.
   */
  setLineMode(extra: Bytes = EMPTY): unknown {
    this.lineMode = true;
    if (extra.length === 0) return undefined;
    this.#handedBack = true;
    return this.dataReceived(extra);
  }

  /**
   * Switches to raw mode: from the next byte on (the rest of the current chunk included), data goes to
   * `rawDataReceived` as it arrives.
   */
  setRawMode(): void {
    this.lineMode = false;
  }

  /**
   * Removes and returns every buffered byte not yet delivered (a view, no copy). Callable from inside
   * `lineReceived`: the lines that followed in the same chunk are then not delivered.
   */
  clearLineBuffer(): Buffer {
    return this.#received.takeAll();
  }

  /**
   * Called with each line, delimiter removed. Override it. Return a truthy value to stop delivering the lines
   * already buffered until the next `dataReceived` (the value is returned from `dataReceived`).
   */
  lineReceived(_line: Buffer): unknown {
    throw notImplemented(this, "lineReceived");
  }

  /** Called in raw mode with each chunk of data, in order, as it arrives. Override it if you use raw mode. */
  rawDataReceived(_data: Buffer): unknown {
    throw notImplemented(this, "rawDataReceived");
  }

  /** Writes `line` followed by the delimiter, as one write. */
  sendLine(line: Bytes): void {
    this.transport.write(Buffer.concat([line, this.delimiter]));
  }

  /**
   * Called when a line is longer than MAX_LENGTH, with the over-long line and everything buffered after it (so it
   * may hold more than one line, or only the start of the long one); the buffer is then empty. The default closes
   * the connection. An override may carry on, e.g. by re-feeding part of it with `setLineMode(extra)`: delivery
   * goes on at once with what it re-fed (Twisted leaves it buffered until the next chunk arrives, which makes the
   * outcome depend on how the stream was split).
   */
  lineLengthExceeded(_line: Buffer): unknown {
    return this.transport.loseConnection();
  }
}

/**
 * Receives lines only (twisted.protocols.basic.LineOnlyReceiver): LineReceiver without raw mode, pausing or stop
 * values. In Twisted it is the faster of the two; here both run at about the same speed, so pick by features.
 * Lines after the one during which `transport.disconnecting` became true are not delivered.
 */
export class LineOnlyReceiver extends Protocol {
  /** The line ending, sent by `sendLine` and split on when receiving. */
  delimiter: Bytes = Buffer.from("\r\n");
  /** The longest line accepted, without its delimiter; a longer one goes to `lineLengthExceeded`. */
  MAX_LENGTH = 16384;
  readonly #received = new ReceiveBuffer();

  /** Called by the transport with each chunk; delivers every line it completes, in order. */
  override dataReceived(data: Bytes): void {
    const received = this.#received;
    received.append(data);
    const delimiter = this.delimiter;
    for (;;) {
      const { bytes, start, end } = received;
      const at = findDelimiter(bytes, delimiter, start, end);
      if (at === -1) break;
      if (this.transport?.disconnecting) return;
      const span = received.span(start, at + delimiter.length);
      received.start = at + delimiter.length;
      if (at - start > this.MAX_LENGTH) {
        // As in Twisted, the complete lines after the long one are dropped; the unterminated tail stays.
        received.start = bytes.lastIndexOf(delimiter, end - delimiter.length) + delimiter.length;
        deliverMessage(this, span, () => this.lineLengthExceeded(bytes.subarray(start, at)));
        return;
      }
      deliverMessage(this, span, () => this.lineReceived(bytes.subarray(start, at)));
    }
    if (received.length >= this.MAX_LENGTH + delimiter.length) {
      const span = received.span(received.start, received.end);
      deliverMessage(this, span, () => this.lineLengthExceeded(received.bytes.subarray(received.start, received.end)));
      return;
    }
    received.settle();
  }

  /** Called with each line, delimiter removed. Override it. */
  lineReceived(_line: Buffer): void {
    throw notImplemented(this, "lineReceived");
  }

  /** Writes `line` and the delimiter. */
  sendLine(line: Bytes): void {
    this.transport.writeSequence([line, this.delimiter]);
  }

  /**
   * Called with a line longer than MAX_LENGTH, or with the unterminated tail once it is certainly longer: at
   * MAX_LENGTH + len(delimiter) bytes, LineReceiver's rule. (Twisted's LineOnlyReceiver calls it as soon as the
   * tail passes MAX_LENGTH, wrongly refusing a line of MAX_LENGTH whose delimiter arrives split.) The default
   * closes the connection.
   */
  lineLengthExceeded(_line: Buffer): void {
    this.transport.loseConnection();
  }
}

/**
 * Receives and sends strings prefixed by their length as a big-endian unsigned integer of `prefixLength` bytes
 * (twisted.protocols.basic.IntNStringReceiver). Use Int8StringReceiver, Int16StringReceiver or
 * Int32StringReceiver, or subclass with another `prefixLength` (1 to 6).
 *
 * A length above MAX_LENGTH is refused as soon as its prefix arrives, without waiting for the string. Pausing
 * (`pauseProducing`) holds back strings already received until `resumeProducing`. No string is delivered once
 * `transport.disconnecting` is set (Twisted would still deliver the rest of the chunk).
 */
export abstract class IntNStringReceiver extends PauseableProtocol {
  /** The size of the length prefix, in bytes. */
  abstract readonly prefixLength: number;
  /** The longest string accepted; a longer length prefix goes to `lengthLimitExceeded`. */
  MAX_LENGTH = 99999;
  readonly #received = new ReceiveBuffer();
  #busyReceiving = false;

  /**
   * Called by the transport with each chunk; delivers every string it completes, in order. A call from inside
   * `stringReceived` (e.g. by `resumeProducing`) only queues the bytes for the loop already running.
   */
  override dataReceived(data: Bytes): void {
    const received = this.#received;
    received.append(data);
    if (this.#busyReceiving) return;
    this.#busyReceiving = true;
    try {
      while (!this.paused && !this.transport?.disconnecting && this.#stringStep(received));
      received.settle();
    } finally {
      this.#busyReceiving = false;
    }
  }

  /** Delivers the next string if it is complete; true if it did. */
  #stringStep(received: ReceiveBuffer): boolean {
    const prefixLength = this.prefixLength;
    const { bytes, start, end } = received;
    if (end - start < prefixLength) return false;
    const length = bytes.readUIntBE(start, prefixLength);
    if (length > this.MAX_LENGTH) {
      this.lengthLimitExceeded(length);
      return false;
    }
    const stringStart = start + prefixLength;
    const stringEnd = stringStart + length;
    if (stringEnd > end) return false;
    received.start = stringEnd;
    deliverMessage(this, received.span(start, stringEnd), () =>
      this.stringReceived(bytes.subarray(stringStart, stringEnd)),
    );
    return true;
  }

  /** Called with each complete string, prefix removed. Override it. */
  stringReceived(_string: Buffer): void {
    throw notImplemented(this, "stringReceived");
  }

  /**
   * Called as soon as a length prefix above MAX_LENGTH arrives, with that length. Nothing after the prefix is
   * parsed: the prefix stays buffered, so the next chunk calls it again. The default closes the connection.
   */
  lengthLimitExceeded(_length: number): void {
    this.transport.loseConnection();
  }

  /**
   * Writes `string` with its length prefix, as one write. Throws StringTooLongError, writing nothing, when the
   * length does not fit the prefix (`length >= 2 ** (8 * prefixLength)`).
   */
  sendString(string: Bytes): void {
    const prefixLength = this.prefixLength;
    const limit = 2 ** (8 * prefixLength);
    if (string.length >= limit) {
      throw new StringTooLongError(`Try to send ${string.length} bytes whereas maximum is ${limit}`);
    }
    const frame = Buffer.allocUnsafe(prefixLength + string.length);
    frame.writeUIntBE(string.length, 0, prefixLength);
    frame.set(string, prefixLength);
    this.transport.write(frame);
  }
}

/** Strings prefixed by a 4-byte big-endian length (twisted.protocols.basic.Int32StringReceiver). */
export class Int32StringReceiver extends IntNStringReceiver {
  /** Four bytes: lengths up to 2**32 - 1 can be sent. */
  readonly prefixLength = 4;
}

/** Strings prefixed by a 2-byte big-endian length (twisted.protocols.basic.Int16StringReceiver). */
export class Int16StringReceiver extends IntNStringReceiver {
  /** Two bytes: lengths up to 65535 can be sent. */
  readonly prefixLength = 2;
}

/** Strings prefixed by a 1-byte length (twisted.protocols.basic.Int8StringReceiver). */
export class Int8StringReceiver extends IntNStringReceiver {
  /** One byte: lengths up to 255 can be sent. */
  readonly prefixLength = 1;
}

/** Formats `data` as a netstring: `len:data,`. */
function formatNetstring(data: Bytes): Buffer {
  return Buffer.concat([Buffer.from(`${data.length}:`, "latin1"), data, Buffer.of(COMMA)]);
}

const MISSING_LENGTH = "The received netstring does not start with a length specification.";
const MISSING_COMMA = "The received netstring is not terminated by a comma.";
const tooLong = (max: number) => `The received netstring is longer than the maximum ${max} specified by MAX_LENGTH`;

/**
 * Receives and sends netstrings, `len:data,` (twisted.protocols.basic.NetstringReceiver;
 * https://cr.yp.to/proto/netstrings.txt).
 *
 * A malformed netstring (no length, a length with leading zeros or above MAX_LENGTH, a missing colon or comma)
 * closes the connection and sets `brokenPeer`; from then on everything received is ignored. A length above
 * MAX_LENGTH is refused before its data is buffered; a length with more digits than MAX_LENGTH is refused as soon
 * as the extra digit arrives. No netstring is delivered once `transport.disconnecting` is set (Twisted would still
 * deliver the rest of the chunk).
 */
export class NetstringReceiver extends Protocol {
  /** The longest string accepted; a longer length closes the connection. */
  MAX_LENGTH = 99999;
  /** Set for good, after closing the connection, when the peer sent a malformed netstring. */
  brokenPeer = false;
  readonly #received = new ReceiveBuffer();
  #busyReceiving = false;
  /** Twisted's `_PARSING_PAYLOAD` state; false is `_PARSING_LENGTH`. */
  #parsingPayload = false;
  /** The payload's length plus one, for the trailing comma. */
  #expectedPayloadSize = 0;
  /** The stream offset of the netstring being parsed (its length's first digit). */
  #frameOffset = 0;

  /** Called by the transport with each chunk; delivers every netstring it completes, in order. */
  override dataReceived(data: Bytes): void {
    if (this.brokenPeer) return;
    const received = this.#received;
    received.append(data);
    if (this.#busyReceiving) return;
    this.#busyReceiving = true;
    try {
      while (!this.transport?.disconnecting) {
        const payload = this.#nextPayload(received);
        if (payload === null) break;
        const frameEnd = received.offsetOf(received.start);
        const span: Span = { dir: "in", offset: this.#frameOffset, length: frameEnd - this.#frameOffset };
        deliverMessage(this, span, () => this.stringReceived(payload));
      }
      received.settle();
    } finally {
      this.#busyReceiving = false;
    }
  }

  /** Parses the next netstring; null when it is not complete yet or the peer broke the format. */
  #nextPayload(received: ReceiveBuffer): Buffer | null {
    try {
      if (!this.#parsingPayload && !this.#consumeLength(received)) return null;
      return this.#consumePayload(received);
    } catch (err) {
      if (!(err instanceof NetstringParseError)) throw err;
      this.#handleParseError(err);
      return null;
    }
  }

  /** Consumes `digits:`; false when more bytes are needed. Throws NetstringParseError on a malformed length. */
  #consumeLength(received: ReceiveBuffer): boolean {
    const { bytes, start, end } = received;
    const maxDigits = String(this.MAX_LENGTH).length;
    let at = start;
    while (at < end && at - start <= maxDigits && bytes[at] >= ZERO && bytes[at] <= NINE) at++;
    const digits = at - start;
    if (digits === 0) {
      if (at < end) throw new NetstringParseError(MISSING_LENGTH);
      return false;
    }
    if (digits > 1 && bytes[start] === ZERO) throw new NetstringParseError(MISSING_LENGTH);
    if (digits > maxDigits) throw new NetstringParseError(tooLong(this.MAX_LENGTH));
    const length = Number(bytes.toString("latin1", start, at));
    if (length > this.MAX_LENGTH) throw new NetstringParseError(tooLong(this.MAX_LENGTH));
    if (at === end) return false;
    if (bytes[at] !== COLON) throw new NetstringParseError(MISSING_LENGTH);
    this.#frameOffset = received.offsetOf(start);
    received.start = at + 1;
    this.#expectedPayloadSize = length + 1;
    this.#parsingPayload = true;
    return true;
  }

  /** Consumes `data,` and returns data; null when more bytes are needed. Throws NetstringParseError without comma. */
  #consumePayload(received: ReceiveBuffer): Buffer | null {
    const { bytes, start, end } = received;
    const size = this.#expectedPayloadSize;
    if (end - start < size) return null;
    if (bytes[start + size - 1] !== COMMA) throw new NetstringParseError(MISSING_COMMA);
    received.start = start + size;
    this.#parsingPayload = false;
    return bytes.subarray(start, start + size - 1);
  }

  #handleParseError(err: NetstringParseError): void {
    this.log.warn("Closing the connection: {reason}", { reason: err.message });
    this.#received.takeAll();
    this.transport.loseConnection();
    this.brokenPeer = true;
  }

  /** Called with each complete netstring's data. Override it. */
  stringReceived(_string: Buffer): void {
    throw notImplemented(this, "stringReceived");
  }

  /** Writes `string` as a netstring, as one write. */
  sendString(string: Bytes): void {
    this.transport.write(formatNetstring(string));
  }
}
