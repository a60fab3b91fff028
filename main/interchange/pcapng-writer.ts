/**
 * A pcapng writer (draft-ietf-opsawg-pcapng, https://datatracker.ietf.org/doc/draft-ietf-opsawg-pcapng/): one
 * section with one Ethernet interface whose timestamps are in microseconds, and Enhanced Packet Blocks, each with
 * its comments. Little-endian, as the section's byte-order magic says. Blocks are written to the file as they are
 * made, in batches, so an export of any size takes a batch's memory, not the file's.
 */
import type { FileHandle } from "node:fs/promises";
import * as fsp from "node:fs/promises";
import { LINKTYPE_ETHERNET } from "./assigned-numbers.ts";

/** Block types (draft §4.1). */
const SECTION_HEADER_BLOCK = 0x0a0d0d0a;
const INTERFACE_DESCRIPTION_BLOCK = 0x00000001;
const ENHANCED_PACKET_BLOCK = 0x00000006;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

/** Option codes (draft §3.5, §4.1, §4.2). */
const OPT_ENDOFOPT = 0;
const OPT_COMMENT = 1;
const SHB_USERAPPL = 4;
const IF_TSRESOL = 9;

/** The interface's snapshot length: frames are never cut (the largest frame here is 14 + 65,535 bytes). */
const SNAP_LENGTH = 262_144;
/** An option's value is at most this long (its length field has 16 bits); a longer comment is cut (see utf8). */
const MAX_OPTION_BYTES = 0xffff;
/** What ends a comment that was cut. */
const ELLIPSIS = Buffer.from("…", "utf8");
/** Blocks are written once this many bytes are waiting. */
const BATCH_BYTES = 1 << 20;

/** What the section header says about the file. */
export interface PcapngSection {
  /** shb_userappl: the program that wrote the file. */
  application: string;
  /** Comments on the whole file (Wireshark shows them in Statistics > Capture File Properties). */
  comments?: readonly string[];
}

/** One packet: when (µs since the Unix epoch), its Ethernet frame, and the comments shown with it. */
export interface PcapngPacket {
  timestampMicros: number;
  frame: Uint8Array;
  comments?: readonly string[];
}

/**
 * Writes one pcapng file. Created by `create`, which writes the section header and the interface description;
 * the caller awaits each `writePacket` (which writes a batch when one is full) and then `close`s, or `discard`s
 * a file it gave up on. The writer owns the file handle until then.
 */
export class PcapngWriter {
  private batch: Uint8Array[] = [];
  private batched = 0;
  private written = 0;
  /** Packets written so far. */
  packets = 0;

  private constructor(
    /** The file being written. */
    readonly file: string,
    private readonly handle: FileHandle,
  ) {}

  /**
   * Creates `file`, which must not exist (an EEXIST error says so: the caller picks another name), and starts it
   * with the section header and the one interface (Ethernet, microsecond timestamps).
   */
  static async create(file: string, section: PcapngSection): Promise<PcapngWriter> {
    const writer = new PcapngWriter(file, await fsp.open(file, "wx"));
    writer.add(sectionHeaderBlock(section));
    writer.add(interfaceDescriptionBlock());
    return writer;
  }

  /** Bytes in the file once everything given so far is written. */
  get bytes(): number {
    return this.written + this.batched;
  }

  /** Adds a packet on interface 0; writes the batch when it is full. */
  async writePacket(packet: PcapngPacket): Promise<void> {
    this.add(enhancedPacketBlock(packet));
    this.packets += 1;
    if (this.batched >= BATCH_BYTES) await this.flush();
  }

  /** Writes what is batched and closes the file. */
  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      await this.handle.close();
    }
  }

  /** Closes and removes the file: an export that failed leaves nothing half-written behind. */
  async discard(): Promise<void> {
    await this.handle.close().catch(() => {});
    await fsp.rm(this.file, { force: true });
  }

  private add(block: Uint8Array): void {
    this.batch.push(block);
    this.batched += block.byteLength;
  }

  private async flush(): Promise<void> {
    const batch = this.batch;
    this.batch = [];
    let offset = 0;
    while (offset < this.batched) {
      const { bytesWritten } = await this.handle.writev(skip(batch, offset));
      offset += bytesWritten;
    }
    this.written += this.batched;
    this.batched = 0;
  }
}

