/**
 * Netstrings: `<length>:<data>,` (https://cr.yp.to/proto/netstrings.txt; twisted.protocols.basic.NetstringReceiver).
 *
 * Each netstring is reported on the connection's timeline as a decoded message, tied to its bytes, and sent back as
 * a netstring. A malformed one (no length, leading zeros, no comma, longer than `MAX_LENGTH`) is logged and closes
 * the connection.
 */
import { NetstringReceiver } from "wirescope";

/** Reports each netstring and echoes it. */
export class NetstringProtocol extends NetstringReceiver {
  /** The longest string accepted, in bytes. */
  override MAX_LENGTH = 99999;

  /** Called with each complete netstring's data. */
  override stringReceived(data: Buffer): void {
    // A decoded message: the framer ties it to its bytes (`<length>:` and `,` included).
    this.log.message("netstring {data} ({length} bytes)", { data, length: data.length });
    this.sendString(data);
  }
}

export default NetstringProtocol;
