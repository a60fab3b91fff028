/**
 * The Language Server Protocol on a language server's stdio: JSON-RPC 2.0 messages framed by a `Content-Length`
 * header (https://microsoft.github.io/language-server-protocol/specifications/base/0.9/specification/). The Debug
 * Adapter Protocol frames its messages the same way.
 *
 * A ProcessProtocol: run it on `wirescope wrap --protocol template:lsp -- pylsp`, where the editor's messages reach
 * it as fd 0 (the server's stdin) and the server's as fd 1, or on a process session running the server, where fd 0
 * is what the send box sends. Each message is logged decoded — who sent it, its method, its id, a short summary of
 * its params or result — and each response is paired with its request by id, with the latency between them. It only
 * reads: nothing is written to the server.
 */
import { ProcessProtocol, reactor, type Bytes, type Logger, type Span } from "wirescope";

/** The longest header block accepted, CRLFs included: LSP's has one or two short fields. */
export const MAX_HEADER_LENGTH = 8 * 1024;
/** The longest message body accepted (a large document in a didOpen fits). */
export const MAX_MESSAGE_LENGTH = 64 * 1024 * 1024;
/** How many characters of params or result a log line shows. */
export const SUMMARY_LENGTH = 120;

/** What `next()` returns when the buffer holds no complete message yet: not an error. */
export const NEED_MORE = Symbol("need more bytes");

/** The bytes are not Content-Length framed (a missing or bad header, a message over the limits). */
export class FramingError extends Error {
  constructor(readonly what: string) {
    super(`not Content-Length framing: ${what}`);
    this.name = "FramingError";
  }
}

/** Who sent a message: the client (the editor, writing the server's stdin) or the server (on its stdout). */
export type Sender = "client" | "server";

/**
 * A resumable decoder of one direction's Content-Length framed messages: `append` the bytes as they come, then call
 * `next` until NEED_MORE. Limits are checked before buffering past them.
 */
export class ContentLengthDecoder {
  private buffer = Buffer.alloc(0);
  /** The body length announced by the header being consumed; null while reading a header. */
  private bodyLength: number | null = null;
  /** The stream offset of `buffer[0]`: how many bytes were consumed before it, from the first byte appended. */
  private consumed = 0;
  /** Where the frame being consumed starts in the stream. */
  private frameStart = 0;
  /**
   * Where the frame of the body `next()` returned last is in the stream appended (offset 0 is the first byte
   * appended): its header and its body. Null before the first.
   */
  lastFrame: { offset: number; length: number } | null = null;

  append(data: Bytes): void {
    this.buffer = this.buffer.length === 0 ? Buffer.from(data) : Buffer.concat([this.buffer, data]);
  }

  /** The next complete body, NEED_MORE, or a FramingError thrown. */
  next(): Buffer | typeof NEED_MORE {
    if (this.bodyLength === null && !this.readHeader()) return NEED_MORE;
    const length = this.bodyLength!;
    if (this.buffer.length < length) return NEED_MORE;
    const body = this.buffer.subarray(0, length);
    this.buffer = this.buffer.subarray(length);
    this.consumed += length;
    this.bodyLength = null;
    this.lastFrame = { offset: this.frameStart, length: this.consumed - this.frameStart };
    return body;
  }

  /** Consumes a header block if a whole one is buffered; false if more bytes are needed. */
  private readHeader(): boolean {
    const end = this.buffer.indexOf("\r\n\r\n");
    if (end < 0) {
      if (this.buffer.length > MAX_HEADER_LENGTH) throw new FramingError("no end of header");
      return false;
    }
    if (end > MAX_HEADER_LENGTH) throw new FramingError("header too long");
    let length: number | null = null;
    for (const line of this.buffer.subarray(0, end).toString("latin1").split("\r\n")) {
      const colon = line.indexOf(":");
      if (colon < 0) throw new FramingError(`header line without a colon: ${JSON.stringify(line)}`);
      if (line.slice(0, colon).trim().toLowerCase() !== "content-length") continue;
      const value = line.slice(colon + 1).trim();
      if (!/^\d{1,10}$/.test(value)) throw new FramingError(`Content-Length ${JSON.stringify(value)}`);
      length = Number(value);
    }
    if (length === null) throw new FramingError("no Content-Length");
    if (length > MAX_MESSAGE_LENGTH) throw new FramingError(`a message of ${length} bytes`);
    this.bodyLength = length;
    this.frameStart = this.consumed;
    this.consumed += end + 4;
    this.buffer = this.buffer.subarray(end + 4);
    return true;
  }
}

/** A JSON-RPC 2.0 message, as far as this file looks at it. */
interface RpcMessage {
  id?: number | string | null;
  method?: string;
  params?: unknown;
  result?: unknown;
  error?: { code?: number; message?: string };
}

