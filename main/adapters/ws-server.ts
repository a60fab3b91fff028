/**
 * Browser mode's adapter: the contract over a WebSocket on 127.0.0.1, and the workbench's static files over HTTP on
 * the same port.
 *
 * Wire protocol (every frame is text made by preload/codec.ts, so bytes survive):
 *   client -> server  `{ id, cmd, args }`            one command; `id` is the client's (a number or a short string)
 *   server -> client  `{ id, result }`               its Result, in whatever order commands finish
 *   server -> client  `{ event, payload }`           an event, sent to every connected client
 * A frame that is not such a request gets `{ id, result: { ok: false, error: { code: "malformed-message" } } }`,
 * with `id: null` when none could be read; the connection stays.
 *
 * Who may connect (the token is like a Jupyter token: it grants what the app grants, running the user's protocols
 * with the user's rights):
 * - The server binds 127.0.0.1 and nothing else.
 * - Every request must carry a `Host` of `127.0.0.1:PORT` or `localhost:PORT` (403 otherwise), so that a page on
 *   another site that rebinds its DNS name to 127.0.0.1 reaches nothing.
 * - A WebSocket handshake whose `Origin` is not allowed gets 403 before any upgrade. Allowed are the server's own
 *   origins (`http://127.0.0.1:PORT`, `http://localhost:PORT`, where the workbench is served from) and those given
 *   in `allowedOrigins` (a Vite dev server). A handshake with no `Origin` at all is allowed: browsers always send one
 *   on WebSocket handshakes (RFC 6455 §4.1, §10.2), so a missing one means a non-browser client (the CLI, tests),
 *   which holds the token like anyone else.
 * - Then the token: `?token=` in the WebSocket URL must equal the server's (compared in constant time), or 401 and no
 *   upgrade. Static files need no token: they are the workbench's public code; the token is what guards the engine.
 * - Exports (`GET /exports/<file name>?token=...`, export-download.ts) need the token too: they are the user's
 *   traffic. They are streamed from the exports folder of the engine's workspace at the time of the request (its
 *   `getSettings`, so a `setWorkspace` is followed), not sent through the WebSocket.
 */
