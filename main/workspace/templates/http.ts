/**
 * HTTP/1.1 client (RFC 9112): sends `GET /` as soon as it is connected, then reads responses: the status line,
 * the headers, and a body delimited by Content-Length, by chunked transfer coding (RFC 9112 section 7.1), or by
 * the close of the connection. Built on LineReceiver as Twisted's HTTPClient is (twisted.web.http): line mode for
 * the status line, headers and chunk sizes, raw mode for body bytes.
 *
 * Reports each as a decoded message with the bytes it came from: "request {method} {target}" (a request),
 * "response {status} {reason}" with the headers (the response to the oldest request: HTTP/1.1 answers in order),
 * and "body {length} bytes". Send more requests on the same connection with `this.sendRequest("GET", "/other")`;
 * override `responseReceived` to act on whole responses.
 */
import { LineReceiver, type Address, type Bytes, type Span } from "wirescope";

/** A whole response, as `responseReceived` gets it. */
export interface HttpResponse {
  /** "1.1" or "1.0". */
  version: string;
  status: number;
  reason: string;
  /** In the order received; a name may repeat (Set-Cookie). */
  headers: [name: string, value: string][];
  body: Buffer;
  /** Whether the body came in chunked transfer coding. */
  chunked: boolean;
  /** Where the body is in the stream received, its chunked framing included (length 0 for no body). */
  bodySpan: Span;
}

/** Where the parser is in the current response. Body states are raw mode; the others are line mode. */
type ResponseState =
  | "status" // waiting for "HTTP/1.1 200 OK"
  | "headers" // header lines until an empty one
  | "body" // #remaining bytes of a Content-Length body
  | "chunk-size" // a chunk-size line
  | "chunk-data" // #remaining bytes of a chunk
  | "chunk-end" // the CRLF after a chunk's data
  | "trailers" // trailer lines until an empty one
  | "until-close" // a body delimited by the end of the connection
  | "broken"; // the server broke the protocol: ignore the rest

const STATUS_LINE = /^HTTP\/(\d\.\d) (\d{3})(?: (.*))?$/;
const HEADER_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*$/;
const CHUNK_SIZE_LINE = /^([0-9A-Fa-f]{1,8})[ \t]*(?:;.*)?$/;
const UNSAFE = /[\r\n\0]/;
/** How many headers of a response get a field span (the engine keeps at most 256 field spans per message). */
const MAX_HEADER_SPANS = 64;

/** Sends requests and parses the responses, logging each on the connection's timeline. */
export class HttpClient extends LineReceiver {
  /** The largest body kept, in bytes; a bigger one closes the connection. */
  MAX_BODY_LENGTH = 64 * 1024 * 1024;

  #state: ResponseState = "status";
  /** Methods of the requests sent and not yet answered, oldest first: a response to HEAD has no body. */
  readonly #methods: string[] = [];
  #response: Omit<HttpResponse, "body" | "bodySpan"> = emptyResponse();
  #body: Buffer[] = [];
  #bodyLength = 0;
  /** Bytes still expected of the Content-Length body or of the current chunk. */
  #remaining = 0;
  /**
   * How many bytes of the stream received the parser consumed: the offset of the next byte it reads. (The framer's
   * `messageSpan` covers one line or one raw chunk; a response spans many, so the client counts.)
   */
  #consumed = 0;
  /** Where the current response's status line starts, and the spans of its fields (by path) so far. */
  #headStart = 0;
  #fieldSpans: Record<string, Span> = {};
  /** Where the current response's body starts. */
  #bodyStart = 0;
  /**
   * How many bytes `sendRequest` wrote: where the next request starts in what this connection sent. Bytes sent from
   * the app's send box on the same connection are not counted, so requests sent after them show shifted bytes.
   */
  sentBytes = 0;

  /** Called once connected: sends `GET /`. */
  override connectionMade(): void {
    this.sendRequest("GET", "/");
  }

