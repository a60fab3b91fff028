/**
 * The templates report decoded messages (`log.message`): fields, the bytes each came from and request/response
 * pairing, over StringTransport, the stream fed whole, in small packets and split at every point. Each message's
 * spans must give back exactly its bytes, and each field span exactly the field's bytes.
 */
import { describe, expect, it } from "vitest";
import { StringTransport, type Protocol } from "../../core/index.ts";
import { chunkings, feed, logsOf, messagesOf, spannedText } from "./template-test-helpers.ts";
import { HttpClient } from "./templates/http.ts";
import { JsonlRpcTap } from "./templates/jsonl-rpc.ts";
import { LengthPrefixedProtocol } from "./templates/length-prefixed.ts";
import { LineProtocol } from "./templates/line.ts";
import { LspTap } from "./templates/lsp.ts";
import { NetstringProtocol } from "./templates/netstring.ts";
import { ClientLeg, ServerLeg } from "./templates/resp-tap.ts";
import { RespClient } from "./templates/resp.ts";

/** For each message: its text's bytes, and each field span's bytes, by path. */
function spanned(events: ReturnType<typeof messagesOf>, streams: Parameters<typeof spannedText>[1]) {
  return events.map((e) => ({
    bytes: spannedText(e.log_message.spans, streams),
    fields: Object.fromEntries(
      Object.entries(e.log_message.fieldSpans ?? {}).map(([path, spans]) => [path, spannedText(spans, streams)]),
    ),
    pair: e.log_message.pair,
  }));
}

describe("RESP client template", () => {
  const REPLIES = [
    "+OK\r\n",
    "-ERR no\r\n",
    ":42\r\n",
    "$6\r\nhé!\r\n\r\n",
    "$-1\r\n",
    "*0\r\n",
    "*3\r\n:1\r\n*1\r\n$1\r\na\r\n+x\r\n",
  ];

  it.each(chunkings(REPLIES.join("")))("reports each reply with its bytes, answering in order, %s", (_way, chunks) => {
    const client = new RespClient();
    client.makeConnection(new StringTransport());
    const events = messagesOf(logsOf(client, () => feed(client, chunks)));
    const stream = Buffer.from(REPLIES.join(""));
    expect(spanned(events, { in: stream })).toEqual([
      { bytes: "+OK\r\n", fields: { reply: "OK" }, pair: { role: "response" } },
      { bytes: "-ERR no\r\n", fields: { reply: "ERR no" }, pair: { role: "response" } },
      { bytes: ":42\r\n", fields: { reply: "42" }, pair: { role: "response" } },
      { bytes: "$6\r\nhÃ©!\r\n\r\n", fields: { reply: "hÃ©!\r\n" }, pair: { role: "response" } },
      { bytes: "$-1\r\n", fields: { reply: "-1" }, pair: { role: "response" } },
      { bytes: "*0\r\n", fields: { reply: "*0\r\n" }, pair: { role: "response" } },
      {
        bytes: "*3\r\n:1\r\n*1\r\n$1\r\na\r\n+x\r\n",
        fields: { "reply.0": "1", "reply.1": "*1\r\n$1\r\na\r\n", "reply.2": "x" },
        pair: { role: "response" },
      },
    ]);
  });

  it("reports each command it sends as a request, with the bytes it wrote", () => {
    const client = new RespClient();
    const transport = new StringTransport();
    client.makeConnection(transport);
    const events = messagesOf(
      logsOf(client, () => {
        client.sendCommand("PING");
        client.sendCommand("SET", "greeting", "héllo");
      }),
    );
    expect(events.map((e) => [e.command, e.args, e.line])).toEqual([
      ["PING", [], "PING"],
      ["SET", ["greeting", "héllo"], "SET greeting héllo"],
    ]);
    expect(spanned(events, { out: transport.value() })).toEqual([
      { bytes: "*1\r\n$4\r\nPING\r\n", fields: { command: "PING" }, pair: { role: "request" } },
      {
        bytes: "*3\r\n$3\r\nSET\r\n$8\r\ngreeting\r\n$6\r\nhÃ©llo\r\n",
        fields: { command: "SET", "args.0": "greeting", "args.1": "hÃ©llo" },
        pair: { role: "request" },
      },
    ]);
  });
});

