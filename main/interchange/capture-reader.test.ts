import { describe, expect, it } from "vitest";
import { importCaptureBytes } from "./capture-import.ts";
import { CaptureFormatError, CaptureReader } from "./capture-reader.ts";
import type { CapturedPacket } from "./captured-packet.ts";

/** A pcapng block of `type` with `body`, in byte order `le`; `length` overrides the total length written. */
function block(type: number, body: Uint8Array, le = true, length?: number): Uint8Array {
  const padded = Math.ceil(body.byteLength / 4) * 4;
  const total = 12 + padded;
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  v.setUint32(0, type, le);
  v.setUint32(4, length ?? total, le);
  out.set(body, 8);
  v.setUint32(total - 4, length ?? total, le);
  return out;
}

function fields(le: boolean, ...parts: [bits: 8 | 16 | 32, value: number][]): Uint8Array {
  const size = parts.reduce((n, [bits]) => n + bits / 8, 0);
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  let at = 0;
  for (const [bits, value] of parts) {
    if (bits === 8) v.setUint8(at, value);
    else if (bits === 16) v.setUint16(at, value, le);
    else v.setUint32(at, value >>> 0, le);
    at += bits / 8;
  }
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

const shb = (le = true) =>
  block(0x0a0d0d0a, concat(fields(le, [32, 0x1a2b3c4d], [16, 1], [16, 0]), new Uint8Array(8).fill(0xff)), le);
/** An IDB with optional if_tsresol (code 9) and if_tsoffset (code 14). */
function idb(linkType: number, le = true, tsresol?: number, tsoffset?: bigint): Uint8Array {
  const options: Uint8Array[] = [];
  if (tsresol !== undefined) options.push(fields(le, [16, 9], [16, 1], [8, tsresol], [8, 0], [16, 0]));
  if (tsoffset !== undefined) {
    const o = new Uint8Array(12);
    const v = new DataView(o.buffer);
    v.setUint16(0, 14, le);
    v.setUint16(2, 8, le);
    v.setBigInt64(4, tsoffset, le);
    options.push(o);
  }
  if (options.length) options.push(fields(le, [16, 0], [16, 0]));
  return block(1, concat(fields(le, [16, linkType], [16, 0], [32, 0]), ...options), le);
}
function epb(iface: number, units: bigint, data: Uint8Array, le = true): Uint8Array {
  const high = Number(units >> 32n);
  const low = Number(units & 0xffffffffn);
  return block(
    6,
    concat(fields(le, [32, iface], [32, high], [32, low], [32, data.byteLength], [32, data.byteLength]), data),
    le,
  );
}

function read(file: Uint8Array, chunk = file.byteLength || 1): { packets: CapturedPacket[]; warnings: string[] } {
  const packets: CapturedPacket[] = [];
  const reader = new CaptureReader((p) => packets.push({ ...p, data: p.data.slice() }));
  for (let at = 0; at < file.byteLength; at += chunk) reader.push(file.subarray(at, at + chunk));
  reader.end();
  return { packets, warnings: reader.warnings.list() };
}

function failure(file: Uint8Array): string {
  try {
    read(file);
  } catch (err) {
    expect(err).toBeInstanceOf(CaptureFormatError);
    expect((err as CaptureFormatError).code).toBe("bad-capture");
    return (err as Error).message;
  }
  throw new Error("expected a CaptureFormatError");
}

const payload = new Uint8Array([1, 2, 3, 4, 5]);

describe("pcapng", () => {
  it("reads sections of both byte orders, timestamp resolutions and offsets, EPB, SPB, the obsolete PB", () => {
    const spb = block(3, concat(fields(true, [32, 5]), payload));
    const obsolete = block(
      2,
      concat(fields(false, [16, 0], [16, 0], [32, 0], [32, 2_000_000], [32, 5], [32, 5]), payload),
      false,
    );
    const file = concat(
      shb(true),
      idb(1, true), // µs
      idb(101, true, 9, 100n), // ns, +100 s
      epb(0, 1_700_000_000_123_456n, payload),
      block(0xbad, new Uint8Array(7)), // unknown: skipped
      epb(1, 1_700_000_000_123_456_789n, payload),
      spb,
      shb(false),
      idb(228, false, 0x80 | 10), // 2^-10 s
      epb(0, 1024n * 5n + 512n, payload, false),
      obsolete,
    );
    for (const chunk of [file.byteLength, 1, 7]) {
      const { packets, warnings } = read(file, chunk);
      expect(packets.map((p) => [p.linkType, p.timeMicros, [...p.data]])).toEqual([
        [1, 1_700_000_000_123_456, [...payload]],
        [101, 1_700_000_100_123_456, [...payload]], // ns, and if_tsoffset's 100 s
        [1, 1_700_000_100_123_456, [...payload]], // SPB: interface 0, the time of the packet before it
        [228, 5_500_000, [...payload]], // 5.5 * 2^10 units of 2^-10 s
        [228, 1_953_125_000, [...payload]], // 2,000,000 units of 2^-10 s
      ]);
      expect(warnings).toEqual([
        "1 Simple Packet Block carry no timestamp: each was given the time of the packet before it",
      ]);
    }
  });

  it("refuses impossible block lengths before buffering anything", () => {
    const header = concat(shb(), idb(1));
    expect(failure(concat(header, block(6, new Uint8Array(20), true, 0)))).toMatch(
      /^Enhanced Packet Block at byte 48 says it is 0 bytes long, but the smallest Enhanced Packet Block is 32 bytes/,
    );
    expect(failure(concat(header, block(6, new Uint8Array(24), true, 38)))).toMatch(
      /says it is 38 bytes long, but block lengths are multiples of 4: the file is corrupt from there on$/,
    );
    expect(failure(concat(header, block(6, new Uint8Array(24), true, 0x7ffffff0)))).toMatch(
      /says it is 2,147,483,632 bytes long, but that is more than the 268,435,456 bytes this reader accepts/,
    );
    expect(failure(concat(header, block(6, new Uint8Array(24), true, 400)))).toBe(
      "truncated Enhanced Packet Block at byte 48: the file ends 364 bytes early — was the capture stopped while writing? No packet before it is whole.",
    );
    const mismatched = block(6, new Uint8Array(24));
    new DataView(mismatched.buffer).setUint32(mismatched.byteLength - 4, 40, true);
    expect(failure(concat(header, mismatched))).toMatch(
      /says it is 36 bytes long at its start and 40 bytes at its end/,
    );
  });

  it("refuses a packet before any Interface Description Block", () => {
    expect(failure(concat(shb(), epb(0, 0n, payload)))).toBe(
      "Enhanced Packet Block at byte 28 refers to interface 0, but its section describes 0 interfaces before it " +
        "(an Interface Description Block is missing): the file is corrupt",
    );
  });

  it("keeps the packets before a cut-short last block, with a warning", () => {
    const file = concat(shb(), idb(1), epb(0, 0n, payload), epb(0, 1n, payload));
    const { packets, warnings } = read(file.subarray(0, file.byteLength - 3));
    expect(packets).toHaveLength(1);
    expect(warnings).toEqual([
      "truncated Enhanced Packet Block at byte 88: the file ends 3 bytes early — was the capture stopped while writing? The 1 packets before it were imported.",
    ]);
  });
});

describe("pcap", () => {
  function pcap(magic: number, le: boolean, linkType: number, records: [number, number, Uint8Array][]): Uint8Array {
    const header = fields(le, [32, magic], [16, 2], [16, 4], [32, 0], [32, 0], [32, 65535], [32, linkType]);
    return concat(
      header,
      ...records.map(([s, f, d]) => concat(fields(le, [32, s], [32, f], [32, d.byteLength], [32, d.byteLength]), d)),
    );
  }

  it("reads both byte orders, µs and ns", () => {
    for (const le of [true, false]) {
      expect(read(pcap(0xa1b2c3d4, le, 1, [[10, 20, payload]])).packets[0]).toMatchObject({ timeMicros: 10_000_020 });
      expect(read(pcap(0xa1b23c4d, le, 113, [[10, 20_999, payload]])).packets[0]).toMatchObject({
        timeMicros: 10_000_020,
        linkType: 113,
      });
    }
  });

  it("refuses a record length no packet has", () => {
    const file = pcap(0xa1b2c3d4, true, 1, [[0, 0, payload]]);
    new DataView(file.buffer).setUint32(24 + 8, 0x40000000, true);
    expect(failure(file)).toMatch(/^packet record at byte 24 says it holds 1,073,741,824 bytes, more than the/);
  });
});

describe("files that are not captures", () => {
  it("says what they look like", () => {
    expect(failure(new Uint8Array())).toBe("the file is empty: a capture file starts with a pcap or pcapng header");
    expect(failure(new Uint8Array([0xa1]))).toBe("the file is only 1 byte long: too short to be a capture");
    expect(failure(new TextEncoder().encode("GET / HTTP/1.1\r\n"))).toMatch(
      /^not a capture file: it looks like a text file, where a pcap file starts with a1 b2 c3 d4/,
    );
    expect(failure(new Uint8Array([0x1f, 0x8b, 8, 0, 0]))).toMatch(/compressed with gzip .* Decompress it \(gunzip\)/);
    expect(failure(new Uint8Array([0, 1, 2, 3, 4]))).toMatch(/^not a capture file: it starts with 00 01 02 03, where/);
  });

  it("an import of a header-only capture has no conversations and no warnings", () => {
    expect(importCaptureBytes(concat(shb(), idb(1)))).toEqual({
      format: "pcapng",
      packets: 0,
      conversations: [],
      warnings: [],
    });
  });
});
