/**
 * The template list, and the parsers of the RESP, RESP tap and HTTP templates over StringTransport: every case as
 * one chunk, byte by byte, and split at every point. (Each template against a real peer: templates.peers.test.ts.)
 */
import { describe, expect, it } from "vitest";
import { formatEvent, isTapClass, StringTransport, type LogEvent } from "../../core/index.ts";
import { chunkings, feed, logsOf } from "./template-test-helpers.ts";
import { listTemplates, templateSource } from "./templates.ts";
import { HttpClient, type HttpResponse } from "./templates/http.ts";
import { JsonlRpcTap } from "./templates/jsonl-rpc.ts";
import { LspTap } from "./templates/lsp.ts";
import { ClientLeg, ServerLeg } from "./templates/resp-tap.ts";
import { NEED_MORE, RespClient, RespDecoder, RespError, RespProtocolError, type RespReply } from "./templates/resp.ts";

describe("listTemplates / templateSource", () => {
  it("offers raw first, then a file for each protocol template", async () => {
    const ids = listTemplates().map((t) => t.id);
    expect(ids).toEqual([
      "raw",
      "echo",
      "line",
      "length-prefixed",
      "resp",
      "resp-tap",
      "smtp",
      "postgres",
      "tls-client",
      "http",
      "netstring",
      "lsp",
      "jsonl-rpc",
      "bc",
    ]);
    expect(listTemplates()[0]).toMatchObject({ id: "raw", hasSource: false });
    expect(await templateSource("raw")).toBeNull();
    for (const id of ids.slice(1)) {
      const source = (await templateSource(id))!;
      expect(source).toMatch(/from "wirescope";/);
      expect(source).toMatch(/^export default \w+;$/m);
    }
  });

  it("renames the class when asked, and refuses an unknown id with unknown-template", async () => {
    const source = (await templateSource("echo", "Mirror"))!;
    expect(source).toContain("export class Mirror extends Protocol");
    expect(source).toContain("export default Mirror;");
    expect(source).not.toContain("EchoProtocol");
    await expect(templateSource("gopher")).rejects.toMatchObject({ code: "unknown-template" });
  });
});

describe("RESP template: decoder", () => {
  class Recorder extends RespClient {
    replies: RespReply[] = [];
    override replyReceived(reply: RespReply): void {
      this.replies.push(reply);
    }
  }

  const STREAM =
    "+OK\r\n-ERR unknown command 'FOO'\r\n:42\r\n:-7\r\n:12345678901234567890\r\n$6\r\nhé!\r\n\r\n$-1\r\n$0\r\n\r\n" +
    "*-1\r\n*0\r\n*3\r\n:1\r\n*2\r\n$1\r\na\r\n$-1\r\n+x\r\n";
  const EXPECTED: RespReply[] = [
    "OK",
    new RespError("ERR unknown command 'FOO'"),
    42,
    -7,
    12345678901234567890n,
    "hé!\r\n", // 6 bytes ("é" is 2), a CRLF inside: a bulk string is binary-safe
    null,
    "",
    null,
    [],
    [1, ["a", null], "x"],
  ];

  it.each(chunkings(STREAM))("decodes every kind of reply, %s", (_way, chunks) => {
    const client = new Recorder();
    const transport = new StringTransport();
    client.makeConnection(transport);
    feed(client, chunks);
    expect(client.replies).toEqual(EXPECTED);
    expect(client.replies[1]).toBeInstanceOf(RespError);
    expect(transport.disconnecting).toBe(false);
  });

  it("logs each reply as 'reply {reply}', and each command it sends as 'command {line}'", () => {
    const client = new RespClient();
    const transport = new StringTransport();
    client.makeConnection(transport);
    const events = logsOf(client, () => {
      client.sendCommand("SET", "greeting", 5, Buffer.from([0, 1]));
      client.dataReceived(Buffer.from("+OK\r\n*2\r\n$1\r\na\r\n-ERR x\r\n"));
    });
    expect(transport.value().toString("latin1")).toBe(
      "*4\r\n$3\r\nSET\r\n$8\r\ngreeting\r\n$1\r\n5\r\n$2\r\n\x00\x01\r\n",
    );
    expect(events.map((e) => [e.log_format, e.line ?? e.reply])).toEqual([
      ["command {line}", "SET greeting 5 <2 bytes>"],
      ["reply {reply}", "OK"],
      ["reply {reply}", ["a", new RespError("ERR x")]],
    ]);
  });

  it.each([
    ["?what\r\n", 'an unknown type byte "?"'],
    ["+no cr\n", "a line not ended by CRLF"],
    [":4x2\r\n", "a bad integer 4x2"],
    ["$3\r\nabcd\r\n", "a bulk string not followed by CRLF"],
    ["$600000000\r\n", "a bulk string of 600000000 bytes, over MAX_BULK_LENGTH"],
    [`$${"9".repeat(20)}\r\n`, `a bulk string of ${"9".repeat(20)} bytes, over MAX_BULK_LENGTH`],
    ["$1x\r\n", "a bad bulk length 1x"],
    [`$${"9".repeat(21)}\r\n`, `a bad bulk length ${"9".repeat(21)}`],
    ["*-2\r\n", "a bad array length -2"],
    ["*\r\n", "a bad array length "],
    [`+${"x".repeat(70000)}`, "a line longer than 65536"],
  ])("closes the connection on %j, saying what was wrong", (input, what) => {
    const client = new Recorder();
    const transport = new StringTransport();
    client.makeConnection(transport);
    const events = logsOf(client, () => client.dataReceived(Buffer.from(input)));
    expect(transport.disconnecting).toBe(true);
    expect(client.replies).toEqual([]);
    expect(events).toMatchObject([{ log_level: "error", what }]);
  });
});

