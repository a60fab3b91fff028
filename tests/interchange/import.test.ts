/**
 * Importing real captures: tshark records real redis-server and nginx traffic on the loopback interface (the
 * test's own port only), the engine imports the file over its WebSocket contract, and the reassembled bytes must be
 * exactly what the client sent and received. Then the same captures made hostile (reordered, repeated, overlapping,
 * with a lost segment, renumbered across 2^32), cut short and corrupted.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { importCaptureBytes } from "../../main/interchange/capture-import.ts";
import { CaptureFormatError, CaptureReader } from "../../main/interchange/capture-reader.ts";
import { seededRandom } from "../../main/engine/seeded-random.ts";
import { bytesFrom } from "../../main/interchange/conversation.ts";
import type { ConversationSummary } from "../../preload/contract.ts";
import { captured, startNginx, startTshark, tempDir, tsharkUnavailable } from "../helpers/capture.ts";
import { bytesOf, ok, startEngine, startRedis, timeline, type EngineUnderTest } from "../helpers/engine.ts";
import {
  readPcap,
  renumbered,
  shuffledWithin,
  SYN,
  tcpOf,
  withSegment,
  writePcap,
  type Frame,
} from "../helpers/pcap-fixture.ts";

const unavailable = tsharkUnavailable();
if (unavailable !== null) console.warn(`Skipping the tshark import tests: ${unavailable}`);

/**
 * Fails unless `actual` is exactly `expected`, naming the first differing byte (vitest's deep equality walks a
 * Buffer element by element: seconds for a MiB).
 */
function expectBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  const a = Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength);
  if (a.equals(expected)) return;
  let at = 0;
  while (at < a.byteLength && at < expected.byteLength && a[at] === expected[at]) at += 1;
  expect.fail(
    `${what}: ${a.byteLength} bytes where ${expected.byteLength} were expected; the first difference is at byte ${at}`,
  );
}

/** A RESP command. */
function resp(...parts: (string | Uint8Array)[]): Buffer {
  const chunks: Buffer[] = [Buffer.from(`*${parts.length}\r\n`)];
  for (const p of parts) {
    const b = Buffer.from(p);
    chunks.push(Buffer.from(`$${b.byteLength}\r\n`), b, Buffer.from("\r\n"));
  }
  return Buffer.concat(chunks);
}

function bulk(value: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(`$${value.byteLength}\r\n`), value, Buffer.from("\r\n")]);
}

interface Talk {
  localPort: number;
  sent: Buffer;
  received: Buffer;
}

/**
 * A client session with redis-server: PING, SET/GET of every byte value, SET/GET of 1 MiB, one command at a time
 * (each reply awaited), then a clean close. Records exactly what went each way.
 */
