/**
 * Writes big captures fast, for the tests that stop a long read: a pcapng or pcap file of Ethernet/IPv4/TCP
 * packets over 127.0.0.1, one small conversation first (so there is something to open or decode), then
 * `conversations` long ones carrying `bytes` of payload between them. Each packet is a copy of one template with
 * its ports, sequence number and time patched in, written a few MiB at a time: hundreds of MiB take about a second.
 * Checksums are left at zero (readers here don't check them, nor does Wireshark by default).
 */
import * as fs from "node:fs";

/** Payload of each data packet. */
const PAYLOAD_BYTES = 1000;
/** Bytes gathered before each write to the file. */
const WRITE_BYTES = 4 * 1024 * 1024;

const ETHERNET = 14;
const IPV4 = 20;
const TCP = 20;
const FRAME_BYTES = ETHERNET + IPV4 + TCP + PAYLOAD_BYTES;

export interface BigCaptureOptions {
  format: "pcap" | "pcapng";
  /** Payload bytes across the long conversations (rounded up to whole packets). */
  bytes: number;
  /** How many long conversations carry them (default 8). */
  conversations?: number;
}

/** Writes the capture to `file`; returns its size in bytes. */
export function writeBigCapture(file: string, options: BigCaptureOptions): number {
  const out = new CaptureOut(file, options.format);
  try {
    const frame = templateFrame();
    let micros = 1_700_000_000_000_000;
    // The small first conversation: a handshake and one exchange.
    const first = new Flow(40000);
    for (const packet of first.opening()) out.packet(frame, packet, (micros += 100));
    out.packet(frame, first.data("client"), (micros += 100));
    out.packet(frame, first.data("server"), (micros += 100));
    const flows = Array.from({ length: options.conversations ?? 8 }, (_, i) => new Flow(40001 + i));
    for (const flow of flows) for (const packet of flow.opening()) out.packet(frame, packet, (micros += 10));
    const packets = Math.ceil(options.bytes / PAYLOAD_BYTES);
    for (let i = 0; i < packets; i += 1) {
      const flow = flows[i % flows.length]!;
      out.packet(frame, flow.data(i % 3 === 0 ? "client" : "server"), (micros += 10));
    }
    return out.close();
  } catch (err) {
    out.close();
    throw err;
  }
}

/** One packet's TCP fields. */
interface PacketFields {
  sourcePort: number;
  destinationPort: number;
  seq: number;
  ack: number;
  flags: number;
  payload: boolean;
}

const SYN = 0x02;
const ACK = 0x10;
const PSH_ACK = 0x18;
const SERVER_PORT = 6379;

/** A TCP connection's sequence numbers, each side's, as packets are made. */
class Flow {
  private clientSeq = 1000;
  private serverSeq = 5000;

  constructor(private readonly clientPort: number) {}

  opening(): PacketFields[] {
    const c = this.clientPort;
    const packets = [
      { sourcePort: c, destinationPort: SERVER_PORT, seq: this.clientSeq, ack: 0, flags: SYN, payload: false },
      {
        sourcePort: SERVER_PORT,
        destinationPort: c,
        seq: this.serverSeq,
        ack: this.clientSeq + 1,
        flags: SYN | ACK,
        payload: false,
      },
      {
        sourcePort: c,
        destinationPort: SERVER_PORT,
        seq: this.clientSeq + 1,
        ack: this.serverSeq + 1,
        flags: ACK,
        payload: false,
      },
    ];
    this.clientSeq += 1;
    this.serverSeq += 1;
    return packets;
  }

  data(from: "client" | "server"): PacketFields {
    const c = this.clientPort;
    const fromClient = from === "client";
    const packet = {
      sourcePort: fromClient ? c : SERVER_PORT,
      destinationPort: fromClient ? SERVER_PORT : c,
      seq: (fromClient ? this.clientSeq : this.serverSeq) >>> 0,
      ack: (fromClient ? this.serverSeq : this.clientSeq) >>> 0,
      flags: PSH_ACK,
      payload: true,
    };
    if (fromClient) this.clientSeq += PAYLOAD_BYTES;
    else this.serverSeq += PAYLOAD_BYTES;
    return packet;
  }
}

