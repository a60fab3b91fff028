/**
 * The SMTP and PostgreSQL proxy taps over StringTransport, every case as one chunk, byte by byte and split at every
 * point: what each leg forwards (everything, unchanged), what it logs, and the byte at which it upgrades the
 * proxied pair. (Against real servers through a real proxy: tests/engine/starttls-templates.test.ts.)
 */
import { describe, expect, it } from "vitest";
import { formatEvent, globalLogPublisher, StringTransport, type LogEvent } from "../../core/index.ts";
import * as postgres from "./templates/postgres.ts";
import * as smtp from "./templates/smtp.ts";
import { messagesOf, spannedText } from "./template-test-helpers.ts";

/** A proxy leg's transport as a tap sees it: records what is forwarded, and how much of it before `startTLS`. */
class LegTransport extends StringTransport {
  /** How many bytes had been forwarded at each startTLS call. */
  readonly upgradedAt: number[] = [];
  startTLS(): void {
    this.upgradedAt.push(this.value().length);
  }
  getTLSInfo(): null {
    return null;
  }
  getPeerCertificate(): null {
    return null;
  }
}

/** Every way a stream is fed: whole, byte by byte, and split in two everywhere. */
function chunkings(data: Buffer): [way: string, chunks: Buffer[]][] {
  const ways: [string, Buffer[]][] = [["one chunk", [data]]];
  ways.push(["byte by byte", [...data].map((byte) => Buffer.from([byte]))]);
  for (let i = 1; i < data.length; i++) ways.push([`split at ${i}`, [data.subarray(0, i), data.subarray(i)]]);
  return ways;
}

/** Runs `leg` over `input` fed as `chunks`: what it forwarded, logged (formatted) and where it upgraded. */
function tap(leg: { makeConnection(t: LegTransport): void; dataReceived(d: Buffer): unknown }, chunks: Buffer[]) {
  const transport = new LegTransport();
  const events: LogEvent[] = [];
  const stop = globalLogPublisher.addObserver((e) => {
    if (e.log_source === leg) events.push(e);
  });
  try {
    leg.makeConnection(transport);
    for (const chunk of chunks) leg.dataReceived(chunk);
  } finally {
    stop();
  }
  return { forwarded: transport.value(), logs: events.map((e) => formatEvent(e)), events, at: transport.upgradedAt };
}

describe("SMTP tap", () => {
  const replies = Buffer.from(
    "220 mail.example ESMTP\r\n250-mail.example\r\n250-PIPELINING\r\n250 STARTTLS\r\n220 Ready to start TLS\r\n",
  );
  it.each(chunkings(replies))(
    "ServerLeg, %s: joins multi-line replies, upgrades right after the second 220",
    (_, c) => {
      const { forwarded, logs, at, events } = tap(new smtp.ServerLeg(), c);
      expect(forwarded.equals(replies)).toBe(true);
      expect(logs).toEqual([
        "reply 220 mail.example ESMTP",
        "reply 250 mail.example\nPIPELINING\nSTARTTLS",
        "reply 220 Ready to start TLS",
      ]);
      expect(at).toEqual([replies.length]);
      // Each reply is tied to all its lines' bytes, and answers a command (but the greeting).
      const messages = messagesOf(events);
      expect(messages.map((e) => spannedText(e.log_message.spans, { in: replies }))).toEqual([
        "220 mail.example ESMTP\r\n",
        "250-mail.example\r\n250-PIPELINING\r\n250 STARTTLS\r\n",
        "220 Ready to start TLS\r\n",
      ]);
      expect(messages.map((e) => e.log_message.pair?.role)).toEqual([undefined, "response", "response"]);
    },
  );

  const commands = Buffer.from(
    "EHLO client\r\nAUTH PLAIN AHVzZXIAcGFzcw==\r\nmail from:<a@example.org>\r\nDATA\r\n" +
      "Subject: hello\r\n\r\nbody line\r\n..dot-stuffed\r\n.\r\nQUIT\r\n",
  );
  it.each(chunkings(commands))("ClientLeg, %s: commands with their arguments, a message summed up", (_, c) => {
    const { forwarded, logs, at, events } = tap(new smtp.ClientLeg(), c);
    expect(forwarded.equals(commands)).toBe(true);
    // Each command, and the whole message up to its ".", is a request tied to its bytes.
    const messages = messagesOf(events);
    expect(messages.map((e) => spannedText(e.log_message.spans, { in: commands }))).toEqual([
      "EHLO client\r\n",
      "AUTH PLAIN AHVzZXIAcGFzcw==\r\n",
      "mail from:<a@example.org>\r\n",
      "DATA\r\n",
      "Subject: hello\r\n\r\nbody line\r\n..dot-stuffed\r\n.\r\n",
      "QUIT\r\n",
    ]);
    expect(messages.every((e) => e.log_message.pair?.role === "request")).toBe(true);
    expect(spannedText(messages[2]!.log_message.fieldSpans!["command"]!, { in: commands })).toBe("mail");
    expect(logs).toEqual([
      "command EHLO client",
      "command AUTH PLAIN AHVzZXIAcGFzcw==",
      "command MAIL from:<a@example.org>",
      "command DATA",
      "message of 4 lines, 44 bytes: hello",
      "command QUIT",
    ]);
    expect(at).toEqual([]);
  });
});

