/**
 * Each template against a real peer on 127.0.0.1, run the way the app runs it: created in a workspace, compiled by
 * compileProtocol, evaluated as CommonJS with "wirescope" provided by the real core, on the core's reactor.
 * Peers: node:net sockets speaking each framing, a node:http server, and Debian's redis-server.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import vm from "node:vm";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import * as core from "../../core/index.ts";
import { compileProtocol } from "./compiler.ts";
import type { HttpClient } from "./templates/http.ts";
import type { RespClient } from "./templates/resp.ts";
import { Workspace } from "./workspace.ts";
import { freePort } from "../../tests/helpers/net.ts";

let root: string;
let workspace: Workspace;
const cleanups: (() => unknown)[] = [];

beforeEach(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), "wirescope-peers-"));
  workspace = new Workspace(root);
  await workspace.init();
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  rmSync(root, { recursive: true, force: true });
});

/** Creates template `id` in the workspace, compiles it and evaluates the bundle; returns its default export. */
async function loadTemplate<C>(id: string): Promise<C> {
  await workspace.create(id, id);
  const result = await compileProtocol(root, `${id}.ts`);
  if (!result.ok) throw new Error(`template ${id} did not compile: ${JSON.stringify(result.diagnostics)}`);
  const module = { exports: {} as { default?: unknown } };
  const require = (name: string): unknown => {
    if (name === "wirescope") return core;
    throw new Error(`the sandbox provides no module '${name}'`);
  };
  vm.compileFunction(result.code, ["exports", "require", "module"], { filename: result.fileName })(
    module.exports,
    require,
    module,
  );
  expect(typeof module.exports.default).toBe("function");
  return module.exports.default as C;
}

/** Records the log events of every protocol, for the test to look at. */
function recordLogs(): core.LogEvent[] {
  const events: core.LogEvent[] = [];
  cleanups.push(core.globalLogPublisher.addObserver((e) => events.push(e)));
  return events;
}

