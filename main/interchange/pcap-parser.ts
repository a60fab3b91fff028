/**
 * Classic libpcap files (tcpdump's `-w`, tshark's `-F pcap`): a 24-byte file header, then records of a 16-byte
 * header and the packet. The magic number says the byte order of the machine that wrote it and whether times are in
 * µs (a1b2c3d4) or ns (a1b23c4d); a1b2cd34 is Alexey Kuznetzov's patched format with 8 more bytes per record.
 * Spec: https://datatracker.ietf.org/doc/draft-ietf-opsawg-pcap/ (sections 4 and 5).
 */
import type { ByteQueue } from "./byte-queue.ts";
import { atByte, bytesCount, CaptureFormatError } from "./capture-error.ts";
import { MAX_RECORD_BYTES, type CaptureParser, type ParserSink } from "./capture-parser.ts";

const FILE_HEADER_BYTES = 24;

/** The magics, as read little-endian, and what each means. */
const MAGICS: Record<number, { littleEndian: boolean; nanos: boolean; recordHeader: number }> = {
  0xa1b2c3d4: { littleEndian: true, nanos: false, recordHeader: 16 },
  0xd4c3b2a1: { littleEndian: false, nanos: false, recordHeader: 16 },
  0xa1b23c4d: { littleEndian: true, nanos: true, recordHeader: 16 },
  0x4d3cb2a1: { littleEndian: false, nanos: true, recordHeader: 16 },
  0xa1b2cd34: { littleEndian: true, nanos: false, recordHeader: 24 },
  0x34cdb2a1: { littleEndian: false, nanos: false, recordHeader: 24 },
};

/** Whether the first four bytes (read little-endian) are a pcap magic. */
export function isPcapMagic(magic: number): boolean {
  return magic in MAGICS;
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Reads a pcap file, record by record. Created by the CaptureReader once it saw a pcap magic. */
export class PcapParser implements CaptureParser {
  readonly format = "pcap";
  private header: { littleEndian: boolean; nanos: boolean; recordHeader: number; linkType: number } | null = null;

  constructor(private readonly sink: ParserSink) {}

  parse(queue: ByteQueue): void {
    while (this.header === null ? this.readFileHeader(queue) : this.readRecord(queue, this.header)) {
      // each step consumed one whole header or record
    }
  }

  unfinished(queue: ByteQueue): { what: string; at: number; missing: number } {
    if (this.header === null) {
      return { what: "pcap file header", at: 0, missing: FILE_HEADER_BYTES - queue.length };
    }
    const headerBytes = this.header.recordHeader;
    if (queue.length < headerBytes) {
      return { what: "packet record header", at: queue.position, missing: headerBytes - queue.length };
    }
    const length = view(queue.peek(headerBytes)).getUint32(8, this.header.littleEndian);
    return { what: "packet record", at: queue.position, missing: headerBytes + length - queue.length };
  }

  /** The file header: magic, version 2.x, snapshot length, link type. */
  private readFileHeader(queue: ByteQueue): boolean {
    if (queue.length < FILE_HEADER_BYTES) return false;
    const bytes = queue.consume(FILE_HEADER_BYTES);
    const v = view(bytes);
    const magic = MAGICS[v.getUint32(0, true)];
    if (magic === undefined) throw new CaptureFormatError("not a pcap file: the magic number at byte 0 is wrong");
    const major = v.getUint16(4, magic.littleEndian);
    if (major !== 2) {
      throw new CaptureFormatError(
        `pcap file header at byte 0 says version ${major}.${v.getUint16(6, magic.littleEndian)}; only version 2 exists: the file is corrupt`,
      );
    }
    // The upper bits of the link-type field carry the FCS length; the link type is the low 16 bits.
    this.header = { ...magic, linkType: v.getUint32(20, magic.littleEndian) & 0xffff };
    return true;
  }

  /** One record: timestamp, captured length, original length, the packet. */
  private readRecord(
    queue: ByteQueue,
    header: { littleEndian: boolean; nanos: boolean; recordHeader: number; linkType: number },
  ): boolean {
    if (queue.length < header.recordHeader) return false;
    const start = queue.position;
    const v = view(queue.peek(header.recordHeader));
    const captured = v.getUint32(8, header.littleEndian);
    if (captured > MAX_RECORD_BYTES) {
      throw new CaptureFormatError(
        `packet record at ${atByte(start)} says it holds ${bytesCount(captured)}, more than the ${bytesCount(MAX_RECORD_BYTES)} ` +
          "any packet can have: the file is corrupt from there on",
      );
    }
    if (queue.length < header.recordHeader + captured) return false;
    const record = queue.consume(header.recordHeader + captured);
    const seconds = v.getUint32(0, header.littleEndian);
    const fraction = v.getUint32(4, header.littleEndian);
    this.sink.packetRead({
      timeMicros: seconds * 1_000_000 + (header.nanos ? Math.floor(fraction / 1000) : fraction),
      linkType: header.linkType,
      data: record.subarray(header.recordHeader),
      originalLength: v.getUint32(12, header.littleEndian),
    });
    return true;
  }
}