describe("RESP template: decoding what a client sends", () => {
  // Inline commands (as typed into nc: CRLF or LF, extra spaces; an empty line is skipped, as Redis does) and the
  // arrays of bulk strings client libraries send.
  const STREAM = "SET greeting hello\r\nGET greeting\n\r\n*2\r\n$3\r\nGET\r\n$8\r\ngreeting\r\n  PING  \r\n";
  const EXPECTED: RespReply[] = [["SET", "greeting", "hello"], ["GET", "greeting"], ["GET", "greeting"], ["PING"]];

  it.each(chunkings(STREAM))("decodes inline and array commands, %s", (_way, chunks) => {
    const decoder = new RespDecoder("client");
    const commands: RespReply[] = [];
    for (const chunk of chunks) {
      decoder.append(chunk);
      for (let c = decoder.next(); c !== NEED_MORE; c = decoder.next()) commands.push(c);
    }
    expect(commands).toEqual(EXPECTED);
  });

  it("refuses a line over MAX_LINE_LENGTH, and keeps refusing", () => {
    const decoder = new RespDecoder("client");
    decoder.MAX_LINE_LENGTH = 10;
    decoder.append(Buffer.from("PING\r\nSET a-long-key x\r\n"));
    expect(decoder.next()).toEqual(["PING"]);
    expect(() => decoder.next()).toThrow(RespProtocolError);
    expect(() => decoder.next()).toThrow("not RESP2: a line longer than 10");
  });
});

