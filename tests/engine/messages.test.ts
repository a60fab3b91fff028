/**
 * Decoded messages end to end: a LineReceiver protocol file in a client session against a small node:net server on
 * 127.0.0.1 that answers pipelined, in chunks that cut through replies. Each message the protocol reports with
 * `log.message` is recorded with spans that give back its exact bytes from the recorded data events, and each
 * reply is paired with its command, with the latency.
 */
import * as net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import type { LogTimelineEvent, Span, TimelineEvent } from "../../preload/timeline.ts";
import { bytesOf, ok, useEngine, waitForTimeline } from "../helpers/engine.ts";

const { t, defer } = useEngine();

const COMMANDS = ["SET greeting hello", "GET greeting", "PING"];
const REPLIES = ["OK", "hello, a value long enough to be cut into several chunks", "PONG"];

/** Sends each command as a request with its "out" span; reports each reply line as the response, with a field. */
const PROTOCOL = `
import { LineReceiver } from "wirescope";
export default class Commands extends LineReceiver {
  sent = 0;
  override connectionMade(): void {
    for (const command of ${JSON.stringify(COMMANDS)}) {
      const frame = Buffer.from(command + "\\r\\n");
      const spans = [{ dir: "out" as const, offset: this.sent, length: frame.length }];
      this.log.message("{command}", { command }, { spans, request: true });
      this.sent += frame.length;
      this.transport.write(frame);
    }
  }
  override lineReceived(line: Buffer): void {
    const text = line.toString("latin1");
    this.log.message("reply {text}", { text }, { response: true, fieldSpans: { text: [0, line.length] } });
  }
}
`;

/** A server that waits for every command, then answers them all at once, cut into 7-byte writes a little apart. */
async function pipelinedServer(): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    let received = "";
    socket.on("data", async (d) => {
      received += d.toString("latin1");
      if (received.split("\r\n").length <= COMMANDS.length) return;
      const answer = Buffer.from(REPLIES.map((r) => `${r}\r\n`).join(""));
      for (let at = 0; at < answer.length; at += 7) {
        socket.write(answer.subarray(at, at + 7));
        await sleep(10);
      }
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  defer(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as net.AddressInfo).port;
}

const messages = (events: TimelineEvent[]) =>
  events.filter((e): e is LogTimelineEvent => e.kind === "log" && e.spans !== undefined);

/** The bytes `spans` stand for in the recorded stream. */
const bytesAt = (events: TimelineEvent[], spans: Span[]) =>
  spans
    .map((s) =>
      bytesOf(events, 1, s.dir)
        .subarray(s.offset, s.offset + s.length)
        .toString("latin1"),
    )
    .join("");

describe("decoded messages", () => {
  it("are recorded with spans giving back their exact bytes, and replies are paired with their commands", async () => {
    const port = await pipelinedServer();
    ok(await t.api.saveProtocol({ path: "commands.ts", content: PROTOCOL }));
    const s = ok(await t.api.connect({ target: { host: "127.0.0.1", port }, protocol: "commands.ts" }));
    const events = await waitForTimeline(t.api, s.id, (e) => messages(e).length >= 6, "six decoded messages");
    // The replies did arrive cut through: some chunk holds the end of one reply and the start of the next.
    expect(events.filter((e) => e.kind === "data" && e.dir === "in").length).toBeGreaterThan(REPLIES.length);

    const found = messages(events);
    const requests = found.filter((m) => m.pair?.role === "request");
    const responses = found.filter((m) => m.pair?.role === "response");
    expect(requests.map((m) => bytesAt(events, m.spans!))).toEqual(COMMANDS.map((c) => `${c}\r\n`));
    expect(responses.map((m) => bytesAt(events, m.spans!))).toEqual(REPLIES.map((r) => `${r}\r\n`));
    expect(responses.map((m) => bytesAt(events, m.fieldSpans!["text"]!))).toEqual(REPLIES);
    expect(responses.map((m) => m.pair!.request)).toEqual(requests.map((m) => m.seq));
    for (const [i, response] of responses.entries()) {
      expect(response.pair!.latency).toBe(response.t - requests[i]!.t);
      expect(response.pair!.latency).toBeGreaterThan(0);
    }
  });
});
