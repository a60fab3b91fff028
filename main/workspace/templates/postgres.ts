/**
 * A tap for a proxy in front of PostgreSQL: forwards every byte unchanged and logs what passes, decoded — the
 * client's startup (SSLRequest, the StartupMessage's parameters), then each message by its type byte: the client's
 * queries ("Query SELECT 1"), the server's rows ("RowDescription ?column?", "DataRow 1 column"), command tags
 * ("CommandComplete SELECT 1"), errors with their fields, and ReadyForQuery's transaction status.
 *
 * Run it on both legs of a proxy in STARTTLS mode (upstream `tcp:host=127.0.0.1:port=5432`): the proxy runs
 * `ClientLeg` on the client-facing leg and `ServerLeg` on the upstream leg. When the client asks for TLS
 * (SSLRequest) and the server agrees ('S'), ServerLeg forwards the 'S' and calls `this.transport.startTLS()`:
 * the client then speaks TLS to Wirescope, Wirescope to the server, and the legs go on receiving plaintext. Use
 * `sslmode=require` in the client (or trust Wirescope's CA for `verify-full`).
 *
 * The protocol: https://www.postgresql.org/docs/current/protocol-flow.html and protocol-message-formats.html.
 */
import { deliverMessage, Protocol, type Bytes, type ITLSTransport, type TLSInfo } from "wirescope";

/** The codes of the untyped messages a client may open with, in place of a type byte. */
const REQUESTS: Readonly<Record<number, string>> = {
  80877103: "SSLRequest",
  80877104: "GSSENCRequest",
  80877102: "CancelRequest",
  196608: "StartupMessage", // protocol 3.0
};

/** Message names by type byte, for each sender (protocol-message-formats.html). */
const NAMES = {
  client: {
    Q: "Query",
    P: "Parse",
    B: "Bind",
    E: "Execute",
    D: "Describe",
    C: "Close",
    S: "Sync",
    H: "Flush",
    X: "Terminate",
    p: "PasswordMessage",
    F: "FunctionCall",
    d: "CopyData",
    c: "CopyDone",
    f: "CopyFail",
  },
  server: {
    R: "Authentication",
    S: "ParameterStatus",
    K: "BackendKeyData",
    Z: "ReadyForQuery",
    T: "RowDescription",
    D: "DataRow",
    C: "CommandComplete",
    E: "ErrorResponse",
    N: "NoticeResponse",
    "1": "ParseComplete",
    "2": "BindComplete",
    "3": "CloseComplete",
    n: "NoData",
    I: "EmptyQueryResponse",
    t: "ParameterDescription",
    s: "PortalSuspended",
    v: "NegotiateProtocolVersion",
    A: "NotificationResponse",
    G: "CopyInResponse",
    H: "CopyOutResponse",
    W: "CopyBothResponse",
    d: "CopyData",
    c: "CopyDone",
  },
} as const satisfies Record<"client" | "server", Record<string, string>>;

/** ErrorResponse / NoticeResponse field names by their code byte (protocol-error-fields.html). */
const ERROR_FIELDS: Readonly<Record<string, string>> = {
  S: "severity",
  V: "severityNonLocalized",
  C: "code",
  M: "message",
  D: "detail",
  H: "hint",
  P: "position",
  p: "internalPosition",
  q: "internalQuery",
  W: "where",
  s: "schema",
  t: "table",
  c: "column",
  d: "dataType",
  n: "constraint",
  F: "file",
  L: "line",
  R: "routine",
};

/** ReadyForQuery's transaction status byte. */
const TRANSACTION_STATUS: Readonly<Record<string, string>> = {
  I: "idle",
  T: "in a transaction",
  E: "in a failed transaction",
};

/** The longest message decoded: a longer one (a huge row, a COPY chunk) is forwarded and skipped, not buffered. */
const MAX_DECODED_LENGTH = 1024 * 1024;

/** Authentication's methods by code. */
const AUTH_METHODS: Readonly<Record<number, string>> = {
  0: "ok",
  3: "cleartext password",
  5: "MD5 password",
  10: "SASL",
  11: "SASL continue",
  12: "SASL final",
};

/** Reads a message body: big-endian integers and NUL-terminated strings, from a moving offset. */
export class BodyReader {
  private at = 0;
  constructor(private readonly body: Buffer) {}

  get left(): number {
    return this.body.length - this.at;
  }
  int16(): number {
    const value = this.body.readInt16BE(this.at);
    this.at += 2;
    return value;
  }
  int32(): number {
    const value = this.body.readInt32BE(this.at);
    this.at += 4;
    return value;
  }
  byte(): string {
    return String.fromCharCode(this.body[this.at++]!);
  }
  bytes(length: number): Buffer {
    const value = this.body.subarray(this.at, this.at + length);
    this.at += length;
    return value;
  }
  cstring(): string {
    const end = this.body.indexOf(0, this.at);
    const value = this.body.toString("utf8", this.at, end === -1 ? this.body.length : end);
    this.at = end === -1 ? this.body.length : end + 1;
    return value;
  }
}

