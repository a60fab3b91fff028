/**
 * Reads a TLS ClientHello from the first bytes a client sends (RFC 8446 §4.1.2), before any TLS layer sees them:
 * the proxy needs the name the client asks for (SNI) and its ALPN list to open the upstream's TLS first, and every
 * accepted connection turning TLS gets a clear error for a client that does not speak TLS at all.
 *
 * The parsing is HTTP Toolkit's `read-tls-client-hello`, fed through a PassThrough the bytes are written into; this
 * module keeps every byte it was given (they go back to the TLS layer afterwards) and bounds them.
 */
import { PassThrough } from "node:stream";
import { getExtensionData, NonTlsError, readTlsClientHello } from "read-tls-client-hello";

/** The most a ClientHello may take: one TLS record's payload (2^14 bytes, RFC 8446 §5.1) and its 5-byte header. */
export const MAX_CLIENT_HELLO_BYTES = 16 * 1024 + 5;

/** What the client's ClientHello asked for, and every byte it sent until then. */
export interface ClientHello {
  /** The server name it asked for (SNI), or null when it sent none. */
  servername: string | null;
  /** The ALPN protocols it offered, in its order; empty when it offered none. */
  alpn: string[];
  /** Its 32-byte random, which names the connection's secrets in a key log (SSLKEYLOGFILE). */
  random: Buffer;
  /** Every byte it sent, the ClientHello first: what the TLS layer must be given to read. */
  bytes: Buffer;
}

/** The bytes a client sent are not a TLS ClientHello; `code` says why ("not-tls", "too-large", "closed"). */
export class ClientHelloError extends Error {
  constructor(
    readonly code: "not-tls" | "too-large" | "closed",
    message: string,
  ) {
    super(message);
    this.name = "ClientHelloError";
  }
}

/** The error of a connection that closed before its client sent a whole ClientHello. */
export function closedBeforeHello(): ClientHelloError {
  return new ClientHelloError("closed", "the client closed the connection before sending a ClientHello");
}

/** The error of a client that sent more than MAX_CLIENT_HELLO_BYTES before its handshake could start. */
export function tooLarge(size: number): ClientHelloError {
  return new ClientHelloError(
    "too-large",
    `the client sent ${size.toLocaleString("en-US")} bytes before the TLS handshake (at most ` +
      `${MAX_CLIENT_HELLO_BYTES.toLocaleString("en-US")}, a whole ClientHello): it does not speak TLS`,
  );
}

/** How much of a plain-text client's first bytes an error quotes. */
const QUOTED_CHARS = 40;

/** "'GET / HTTP/1.1'" for text (its first line), "bytes 00 01 02 ..." for anything else. */
function quote(bytes: Buffer): string {
  const firstLine = bytes.subarray(0, QUOTED_CHARS).toString("latin1").split(/\r?\n/)[0] ?? "";
  if (firstLine !== "" && /^[\x20-\x7e\t]+$/.test(firstLine)) return `'${firstLine}'`;
  return `bytes ${bytes
    .subarray(0, 8)
    .toString("hex")
    .replace(/(..)(?!$)/g, "$1 ")}`;
}

/**
 * Collects a client's first bytes until they hold a whole ClientHello. The owner (the connection's TLS stage)
 * calls `feed` with each chunk that arrives and `closed` if the connection goes first; `hello` settles once:
 * resolved with the ClientHello, or rejected with a ClientHelloError — for bytes that are not TLS at once, past
 * MAX_CLIENT_HELLO_BYTES, or when the connection closed before the hello was whole.
 */
export class ClientHelloReader {
  readonly hello: Promise<ClientHello>;
  private readonly chunks: Buffer[] = [];
  private length = 0;
  private readonly input = new PassThrough();
  private settled = false;
  private resolveHello!: (hello: ClientHello) => void;
  private rejectHello!: (err: ClientHelloError) => void;

  constructor() {
    this.hello = new Promise<ClientHello>((resolve, reject) => {
      this.resolveHello = resolve;
      this.rejectHello = reject;
    });
    // Whoever reads `hello` may do so later; a rejection is never an unhandled one meanwhile.
    this.hello.catch(() => {});
    readTlsClientHello(this.input).then(
      (parsed) => {
        const alpn = getExtensionData(parsed, "application_layer_protocol_negotiation")?.protocols ?? [];
        const servername = getExtensionData(parsed, "server_name")?.serverName ?? null;
        this.settle(() => this.resolveHello({ servername, alpn, random: parsed.random, bytes: this.bytes() }));
      },
      (err: unknown) => {
        const what =
          err instanceof NonTlsError
            ? `the client sent ${quote(this.bytes())}: it speaks plain text, not TLS`
            : `the client's first bytes are not a valid TLS ClientHello (${err instanceof Error ? err.message : String(err)})`;
        this.fail(new ClientHelloError("not-tls", what));
      },
    );
  }

  /** Every byte given so far, in order. */
  bytes(): Buffer {
    return Buffer.concat(this.chunks, this.length);
  }

  /** How many bytes were given so far. */
  get size(): number {
    return this.length;
  }

  /**
   * Bytes arrived from the client. After the hello is settled they are only kept (for the TLS layer); the owner
   * checks `size` against MAX_CLIENT_HELLO_BYTES then, as this reader does before.
   */
  feed(chunk: Uint8Array): void {
    const data = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.chunks.push(data);
    this.length += data.byteLength;
    if (this.settled) return;
    if (this.length > MAX_CLIENT_HELLO_BYTES) {
      this.fail(tooLarge(this.length));
      return;
    }
    this.input.write(data);
  }

  /** The connection closed (or is closing) before the hello was whole. */
  closed(): void {
    this.fail(closedBeforeHello());
  }

  private fail(err: ClientHelloError): void {
    this.settle(() => this.rejectHello(err));
  }

  private settle(then: () => void): void {
    if (this.settled) return;
    this.settled = true;
    this.input.destroy();
    then();
  }
}
