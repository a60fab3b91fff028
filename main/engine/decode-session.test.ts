import { describe, expect, it } from "vitest";
import { reactor } from "../../core/index.ts";
import { MemoryTimeline } from "../../tests/helpers/memory-timeline.ts";
import { bytesFrom, type Conversation } from "../interchange/conversation.ts";
import { ConversationTooBigError, readConversation } from "./decode-session.ts";
import { recordConversation } from "./offline.ts";
import { rawProtocols, Session } from "./session.ts";

const bytes = (text: string) => new Uint8Array(Buffer.from(text, "latin1"));

function conversation(port: number, chunks: string[]): Conversation {
  return {
    client: { host: "127.0.0.1", port },
    server: { host: "127.0.0.1", port: 6379 },
    epochMs: 1_700_000_000_000,
    openedAt: 0,
    events: [
      ...chunks.map((c, i) => ({ t: 10 + i, kind: "data" as const, from: "client" as const, data: bytes(c) })),
      { t: 5000, kind: "fin", from: "client" },
    ],
  };
}

/** An imported session with a big connection 1 and a small connection 2. */
function recorded(): { session: Session; timeline: MemoryTimeline } {
  const timeline = new MemoryTimeline({ maxEvents: 7 });
  const session = new Session({
    id: "s1",
    kind: "imported",
    name: "x",
    reactor,
    timeline,
    protocols: rawProtocols,
    changed: () => {},
  });
  recordConversation(
    session,
    timeline,
    conversation(
      50001,
      Array.from({ length: 100 }, () => "x".repeat(1000)),
    ),
  );
  recordConversation(session, timeline, conversation(50002, ["hel", "lo"]));
  return { session, timeline };
}

describe("readConversation", () => {
  it("reads one connection's conversation range by range", async () => {
    const { session, timeline } = recorded();
    const small = await readConversation(session, timeline, 2);
    expect(Buffer.from(bytesFrom(small, "client")).toString()).toBe("hello");
    expect(small.client).toEqual({ host: "127.0.0.1", port: 50002 });
    expect(small.events.map((e) => e.kind)).toEqual(["data", "data", "fin", "fin"]);
    expect(timeline.largestRead).toBe(7);
  });

  it("refuses a connection that carried more than the limit, saying what to do", async () => {
    const { session, timeline } = recorded();
    const big = readConversation(session, timeline, 1, { limit: 50_000 });
    await expect(big).rejects.toBeInstanceOf(ConversationTooBigError);
    await expect(big).rejects.toMatchObject({
      code: "conversation-too-big",
      message: expect.stringMatching(/^Connection 1 carried more than 50000 bytes.*record or import a shorter/),
    });
    expect(bytesFrom(await readConversation(session, timeline, 1, { limit: 100_000 }), "client").byteLength).toBe(
      100_000,
    );
  });

  it("stops between ranges once its signal is aborted, with the signal's reason, reading no further", async () => {
    const { session, timeline } = recorded();
    const controller = new AbortController();
    let reads = 0;
    const stopping = {
      count: timeline.count,
      read: (from: number, count: number) => {
        reads += 1;
        if (reads === 2) controller.abort(new Error("stopped by Ctrl+C"));
        return timeline.read(from, count);
      },
    };
    const read = readConversation(session, stopping, 1, { signal: controller.signal });
    await expect(read).rejects.toThrow("stopped by Ctrl+C");
    expect(reads).toBe(2);
  });
});