/** Decodes one direction of a PostgreSQL connection, after forwarding the bytes unchanged. */
export class PostgresTap extends Protocol {
  declare transport: ITLSTransport;
  /** Who sends what this leg receives: "client" (frontend messages) or "server" (backend messages). */
  sender: "client" | "server" = "client";
  /** The client's first messages have no type byte; the server's first byte may answer an SSLRequest. */
  private phase: "startup" | "messages" = "startup";
  /** Bytes received and not decoded yet: `buffer` from `offset` on. Plain fields: hot reload keeps instances. */
  private buffer = Buffer.alloc(0);
  private offset = 0;
  /** Where `buffer[0]` is in the stream received: how many bytes came before it. */
  private bufferOffset = 0;
  /** Bytes of a message too long to decode that are still to come (skipped). */
  private skipping = 0;
  /** Set once the bytes made no sense: from then on they are only forwarded. */
  private undecodable = false;

  /** Called with each chunk this leg receives: forward it first (the tap never holds bytes back), then decode. */
  override dataReceived(data: Bytes): void {
    this.transport.write(data);
    if (this.undecodable) return;
    const rest = this.buffer.subarray(this.offset);
    this.bufferOffset += this.offset;
    this.buffer = rest.length === 0 ? Buffer.from(data) : Buffer.concat([rest, data]);
    this.offset = 0;
    while (!this.undecodable && this.step()) {
      // each step decodes one message, or returns false for "need more bytes"
    }
  }

  /** Decodes the next message if it is all there; false when more bytes are needed. */
  private step(): boolean {
    const available = this.buffer.length - this.offset;
    if (this.skipping > 0) {
      const skipped = Math.min(this.skipping, available);
      this.skipping -= skipped;
      this.offset += skipped;
      return this.skipping === 0 && available > skipped;
    }
    if (this.phase === "startup") return this.sender === "client" ? this.startupRequest() : this.startupAnswer();
    return this.typedMessage();
  }

  /** A client's untyped message: Int32 length (itself included), Int32 code, the rest. */
  private startupRequest(): boolean {
    const at = this.offset;
    if (this.buffer.length - at < 8) return false;
    const length = this.buffer.readInt32BE(at);
    if (length < 8 || length > MAX_DECODED_LENGTH) return this.giveUp(`a startup message of ${length} bytes`);
    if (this.buffer.length - at < length) return false;
    const body = new BodyReader(this.buffer.subarray(at + 8, at + length));
    const code = this.buffer.readInt32BE(at + 4);
    this.offset += length;
    const name = REQUESTS[code] ?? `startup request ${code}`;
    this.delivering(at, length, () => {
      if (name === "StartupMessage") {
        const parameters: Record<string, string> = {};
        for (let key = body.cstring(); key !== ""; key = body.cstring()) parameters[key] = body.cstring();
        const fields = { type: name, ...parameters, parameters };
        this.log.message("StartupMessage user={user} database={database}", fields, { request: true });
        this.phase = "messages";
      } else if (name === "CancelRequest") {
        this.log.message("CancelRequest for backend {pid}", { type: name, pid: body.int32() });
      } else {
        // SSLRequest, GSSENCRequest: the server's one-byte answer pairs with it.
        this.log.message(name, { type: name }, { request: true });
      }
    });
    return true;
  }

  /**
   * Runs `report` with `messageSpan` set to `buffer[at, at + length)` in the stream received, so that what it
   * reports with `log.message` is tied to those bytes.
   */
  private delivering(at: number, length: number, report: () => void): void {
    deliverMessage(this, { dir: "in", offset: this.bufferOffset + at, length }, report);
  }

  /** The server's first byte: 'S' or 'N' answers an SSLRequest (or a GSSENCRequest), else messages begin. */
  private startupAnswer(): boolean {
    const at = this.offset;
    const answer = String.fromCharCode(this.buffer[at]!);
    if (answer === "S") {
      this.offset += 1;
      this.delivering(at, 1, () =>
        this.log.message("SSL accepted: upgrading the connection", { type: "SSLResponse", answer }, { response: true }),
      );
      // The 'S' was forwarded already, so the client reads it in clear; the TLS handshakes come next.
      this.transport.startTLS();
      return true;
    }
    if (answer === "N") {
      this.offset += 1; // Refused: the client goes on in plaintext (or asks for SSL after GSSAPI was refused).
      this.delivering(at, 1, () =>
        this.log.message(
          "SSL refused: the connection stays plaintext",
          { type: "SSLResponse", answer },
          { response: true },
        ),
      );
      return true;
    }
    if (answer === "G") return this.giveUp("GSSAPI encryption, which this tap cannot follow");
    this.phase = "messages";
    return true;
  }