import { randomBytes, createHash, timingSafeEqual } from "node:crypto";
import { createReadStream } from "node:fs";
import { realpath } from "node:fs/promises";
import { createServer, STATUS_CODES, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { WebSocket, WebSocketServer, type RawData } from "ws";
import { encode, decode } from "../../preload/codec.ts";
import { contractError } from "../../preload/errors.ts";
import {
  commands,
  events,
  isCommandName,
  type CommandSpec,
  type EventSink,
  type Result,
  type WirescopeService,
} from "../../preload/contract.ts";
import { EXPORTS_ROUTE } from "../../preload/ws-client.ts";
import { exportsDir } from "../workspace/layout.ts";
import { createDispatcher, type DispatcherOptions } from "./dispatch.ts";
import { exportFileName, serveExport } from "./export-download.ts";
import {
  contentSecurityPolicy as sharedPolicy,
  contentType,
  resolveWorkbenchFile,
  workbenchHeaders,
} from "./workbench-files.ts";

/** The only address browser mode listens on. */
export const HOST = "127.0.0.1";
/** The path of the WebSocket endpoint; everything else on the port is static files. */
export const WEBSOCKET_PATH = "/ws";
/** Largest frame or message a client may send (bytes). Checked by `ws` before buffering; over it: close 1009. */
export const MAX_PAYLOAD = 16 * 1024 * 1024;
/** A client with more than this waiting to be sent to it (bytes) is too slow to keep: it is dropped with 1008. */
export const MAX_BUFFERED_AMOUNT = 64 * 1024 * 1024;
/** Largest encoded result sent (characters); a bigger one is replaced by a "result-too-large" error. */
export const MAX_RESULT_LENGTH = 64 * 1024 * 1024;
/** How long a closing client gets to answer our close frame before its socket is destroyed (ms). */
export const CLOSE_GRACE_MS = 1000;
/** How many random bytes make a token (base64url: 32 characters). */
const TOKEN_BYTES = 24;
/** Shortest token accepted when the caller supplies one. */
const MIN_TOKEN_LENGTH = 16;
/** Longest request id echoed back. */
const MAX_ID_LENGTH = 128;

/** WebSocket close codes used here (RFC 6455 §7.4.1). */
const CLOSE_GOING_AWAY = 1001;
const CLOSE_POLICY_VIOLATION = 1008;
const CLOSE_MESSAGE_TOO_BIG = 1009;

/** Options of `startWebSocketServer`. */
export interface WebSocketServerOptions {
  /** The engine. The caller owns it: closing the server does not close the service. */
  service: WirescopeService;
  /** TCP port; 0 (the default) picks a free one, see `port` in the result. */
  port?: number;
  /** Must be "127.0.0.1" (the default); anything else is refused. */
  host?: string;
  /** The secret clients must present; a random 32-character one when absent. At least 16 characters. */
  token?: string;
  /** Web origins besides the server's own allowed to open the WebSocket (e.g. "http://127.0.0.1:5173"). */
  allowedOrigins?: readonly string[];
  /** A folder served over HTTP on the same port (the built workbench), or none. */
  staticDir?: string;
  /** Limits, for tests; the defaults are the constants above. */
  maxPayload?: number;
  maxBufferedAmount?: number;
  /** Where the service's failures go before they are reduced to `{ code, category, message }` (to log stacks). */
  serviceFailed?: DispatcherOptions["serviceFailed"];
}

/** A running browser-mode server. Its owner calls `close()`. */
export interface WebSocketServerHandle {
  /** The WebSocket URL a client connects to, token included: `ws://127.0.0.1:PORT/ws?token=...`. */
  url: string;
  /** Where the static files are served: `http://127.0.0.1:PORT`. */
  origin: string;
  /** The port bound (the one asked for, or the free one picked for 0). */
  port: number;
  /** The secret in `url`; give it only to the workbench (e.g. in the page URL's fragment) and the CLI. */
  token: string;
  /** Sends an event to every connected client. Never throws for a client's sake; after `close()` does nothing. */
  emit: EventSink;
  /** Closes every client (1001), stops listening; resolves when the port is released. Idempotent. */
  close(): Promise<void>;
}

/** Something an upgrade or a request was refused for: the HTTP status and a line for the person reading it. */
interface Refusal {
  status: number;
  reason: string;
}

/**
 * The Content-Security-Policy the workbench is served with here: the one of main/adapters/workbench-files.ts (the
 * desktop app's too), with the WebSocket back to this port.
 */
export function contentSecurityPolicy(port: number): string {
  return sharedPolicy([`ws://${HOST}:${port}`]);
}

/**
 * Starts browser mode's server: listens on 127.0.0.1, serves `staticDir` over HTTP and the contract over WebSocket at
 * `/ws`. Rejects (without listening) when `host` is anything but 127.0.0.1, the token is too short, or an allowed
 * origin is not a URL; and when the port cannot be bound.
 */
export async function startWebSocketServer(options: WebSocketServerOptions): Promise<WebSocketServerHandle> {
  const host = options.host ?? HOST;
  if (host !== HOST) {
    throw new Error(
      `browser mode listens on ${HOST} only, not ${JSON.stringify(host)}: the engine must not be reachable from other machines`,
    );
  }
  const token = options.token ?? randomBytes(TOKEN_BYTES).toString("base64url");
  if (token.length < MIN_TOKEN_LENGTH)
    throw new Error(`the token is too short: give at least ${MIN_TOKEN_LENGTH} characters`);
  const extraOrigins = (options.allowedOrigins ?? []).map(normalizeOrigin);
  const maxPayload = options.maxPayload ?? MAX_PAYLOAD;
  const maxBufferedAmount = options.maxBufferedAmount ?? MAX_BUFFERED_AMOUNT;
  const staticRoot = options.staticDir === undefined ? undefined : await realpath(options.staticDir);
  const dispatch = createDispatcher(options.service, { serviceFailed: options.serviceFailed });
  const tokenDigest = digest(token);

  /** ws closes an over-long message with a bare 1009; this gives the client a reason a person can read. */
  class WirescopeSocket extends WebSocket {
    override close(code?: number, data?: string | Buffer): void {
      const reason =
        code === CLOSE_MESSAGE_TOO_BIG && data === undefined
          ? `message too big: the limit is ${maxPayload} bytes`
          : data;
      super.close(code, reason);
    }
  }
  const wss = new WebSocketServer({ noServer: true, maxPayload, WebSocket: WirescopeSocket, clientTracking: false });
  const clients = new Set<WebSocket>();
  const server = createServer();
  let port = 0;
  let closing: Promise<void> | undefined;

  /** Host header check shared by HTTP and the WebSocket handshake. */
  function checkHost(req: IncomingMessage): Refusal | undefined {
    const given = (req.headers.host ?? "").toLowerCase();
    if (given === `${HOST}:${port}` || given === `localhost:${port}`) return undefined;
    return { status: 403, reason: `wrong Host ${JSON.stringify(given)}: use http://${HOST}:${port}` };
  }

  function checkUpgrade(req: IncomingMessage): Refusal | undefined {
    const url = new URL(req.url ?? "/", `http://${HOST}:${port}`);
    if (url.pathname !== WEBSOCKET_PATH) return { status: 404, reason: `the WebSocket endpoint is ${WEBSOCKET_PATH}` };
    const wrongHost = checkHost(req);
    if (wrongHost) return wrongHost;
    const origin = req.headers.origin;
    if (
      origin !== undefined &&
      origin !== `http://${HOST}:${port}` &&
      origin !== `http://localhost:${port}` &&
      !extraOrigins.includes(origin)
    ) {
      return { status: 403, reason: `origin ${JSON.stringify(origin)} is not allowed to use this engine` };
    }
    return checkToken(url);
  }

  /** The token check shared by the WebSocket handshake and the exports route: `?token=` in constant time. */
  function checkToken(url: URL): Refusal | undefined {
    const given = url.searchParams.get("token");
    if (given === null || !timingSafeEqual(digest(given), tokenDigest)) {
      return { status: 401, reason: "a valid ?token= is required: use the URL the server printed" };
    }
    return undefined;
  }

  /** `GET /exports/<file name>?token=...`: the method, the token, a plain file name, then the file streamed. */
  async function answerExport(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const refusal = await exportRefusal(req, res, url);
    if (refusal) sendStatus(res, refusal, port, refusal.status === 405 ? { Allow: "GET, HEAD" } : {});
  }

  async function exportRefusal(req: IncomingMessage, res: ServerResponse, url: URL): Promise<Refusal | undefined> {
    if (req.method !== "GET" && req.method !== "HEAD") return { status: 405, reason: "only GET is served here" };
    const wrongToken = checkToken(url);
    if (wrongToken) return wrongToken;
    const name = exportFileName(url.pathname);
    if (typeof name !== "string") return name;
    let folder: string;
    try {
      folder = exportsDir((await options.service.getSettings({})).workspace);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      return { status: 503, reason: `the engine could not say where its workspace is: ${why}` };
    }
    // No caching: the address carries the token, and a file of the same name may be written again.
    return serveExport(folder, name, req, res, { ...securityHeaders(port), "Cache-Control": "no-store" });
  }

  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on("error", () => socket.destroy());
    let refusal: Refusal | undefined;
    try {
      refusal = closing ? { status: 503, reason: "the engine is shutting down" } : checkUpgrade(req);
    } catch {
      refusal = { status: 400, reason: "the handshake's URL could not be read" };
    }
    if (refusal) {
      refuseUpgrade(socket, refusal);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws));
  });

  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const wrongHost = checkHost(req);
    if (wrongHost) {
      sendStatus(res, wrongHost, port);
      return;
    }
    let url: URL;
    try {
      url = new URL(req.url ?? "/", `http://${HOST}:${port}`);
    } catch {
      sendStatus(res, { status: 400, reason: "the request's URL could not be read" }, port);
      return;
    }
    const answered = url.pathname.startsWith(EXPORTS_ROUTE)
      ? answerExport(req, res, url)
      : serveStatic(staticRoot, req, res, port);
    answered.catch(() => res.destroy());
  });

  function accept(ws: WebSocket): void {
    clients.add(ws);
    // ws reports what it closes a client for (an over-long message, a bad frame) as an error; the close follows.
    ws.on("error", () => {});
    ws.on("close", () => clients.delete(ws));
    ws.on("message", (data: RawData, isBinary: boolean) => {
      void answer(ws, data, isBinary);
    });
  }

  async function answer(ws: WebSocket, data: RawData, isBinary: boolean): Promise<void> {
    const request = readRequest(data, isBinary);
    const result = "refused" in request ? request.refused : await dispatch(request.cmd, request.args);
    send(ws, encodeReply(request.id, "cmd" in request ? request.cmd : undefined, result));
  }

  function send(ws: WebSocket, text: string): void {
    if (ws.readyState !== WebSocket.OPEN) return;
    if (ws.bufferedAmount > maxBufferedAmount) {
      drop(ws, `too slow: more than ${maxBufferedAmount} bytes waiting to be sent`);
      return;
    }
    ws.send(text);
  }

  const emit: EventSink = (name, payload) => {
    if (!Object.prototype.hasOwnProperty.call(events, name))
      throw new TypeError(`${String(name)} is not a contract event`);
    if (closing || clients.size === 0) return;
    const text = encode({ event: name, payload });
    for (const ws of clients) send(ws, text);
  };

  function close(): Promise<void> {
    closing ??= (async () => {
      await Promise.all([...clients].map((ws) => closeGently(ws, CLOSE_GOING_AWAY, "the engine is shutting down")));
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      wss.close();
    })();
    return closing;
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, HOST, () => {
      server.off("error", reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  return {
    url: `ws://${HOST}:${port}${WEBSOCKET_PATH}?token=${encodeURIComponent(token)}`,
    origin: `http://${HOST}:${port}`,
    port,
    token,
    emit,
    close,
  };
}

type Request = { id: string | number | null } & ({ cmd: string; args: unknown } | { refused: Result<never> });

/** Reads one frame as a request, or says why it is not one (keeping its id when it has a usable one). */
function readRequest(data: RawData, isBinary: boolean): Request {
  if (isBinary) return { id: null, refused: malformed("binary frames are not understood: send codec-encoded text") };
  let message: unknown;
  try {
    message = decode(rawText(data));
  } catch (err) {
    return { id: null, refused: malformed(err instanceof Error ? err.message : String(err)) };
  }
  if (typeof message !== "object" || message === null || Array.isArray(message)) {
    return { id: null, refused: malformed("a request is an object { id, cmd, args }") };
  }
  const { id, cmd, args } = message as { id?: unknown; cmd?: unknown; args?: unknown };
  const usableId =
    (typeof id === "number" && Number.isFinite(id)) || (typeof id === "string" && id.length <= MAX_ID_LENGTH)
      ? id
      : null;
  if (usableId === null) {
    return {
      id: null,
      refused: malformed(`a request needs an id: a number or a string of at most ${MAX_ID_LENGTH} characters`),
    };
  }
  if (typeof cmd !== "string") return { id: usableId, refused: malformed("a request needs cmd: the command's name") };
  return { id: usableId, cmd, args };
}

function malformed(message: string): Result<never> {
  return { ok: false, error: contractError("malformed-message", message) };
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString("utf8");
  return data.toString("utf8");
}

/**
 * Encodes the reply to `cmd`; a result that cannot be encoded or is too large becomes an error the client can read,
 * which says how to ask for less where the command's arguments can (its `whenTooLarge`).
 */
function encodeReply(id: string | number | null, cmd: string | undefined, result: Result<unknown>): string {
  let text: string;
  try {
    text = encode({ id, result });
  } catch (err) {
    const message = `the engine's answer could not be sent: ${err instanceof Error ? err.message : String(err)}`;
    return encode({ id, result: { ok: false, error: contractError("internal", message) } });
  }
  if (text.length <= MAX_RESULT_LENGTH) return text;
  const remedy =
    (cmd !== undefined && isCommandName(cmd) && (commands[cmd] as CommandSpec).whenTooLarge) ||
    "nothing in this command's arguments can make it smaller; this is a fault of the engine";
  const message = `the answer is ${Math.round(text.length / 2 ** 20)} MiB, over the ${MAX_RESULT_LENGTH / 2 ** 20} MiB limit: ${remedy}`;
  return encode({ id, result: { ok: false, error: contractError("result-too-large", message) } });
}

/** Closes with a reason, then destroys the socket if the client has not answered within CLOSE_GRACE_MS. */
function closeGently(ws: WebSocket, code: number, reason: string): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => ws.terminate(), CLOSE_GRACE_MS);
    timer.unref();
    ws.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
    ws.close(code, reason);
  });
}

