import { describe, expect, it } from "vitest";
import {
  ACK,
  addressBytes,
  BadAddressError,
  mappedToIPv6,
  MAX_SEGMENT_PAYLOAD,
  PSH,
  SYN,
  synOptions,
  tcpFrame,
  type FrameEnd,
} from "./tcp-packet.ts";

const mac = (n: number) => Uint8Array.of(2, 0, 0, 0, 0, n);
const end = (host: string, port: number, n: number): FrameEnd => ({ ip: addressBytes(host), port, mac: mac(n) });

/** The RFC 1071 sum of a range, folded: a range holding its own correct checksum sums to 0xffff. */
function onesSum(bytes: Uint8Array, start = 0, end = bytes.byteLength): number {
  let acc = 0;
  for (let i = start; i < end; i += 2) acc += (bytes[i]! << 8) | (i + 1 < end ? bytes[i + 1]! : 0);
  while (acc > 0xffff) acc = (acc & 0xffff) + (acc >>> 16);
  return acc;
}

/** The TCP checksum check as a receiver does it: pseudo-header + segment must sum to 0xffff. */
function tcpSumOk(frame: Uint8Array): boolean {
  const v4 = frame[12] === 0x08;
  const ipLen = v4 ? 20 : 40;
  const tcp = 14 + ipLen;
  const src = v4 ? frame.subarray(26, 30) : frame.subarray(22, 38);
  const dst = v4 ? frame.subarray(30, 34) : frame.subarray(38, 54);
  const tcpLength = frame.byteLength - tcp;
  const pseudo = new Uint8Array([...src, ...dst, 0, 6, tcpLength >> 8, tcpLength & 0xff]);
  let acc = onesSum(pseudo) + onesSum(frame, tcp);
  while (acc > 0xffff) acc = (acc & 0xffff) + (acc >>> 16);
  return acc === 0xffff;
}

describe("addressBytes", () => {
  it.each([
    ["127.0.0.1", [127, 0, 0, 1]],
    ["::1", [...Array(15).fill(0), 1]],
    ["::", Array(16).fill(0)],
    ["fe80::1%eth0", [0xfe, 0x80, ...Array(13).fill(0), 1]],
    ["2001:db8::ff00:42:8329", [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0xff, 0, 0, 0x42, 0x83, 0x29]],
    ["::ffff:10.1.2.3", [...Array(10).fill(0), 0xff, 0xff, 10, 1, 2, 3]],
    ["1:2:3:4:5:6:7:8", [0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8]],
  ])("reads %s", (text, bytes) => {
    expect([...addressBytes(text)]).toEqual(bytes);
  });

  it.each(["", "localhost", "/tmp/socket", "256.0.0.1", "1::2::3"])("refuses %j with a sentence", (text) => {
    expect(() => addressBytes(text)).toThrow(BadAddressError);
    expect(() => addressBytes(text)).toThrow(/is not an IPv4 or IPv6 address/);
  });

  it("maps IPv4 into IPv6", () => {
    expect([...mappedToIPv6(Uint8Array.of(127, 0, 0, 1))]).toEqual([...addressBytes("::ffff:127.0.0.1")]);
  });
});

describe("tcpFrame", () => {
  const payload = Uint8Array.from({ length: 1001 }, (_, i) => (i * 31) & 0xff); // odd length: a padded last word

  it("builds IPv4 with both checksums right and the fields a capture shows", () => {
    const frame = tcpFrame({
      from: end("127.0.0.1", 40000, 1),
      to: end("10.0.0.2", 6379, 2),
      seq: 2 ** 32 + 5, // taken modulo 2^32
      ack: 7,
      flags: ACK | PSH,
      window: 0xffff,
      payload,
      ipId: 9,
    });
    expect(frame.byteLength).toBe(14 + 20 + 20 + 1001);
    expect([...frame.subarray(0, 12)]).toEqual([...mac(2), ...mac(1)]);
    const view = Buffer.from(frame);
    expect(view.readUInt16BE(12)).toBe(0x0800);
    expect(view.readUInt16BE(16)).toBe(20 + 20 + 1001);
    expect(onesSum(frame, 14, 34)).toBe(0xffff);
    expect(tcpSumOk(frame)).toBe(true);
    expect(view.readUInt16BE(34)).toBe(40000);
    expect(view.readUInt16BE(36)).toBe(6379);
    expect(view.readUInt32BE(38)).toBe(5);
    expect(view.readUInt32BE(42)).toBe(7);
    expect(frame[47]).toBe(ACK | PSH);
    expect(Buffer.from(frame.subarray(54)).equals(Buffer.from(payload))).toBe(true);
  });

  it("builds IPv6 with the TCP checksum over its pseudo-header", () => {
    const frame = tcpFrame({
      from: end("::1", 1, 1),
      to: end("2001:db8::1", 2, 2),
      seq: 1,
      ack: 0,
      flags: SYN,
      window: 0xffff,
      options: synOptions(MAX_SEGMENT_PAYLOAD, 7),
      ipId: 1,
    });
    const view = Buffer.from(frame);
    expect(view.readUInt16BE(12)).toBe(0x86dd);
    expect(view.readUInt16BE(18)).toBe(28); // payload length: TCP header with 8 bytes of options
    expect(frame[54 + 12]! >> 4).toBe(7); // data offset in words
    expect(view.readUInt32BE(54 + 8)).toBe(0); // no ACK flag: the acknowledgement field is 0
    expect(tcpSumOk(frame)).toBe(true);
  });

  it("takes the largest payload that keeps an IPv4 packet valid, and no more", () => {
    const from = end("127.0.0.1", 1, 1);
    const to = end("127.0.0.1", 2, 2);
    const big = new Uint8Array(MAX_SEGMENT_PAYLOAD).fill(0xff);
    const frame = tcpFrame({ from, to, seq: 0, ack: 0, flags: ACK, window: 1, payload: big, ipId: 1 });
    expect(Buffer.from(frame).readUInt16BE(16)).toBe(65_535);
    expect(onesSum(frame, 14, 34)).toBe(0xffff);
    expect(tcpSumOk(frame)).toBe(true);
    const tooBig = new Uint8Array(MAX_SEGMENT_PAYLOAD + 1);
    expect(() => tcpFrame({ from, to, seq: 0, ack: 0, flags: ACK, window: 1, payload: tooBig, ipId: 1 })).toThrow(
      RangeError,
    );
  });

  it("refuses ends of different families", () => {
    expect(() =>
      tcpFrame({ from: end("::1", 1, 1), to: end("127.0.0.1", 2, 2), seq: 0, ack: 0, flags: ACK, window: 1, ipId: 1 }),
    ).toThrow(/need IPv4 addresses, or both IPv6/);
  });
});
