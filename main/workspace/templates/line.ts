/**
 * Line-based: one message per line, ended by "\r\n" (twisted.protocols.basic.LineReceiver), the framing of SMTP,
 * IRC, POP3, memcached's text protocol and many home-made ones.
 *
 * Each line is reported on the connection's timeline as a decoded message, tied to its bytes, and answered with
 * "you said: <line>". Change `delimiter` for "\n"-only peers, `MAX_LENGTH` for longer lines, and `lineReceived`
 * for your protocol's logic.
 */
import { LineReceiver } from "wirescope";

/** Reports each line and answers it. */
export class LineProtocol extends LineReceiver {
  /** The line ending sent and split on. For "\n"-only peers: `override delimiter = Buffer.from("\n");` */
  override delimiter = Buffer.from("\r\n");

  /** Called with each complete line, without its delimiter. */
  override lineReceived(line: Buffer): void {
    const text = line.toString("utf8");
    this.log.message("line {line}", { line: text }); // a message: its bytes are the line and its delimiter
    this.sendLine(Buffer.from(`you said: ${text}`, "utf8"));
  }
}

export default LineProtocol;
