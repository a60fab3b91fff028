/**
 * What the pcap and pcapng parsers share: the interface capture-reader.ts drives them through, and the limits.
 */
import type { ByteQueue } from "./byte-queue.ts";
import type { CapturedPacket, WarningTally } from "./captured-packet.ts";

/**
 * The largest record (pcap packet record, pcapng block) a reader accepts. A length above it is a corrupt file, not a
 * packet: refusing it before buffering keeps a flipped bit from asking for gigabytes.
 */
export const MAX_RECORD_BYTES = 256 * 1024 * 1024;

/** What a parser calls for each packet and where it counts what it skipped. Owned by the CaptureReader. */
export interface ParserSink {
  packetRead(packet: CapturedPacket): void;
  readonly warnings: WarningTally;
}

/**
 * A resumable parser of one capture format, like node-redis's RESP decoder: it takes whole records off the queue
 * while there are enough bytes, and returns when it needs more ("need more bytes" is not an error).
 */
export interface CaptureParser {
  readonly format: "pcap" | "pcapng";
  /** Called whenever bytes were added to `queue`. Throws CaptureFormatError on a file that can't be right. */
  parse(queue: ByteQueue): void;
  /**
   * Called once at the end of the file when `queue` still holds bytes that make no whole record. Returns what the
   * unfinished record was ("Enhanced Packet Block at byte 1,204") and how many bytes it lacks.
   */
  unfinished(queue: ByteQueue): { what: string; at: number; missing: number };
}