describe("RESP tap template: a Tap that logs what passes (the proxy forwards it)", () => {
  const COMMANDS = "SET greeting hello\r\n*2\r\n$3\r\nGET\r\n$8\r\ngreeting\r\n";
  const REPLIES = "+OK\r\n$5\r\nhello\r\n*2\r\n:1\r\n-ERR no\r\n";

  it("declares both legs taps, so the proxy forwards their bytes itself", () => {
    expect([isTapClass(ClientLeg), isTapClass(ServerLeg)]).toEqual([true, true]);
  });

  it.each(chunkings(COMMANDS))("on the client leg: writes nothing, logs each command, %s", (_way, chunks) => {
    const tap = new ClientLeg();
    const transport = new StringTransport();
    tap.makeConnection(transport);
    const events = logsOf(tap, () => feed(tap, chunks));
    expect(transport.value().toString("latin1")).toBe("");
    expect(events.map((e) => formatEvent(e))).toEqual(["command SET greeting hello", "command GET greeting"]);
  });

  it.each(chunkings(REPLIES))("on the server leg: writes nothing, logs each reply, %s", (_way, chunks) => {
    const tap = new ServerLeg();
    const transport = new StringTransport();
    tap.makeConnection(transport);
    const events = logsOf(tap, () => feed(tap, chunks));
    expect(transport.value().toString("latin1")).toBe("");
    expect(events.map((e) => [e.log_format, e.reply])).toEqual([
      ["reply {reply}", "OK"],
      ["reply {reply}", "hello"],
      ["reply {reply}", [1, new RespError("ERR no")]],
    ]);
  });

  it("stops decoding what is not RESP, says so once, and never closes", () => {
    const tap = new ServerLeg();
    const transport = new StringTransport();
    tap.makeConnection(transport);
    const events = logsOf(tap, () => {
      tap.dataReceived(Buffer.from("+OK\r\n?what\r\n"));
      tap.dataReceived(Buffer.from("+OK\r\n"));
    });
    expect(transport.value().toString("latin1")).toBe("");
    expect(events.map((e) => [e.log_level, formatEvent(e)])).toEqual([
      ["info", "reply OK"],
      ["warn", 'not RESP2 (an unknown type byte "?"): forwarding without decoding from here'],
    ]);
    expect(transport.disconnecting).toBe(false);
  });
});

describe("HTTP template: response parser", () => {
  class Recorder extends HttpClient {
    responses: HttpResponse[] = [];
    override responseReceived(response: HttpResponse): void {
      this.responses.push(response);
    }
  }

  const summary = (r: HttpResponse) => [r.status, r.reason, r.chunked, r.body.toString("utf8"), r.headers.length];

  it("sends GET / with Host from the peer's address when connected", () => {
    const client = new Recorder();
    const transport = new StringTransport();
    client.makeConnection(transport);
    expect(transport.value().toString()).toBe(
      "GET / HTTP/1.1\r\nHost: 192.168.1.1:54321\r\nUser-Agent: Wirescope\r\nAccept: */*\r\n\r\n",
    );
    expect(() => client.sendRequest("GET", "/\r\nX: y")).toThrow(TypeError);
  });

  const STREAM =
    "HTTP/1.1 100 Continue\r\n\r\n" +
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world" +
    "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n8\r\n, wörld\r\n0\r\nX-Trailer: t\r\n\r\n" +
    "HTTP/1.1 204 No Content\r\n\r\n" +
    "HTTP/1.0 200 OK\r\nServer: old\r\n\r\nuntil the end";

  it.each(chunkings(STREAM))("parses Content-Length, chunked, empty and until-close bodies, %s", (_way, chunks) => {
    const client = new Recorder();
    const transport = new StringTransport();
    client.makeConnection(transport);
    feed(client, chunks);
    client.connectionLost(new Error("closed"));
    expect(client.responses.map(summary)).toEqual([
      [200, "OK", false, "hello world", 2],
      [201, "Created", true, "hello, wörld", 1],
      [204, "No Content", false, "", 0],
      [200, "OK", false, "until the end", 1],
    ]);
  });

  it("expects no body in a response to HEAD", () => {
    const client = new Recorder();
    const transport = new StringTransport();
    client.makeConnection(transport);
    client.sendRequest("HEAD", "/big");
    const head = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
    client.dataReceived(Buffer.from(`${head}12345${head}`)); // GET / (sent when connected), then HEAD
    expect(client.responses.map(summary)).toEqual([
      [200, "OK", false, "12345", 1],
      [200, "OK", false, "", 1],
    ]);
  });

  it.each([
    ["SMTP 220 hello\r\n", "a bad status line"],
    ["HTTP/1.1 200 OK\r\nno colon\r\n", "a bad header line"],
    ["HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "a bad Content-Length -1"],
    ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "a bad chunk size line"],
    ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n", "chunk data longer than its chunk size"],
  ])("closes the connection on %j, saying what was wrong", (input, what) => {
    const client = new Recorder();
    const transport = new StringTransport();
    client.makeConnection(transport);
    const events = logsOf(client, () => client.dataReceived(Buffer.from(input)));
    expect(transport.disconnecting).toBe(true);
    expect(events.filter((e) => e.log_level === "error")).toMatchObject([{ what: expect.stringContaining(what) }]);
  });
});