/** Waits until `check` returns something other than undefined (polling), or fails after `ms`. */
async function until<T>(what: string, check: () => T | undefined, ms = 3000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Listens with `protocolClass` on 127.0.0.1 and returns the port number. */
async function listen(protocolClass: core.ProtocolClass): Promise<number> {
  const port = core.reactor.listenTCP(0, core.ServerFactory.forProtocol(protocolClass), { interface: "127.0.0.1" });
  await port.listening;
  cleanups.push(() => port.stopListening());
  const host = port.getHost();
  if (host.family !== "IPv4") throw new Error("expected an IPv4 port");
  return host.port;
}

/** A node:net client to 127.0.0.1:`port` that collects what it receives. */
async function netClient(port: number): Promise<{ socket: net.Socket; received: () => Buffer; ended: () => boolean }> {
  const socket = net.connect(port, "127.0.0.1");
  const chunks: Buffer[] = [];
  let ended = false;
  socket.on("data", (chunk) => chunks.push(chunk));
  socket.on("end", () => (ended = true));
  socket.on("close", () => (ended = true));
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  cleanups.push(() => socket.destroy());
  return { socket, received: () => Buffer.concat(chunks), ended: () => ended };
}

/** Writes `parts` with a pause between them, so the server sees separate reads. */
async function writeSlowly(socket: net.Socket, parts: (string | Buffer)[]): Promise<void> {
  for (const part of parts) {
    socket.write(part);
    await new Promise((resolve) => setTimeout(resolve, 15));
  }
}

const int32Frame = (text: string) => {
  const body = Buffer.from(text, "utf8");
  const frame = Buffer.alloc(4 + body.length);
  frame.writeUInt32BE(body.length, 0);
  body.copy(frame, 4);
  return frame;
};

describe("echo template", () => {
  it("listening, sends back every byte a node:net client writes", async () => {
    const port = await listen(await loadTemplate<core.ProtocolClass>("echo"));
    const client = await netClient(port);
    const payload = Buffer.from(Array.from({ length: 100_000 }, (_, i) => i % 251));
    client.socket.write(payload.subarray(0, 10));
    client.socket.write(payload.subarray(10));
    const echoed = await until("the echo", () =>
      client.received().length >= payload.length ? client.received() : undefined,
    );
    expect(echoed.equals(payload)).toBe(true);
  });
});

describe("line template", () => {
  it("answers each line of a node:net client and logs it, however the lines are split", async () => {
    const events = recordLogs();
    const port = await listen(await loadTemplate<core.ProtocolClass>("line"));
    const client = await netClient(port);
    await writeSlowly(client.socket, ["hel", "lo\r", "\nwörld\r\nthird\r\n"]);
    const expected = "you said: hello\r\nyou said: wörld\r\nyou said: third\r\n";
    await until("the answers", () => (client.received().toString() === expected ? true : undefined));
    const lines = events.filter((e) => e.log_format === "line {line}").map((e) => e.line);
    expect(lines).toEqual(["hello", "wörld", "third"]);
  });
});

describe("length-prefixed template", () => {
  it("echoes Int32 frames from a node:net peer, whole, coalesced and split", async () => {
    const events = recordLogs();
    const port = await listen(await loadTemplate<core.ProtocolClass>("length-prefixed"));
    const client = await netClient(port);
    const frames = [int32Frame("one"), int32Frame(""), int32Frame("x".repeat(70_000)), int32Frame("last")];
    const all = Buffer.concat(frames);
    await writeSlowly(client.socket, [
      all.subarray(0, 2),
      all.subarray(2, 9),
      all.subarray(9, 40_000),
      all.subarray(40_000),
    ]);
    await until("the echoed frames", () => (client.received().length >= all.length ? true : undefined));
    expect(client.received().equals(all)).toBe(true);
    const lengths = events.filter((e) => e.log_format?.startsWith("message")).map((e) => e.length);
    expect(lengths).toEqual([3, 0, 70_000, 4]);
  });

  it("closes the connection on a length over MAX_LENGTH, before the body arrives", async () => {
    const port = await listen(await loadTemplate<core.ProtocolClass>("length-prefixed"));
    const client = await netClient(port);
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32BE(2 * 1024 * 1024, 0);
    client.socket.write(prefix);
    await until("the close", () => (client.ended() ? true : undefined));
  });
});

describe("netstring template", () => {
  it("echoes netstrings from a node:net peer, and closes on a malformed one", async () => {
    const events = recordLogs();
    const port = await listen(await loadTemplate<core.ProtocolClass>("netstring"));
    const client = await netClient(port);
    await writeSlowly(client.socket, ["5:hel", "lo,0:,", "3:abc,"]);
    await until("the echoes", () => (client.received().toString() === "5:hello,0:,3:abc," ? true : undefined));
    expect(events.filter((e) => e.log_format?.startsWith("netstring")).map((e) => e.length)).toEqual([5, 0, 3]);
    client.socket.write("x:oops,");
    await until("the close", () => (client.ended() ? true : undefined));
  });
});

describe("HTTP/1.1 client template", () => {
  let server: http.Server;
  let port: number;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.url === "/") {
        res.writeHead(200, { "Content-Type": "text/plain", "Content-Length": "17", "X-Host-Seen": req.headers.host });
        res.end("hello from node\r\n");
      } else if (req.url === "/chunked") {
        res.writeHead(200, { "Content-Type": "text/plain" }); // no length: node sends chunked
        res.write("first ");
        setTimeout(() => res.end("and second"), 20);
      } else {
        res.writeHead(404, "Nope", { "Content-Length": "0" });
        res.end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as net.AddressInfo).port;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it("sends GET / on connect and reads Content-Length, chunked and empty bodies from a node:http server", async () => {
    const events = recordLogs();
    const Http = await loadTemplate<typeof HttpClient>("http");
    const endpoint = core.clientFromString(core.reactor, `tcp:host=127.0.0.1:port=${port}`);
    const client = await endpoint.connect(core.ClientFactory.forProtocol(Http) as core.ProtocolFactoryOf<HttpClient>);
    cleanups.push(() => client.transport.loseConnection());
    const bodies = () => events.filter((e) => e.log_source === client && e.log_format === "body {length} bytes");

    await until("the first response", () => (bodies().length === 1 ? true : undefined));
    const first = events.find((e) => e.log_format === "response {status} {reason}")!;
    expect(first).toMatchObject({ status: 200, reason: "OK" });
    expect(first.headers).toContainEqual(["X-Host-Seen", `127.0.0.1:${port}`]);
    expect(bodies()[0]).toMatchObject({ length: 17, chunked: false, preview: "hello from node\r\n" });

    client.sendRequest("GET", "/chunked");
    client.sendRequest("GET", "/missing");
    await until("two more responses", () => (bodies().length === 3 ? true : undefined));
    expect(bodies()[1]).toMatchObject({ length: 16, chunked: true, preview: "first and second" });
    expect(bodies()[2]).toMatchObject({ status: 404, length: 0 });
    const statuses = events.filter((e) => e.log_format === "response {status} {reason}").map((e) => e.reason);
    expect(statuses).toEqual(["OK", "OK", "Nope"]);
  });
});