/** A typed PostgreSQL message: type byte, Int32 length (itself included), body. */
function message(type: string, ...parts: (Buffer | string | number)[]): Buffer {
  const body = Buffer.concat(parts.map(part));
  const head = Buffer.alloc(5);
  head.write(type, 0, "latin1");
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}
/** A string becomes a NUL-terminated string; a number an Int32. */
function part(value: Buffer | string | number): Buffer {
  if (typeof value === "string") return Buffer.from(`${value}\0`);
  if (typeof value === "number") {
    const int = Buffer.alloc(4);
    int.writeInt32BE(value);
    return int;
  }
  return value;
}
/** An untyped startup message: Int32 length, Int32 code, body. */
function startup(code: number, ...parts: string[]): Buffer {
  const body = Buffer.concat([part(code), ...parts.map(part), ...(parts.length > 0 ? [Buffer.from([0])] : [])]);
  return Buffer.concat([part(body.length + 4), body]);
}
const int16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);

describe("PostgreSQL tap", () => {
  const frontendMessages = [
    startup(80877103),
    startup(196608, "user", "alice", "database", "shop"),
    message("p", "secret"),
    message("Q", "SELECT 1"),
    message("X"),
  ];
  const frontend = Buffer.concat(frontendMessages);
  it.each(chunkings(frontend))("ClientLeg, %s: SSLRequest, startup parameters, then messages by type", (_, c) => {
    const { forwarded, logs, events } = tap(new postgres.ClientLeg(), c);
    expect(forwarded.equals(frontend)).toBe(true);
    expect(logs).toEqual([
      "SSLRequest",
      "StartupMessage user=alice database=shop",
      "PasswordMessage (7 bytes, not shown)",
      "Query SELECT 1",
      "Terminate",
    ]);
    expect(events[1]?.parameters).toEqual({ user: "alice", database: "shop" });
    // Each is a decoded message tied to exactly its bytes; the SSLRequest, the startup and the query are requests.
    const messages = messagesOf(events);
    expect(messages.map((e) => spannedText(e.log_message.spans, { in: frontend }))).toEqual(
      frontendMessages.map((m) => m.toString("latin1")),
    );
    expect(messages.map((e) => e.log_message.pair?.role)).toEqual([
      "request",
      "request",
      undefined,
      "request",
      undefined,
    ]);
    expect(spannedText(messages[3]!.log_message.fieldSpans!["sql"]!, { in: frontend })).toBe("SELECT 1");
  });

  const row = Buffer.concat([int16(2), part(1), Buffer.from("1"), part(-1)]);
  const field = (name: string, oid: number) =>
    Buffer.concat([part(name), part(0), int16(0), part(oid), int16(4), part(-1), int16(0)]);
  const backendMessages = [
    Buffer.from("S"),
    message("R", 0),
    message("S", "server_version", "15.18"),
    message("Z", Buffer.from("I")),
    message("T", int16(2), field("?column?", 23), field("note", 25)),
    message("D", row),
    message("C", "SELECT 1"),
    message(
      "E",
      Buffer.from("S"),
      "ERROR",
      Buffer.from("C"),
      "42601",
      Buffer.from("M"),
      "syntax error",
      Buffer.from([0]),
    ),
    message("Z", Buffer.from("E")),
  ];
  const backend = Buffer.concat(backendMessages);
  it.each(chunkings(backend))("ServerLeg, %s: upgrades right after the 'S', then decodes by type", (_, c) => {
    const { forwarded, logs, at, events } = tap(new postgres.ServerLeg(), c);
    expect(forwarded.equals(backend)).toBe(true);
    // However the bytes came, the upgrade came after the 'S' and before any message was decoded.
    expect(at).toHaveLength(1);
    expect(at[0]).toBeGreaterThanOrEqual(1);
    expect(logs).toEqual([
      "SSL accepted: upgrading the connection",
      "Authentication ok",
      "ParameterStatus server_version=15.18",
      "ReadyForQuery idle",
      "RowDescription ?column?, note",
      "DataRow 2 columns",
      "CommandComplete SELECT 1",
      "ErrorResponse ERROR 42601: syntax error",
      "ReadyForQuery in a failed transaction",
    ]);
    expect(events[5]?.values).toEqual(["1", null]);
    // Each is a decoded message tied to exactly its bytes; the 'S' and each ReadyForQuery answer a request.
    const messages = messagesOf(events);
    expect(messages.map((e) => spannedText(e.log_message.spans, { in: backend }))).toEqual(
      backendMessages.map((m) => m.toString("latin1")),
    );
    const roles = messages.map((e) => e.log_message.pair?.role);
    expect(roles).toEqual(["response", ...Array<undefined>(2), "response", ...Array<undefined>(4), "response"]);
  });

  it("ServerLeg: an 'N' leaves the connection plaintext; a message too long to decode is skipped, not buffered", () => {
    const huge = message("D", int16(1), part(2_000_000), Buffer.alloc(2_000_000, 0x61));
    const input = Buffer.concat([Buffer.from("N"), message("R", 0), huge, message("C", "SELECT 1")]);
    const { forwarded, logs, at } = tap(new postgres.ServerLeg(), [input.subarray(0, 100), input.subarray(100)]);
    expect(forwarded.equals(input)).toBe(true);
    expect(at).toEqual([]);
    expect(logs).toEqual([
      "SSL refused: the connection stays plaintext",
      "Authentication ok",
      "DataRow of 2000010 bytes: forwarded, not decoded",
      "CommandComplete SELECT 1",
    ]);
  });
});