  /**
   * Sends a request. Host (from the peer's address), User-Agent and Accept are added unless given, and
   * Content-Length when there is a body. Throws TypeError, sending nothing, if a part contains CR, LF or NUL.
   */
  sendRequest(method: string, target: string, headers: Record<string, string> = {}, body?: Bytes): void {
    const all: Record<string, string> = {
      Host: hostHeader(this.transport.getPeer()),
      "User-Agent": "Wirescope",
      Accept: "*/*",
      ...headers,
    };
    if (body !== undefined) all["Content-Length"] = String(body.length);
    for (const part of [method, target, ...Object.keys(all), ...Object.values(all)]) {
      if (UNSAFE.test(part)) throw new TypeError(`HTTP request parts may not contain CR, LF or NUL: ${part}`);
    }
    const lines = [`${method} ${target} HTTP/1.1`, ...Object.entries(all).map(([name, value]) => `${name}: ${value}`)];
    const head = Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1");
    const request = body === undefined ? head : Buffer.concat([head, body]);
    this.#methods.push(method.toUpperCase());
    const at = this.sentBytes;
    this.log.message(
      "request {method} {target}",
      { method, target, headers: all },
      {
        spans: [{ dir: "out", offset: at, length: request.length }],
        fieldSpans: {
          method: [0, Buffer.byteLength(method, "latin1")],
          target: [method.length + 1, Buffer.byteLength(target, "latin1")],
        },
        request: true,
      },
    );
    this.sentBytes += request.length;
    this.transport.write(request);
  }

  /** Called with each line in line mode: the status line, headers, chunk sizes, trailers. */
  override lineReceived(line: Buffer): void {
    const text = line.toString("latin1");
    const at = this.#consumed;
    this.#consumed += line.length + this.delimiter.length;
    switch (this.#state) {
      case "status":
        return this.#statusLine(text, at);
      case "headers":
        return this.#headerLine(text, at);
      case "chunk-size":
        return this.#chunkSizeLine(text);
      case "chunk-end":
        return this.#chunkEndLine(text);
      case "trailers":
        return text === "" ? this.#finish() : undefined; // trailer fields are ignored
      default:
        return undefined;
    }
  }

