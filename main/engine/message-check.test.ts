import { describe, expect, it } from "vitest";
import { checkMessage, MAX_FIELD_SPANS, MAX_MESSAGE_KEY_LENGTH, MAX_MESSAGE_SPANS } from "./message-check.ts";

const span = { dir: "in", offset: 0, length: 4 };

describe("checkMessage", () => {
  it("keeps a well-formed message, and drops pairing results the protocol made up", () => {
    const raw = {
      spans: [span, { dir: "in", offset: 4, length: 2, fd: 1 }],
      fieldSpans: { key: [{ dir: "in", offset: 1, length: 2 }] },
      pair: { role: "response", key: "7", request: 3, latency: 1 },
    };
    expect(checkMessage(raw)).toEqual({
      ok: true,
      message: { spans: raw.spans, fieldSpans: raw.fieldSpans, pair: { role: "response", key: "7" } },
    });
    expect(checkMessage({ spans: [] })).toEqual({ ok: true, message: { spans: [] } });
  });

  it.each([
    ["not an object", "SET"],
    ["spans is not a list", { spans: "0-4" }],
    [`more than ${MAX_MESSAGE_SPANS} spans`, { spans: Array(MAX_MESSAGE_SPANS + 1).fill(span) }],
    ["a span's offset is not a whole number >= 0", { spans: [{ ...span, offset: -1 }] }],
    ["a span's length is not a whole number >= 0", { spans: [{ ...span, length: "Infinity" }] }],
    ["a span's offset is not a whole number >= 0", { spans: [{ ...span, offset: 1.5 }] }],
    ['a span of spans has no dir "in" or "out"', { spans: [{ ...span, dir: "up" }] }],
    ["a span of fieldSpans.args.0 is not an object", { spans: [], fieldSpans: { command: [span], "args.0": [null] } }],
    [
      `more than ${MAX_FIELD_SPANS} field spans`,
      { spans: [], fieldSpans: { a: Array(200).fill(span), b: Array(57).fill(span) } },
    ],
    [
      `more than ${MAX_FIELD_SPANS} field spans`,
      {
        spans: [],
        fieldSpans: Object.fromEntries(Array.from({ length: MAX_FIELD_SPANS + 1 }, (_, i) => [`f${i}`, []])),
      },
    ],
    ['pair has no role "request" or "response"', { spans: [], pair: { role: "answer" } }],
    [
      `a pairing key is longer than ${MAX_MESSAGE_KEY_LENGTH}`,
      { spans: [], pair: { role: "request", key: "k".repeat(MAX_MESSAGE_KEY_LENGTH + 1) } },
    ],
  ])("refuses a message where %s", (reason, raw) => {
    expect(checkMessage(raw)).toEqual({ ok: false, reason: `log.message: ${reason}` });
  });
});
