import { describe, expect, it } from "vitest";
import { Clock } from "../../core/task.ts";
import type { Conversation, ConversationEvent } from "../interchange/conversation.ts";
import { firstDifferingOffset, planExchanges, ReplayDriver } from "./replay.ts";

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
