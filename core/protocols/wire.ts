/**
 * The small standard TCP services (src/twisted/protocols/wire.py): echo, discard, chargen, quote of the day, active
 * users, daytime and time. Useful as peers when trying out a client, and as the smallest examples of a protocol.
 *
 * Serve one with `Factory.forProtocol(Echo)`; Twisted has no factory classes for them either.
 */
import type { Bytes, IPullProducer } from "../interfaces.ts";
import { Protocol } from "../protocol.ts";

/** Writes back whatever it receives (RFC 862). */
export class Echo extends Protocol {
  override dataReceived(data: Bytes): void {
    this.transport.write(data);
  }
}

/** Ignores whatever it receives (RFC 863). */
export class Discard extends Protocol {
  override dataReceived(_data: Bytes): void {}
}

/**
 * Sends repeating noise for as long as the connection lasts (RFC 864). It registers itself as a pull producer:
 * the transport asks for more (`resumeProducing`) each time its buffer drained, and each call writes one fixed
 * `noise` chunk, so a slow reader never makes the buffer grow.
 */
export class Chargen extends Protocol implements IPullProducer {
  /** The chunk written on each `resumeProducing` (Twisted's). */
  noise: Bytes = Buffer.from('@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~ !"#$%&?', "latin1");

  override connectionMade(): void {
    this.transport.registerProducer(this, false);
  }

  /** Called by the transport when it wants more: writes one `noise` chunk. */
  resumeProducing(): void {
    this.transport.write(this.noise);
  }

  /** A pull producer is only asked, never paused; kept for callers that pause anyway, as in Twisted. */
  pauseProducing(): void {}

  /** Called when the connection goes away; there is nothing to release. */
  stopProducing(): void {}
}

/** Sends a quote and closes (RFC 865). */
export class QOTD extends Protocol {
  override connectionMade(): void {
    this.transport.write(this.getQuote());
    this.transport.loseConnection();
  }

  /** The quote to send, with its line end. Override to quote something else. */
  getQuote(): Bytes {
    return Buffer.from("An apple a day keeps the doctor away.\r\n");
  }
}

/** Sends the list of active users and closes (RFC 866). */
export class Who extends Protocol {
  override connectionMade(): void {
    this.transport.write(this.getUsers());
    this.transport.loseConnection();
  }

  /** The users to list, one per line. Override to list real ones. */
  getUsers(): Bytes {
    return Buffer.from("root\r\n");
  }
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** C's / Python's `asctime` of a UTC time: "Sun Jun  6 09:05:02 1993" (day of month padded with a space). */
export function asctimeUTC(date: Date): string {
  const two = (n: number) => String(n).padStart(2, "0");
  const day = String(date.getUTCDate()).padStart(2, " ");
  const time = `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())}`;
  return `${DAYS[date.getUTCDay()]} ${MONTHS[date.getUTCMonth()]} ${day} ${time} ${date.getUTCFullYear()}`;
}

/**
 * Sends the current UTC date and time as text, `asctime` style, and closes (RFC 867). Twisted's concatenates text
 * and bytes, which fails on Python 3; this one encodes the line as ASCII.
 */
export class Daytime extends Protocol {
  override connectionMade(): void {
    this.transport.write(Buffer.from(`${asctimeUTC(new Date())}\r\n`, "ascii"));
    this.transport.loseConnection();
  }
}

/** Seconds from 1900-01-01 (RFC 868's epoch) to 1970-01-01 (Unix's). */
export const RFC868_EPOCH_OFFSET = 2_208_988_800;

/**
 * Sends the current time as a 32-bit big-endian number of seconds since 1900-01-01 UTC, and closes (RFC 868).
 * Twisted sends signed seconds since 1970, which is not what RFC 868 clients (rdate) expect; this one follows
 * the RFC. The count wraps modulo 2^32 (in 2036), as the RFC's 32 bits do.
 */
export class Time extends Protocol {
  override connectionMade(): void {
    const result = Buffer.alloc(4);
    result.writeUInt32BE((Math.floor(Date.now() / 1000) + RFC868_EPOCH_OFFSET) % 2 ** 32);
    this.transport.write(result);
    this.transport.loseConnection();
  }
}