async function talkToRedis(port: number): Promise<Talk> {
  const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const large = crypto.randomBytes(1024 * 1024);
  const exchanges: [Buffer, Buffer][] = [
    [resp("PING"), Buffer.from("+PONG\r\n")],
    [resp("SET", "bin", binary), Buffer.from("+OK\r\n")],
    [resp("GET", "bin"), bulk(binary)],
    [resp("SET", "large", large), Buffer.from("+OK\r\n")],
    [resp("GET", "large"), bulk(large)],
  ];
  const socket = net.connect({ host: "127.0.0.1", port });
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  const localPort = socket.localPort!;
  const received: Buffer[] = [];
  let receivedBytes = 0;
  socket.on("data", (d: Buffer) => {
    received.push(d);
    receivedBytes += d.byteLength;
  });
  let expected = 0;
  for (const [command, reply] of exchanges) {
    socket.write(command);
    expected += reply.byteLength;
    const deadline = Date.now() + 10_000;
    while (receivedBytes < expected) {
      if (Date.now() > deadline) throw new Error(`redis did not answer ${command.subarray(0, 20).toString()}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  socket.end();
  await closed;
  const all = Buffer.concat(received);
  expectBytes(all, Buffer.concat(exchanges.map(([, reply]) => reply)), "redis's replies");
  return { localPort, sent: Buffer.concat(exchanges.map(([c]) => c)), received: all };
}

/** Whether a capture file already holds the whole (closed) conversation from `localPort`. */
function holdsClosedConversation(localPort: number): (bytes: Uint8Array) => boolean {
  return (bytes) => {
    const found = importCaptureBytes(bytes).conversations.find((c) => c.conversation.client.port === localPort);
    return found?.summary.complete === true;
  };
}

function conversationFrom(summaries: ConversationSummary[], localPort: number): ConversationSummary {
  const found = summaries.find((c) => c.client === `127.0.0.1:${localPort}`);
  if (!found) throw new Error(`no conversation from port ${localPort}: ${JSON.stringify(summaries)}`);
  return found;
}

describe.skipIf(unavailable !== null)("importing captures tshark made of real traffic", () => {
  let t: EngineUnderTest;
  let redis: { port: number; stop(): Promise<void> };
  let dir: string;
  /** The pcap of one redis conversation, kept for the hostile-capture tests. */
  let redisPcap: { bytes: Uint8Array<ArrayBuffer>; talk: Talk };

  beforeAll(async () => {
    dir = tempDir("wirescope-import-");
    t = await startEngine();
    redis = await startRedis();
  }, 30_000);

  afterAll(async () => {
    await redis?.stop();
    await t?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function captureRedis(options: { format: "pcap" | "pcapng"; iface?: string; linkType?: string }) {
    const tshark = await startTshark({ port: redis.port, dir, ...options });
    let talk: Talk;
    try {
      talk = await talkToRedis(redis.port);
      await captured(tshark.file, holdsClosedConversation(talk.localPort));
    } finally {
      await tshark.stop();
    }
    return { bytes: new Uint8Array(fs.readFileSync(tshark.file)), talk, file: tshark.file };
  }

  it("reassembles a redis-server conversation from pcapng exactly, opens it as a session and decodes it with the RESP template", async () => {
    const { bytes, talk, file } = await captureRedis({ format: "pcapng" });
    const result = ok(await t.api.importCapture({ name: "redis.pcapng", data: bytes }));
    expect(result.format).toBe("pcapng");
    expect(result.warnings).toEqual([]);
    const summary = conversationFrom(result.conversations, talk.localPort);
    expect(summary).toMatchObject({
      server: `127.0.0.1:${redis.port}`,
      bytesToServer: talk.sent.byteLength,
      bytesToClient: talk.received.byteLength,
      complete: true,
      notes: [],
    });

    const session = ok(await t.api.openConversation({ capture: result.capture, conversation: summary.id }));
    expect(session).toMatchObject({
      kind: "imported",
      name: `redis.pcapng #${summary.id}`,
      source: `redis.pcapng, conversation ${summary.id}: 127.0.0.1:${talk.localPort} -> 127.0.0.1:${redis.port}`,
      state: "closed",
    });
    const events = await timeline(t.api, session.id);
    const conn = session.connections[0]!.conn;
    expectBytes(bytesOf(events, conn, "out"), talk.sent, "the session's bytes out");
    expectBytes(bytesOf(events, conn, "in"), talk.received, "the session's bytes in");
    const lifecycle = events.flatMap((e) => (e.kind === "lifecycle" ? [e.event] : []));
    expect(lifecycle).toEqual(["connecting", "connected", "write-closed", "read-closed", "lost"]);
    // The timeline's times are the capture's: the session starts at the SYN's wall-clock time.
    expect(Math.abs(session.epochMs - summary.startMs)).toBeLessThan(1);

    // Decoded offline with the RESP template, as the client: redis-server's replies, without redis-server.
    const decoded = ok(
      await t.api.decode({
        session: session.id,
        conn,
        protocol: "template:resp",
        side: "client",
        resplit: { runs: 20, seed: 1 },
      }),
    );
    const replies = (await timeline(t.api, decoded.session.id)).flatMap((e) => (e.kind === "log" ? [e.text] : []));
    expect(replies).toContain("reply PONG");
    expect(replies).toContain("reply OK");
    expect(decoded.resplit).toMatchObject({ runs: 20, consistent: true, mismatches: [] });

    // The same file, by path.
    const byPath = ok(await t.api.importCapture({ name: "redis.pcapng", path: file }));
    expect(byPath.conversations).toEqual(result.conversations);
  }, 60_000);

  it("reassembles the same from a pcap file, and keeps it for the hostile cases below", async () => {
    const { bytes, talk } = await captureRedis({ format: "pcap" });
    const result = ok(await t.api.importCapture({ name: "redis.pcap", data: bytes }));
    expect(result.format).toBe("pcap");
    const summary = conversationFrom(result.conversations, talk.localPort);
    expect(summary).toMatchObject({ bytesToServer: talk.sent.byteLength, bytesToClient: talk.received.byteLength });
    redisPcap = { bytes, talk };
  }, 60_000);

  it("reads `-i any` captures in Linux cooked form, SLL and SLL2", async () => {
    for (const [linkType, number] of [
      [undefined, 113],
      ["LINUX_SLL2", 276],
    ] as const) {
      const { bytes, talk } = await captureRedis({ format: "pcapng", iface: "any", ...(linkType ? { linkType } : {}) });
      const linkTypes = new Set<number>();
      const reader = new CaptureReader((packet) => linkTypes.add(packet.linkType));
      reader.push(bytes);
      reader.end();
      expect([...linkTypes]).toEqual([number]);
      const imported = importCaptureBytes(bytes);
      const found = imported.conversations.find((c) => c.conversation.client.port === talk.localPort)!;
      expectBytes(
        bytesFrom(found.conversation, "client"),
        talk.sent,
        `the client's bytes (-i any ${linkType ?? "SLL"})`,
      );
      expectBytes(
        bytesFrom(found.conversation, "server"),
        talk.received,
        `the server's bytes (-i any ${linkType ?? "SLL"})`,
      );
    }
  }, 120_000);

  it("reassembles an HTTP exchange with nginx exactly, and decodes it with the HTTP template", async () => {
    const www = path.join(dir, "www");
    fs.mkdirSync(www, { recursive: true });
    const body = crypto.randomBytes(300_000);
    fs.writeFileSync(path.join(www, "blob.bin"), body);
    const nginx = await startNginx(www, dir);
    try {
      const tshark = await startTshark({ port: nginx.port, dir, format: "pcapng" });
      const sent: Buffer[] = [];
      const received: Buffer[] = [];
      let localPort = 0;
      try {
        const got = await new Promise<Buffer>((resolve, reject) => {
          const request = http.get(
            {
              host: "127.0.0.1",
              port: nginx.port,
              path: "/blob.bin",
              headers: { connection: "close" },
              createConnection: () => {
                const socket = net.connect({ host: "127.0.0.1", port: nginx.port });
                const write = socket.write.bind(socket) as (chunk: unknown, ...rest: unknown[]) => boolean;
                socket.write = ((chunk: unknown, ...rest: unknown[]) => {
                  sent.push(Buffer.from(chunk as string));
                  return write(chunk, ...rest);
                }) as typeof socket.write;
                socket.on("data", (d: Buffer) => received.push(d));
                socket.once("connect", () => (localPort = socket.localPort!));
                return socket;
              },
            },
            (response) => {
              const parts: Buffer[] = [];
              response.on("data", (d: Buffer) => parts.push(d));
              response.on("end", () => resolve(Buffer.concat(parts)));
              response.on("error", reject);
            },
          );
          request.setTimeout(10_000, () => request.destroy(new Error("nginx did not answer in 10 s")));
          request.on("error", reject);
        });
        expectBytes(got, body, "the body node:http received");
        await captured(tshark.file, holdsClosedConversation(localPort));
      } finally {
        await tshark.stop();
      }
      const result = ok(
        await t.api.importCapture({ name: "nginx.pcapng", data: new Uint8Array(fs.readFileSync(tshark.file)) }),
      );
      const summary = conversationFrom(result.conversations, localPort);
      const session = ok(await t.api.openConversation({ capture: result.capture, conversation: summary.id }));
      const events = await timeline(t.api, session.id);
      const conn = session.connections[0]!.conn;
      expect(bytesOf(events, conn, "out").toString("latin1")).toMatch(/^GET \/blob\.bin HTTP\/1\.1\r\n/);
      expectBytes(bytesOf(events, conn, "out"), Buffer.concat(sent), "the request");
      expectBytes(bytesOf(events, conn, "in"), Buffer.concat(received), "the response");
      expectBytes(bytesOf(events, conn, "in").subarray(-body.byteLength), body, "the response's body");

      // Decoded offline with the HTTP/1.1 template, as the client: nginx's response, status line and body.
      const decoded = ok(await t.api.decode({ session: session.id, conn, protocol: "template:http", side: "client" }));
      const lines = (await timeline(t.api, decoded.session.id)).flatMap((e) => (e.kind === "log" ? [e.text] : []));
      expect(lines).toContain("response 200 OK");
      expect(lines).toContain(`body ${body.byteLength} bytes`);
    } finally {
      await nginx.stop();
    }
  }, 60_000);

  describe("hostile copies of the real capture", () => {
    /** The frames of the redis conversation (not tshark's start-up probes). */
    function frames(): { linkType: number; frames: Frame[]; clientPort: number } {
      const { linkType, frames } = readPcap(redisPcap.bytes);
      const clientPort = redisPcap.talk.localPort;
      const ours = frames.filter((f) => [tcpOf(f.data).sourcePort, tcpOf(f.data).destinationPort].includes(clientPort));
      return { linkType, frames: ours, clientPort };
    }

    function conversationOf(bytes: Uint8Array, clientPort: number) {
      const found = importCaptureBytes(bytes).conversations.filter((c) => c.conversation.client.port === clientPort);
      expect(found.length).toBeGreaterThan(0);
      return found;
    }

    it("puts reordered, repeated and overlapping segments back exactly, and counts what it dropped", () => {
      const { linkType, frames: all, clientPort } = frames();
      const random = seededRandom(6);
      const hostile: Frame[] = [];
      let split = 0;
      for (const f of all) {
        const tcp = tcpOf(f.data);
        const length = tcp.payload.byteLength;
        if (length >= 64 && split < 4) {
          // Two segments overlapping by 20 bytes instead of one.
          split += 1;
          const half = Math.floor(length / 2);
          hostile.push({ micros: f.micros, data: withSegment(f.data, tcp.seq, tcp.payload.subarray(0, half + 10)) });
          hostile.push({
            micros: f.micros,
            data: withSegment(f.data, tcp.seq + half - 10, tcp.payload.subarray(half - 10)),
          });
        } else {
          hostile.push(f);
        }
        if (length > 0 && random() < 0.3) hostile.push({ micros: f.micros + 1, data: f.data.slice() }); // retransmission
      }
      // The handshake stays first (a capture never shows data before the SYN); the rest is shuffled.
      const shuffled = [...hostile.slice(0, 3), ...shuffledWithin(hostile.slice(3), 5, random)];
      const [found] = conversationOf(writePcap(linkType, shuffled), clientPort);
      const { conversation, summary } = found!;
      expectBytes(bytesFrom(conversation, "client"), redisPcap.talk.sent, "the client's bytes");
      expectBytes(bytesFrom(conversation, "server"), redisPcap.talk.received, "the server's bytes");
      const notes = summary.notes.join("\n");
      expect(notes).toMatch(/retransmitted segments? dropped/);
      expect(notes).toMatch(/overlapping bytes dropped \(the first copy kept\)/);
      expect(notes).toMatch(/arrived out of order and were put in place/);
    });

    it("reports a lost segment as a gap of its size and goes on after it", () => {
      const { linkType, frames: all, clientPort } = frames();
      const data = all.filter((f) => tcpOf(f.data).sourcePort === clientPort && tcpOf(f.data).payload.byteLength > 0);
      const lost = data[Math.floor(data.length / 2)]!;
      const lostTcp = tcpOf(lost.data);
      const [found] = conversationOf(
        writePcap(
          linkType,
          all.filter((f) => f !== lost),
        ),
        clientPort,
      );
      const { conversation, summary } = found!;
      const sent = redisPcap.talk.sent;
      const isn = tcpOf(all[0]!.data).seq;
      const offset = (lostTcp.seq - isn - 1) >>> 0;
      const size = lostTcp.payload.byteLength;
      expectBytes(
        bytesFrom(conversation, "client"),
        Buffer.concat([sent.subarray(0, offset), sent.subarray(offset + size)]),
        "the client's bytes around the gap",
      );
      expectBytes(bytesFrom(conversation, "server"), redisPcap.talk.received, "the server's bytes");
      const sizeText = size.toLocaleString("en-US");
      expect(summary.notes.join("\n")).toContain(`client: ${sizeText} bytes missing in 1 gap`);
      const note = conversation.events.find((e) => e.kind === "note" && e.text.includes("missing at stream offset"));
      expect(note).toMatchObject({
        text: `${sizeText} bytes from the client missing at stream offset ${offset.toLocaleString("en-US")}: the capture lost them`,
      });
    });

    it("follows sequence numbers across 2^32, and starts a new conversation on a SYN after the close", () => {
      const { linkType, frames: all, clientPort } = frames();
      const clientIsn = tcpOf(all.find((f) => tcpOf(f.data).flags === SYN)!.data).seq;
      const serverIsn = tcpOf(all.find((f) => tcpOf(f.data).flags === (SYN | 0x10))!.data).seq;
      // Client ISN 1,000 below 2^32 (its 1 MiB wraps); the server's 300 below, moved the same way in ACKs.
      const clientDelta = (0xffffffff - 1000 - clientIsn) >>> 0;
      const serverDelta = (0xffffffff - 300 - serverIsn) >>> 0;
      const wrapped = all.map((f) => {
        const fromClient = tcpOf(f.data).sourcePort === clientPort;
        return {
          micros: f.micros,
          data: renumbered(f.data, fromClient ? clientDelta : serverDelta, fromClient ? serverDelta : clientDelta),
        };
      });
      const later = all.at(-1)!.micros + 1_000_000;
      const again = all.map((f) => ({ micros: f.micros + later - all[0]!.micros, data: f.data }));
      const found = conversationOf(writePcap(linkType, [...wrapped, ...again]), clientPort);
      expect(found).toHaveLength(2);
      for (const { conversation, summary } of found) {
        expectBytes(
          bytesFrom(conversation, "client"),
          redisPcap.talk.sent,
          `conversation ${summary.id}: the client's bytes`,
        );
        expectBytes(
          bytesFrom(conversation, "server"),
          redisPcap.talk.received,
          `conversation ${summary.id}: the server's bytes`,
        );
        expect(summary.complete).toBe(true);
      }
      expect(found[1]!.summary.startMs - found[0]!.summary.startMs).toBeGreaterThanOrEqual(1000);
    });

    it("imports what is whole of a capture cut short in its last packet, and says so", () => {
      const { bytes, talk } = redisPcap;
      const cut = bytes.subarray(0, bytes.byteLength - 7);
      const result = importCaptureBytes(cut);
      const found = result.conversations.find((c) => c.conversation.client.port === talk.localPort)!;
      expectBytes(bytesFrom(found.conversation, "client"), talk.sent, "the client's bytes");
      expect(result.warnings.join("\n")).toMatch(
        /^truncated packet record at byte [\d,]+: the file ends 7 bytes early — was the capture stopped while writing\? The [\d,]+ packets before it were imported\.$/m,
      );
    });

    it("gives a result or a CaptureFormatError for every truncation and random corruption, never anything else", () => {
      const { linkType, frames: all } = frames();
      // A small real capture: the handshake, PING and its answer.
      const small = writePcap(linkType, all.slice(0, 6));
      const outcome = (bytes: Uint8Array): "result" | "error" => {
        try {
          importCaptureBytes(bytes);
          return "result";
        } catch (err) {
          if (err instanceof CaptureFormatError) return "error";
          throw err;
        }
      };
      for (let n = 0; n <= small.byteLength; n += 1) outcome(small.subarray(0, n));
      fc.assert(
        fc.property(
          fc.array(fc.tuple(fc.nat(small.byteLength - 1), fc.integer({ min: 0, max: 255 })), {
            minLength: 1,
            maxLength: 8,
          }),
          (flips) => {
            const corrupt = small.slice();
            for (const [at, value] of flips) corrupt[at] = value;
            outcome(corrupt);
          },
        ),
        { numRuns: 500 },
      );
    });
  });

  it("answers unknown captures and conversations with clear errors", async () => {
    const result = ok(await t.api.importCapture({ name: "redis.pcap", data: redisPcap.bytes }));
    const missing = await t.api.openConversation({ capture: "c999", conversation: 1 });
    expect(missing).toMatchObject({ ok: false, error: { code: "unknown-capture" } });
    const beyond = await t.api.openConversation({ capture: result.capture, conversation: 99 });
    expect(beyond).toMatchObject({
      ok: false,
      error: {
        code: "unknown-conversation",
        message: `redis.pcap (capture '${result.capture}') has conversations 1 to ${result.conversations.length}; there is no conversation 99.`,
      },
    });
    const text = await t.api.importCapture({ name: "notes.txt", data: new TextEncoder().encode("hello, world\n") });
    expect(text).toMatchObject({ ok: false, error: { code: "bad-capture" } });
    expect(!text.ok && text.error.message).toMatch(/^not a capture file: it looks like a text file/);
    const nowhere = await t.api.importCapture({ name: "gone.pcap", path: path.join(dir, "gone.pcap") });
    expect(nowhere).toMatchObject({ ok: false, error: { code: "capture-unreadable" } });
    expect(!nowhere.ok && nowhere.error.message).toContain("there is no such file");
  });
});
