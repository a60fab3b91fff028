import { describe, expect, it } from "vitest";
import { ipPacketOf } from "./link-layer.ts";
import { address6, tcpSegmentOf } from "./tcp-segment.ts";

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s/g, ""), "hex"));
/** TCP 1234 -> 80, seq 1, ack 0, SYN|FIN off, PSH|ACK, then "hi". */
const tcp = hex("04d2 0050 00000001 00000000 5018 ffff 0000 0000");
const payload = hex("6869");
/** An IPv4 packet (127.0.0.1 -> 127.0.0.2) carrying the TCP segment, with `options` (hex) in its header. */
function ipv4(options = "", flagsAndOffset = "0000", protocol = "06"): Uint8Array {
  const ihl = 5 + options.length / 8;
  const total = (ihl * 4 + tcp.byteLength + payload.byteLength).toString(16).padStart(4, "0");
  const header = hex(
    `4${ihl.toString(16)}00 ${total} 0000 ${flagsAndOffset} 40${protocol} 0000 7f000001 7f000002 ${options}`,
  );
  return Uint8Array.from([...header, ...tcp, ...payload]);
}
/** An IPv6 packet (2001:db8::1 -> ::1) with `extensions` (hex) before the TCP segment; `firstNext` is hex. */
function ipv6(extensions: string, firstNext: string): Uint8Array {
  const ext = hex(extensions);
  const length = ext.byteLength + tcp.byteLength + payload.byteLength;
  return Uint8Array.from([
    ...hex(`60000000 ${length.toString(16).padStart(4, "0")} ${firstNext} 40`),
    ...hex("20010db8000000000000000000000001"),
    ...hex("00000000000000000000000000000001"),
    ...ext,
    ...tcp,
    ...payload,
  ]);
}

describe("from a frame to its TCP segment", () => {
  it("reads IPv4 with options, and skips fragments and other protocols", () => {
    const found = tcpSegmentOf(ipv4("01010101"));
    expect(found).toMatchObject({
      segment: { source: { host: "127.0.0.1", port: 1234 }, destination: { host: "127.0.0.2", port: 80 }, seq: 1 },
    });
    expect("segment" in found && [...found.segment.payload]).toEqual([...payload]);
    expect(tcpSegmentOf(ipv4("", "2000"))).toEqual({ skip: "fragment" });
    expect(tcpSegmentOf(ipv4("", "0010"))).toEqual({ skip: "fragment" });
    expect(tcpSegmentOf(ipv4("", "0000", "11"))).toEqual({ skip: "not-tcp" });
    expect(tcpSegmentOf(ipv4().subarray(0, 30))).toEqual({ skip: "malformed" });
  });

  it("walks IPv6 extension headers to TCP", () => {
    // hop-by-hop (8 bytes) -> destination options (8 bytes) -> TCP
    const found = tcpSegmentOf(ipv6("3c00 010400000000 0600 010400000000", "00"));
    expect(found).toMatchObject({ segment: { source: { host: "2001:db8::1" }, destination: { host: "::1" } } });
    expect(tcpSegmentOf(ipv6("0600 0001 00000000", "2c"))).toEqual({ skip: "fragment" }); // offset 0, more fragments
    expect(address6(hex("fe800000000000000000000000000001"), 0)).toBe("fe80::1");
    expect(address6(hex("20010db8000000010000000000000000"), 0)).toBe("2001:db8:0:1::");
  });

  it("strips Ethernet (with VLAN tags), Linux SLL and SLL2, and BSD loopback headers", () => {
    const ip = ipv4();
    const mac = "000000000000 000000000000";
    const cases: [number, Uint8Array][] = [
      [1, Uint8Array.from([...hex(`${mac} 8100 0001 88a8 0002 0800`), ...ip])],
      [113, Uint8Array.from([...hex("0000 0304 0006 000000000000 0000 0800"), ...ip])],
      [276, Uint8Array.from([...hex("0800 0000 00000001 0304 00 06 000000000000 0000"), ...ip])],
      [0, Uint8Array.from([...hex("02000000"), ...ip])],
      [0, Uint8Array.from([...hex("00000002"), ...ip])],
      [108, Uint8Array.from([...hex("00000002"), ...ip])],
      [101, ip],
    ];
    for (const [linkType, frame] of cases) {
      const link = ipPacketOf(linkType, frame);
      expect("ip" in link && [...link.ip]).toEqual([...ip]);
    }
    expect(ipPacketOf(1, hex(`${mac} 0806 0001`))).toEqual({ skip: "not-ip" });
    expect(ipPacketOf(147, ip)).toEqual({ skip: "unknown-link-type" });
  });
});
