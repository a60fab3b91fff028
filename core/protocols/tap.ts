/**
 * Taps: protocols that watch a forwarded stream without taking part in it.
 *
 * On a proxy leg (Twisted's portforward, src/twisted/protocols/portforward.py) a protocol usually owns forwarding:
 * it writes what should reach the other side, so it may hold bytes back or rewrite them. A tap declares that it
 * never does: whoever runs it forwards every byte it receives, unchanged and at once, and then hands the tap the
 * same bytes to decode, log or count. Twisted has no such class; its nearest kin is the TrafficLoggingFactory's
 * idea (policies.py), a protocol beside the stream rather than in it.
 *
 * A tap may not write (what it would write is already forwarded), nor start TLS at a byte of its choosing (the
 * byte has gone by the time it decodes it); it may close or pause its connection. A runner that forwards for a tap
 * throws TapWriteError at its `write`, so the mistake shows where it is made (Wirescope's proxy does).
 */
import { Protocol } from "../protocol.ts";

/** A class that declares it is a tap: `static readonly tap = true`, on it or inherited. */
export interface TapDeclaration {
  readonly tap: true;
}

/**
 * A Protocol that is a tap (see the module comment): subclass it and override `dataReceived` to decode what
 * passes. A class built on another protocol (a LineReceiver, a StatefulProtocol) declares it the same way, with
 * `static readonly tap = true`. The declaration is read when the class is loaded, before its first byte: the
 * runner decides then who forwards, for the whole life of each connection it starts.
 */
export class Tap extends Protocol {
  static readonly tap = true;
}

/** Whether `cls` (a protocol class) declares itself a tap, directly or through a superclass. */
export function isTapClass(cls: unknown): cls is TapDeclaration {
  return typeof cls === "function" && (cls as Partial<TapDeclaration>).tap === true;
}

/** Thrown at a tap's `write` by whoever forwards for it: what the tap received is on its way already. */
export class TapWriteError extends Error {
  override name = "TapWriteError";
  constructor() {
    super(
      "A Tap does not write: the proxy already forwarded what it received, unchanged. To hold back or rewrite " +
        "bytes, run a Protocol that writes what should pass instead of a Tap.",
    );
  }
}