  /** A message with a type byte: Byte1 type, Int32 length (itself included), the body. */
  private typedMessage(): boolean {
    const at = this.offset;
    if (this.buffer.length - at < 5) return false;
    const type = String.fromCharCode(this.buffer[at]!);
    const length = this.buffer.readInt32BE(at + 1);
    if (length < 4) return this.giveUp(`a message '${type}' with a length of ${length}`);
    const names: Readonly<Record<string, string>> = NAMES[this.sender];
    const name = names[type] ?? `message '${type}'`;
    if (length > MAX_DECODED_LENGTH) {
      this.delivering(at, 1 + length, () =>
        this.log.message("{type} of {length} bytes: forwarded, not decoded", { type: name, length }),
      );
      this.skipping = 1 + length;
      return true;
    }
    if (this.buffer.length - at < 1 + length) return false;
    const body = new BodyReader(this.buffer.subarray(at + 5, at + 1 + length));
    this.offset += 1 + length;
    this.delivering(at, 1 + length, () => {
      if (this.sender === "client") this.clientMessage(name, body);
      else this.serverMessage(name, body);
    });
    return true;
  }

  /**
   * Called with each message the client sent after its startup (`messageSpan` is its bytes). Reports each as a
   * decoded message, the ones worth reading in words; a Query or a Sync is a request the server's next
   * ReadyForQuery answers.
   */
  clientMessage(type: string, body: BodyReader): void {
    switch (type) {
      case "Query": {
        const sql = body.cstring();
        this.log.message(
          "Query {sql}",
          { type, sql },
          { fieldSpans: { sql: [5, Buffer.byteLength(sql)] }, request: true },
        );
        return;
      }
      case "Parse": {
        const statement = body.cstring();
        this.log.message("Parse {sql}", { type, statement, sql: body.cstring() });
        return;
      }
      case "PasswordMessage":
        this.log.message("PasswordMessage ({length} bytes, not shown)", { type, length: body.left });
        return;
      case "Sync":
        this.log.message(type, { type, length: body.left }, { request: true });
        return;
      default:
        this.log.message(type, { type, length: body.left });
    }
  }

  /**
   * Called with each message the server sent (`messageSpan` is its bytes). Reports each as a decoded message, the
   * ones worth reading in words; ReadyForQuery answers the client's StartupMessage, Query or Sync, in order.
   */
  serverMessage(type: string, body: BodyReader): void {
    switch (type) {
      case "Authentication": {
        const code = body.int32();
        const mechanisms: string[] = [];
        if (code === 10) for (let m = body.cstring(); m !== ""; m = body.cstring()) mechanisms.push(m);
        const method = AUTH_METHODS[code] ?? `code ${code}`;
        const format = mechanisms.length > 0 ? "Authentication {method}: {mechanisms}" : "Authentication {method}";
        this.log.message(format, { type, method, mechanisms: mechanisms.join(" ") });
        return;
      }
      case "ParameterStatus": {
        const name = body.cstring();
        this.log.message("ParameterStatus {name}={value}", { type, name, value: body.cstring() });
        return;
      }
      case "RowDescription": {
        const fields: { name: string; typeOid: number }[] = [];
        for (let count = body.int16(); count > 0; count--) {
          const name = body.cstring();
          body.bytes(6); // table OID, column number
          fields.push({ name, typeOid: body.int32() });
          body.bytes(8); // type size, type modifier, format code
        }
        this.log.message("RowDescription {names}", { type, names: fields.map((f) => f.name).join(", "), fields });
        return;
      }
      case "DataRow": {
        const values: (string | null)[] = [];
        for (let count = body.int16(); count > 0; count--) {
          const length = body.int32();
          values.push(length === -1 ? null : body.bytes(length).toString("utf8"));
        }
        const columns = values.length === 1 ? "1 column" : `${values.length} columns`;
        this.log.message("DataRow {columns}", { type, columns, count: values.length, values });
        return;
      }
      case "CommandComplete":
        this.log.message("CommandComplete {tag}", { type, tag: body.cstring() });
        return;
      case "ErrorResponse":
      case "NoticeResponse": {
        const fields: Record<string, string> = {};
        while (body.left > 0) {
          const code = body.byte();
          if (code === "\0") break;
          fields[ERROR_FIELDS[code] ?? code] = body.cstring();
        }
        this.log.message("{type} {severity} {code}: {message}", { type, ...fields });
        return;
      }
      case "ReadyForQuery": {
        const status = body.byte();
        const fields = { type, status: TRANSACTION_STATUS[status] ?? status };
        this.log.message("ReadyForQuery {status}", fields, { response: true });
        return;
      }
      default:
        this.log.message(type, { type, length: body.left });
    }
  }

  /** Called once the upgraded connection's handshake is done (on both legs). */
  handshakeCompleted(info: TLSInfo): void {
    this.log.info("TLS {version} {cipher}", { version: info.version, cipher: info.cipher });
  }

  /** Stops decoding (the bytes are still forwarded) and says why. Returns false: nothing more to decode. */
  private giveUp(what: string): boolean {
    this.log.warn("not PostgreSQL as expected ({what}): forwarding without decoding from here", { what });
    this.undecodable = true;
    return false;
  }
}

/** What the proxy runs on its client-facing leg: the bytes it receives are the client's messages. */
export class ClientLeg extends PostgresTap {
  override sender = "client" as const;
}

/** What the proxy runs on its upstream leg: the bytes it receives are the server's, and it follows SSLRequest. */
export class ServerLeg extends PostgresTap {
  override sender = "server" as const;
}

export default PostgresTap;
