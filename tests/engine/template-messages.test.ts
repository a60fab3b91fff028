/**
 * The templates' decoded messages against real peers, recorded by the engine: the RESP tap on a proxy in front of
 * redis-server and a RESP client session (pipelined, so several replies share a chunk, and a big value spread over
 * many), and the HTTP/1.1 client against nginx (chunked transfer coding). Each decoded message's spans must give
 * back exactly its bytes from the recorded data events, the messages of a stream must cover it end to end, and each
 * response must be paired with its request, with the latency.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { NEED_MORE, RespDecoder, type RespReply } from "../../main/workspace/templates/resp.ts";
import type { Span, TimelineEvent } from "../../preload/timeline.ts";
import { startNginx, tempDir } from "../helpers/capture.ts";
import { ok, useEngine, waitForTimeline } from "../helpers/engine.ts";
import { chunksUnder, messagesOf, spannedBytes, streamOf, type MessageEvent } from "../helpers/spans.ts";

const { t, defer, redis } = useEngine();

/** A value far bigger than one socket read: its SET and its GET reply each arrive in many chunks. */
const BIG = "v".repeat(300_000);

/** RESP arrays of bulk strings, as a client library sends commands. */
function resp(...commands: string[][]): Buffer {
  const encode = (words: string[]) =>
    `*${words.length}\r\n${words.map((w) => `$${Buffer.byteLength(w)}\r\n${w}\r\n`).join("")}`;
  return Buffer.from(commands.map(encode).join(""));
}

const COMMANDS = [["SET", "big", BIG], ["GET", "big"], ["PING"], ["ECHO", "hi"], ["INCR", "n"], ["GET", "nosuch"]];

/** Decodes `bytes` as exactly one RESP value sent by `sender`: anything before or after it fails the test. */
function decodeOne(bytes: Buffer, sender: "client" | "server"): RespReply {
  const decoder = new RespDecoder(sender);
  decoder.append(bytes);
  const value = decoder.next();
  expect(value).not.toBe(NEED_MORE);
  expect(decoder.next()).toBe(NEED_MORE);
  expect(decoder.lastMessage).toMatchObject({ offset: 0, length: bytes.length });
  return value as RespReply;
}

/** The text of a field span of `message`. */
const fieldText = (events: TimelineEvent[], message: MessageEvent, field: string) =>
  spannedBytes(events, message.conn, message.fieldSpans![field]!).toString("latin1");

/** How many of `messages`' spans have bytes in the data event `chunk` (of their connection and direction). */
function messagesIn(events: TimelineEvent[], chunk: TimelineEvent, messages: MessageEvent[]): number {
  if (chunk.kind !== "data") return 0;
  let offset = 0;
  for (const e of events) {
    if (e === chunk) break;
    if (e.kind === "data" && e.conn === chunk.conn && e.dir === chunk.dir) offset += e.data.length;
  }
  const end = offset + chunk.data.length;
  return messages.filter((m) => m.spans.some((s: Span) => s.offset < end && s.offset + s.length > offset)).length;
}

/** Checks that responses answer requests one for one, in order, with the engine's latency. */
function expectPaired(requests: MessageEvent[], responses: MessageEvent[]): void {
  expect(requests.every((m) => m.pair?.role === "request")).toBe(true);
  expect(responses.map((m) => m.pair?.request)).toEqual(requests.map((m) => m.seq));
  for (const [i, response] of responses.entries()) {
    expect(response.pair!.latency).toBe(response.t - requests[i]!.t);
    expect(response.pair!.latency).toBeGreaterThanOrEqual(0);
  }
}

