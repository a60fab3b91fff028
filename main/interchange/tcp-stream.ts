/**
 * One direction of a TCP connection put back in order, as the receiving application read it: bytes are placed by
 * sequence number from the ISN (RFC 9293 section 3.4), segments that arrive early are held until the bytes before
 * them come, bytes seen before (retransmissions, overlaps) are dropped keeping the first copy, and sequence numbers
 * wrap modulo 2^32. A hole the capture never fills (a lost segment) is skipped when the stream can't wait any longer
 * (the capture ended, or too much is held): it is reported with its size and position, and the stream goes on.
 */

/** How much out-of-order data one direction holds before it gives up waiting for a hole to fill. */
export const MAX_HELD_BYTES = 32 * 1024 * 1024;

/** What a stream hands on, in stream order. `t` is µs; never earlier than the previous delivery's. */
export type StreamDelivery =
  | { kind: "data"; t: number; data: Uint8Array }
  | { kind: "gap"; t: number; at: number; size: number }
  | { kind: "fin"; t: number };

/** Bytes held until the bytes before them arrive. `at` is the stream offset (bytes after the ISN's next). */
interface Held {
  at: number;
  data: Uint8Array;
  t: number;
  /** Whether bytes before it were missing when it came (it is out of order if they come later). */
  early: boolean;
}

/** What a stream met, for the conversation's notes. */
export interface StreamTally {
  /** Segments all of whose bytes had been seen before. */
  retransmittedSegments: number;
  retransmittedBytes: number;
  /** Bytes of segments that partly repeated bytes seen before (the first copy kept). */
  overlapBytes: number;
  /** Segments that came before bytes preceding them, were held, and were put in place when those bytes came. */
  outOfOrderSegments: number;
  gaps: { at: number; size: number }[];
  /** Payload bytes the capture did not keep (its snapshot length). */
  notCapturedBytes: number;
  /** Whether the capture began after this direction's first byte (no SYN seen before its data). */
  midStream: boolean;
}

/**
 * The reassembly of one direction. Owned by its conversation (tcp-reassembly.ts), which calls `synReceived`,
 * `segmentReceived` for every segment that direction sent, and `flush` once at the end; `delivered` gets the bytes,
 * gaps and the FIN in stream order.
 */
export class TcpStream {
  readonly tally: StreamTally = {
    retransmittedSegments: 0,
    retransmittedBytes: 0,
    overlapBytes: 0,
    outOfOrderSegments: 0,
    gaps: [],
    notCapturedBytes: 0,
    midStream: false,
  };
  /** Bytes delivered in order so far (the stream offset of the next byte). */
  delivered = 0;
  /** The sequence number of the byte at offset `delivered`, modulo 2^32; null before the first SYN or segment. */
  private nextSeq: number | null = null;
  private readonly held: Held[] = [];
  private heldBytes = 0;
  /** The stream offset of the FIN, once seen, and when. */
  private fin: { at: number; t: number } | null = null;
  private finDelivered = false;
  private lastT = 0;
  /** The ISN, once a SYN was seen. */
  isn: number | null = null;

  constructor(private readonly deliveredTo: (delivery: StreamDelivery) => void) {}

  /** The sender's SYN: its sequence number is the ISN, and data starts one after it. A repeated SYN changes nothing. */
  synReceived(seq: number): void {
    if (this.isn !== null) return;
    this.isn = seq;
    if (this.nextSeq === null) this.nextSeq = (seq + 1) >>> 0;
  }

  /**
   * A segment this direction sent at `t` (µs): `seq` is the sequence number of its first data byte (the SYN's
   * number plus one when it carries SYN), then its payload and whether it ends with FIN.
   */
  segmentReceived(seq: number, payload: Uint8Array, fin: boolean, t: number, notCaptured = 0): void {
    if (this.nextSeq === null) {
      this.nextSeq = seq;
      this.tally.midStream = payload.byteLength > 0 || fin;
    }
    this.tally.notCapturedBytes += notCaptured;
    // The signed 32-bit distance from the next expected byte: sequence numbers wrap, streams may pass 4 GiB.
    let at = this.delivered + ((seq - this.nextSeq) | 0);
    if (fin && this.fin === null) this.fin = { at: at + payload.byteLength + notCaptured, t };
    if (payload.byteLength > 0) {
      const end = at + payload.byteLength;
      if (end <= this.delivered) {
        this.tally.retransmittedSegments += 1;
        this.tally.retransmittedBytes += payload.byteLength;
      } else {
        if (at < this.delivered) {
          this.tally.overlapBytes += this.delivered - at;
          payload = payload.subarray(this.delivered - at);
          at = this.delivered;
        }
        if (at === this.delivered && this.held.length === 0) {
          this.deliver(payload, t);
          // The bytes the capture cut off are a hole right here: waiting for them would hold the rest for nothing.
          if (notCaptured > 0) this.skip(t, notCaptured);
        } else {
          this.hold(at, payload, t);
        }
      }
    }
    this.drain(t, true);
    if (this.heldBytes > MAX_HELD_BYTES) this.skipGap(t);
  }

