/**
 * A tap for a proxy in front of an SMTP server: forwards every byte unchanged, logs each command the client sends
 * ("command MAIL FROM:<a@example.org>") and each reply the server sends ("reply 250 OK", a multi-line reply as one),
 * each reported as a decoded message with its bytes (a command is a request, the reply answering it in order its
 * response), and follows STARTTLS: right after forwarding the server's "220" that answers it, the proxied connection is
 * upgraded, and everything after — AUTH, MAIL, RCPT, DATA — is logged in plaintext.
 *
 * Run it on both legs of a proxy in STARTTLS mode (upstream `tcp:host=127.0.0.1:port=25`): the proxy runs
 * `ClientLeg` on the client-facing leg (it receives commands) and `ServerLeg` on the upstream leg (it receives
 * replies). On a proxy leg, `this.transport.write()` sends to the other side, and `this.transport.startTLS()`
 * upgrades the pair: the client then speaks TLS to Wirescope (a certificate from Wirescope's CA, or the session's
 * own), Wirescope speaks TLS to the server, and both legs go on receiving plaintext.
 *
 * SMTP: RFC 5321 (commands, replies: section 4.2), STARTTLS: RFC 3207.
 */
import { deliverMessage, LineReceiver, type Bytes, type ITLSTransport, type Span, type TLSInfo } from "wirescope";

/** Decodes one direction of an SMTP conversation, line by line, after forwarding the bytes unchanged. */
export class SmtpTap extends LineReceiver {
  declare transport: ITLSTransport;
  /** Longer than any line RFC 5321 allows (1,000 bytes): a longer one stops the decoding, not the forwarding. */
  override MAX_LENGTH = 64 * 1024;
  /** Set once a line was too long: from then on bytes are only forwarded. */
  private undecodable = false;

  /** Called with each chunk this leg receives: forward it first (the tap never holds bytes back), then decode. */
  override dataReceived(data: Bytes): unknown {
    this.transport.write(data);
    return this.undecodable ? undefined : super.dataReceived(data);
  }

  override lineLengthExceeded(): void {
    this.log.warn("a line over {max} bytes: forwarding without decoding from here", { max: this.MAX_LENGTH });
    this.undecodable = true;
  }

  /** Called once the upgraded connection's handshake is done (on both legs). */
  handshakeCompleted(info: TLSInfo): void {
    this.log.info("TLS {version} {cipher}", { version: info.version, cipher: info.cipher });
  }
}

/** A message the client is sending after DATA, so far. */
interface MessageSoFar {
  lines: number;
  bytes: number;
  subject: string | null;
  /** The bytes of its first line, once it came. */
  first: Span | null;
}

/** The bytes from the start of `first` to the end of `last` (spans of one stream); null if either is unknown. */
function spanning(first: Span | null, last: Span | null): Span | null {
  return first && last ? { ...first, length: last.offset + last.length - first.offset } : null;
}

/** What the proxy runs on its client-facing leg: decodes the client's commands and the message it sends. */
export class ClientLeg extends SmtpTap {
  /** Between DATA and the line "." the client sends a message, not commands (RFC 5321 section 4.1.1.4). */
  private message: MessageSoFar | null = null;

  /** Called with each line: a command (a request the server's next reply answers), or a line of a message. */
  override lineReceived(line: Buffer): void {
    const text = line.toString("utf8");
    if (this.message !== null) {
      this.messageLine(this.message, text);
      return;
    }
    const space = text.indexOf(" ");
    const verb = space === -1 ? text : text.slice(0, space);
    const command = verb.toUpperCase();
    const args = space === -1 ? "" : text.slice(space + 1);
    this.log.message(
      args === "" ? "command {command}" : "command {command} {args}",
      { command, args },
      { fieldSpans: { command: [0, Buffer.byteLength(verb)] }, request: true },
    );
    if (command === "DATA") this.message = { lines: 0, bytes: 0, subject: null, first: null };
  }

  /**
   * A line of the message; the line "." ends it, and the message is reported with all its bytes, a request the
   * server's reply answers. (The tap does not see the server's answer to DATA: if it refuses with 554 instead of
   * 354, the client's next command is counted as a message line.)
   */
  private messageLine(message: MessageSoFar, text: string): void {
    message.first ??= this.messageSpan;
    if (text !== ".") {
      message.lines += 1;
      message.bytes += Buffer.byteLength(text) + 2;
      if (message.subject === null && /^subject:/i.test(text)) message.subject = text.slice(8).trim();
      return;
    }
    const { lines, bytes, subject } = message;
    const whole = spanning(message.first, this.messageSpan);
    this.log.message(
      "message of {lines} lines, {bytes} bytes: {subject}",
      { lines, bytes, subject },
      { spans: whole ? [whole] : [], request: true },
    );
    this.message = null;
  }
}

/** What the proxy runs on its upstream leg: decodes the server's replies, and upgrades on STARTTLS's go-ahead. */
export class ServerLeg extends SmtpTap {
  /** The lines of a multi-line reply so far ("250-..."), joined when its last line ("250 ...") arrives. */
  private pending: string[] = [];
  /** The bytes of the first line of the reply being received. */
  private replyStart: Span | null = null;
  /** Whether the server's greeting (its first 220) has been seen. */
  private greeted = false;

  /** Called with each line: gathers a multi-line reply, and hands on each whole reply with all its bytes. */
  override lineReceived(line: Buffer): void {
    const text = line.toString("utf8");
    // "250-first", "250-second", "250 last": a hyphen after the code means more lines follow (section 4.2.1).
    if (this.pending.length === 0) this.replyStart = this.messageSpan;
    this.pending.push(text.slice(4));
    if (text[3] === "-") return;
    const code = Number(text.slice(0, 3));
    const lines = this.pending;
    this.pending = [];
    // While replyReceived runs, the message being delivered is the whole reply, not only its last line.
    const reply = spanning(this.replyStart, this.messageSpan);
    if (reply === null) this.replyReceived(code, lines.join("\n"));
    else deliverMessage(this, reply, () => this.replyReceived(code, lines.join("\n")));
  }

  /**
   * Called with each complete reply (`messageSpan` is its bytes). The default reports it, "reply 250 OK", as the
   * answer to the oldest command (the greeting answers none), and follows STARTTLS.
   */
  replyReceived(code: number, text: string): void {
    const greeting = code === 220 && !this.greeted;
    this.log.message("reply {code} {text}", { code, text }, greeting ? {} : { response: true });
    if (code !== 220) return;
    // A 220 is the greeting, or the go-ahead for STARTTLS (RFC 3207 section 4): it was forwarded already, so
    // the client reads it in clear; the TLS handshakes come next, client to Wirescope and Wirescope to the server.
    if (this.greeted) this.transport.startTLS();
    this.greeted = true;
  }
}

export default SmtpTap;
