/**
 * A whole import: a capture file's bytes in, its TCP conversations out. Reads packets (capture-reader.ts), finds the
 * TCP segment in each (link-layer.ts, tcp-segment.ts), reassembles conversations (tcp-reassembly.ts), and counts
 * what it skipped as warnings.
 *
 * Limits: the conversations are kept in memory (they become sessions): their payload, plus some bookkeeping for
 * every segment that carried data (an event and its buffer: about 230 bytes, so small-payload traffic costs far more
 * than its bytes) and for every conversation. An import keeps at most MAX_IMPORT_PAYLOAD_BYTES of TCP payload,
 * MAX_IMPORT_SEGMENTS segments carrying data and MAX_CONVERSATIONS conversations; past any of them it stops using new
 * packets, says so in a warning, and keeps what it has. `importFootprint` estimates what an import holds, for the
 * engine's budget across kept imports (engine/imports.ts). The file itself is streamed: only records are buffered.
 */
import { CaptureReader } from "./capture-reader.ts";
import { betweenBlocks } from "./stop-check.ts";
import { plural, type CapturedPacket } from "./captured-packet.ts";
import { ipPacketOf, type LinkSkip } from "./link-layer.ts";
import { TcpReassembler, type ImportedConversation } from "./tcp-reassembly.ts";
import { tcpSegmentOf, type SegmentSkip } from "./tcp-segment.ts";

/** TCP payload an import keeps, across its conversations. */
export const MAX_IMPORT_PAYLOAD_BYTES = 1024 * 1024 * 1024;
/** TCP segments carrying data that an import keeps, across its conversations (each costs about 230 bytes). */
export const MAX_IMPORT_SEGMENTS = 1_000_000;
/** Conversations an import keeps. */
export const MAX_CONVERSATIONS = 100_000;

/** Estimated memory of one kept event (a data delivery, a FIN, a note) besides its payload: measured about 230. */
const EVENT_OVERHEAD_BYTES = 256;
/** Estimated memory of one kept conversation besides its events (its summary, endpoints, event list). */
const CONVERSATION_OVERHEAD_BYTES = 1024;

/** What an import found. */
export interface CaptureImport {
  format: "pcap" | "pcapng";
  packets: number;
  conversations: ImportedConversation[];
  warnings: string[];
}

export interface ImportOptions {
  /**
   * Copy each payload out of the file's chunk. Set when reading a file in chunks: otherwise a few payload bytes
   * would keep a whole chunk alive. Leave unset when the caller holds the whole file anyway (no copies then).
   */
  copyPayloads?: boolean;
  /** MAX_IMPORT_PAYLOAD_BYTES unless given (tests give less). */
  maxPayloadBytes?: number;
  /** MAX_IMPORT_SEGMENTS unless given (tests give less). */
  maxSegments?: number;
  /** Stops a streamed import between chunks (importCaptureStream throws its reason); the owner aborts it. */
  signal?: AbortSignal;
}

const SKIP_WARNINGS: Record<LinkSkip | SegmentSkip, (n: number) => string> = {
  "not-ip": (n) => `${plural(n, "packet")} that are not IP (ARP, LLDP, ...) skipped`,
  "short-frame": (n) => `${plural(n, "packet")} too short for their link-layer header skipped`,
  "unknown-link-type": (n) => `${plural(n, "packet")} of unsupported link types skipped`,
  "not-tcp": (n) => `${plural(n, "non-TCP packet")} (UDP, ICMP, ...) skipped`,
  fragment: (n) => `${plural(n, "IP fragment")} skipped: reassembling fragmented IP packets is not supported`,
  malformed: (n) => `${plural(n, "packet")} with a malformed or cut-short IP or TCP header skipped`,
};

/**
 * Feeds one capture file through reader, decoder and reassembler. Owned by one import: `push` each chunk, then
 * `end()` once for the result. Throws CaptureFormatError (see capture-reader.ts) and nothing else.
 */
export class CaptureImporter {
  private readonly reader: CaptureReader;
  private readonly reassembler = new TcpReassembler();
  private readonly unsupportedLinkTypes = new Set<number>();
  private payloadBytes = 0;
  private dataSegments = 0;
  private full = false;
  private readonly maxPayloadBytes: number;
  private readonly maxSegments: number;

  constructor(private readonly options: ImportOptions = {}) {
    this.maxPayloadBytes = options.maxPayloadBytes ?? MAX_IMPORT_PAYLOAD_BYTES;
    this.maxSegments = options.maxSegments ?? MAX_IMPORT_SEGMENTS;
    this.reader = new CaptureReader((packet) => this.packetRead(packet));
  }

