/**
 * pcapng files (Wireshark's and tshark's default, tcpdump's `--pcapng` style): a sequence of blocks, each
 * `type, length, body, length`. A Section Header Block starts each section and fixes its byte order; Interface
 * Description Blocks describe the interfaces (link type, timestamp resolution and offset) that the packet blocks
 * (Enhanced, Simple, and the obsolete Packet Block) refer to by index. Blocks of other types are skipped by their
 * length. Spec: https://datatracker.ietf.org/doc/draft-ietf-opsawg-pcapng/ (sections 3, 4.1-4.4).
 */
import type { ByteQueue } from "./byte-queue.ts";
import { atByte, bytesCount, CaptureFormatError } from "./capture-error.ts";
import { MAX_RECORD_BYTES, type CaptureParser, type ParserSink } from "./capture-parser.ts";
import { plural } from "./captured-packet.ts";
import { interfaceFromBlock, timestampMicros, type PcapngInterface } from "./pcapng-interface.ts";

const SECTION_HEADER = 0x0a0d0d0a;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const INTERFACE_DESCRIPTION = 1;
const OBSOLETE_PACKET = 2;
const SIMPLE_PACKET = 3;
const ENHANCED_PACKET = 6;

/** Names of the blocks messages mention. */
const BLOCK_NAMES: Record<number, string> = {
  [SECTION_HEADER]: "Section Header Block",
  [INTERFACE_DESCRIPTION]: "Interface Description Block",
  [OBSOLETE_PACKET]: "Packet Block",
  [SIMPLE_PACKET]: "Simple Packet Block",
  4: "Name Resolution Block",
  5: "Interface Statistics Block",
  [ENHANCED_PACKET]: "Enhanced Packet Block",
  0x0a: "Decryption Secrets Block",
};

/** The smallest length of each block type this reader interprets: its fixed fields and the trailing length. */
const MIN_LENGTH: Record<number, number> = {
  [SECTION_HEADER]: 28,
  [INTERFACE_DESCRIPTION]: 20,
  [OBSOLETE_PACKET]: 32,
  [SIMPLE_PACKET]: 16,
  [ENHANCED_PACKET]: 32,
};