/** `value` as compact JSON, cut to SUMMARY_LENGTH characters ("" for none). */
export function summary(value: unknown): string {
  if (value === undefined) return "";
  const text = JSON.stringify(value) ?? String(value);
  return text.length > SUMMARY_LENGTH ? `${text.slice(0, SUMMARY_LENGTH - 1)}…` : text;
}

/**
 * Where a message `sender` sent is in a process's streams: the client writes the server's stdin (fd 0, "out"), the
 * server its stdout (fd 1, "in"). `offset` and `length` count that stream's bytes.
 */
export function senderSpan(sender: Sender, offset: number, length: number): Span {
  return sender === "client" ? { dir: "out", fd: 0, offset, length } : { dir: "in", fd: 1, offset, length };
}

/**
 * One JSON-RPC conversation, both directions: reports each message decoded, with its bytes, and pairs each response
 * with its request by id (either side may send requests: servers ask editors too), for the timeline (pairing keys
 * "client:1", "server:7") and in its own text (the latency). Shared by the LSP and the JSON Lines templates.
 */
export class RpcConversation {
  /** Requests without a response yet, by sender and id: their method and when they were seen (reactor seconds). */
  private readonly pending = new Map<string, { method: string; at: number }>();

  constructor(private readonly log: Logger) {}

  /** Called with each message body `sender` sent, and `spans`, the bytes it was decoded from (framing included). */
  messageReceived(sender: Sender, body: string, spans: Span[] = []): void {
    let message: RpcMessage;
    try {
      message = JSON.parse(body) as RpcMessage;
    } catch {
      this.log.warn("{sender}: not JSON: {text}", { sender, text: summary(body) });
      return;
    }
    const { id, method } = message;
    if (method !== undefined && id !== undefined && id !== null) {
      this.pending.set(`${sender}:${id}`, { method, at: reactor.seconds() });
      this.log.message(
        "{sender} request #{id} {method} {params}",
        { sender, id, method, params: summary(message.params) },
        { spans, request: `${sender}:${id}` },
      );
    } else if (method !== undefined) {
      this.log.message(
        "{sender} notification {method} {params}",
        { sender, method, params: summary(message.params) },
        { spans },
      );
    } else {
      this.responseReceived(sender, message, spans);
    }
  }

  private responseReceived(sender: Sender, message: RpcMessage, spans: Span[]): void {
    const asker = sender === "client" ? "server" : "client";
    const key = `${asker}:${message.id}`;
    const request = this.pending.get(key);
    this.pending.delete(key);
    const method = request?.method ?? "(unknown request)";
    const latencyMs = request === undefined ? null : Math.round((reactor.seconds() - request.at) * 1e4) / 10;
    const outcome =
      message.error !== undefined
        ? `error ${message.error.code ?? "?"} ${message.error.message ?? ""}`
        : summary(message.result);
    this.log.message(
      "{sender} response #{id} to {method} in {latencyMs} ms: {outcome}",
      {
        sender,
        id: message.id,
        method,
        latencyMs,
        outcome,
        ...(message.error !== undefined ? { error: message.error } : {}),
      },
      { spans, response: key },
    );
  }
}

/** Decodes and logs an LSP conversation on a server's stdio (see the file's comment). */
export class LspTap extends ProcessProtocol {
  /** Plain fields (not #private): hot reload keeps instances and their state. */
  private decoders: Partial<Record<Sender, ContentLengthDecoder>> = {};
  private conversation: RpcConversation | null = null;
  /** Directions that stopped being decoded after a framing error. */
  private undecodable = new Set<Sender>();

  /** fd 0: what the client wrote to the server's stdin; fd 1: the server's stdout; fd 2 (its log) is left alone. */
  override childDataReceived(childFD: number, data: Bytes): void {
    const sender: Sender | null = childFD === 0 ? "client" : childFD === 1 ? "server" : null;
    if (sender === null || this.undecodable.has(sender)) return;
    const decoder = (this.decoders[sender] ??= new ContentLengthDecoder());
    const conversation = (this.conversation ??= new RpcConversation(this.log));
    decoder.append(data);
    for (;;) {
      let body: Buffer | typeof NEED_MORE;
      try {
        body = decoder.next();
      } catch (err) {
        if (!(err instanceof FramingError)) throw err;
        this.log.warn("{sender}: {what}: not decoded from here", { sender, what: err.what });
        this.undecodable.add(sender);
        return;
      }
      if (body === NEED_MORE) return;
      const frame = decoder.lastFrame!;
      conversation.messageReceived(sender, body.toString("utf8"), [senderSpan(sender, frame.offset, frame.length)]);
    }
  }
}

export default LspTap;