describe("RESP templates against redis-server", () => {
  it("the tap on a proxy: each pipelined command and reply is tied to exactly its bytes, replies paired", async () => {
    const redisPort = await redis();
    const s = ok(
      await t.api.proxy({
        listen: { port: 0 },
        upstream: { host: "127.0.0.1", port: redisPort },
        clientProtocol: "template:resp-tap",
        serverProtocol: "template:resp-tap",
      }),
    );
    const client = net.connect({ host: "127.0.0.1", port: Number(s.listeningOn!.split(":")[1]) });
    defer(() => client.destroy());
    client.on("error", () => {});
    client.write(resp(...COMMANDS));
    const events = await waitForTimeline(
      t.api,
      s.id,
      (e) => messagesOf(e, 2).length === COMMANDS.length,
      "every reply decoded",
    );

    const commands = messagesOf(events, 1);
    const replies = messagesOf(events, 2);
    expect(commands.map((m) => m.fields["command"])).toEqual(COMMANDS.map((c) => c[0]));
    expect(commands[1]!.text).toBe("command GET big");
    // The messages of each stream cover it end to end, and each span is exactly one value.
    expect(Buffer.concat(commands.map((m) => spannedBytes(events, 1, m.spans))).equals(streamOf(events, 1, "in"))).toBe(
      true,
    );
    expect(Buffer.concat(replies.map((m) => spannedBytes(events, 2, m.spans))).equals(streamOf(events, 2, "in"))).toBe(
      true,
    );
    for (const [i, m] of commands.entries()) {
      expect(decodeOne(spannedBytes(events, 1, m.spans), "client")).toEqual(COMMANDS[i]);
    }
    expect(replies.map((m) => decodeOne(spannedBytes(events, 2, m.spans), "server"))).toEqual([
      "OK",
      BIG,
      "PONG",
      "hi",
      1,
      null,
    ]);
    expect(fieldText(events, commands[0]!, "command")).toBe("SET");
    expect(fieldText(events, commands[0]!, "args.0")).toBe("big");
    expect(fieldText(events, replies[3]!, "reply")).toBe("hi");
    // The big value came in many chunks, and pipelined replies shared one.
    expect(chunksUnder(events, 1, commands[0]!.spans[0]!)).toBeGreaterThan(1);
    expect(chunksUnder(events, 2, replies[1]!.spans[0]!)).toBeGreaterThan(1);
    const upstreamChunks = events.filter((e) => e.kind === "data" && e.conn === 2 && e.dir === "in");
    expect(Math.max(...upstreamChunks.map((c) => messagesIn(events, c, replies)))).toBeGreaterThan(1);
    // The replies, on the upstream leg, answer the commands of the client leg.
    expectPaired(commands, replies);
  });

  it("a client session: the commands it sends and the replies it reads, each with its bytes, paired", async () => {
    const redisPort = await redis();
    ok(await t.api.createProtocol({ path: "resp.ts", template: "resp" }));
    const sends = COMMANDS.map((c) => `this.sendCommand(${c.map((w) => JSON.stringify(w)).join(", ")});`);
    const content = [
      'import RespClient from "./resp.ts"; // the template, its class renamed after the file',
      "export default class Pipelined extends RespClient {",
      `  override connectionMade(): void { ${sends.join(" ")} }`,
      "}",
    ].join("\n");
    ok(await t.api.saveProtocol({ path: "pipelined.ts", content }));
    const s = ok(await t.api.connect({ target: { host: "127.0.0.1", port: redisPort }, protocol: "pipelined.ts" }));
    const events = await waitForTimeline(
      t.api,
      s.id,
      (e) => messagesOf(e, 1).filter((m) => m.pair?.role === "response").length === COMMANDS.length,
      "every reply decoded",
    );

    const found = messagesOf(events, 1);
    const commands = found.filter((m) => m.pair?.role === "request");
    const replies = found.filter((m) => m.pair?.role === "response");
    expect(
      Buffer.concat(commands.map((m) => spannedBytes(events, 1, m.spans))).equals(streamOf(events, 1, "out")),
    ).toBe(true);
    expect(Buffer.concat(replies.map((m) => spannedBytes(events, 1, m.spans))).equals(streamOf(events, 1, "in"))).toBe(
      true,
    );
    for (const [i, m] of commands.entries()) {
      expect(decodeOne(spannedBytes(events, 1, m.spans), "client")).toEqual(COMMANDS[i]);
    }
    expect(decodeOne(spannedBytes(events, 1, replies[1]!.spans), "server")).toBe(BIG);
    expect(fieldText(events, commands[3]!, "args.0")).toBe("hi");
    expect(chunksUnder(events, 1, replies[1]!.spans[0]!)).toBeGreaterThan(1);
    expectPaired(commands, replies);
  });
});

