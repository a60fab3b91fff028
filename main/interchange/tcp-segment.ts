/**
 * From an IP packet to the TCP segment inside it: IPv4 (options skipped by IHL; fragments are reported, not
 * reassembled) and IPv6 (extension headers walked to the TCP header). RFC 791 section 3.1, RFC 8200 section 4,
 * RFC 9293 section 3.1.
 */
import { IPPROTO_TCP as TCP } from "./assigned-numbers.ts";
import type { Endpoint } from "./conversation.ts";

/** One TCP segment as the capture saw it. `payload` is a view of the captured frame (no copy). */
export interface TcpSegment {
  source: Endpoint;
  destination: Endpoint;
  seq: number;
  ack: number;
  syn: boolean;
  ackFlag: boolean;
  fin: boolean;
  rst: boolean;
  payload: Uint8Array;
  /** Payload bytes the IP header announces but the capture did not keep (a snapshot length). */
  notCaptured: number;
}

/** Why an IP packet gives no segment. */
export type SegmentSkip = "not-tcp" | "fragment" | "malformed";

export type SegmentResult = { segment: TcpSegment } | { skip: SegmentSkip };

/** IPv6 extension headers walked to find TCP (hop-by-hop, routing, fragment, destination options, AH). */
const HOP_BY_HOP = 0;
const ROUTING = 43;
const FRAGMENT = 44;
const AUTHENTICATION = 51;
const DESTINATION_OPTIONS = 60;
const MOBILITY = 135;

/** Called with the IP packet a frame carried: its TCP segment, or why it has none. */
export function tcpSegmentOf(ip: Uint8Array): SegmentResult {
  if (ip.byteLength < 1) return { skip: "malformed" };
  const version = ip[0]! >> 4;
  if (version === 4) return ipv4(ip);
  if (version === 6) return ipv6(ip);
  return { skip: "malformed" };
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function ipv4(ip: Uint8Array): SegmentResult {
  if (ip.byteLength < 20) return { skip: "malformed" };
  const v = view(ip);
  const headerLength = (ip[0]! & 0x0f) * 4;
  const total = v.getUint16(2);
  if (headerLength < 20 || total < headerLength) return { skip: "malformed" };
  const flagsAndOffset = v.getUint16(6);
  if ((flagsAndOffset & 0x2000) !== 0 || (flagsAndOffset & 0x1fff) !== 0) return { skip: "fragment" };
  if (ip[9] !== TCP) return { skip: "not-tcp" };
  // `total` cuts off Ethernet's padding of short frames; the capture may hold fewer bytes (a snapshot length).
  const end = Math.min(total, ip.byteLength);
  if (end < headerLength) return { skip: "malformed" };
  return tcp(ip.subarray(headerLength, end), total - headerLength, address4(ip, 12), address4(ip, 16));
}

function ipv6(ip: Uint8Array): SegmentResult {
  if (ip.byteLength < 40) return { skip: "malformed" };
  const v = view(ip);
  const payloadLength = v.getUint16(4);
  // A payload length of 0 is a jumbogram (RFC 2675): the capture's length is all there is to go on.
  const announced = payloadLength === 0 ? ip.byteLength - 40 : payloadLength;
  const end = Math.min(40 + announced, ip.byteLength);
  let next = ip[6]!;
  let at = 40;
  while (next !== TCP) {
    if (at + 8 > end) return { skip: next === HOP_BY_HOP || next === ROUTING ? "malformed" : "not-tcp" };
    if (next === FRAGMENT) {
      if ((v.getUint16(at + 2) & 0xfff9) !== 0) return { skip: "fragment" }; // offset or more-fragments set
      next = ip[at]!;
      at += 8;
    } else if (next === HOP_BY_HOP || next === ROUTING || next === DESTINATION_OPTIONS || next === MOBILITY) {
      next = ip[at]!;
      at += (ip[at + 1]! + 1) * 8;
    } else if (next === AUTHENTICATION) {
      next = ip[at]!;
      at += (ip[at + 1]! + 2) * 4;
    } else {
      return { skip: "not-tcp" };
    }
  }
  if (at > end) return { skip: "malformed" };
  return tcp(ip.subarray(at, end), 40 + announced - at, address6(ip, 8), address6(ip, 24));
}

/** The TCP header and payload: `bytes` is what was captured, `announced` what the IP header says it carried. */
function tcp(bytes: Uint8Array, announced: number, sourceHost: string, destinationHost: string): SegmentResult {
  if (bytes.byteLength < 20) return { skip: "malformed" };
  const v = view(bytes);
  const headerLength = (bytes[12]! >> 4) * 4;
  if (headerLength < 20 || headerLength > bytes.byteLength) return { skip: "malformed" };
  const flags = bytes[13]!;
  return {
    segment: {
      source: { host: sourceHost, port: v.getUint16(0) },
      destination: { host: destinationHost, port: v.getUint16(2) },
      seq: v.getUint32(4),
      ack: v.getUint32(8),
      fin: (flags & 0x01) !== 0,
      syn: (flags & 0x02) !== 0,
      rst: (flags & 0x04) !== 0,
      ackFlag: (flags & 0x10) !== 0,
      payload: bytes.subarray(headerLength),
      notCaptured: Math.max(0, announced - bytes.byteLength),
    },
  };
}

function address4(ip: Uint8Array, at: number): string {
  return `${ip[at]}.${ip[at + 1]}.${ip[at + 2]}.${ip[at + 3]}`;
}

/** RFC 5952's text form: lower-case hex, leading zeros dropped, the longest run of two or more zero groups as "::". */
export function address6(ip: Uint8Array, at: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i += 1) groups.push((ip[at + i * 2]! << 8) | ip[at + i * 2 + 1]!);
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i += 1;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j += 1;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}
