/**
 * The template list, and the parsers of the RESP and HTTP templates over StringTransport: every case as one chunk,
 * byte by byte, and split at every point. (Each template against a real peer: templates.peers.test.ts.)
 */
import { describe, expect, it } from "vitest";
import { globalLogPublisher, StringTransport, type LogEvent } from "../../core/index.ts";
import { listTemplates, templateSource } from "./templates.ts";
import { HttpClient, type HttpResponse } from "./templates/http.ts";
import { RespClient, RespError, type RespReply } from "./templates/resp.ts";

/** Every way a stream is fed: whole, 1..9-byte packets (1 is byte by byte), and split in two everywhere. */
function chunkings(input: string): [way: string, chunks: Buffer[]][] {
  const data = Buffer.from(input, "utf8");
  const ways: [string, Buffer[]][] = [["one chunk", [data]]];
  for (let size = 1; size <= 9; size++) {
    const chunks: Buffer[] = [];
    for (let i = 0; i < data.length; i += size) chunks.push(data.subarray(i, i + size));
    ways.push([`${size}-byte chunks`, chunks]);
  }
  for (let i = 1; i < data.length; i++) ways.push([`split at ${i}`, [data.subarray(0, i), data.subarray(i)]]);
  return ways;
}

/** Feeds chunks as a real transport does: nothing more once the protocol asked to disconnect. */
function feed(protocol: { dataReceived(data: Buffer): void; transport: { disconnecting: boolean } }, chunks: Buffer[]) {
  for (const chunk of chunks) {
    if (protocol.transport.disconnecting) return;
    protocol.dataReceived(chunk);
  }
}

/** The events `protocol` logs while `run` runs. */
function logsOf(protocol: object, run: () => void): LogEvent[] {
  const events: LogEvent[] = [];
  const stop = globalLogPublisher.addObserver((e) => {
    if (e.log_source === protocol) events.push(e);
  });
  try {
    run();
  } finally {
    stop();
  }
  return events;
}

describe("listTemplates / templateSource", () => {
  it("offers raw first, then a file for each protocol template", async () => {
    const ids = listTemplates().map((t) => t.id);
    expect(ids).toEqual(["raw", "echo", "line", "length-prefixed", "resp", "http", "netstring"]);
    expect(listTemplates()[0]).toMatchObject({ id: "raw", hasSource: false });
    expect(await templateSource("raw")).toBeNull();
    for (const id of ids.slice(1)) {
      const source = (await templateSource(id))!;
      expect(source).toMatch(/from "wirescope";/);
      expect(source).toMatch(/^export default \w+;$/m);
    }
  });

  it("renames the class when asked, and refuses an unknown id with UNKNOWN_TEMPLATE", async () => {
    const source = (await templateSource("echo", "Mirror"))!;
    expect(source).toContain("export class Mirror extends Protocol");
    expect(source).toContain("export default Mirror;");
    expect(source).not.toContain("EchoProtocol");
    await expect(templateSource("gopher")).rejects.toMatchObject({ code: "UNKNOWN_TEMPLATE" });
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

  it("logs each reply as 'reply {reply}', and each command it sends as 'command {command}'", () => {
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
    expect(events.map((e) => [e.log_format, e.command ?? e.reply])).toEqual([
      ["command {command}", "SET greeting 5 <2 bytes>"],
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