const REDIS = "/usr/bin/redis-server";

describe("RESP client template against redis-server", () => {
  let redis: ChildProcess;
  let port: number;

  beforeAll(async () => {
    if (!existsSync(REDIS)) {
      throw new Error(
        `${REDIS} is missing: these tests need a real redis-server (apt-get install redis-server; .ci/run does it)`,
      );
    }
    port = await freePort();
    redis = spawn(REDIS, ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
      cwd: os.tmpdir(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${output}`)), 10_000);
      redis.stdout!.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes("Ready to accept connections")) {
          clearTimeout(timer);
          resolve();
        }
      });
      redis.once("exit", (code) => reject(new Error(`redis-server exited with ${code}:\n${output}`)));
    });
  });

  afterAll(async () => {
    if (redis.exitCode !== null) return;
    const exited = new Promise((resolve) => redis.once("exit", resolve));
    redis.kill("SIGTERM");
    await exited;
  });

  it("decodes PONG, a SET/GET round trip, arrays nested and not, a null bulk, a null array and errors", async () => {
    const events = recordLogs();
    const Resp = await loadTemplate<typeof RespClient>("resp");
    const endpoint = core.clientFromString(core.reactor, `tcp:host=127.0.0.1:port=${port}`);
    const client = await endpoint.connect(core.ClientFactory.forProtocol(Resp) as core.ProtocolFactoryOf<RespClient>);
    cleanups.push(() => client.transport.loseConnection());
    const replies = () => events.filter((e) => e.log_source === client && e.log_format === "reply {reply}");
    let expected = 0;
    const reply = async (...command: (string | number)[]): Promise<unknown> => {
      client.sendCommand(...command);
      expected += 1;
      const got = await until(`the reply to ${command.join(" ")}`, () => replies()[expected - 1]);
      return got.reply;
    };

    expect(replies()).toEqual([]); // sends nothing by itself
    expect(await reply("PING")).toBe("PONG");
    expect(await reply("SET", "wirescope:greeting", "héllo\r\nworld")).toBe("OK");
    expect(await reply("GET", "wirescope:greeting")).toBe("héllo\r\nworld");
    expect(await reply("DEL", "wirescope:list")).toBe(0);
    expect(await reply("RPUSH", "wirescope:list", "a", "b", 3)).toBe(3);
    expect(await reply("LRANGE", "wirescope:list", 0, -1)).toEqual(["a", "b", "3"]);
    expect(await reply("EVAL", "return {1, {'x', {2, 'y'}}, 'z'}", 0)).toEqual([1, ["x", [2, "y"]], "z"]);
    expect(await reply("GET", "wirescope:missing")).toBeNull();
    expect(await reply("BLPOP", "wirescope:empty", "0.01")).toBeNull();
    const error = await reply("NOSUCHCOMMAND");
    expect(String(error)).toMatch(/^RespError: ERR unknown command/);

    const commands = events.filter((e) => e.log_source === client && e.log_format === "command {line}");
    expect(commands[2]).toMatchObject({ command: "GET", line: "GET wirescope:greeting" });
    expect(client.transport.disconnecting).toBe(false);
  });
});