  /** The capture is over (or the conversation ends): skips the holes left, delivering everything held. */
  flush(): void {
    while (this.held.length > 0) this.skipGap(this.lastT);
    if (this.fin !== null && !this.finDelivered && this.fin.at > this.delivered) {
      this.skip(this.fin.t, this.fin.at - this.delivered);
      this.drain(this.fin.t, false);
    }
  }

  private at(t: number): number {
    this.lastT = Math.max(this.lastT, t);
    return this.lastT;
  }

  private deliver(data: Uint8Array, t: number): void {
    this.delivered += data.byteLength;
    this.nextSeq = ((this.nextSeq ?? 0) + data.byteLength) >>> 0;
    this.deliveredTo({ kind: "data", t: this.at(t), data });
  }

  /** Reports `size` missing bytes at the current offset and goes on after them. */
  private skip(t: number, size: number): void {
    this.tally.gaps.push({ at: this.delivered, size });
    this.deliveredTo({ kind: "gap", t: this.at(t), at: this.delivered, size });
    this.delivered += size;
    this.nextSeq = ((this.nextSeq ?? 0) + size) >>> 0;
  }

  /** Holds bytes that came early, minus what is already held (the first copy wins). Kept sorted by offset. */
  private hold(at: number, data: Uint8Array, t: number): void {
    const early = at > this.delivered;
    const end = at + data.byteLength;
    const last = this.held[this.held.length - 1];
    if (last === undefined || last.at + last.data.byteLength <= at) {
      this.held.push({ at, data, t, early });
      this.heldBytes += data.byteLength;
      return;
    }
    const pieces: Held[] = [];
    let cursor = at;
    for (const h of this.held) {
      const hEnd = h.at + h.data.byteLength;
      if (hEnd <= cursor || h.at >= end) continue;
      if (h.at > cursor) pieces.push({ at: cursor, data: data.subarray(cursor - at, h.at - at), t, early });
      this.tally.overlapBytes += Math.min(hEnd, end) - Math.max(h.at, cursor);
      cursor = Math.max(cursor, hEnd);
    }
    if (cursor < end) pieces.push({ at: cursor, data: data.subarray(cursor - at), t, early });
    for (const piece of pieces) {
      let i = this.held.length;
      while (i > 0 && this.held[i - 1]!.at > piece.at) i -= 1;
      this.held.splice(i, 0, piece);
      this.heldBytes += piece.data.byteLength;
    }
  }

  /**
   * Delivers held bytes that are now next in order, and the FIN once every byte before it was delivered. `filled`:
   * a segment arrived (the held bytes were out of order), rather than a gap being skipped.
   */
  private drain(t: number, filled: boolean): void {
    while (this.held.length > 0 && this.held[0]!.at <= this.delivered) {
      const h = this.held.shift()!;
      this.heldBytes -= h.data.byteLength;
      const end = h.at + h.data.byteLength;
      if (end <= this.delivered) {
        this.tally.overlapBytes += h.data.byteLength;
        continue;
      }
      if (filled && h.early) this.tally.outOfOrderSegments += 1;
      this.deliver(h.data.subarray(this.delivered - h.at), Math.max(t, h.t));
    }
    if (this.fin !== null && !this.finDelivered && this.delivered >= this.fin.at) {
      this.finDelivered = true;
      this.deliveredTo({ kind: "fin", t: this.at(Math.max(t, this.fin.t)) });
    }
  }

  /** Gives up on the hole before the first held bytes: reports it and goes on from them. */
  private skipGap(t: number): void {
    const first = this.held[0];
    if (first === undefined) return;
    if (first.at > this.delivered) this.skip(Math.max(t, first.t), first.at - this.delivered);
    this.drain(first.t, false);
  }
}
