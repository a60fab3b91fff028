import { describe, expect, it } from "vitest";
import type { TimelineEvent } from "../../../preload/timeline.ts";
import {
  directionLabel,
  formatAbsolute,
  formatRelative,
  isTrouble,
  lengthLabel,
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
