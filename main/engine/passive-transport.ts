/**
 * The transport of a protocol run as a passive decoder (decode.ts): it looks like a connection to the protocol, but
 * no socket is behind it and nothing is sent anywhere. What the protocol would have done with a real connection —
 * write bytes, close, half-close, abort — is reported to its owner, which shows it on the decode's timeline.
 */
import { IPv4Address, IPv6Address, type Address } from "../../core/address.ts";
import type { Bytes, IPullProducer, IPushProducer, ITransport } from "../../core/interfaces.ts";
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
 * called (nothing buffers, nothing drains).
 */
export class PassiveTransport implements ITransport {
  disconnecting = false;
  private writeClosed = false;
  private producer: IPushProducer | IPullProducer | null = null;
  private noDelay = false;
  private keepAlive = false;

  constructor(
    private readonly host: Address,
    private readonly peer: Address,
    private readonly actions: PassiveActions,
  ) {}

  write(data: Bytes): void {
    if (this.disconnecting || this.writeClosed || data.byteLength === 0) return;
    this.actions.wrote(data);
  }

  writeSequence(data: readonly Bytes[]): void {
    for (const chunk of data) this.write(chunk);
  }

  loseConnection(): void {
    if (this.disconnecting) return;
    this.disconnecting = true;
    this.actions.closed("lose");
  }

  abortConnection(): void {
    if (this.disconnecting) return;
    this.disconnecting = true;
    this.actions.closed("abort");
  }

  loseWriteConnection(): void {
    if (this.writeClosed || this.disconnecting) return;
    this.writeClosed = true;
    this.actions.halfClosed();
  }

  getPeer(): Address {
    return this.peer;
  }

  getHost(): Address {
    return this.host;
  }

  setTcpNoDelay(enabled: boolean): void {
    this.noDelay = enabled;
  }

  getTcpNoDelay(): boolean {
    return this.noDelay;
  }

  setTcpKeepAlive(enabled: boolean): void {
    this.keepAlive = enabled;
  }

  getTcpKeepAlive(): boolean {
    return this.keepAlive;
  }

  /** Accepted and never called: a decode does not wait for what a protocol would stream. */
  registerProducer(producer: IPushProducer | IPullProducer): void {
    if (this.producer !== null) throw new Error("A producer is already registered on this transport.");
    this.producer = producer;
  }

  unregisterProducer(): void {
    this.producer = null;
  }

  /** Reading is not paused: the recording goes on whatever the protocol asks. */
  pauseProducing(): void {}

  resumeProducing(): void {}

  stopProducing(): void {
    this.loseConnection();
  }
}