function blockName(type: number): string {
  return BLOCK_NAMES[type] ?? `block of type 0x${type.toString(16)}`;
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A block taken whole off the queue: its bytes (type and lengths included), where it began, its section's order. */
interface Block {
  type: number;
  bytes: Uint8Array;
  view: DataView;
  at: number;
  le: boolean;
}

/** Reads a pcapng file block by block. Created by the CaptureReader once it saw a Section Header Block's type. */
export class PcapngParser implements CaptureParser {
  readonly format = "pcapng";
  /** The byte order of the current section (true: little-endian); null before the first section header. */
  private littleEndian: boolean | null = null;
  private interfaces: PcapngInterface[] = [];
  /** The time of the last packet, for Simple Packet Blocks, which have none. */
  private lastMicros = 0;

  constructor(private readonly sink: ParserSink) {}

  parse(queue: ByteQueue): void {
    while (this.readBlock(queue)) {
      // each step consumed one whole block
    }
  }

  unfinished(queue: ByteQueue): { what: string; at: number; missing: number } {
    const head = queue.peek(Math.min(queue.length, 12));
    if (head.byteLength < 12) return { what: "block header", at: queue.position, missing: 12 - head.byteLength };
    const { type, length } = this.blockHeader(head, queue.position);
    return { what: blockName(type), at: queue.position, missing: length - queue.length };
  }

  /** Type and total length of the block starting with `head` (12 bytes: a section header's byte order needs them). */
  private blockHeader(head: Uint8Array, at: number): { type: number; length: number; le: boolean } {
    const v = view(head);
    let le = this.littleEndian;
    // A section header's type reads the same in both orders; its byte-order magic says which one the section uses.
    if (v.getUint32(0, true) === SECTION_HEADER) {
      const magic = v.getUint32(8, true);
      if (magic === BYTE_ORDER_MAGIC) le = true;
      else if (magic === 0x4d3c2b1a) le = false;
      else {
        throw new CaptureFormatError(
          `Section Header Block at ${atByte(at)} has no byte-order magic (1a2b3c4d) at ${atByte(at + 8)}: the file is corrupt`,
        );
      }
    }
    if (le === null) {
      throw new CaptureFormatError(
        `not a pcapng file: the block at ${atByte(at)} comes before any Section Header Block`,
      );
    }
    return { type: v.getUint32(0, le), length: v.getUint32(4, le), le };
  }

  /** Takes one whole block off the queue and interprets it; false when the queue holds less than a block. */
  private readBlock(queue: ByteQueue): boolean {
    if (queue.length < 12) return false;
    const at = queue.position;
    const { type, length, le } = this.blockHeader(queue.peek(12), at);
    this.checkLength(type, length, at);
    if (queue.length < length) return false;
    const bytes = queue.consume(length);
    const v = view(bytes);
    const trailer = v.getUint32(length - 4, le);
    if (trailer !== length) {
      throw new CaptureFormatError(
        `${blockName(type)} at ${atByte(at)} says it is ${bytesCount(length)} long at its start and ${bytesCount(trailer)} ` +
          "at its end: the file is corrupt from there on",
      );
    }
    this.interpret({ type, bytes, view: v, at, le });
    return true;
  }

  /** Refuses a length no block can have, before anything is buffered for it. */
  private checkLength(type: number, length: number, at: number): void {
    const min = MIN_LENGTH[type] ?? 12;
    let wrong: string | null = null;
    if (length < min) wrong = `the smallest ${blockName(type)} is ${bytesCount(min)}`;
    else if (length % 4 !== 0) wrong = "block lengths are multiples of 4";
    else if (length > MAX_RECORD_BYTES)
      wrong = `that is more than the ${bytesCount(MAX_RECORD_BYTES)} this reader accepts`;
    if (wrong !== null) {
      throw new CaptureFormatError(
        `${blockName(type)} at ${atByte(at)} says it is ${bytesCount(length)} long, but ${wrong}: the file is corrupt from there on`,
      );
    }
  }

  private interpret(block: Block): void {
    switch (block.type) {
      case SECTION_HEADER:
        return this.sectionHeader(block);
      case INTERFACE_DESCRIPTION:
        this.interfaces.push(interfaceFromBlock(block.bytes, block.le, block.at));
        return;
      case ENHANCED_PACKET:
        return this.timedPacket(block, block.view.getUint32(8, block.le));
      case SIMPLE_PACKET:
        return this.simplePacket(block);
      case OBSOLETE_PACKET:
        return this.timedPacket(block, block.view.getUint16(8, block.le));
      default:
      // Statistics, name resolution, secrets, custom blocks: nothing an import needs.
    }
  }

  /** A new section: its own byte order and its own interfaces. */
  private sectionHeader(block: Block): void {
    const major = block.view.getUint16(12, block.le);
    if (major !== 1) {
      throw new CaptureFormatError(
        `Section Header Block at ${atByte(block.at)} says pcapng version ${major}; this reader knows version 1 only`,
      );
    }
    this.littleEndian = block.le;
    this.interfaces = [];
  }

  private interfaceOf(block: Block, index: number): PcapngInterface {
    const iface = this.interfaces[index];
    if (iface === undefined) {
      throw new CaptureFormatError(
        `${blockName(block.type)} at ${atByte(block.at)} refers to interface ${index}, but its section describes ` +
          `${plural(this.interfaces.length, "interface")} before it (an Interface Description Block is missing): the file is corrupt`,
      );
    }
    return iface;
  }

  /** The packet data of a block, after checking that its captured length fits the block. */
  private packetData(block: Block, start: number, captured: number): Uint8Array {
    const room = block.bytes.byteLength - 4 - start;
    if (captured > room) {
      throw new CaptureFormatError(
        `${blockName(block.type)} at ${atByte(block.at)} says its packet is ${bytesCount(captured)}, but the block has ` +
          `room for ${bytesCount(room)}: the file is corrupt`,
      );
    }
    return block.bytes.subarray(start, start + captured);
  }

  /**
   * An Enhanced Packet Block, or the obsolete Packet Block: the same fields after the interface index (a 32-bit
   * index in the first, a 16-bit index and a drop count in the second).
   */
  private timedPacket(block: Block, interfaceIndex: number): void {
    const v = block.view;
    const iface = this.interfaceOf(block, interfaceIndex);
    const data = this.packetData(block, 28, v.getUint32(20, block.le));
    const time = timestampMicros(iface, v.getUint32(12, block.le), v.getUint32(16, block.le));
    this.emit(iface, time, data, v.getUint32(24, block.le));
  }

  /** A Simple Packet Block: interface 0, no timestamp (it gets the previous packet's), no captured length. */
  private simplePacket(block: Block): void {
    const iface = this.interfaceOf(block, 0);
    const original = block.view.getUint32(8, block.le);
    const room = block.bytes.byteLength - 16;
    const captured = Math.min(original, room, iface.snapLength === 0 ? room : iface.snapLength);
    this.sink.warnings.count(
      "pcapng-simple-packet",
      (n) => `${plural(n, "Simple Packet Block")} carry no timestamp: each was given the time of the packet before it`,
    );
    this.emit(iface, this.lastMicros, block.bytes.subarray(12, 12 + captured), original);
  }

  private emit(iface: PcapngInterface, timeMicros: number, data: Uint8Array, originalLength: number): void {
    this.lastMicros = timeMicros;
    this.sink.packetRead({ timeMicros, linkType: iface.linkType, data, originalLength });
  }
}
