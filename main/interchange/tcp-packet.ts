/**
 * One synthesized Ethernet frame carrying one TCP segment over IPv4 or IPv6, with every checksum right: what
 * tcp-synth.ts makes a conversation's packets of. Wire formats: Ethernet II (IEEE 802.3 type field), IPv4
 * (RFC 791 §3.1, header checksum RFC 1071), IPv6 (RFC 8200 §3), TCP (RFC 9293 §3.1, checksum over the pseudo-header
 * of RFC 9293 §3.1 for IPv4 and RFC 8200 §8.1 for IPv6). All multi-byte fields are big-endian (network order).
 */
import { isIPv4, isIPv6 } from "node:net";
import { ETHERTYPE_IPV4, ETHERTYPE_IPV6, IPPROTO_TCP } from "./assigned-numbers.ts";
import type { ErrorCode } from "../../preload/errors.ts";

/** TCP flags (RFC 9293 §3.1). */
export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;

const ETHERNET_HEADER = 14;
const IPV4_HEADER = 20;
const IPV6_HEADER = 40;
const TCP_HEADER = 20;
const TTL = 64;

/**
 * The largest TCP payload a segment may carry so that the IP packet stays within 65,535 bytes with IPv4 (whose
 * total length counts both headers: 65,535 - 20 - 20); used for IPv6 too, whose limit is 20 bytes higher.
 */
export const MAX_SEGMENT_PAYLOAD = 65_535 - IPV4_HEADER - TCP_HEADER;

/** An address that is neither IPv4 nor IPv6 text. */
export class BadAddressError extends Error {
  readonly code = "bad-address" satisfies ErrorCode;
  constructor(address: string) {
    super(`"${address}" is not an IPv4 or IPv6 address: a TCP packet can only be made between IP addresses`);
    this.name = "BadAddressError";
  }
}

/**
 * The bytes of an IP address in text form: 4 for IPv4 ("127.0.0.1"), 16 for IPv6 ("::1", "::ffff:10.0.0.1",
 * "fe80::1%eth0" — a zone is dropped, packets don't carry it). Throws BadAddressError for anything else.
 */
