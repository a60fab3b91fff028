import { describe, expect, it } from "vitest";
import { Clock } from "../../core/task.ts";
import type { Conversation, ConversationEvent } from "../interchange/conversation.ts";
import {
  firstDifferingOffset,
  planExchanges,
  REPORT_BYTES,
  REPORT_CONTEXT_BEFORE,
  ReplayDriver,
  reportedExchange,
  reportWindow,
} from "./replay.ts";

const data = (t: number, from: "client" | "server", text: string): ConversationEvent => ({
  t,
  kind: "data",
  from,
  data: new Uint8Array(Buffer.from(text)),
});
const conversation = (events: ConversationEvent[]): Conversation => ({
  client: { host: "127.0.0.1", port: 50000 },
  server: { host: "127.0.0.1", port: 6379 },
  epochMs: 0,
  openedAt: 0,
  events,
});
const text = (b: Uint8Array) => Buffer.from(b).toString();

describe("planExchanges", () => {
  const chat = conversation([
    data(1, "client", "PI"),
    data(2, "client", "NG\r\n"),
    data(3, "server", "+PONG\r\n"),
    { t: 4, kind: "note", text: "reply PONG" },
    data(5, "client", "GET a\r\n"),
    data(6, "server", "$-1"),
    data(7, "server", "\r\n"),
    data(8, "client", "QUIT\r\n"),
    { t: 9, kind: "fin", from: "client" },
  ]);

  it("pairs each client turn with the server's answer when replaying the client side", () => {
    const plan = planExchanges(chat, "client");
    expect(plan.map((e) => [text(e.sent), text(e.expected), e.sendFirst])).toEqual([
      ["PING\r\n", "+PONG\r\n", true],
      ["GET a\r\n", "$-1\r\n", true],
      ["QUIT\r\n", "", true],
    ]);
  });

  it("waits for each client turn, then answers, when replaying the server side", () => {
    const plan = planExchanges(chat, "server");
    expect(plan.map((e) => [text(e.expected), text(e.sent), e.sendFirst])).toEqual([
      ["PING\r\n", "+PONG\r\n", false],
      ["GET a\r\n", "$-1\r\n", false],
      ["QUIT\r\n", "", false],
    ]);
  });

  it("gives a server's banner an exchange of its own", () => {
    const banner = conversation([
      data(1, "server", "220 hi\r\n"),
      data(2, "client", "QUIT\r\n"),
      data(3, "server", "221\r\n"),
    ]);
    expect(planExchanges(banner, "client").map((e) => [text(e.sent), text(e.expected)])).toEqual([
      ["", "220 hi\r\n"],
      ["QUIT\r\n", "221\r\n"],
    ]);
    expect(planExchanges(banner, "server").map((e) => [text(e.expected), text(e.sent)])).toEqual([
      ["", "220 hi\r\n"],
      ["QUIT\r\n", "221\r\n"],
    ]);
  });
});

describe("firstDifferingOffset", () => {
  const b = (s: string) => new Uint8Array(Buffer.from(s));
  it("is the first differing byte, or where the shorter ends, or null", () => {
    expect(firstDifferingOffset(b("$3\r\nred\r\n"), b("$3\r\nblu\r\n"))).toBe(4);
    expect(firstDifferingOffset(b("+OK\r\n"), b("+OK"))).toBe(3);
    expect(firstDifferingOffset(b(""), b("x"))).toBe(0);
    expect(firstDifferingOffset(b("same"), b("same"))).toBeNull();
  });
});

describe("ReplayDriver", () => {
  it("reports a long replay whose peer closed early as unanswered, without sending the rest", () => {
    const events: ConversationEvent[] = [];
    for (let i = 0; i < 10_000; i++) {
      events.push(data(i * 2, "client", `PING ${i}\r\n`), data(i * 2 + 1, "server", "+PONG\r\n"));
    }
    const driver = new ReplayDriver(planExchanges(conversation(events), "client"), new Clock(), true);
    const written: string[] = [];
    let closes = 0;
    driver.connected({ write: (b) => written.push(Buffer.from(b).toString()), loseConnection: () => closes++ });
    driver.dataReceived(new Uint8Array(Buffer.from("+PONG\r\n")));
    driver.peerClosed(); // the peer answered the first exchange, then closed

    const report = driver.report();
    expect(report.state).toBe("done");
    expect(report.exchanges).toHaveLength(10_000);
    expect(report.same).toBe(1);
    expect(report.exchanges.slice(1).every((e) => e.actual.byteLength === 0 && !e.same)).toBe(true);
    // The second exchange was sent before the close was seen; nothing after it.
    expect(written).toEqual(["PING 0\r\n", "PING 1\r\n"]);
    expect(closes).toBe(1);

    driver.connectionLost();
    expect(driver.report().exchanges).toHaveLength(10_000);
  });
});

