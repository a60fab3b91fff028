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

  it("keep their exact bytes after the protocol was halted, missed bytes, and was resumed by a fix", async () => {
    const version = (throws: boolean) => `
import { LineReceiver } from "wirescope";
export default class Lines extends LineReceiver {
  override lineReceived(line: Buffer): void {
    const text = line.toString("latin1");
    ${throws ? 'if (text === "boom") throw new Error("boom");' : ""}
    this.log.message("line {text}", { text });
  }
}
`;
    ok(await t.api.saveProtocol({ path: "lines.ts", content: version(true) }));
    const s = ok(await t.api.listen({ target: { port: 0 }, protocol: "lines.ts" }));
    const client = net.connect({ host: "127.0.0.1", port: Number(s.listeningOn!.split(":")[1]) });
    client.on("error", () => {});
    defer(() => client.destroy());
    const lifecycle = (events: TimelineEvent[]) =>
      events.flatMap((e) => (e.kind === "lifecycle" && e.conn === 1 ? [e.event] : []));
    client.write("first\r\nboom\r\n");
    await waitForTimeline(t.api, s.id, (e) => lifecycle(e).includes("protocol-halted"), "the halt");
    // Recorded, never given to the halted protocol.
    client.write("missed while halted\r\n");
    await waitForTimeline(t.api, s.id, (e) => bytesOf(e, 1, "in").includes("halted"), "the missed bytes");
    ok(await t.api.saveProtocol({ path: "lines.ts", content: version(false) }));
    await waitForTimeline(t.api, s.id, (e) => lifecycle(e).includes("protocol-reloaded"), "the reload");
    client.write("after the fix\r\n");
    const events = await waitForTimeline(t.api, s.id, (e) => messages(e).length >= 2, "two decoded lines");
    expect(messages(events).map((m) => bytesAt(events, m.spans!))).toEqual(["first\r\n", "after the fix\r\n"]);
  });

  it("of a LineReceiver on a child's stdout carry fd 1 and give back the child's lines", async () => {
    const protocol = `
import { LineReceiver } from "wirescope";
export default class Lines extends LineReceiver {
  override delimiter = Buffer.from("\\n");
  override lineReceived(line: Buffer): void {
    this.log.message("line {text}", { text: line.toString("latin1") });
  }
}
`;
    ok(await t.api.saveProtocol({ path: "stdout-lines.ts", content: protocol }));
    const script =
      "import sys\nfor i in range(3): print('line', i, 'x' * (i * 5000), flush=True)\nsys.stderr.write('no\\n')";
    const s = ok(await t.api.spawn({ argv: ["/usr/bin/python3", "-c", script], protocol: "stdout-lines.ts" }));
    const events = await waitForTimeline(t.api, s.id, (e) => messages(e).length >= 3, "three decoded lines");
    const stdout = Buffer.concat(events.flatMap((e) => (e.kind === "data" && e.fd === 1 ? [e.data] : [])));
    const found = messages(events);
    expect(found.map((m) => m.spans!.map((span) => span.fd))).toEqual([[1], [1], [1]]);
    expect(
      found.map((m) => stdout.subarray(m.spans![0]!.offset, m.spans![0]!.offset + m.spans![0]!.length).toString()),
    ).toEqual([0, 1, 2].map((i) => `line ${i} ${"x".repeat(i * 5000)}\n`));
  });

  it("that break the limits are recorded as plain log lines, with a protocol error saying why", async () => {
    const protocol = `
import { Protocol } from "wirescope";
export default class TooMany extends Protocol {
  override dataReceived(): void {
    const spans = Array.from({ length: 65 }, (_, i) => ({ dir: "in" as const, offset: i, length: 1 }));
    this.log.message("too many spans", {}, { spans });
  }
}
`;
    ok(await t.api.saveProtocol({ path: "too-many.ts", content: protocol }));
    const s = ok(await t.api.listen({ target: { port: 0 }, protocol: "too-many.ts" }));
    const client = net.connect({ host: "127.0.0.1", port: Number(s.listeningOn!.split(":")[1]) });
    client.on("error", () => {});
    defer(() => client.destroy());
    client.write("x");
    const events = await waitForTimeline(
      t.api,
      s.id,
      (e) => e.some((x) => x.kind === "log" && x.text === "too many spans"),
      "the log line",
    );
    const line = events.find((e) => e.kind === "log" && e.text === "too many spans") as LogTimelineEvent;
    expect(line.spans).toBeUndefined();
    const error = events.find((e) => e.kind === "lifecycle" && e.event === "protocol-error");
    expect(error).toMatchObject({ conn: 1, detail: "log.message: more than 64 spans" });
  });

  it("decoded offline, both sides at once, keep their exact bytes and pair replies with commands", async () => {
    const replier = `
import { LineReceiver } from "wirescope";
export default class Replier extends LineReceiver {
  override lineReceived(line: Buffer): void { this.sendLine(Buffer.from("OK " + line.toString("latin1"))); }
}
`;
    // Run as the server (it reads the client's bytes): commands; as the client (it reads the server's): replies.
    const decoder = `
import { LineReceiver } from "wirescope";
export class ClientLeg extends LineReceiver {
  override lineReceived(line: Buffer): void {
    this.log.message("command {text}", { text: line.toString("latin1") }, { request: true });
  }
}
export class ServerLeg extends LineReceiver {
  override lineReceived(line: Buffer): void {
    this.log.message("reply {text}", { text: line.toString("latin1") }, { response: true });
  }
}
`;
    ok(await t.api.saveProtocol({ path: "replier.ts", content: replier }));
    ok(await t.api.saveProtocol({ path: "decoder.ts", content: decoder }));
    const s = ok(await t.api.listen({ target: { port: 0 }, protocol: "replier.ts" }));
    const client = net.connect({ host: "127.0.0.1", port: Number(s.listeningOn!.split(":")[1]) });
    client.on("error", () => {});
    defer(() => client.destroy());
    for (const chunk of ["GE", "T a\r\nSET", " b c\r\n"]) {
      client.write(chunk);
      await sleep(20);
    }
    await waitForTimeline(t.api, s.id, (e) => bytesOf(e, 1, "out").includes("OK SET b c"), "both replies");
    ok(await t.api.closeConnection({ session: s.id, conn: 1 }));
    await waitForTimeline(t.api, s.id, (e) => e.some((x) => x.kind === "lifecycle" && x.event === "lost"), "the close");

    const result = ok(await t.api.decode({ session: s.id, conn: 1, protocol: "decoder.ts", side: "both" }));
    const events = await waitForTimeline(t.api, result.session.id, (e) => messages(e).length >= 4, "four messages");
    const found = messages(events);
    const commands = found.filter((m) => m.pair?.role === "request");
    const replies = found.filter((m) => m.pair?.role === "response");
    // The decode's timeline is the client's view: what the client sent is "out".
    expect(commands.map((m) => m.spans)).toEqual([
      [{ dir: "out", offset: 0, length: 7 }],
      [{ dir: "out", offset: 7, length: 9 }],
    ]);
    expect(commands.map((m) => bytesAt(events, m.spans!))).toEqual(["GET a\r\n", "SET b c\r\n"]);
    expect(replies.map((m) => bytesAt(events, m.spans!))).toEqual(["OK GET a\r\n", "OK SET b c\r\n"]);
    expect(replies.map((m) => m.pair!.request)).toEqual(commands.map((m) => m.seq));
  });

  it("on a proxy pair across legs: a reply on the upstream leg answers the command on the client leg", async () => {
    const tap = `
import { LineReceiver } from "wirescope";
/** Passes every line on, reporting it: commands on the client leg, replies on the upstream leg. */
class Tap extends LineReceiver {
  role: "request" | "response" = "request";
  override lineReceived(line: Buffer): void {
    const text = line.toString("latin1");
    this.log.message("{text}", { text }, this.role === "request" ? { request: true } : { response: true });
    this.sendLine(line);
  }
}
export class ClientLeg extends Tap {}
export class ServerLeg extends Tap {
  override role = "response" as const;
}
`;
    ok(await t.api.saveProtocol({ path: "tap.ts", content: tap }));
    const port = await pipelinedServer();
    const s = ok(
      await t.api.proxy({
        listen: { port: 0 },
        upstream: { host: "127.0.0.1", port },
        clientProtocol: "tap.ts",
        serverProtocol: "tap.ts",
      }),
    );
    const client = net.connect({ host: "127.0.0.1", port: Number(s.listeningOn!.split(":")[1]) });
    client.on("error", () => {});
    defer(() => client.destroy());
    client.write(COMMANDS.map((c) => `${c}\r\n`).join(""));
    const events = await waitForTimeline(t.api, s.id, (e) => messages(e).length >= 6, "six decoded messages");
    const found = messages(events);
    const requests = found.filter((m) => m.pair?.role === "request");
    const responses = found.filter((m) => m.pair?.role === "response");
    expect(new Set(requests.map((m) => m.conn)).size).toBe(1);
    expect(new Set(responses.map((m) => m.conn)).size).toBe(1);
    expect(responses[0]!.conn).not.toBe(requests[0]!.conn);
    expect(responses.map((m) => m.pair!.request)).toEqual(requests.map((m) => m.seq));
  });
});