describe("RESP tap template", () => {
  const COMMANDS = "set greeting hello\r\n\n*2\r\n$3\r\nGET\r\n$8\r\ngreeting\r\n  PING  \n";

  it.each(chunkings(COMMANDS))("reports each command with its bytes and its words' bytes, %s", (_way, chunks) => {
    const tap = new ClientLeg();
    tap.makeConnection(new StringTransport());
    const events = messagesOf(logsOf(tap, () => feed(tap, chunks)));
    expect(events.map((e) => [e.command, e.args])).toEqual([
      ["SET", ["greeting", "hello"]],
      ["GET", ["greeting"]],
      ["PING", []],
    ]);
    expect(spanned(events, { in: Buffer.from(COMMANDS) })).toEqual([
      {
        bytes: "set greeting hello\r\n",
        fields: { command: "set", "args.0": "greeting", "args.1": "hello" },
        pair: { role: "request" },
      },
      {
        bytes: "*2\r\n$3\r\nGET\r\n$8\r\ngreeting\r\n",
        fields: { command: "GET", "args.0": "greeting" },
        pair: { role: "request" },
      },
      { bytes: "  PING  \n", fields: { command: "PING" }, pair: { role: "request" } },
    ]);
  });

  it("reports each reply on the upstream leg as a response, with its bytes", () => {
    const replies = "+OK\r\n$5\r\nhello\r\n";
    const tap = new ServerLeg();
    tap.makeConnection(new StringTransport());
    const events = messagesOf(logsOf(tap, () => feed(tap, [Buffer.from(replies)])));
    expect(spanned(events, { in: Buffer.from(replies) })).toEqual([
      { bytes: "+OK\r\n", fields: { reply: "OK" }, pair: { role: "response" } },
      { bytes: "$5\r\nhello\r\n", fields: { reply: "hello" }, pair: { role: "response" } },
    ]);
  });
});

describe("HTTP/1.1 client template", () => {
  const HEAD_200 = "HTTP/1.1 200 OK\r\nContent-Type:  text/plain \r\nContent-Length: 11\r\n\r\n";
  const HEAD_100 = "HTTP/1.1 100 Continue\r\n\r\n";
  const HEAD_201 = "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n";
  const CHUNKED = "5;ext=1\r\nhello\r\n8\r\n, wörld\r\n0\r\nX-Trailer: t\r\n\r\n";
  const HEAD_204 = "HTTP/1.1 204 No Content\r\n\r\n";
  const STREAM = `\r\n${HEAD_100}${HEAD_200}hello world${HEAD_201}${CHUNKED}${HEAD_204}`;
  const latin1 = (text: string) => Buffer.from(text).toString("latin1");

  it.each(chunkings(STREAM))("reports each head and body with its bytes, heads answering, %s", (_way, chunks) => {
    const client = new HttpClient();
    const transport = new StringTransport();
    const events = messagesOf(
      logsOf(client, () => {
        client.makeConnection(transport);
        feed(client, chunks);
      }),
    );
    const found = spanned(events, { in: Buffer.from(STREAM), out: transport.value() });
    const request = transport.value().toString("latin1");
    expect(found).toEqual([
      { bytes: request, fields: { method: "GET", target: "/" }, pair: { role: "request" } },
      { bytes: HEAD_100, fields: { status: "100", reason: "Continue" }, pair: undefined },
      {
        bytes: HEAD_200,
        fields: { status: "200", reason: "OK", "headers.0.1": "text/plain", "headers.1.1": "11" },
        pair: { role: "response" },
      },
      { bytes: "hello world", fields: {}, pair: undefined },
      {
        bytes: HEAD_201,
        fields: { status: "201", reason: "Created", "headers.0.1": "chunked" },
        pair: { role: "response" },
      },
      { bytes: latin1(CHUNKED), fields: {}, pair: undefined },
      { bytes: HEAD_204, fields: { status: "204", reason: "No Content" }, pair: { role: "response" } },
      { bytes: "", fields: {}, pair: undefined },
    ]);
    expect(events.map((e) => e.log_format)).toEqual([
      "request {method} {target}",
      ...["response {status} {reason}", "response {status} {reason}", "body {length} bytes"],
      ...["response {status} {reason}", "body {length} bytes", "response {status} {reason}", "body {length} bytes"],
    ]);
  });
});