function drop(ws: WebSocket, reason: string): void {
  void closeGently(ws, CLOSE_POLICY_VIOLATION, reason);
}

function digest(text: string): Buffer {
  // Equal-length digests let timingSafeEqual compare tokens of any length without revealing that length.
  return createHash("sha256").update(text, "utf8").digest();
}

function normalizeOrigin(origin: string): string {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    throw new Error(`allowedOrigins: ${JSON.stringify(origin)} is not an origin such as http://127.0.0.1:5173`);
  }
  return url.origin;
}

/** Writes a bare HTTP refusal on a socket that asked to upgrade, and closes it (the handshake never completes). */
function refuseUpgrade(socket: Duplex, { status, reason }: Refusal): void {
  const body = `${reason}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\n` +
      "Connection: close\r\n" +
      "Content-Type: text/plain; charset=utf-8\r\n" +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      "\r\n" +
      body,
  );
}

function securityHeaders(port: number): Record<string, string> {
  return workbenchHeaders([`ws://${HOST}:${port}`]);
}

function sendStatus(
  res: ServerResponse,
  { status, reason }: Refusal,
  port: number,
  extra: Record<string, string> = {},
): void {
  const body = `${reason}\n`;
  res.writeHead(status, {
    ...securityHeaders(port),
    ...extra,
    "Content-Type": "text/plain; charset=utf-8",
    "Content-Length": Buffer.byteLength(body),
  });
  res.end(body);
}

/**
 * Serves a file under `root` (already a real path) for GET and HEAD; `/` and paths ending in `/` mean their
 * index.html. Anything outside the root, by `..`, encoded slashes or symbolic links, is 404, as is anything missing.
 */
async function serveStatic(
  root: string | undefined,
  req: IncomingMessage,
  res: ServerResponse,
  port: number,
): Promise<void> {
  if (req.method !== "GET" && req.method !== "HEAD") {
    sendStatus(res, { status: 405, reason: "only GET is served here" }, port, { Allow: "GET, HEAD" });
    return;
  }
  const file = root === undefined ? undefined : await resolveWorkbenchFile(root, req.url ?? "/");
  if (file === undefined) {
    sendStatus(res, { status: 404, reason: "not found" }, port);
    return;
  }
  const type = contentType(file.path);
  res.writeHead(200, { ...securityHeaders(port), "Content-Type": type, "Content-Length": file.size });
  if (req.method === "HEAD") {
    res.end();
    return;
  }
  const stream = createReadStream(file.path);
  stream.on("error", () => res.destroy());
  stream.pipe(res);
}
