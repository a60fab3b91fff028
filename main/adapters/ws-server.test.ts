/**
 * Browser mode's adapter over real sockets on 127.0.0.1: the contract suite through preload/ws-client.ts, who may
 * connect (token, Origin, Host, bind address), the static files and their CSP, and the limits (message size, slow
 * clients, malformed frames).
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, mkdir, rm, symlink, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { connect as connectTcp } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { decode, encode } from "../../preload/codec.ts";
import type { Result } from "../../preload/contract.ts";
import { connectWebSocketApi, type WebSocketApi } from "../../preload/ws-client.ts";
import { createFakeService, defineContractSuite, type FakeWirescopeService } from "../../tests/contract/suite.ts";
import { exportsDir, profilesFile } from "../workspace/layout.ts";
import { contentSecurityPolicy, startWebSocketServer, type WebSocketServerHandle } from "./ws-server.ts";

/** A raw client that sends frames as they are and collects what comes back; for what the api cannot send. */
class RawClient {
  readonly messages: unknown[] = [];
  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data, isBinary) => {
      if (!isBinary) this.messages.push(decode(data.toString()));
    });
  }

  static open(url: string, options: ConstructorParameters<typeof WebSocket>[2] = {}): Promise<RawClient> {
    const ws = new WebSocket(url, options);
    return new Promise((resolve, reject) => {
      ws.once("open", () => resolve(new RawClient(ws)));
      ws.once("error", reject);
    });
  }

  /** Sends `{ id, cmd, args }` and resolves with the result of that id. */
  async invoke(id: number, cmd: string, args: unknown): Promise<Result<unknown>> {
    this.ws.send(encode({ id, cmd, args }));
    return this.reply(id);
  }

  async reply(id: number | null): Promise<Result<unknown>> {
    const deadline = Date.now() + 5000;
    for (;;) {
      const found = this.messages.find((m) => (m as { id?: unknown }).id === id) as
        { result: Result<unknown> } | undefined;
      if (found) return found.result;
      if (Date.now() > deadline) throw new Error(`no reply for id ${id}`);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }

  closed(): Promise<{ code: number; reason: string }> {
    if (this.ws.readyState === WebSocket.CLOSED) throw new Error("already closed");
    return new Promise((resolve) =>
      this.ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })),
    );
  }
}

/** What a handshake got: the HTTP status of a refusal, or "open". */
function handshake(url: string, options: ConstructorParameters<typeof WebSocket>[2] = {}): Promise<number | "open"> {
  const ws = new WebSocket(url, options);
  return new Promise((resolve, reject) => {
    ws.once("open", () => {
      ws.close();
      resolve("open");
    });
    ws.once("unexpected-response", (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.once("error", (err) => {
      if (!/Unexpected server response/.test(err.message)) reject(err);
    });
  });
}

/** A plain HTTP GET with the path sent exactly as given (no normalisation of `..`). */
function get(
  port: number,
  rawPath: string,
  options: { method?: string; host?: string } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string; bytes: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path: rawPath,
        method: options.method ?? "GET",
        headers: options.host ? { host: options.host } : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => {
          const bytes = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: bytes.toString("utf8"), bytes });
        });
      },
    );
    req.on("error", reject);
    req.end();
  });
}

defineContractSuite("over the WebSocket adapter on 127.0.0.1", async () => {
  const service = createFakeService();
  const server = await startWebSocketServer({ service });
  const api = await connectWebSocketApi(server.url, { WebSocket });
  let raw: RawClient | undefined;
  let nextId = 1;
  return {
    api,
    service,
    emit: server.emit,
    async invokeRaw(name, args) {
      raw ??= await RawClient.open(server.url);
      return raw.invoke(nextId++, name, args);
    },
    async close() {
      api.close();
      raw?.ws.close();
      await server.close();
    },
  };
});