describe("LSP and JSON Lines JSON-RPC templates", () => {
  const frame = (message: object) => {
    const body = JSON.stringify(message);
    return `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  };
  const REQUEST = frame({ jsonrpc: "2.0", id: 1, method: "textDocument/hover", params: { text: "héllo" } });
  const NOTIFICATION = frame({ jsonrpc: "2.0", method: "initialized", params: {} });
  const SERVER_REQUEST = frame({ jsonrpc: "2.0", id: 1, method: "workspace/configuration", params: {} });
  const RESPONSE = frame({ jsonrpc: "2.0", id: 1, result: { contents: "ünïcode" } });
  const latin1 = (text: string) => Buffer.from(text).toString("latin1");

  it.each(chunkings(REQUEST + NOTIFICATION))("LSP: each frame's bytes, paired by sender and id, %s", (_way, chunks) => {
    const tap = new LspTap();
    const events = messagesOf(
      logsOf(tap, () => {
        for (const chunk of chunks) tap.childDataReceived(0, chunk);
        tap.childDataReceived(1, Buffer.from(SERVER_REQUEST + RESPONSE));
      }),
    );
    const streams = { "out:0": Buffer.from(REQUEST + NOTIFICATION), "in:1": Buffer.from(SERVER_REQUEST + RESPONSE) };
    expect(spanned(events, streams)).toEqual([
      { bytes: latin1(REQUEST), fields: {}, pair: { role: "request", key: "client:1" } },
      { bytes: NOTIFICATION, fields: {}, pair: undefined },
      { bytes: SERVER_REQUEST, fields: {}, pair: { role: "request", key: "server:1" } },
      { bytes: latin1(RESPONSE), fields: {}, pair: { role: "response", key: "client:1" } },
    ]);
  });

  it("JSON Lines: each line's bytes, its newline included, however the bytes are split", () => {
    const client =
      '{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"é"}}\n\n{"jsonrpc":"2.0","method":"x"}\r\n';
    const server = '{"jsonrpc":"2.0","id":"a","result":{}}\n';
    const [first, second] = client.split("\n\n") as [string, string];
    for (const [way, chunks] of chunkings(client)) {
      const tap = new JsonlRpcTap();
      const events = messagesOf(
        logsOf(tap, () => {
          for (const chunk of chunks) tap.childDataReceived(0, chunk);
          tap.childDataReceived(1, Buffer.from(server));
        }),
      );
      expect(spanned(events, { "out:0": Buffer.from(client), "in:1": Buffer.from(server) }), way).toEqual([
        { bytes: latin1(`${first}\n`), fields: {}, pair: { role: "request", key: "client:a" } },
        { bytes: second, fields: {}, pair: undefined },
        { bytes: server, fields: {}, pair: { role: "response", key: "client:a" } },
      ]);
    }
  });
});

describe("framed templates: line, length-prefixed, netstring", () => {
  const int32 = (text: string) => {
    const frame = Buffer.alloc(4 + text.length);
    frame.writeUInt32BE(text.length);
    frame.write(text, 4, "latin1");
    return frame.toString("latin1");
  };
  const cases: [name: string, make: () => Protocol, frames: string[]][] = [
    ["line", () => new LineProtocol(), ["hello\r\n", "\r\n", "wörld\r\n"]],
    ["length-prefixed", () => new LengthPrefixedProtocol(), [int32("one"), int32(""), int32("three")]],
    ["netstring", () => new NetstringProtocol(), ["5:hello,", "0:,", "3:abc,"]],
  ];

  it.each(cases)("%s: each message's spans are its whole frame, however the stream is split", (_name, make, frames) => {
    const stream = Buffer.from(frames.join(""), "latin1");
    for (const [way, chunks] of chunkings(stream)) {
      const protocol = make();
      const events = messagesOf(
        logsOf(protocol, () => {
          protocol.makeConnection(new StringTransport());
          for (const chunk of chunks) protocol.dataReceived(chunk);
        }),
      );
      expect(
        spanned(events, { in: stream }).map((m) => m.bytes),
        way,
      ).toEqual(frames);
    }
  });
});