export function addressBytes(address: string): Uint8Array {
  const host = address.replace(/%.*$/, "");
  if (isIPv4(host)) return Uint8Array.from(host.split(".").map(Number));
  if (!isIPv6(host)) throw new BadAddressError(address);
  // An IPv4 tail ("::ffff:1.2.3.4") is two 16-bit groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(host);
  let text = host;
  if (v4) {
    const [a, b, c, d] = v4[1]!.split(".").map(Number) as [number, number, number, number];
    text = `${host.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes("::") ? text.split("::") : [text, undefined];
  const groups = (s: string | undefined): string[] => (s ? s.split(":") : []);
  const left = groups(head);
  const right = groups(tail);
  const all =
    tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill("0"), ...right];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    const value = parseInt(g, 16);
    out[2 * i] = value >> 8;
    out[2 * i + 1] = value & 0xff;
  });
  return out;
}

/** An IPv4 address as IPv6 (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2): for a connection whose ends differ in family. */
export function mappedToIPv6(ipv4: Uint8Array): Uint8Array {
  const out = new Uint8Array(16);
  out[10] = 0xff;
  out[11] = 0xff;
  out.set(ipv4, 12);
  return out;
}

/** One end of a segment: its link-layer and IP addresses (both 4 or both 16 bytes across a frame) and its port. */
export interface FrameEnd {
  mac: Uint8Array;
  ip: Uint8Array;
  port: number;
}

/** A TCP segment to frame. Sequence and acknowledgement numbers are taken modulo 2^32. */
export interface Segment {
  from: FrameEnd;
  to: FrameEnd;
  seq: number;
  ack: number;
  /** FIN | SYN | RST | PSH | ACK. */
  flags: number;
  /** The window field as sent (scaled by the peer with the window scale option of the handshake, if any). */
  window: number;
  /** TCP options, already encoded; padded here to a multiple of 4 with end-of-option-list bytes. */
  options?: Uint8Array;
  /** At most MAX_SEGMENT_PAYLOAD bytes. */
  payload?: Uint8Array;
  /** The IPv4 identification field (ignored for IPv6). */
  ipId: number;
}

/**
 * The Ethernet frame of `segment`: IPv4 when both IP addresses have 4 bytes, IPv6 when both have 16. The IPv4
 * header checksum and the TCP checksum (with its pseudo-header) are computed. Throws a RangeError for a payload
 * beyond MAX_SEGMENT_PAYLOAD or mismatched address families: those are the caller's bugs, not the user's.
 */
export function tcpFrame(segment: Segment): Uint8Array {
  const { from, to } = segment;
  const payload = segment.payload ?? new Uint8Array(0);
  if (payload.byteLength > MAX_SEGMENT_PAYLOAD) {
    throw new RangeError(`a segment carries at most ${MAX_SEGMENT_PAYLOAD} bytes, not ${payload.byteLength}`);
  }
  if (from.ip.byteLength !== to.ip.byteLength || (from.ip.byteLength !== 4 && from.ip.byteLength !== 16)) {
    throw new RangeError("both ends of a frame need IPv4 addresses, or both IPv6 addresses");
  }
  const v4 = from.ip.byteLength === 4;
  const optionBytes = segment.options ? (segment.options.byteLength + 3) & ~3 : 0;
  const tcpLength = TCP_HEADER + optionBytes + payload.byteLength;
  const ipHeader = v4 ? IPV4_HEADER : IPV6_HEADER;
  const frame = Buffer.alloc(ETHERNET_HEADER + ipHeader + tcpLength);

  frame.set(to.mac, 0);
  frame.set(from.mac, 6);
  frame.writeUInt16BE(v4 ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6, 12);

  const ip = ETHERNET_HEADER;
  if (v4) {
    frame[ip] = 0x45; // version 4, header of 5 words
    frame.writeUInt16BE(IPV4_HEADER + tcpLength, ip + 2);
    frame.writeUInt16BE(segment.ipId & 0xffff, ip + 4);
    frame.writeUInt16BE(0x4000, ip + 6); // don't fragment
    frame[ip + 8] = TTL;
    frame[ip + 9] = IPPROTO_TCP;
    frame.set(from.ip, ip + 12);
    frame.set(to.ip, ip + 16);
    frame.writeUInt16BE(finish(sum(frame, ip, IPV4_HEADER, 0)), ip + 10);
  } else {
    frame[ip] = 0x60; // version 6, traffic class and flow label 0
    frame.writeUInt16BE(tcpLength, ip + 4);
    frame[ip + 6] = IPPROTO_TCP;
    frame[ip + 7] = TTL;
    frame.set(from.ip, ip + 8);
    frame.set(to.ip, ip + 24);
  }

  const tcp = ETHERNET_HEADER + ipHeader;
  frame.writeUInt16BE(from.port, tcp);
  frame.writeUInt16BE(to.port, tcp + 2);
  frame.writeUInt32BE(segment.seq >>> 0, tcp + 4);
  frame.writeUInt32BE(segment.flags & ACK ? segment.ack >>> 0 : 0, tcp + 8);
  frame[tcp + 12] = ((TCP_HEADER + optionBytes) / 4) << 4;
  frame[tcp + 13] = segment.flags;
  frame.writeUInt16BE(segment.window & 0xffff, tcp + 14);
  if (segment.options) frame.set(segment.options, tcp + TCP_HEADER); // the padding stays 0: end of option list
  frame.set(payload, tcp + TCP_HEADER + optionBytes);

  // The pseudo-header: both addresses, the protocol and the TCP length (its layout differs by family; its sum
  // doesn't, as long as the length fits in 16 bits, which MAX_SEGMENT_PAYLOAD guarantees).
  let pseudo = sum(from.ip, 0, from.ip.byteLength, 0);
  pseudo = sum(to.ip, 0, to.ip.byteLength, pseudo);
  pseudo += IPPROTO_TCP + tcpLength;
  frame.writeUInt16BE(finish(sum(frame, tcp, tcpLength, pseudo)), tcp + 16);
  return frame;
}

/**
 * The TCP options of a SYN: maximum segment size (RFC 9293 §3.7.1) and window scale (RFC 7323 §2), so that the
 * synthesized window covers what is in flight between two acknowledgements.
 */
export function synOptions(mss: number, windowScale: number): Uint8Array {
  return Uint8Array.of(2, 4, mss >> 8, mss & 0xff, 1, 3, 3, windowScale);
}

/** Adds the 16-bit big-endian words of `bytes[start, start + length)` to `acc` (RFC 1071), a trailing byte padded. */
function sum(bytes: Uint8Array, start: number, length: number, acc: number): number {
  const end = start + length;
  let i = start;
  for (; i + 1 < end; i += 2) acc += (bytes[i]! << 8) | bytes[i + 1]!;
  if (i < end) acc += bytes[i]! << 8;
  // Folded once per call: a 64 KiB run adds up to under 2^32, far within a double's exact integers.
  return (acc % 0x10000) + Math.floor(acc / 0x10000);
}

/** Folds the carries back in and complements: the value of a checksum field. */
function finish(acc: number): number {
  while (acc > 0xffff) acc = (acc % 0x10000) + Math.floor(acc / 0x10000);
  return ~acc & 0xffff;
}
