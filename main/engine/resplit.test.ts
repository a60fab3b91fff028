import { describe, expect, it } from "vitest";
import { bytesFrom, type Conversation } from "../interchange/conversation.ts";
import { firstDifference, MAX_CHUNK, resplitConversation, runRandom } from "./resplit.ts";

const bytes = (text: string) => new Uint8Array(Buffer.from(text, "latin1"));

/** A request/response conversation with a big answer, a FIN from each side. */
const conversation: Conversation = {
  client: { host: "127.0.0.1", port: 50000 },
  server: { host: "127.0.0.1", port: 6379 },
  epochMs: 1_700_000_000_000,
  openedAt: 0,
  events: [
    { t: 10, kind: "data", from: "client", data: bytes("GET a\r\n") },
    { t: 11, kind: "data", from: "client", data: bytes("GET b\r\n") },
    { t: 20, kind: "data", from: "server", data: bytes("x".repeat(10_000)) },
    { t: 21, kind: "note", text: "a note" },
    { t: 30, kind: "data", from: "server", data: bytes("y".repeat(3)) },
    { t: 40, kind: "fin", from: "client" },
    { t: 41, kind: "fin", from: "server" },
  ],
};

describe("resplitConversation", () => {
  it("keeps each side's bytes, FINs and order; cuts into 1 byte to MAX_CHUNK; reproducible per run", () => {
    for (let run = 1; run <= 30; run++) {
      const cut = resplitConversation(conversation, runRandom(9, run));
      expect(bytesFrom(cut, "client")).toEqual(bytesFrom(conversation, "client"));
      expect(bytesFrom(cut, "server")).toEqual(bytesFrom(conversation, "server"));
      const kinds = cut.events.filter((e) => e.kind !== "data").map((e) => `${e.kind}@${e.t}`);
      expect(kinds).toEqual(["note@21", "fin@40", "fin@41"]);
      for (const e of cut.events) {
        if (e.kind !== "data") continue;
        expect(e.data.byteLength).toBeGreaterThanOrEqual(1);
        expect(e.data.byteLength).toBeLessThanOrEqual(MAX_CHUNK);
      }
      expect(cut.events.map((e) => e.t)).toEqual([...cut.events.map((e) => e.t)].sort((a, b) => a - b));
      expect(resplitConversation(conversation, runRandom(9, run))).toEqual(cut);
    }
  });

  it("keeps every byte at its recorded time: chunks recorded at different times are never merged", () => {
    const apart: Conversation = {
      ...conversation,
      events: [
        { t: 0, kind: "data", from: "client", data: bytes("a") },
        { t: 2_000_000, kind: "data", from: "client", data: bytes("b") },
      ],
    };
    for (let run = 1; run <= 50; run++) {
      const cut = resplitConversation(apart, runRandom(1, run));
      expect(cut.events.map((e) => (e.kind === "data" ? [e.t, Buffer.from(e.data).toString()] : e.kind))).toEqual([
        [0, "a"],
        [2_000_000, "b"],
      ]);
    }
    const cut = resplitConversation(conversation, runRandom(1, 1));
    let at = 0;
    for (const e of cut.events) {
      if (e.kind !== "data" || e.from !== "client") continue;
      at += e.data.byteLength;
      expect(e.t).toBe(at <= 7 ? 10 : 11);
    }
  });

  it("sometimes merges chunks recorded at the same time, sometimes splits them", () => {
    const together: Conversation = {
      ...conversation,
      events: [
        { t: 10, kind: "data", from: "client", data: bytes("GET a\r\n") },
        { t: 10, kind: "data", from: "client", data: bytes("GET b\r\n") },
      ],
    };
    const clientChunks = (run: number) => resplitConversation(together, runRandom(3, run)).events.length;
    const counts = Array.from({ length: 50 }, (_, i) => clientChunks(i + 1));
    expect(counts.some((n) => n === 1)).toBe(true); // "GET a\r\nGET b\r\n" in one chunk
    expect(counts.some((n) => n > 2)).toBe(true);
  });
});

describe("firstDifference", () => {
  const m = (text: string, fields: Record<string, unknown> = {}) => ({ text, fields });
  it("says which message differs first, in words", () => {
    expect(firstDifference([m("a"), m("b")], [m("a"), m("b")])).toBeNull();
    expect(firstDifference([m("a"), m("GET foo")], [m("a"), m("GE")])).toBe(
      "message 2 differs: expected 'GET foo', got 'GE'",
    );
    expect(firstDifference([m("a"), m("b")], [m("a")])).toBe("message 2 is missing: expected 'b', got nothing more");
    expect(firstDifference([m("a")], [m("a"), m("b")])).toBe("message 2 is extra: got 'b' after the last expected one");
    expect(firstDifference([m("x", { n: 1 })], [m("x", { n: 2 })])).toBe(
      `message 1 ('x') differs in its fields: expected {"n":1}, got {"n":2}`,
    );
    expect(firstDifference([m("+OK\r\n")], [m("+O\x00")])).toBe(
      "message 1 differs: expected '+OK\\r\\n', got '+O\\x00'",
    );
  });
});
