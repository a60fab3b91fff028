import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { followTcpRaw, hasTshark, problems } from "../../tests/interchange/tshark-checks.ts";
import { bytesFrom, type Conversation, type ConversationEvent, type Side } from "./conversation.ts";
import { PcapngWriter } from "./pcapng-writer.ts";
import { ACK, FIN, PSH, RST, SYN } from "./tcp-packet.ts";
import { CLIENT_ISN, DELAYED_ACK_MICROS, SEGMENT_SIZE, SERVER_ISN, synthesize, type SynthPacket } from "./tcp-synth.ts";

const tshark = hasTshark();
if (!tshark)
  console.warn(
    "Skipping the tcp-synth read-back test by tshark: tshark is not installed (apt-get install tshark; .ci/run does this)",
  );

const EPOCH_MS = 1_700_000_000_000.5;

function conversation(events: ConversationEvent[], host = "127.0.0.1", serverHost = host): Conversation {
  return {
    client: { host, port: 40000 },
    server: { host: serverHost, port: 7 },
    epochMs: EPOCH_MS,
    openedAt: 100,
    events,
  };
}

const bytes = (n: number, seed = 0) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);

/** A frame read back: who sent it and its TCP fields. */
interface Read {
  from: Side;
  seq: number;
  ack: number;
  flags: number;
  payload: Buffer;
  time: number;
  comments: string[];
}

function read(p: SynthPacket): Read {
  const b = Buffer.from(p.frame.buffer, p.frame.byteOffset, p.frame.byteLength);
  const tcp = 14 + (b.readUInt16BE(12) === 0x0800 ? 20 : 40);
  return {
    from: b.readUInt16BE(tcp) === 40000 ? "client" : "server",
    seq: b.readUInt32BE(tcp + 4),
    ack: b.readUInt32BE(tcp + 8),
    flags: b[tcp + 13]!,
    payload: b.subarray(tcp + (b[tcp + 12]! >> 4) * 4),
    time: p.timestampMicros,
    comments: p.comments,
  };
}

/**
 * Checks what a receiving TCP would: each segment starts where the sender's last one ended (mod 2^32), every
 * acknowledgement acknowledges exactly what the other side had sent by then, and each side's payload put together
 * is what the conversation says it sent. Returns the packets read.
 */
function checkConsistent(conv: Conversation, packets: SynthPacket[]): Read[] {
  const reads = packets.map(read);
  const isn = { client: CLIENT_ISN, server: SERVER_ISN };
  const used = { client: 0, server: 0 };
  const payloads: Record<Side, Buffer[]> = { client: [], server: [] };
  let lastTime = -Infinity;
  for (const r of reads) {
    const other: Side = r.from === "client" ? "server" : "client";
    expect(r.seq).toBe((isn[r.from] + used[r.from]) >>> 0);
    if (r.flags & ACK) expect(r.ack).toBe((isn[other] + used[other]) >>> 0);
    used[r.from] += r.payload.byteLength + (r.flags & (SYN | FIN) ? 1 : 0);
    payloads[r.from].push(r.payload);
    expect(r.time).toBeGreaterThanOrEqual(lastTime);
    lastTime = r.time;
  }
  expect(Buffer.concat(payloads.client).equals(Buffer.from(bytesFrom(conv, "client")))).toBe(true);
  expect(Buffer.concat(payloads.server).equals(Buffer.from(bytesFrom(conv, "server")))).toBe(true);
  return reads;
}

const at = (t: number) => Math.round(EPOCH_MS * 1000 + t);
const flagsOf = (reads: Read[]) => reads.map((r) => `${r.from[0]}:${flagNames(r.flags)}${r.payload.byteLength || ""}`);
function flagNames(f: number): string {
  const names: [number, string][] = [
    [SYN, "S"],
    [FIN, "F"],
    [RST, "R"],
    [PSH, "P"],
    [ACK, "A"],
  ];
  return names
    .filter(([bit]) => f & bit)
    .map(([, n]) => n)
    .join("");
}

