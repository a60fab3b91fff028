import { describe, expect, it } from "vitest";
import type { LogTimelineEvent, MessagePair, TimelineEvent } from "../../preload/timeline.ts";
import { MemoryTimeline } from "../../tests/helpers/memory-timeline.ts";
import { MAX_PENDING_REQUESTS, PairingTimeline } from "./message-pairing.ts";

/** A timeline where conns 2 and 3 are the two legs of one proxied connection. */
function timeline(): { memory: MemoryTimeline; paired: PairingTimeline } {
  const memory = new MemoryTimeline();
  const legs = (conn: number) => (conn === 2 || conn === 3 ? [2, 3] : [conn]);
  return { memory, paired: new PairingTimeline(memory, legs) };
}

function message(paired: PairingTimeline, conn: number, t: number, text: string, pair: MessagePair): TimelineEvent {
  return paired.append({ kind: "log", t, conn, level: "info", text, fields: {}, spans: [], pair });
}

const pairOf = (e: TimelineEvent) => (e as LogTimelineEvent).pair;

describe("PairingTimeline", () => {
  it("pairs responses in order with the oldest unanswered request of the connection, with the latency", () => {
    const { paired } = timeline();
    const a = message(paired, 1, 100, "GET a", { role: "request" });
    const b = message(paired, 1, 150, "GET b", { role: "request" });
    message(paired, 4, 160, "other connection", { role: "request" });
    const ra = message(paired, 1, 1_100, "1", { role: "response" });
    const rb = message(paired, 1, 1_300, "2", { role: "response" });
    expect(pairOf(ra)).toEqual({ role: "response", request: a.seq, latency: 1_000 });
    expect(pairOf(rb)).toEqual({ role: "response", request: b.seq, latency: 1_150 });
    expect(pairOf(message(paired, 1, 1_400, "3", { role: "response" }))).toEqual({ role: "response" });
  });

  it("pairs by key out of order, apart from the in-order requests", () => {
    const { paired } = timeline();
    const one = message(paired, 1, 10, "initialize", { role: "request", key: "1" });
    const two = message(paired, 1, 20, "hover", { role: "request", key: "2" });
    const plain = message(paired, 1, 30, "notify", { role: "request" });
    expect(pairOf(message(paired, 1, 50, "result 2", { role: "response", key: "2" }))).toMatchObject({
      request: two.seq,
      latency: 30,
    });
    expect(pairOf(message(paired, 1, 60, "in order", { role: "response" }))).toMatchObject({ request: plain.seq });
    expect(pairOf(message(paired, 1, 70, "result 1", { role: "response", key: "1" }))).toMatchObject({
      request: one.seq,
    });
    expect(paired.pendingIn(1)).toBe(0);
  });

  it("pairs a response on one leg of a proxied connection with a request on the other", () => {
    const { paired } = timeline();
    const request = message(paired, 2, 0, "SET k v", { role: "request" });
    expect(pairOf(message(paired, 3, 5, "+OK", { role: "response" }))).toMatchObject({ request: request.seq });
  });

  it("forgets a scope once its connections are lost, and the oldest request past the bound", () => {
    const { paired } = timeline();
    message(paired, 1, 0, "asked", { role: "request" });
    paired.append({ kind: "lifecycle", t: 1, conn: 1, event: "lost", detail: "" });
    expect(paired.pendingIn(1)).toBe(0);
    expect(pairOf(message(paired, 1, 2, "late", { role: "response" }))).toEqual({ role: "response" });

    for (let i = 0; i <= MAX_PENDING_REQUESTS; i++) message(paired, 5, i, `r${i}`, { role: "request" });
    expect(paired.pendingIn(5)).toBe(MAX_PENDING_REQUESTS);
    // The first request was forgotten: the first response answers the second.
    expect(pairOf(message(paired, 5, 1e6, "answer", { role: "response" }))).toMatchObject({ latency: 1e6 - 1 });
  });
});
