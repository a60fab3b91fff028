/**
 * The contract over a WebSocket: what the workbench uses in browser mode instead of the Electron preload's object,
 * with the same shape (`WirescopeApi`). Speaks the wire protocol of main/adapters/ws-server.ts, encoded with
 * codec.ts. Built by looping over the contract's `commands` and `events` tables: no command is listed here.
 *
 * Runs wherever there is a WebSocket: the browser's global one, or one passed in (Node 20 has none built in; tests
 * and the CLI pass the `ws` package's).
 */
import { decode, encode } from "./codec.ts";
import { commands, events, type ContractError, type Result, type WirescopeApi } from "./contract.ts";
import { contractError, invalidArguments } from "./errors.ts";

/** The part of the WebSocket API used here: the browser's and the `ws` package's both fit. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "open", listener: (event: object) => void): void;
  addEventListener(type: "error", listener: (event: { message?: string }) => void): void;
  addEventListener(type: "close", listener: (event: { code: number; reason: string }) => void): void;
  addEventListener(type: "message", listener: (event: { data: unknown }) => void): void;
}

/** A WebSocket class: the global `WebSocket` or `ws`'s. */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** Options of `connectWebSocketApi`. */
export interface WebSocketApiOptions {
  /** The WebSocket class to use; by default the global one. Required under Node 20. */
  WebSocket?: WebSocketConstructor;
  /** Called when an event listener throws (the other listeners still run); by default `console.error`. */
  listenerFailed?: (event: string, err: unknown) => void;
}

/** How the connection ended: the WebSocket close code and reason (1009: a message was too big, ...). */
export interface Disconnection {
  code: number;
  reason: string;
}

/** The contract's API over a WebSocket, plus what a connection has: a way to close it and to learn it closed. */
export type WebSocketApi = WirescopeApi & {
  /** Closes the connection; calls pending or made later answer `{ ok: false, error: { code: "disconnected" } }`. */
  close(): void;
  /** Resolves once the connection has closed, from either side. */
  closed: Promise<Disconnection>;
  /**
   * The HTTP address at which the same server offers `fileName`, a file of the workspace's exports folder, as a
   * download (EXPORTS_ROUTE, token included): what the workbench links to instead of asking for the bytes.
   */
  exportUrl(fileName: string): string;
};

/** The path under which browser mode's server streams files of the workspace's exports folder (ws-server.ts). */
export const EXPORTS_ROUTE = "/exports/";

type Listener = (payload: unknown) => void;
type Settle = (result: Result<unknown>) => void;

/** Close code sent by `close()` (RFC 6455 §7.4.1: normal closure). */
const CLOSE_NORMAL = 1000;

/**
 * Opens a WebSocket to `url` (`ws://127.0.0.1:PORT/ws?token=...`, as the server printed it) and resolves, once it
 * is open, with the contract's API over it. Rejects if it cannot open (refused, wrong token, wrong origin): the
 * message names the URL without its token. The caller owns the connection and calls `close()`.
 *
 * Every command resolves with a Result and never rejects: once the connection is gone, pending and later calls
 * answer `{ ok: false, error: { code: "disconnected", message } }`. Events `onX(listener)` return a function that
 * unsubscribes.
 */