/** An Ethernet/IPv4/TCP frame from 127.0.0.1 to 127.0.0.1 with PAYLOAD_BYTES of printable payload. */
function templateFrame(): Uint8Array {
  const frame = new Uint8Array(FRAME_BYTES);
  const v = new DataView(frame.buffer);
  v.setUint16(12, 0x0800);
  frame[ETHERNET] = 0x45;
  v.setUint16(ETHERNET + 2, IPV4 + TCP + PAYLOAD_BYTES);
  frame[ETHERNET + 8] = 64;
  frame[ETHERNET + 9] = 6;
  frame.set([127, 0, 0, 1, 127, 0, 0, 1], ETHERNET + 12);
  frame[ETHERNET + IPV4 + 12] = (TCP / 4) << 4;
  v.setUint16(ETHERNET + IPV4 + 14, 65535);
  for (let i = ETHERNET + IPV4 + TCP; i < FRAME_BYTES; i += 1) frame[i] = 0x61 + (i % 26);
  return frame;
}

/** `frame` patched with `p`'s fields; its length is the frame with or without payload. */
function patched(frame: Uint8Array, p: PacketFields): Uint8Array {
  const v = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const length = p.payload ? FRAME_BYTES : FRAME_BYTES - PAYLOAD_BYTES;
  v.setUint16(ETHERNET + 2, length - ETHERNET);
  const tcp = ETHERNET + IPV4;
  v.setUint16(tcp, p.sourcePort);
  v.setUint16(tcp + 2, p.destinationPort);
  v.setUint32(tcp + 4, p.seq >>> 0);
  v.setUint32(tcp + 8, p.ack >>> 0);
  frame[tcp + 13] = p.flags;
  return frame.subarray(0, length);
}

/** The file being written: its header, then packet records in batches. */
class CaptureOut {
  private readonly fd: number;
  private readonly buffer = Buffer.alloc(WRITE_BYTES + 2 * FRAME_BYTES);
  private used = 0;
  private size = 0;

  constructor(
    file: string,
    private readonly format: "pcap" | "pcapng",
  ) {
    this.fd = fs.openSync(file, "w");
    if (format === "pcap") {
      this.used = this.buffer.writeUInt32LE(0xa1b2c3d4, 0);
      this.used = this.buffer.writeUInt16LE(2, this.used);
      this.used = this.buffer.writeUInt16LE(4, this.used);
      this.used += 8;
      this.used = this.buffer.writeUInt32LE(262144, this.used);
      this.used = this.buffer.writeUInt32LE(1, this.used);
    } else {
      // Section Header Block (version 1.0, no options, section length unknown), then one Ethernet interface in µs.
      for (const word of [0x0a0d0d0a, 28, 0x1a2b3c4d, 1, 0xffffffff, 0xffffffff, 28]) {
        this.used = this.buffer.writeUInt32LE(word, this.used);
      }
      for (const word of [1, 20, 1, 262144, 20]) this.used = this.buffer.writeUInt32LE(word, this.used);
    }
  }

  packet(frame: Uint8Array, fields: PacketFields, micros: number): void {
    const data = patched(frame, fields);
    const high = Math.floor(micros / 2 ** 32);
    const low = micros % 2 ** 32;
    const b = this.buffer;
    if (this.format === "pcap") {
      this.used = b.writeUInt32LE(Math.floor(micros / 1_000_000), this.used);
      this.used = b.writeUInt32LE(micros % 1_000_000, this.used);
      this.used = b.writeUInt32LE(data.byteLength, this.used);
      this.used = b.writeUInt32LE(data.byteLength, this.used);
      b.set(data, this.used);
      this.used += data.byteLength;
    } else {
      const padded = (data.byteLength + 3) & ~3;
      const total = 32 + padded;
      for (const word of [6, total, 0, high, low, data.byteLength, data.byteLength]) {
        this.used = b.writeUInt32LE(word, this.used);
      }
      b.set(data, this.used);
      b.fill(0, this.used + data.byteLength, this.used + padded);
      this.used += padded;
      this.used = b.writeUInt32LE(total, this.used);
    }
    if (this.used >= WRITE_BYTES) this.flush();
  }

  private flush(): void {
    fs.writeSync(this.fd, this.buffer, 0, this.used);
    this.size += this.used;
    this.used = 0;
  }

  close(): number {
    this.flush();
    fs.closeSync(this.fd);
    return this.size;
  }
}
