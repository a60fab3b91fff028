/**
 * Search and the hex view's two ways between messages and bytes, end to end: a protocol file in a client session
 * reports each command it sends and each reply it reads as decoded messages (paired), against a node:net server on
 * 127.0.0.1 that answers in 5-byte writes. Through the contract: findTimeline finds the replies by field and
 * latency, ioGraph counts their latencies, locateSpans gives back a reply's exact bytes from the chunks holding it,
 * and messageAt leads from a byte of a reply to the reply and its field.
 */
import * as net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import type { LogTimelineEvent, TimelineEvent } from "../../preload/timeline.ts";
import { ok, useEngine, waitForTimeline } from "../helpers/engine.ts";

const { t, defer } = useEngine();

const KEYS = ["alpha", "beta", "gamma"];

/** Sends GET <key> for each key as a request; reports each reply line as the response, with its value's span. */
const PROTOCOL = `
import { LineReceiver } from "wirescope";
export default class Getter extends LineReceiver {
  sent = 0;
  override connectionMade(): void {
    for (const key of ${JSON.stringify(KEYS)}) {
      const frame = Buffer.from("GET " + key + "\\r\\n");
      this.log.message("GET {key}", { command: "GET", key }, { spans: [{ dir: "out" as const, offset: this.sent, length: frame.length }], request: true });
      this.sent += frame.length;
      this.transport.write(frame);
    }
  }
  override lineReceived(line: Buffer): void {
    const value = line.toString("latin1").slice("VALUE ".length);
    this.log.message("VALUE {value}", { command: "VALUE", value }, { response: true, fieldSpans: { value: [6, value.length] } });
  }
}
`;

/** Answers every "GET k" line with "VALUE <k repeated>", in 5-byte writes a little apart. */
async function server(): Promise<number> {
  const sockets = new Set<net.Socket>();
  const listening = net.createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    let pending = "";
    socket.on("data", async (d) => {
      pending += d.toString("latin1");
      const lines = pending.split("\r\n");
      pending = lines.pop()!;
      for (const line of lines) {
        const answer = Buffer.from(`VALUE ${line.slice(4).repeat(3)}\r\n`);
        for (let at = 0; at < answer.length; at += 5) {
          socket.write(answer.subarray(at, at + 5));
          await sleep(5);
        }
      }
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => listening.listen(0, "127.0.0.1", resolve));
  defer(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => listening.close(() => resolve()));
  });
  return (listening.address() as net.AddressInfo).port;
}

const replies = (events: TimelineEvent[]): LogTimelineEvent[] =>
  events.filter((e): e is LogTimelineEvent => e.kind === "log" && e.pair?.role === "response");

describe("searching decoded messages", () => {
  it("finds replies by field and latency, and maps a reply to its bytes and back", async () => {
    const port = await server();
    ok(await t.api.saveProtocol({ path: "getter.ts", content: PROTOCOL }));
    const s = ok(await t.api.connect({ target: { host: "127.0.0.1", port }, protocol: "getter.ts" }));
    const events = await waitForTimeline(t.api, s.id, (e) => replies(e).length >= 3, "three replies");
    const [, beta] = replies(events);

    const found = ok(
      await t.api.findTimeline({ session: s.id, filter: 'value ~ "BETA" && latency > 0us', from: 0, limit: 10 }),
    );
    expect(found.seqs).toEqual([beta!.seq]);
    const sent = ok(await t.api.findTimeline({ session: s.id, filter: "message out", from: 0, limit: 10 }));
    expect(sent.seqs).toHaveLength(KEYS.length);

    const graph = ok(await t.api.ioGraph({ session: s.id, buckets: 10 }));
    expect(graph.latency.count).toBe(3);
    expect(graph.in.messages.reduce((a, b) => a + b)).toBe(3);

    // The reply's bytes, from the chunks that hold them (5-byte writes: the reply spans several).
    const { pieces } = ok(await t.api.locateSpans({ session: s.id, conn: 1, spans: beta!.spans! }));
    expect(pieces.length).toBeGreaterThan(2);
    const bySeq = new Map(events.map((e) => [e.seq, e]));
    const bytes = pieces.map((p) => {
      const e = bySeq.get(p.seq);
      return e?.kind === "data" ? Buffer.from(e.data.subarray(p.start, p.end)).toString("latin1") : "";
    });
    expect(bytes.join("")).toBe("VALUE betabetabeta\r\n");

    const valueAt = beta!.fieldSpans!["value"]![0]!.offset + 4;
    const at = ok(await t.api.messageAt({ session: s.id, conn: 1, dir: "in", offset: valueAt }));
    expect(at).toEqual({ seq: beta!.seq, field: "value" });
    // A chunk read says where it starts in its stream: the first piece is found at its offset.
    const chunk = bySeq.get(pieces[0]!.seq);
    expect(chunk?.kind === "data" && chunk.offset! + pieces[0]!.start).toBe(beta!.spans![0]!.offset);
  });
});