/** `buffers` without their first `n` bytes (after a short write). */
function skip(buffers: Uint8Array[], n: number): Uint8Array[] {
  if (n === 0) return buffers;
  const out: Uint8Array[] = [];
  for (const b of buffers) {
    if (n >= b.byteLength) n -= b.byteLength;
    else {
      out.push(b.subarray(n));
      n = 0;
    }
  }
  return out;
}

/** The Section Header Block (draft §4.1): version 1.0, section length unknown (-1). */
export function sectionHeaderBlock(section: PcapngSection): Uint8Array {
  const body = Buffer.alloc(16);
  body.writeUInt32LE(BYTE_ORDER_MAGIC, 0);
  body.writeUInt16LE(1, 4);
  body.writeUInt16LE(0, 6);
  body.writeBigInt64LE(-1n, 8);
  const options = [
    ...(section.comments ?? []).map((c) => option(OPT_COMMENT, utf8(c))),
    option(SHB_USERAPPL, utf8(section.application)),
  ];
  return block(SECTION_HEADER_BLOCK, body, options);
}

/** The Interface Description Block (draft §4.2): Ethernet, timestamps in microseconds (if_tsresol = 6). */
export function interfaceDescriptionBlock(): Uint8Array {
  const body = Buffer.alloc(8);
  body.writeUInt16LE(LINKTYPE_ETHERNET, 0);
  body.writeUInt32LE(SNAP_LENGTH, 4);
  return block(INTERFACE_DESCRIPTION_BLOCK, body, [option(IF_TSRESOL, Uint8Array.of(6))]);
}

/** An Enhanced Packet Block (draft §4.3) on interface 0, its comments as opt_comment options. */
export function enhancedPacketBlock(packet: PcapngPacket): Uint8Array {
  const ts = Math.round(packet.timestampMicros);
  if (!Number.isSafeInteger(ts) || ts < 0)
    throw new RangeError(`a packet's timestamp must be µs since 1970, not ${ts}`);
  const length = packet.frame.byteLength;
  const body = Buffer.alloc(20 + padded(length));
  body.writeUInt32LE(0, 0);
  body.writeUInt32LE(Math.floor(ts / 2 ** 32), 4);
  body.writeUInt32LE(ts % 2 ** 32, 8);
  body.writeUInt32LE(length, 12);
  body.writeUInt32LE(length, 16);
  body.set(packet.frame, 20);
  return block(
    ENHANCED_PACKET_BLOCK,
    body,
    (packet.comments ?? []).map((c) => option(OPT_COMMENT, utf8(c))),
  );
}

/** A block: type, total length, body, options (ended by opt_endofopt when there are any), total length again. */
function block(type: number, body: Uint8Array, options: Uint8Array[]): Uint8Array {
  const optionBytes = options.reduce((n, o) => n + o.byteLength, 0) + (options.length > 0 ? 4 : 0);
  const total = 8 + body.byteLength + optionBytes + 4;
  const out = Buffer.alloc(total); // zeroed: the padding and opt_endofopt are zeros
  out.writeUInt32LE(type, 0);
  out.writeUInt32LE(total, 4);
  out.set(body, 8);
  let at = 8 + body.byteLength;
  for (const o of options) {
    out.set(o, at);
    at += o.byteLength;
  }
  if (options.length > 0) out.writeUInt16LE(OPT_ENDOFOPT, at);
  out.writeUInt32LE(total, total - 4);
  return out;
}

/** One option: code, length, value padded to 32 bits (draft §3.5). */
function option(code: number, value: Uint8Array): Uint8Array {
  const out = Buffer.alloc(4 + padded(value.byteLength));
  out.writeUInt16LE(code, 0);
  out.writeUInt16LE(value.byteLength, 2);
  out.set(value, 4);
  return out;
}

/**
 * UTF-8 bytes of `text` for an option. A NUL, where Wireshark would end the comment, is written as the two
 * characters `\0` (the send box's escape for it). Text too long for an option is cut at a character boundary and
 * ends with "…", so that a reader sees it was cut.
 */
function utf8(text: string): Uint8Array {
  const bytes = Buffer.from(text.replaceAll("\0", "\\0"), "utf8");
  if (bytes.byteLength <= MAX_OPTION_BYTES) return bytes;
  let end = MAX_OPTION_BYTES - ELLIPSIS.byteLength;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end -= 1; // don't split a character
  return Buffer.concat([bytes.subarray(0, end), ELLIPSIS]);
}

function padded(n: number): number {
  return (n + 3) & ~3;
}
