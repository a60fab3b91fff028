/**
 * Redis client speaking RESP2 (https://redis.io/docs/latest/develop/reference/protocol-spec/).
 *
 * Connect it to a redis-server (`tcp:host=127.0.0.1:port=6379`). It sends nothing by itself: call
 * `this.sendCommand("SET", "greeting", "hello")` from your code (in `connectionMade`, say), or send raw bytes from
 * the app (`PING\r\n` works too: Redis accepts inline commands). Every reply is decoded and logged as
 * "reply {reply}"; override `replyReceived` to act on replies.
 *
 * The decoder (RespDecoder) is resumable and never touches a socket, in the style of node-redis's
 * (packages/client/lib/RESP/decoder.ts). Other files import it from here: the resp-tap template decodes what
 * passes through a proxy with it.
 */
import { Protocol, ReceiveBuffer, type Bytes } from "wirescope";

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

/** An array whose elements are still arriving. */
interface PendingArray {
  items: RespReply[];
  remaining: number;
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
  #completed: { value: RespReply } | null = null;
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
    const { value } = this.#completed;
    this.#completed = null;
    return value;
  }

  /** Parses one line; false when it is not complete yet. */
  #headerStep(): boolean {
    const received = this.#received;
    const { bytes, start, end } = received;
    if (start === end) return false;
    const lf = bytes.subarray(0, end).indexOf(LF, start + this.#scanned);
    if (lf === -1) {
      this.#scanned = end - start;
      if (end - start > this.MAX_LINE_LENGTH) this.#fail(`a line longer than ${this.MAX_LINE_LENGTH}`);
      return false;
    }
    this.#scanned = 0;
    if (lf - start > this.MAX_LINE_LENGTH) this.#fail(`a line longer than ${this.MAX_LINE_LENGTH}`);
    const type = bytes[start];
    if (this.sender === "client" && this.#arrays.length === 0 && type !== STAR) return this.#inline(lf);
    if (lf === start || bytes[lf - 1] !== CR) this.#fail("a line not ended by CRLF");
    const text = bytes.toString("utf8", start + 1, lf - 1);
    received.start = lf + 1;
    switch (type) {
      case PLUS:
        return this.#push(text);
      case MINUS:
        return this.#push(new RespError(text));
      case COLON:
        if (!INTEGER.test(text)) this.#fail(`a bad integer ${text}`);
        return this.#push(toInteger(text));
      case DOLLAR:
        return this.#bulkHeader(text);
      case STAR:
        return this.#arrayHeader(text);
      default:
        this.#fail(`an unknown type byte ${JSON.stringify(String.fromCharCode(type ?? 0))}`);
    }
  }

  /** An inline command (a client's line ending at `lf`): its words; an empty line is skipped, as Redis does. */
  #inline(lf: number): boolean {
    const received = this.#received;
    const lineEnd = lf > received.start && received.bytes[lf - 1] === CR ? lf - 1 : lf;
    const words = received.bytes.toString("utf8", received.start, lineEnd).split(/\s+/).filter(Boolean);
    received.start = lf + 1;
    return words.length === 0 || this.#push(words);
  }

  /** `$<length>`: null for -1, else the body follows; its length is checked before any of it is buffered. */
  #bulkHeader(text: string): boolean {
    const length = Number(text);
    if (!INTEGER.test(text) || length < -1) this.#fail(`a bad bulk length ${text}`);
    if (length === -1) return this.#push(null);
    if (length > this.MAX_BULK_LENGTH) this.#fail(`a bulk string of ${length} bytes, over MAX_BULK_LENGTH`);
    this.#bulkLength = length;
    this.#state = "bulk";
    return true;
  }

  /** `*<count>`: null for -1, [] for 0, else the next `count` values are its elements. */
  #arrayHeader(text: string): boolean {
    const count = Number(text);
    if (!INTEGER.test(text) || count < -1) this.#fail(`a bad array length ${text}`);
    if (count === -1) return this.#push(null);
    if (count === 0) return this.#push([]);
    this.#arrays.push({ items: [], remaining: count });
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
    received.start = bodyEnd + 2;
    this.#state = "header";
    return this.#push(text);
  }

  /** Adds a decoded value to the innermost open array, closing arrays it completes; a top-level value is done. */
  #push(value: RespReply): true {
    let done = value;
    for (;;) {
      const open = this.#arrays.at(-1);
      if (open === undefined) break;
      open.items.push(done);
      open.remaining -= 1;
      if (open.remaining > 0) return true;
      this.#arrays.pop();
      done = open.items;
    }
    this.#completed = { value: done };
    return true;
  }

  /** The bytes broke the protocol: drop what is buffered and refuse to decode further. */
  #fail(what: string): never {
    this.#broken = new RespProtocolError(what);
    this.#received.takeAll();
    throw this.#broken;
  }
}

/** Sends commands as RESP arrays and decodes every reply, logging both on the connection's timeline. */
export class RespClient extends Protocol {
  /** Decodes the server's replies; set its MAX_BULK_LENGTH / MAX_LINE_LENGTH to change the limits. */
  readonly decoder = new RespDecoder("server");
  /** Set for good, after closing the connection, when the server sent something that is not RESP2. */
  brokenPeer = false;

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
   * The default logs it. Override it to act on replies; call `super.replyReceived(reply)` to keep the log.
   */
  replyReceived(reply: RespReply): void {
    this.log.info("reply {reply}", { reply });
  }

  /**
   * Sends a command as a RESP array of bulk strings, e.g. `sendCommand("SET", "key", "value")`; numbers are sent
   * as their decimal text, bytes as they are. Logged as "command {command}" before it is written in one write.
   */
  sendCommand(...args: (string | number | Bytes)[]): void {
    if (args.length === 0) throw new TypeError("sendCommand needs at least the command name");
    const parts: Uint8Array[] = [Buffer.from(`*${args.length}\r\n`)];
    for (const arg of args) {
      const bytes = typeof arg === "string" || typeof arg === "number" ? Buffer.from(String(arg), "utf8") : arg;
      parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, CRLF);
    }
    const command = args.map((arg) => (typeof arg === "object" ? `<${arg.length} bytes>` : String(arg))).join(" ");
    this.log.info("command {command}", { command });
    this.transport.write(Buffer.concat(parts));
  }
}

/** A RESP integer as a number, or a bigint when a number would lose digits. */
function toInteger(text: string): number | bigint {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : BigInt(text);
}

export default RespClient;
