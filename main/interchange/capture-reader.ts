/**
 * Reads a capture file (pcap or pcapng, as tcpdump, tshark, dumpcap and Wireshark write them) as a stream of
 * packets. The format is told by the magic number at byte 0; the parts (pcap-parser.ts, pcapng-parser.ts) read
 * records off one queue of the file's chunks, so a file is read as it streams in and no record is copied unless it
 * spans two chunks.
 *
 * Guarantees: a file that can't be a capture, or whose structure is broken, throws CaptureFormatError (code
 * "bad-capture") naming the byte offset and what was wrong; nothing else is thrown for any input. A file cut short
 * in its last record (a capture stopped while writing) keeps the packets before it and says so in a warning.
 */
import { ByteQueue } from "./byte-queue.ts";
import { atByte, bytesCount, CaptureFormatError } from "./capture-error.ts";
import type { CaptureParser } from "./capture-parser.ts";
import { WarningTally, type CapturedPacket } from "./captured-packet.ts";
import { isPcapMagic, PcapParser } from "./pcap-parser.ts";
import { PcapngParser } from "./pcapng-parser.ts";

export { CaptureFormatError } from "./capture-error.ts";

const PCAPNG_MAGIC = 0x0a0d0d0a;

/**
 * Feeds a capture file's bytes, chunk after chunk, to the parser of its format. The owner calls `push` for each
 * chunk and `end` once; `packetRead` is called synchronously, in file order, for each whole packet.
 */
export class CaptureReader {
  /** Known once the first four bytes arrived. */
  format: "pcap" | "pcapng" | null = null;
  /** Packets read so far. */
  packets = 0;
  readonly warnings: WarningTally;
  private readonly queue = new ByteQueue();
  private parser: CaptureParser | null = null;
  private readonly packetRead: (packet: CapturedPacket) => void;

  constructor(packetRead: (packet: CapturedPacket) => void, warnings = new WarningTally()) {
    this.warnings = warnings;
    this.packetRead = (packet) => {
      this.packets += 1;
      packetRead(packet);
    };
  }

  /** Adds the next chunk of the file and reads every record it completes. The queue keeps `chunk` (no copy). */
  push(chunk: Uint8Array): void {
    this.queue.push(chunk);
    if (this.parser === null) {
      if (this.queue.length < 4) return;
      this.parser = this.parserFor(this.queue.peek(4));
      this.format = this.parser.format;
    }
    this.parser.parse(this.queue);
  }

  /**
   * The file is over. Throws when nothing in it was a whole capture; when only its last record is cut short, adds a
   * warning and returns (the packets before it were delivered).
   */
  end(): void {
    if (this.parser === null) {
      throw new CaptureFormatError(
        this.queue.length === 0
          ? "the file is empty: a capture file starts with a pcap or pcapng header"
          : `the file is only ${bytesCount(this.queue.length)} long: too short to be a capture`,
      );
    }
    if (this.queue.length === 0) return;
    const { what, at, missing } = this.parser.unfinished(this.queue);
    const text = `truncated ${what} at ${atByte(at)}: the file ends ${bytesCount(missing)} early — was the capture stopped while writing?`;
    if (this.packets === 0) throw new CaptureFormatError(`${text} No packet before it is whole.`);
    this.warnings.add(`${text} The ${this.packets.toLocaleString("en-US")} packets before it were imported.`);
  }

  private parserFor(head: Uint8Array): CaptureParser {
    const magic = new DataView(head.buffer, head.byteOffset, 4).getUint32(0, true);
    const sink = { packetRead: this.packetRead, warnings: this.warnings };
    if (isPcapMagic(magic)) return new PcapParser(sink);
    if (magic === PCAPNG_MAGIC) return new PcapngParser(sink);
    throw new CaptureFormatError(`not a capture file: ${describeStart(head)}`);
  }
}

/** Why the first bytes are not a capture's, in words a person can act on. */
function describeStart(head: Uint8Array): string {
  const hex = [...head].map((b) => b.toString(16).padStart(2, "0")).join(" ");
  if (head[0] === 0x1f && head[1] === 0x8b) {
    return "it is compressed with gzip (it starts with 1f 8b). Decompress it (gunzip) and import the result.";
  }
  const printable = head.every((b) => (b >= 0x20 && b < 0x7f) || b === 0x09 || b === 0x0a || b === 0x0d);
  const kind = printable ? "it looks like a text file" : `it starts with ${hex}`;
  return (
    `${kind}, where a pcap file starts with a1 b2 c3 d4 (or d4 c3 b2 a1, a1 b2 3c 4d, 4d 3c b2 a1) and a pcapng ` +
    "file with 0a 0d 0d 0a. Save the capture from Wireshark, tshark or tcpdump as pcap or pcapng and import that file."
  );
}