describe("the report's windows", () => {
  const filled = (length: number, byte = 0x61) => new Uint8Array(length).fill(byte);

  it("carries bytes up to the limit whole, with no window", () => {
    expect(reportWindow(REPORT_BYTES, 10)).toEqual({ start: 0, end: REPORT_BYTES });
    const e = reportedExchange(0, { sent: filled(3), expected: filled(REPORT_BYTES), sendFirst: true }, filled(5));
    expect(e).toMatchObject({ same: false, firstDifference: 5 });
    expect([e.sent.length, e.expected.length, e.actual.length]).toEqual([3, REPORT_BYTES, 5]);
    expect(e).not.toHaveProperty("sentWindow");
    expect(e).not.toHaveProperty("expectedWindow");
    expect(e).not.toHaveProperty("actualWindow");
  });

  it("cuts longer bytes to the limit from the start when the difference lies within it", () => {
    expect(reportWindow(10_000, null, 1000, 100)).toEqual({ start: 0, end: 1000 });
    expect(reportWindow(10_000, 999, 1000, 100)).toEqual({ start: 0, end: 1000 });
  });

  it("starts the window a little before a difference that lies further, the same for both answers", () => {
    expect(reportWindow(10_000, 1000, 1000, 100)).toEqual({ start: 900, end: 1900 });
    expect(reportWindow(5_000, 4_990, 1000, 100)).toEqual({ start: 4_890, end: 5_000 });
    // An answer that ends at the difference: its window reaches its end, where the difference is.
    expect(reportWindow(4_990, 4_990, 1000, 100)).toEqual({ start: 4_890, end: 4_990 });
  });

  it("reports 1 MiB answers that differ deep inside as windows holding the difference, with the whole lengths", () => {
    const expected = filled(1024 * 1024);
    const actual = filled(1024 * 1024 + 10);
    const at = 600_000;
    actual[at] = 0x62;
    const sent = filled(200_000, 0x63);
    const e = reportedExchange(4, { sent, expected, sendFirst: true }, actual);
    expect(e).toMatchObject({ index: 4, same: false, firstDifference: at });
    const start = at - REPORT_CONTEXT_BEFORE;
    expect(e.sentWindow).toEqual({ offset: 0, length: 200_000 });
    expect(e.expectedWindow).toEqual({ offset: start, length: 1024 * 1024 });
    expect(e.actualWindow).toEqual({ offset: start, length: 1024 * 1024 + 10 });
    for (const bytes of [e.sent, e.expected, e.actual]) expect(bytes.byteLength).toBe(REPORT_BYTES);
    // The windows are the whole's bytes at their offsets, the difference inside them; copies, not views of the whole.
    expect(e.actual[at - start]).toBe(0x62);
    expect(e.expected[at - start]).toBe(0x61);
    expect(e.actual.buffer.byteLength).toBe(REPORT_BYTES);
  });

  it("keeps a replay's report small however long the answers are", () => {
    const big = "x".repeat(400_000);
    const plan = planExchanges(conversation([data(1, "client", "GET\r\n"), data(2, "server", big)]), "client");
    const driver = new ReplayDriver(plan, new Clock(), true);
    driver.connected({ write: () => {}, loseConnection: () => {} });
    driver.dataReceived(new Uint8Array(Buffer.from(big.slice(0, 250_000) + "y".repeat(150_000))));
    const [e] = driver.report().exchanges;
    expect(e).toMatchObject({ same: false, firstDifference: 250_000 });
    expect(e!.expected.byteLength + e!.actual.byteLength).toBe(2 * REPORT_BYTES);
    expect(e!.actualWindow).toEqual({ offset: 250_000 - REPORT_CONTEXT_BEFORE, length: 400_000 });
    expect(text(e!.actual.subarray(REPORT_CONTEXT_BEFORE - 1, REPORT_CONTEXT_BEFORE + 1))).toBe("xy");
  });
});