describe("the WebSocket adapter", () => {
  let service: FakeWirescopeService;
  let server: WebSocketServerHandle;
  const opened: Array<{ close(): void }> = [];

  async function start(
    options: Partial<Parameters<typeof startWebSocketServer>[0]> = {},
  ): Promise<WebSocketServerHandle> {
    service = createFakeService();
    server = await startWebSocketServer({ service, ...options });
    return server;
  }

  async function client(url = server.url): Promise<WebSocketApi> {
    const api = await connectWebSocketApi(url, { WebSocket });
    opened.push(api);
    return api;
  }

  afterEach(async () => {
    for (const c of opened.splice(0)) c.close();
    await server?.close();
  });

  describe("who may connect", () => {
    it("listens on 127.0.0.1 only, and says so when asked for another address", async () => {
      for (const host of ["0.0.0.0", "::", "localhost", "192.168.1.10"]) {
        await expect(startWebSocketServer({ service: createFakeService(), host })).rejects.toThrow(
          /listens on 127\.0\.0\.1 only/,
        );
      }
      await start();
      expect(server.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/ws\?token=[\w-]{32}$/);
    });

    it("makes a new random token for each server", async () => {
      const other = await startWebSocketServer({ service: createFakeService() });
      await start();
      expect(other.token).not.toBe(server.token);
      await other.close();
      await expect(startWebSocketServer({ service: createFakeService(), token: "short" })).rejects.toThrow(/too short/);
    });

    it("refuses a missing or wrong token with 401, before any upgrade", async () => {
      await start();
      const base = `ws://127.0.0.1:${server.port}/ws`;
      expect(await handshake(base)).toBe(401);
      expect(await handshake(`${base}?token=`)).toBe(401);
      const wrong = server.token.slice(0, -1) + (server.token.endsWith("A") ? "B" : "A");
      expect(await handshake(`${base}?token=${wrong}`)).toBe(401);
      expect(await handshake(server.url)).toBe("open");
      expect(service.calls).toEqual([]);
    });

    it("says why it could not connect, without repeating the token", async () => {
      await start({ token: "a-token-that-is-long-enough" });
      const wrong = `ws://127.0.0.1:${server.port}/ws?token=the-wrong-token-again`;
      const failure = connectWebSocketApi(wrong, { WebSocket });
      await expect(failure).rejects.toThrow(/could not connect to ws:\/\/127\.0\.0\.1:\d+\/ws\?token=.*401/);
      await expect(failure).rejects.not.toThrow(/the-wrong-token/);
    });

    it("refuses a foreign Origin with 403 and accepts its own and the allowed ones", async () => {
      await start({ allowedOrigins: ["http://127.0.0.1:5173"] });
      expect(await handshake(server.url, { origin: "http://evil.example" })).toBe(403);
      expect(await handshake(server.url, { origin: "null" })).toBe(403);
      expect(await handshake(server.url, { origin: `http://127.0.0.1:${server.port + 1}` })).toBe(403);
      expect(await handshake(server.url, { origin: server.origin })).toBe("open");
      expect(await handshake(server.url, { origin: `http://localhost:${server.port}` })).toBe("open");
      expect(await handshake(server.url, { origin: "http://127.0.0.1:5173" })).toBe("open");
      // No Origin: not a browser (the CLI, these tests); the token still decides.
      expect(await handshake(server.url)).toBe("open");
    });

    it("refuses a Host that is not this server's (DNS rebinding) on the WebSocket and on files", async () => {
      await start();
      expect(await handshake(server.url, { headers: { host: `evil.example:${server.port}` } })).toBe(403);
      expect((await get(server.port, "/", { host: `evil.example:${server.port}` })).status).toBe(403);
    });

    it("answers 404 for WebSocket handshakes on other paths", async () => {
      await start();
      expect(await handshake(server.url.replace("/ws?", "/other?"))).toBe(404);
    });
  });

  describe("static files", () => {
    let dir: string;
    let root: string;
    beforeAll(async () => {
      dir = await mkdtemp(path.join(tmpdir(), "wirescope-static-"));
      root = path.join(dir, "renderer");
      await mkdir(path.join(root, "assets"), { recursive: true });
      await writeFile(path.join(root, "index.html"), "<!doctype html><title>Wirescope</title>");
      await writeFile(path.join(root, "assets", "app.js"), "console.log('workbench')");
      await writeFile(path.join(root, "assets", "app.css"), "body{}");
      await writeFile(path.join(dir, "secret.txt"), "not for the browser");
      await symlink(path.join(dir, "secret.txt"), path.join(root, "link.txt"));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it("serves the workbench with its content type and a strict CSP", async () => {
      await start({ staticDir: root });
      const page = await get(server.port, "/");
      expect(page.status).toBe(200);
      expect(page.body).toContain("<title>Wirescope</title>");
      expect(page.headers["content-type"]).toBe("text/html; charset=utf-8");
      const csp = page.headers["content-security-policy"];
      expect(csp).toBe(contentSecurityPolicy(server.port));
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain(`connect-src 'self' ws://127.0.0.1:${server.port}`);
      expect(csp).toContain("script-src 'self';");
      expect(csp).toContain("style-src 'self' 'unsafe-inline'");
      expect(csp).toContain("worker-src 'self' blob:");
      expect(page.headers["x-content-type-options"]).toBe("nosniff");
      expect((await get(server.port, "/assets/app.js")).headers["content-type"]).toBe("text/javascript; charset=utf-8");
      expect((await get(server.port, "/assets/app.css")).headers["content-type"]).toBe("text/css; charset=utf-8");
    });

    it("serves nothing outside its folder: .., encoded slashes and links get 404", async () => {
      await start({ staticDir: root });
      for (const attempt of [
        "/../secret.txt",
        "/assets/../../secret.txt",
        "/..%2fsecret.txt",
        "/%2e%2e/secret.txt",
        "/%2e%2e%2fsecret.txt",
        "/assets/..%5c..%5csecret.txt",
        "/link.txt",
        "/index.html%00.js",
        "/assets",
        "/missing.js",
      ]) {
        const response = await get(server.port, attempt);
        expect(response.status, attempt).toBe(404);
        expect(response.body, attempt).not.toContain("not for the browser");
      }
    });

    it("answers GET only", async () => {
      await start({ staticDir: root });
      const post = await get(server.port, "/", { method: "POST" });
      expect(post.status).toBe(405);
      expect(post.headers.allow).toBe("GET, HEAD");
    });

    it("serves no files when it has no folder", async () => {
      await start();
      expect((await get(server.port, "/")).status).toBe(404);
    });
  });

  describe("export downloads", () => {
    let dir: string;
    let workspace: string;
    let capture: Buffer;
    beforeAll(async () => {
      dir = await mkdtemp(path.join(tmpdir(), "wirescope-exports-"));
      workspace = path.join(dir, "workspace");
      await mkdir(path.join(exportsDir(workspace), "folder.pcapng"), { recursive: true });
      capture = randomBytes(3 * 1024 * 1024 + 17); // larger than a stream's chunk, not a multiple of one
      await writeFile(path.join(exportsDir(workspace), "echo session.pcapng"), capture);
      await writeFile(path.join(exportsDir(workspace), "empty.pcapng"), "");
      await writeFile(profilesFile(workspace), "not an export");
      await writeFile(path.join(dir, "secret.txt"), "not for the browser");
      await symlink(path.join(dir, "secret.txt"), path.join(exportsDir(workspace), "link.pcapng"));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    async function startWith(root: string): Promise<WebSocketApi> {
      await start();
      service.handle("getSettings", () => ({ workspace: root, defaultWorkspace: root }));
      return client();
    }

    it("streams a file of the workspace's exports folder as an attachment, bytes unchanged", async () => {
      const api = await startWith(workspace);
      const url = api.exportUrl("echo session.pcapng");
      expect(url).toBe(`${server.origin}/exports/echo%20session.pcapng?token=${server.token}`);
      const response = await fetch(url);
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe("application/vnd.tcpdump.pcap");
      expect(response.headers.get("content-disposition")).toBe(
        `attachment; filename="echo session.pcapng"; filename*=UTF-8''echo%20session.pcapng`,
      );
      expect(response.headers.get("content-length")).toBe(String(capture.length));
      expect(response.headers.get("cache-control")).toBe("no-store");
      expect(Buffer.from(await response.arrayBuffer()).equals(capture)).toBe(true);

      const empty = await fetch(api.exportUrl("empty.pcapng"));
      expect(empty.status).toBe(200);
      expect((await empty.arrayBuffer()).byteLength).toBe(0);
      const head = await get(server.port, new URL(url).pathname + new URL(url).search, { method: "HEAD" });
      expect(head.headers["content-length"]).toBe(String(capture.length));
      expect(head.bytes.length).toBe(0);
    });

    it("needs the token", async () => {
      await startWith(workspace);
      const wrong = server.token.slice(0, -1) + (server.token.endsWith("A") ? "B" : "A");
      for (const query of ["", "?token=", `?token=${wrong}`]) {
        const response = await get(server.port, `/exports/echo%20session.pcapng${query}`);
        expect(response.status, query).toBe(401);
        expect(response.body).toMatch(/valid \?token= is required/);
      }
    });

    it("serves nothing but a plain file of the exports folder: paths, .., NUL, links and folders are refused", async () => {
      await startWith(workspace);
      const token = `?token=${encodeURIComponent(server.token)}`;
      for (const [attempt, status] of [
        ["/exports/..%2fprofiles.json", 400],
        ["/exports/..%2f..%2fsecret.txt", 400],
        // Dot segments, encoded or not, are resolved by the URL parser: these leave /exports/ for the static files.
        ["/exports/..", 404],
        ["/exports/%2e%2e/profiles.json", 404],
        ["/exports/%2E%2e%2fprofiles.json", 400],
        ["/exports/sub%5c..%5cprofiles.json", 400],
        ["/exports/echo%20session.pcapng%00.txt", 400],
        ["/exports/", 400],
        ["/exports/%zz", 400],
        ["/exports/link.pcapng", 404],
        ["/exports/folder.pcapng", 404],
        ["/exports/missing.pcapng", 404],
      ] as const) {
        const response = await get(server.port, attempt + token);
        expect(response.status, attempt).toBe(status);
        expect(response.body, attempt).not.toContain("not for the browser");
        expect(response.body, attempt).not.toContain("not an export");
      }
      expect((await get(server.port, `/exports/echo%20session.pcapng${token}`, { method: "POST" })).status).toBe(405);
    });

    it("follows the engine's workspace when it changes", async () => {
      const other = path.join(dir, "other");
      await mkdir(exportsDir(other), { recursive: true });
      await writeFile(path.join(exportsDir(other), "later.pcapng"), "from the other workspace");
      const api = await startWith(workspace);
      expect((await fetch(api.exportUrl("later.pcapng"))).status).toBe(404);
      service.handle("getSettings", () => ({ workspace: other, defaultWorkspace: workspace }));
      const moved = await fetch(api.exportUrl("later.pcapng"));
      expect(await moved.text()).toBe("from the other workspace");
      expect((await fetch(api.exportUrl("echo session.pcapng"))).status).toBe(404);
    });
  });

  describe("limits", () => {
    it("closes a client that sends a 20 MiB message with 1009 and a reason, and keeps serving the others", async () => {
      await start();
      const other = await client();
      const big = await client();
      const answer = big.saveProtocol({ path: "big.ts", content: "x".repeat(20 * 1024 * 1024) });
      const closed = await big.closed;
      expect(closed.code).toBe(1009);
      expect(closed.reason).toMatch(/message too big: the limit is 16777216 bytes/);
      expect(await answer).toEqual({
        ok: false,
        error: {
          code: "disconnected",
          category: "failed",
          message: expect.stringMatching(/closed \(1009: message too big/),
        },
      });
      expect(await big.listSessions({})).toMatchObject({ ok: false, error: { code: "disconnected" } });
      expect(service.calls.some((c) => c.name === "saveProtocol")).toBe(false);
      expect(await other.listSessions({})).toMatchObject({ ok: true });
      expect(await (await client()).listTemplates({})).toMatchObject({ ok: true });
    });

    it("answers malformed frames with an error and keeps the connection", async () => {
      await start();
      const raw = await RawClient.open(server.url);
      const refusals: Array<[string | Buffer, number | null, RegExp]> = [
        ["this is not JSON", null, /not JSON/],
        [encode([1, 2, 3]), null, /a request is an object/],
        [Buffer.from([1, 2, 3]), null, /binary frames/],
        [encode({ cmd: "listSessions", args: {} }), null, /needs an id/],
        [encode({ id: 7, args: {} }), 7, /needs cmd/],
        ['{"id": 9, "cmd": "readProtocol", "args": {"path": {"$bytes": "!!"}}}', null, /not base64/],
      ];
      for (const [frame, id, message] of refusals) {
        raw.messages.length = 0;
        raw.ws.send(frame, { binary: typeof frame !== "string" });
        expect(await raw.reply(id)).toEqual({
          ok: false,
          error: { code: "malformed-message", category: "internal", message: expect.stringMatching(message) },
        });
      }
      // A lookalike of the byte marker sent by encode is an object, and the schema says what it should have been.
      raw.ws.send(encode({ id: 8, cmd: "readProtocol", args: { path: { $bytes: "!!" } } }));
      expect(await raw.reply(8)).toMatchObject({ ok: false, error: { code: "invalid-arguments" } });
      expect(await raw.invoke(10, "listSessions", {})).toMatchObject({ ok: true });
      raw.ws.close();
    });

    it("drops a client that stops reading rather than buffering for it without bound", async () => {
      await start({ maxBufferedAmount: 1024 * 1024 });
      const reader = await client();
      let received = 0;
      reader.onProtocolsChanged(() => received++);

      // A client that completes the handshake and then reads nothing.
      const key = randomBytes(16).toString("base64");
      const stalled = connectTcp(server.port, "127.0.0.1");
      stalled.write(
        `GET /ws?token=${encodeURIComponent(server.token)} HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n` +
          `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
      const accept = createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");
      await new Promise<void>((resolve) => {
        stalled.once("data", (chunk: Buffer) => {
          expect(chunk.toString()).toContain(`Sec-WebSocket-Accept: ${accept}`);
          resolve();
        });
      });
      stalled.pause();
      let stalledEnded = false;
      stalled.on("close", () => (stalledEnded = true));

      const files = [{ path: "x".repeat(256 * 1024), size: 1, mtimeMs: 0, diagnostics: [], liveConnections: 0 }];
      const sent = 200; // 50 MiB in all: far more than the socket buffers and the 1 MiB limit together.
      for (let i = 0; i < sent; i++) {
        server.emit("onProtocolsChanged", files);
        await new Promise((resolve) => setImmediate(resolve));
      }
      stalled.resume();
      let bytes = 0;
      stalled.on("data", (chunk: Buffer) => (bytes += chunk.length));
      const deadline = Date.now() + 5000;
      while (!stalledEnded && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(stalledEnded).toBe(true);
      expect(bytes).toBeLessThan(sent * 256 * 1024);
      // The client that kept reading got every event and is still served.
      await expect.poll(() => received, { timeout: 10_000 }).toBe(sent);
      expect(await reader.listSessions({})).toMatchObject({ ok: true });
    });

    it("turns a result too large to send into an error the client can act on", async () => {
      await start();
      const api = await client();
      service.handle("readProtocol", () => ({ content: "x".repeat(65 * 1024 * 1024) }));
      const result = await api.readProtocol({ path: "huge.ts" });
      expect(result).toMatchObject({
        ok: false,
        error: { code: "result-too-large", message: /over the 64 MiB limit/ },
      });
      // Only a command that can ask for less is told to; readProtocol takes no such argument.
      expect(!result.ok && result.error.message).not.toMatch(/fewer events/);
      expect(!result.ok && result.error.message).toMatch(/nothing in this command's arguments can make it smaller/);
      const chunk = new Uint8Array(1024 * 1024);
      const events = Array.from({ length: 50 }, (_, seq) => ({
        seq,
        t: seq,
        conn: 1,
        kind: "data",
        dir: "in",
        data: chunk,
      }));
      service.handle("readTimeline", () => ({ events: events as never, total: events.length }));
      const page = await api.readTimeline({ session: "s1", from: 0, count: 50 });
      expect(!page.ok && page.error).toMatchObject({
        code: "result-too-large",
        message: /over the 64 MiB limit: ask for fewer events \(a smaller count\)/,
      });
    });
  });

  describe("events and closing", () => {
    it("sends events to every connected client", async () => {
      await start();
      const [a, b] = [await client(), await client()];
      const got: string[] = [];
      a.onTimelineGrew(() => got.push("a"));
      b.onTimelineGrew(() => got.push("b"));
      server.emit("onTimelineGrew", [{ session: "s1", count: 3 }]);
      await expect.poll(() => got.sort().join()).toBe("a,b");
    });

    it("refuses to emit an event the contract does not have", async () => {
      await start();
      const emit = server.emit as (name: string, payload: unknown) => void;
      expect(() => emit("onSomethingElse", [])).toThrow(/not a contract event/);
    });

    it("closes its clients with 1001 and releases the port", async () => {
      await start();
      const api = await client();
      await server.close();
      expect(await api.closed).toEqual({ code: 1001, reason: "the engine is shutting down" });
      expect(await api.listSessions({})).toMatchObject({ ok: false, error: { code: "disconnected" } });
      const again = await startWebSocketServer({ service: createFakeService(), port: server.port });
      await again.close();
      await server.close();
    });

    it("answers calls made after the client closed, without sending them", async () => {
      await start();
      const api = await client();
      api.close();
      expect(await api.listSessions({})).toEqual({
        ok: false,
        error: {
          code: "disconnected",
          category: "failed",
          message: "the connection to the engine was closed by this client",
        },
      });
      expect(service.calls).toEqual([]);
    });
  });
});
