/**
 * A protocol driven by a table of states (src/twisted/protocols/stateful.py): each state says how many bytes it
 * wants and which function gets them.
 *
 *     class Int32Strings extends StatefulProtocol {
 *       getInitialState(): StatefulState { return [this.header, 4]; }
 *       header(data: Buffer): StatefulState { return [this.body, data.readUInt32BE(0)]; }
 *       body(data: Buffer): StatefulState { this.stringReceived(data); return [this.header, 4]; }
 *     }
 */
import type { Bytes, ITransport } from "../interfaces.ts";
import { Protocol } from "../protocol.ts";
import { deliverMessage, ReceiveBuffer } from "./basic.ts";

/**
 * Called with exactly the number of bytes its state asked for (a view, no copy), with `this` set to the
 * protocol, so a method can be named without binding it. Returns the next state, or nothing to stay.
 */
export type StateHandler = (data: Buffer) => StatefulState | null | undefined | void;

/** A state: the function to call and how many bytes it wants (0 calls it at once with no bytes). */
export type StatefulState = readonly [handler: StateHandler, size: number];

/**
 * Delivers the stream in pieces whose sizes the protocol chooses as it goes
 * (twisted.protocols.stateful.StatefulProtocol). Delivery stops for good once `transport.disconnecting` is set:
 * no state function is called after the one that closed the connection. During each state function, `messageSpan`
 * is the span of the bytes it was given.
 */
export abstract class StatefulProtocol extends Protocol {
  #state: StatefulState | null = null;
  readonly #received = new ReceiveBuffer();
  #busyReceiving = false;

  /** Makes the connection (calling `connectionMade`), then takes the first state from `getInitialState()`. */
  override makeConnection(transport: ITransport): void {
    super.makeConnection(transport);
    this.#state = this.getInitialState();
  }

  /** Called once per connection, after `connectionMade`: returns the first state. */
  abstract getInitialState(): StatefulState;

  /**
   * Called by the transport with each chunk; calls the current state's function each time it has enough bytes,
   * moving to the state it returns. A call from inside a state function only queues the bytes for the loop
   * already running.
   */
  override dataReceived(data: Bytes): void {
    const received = this.#received;
    received.append(data);
    if (this.#busyReceiving) return;
    this.#busyReceiving = true;
    let state = (this.#state ??= this.getInitialState());
    try {
      while (received.length >= state[1] && !this.transport?.disconnecting) {
        const { bytes, start } = received;
        const end = (received.start = start + state[1]);
        const handler = state[0];
        const next = deliverMessage(this, received.span(start, end), () =>
          handler.call(this, bytes.subarray(start, end)),
        );
        if (next) state = next;
      }
      received.settle();
    } finally {
      this.#state = state;
      this.#busyReceiving = false;
    }
  }
}
