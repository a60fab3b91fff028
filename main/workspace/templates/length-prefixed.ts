/**
 * Length-prefixed messages: each one preceded by its length as a 4-byte big-endian unsigned integer
 * (twisted.protocols.basic.Int32StringReceiver), the framing of many binary protocols.
 *
 * Each message is reported on the connection's timeline as a decoded message, tied to its bytes, and sent back in
 * a frame of its own. Lengths above `MAX_LENGTH` close the connection as soon as their prefix arrives. For 2- or
 * 1-byte prefixes extend Int16StringReceiver or Int8StringReceiver instead.
 */
import { Int32StringReceiver } from "wirescope";

/** Reports each message and echoes it, framed. */
export class LengthPrefixedProtocol extends Int32StringReceiver {
  /** The largest message accepted, in bytes. */
  override MAX_LENGTH = 1024 * 1024;

  /** Called with each complete message, prefix removed. */
  override stringReceived(message: Buffer): void {
    // A decoded message: the framer ties it to its bytes (prefix included).
    this.log.message("message {message} ({length} bytes)", { message, length: message.length });
    this.sendString(message);
  }
}

export default LengthPrefixedProtocol;
