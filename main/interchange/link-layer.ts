/**
 * From a captured frame to the IP packet inside it, for the link types tcpdump, tshark and Wireshark write for TCP
 * traffic: Ethernet (with 802.1Q / 802.1ad VLAN tags), raw IP, Linux "cooked" captures (SLL and SLL2: what
 * `tshark -i any` and, on newer libpcap, `-i lo` write) and BSD loopback. Numbers are LINKTYPE_* values of
 * https://www.tcpdump.org/linktypes.html (assigned-numbers.ts).
 */
import {
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  ETHERTYPE_VLAN_TAGS,
  LINKTYPE_ETHERNET,
  LINKTYPE_IPV4,
  LINKTYPE_IPV6,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_LINUX_SLL2,
  LINKTYPE_LOOP,
  LINKTYPE_NULL,
  LINKTYPE_RAW,
} from "./assigned-numbers.ts";

/** More stacked VLAN tags than this is a broken frame, not a network. */
const MAX_VLAN_TAGS = 8;

/** BSD address families of IPv4 and IPv6 (AF_INET6 differs by OS: Linux 10, NetBSD/OpenBSD 24, FreeBSD 28, macOS 30). */
const AF_INET = 2;
const AF_INET6 = new Set([10, 24, 28, 30]);

/** Why a frame holds no IP packet this import can read. */
export type LinkSkip = "not-ip" | "short-frame" | "unknown-link-type";

/** The IP packet inside a frame (a view of it), or why there is none. */
export type LinkResult = { ip: Uint8Array } | { skip: LinkSkip };

/** Called for each captured packet: strips the link-layer header of `linkType`. */
export function ipPacketOf(linkType: number, frame: Uint8Array): LinkResult {
  switch (linkType) {
    case LINKTYPE_ETHERNET:
      return ethernet(frame);
    case LINKTYPE_RAW:
    case LINKTYPE_IPV4:
    case LINKTYPE_IPV6:
      return { ip: frame };
    case LINKTYPE_LINUX_SLL:
      return frame.byteLength < 16 ? { skip: "short-frame" } : byEtherType(readU16(frame, 14), frame.subarray(16));
    case LINKTYPE_LINUX_SLL2:
      return frame.byteLength < 20 ? { skip: "short-frame" } : byEtherType(readU16(frame, 0), frame.subarray(20));
    case LINKTYPE_NULL:
    case LINKTYPE_LOOP:
      return bsdLoopback(frame);
    default:
      return { skip: "unknown-link-type" };
  }
}

function readU16(bytes: Uint8Array, at: number): number {
  return (bytes[at]! << 8) | bytes[at + 1]!;
}

function byEtherType(etherType: number, payload: Uint8Array): LinkResult {
  return etherType === ETHERTYPE_IPV4 || etherType === ETHERTYPE_IPV6 ? { ip: payload } : { skip: "not-ip" };
}

/** Destination, source, then EtherType — or a VLAN tag (4 bytes) with the real EtherType after it. */
function ethernet(frame: Uint8Array): LinkResult {
  let at = 12;
  for (let tags = 0; tags <= MAX_VLAN_TAGS; tags += 1) {
    if (frame.byteLength < at + 2) return { skip: "short-frame" };
    const etherType = readU16(frame, at);
    if (!ETHERTYPE_VLAN_TAGS.has(etherType)) return byEtherType(etherType, frame.subarray(at + 2));
    at += 4;
  }
  return { skip: "short-frame" };
}

/**
 * A 4-byte address family: in the writer's byte order for LINKTYPE_NULL (unknown to us, so both are tried), in
 * network order for LINKTYPE_LOOP.
 */
function bsdLoopback(frame: Uint8Array): LinkResult {
  if (frame.byteLength < 4) return { skip: "short-frame" };
  const view = new DataView(frame.buffer, frame.byteOffset, 4);
  for (const family of [view.getUint32(0, false), view.getUint32(0, true)]) {
    if (family === AF_INET || AF_INET6.has(family)) return { ip: frame.subarray(4) };
  }
  return { skip: "not-ip" };
}