/** A message framed as LSP frames it: a Content-Length header counting the UTF-8 body's bytes. */
function lspFrame(message: object): string {
  const body = JSON.stringify(message);
  return `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

/** What a JSON-RPC tap logged: sender, kind of message, method, id, and the summary or outcome. */
function rpcLogs(events: LogEvent[]): string[] {
  return events.map((e) => {
    const f = e as Record<string, unknown>;
    const kind = "latencyMs" in f ? "response" : "id" in f ? "request" : "notification";
    return `${String(f["sender"])} ${kind} ${String(f["method"])} ${String(f["id"] ?? "-")} ${String(f["params"] ?? f["outcome"])}`;
  });
}

describe("LSP template (Content-Length framed JSON-RPC)", () => {
  const request = lspFrame({ jsonrpc: "2.0", id: 1, method: "textDocument/hover", params: { text: "héllo" } });
  const notification = lspFrame({ jsonrpc: "2.0", method: "initialized", params: {} });
  const response = lspFrame({ jsonrpc: "2.0", id: 1, result: { contents: "ünïcode" } });

  it("decodes both directions and pairs the response with its request, however the bytes are split", () => {
    for (const [way, chunks] of chunkings(request + notification)) {
      const tap = new LspTap();
      const events = logsOf(tap, () => {
        for (const chunk of chunks) tap.childDataReceived(0, chunk);
        // The response byte by byte (chunkings' second way).
        for (const byte of chunkings(response)[1]![1]) tap.childDataReceived(1, byte);
        tap.childDataReceived(2, Buffer.from("a log line of the server\n"));
      });
      expect(rpcLogs(events), way).toEqual([
        'client request textDocument/hover 1 {"text":"héllo"}',
        "client notification initialized - {}",
        'server response textDocument/hover 1 {"contents":"ünïcode"}',
      ]);
    }
  });

  it("stops decoding a direction whose framing is broken, with a warning, and goes on with the other", () => {
    const tap = new LspTap();
    const events = logsOf(tap, () => {
      tap.childDataReceived(0, Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
      tap.childDataReceived(0, Buffer.from(request));
      tap.childDataReceived(1, Buffer.from(lspFrame({ jsonrpc: "2.0", method: "window/logMessage", params: {} })));
    });
    expect(events.map((e) => formatEvent(e))).toEqual([
      'client: header line without a colon: "GET / HTTP/1.1": not decoded from here',
      "server notification window/logMessage {}",
    ]);
  });
});

describe("JSON Lines JSON-RPC template (MCP stdio)", () => {
  it("decodes each line both ways and pairs responses with requests, however the bytes are split", () => {
    const client =
      '{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"é"}}\n\n{"jsonrpc":"2.0","method":"x"}\r\n';
    const server = '{"jsonrpc":"2.0","id":"a","error":{"code":-32601,"message":"no such tool"}}\n';
    for (const [way, chunks] of chunkings(client)) {
      const tap = new JsonlRpcTap();
      const events = logsOf(tap, () => {
        for (const chunk of chunks) tap.childDataReceived(0, chunk);
        tap.childDataReceived(1, Buffer.from(server));
      });
      expect(rpcLogs(events), way).toEqual([
        'client request tools/call a {"name":"é"}',
        "client notification x - ",
        "server response tools/call a error -32601 no such tool",
      ]);
    }
  });
});