export function connectWebSocketApi(url: string, options: WebSocketApiOptions = {}): Promise<WebSocketApi> {
  const Impl = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (!Impl) {
    return Promise.reject(new Error("no WebSocket here: pass options.WebSocket (Node 20 has none built in)"));
  }
  const listenerFailed =
    options.listenerFailed ?? ((event, err) => console.error(`wirescope: a ${event} listener failed`, err));
  const socket = new Impl(url);
  const pending = new Map<number, Settle>();
  const listeners = new Map<string, Set<Listener>>();
  let nextId = 1;
  let gone: ContractError | undefined;
  let settleClosed!: (how: Disconnection) => void;
  const closed = new Promise<Disconnection>((resolve) => (settleClosed = resolve));

  function disconnect(message: string): void {
    if (gone) return;
    gone = contractError("disconnected", message);
    const waiting = [...pending.values()];
    pending.clear();
    for (const settle of waiting) settle({ ok: false, error: gone });
  }

  function call(cmd: string, args: unknown): Promise<Result<unknown>> {
    if (gone) return Promise.resolve({ ok: false, error: gone });
    const id = nextId++;
    let text: string;
    try {
      text = encode({ id, cmd, args });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      return Promise.resolve({ ok: false, error: invalidArguments(cmd, [{ path: "", message }]) });
    }
    return new Promise((resolve) => {
      pending.set(id, resolve);
      socket.send(text);
    });
  }

  function subscribe(event: string, listener: Listener): () => void {
    let set = listeners.get(event);
    if (!set) listeners.set(event, (set = new Set()));
    // Wrapped, so that the same function subscribed twice is two subscriptions, each undone by its own function.
    const entry: Listener = (payload) => listener(payload);
    set.add(entry);
    return () => {
      set.delete(entry);
    };
  }

  function received(data: unknown): void {
    if (typeof data !== "string") return;
    let message: unknown;
    try {
      message = decode(data);
    } catch {
      return; // The server only sends codec text; anything else is not ours to answer.
    }
    if (typeof message !== "object" || message === null) return;
    const { id, result, event, payload } = message as {
      id?: unknown;
      result?: unknown;
      event?: unknown;
      payload?: unknown;
    };
    if (typeof event === "string") {
      deliver(event, payload);
      return;
    }
    const settle = typeof id === "number" ? pending.get(id) : undefined;
    if (settle) {
      pending.delete(id as number);
      const isResult =
        typeof result === "object" && result !== null && typeof (result as Result<unknown>).ok === "boolean";
      settle(
        isResult
          ? (result as Result<unknown>)
          : { ok: false, error: contractError("malformed-message", "the engine's answer was not a result") },
      );
    }
  }

  function deliver(event: string, payload: unknown): void {
    if (!Object.prototype.hasOwnProperty.call(events, event)) return;
    for (const listener of [...(listeners.get(event) ?? [])]) {
      try {
        listener(payload);
      } catch (err) {
        listenerFailed(event, err);
      }
    }
  }

  const api: Record<string, unknown> = {};
  for (const cmd of Object.keys(commands)) api[cmd] = (args: unknown) => call(cmd, args);
  for (const event of Object.keys(events)) api[event] = (listener: Listener) => subscribe(event, listener);
  api.close = () => {
    disconnect("the connection to the engine was closed by this client");
    socket.close(CLOSE_NORMAL);
  };
  api.closed = closed;
  api.exportUrl = (fileName: string) => exportUrl(url, fileName);

  return new Promise<WebSocketApi>((resolve, reject) => {
    let open = false;
    let failure = "";
    socket.addEventListener("open", () => {
      open = true;
      resolve(api as WebSocketApi);
    });
    socket.addEventListener("error", (event) => {
      failure = event.message ?? "";
    });
    socket.addEventListener("message", (event) => received(event.data));
    socket.addEventListener("close", ({ code, reason }) => {
      const how = reason ? `${code}: ${reason}` : String(code);
      disconnect(`the connection to the engine closed (${how})`);
      settleClosed({ code, reason });
      if (!open) reject(new Error(`could not connect to ${withoutToken(url)}: ${failure || `closed (${how})`}`));
    });
  });
}

/**
 * `http://HOST:PORT/exports/<fileName>?token=...` for the WebSocket address `ws://HOST:PORT/ws?token=...` (wss
 * gives https): the same server and token, the exports route.
 */
function exportUrl(webSocketUrl: string, fileName: string): string {
  const url = new URL(webSocketUrl);
  url.protocol = url.protocol === "wss:" ? "https:" : "http:";
  url.pathname = EXPORTS_ROUTE + encodeURIComponent(fileName);
  return url.toString();
}

/** The URL with its token hidden, to put in messages. */
function withoutToken(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.searchParams.has("token")) parsed.searchParams.set("token", "…");
    return parsed.toString();
  } catch {
    return "the engine";
  }
}
