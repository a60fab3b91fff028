import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { fieldRows, hasTshark } from "../../tests/interchange/tshark-checks.ts";
import { PcapngWriter } from "./pcapng-writer.ts";
import { ACK, addressBytes, PSH, tcpFrame } from "./tcp-packet.ts";

const tshark = hasTshark();
if (!tshark)
  console.warn(
    "Skipping the pcapng writer read-back test by tshark: tshark is not installed (apt-get install tshark; .ci/run does this)",
  );

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "pcapng-writer-"));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A small valid frame (the bytes are tshark's business; here only the container is looked at). */
function frame(payload: string): Uint8Array {
  const end = (port: number, n: number) => ({
    ip: addressBytes("127.0.0.1"),
    port,
    mac: Uint8Array.of(2, 0, 0, 0, 0, n),
  });
  return tcpFrame({
    from: end(40000, 1),
    to: end(7, 2),
    seq: 1,
    ack: 1,
    flags: ACK | PSH,
    window: 0xffff,
    payload: Buffer.from(payload),
    ipId: 1,
  });
}

/** The blocks of a little-endian pcapng file: type and body, after checking both length fields of each. */
function blocks(bytes: Buffer): { type: number; body: Buffer }[] {
  const out: { type: number; body: Buffer }[] = [];
  for (let at = 0; at < bytes.byteLength;) {
    const type = bytes.readUInt32LE(at);
    const total = bytes.readUInt32LE(at + 4);
    expect(total % 4).toBe(0);
    expect(bytes.readUInt32LE(at + total - 4)).toBe(total);
    out.push({ type, body: bytes.subarray(at + 8, at + total - 4) });
    at += total;
  }
  return out;
}

describe("PcapngWriter", () => {
  it("writes a section, an Ethernet interface in microseconds and packets with their comments", async () => {
    const file = path.join(dir, "a.pcapng");
    const writer = await PcapngWriter.create(file, { application: "Wirescope", comments: ["a session"] });
    const ts = 1_700_000_000_123_456;
    await writer.writePacket({ timestampMicros: ts, frame: frame("hello"), comments: ["decoded: hello", "ünïcödé ✓"] });
    await writer.writePacket({ timestampMicros: ts + 1, frame: frame("x") });
    await writer.close();
    expect(writer.packets).toBe(2);

    const bytes = fs.readFileSync(file);
    expect(writer.bytes).toBe(bytes.byteLength);
    const [shb, idb, epb1, epb2, ...rest] = blocks(bytes);
    expect(rest).toEqual([]);
    expect(shb!.type).toBe(0x0a0d0d0a);
    expect(shb!.body.readUInt32LE(0)).toBe(0x1a2b3c4d);
    expect(idb!.type).toBe(1);
    expect(idb!.body.readUInt16LE(0)).toBe(1); // LINKTYPE_ETHERNET
    expect(epb1!.type).toBe(6);
    expect(epb1!.body.readUInt32LE(4) * 2 ** 32 + epb1!.body.readUInt32LE(8)).toBe(ts);
    expect(epb2!.type).toBe(6);
  });

  it.skipIf(!tshark)("is read by tshark: times to the microsecond, frames, comments", async () => {
    const file = path.join(dir, "b.pcapng");
    const writer = await PcapngWriter.create(file, { application: "Wirescope" });
    await writer.writePacket({
      timestampMicros: 1_700_000_000_123_456,
      frame: frame("hello"),
      comments: ["one", "two"],
    });
    await writer.writePacket({ timestampMicros: 1_700_000_001_000_001, frame: frame("world") });
    // A NUL would end the comment where Wireshark shows it: it is written as \0.
    await writer.writePacket({ timestampMicros: 1_700_000_001_000_002, frame: frame("!"), comments: ["a\0b"] });
    await writer.close();
    const rows = await fieldRows(file, ["frame.time_epoch", "tcp.payload", "frame.comment"]);
    expect(rows).toEqual([
      ["1700000000.123456000", Buffer.from("hello").toString("hex"), "one|two"],
      ["1700000001.000001000", Buffer.from("world").toString("hex"), ""],
      ["1700000001.000002000", Buffer.from("!").toString("hex"), "a\\0b"],
    ]);
  });

  it("streams: a file bigger than a batch is written as it goes, and is whole at the end", async () => {
    const file = path.join(dir, "big.pcapng");
    const writer = await PcapngWriter.create(file, { application: "Wirescope" });
    const payload = "z".repeat(60_000);
    for (let i = 0; i < 40; i++) await writer.writePacket({ timestampMicros: 1e15 + i, frame: frame(payload) });
    expect(fs.statSync(file).size).toBeGreaterThan(1 << 20); // batches went out before close
    await writer.close();
    expect(blocks(fs.readFileSync(file))).toHaveLength(2 + 40);
  });

  it("never overwrites a file: creating over one fails with EEXIST and leaves it alone", async () => {
    const file = path.join(dir, "taken.pcapng");
    fs.writeFileSync(file, "mine");
    await expect(PcapngWriter.create(file, { application: "Wirescope" })).rejects.toMatchObject({ code: "EEXIST" });
    expect(fs.readFileSync(file, "utf8")).toBe("mine");
  });

  it("cuts a comment too long for an option at a character boundary, and says so with an ellipsis", async () => {
    const file = path.join(dir, "long.pcapng");
    const writer = await PcapngWriter.create(file, { application: "Wirescope" });
    await writer.writePacket({ timestampMicros: 1, frame: frame("a"), comments: ["é".repeat(40_000)] });
    await writer.close();
    const epb = blocks(fs.readFileSync(file))[2]!.body;
    const captured = epb.readUInt32LE(12);
    const optionAt = 20 + ((captured + 3) & ~3);
    expect(epb.readUInt16LE(optionAt)).toBe(1); // opt_comment
    const length = epb.readUInt16LE(optionAt + 2);
    expect(length).toBe(65_535); // 32,766 two-byte characters and a three-byte ellipsis
    expect(epb.subarray(optionAt + 4, optionAt + 4 + length).toString("utf8")).toBe(`${"é".repeat(32_766)}…`);
  });

  it("discard removes what was written", async () => {
    const file = path.join(dir, "gone.pcapng");
    const writer = await PcapngWriter.create(file, { application: "Wirescope" });
    await writer.writePacket({ timestampMicros: 1, frame: frame("a") });
    await writer.discard();
    expect(fs.existsSync(file)).toBe(false);
  });

  it("refuses a timestamp that isn't µs since 1970", async () => {
    const writer = await PcapngWriter.create(path.join(dir, "t.pcapng"), { application: "Wirescope" });
    await expect(writer.writePacket({ timestampMicros: -1, frame: frame("a") })).rejects.toThrow(/µs since 1970/);
    await writer.discard();
  });
});
