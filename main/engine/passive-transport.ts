/**
 * The transport of a protocol run as a passive decoder (decode.ts): it looks like a connection to the protocol, but
 * no socket is behind it and nothing is sent anywhere. What the protocol would have done with a real connection —
 * write bytes, close, half-close, abort — is reported to its owner, which shows it on the decode's timeline.
 */
import { BaseTCPTransport } from "../../core/abstract.ts";
import { IPv4Address, IPv6Address, type Address } from "../../core/address.ts";
import type { Bytes } from "../../core/interfaces.ts";
import type { Endpoint } from "../interchange/conversation.ts";

/** What a passive transport reports. Each is called at most once per action, in the order the protocol acted. */
export interface PassiveActions {
  /** The protocol wrote `data` (it went nowhere). */
  wrote(data: Bytes): void;
  /** The protocol closed: cleanly (`loseConnection`) or by abort (`abortConnection`). */
  closed(how: "lose" | "abort"): void;
  /** The protocol shut its write side (`loseWriteConnection`). */
  halfClosed(): void;
}

/** A core Address for an endpoint of a conversation. */
export function endpointAddress(endpoint: Endpoint): Address {
  return endpoint.host.includes(":")
    ? new IPv6Address("TCP", endpoint.host, endpoint.port)
    : new IPv4Address("TCP", endpoint.host, endpoint.port);
}

/**
 * A transport that sends nothing. Created by the decoder for each protocol instance it runs (the main-thread half
 * of a sandboxed protocol connects to it); the decoder owns it. Guarantees, as core/tcp.ts: writes after a close
 * or half-close are dropped; `disconnecting` is true from the first close on; a producer is accepted and never
 * called (nothing buffers, nothing drains); reading is never paused: the recording goes on whatever the protocol
 * asks. The rest is core/abstract.ts's.
 */
export class PassiveTransport extends BaseTCPTransport {
  constructor(
    host: Address,
    peer: Address,
    private readonly actions: PassiveActions,
  ) {
    super(host, peer);
  }

  protected writeData(data: Bytes): void {
    this.actions.wrote(data);
  }

  loseConnection(): void {
    this.close("lose");
  }

  abortConnection(): void {
    this.close("abort");
  }

  /** A close after the first one is ignored: the decode reports one close per connection. */
  private close(how: "lose" | "abort"): void {
    if (this.disconnecting) return;
    this.disconnecting = true;
    this.writeClosed = true;
    this.actions.closed(how);
  }

  loseWriteConnection(): void {
    if (this.writeClosed) return;
    this.writeClosed = true;
    this.actions.halfClosed();
  }

  /**
   * A protocol's STARTTLS (a proxy tap's ServerLeg after the server's go-ahead): nothing to do, as a recording
   * holds what passed after an upgrade in plaintext already; the protocol goes on decoding it. No handshake is
   * reported (`getTLSInfo()` stays null), since none happens here.
   */
  startTLS(): void {}

  getTLSInfo(): null {
    return null;
  }

  getPeerCertificate(): null {
    return null;
  }
}