describe("synthesize", () => {
  it("opens with a three-way handshake at openedAt and closes with a FIN from each side, each acknowledged", () => {
    const conv = conversation([
      { t: 200, kind: "data", from: "client", data: bytes(5) },
      { t: 300, kind: "data", from: "server", data: bytes(5) },
      { t: 400, kind: "fin", from: "client" },
      { t: 500, kind: "fin", from: "server" },
    ]);
    const reads = checkConsistent(conv, synthesize(conv));
    expect(flagsOf(reads)).toEqual(["c:S", "s:SA", "c:A", "c:PA5", "s:PA5", "c:FA", "s:A", "s:FA", "c:A"]);
    expect(reads.slice(0, 3).map((r) => r.time)).toEqual([at(100), at(100), at(100)]);
    expect(reads.map((r) => r.time).slice(3)).toEqual([at(200), at(300), at(400), at(400), at(500), at(500)]);
  });

  it("acknowledges like a receiver: piggybacked on a quick reply, else a bare ACK after the delayed-ACK time", () => {
    const conv = conversation([
      { t: 1000, kind: "data", from: "client", data: bytes(10) },
      { t: 2000, kind: "data", from: "server", data: bytes(3) }, // within 40 ms: carries the ACK
      { t: 1_000_000, kind: "data", from: "client", data: bytes(4) }, // the server's data was acked at 42 ms
    ]);
    const reads = checkConsistent(conv, synthesize(conv));
    expect(flagsOf(reads)).toEqual(["c:S", "s:SA", "c:A", "c:PA10", "s:PA3", "c:A", "c:PA4", "s:A"]);
    expect(reads[5]!.time).toBe(at(2000 + DELAYED_ACK_MICROS));
    expect(reads[7]!.time).toBe(at(1_000_000 + DELAYED_ACK_MICROS)); // owed at the end: sent at its due time
  });

  it("splits a 1 MiB chunk into segments a packet can hold, PSH on the last, acked every two segments", () => {
    const big = bytes(1 << 20);
    const conv = conversation([{ t: 200, kind: "data", from: "client", data: big }]);
    const reads = checkConsistent(conv, synthesize(conv));
    const data = reads.filter((r) => r.payload.byteLength > 0);
    expect(data).toHaveLength(Math.ceil((1 << 20) / SEGMENT_SIZE));
    expect(data.every((r) => r.payload.byteLength <= SEGMENT_SIZE)).toBe(true);
    expect(data.map((r) => (r.flags & PSH ? 1 : 0))).toEqual([...Array<number>(data.length - 1).fill(0), 1]);
    const acks = reads.slice(3).filter((r) => r.from === "server");
    expect(acks).toHaveLength(Math.ceil(data.length / 2));
  });

  it("wraps sequence numbers modulo 2^32 (the fixed ISNs sit just below it)", () => {
    const conv = conversation([
      { t: 200, kind: "data", from: "client", data: bytes(100_000) },
      { t: 300, kind: "data", from: "server", data: bytes(200_000, 1) },
    ]);
    const reads = checkConsistent(conv, synthesize(conv));
    expect(reads.some((r) => r.from === "client" && r.seq < CLIENT_ISN)).toBe(true);
    expect(reads.some((r) => r.from === "server" && r.seq < SERVER_ISN)).toBe(true);
  });

  it("ends with a RST for a reset, and leaves out bytes sent after it with a comment that says so", () => {
    const conv = conversation([
      { t: 200, kind: "data", from: "client", data: bytes(5) },
      { t: 300, kind: "rst", from: "server" },
      { t: 400, kind: "data", from: "client", data: bytes(5) },
    ]);
    const packets = synthesize(conv);
    const reads = packets.map(read);
    expect(flagsOf(reads)).toEqual(["c:S", "s:SA", "c:A", "c:PA5", "s:RA"]);
    expect(reads[4]!.ack).toBe((CLIENT_ISN + 6) >>> 0);
    expect(reads[4]!.comments).toEqual(["5 bytes the client sent after the reset are not in this capture"]);
  });

  it("puts a note on the bare ACK it makes go out, or on the next packet, or on the last one", () => {
    const conv = conversation([
      { t: 150, kind: "note", text: "protocol-reloaded: resp.ts" }, // nothing owed: waits for the next packet
      { t: 200, kind: "data", from: "client", data: Buffer.from("PING\r\n") },
      { t: 250, kind: "note", text: "decoded PING" }, // the server owes an ACK: it goes out now, with the note
      { t: 300, kind: "data", from: "server", data: Buffer.from("+PONG\r\n") },
      { t: 400, kind: "fin", from: "client" },
      { t: 400, kind: "fin", from: "server" },
      { t: 500, kind: "note", text: "connection lost" }, // after the last packet: on it
    ]);
    const reads = checkConsistent(conv, synthesize(conv));
    expect(reads.map((r) => [flagNames(r.flags), r.comments])).toEqual([
      ["S", []],
      ["SA", []],
      ["A", []],
      ["PA", ["protocol-reloaded: resp.ts"]],
      ["A", ["decoded PING"]],
      ["PA", []],
      ["FA", []],
      ["FA", []],
      ["A", ["connection lost"]],
    ]);
    expect(reads[4]!.time).toBe(at(250));
  });

  it("writes IPv6 for IPv6 ends, and maps an IPv4 end when the families differ", () => {
    for (const [client, server] of [
      ["::1", "::1"],
      ["127.0.0.1", "::1"],
    ] as const) {
      const conv = conversation([{ t: 200, kind: "data", from: "client", data: bytes(5) }], client, server);
      const packets = synthesize(conv);
      checkConsistent(conv, packets);
      expect(Buffer.from(packets[0]!.frame).readUInt16BE(12)).toBe(0x86dd);
    }
  });

  it("refuses a host that is not an IP address", () => {
    expect(() => synthesize(conversation([], "example.org"))).toThrow(/"example.org" is not an IPv4 or IPv6 address/);
  });

  it.skipIf(!tshark)(
    "gives tshark a stream it follows byte for byte, with nothing it flags",
    async () => {
      const all = Uint8Array.from({ length: 256 }, (_, i) => i);
      const events: ConversationEvent[] = [];
      let t = 200;
      for (let i = 0; i < 5; i++) {
        events.push({ t: (t += 10), kind: "data", from: "client", data: all });
        events.push({ t: (t += 10), kind: "note", text: `decoded message ${i}` });
        events.push({ t: (t += 50_000), kind: "data", from: "server", data: bytes(70_000 + i, i) });
      }
      events.push({ t: (t += 10), kind: "data", from: "client", data: bytes(300_000) });
      events.push({ t: (t += 10), kind: "fin", from: "server" });
      events.push({ t: (t += 10), kind: "data", from: "client", data: all }); // half-closed: the client still sends
      events.push({ t: (t += 10), kind: "fin", from: "client" });
      for (const [host, name] of [
        ["127.0.0.1", "v4"],
        ["::1", "v6"],
      ]) {
        const conv = conversation(events, host);
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tcp-synth-"));
        try {
          const file = path.join(dir, `${name}.pcapng`);
          const writer = await PcapngWriter.create(file, { application: "Wirescope" });
          for (const p of synthesize(conv)) await writer.writePacket(p);
          await writer.close();
          expect(await problems(file)).toEqual([]);
          const followed = await followTcpRaw(file);
          expect(followed.fromNode0.equals(Buffer.from(bytesFrom(conv, "client")))).toBe(true);
          expect(followed.fromNode1.equals(Buffer.from(bytesFrom(conv, "server")))).toBe(true);
        } finally {
          fs.rmSync(dir, { recursive: true, force: true });
        }
      }
    },
    60_000,
  );
});