describe("HTTP/1.1 client template against nginx", () => {
  it("pipelined requests: heads and chunked bodies tied to exactly their bytes, each head paired", async () => {
    const dir = tempDir("wirescope-http-messages-");
    defer(() => fs.rmSync(dir, { recursive: true, force: true }));
    const www = path.join(dir, "www");
    fs.mkdirSync(path.join(www, "fixed"), { recursive: true });
    const big = Array.from({ length: 4000 }, (_, i) => `line ${i} of a body nginx sends in chunks\n`).join("");
    fs.writeFileSync(path.join(www, "page.txt"), 'hello <!--# echo var="uri" --> world\n');
    fs.writeFileSync(path.join(www, "big.txt"), big);
    fs.writeFileSync(path.join(www, "fixed", "length.txt"), "a body with a Content-Length\n");
    // SSI on every type: nginx can't know the length of what it makes, so it sends it chunked; not under /fixed/.
    const nginx = await startNginx(www, dir, ["ssi on;", "ssi_types *;", "location /fixed/ { ssi off; }"]);
    defer(() => nginx.stop());

    const targets = ["/page.txt", "/big.txt", "/fixed/length.txt", "/missing"];
    const sends = targets.slice(1).map((target) => `this.sendRequest("GET", ${JSON.stringify(target)});`);
    const content = [
      'import HttpClient from "./http.ts";',
      "export default class Pipelined extends HttpClient {",
      `  override connectionMade(): void { this.sendRequest("GET", "/page.txt"); ${sends.join(" ")} }`,
      "}",
    ].join("\n");
    ok(await t.api.createProtocol({ path: "http.ts", template: "http" }));
    ok(await t.api.saveProtocol({ path: "pipelined.ts", content }));
    const s = ok(await t.api.connect({ target: { host: "127.0.0.1", port: nginx.port }, protocol: "pipelined.ts" }));
    const bodies = (e: TimelineEvent[]) => messagesOf(e, 1).filter((m) => m.text.startsWith("body "));
    const events = await waitForTimeline(t.api, s.id, (e) => bodies(e).length === targets.length, "every body");

    const found = messagesOf(events, 1);
    const requests = found.filter((m) => m.pair?.role === "request");
    const heads = found.filter((m) => m.text.startsWith("response "));
    expect(requests.map((m) => m.fields["target"])).toEqual(targets);
    expect(heads.map((m) => m.fields["status"])).toEqual([200, 200, 200, 404]);
    // What was sent is the requests end to end; what came back is each head then its body, end to end.
    expect(
      Buffer.concat(requests.map((m) => spannedBytes(events, 1, m.spans))).equals(streamOf(events, 1, "out")),
    ).toBe(true);
    const received = found.filter((m) => m.pair?.role !== "request");
    expect(Buffer.concat(received.map((m) => spannedBytes(events, 1, m.spans))).equals(streamOf(events, 1, "in"))).toBe(
      true,
    );
    for (const head of heads) {
      expect(spannedBytes(events, 1, head.spans).toString("latin1")).toMatch(/^HTTP\/1\.1 \d{3} .*\r\n\r\n$/s);
      expect(fieldText(events, head, "status")).toBe(String(head.fields["status"]));
    }
    const chunked = heads[1]!.fields["headers"] as [string, string][];
    const te = chunked.findIndex(([name]) => name.toLowerCase() === "transfer-encoding");
    expect(fieldText(events, heads[1]!, `headers.${te}.1`)).toBe("chunked");
    expect(fieldText(events, requests[1]!, "target")).toBe("/big.txt");
    // The chunked bodies' spans are their chunked encoding: undone, they are the bodies nginx made.
    const bodyOf = (i: number) => spannedBytes(events, 1, bodies(events)[i]!.spans).toString("latin1");
    expect(dechunk(bodyOf(0))).toBe("hello /page.txt world\n");
    expect(dechunk(bodyOf(1))).toBe(big);
    expect(bodyOf(2)).toBe("a body with a Content-Length\n");
    expect(chunksUnder(events, 1, bodies(events)[1]!.spans[0]!)).toBeGreaterThan(1);
    expectPaired(requests, heads);
  });
});

/** The body a chunked transfer coding carries (RFC 9112 section 7.1), trailers dropped. */
function dechunk(text: string): string {
  let body = "";
  let at = 0;
  for (;;) {
    const lineEnd = text.indexOf("\r\n", at);
    const size = parseInt(text.slice(at, lineEnd), 16);
    at = lineEnd + 2;
    if (size === 0) return body;
    body += text.slice(at, at + size);
    at += size + 2;
  }
}
