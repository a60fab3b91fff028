import { describe, expect, it } from "vitest";
import type { LogTimelineEvent, TimelineEvent } from "../../../preload/timeline.ts";
import {
  directionLabel,
  formatAbsolute,
  formatLatency,
  formatRelative,
  isCutChunk,
  isTrouble,
  latencyLabel,
  lengthLabel,
  messageDirection,
  previewLabel,
} from "./timeline-format.ts";

describe("a row's columns", () => {
  const out: TimelineEvent = {
    seq: 0,
    t: 5,
    conn: 1,
    kind: "data",
    dir: "out",
    data: new TextEncoder().encode("hi\n"),
  };
  const lost: TimelineEvent = { seq: 1, t: 9, conn: 1, kind: "lifecycle", event: "lost", detail: "ConnectionDone" };
  const log: TimelineEvent = { seq: 2, t: 9, conn: 1, kind: "log", level: "warn", text: "odd frame", fields: {} };

  it("shows direction, length and preview by kind", () => {
    expect([directionLabel(out), lengthLabel(out), previewLabel(out)]).toEqual(["→", "3", "hi·"]);
    expect([directionLabel(lost), lengthLabel(lost), previewLabel(lost)]).toEqual(["lost", "", "ConnectionDone"]);
    expect([directionLabel(log), previewLabel(log)]).toEqual(["warn", "odd frame"]);
  });

  it("shows a chunk read as a preview by its whole length, its preview cut with an ellipsis", () => {
    const preview: TimelineEvent = { ...out, data: new TextEncoder().encode("x".repeat(160)), size: 65_536 };
    expect(lengthLabel(preview)).toBe("65536");
    expect(previewLabel(preview)).toBe("x".repeat(160) + "…");
    expect([isCutChunk(preview), isCutChunk(out), isCutChunk(lost), isCutChunk(null)]).toEqual([
      true,
      false,
      false,
      false,
    ]);
  });

  it("shows time relative to the first event with microseconds, or as local wall-clock time", () => {
    expect(formatRelative(3_500_042, 1_000_000)).toBe("2.500042");
    expect(formatRelative(10, 20)).toBe("0.000000");
    const epoch = new Date(2024, 0, 2, 13, 4, 5, 678).getTime();
    expect(formatAbsolute(epoch, 1_000_123)).toBe("13:04:06.678123");
  });

  it("shows a failed TLS handshake as trouble, a completed one not", () => {
    const tls = { seq: 3, t: 9, conn: 1, kind: "lifecycle" as const, detail: "" };
    expect(isTrouble({ ...tls, event: "tls-failed" })).toBe(true);
    expect(isTrouble({ ...tls, event: "tls" })).toBe(false);
  });
});

describe("decoded messages", () => {
  const message = (extra: Partial<LogTimelineEvent>): LogTimelineEvent => ({
    kind: "log",
    seq: 4,
    t: 0,
    conn: 1,
    level: "info",
    text: "reply OK",
    fields: {},
    ...extra,
  });

  it("reads a message's direction from its bytes, and a paired response's latency", () => {
    expect(messageDirection(message({ spans: [{ dir: "in", offset: 0, length: 5 }] }))).toBe("in");
    expect(messageDirection(message({}))).toBeNull();
    expect(latencyLabel(message({ pair: { role: "response", request: 2, latency: 12_345 } }))).toBe("12.3 ms");
    expect(latencyLabel(message({ pair: { role: "request" } }))).toBe("");
    expect(formatLatency(850)).toBe("850 µs");
    expect(formatLatency(1500)).toBe("1.50 ms");
    expect(formatLatency(2_500_000)).toBe("2.50 s");
  });
});