  /** Called with body bytes in raw mode; hands the bytes after the body or chunk back to line mode. */
  override rawDataReceived(data: Buffer): void {
    if (this.#state === "until-close") {
      this.#consumed += data.length;
      return void this.#addBody(data);
    }
    if (this.#state !== "body" && this.#state !== "chunk-data") return undefined;
    const take = Math.min(this.#remaining, data.length);
    this.#consumed += take;
    if (!this.#addBody(data.subarray(0, take))) return undefined;
    this.#remaining -= take;
    if (this.#remaining > 0) return undefined;
    if (this.#state === "body") this.#finish();
    else this.#state = "chunk-end";
    this.setLineMode(data.subarray(take));
  }

  /** `HTTP/1.1 200 OK`. Empty lines before it are ignored (RFC 9112 section 2.2). */
  #statusLine(text: string, at: number): void {
    if (text === "") return;
    const match = STATUS_LINE.exec(text);
    if (match === null) return this.#protocolError(`a bad status line ${JSON.stringify(text)}`);
    this.#response = { ...emptyResponse(), version: match[1]!, status: Number(match[2]), reason: match[3] ?? "" };
    this.#headStart = at;
    // "HTTP/1.1 " is 9 bytes, the status 3, then a space and the reason.
    this.#fieldSpans = { status: { dir: "in", offset: at + 9, length: 3 } };
    if (match[3]) this.#fieldSpans["reason"] = { dir: "in", offset: at + 13, length: match[3].length };
    this.#state = "headers";
  }

  /** `Name: value`, until the empty line that ends the headers. */
  #headerLine(text: string, at: number): void {
    if (text === "") return this.#headersReceived();
    const match = HEADER_LINE.exec(text);
    if (match === null) return this.#protocolError(`a bad header line ${JSON.stringify(text)}`);
    const name = match[1]!;
    const value = match[2]!;
    const index = this.#response.headers.length;
    if (index < MAX_HEADER_SPANS) {
      const valueStart = name.length + 1 + /^[ \t]*/.exec(text.slice(name.length + 1))![0].length;
      this.#fieldSpans[`headers.${index}.1`] = { dir: "in", offset: at + valueStart, length: value.length };
    }
    this.#response.headers.push([name, value]);
  }

  /**
   * Reports the response's head and decides how the body is delimited (RFC 9112 section 6.3). An interim (1xx)
   * response answers no request: the final one does.
   */
  #headersReceived(): void {
    const { version, status, reason, headers } = this.#response;
    const interim = status >= 100 && status < 200 && status !== 101;
    this.#bodyStart = this.#consumed;
    this.log.message(
      "response {status} {reason}",
      { version, status, reason, headers },
      {
        spans: [{ dir: "in", offset: this.#headStart, length: this.#consumed - this.#headStart }],
        fieldSpans: this.#fieldSpans,
        ...(interim ? {} : { response: true as const }),
      },
    );
    if (interim) {
      this.#state = "status"; // an interim response: the real one follows
      return;
    }
    const transferEncoding = this.#header("transfer-encoding");
    const contentLength = this.#header("content-length");
    if (this.#methods[0] === "HEAD" || status === 204 || status === 304) return this.#finish();
    if (transferEncoding !== undefined && /(?:^|,)\s*chunked\s*$/i.test(transferEncoding)) {
      this.#response.chunked = true;
      this.#state = "chunk-size";
    } else if (contentLength !== undefined) {
      if (!/^\d{1,15}$/.test(contentLength)) return this.#protocolError(`a bad Content-Length ${contentLength}`);
      this.#remaining = Number(contentLength);
      if (this.#remaining > this.MAX_BODY_LENGTH) return this.#protocolError("a body over MAX_BODY_LENGTH");
      if (this.#remaining === 0) return this.#finish();
      this.#state = "body";
      this.setRawMode();
    } else {
      this.#state = "until-close";
      this.setRawMode();
    }
  }

  /** `1a2b` (hex), maybe with extensions; 0 starts the trailers. */
  #chunkSizeLine(text: string): void {
    const match = CHUNK_SIZE_LINE.exec(text);
    if (match === null) return this.#protocolError(`a bad chunk size line ${JSON.stringify(text)}`);
    const size = parseInt(match[1]!, 16);
    if (size === 0) {
      this.#state = "trailers";
      return;
    }
    this.#remaining = size;
    this.#state = "chunk-data";
    this.setRawMode();
  }

  /** The empty line after a chunk's data. */
  #chunkEndLine(text: string): void {
    if (text !== "") return this.#protocolError("chunk data longer than its chunk size");
    this.#state = "chunk-size";
  }

  /** Keeps body bytes; false (and closes) past MAX_BODY_LENGTH. */
  #addBody(data: Buffer): boolean {
    if (this.#bodyLength + data.length > this.MAX_BODY_LENGTH) {
      this.#protocolError("a body over MAX_BODY_LENGTH");
      return false;
    }
    this.#body.push(data);
    this.#bodyLength += data.length;
    return true;
  }

  /** The response is complete: hand it over and get ready for the next one. */
  #finish(): void {
    const bodySpan: Span = { dir: "in", offset: this.#bodyStart, length: this.#consumed - this.#bodyStart };
    const response: HttpResponse = { ...this.#response, body: Buffer.concat(this.#body), bodySpan };
    this.#methods.shift();
    this.#body = [];
    this.#bodyLength = 0;
    this.#state = "status";
    this.responseReceived(response);
  }

  /** The last value of a header, by case-insensitive name. */
  #header(name: string): string | undefined {
    return this.#response.headers.findLast(([key]) => key.toLowerCase() === name)?.[1];
  }

  #protocolError(what: string): void {
    this.log.error("not HTTP/1.1: the server sent {what}; closing", { what });
    this.#state = "broken";
    this.transport.loseConnection();
  }

  /**
   * Called with each complete response, in order. The default reports the body as a message: its length, its first
   * KiB as text, and its bytes (chunked framing included). Override it to act on responses.
   */
  responseReceived(response: HttpResponse): void {
    const { body, status, chunked, bodySpan } = response;
    const preview = body.toString("utf8", 0, Math.min(body.length, 1024));
    const spans = bodySpan.length === 0 ? [] : [bodySpan];
    this.log.message("body {length} bytes", { length: body.length, status, chunked, preview }, { spans });
  }

  /** Called when the connection is gone: a body delimited by the close is complete now. */
  override connectionLost(reason: Error): void {
    if (this.#state === "until-close") this.#finish();
    else if (this.#state !== "status" && this.#state !== "broken")
      this.log.warn("the connection closed in the middle of a response");
    super.connectionLost(reason);
  }
}

/** The Host header for the peer we are connected to (RFC 9110 section 7.2). */
function hostHeader(peer: Address): string {
  if (peer.family !== "IPv4" && peer.family !== "IPv6") return "localhost";
  const host = peer.family === "IPv6" ? `[${peer.host}]` : peer.host;
  return peer.port === 80 ? host : `${host}:${peer.port}`;
}

function emptyResponse(): Omit<HttpResponse, "body" | "bodySpan"> {
  return { version: "1.1", status: 0, reason: "", headers: [], chunked: false };
}

export default HttpClient;
