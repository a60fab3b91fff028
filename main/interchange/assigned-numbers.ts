/**
 * The registry numbers that capture files and packets carry, in one place for the reader (link-layer.ts,
 * tcp-segment.ts) and the writer (pcapng-writer.ts, tcp-packet.ts): link types (https://www.tcpdump.org/linktypes.html),
 * EtherTypes (IEEE 802 numbers, https://www.iana.org/assignments/ieee-802-numbers) and IP protocol numbers
 * (https://www.iana.org/assignments/protocol-numbers). Numbers only: what a parser does with them stays with it.
 */

/** LINKTYPE_* values: which link-layer header a capture's frames start with. */
export const LINKTYPE_NULL = 0;
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LOOP = 108;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_LINUX_SLL2 = 276;

/** EtherTypes of the IP packets an Ethernet (or Linux cooked) frame carries. */
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_IPV6 = 0x86dd;
/** EtherTypes of a VLAN tag: 802.1Q, 802.1ad (QinQ), and the pre-standard QinQ some switches still send. */
export const ETHERTYPE_VLAN_TAGS: ReadonlySet<number> = new Set([0x8100, 0x88a8, 0x9100]);

/** The IP protocol number of TCP (IPv4's protocol field, IPv6's next header). */
export const IPPROTO_TCP = 6;
