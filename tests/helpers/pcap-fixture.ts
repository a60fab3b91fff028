/**
 * Builds hostile captures from real ones, for the import tests: reads a little-endian pcap of Ethernet/IPv4/TCP
 * frames (what `tshark -i lo -F pcap` writes here), lets a test reorder, repeat, split, drop and renumber its
 * segments, and writes the result as pcap again. Deliberately independent of main/interchange (its own tiny parser),
 * so a bug there can't hide itself.
 */

export interface Frame {
  /** Capture time in µs. */
  micros: number;
  /** The Ethernet frame. */
  data: Uint8Array;
}

/** The records of a little-endian, µs pcap file. */
export function readPcap(file: Uint8Array): { linkType: number; frames: Frame[] } {
  const v = new DataView(file.buffer, file.byteOffset, file.byteLength);
  if (v.getUint32(0, true) !== 0xa1b2c3d4) throw new Error("pcap-fixture reads little-endian µs pcap files only");
  const frames: Frame[] = [];
  let at = 24;
  while (at + 16 <= file.byteLength) {
    const length = v.getUint32(at + 8, true);
    frames.push({
      micros: v.getUint32(at, true) * 1_000_000 + v.getUint32(at + 4, true),
      data: file.slice(at + 16, at + 16 + length),
    });
    at += 16 + length;
  }
  return { linkType: v.getUint32(20, true), frames };
}

/** A little-endian, µs pcap file of `frames`. */
export function writePcap(linkType: number, frames: Frame[]): Uint8Array {
  const size = 24 + frames.reduce((n, f) => n + 16 + f.data.byteLength, 0);
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  v.setUint32(0, 0xa1b2c3d4, true);
  v.setUint16(4, 2, true);
  v.setUint16(6, 4, true);
  v.setUint32(16, 262144, true);
  v.setUint32(20, linkType, true);
  let at = 24;
  for (const f of frames) {
    v.setUint32(at, Math.floor(f.micros / 1_000_000), true);
    v.setUint32(at + 4, f.micros % 1_000_000, true);
    v.setUint32(at + 8, f.data.byteLength, true);
    v.setUint32(at + 12, f.data.byteLength, true);
    out.set(f.data, at + 16);
    at += 16 + f.data.byteLength;
  }
  return out;
}

/** Where the TCP parts of an Ethernet/IPv4 frame are. */
export interface TcpView {
  sourcePort: number;
  destinationPort: number;
  seq: number;
  flags: number;
  /** Offset of the TCP header and of the payload in the frame. */
  tcpAt: number;
  payloadAt: number;
  payload: Uint8Array;
}

export const SYN = 0x02;
export const FIN = 0x01;

/** The TCP segment of an Ethernet/IPv4 frame. */
export function tcpOf(frame: Uint8Array): TcpView {
  const v = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (v.getUint16(12) !== 0x0800 || frame[23] !== 6) throw new Error("pcap-fixture handles Ethernet/IPv4/TCP only");
  const ipAt = 14;
  const tcpAt = ipAt + (frame[ipAt]! & 0x0f) * 4;
  const end = ipAt + v.getUint16(ipAt + 2);
  const payloadAt = tcpAt + (frame[tcpAt + 12]! >> 4) * 4;
  return {
    sourcePort: v.getUint16(tcpAt),
    destinationPort: v.getUint16(tcpAt + 2),
    seq: v.getUint32(tcpAt + 4),
    flags: frame[tcpAt + 13]!,
    tcpAt,
    payloadAt,
    payload: frame.subarray(payloadAt, end),
  };
}

/** A copy of `frame` carrying `payload` at sequence number `seq` (IP length updated; checksums are not). */
export function withSegment(frame: Uint8Array, seq: number, payload: Uint8Array): Uint8Array {
  const t = tcpOf(frame);
  const out = new Uint8Array(t.payloadAt + payload.byteLength);
  out.set(frame.subarray(0, t.payloadAt));
  out.set(payload, t.payloadAt);
  const v = new DataView(out.buffer);
  v.setUint16(14 + 2, out.byteLength - 14);
  v.setUint32(t.tcpAt + 4, seq >>> 0);
  return out;
}

/** A copy of `frame` with its sequence and acknowledgement numbers moved by `seqDelta` / `ackDelta` (mod 2^32). */
export function renumbered(frame: Uint8Array, seqDelta: number, ackDelta: number): Uint8Array {
  const out = frame.slice();
  const t = tcpOf(out);
  const v = new DataView(out.buffer);
  v.setUint32(t.tcpAt + 4, (v.getUint32(t.tcpAt + 4) + seqDelta) >>> 0);
  if ((out[t.tcpAt + 13]! & 0x10) !== 0) v.setUint32(t.tcpAt + 8, (v.getUint32(t.tcpAt + 8) + ackDelta) >>> 0);
  return out;
}

/**
 * `items` shuffled within a sliding window of `window` (each item moves at most that far). `random` is seeded
 * (main/engine/seeded-random.ts) so that a failing shuffle can be replayed.
 */
export function shuffledWithin<T>(items: T[], window: number, random: () => number): T[] {
  const out = items.slice();
  for (let i = 0; i < out.length; i += 1) {
    const j = Math.min(out.length - 1, i + Math.floor(random() * window));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