  push(chunk: Uint8Array): void {
    this.reader.push(chunk);
  }

  end(): CaptureImport {
    this.reader.end();
    const warnings = this.reader.warnings;
    if (this.unsupportedLinkTypes.size > 0) {
      warnings.add(
        `link types ${[...this.unsupportedLinkTypes].join(", ")} are not read: only Ethernet (1), raw IP (101, 228, 229), ` +
          "Linux cooked captures (113, 276) and BSD loopback (0, 108) are",
      );
    }
    return {
      format: this.reader.format!,
      packets: this.reader.packets,
      conversations: this.reassembler.finish(),
      warnings: warnings.list(),
    };
  }

  private packetRead(packet: CapturedPacket): void {
    const warnings = this.reader.warnings;
    const link = ipPacketOf(packet.linkType, packet.data);
    if ("skip" in link) {
      if (link.skip === "unknown-link-type") this.unsupportedLinkTypes.add(packet.linkType);
      return warnings.count(link.skip, SKIP_WARNINGS[link.skip]);
    }
    const found = tcpSegmentOf(link.ip);
    if ("skip" in found) return warnings.count(found.skip, SKIP_WARNINGS[found.skip]);
    const segment = found.segment;
    if (this.full) return this.overLimit();
    const size = segment.payload.byteLength;
    if (this.payloadBytes + size > this.maxPayloadBytes) {
      return this.overLimit(`holds more than ${plural(this.maxPayloadBytes, "byte")} of TCP data`);
    }
    if (size > 0 && this.dataSegments >= this.maxSegments) {
      const most = this.maxSegments.toLocaleString("en-US");
      return this.overLimit(`has more than ${most} TCP segments carrying data (the first ${most} are imported)`);
    }
    if (this.options.copyPayloads && size > 0) segment.payload = segment.payload.slice();
    this.payloadBytes += size;
    if (size > 0) this.dataSegments += 1;
    if (!this.reassembler.segmentReceived(segment, packet.timeMicros, MAX_CONVERSATIONS)) {
      warnings.count(
        "too-many-conversations",
        (n) =>
          `${plural(n, "packet")} of conversations past the first ${MAX_CONVERSATIONS.toLocaleString("en-US")} skipped`,
      );
    }
  }

  /**
   * Counts a TCP packet skipped because the import is full. `reached` (the packet that filled it) says which limit
   * ("the capture <reached>: the import stopped at packet N"), with what to do.
   */
  private overLimit(reached?: string): void {
    const warnings = this.reader.warnings;
    if (reached !== undefined) {
      this.full = true;
      warnings.add(
        `the capture ${reached}: the import stopped at packet ${this.reader.packets.toLocaleString("en-US")}. ` +
          "Split the file (editcap -c) and import its parts.",
      );
    }
    warnings.count("over-limit", (n) => `${plural(n, "TCP packet")} after the import's limit skipped`);
  }
}

/**
 * About how much memory `imported`'s conversations hold: their payload — or `wholeFile`, when the payloads are views
 * of it (importCaptureBytes) — plus bookkeeping per event and per conversation. An estimate for budgets, not a
 * measure.
 */
export function importFootprint(imported: CaptureImport, wholeFile?: Uint8Array): number {
  let bytes = wholeFile?.byteLength ?? 0;
  for (const { conversation } of imported.conversations) {
    bytes += CONVERSATION_OVERHEAD_BYTES + conversation.events.length * EVENT_OVERHEAD_BYTES;
    if (wholeFile !== undefined) continue;
    for (const e of conversation.events) if (e.kind === "data") bytes += e.data.byteLength;
  }
  return bytes;
}

/** Imports a capture held whole in memory. Payloads stay views of `data` (no copies). */
export function importCaptureBytes(data: Uint8Array, options: ImportOptions = {}): CaptureImport {
  const importer = new CaptureImporter(options);
  importer.push(data);
  return importer.end();
}

/**
 * Imports a capture arriving in chunks (a file stream), yielding to the event loop between chunks. With
 * `options.signal`, checks it between chunks and throws its reason once it is aborted (see stop-check.ts).
 */
export async function importCaptureStream(
  chunks: AsyncIterable<Uint8Array>,
  options: ImportOptions = { copyPayloads: true },
): Promise<CaptureImport> {
  const importer = new CaptureImporter(options);
  for await (const chunk of chunks) {
    importer.push(chunk);
    await betweenBlocks(options.signal);
  }
  return importer.end();
}
