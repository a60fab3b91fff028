/**
 * The Electron preload: puts the contract object (`WirescopeApi`) on `window.wirescope` through contextBridge. Built
 * by looping over the contract's `commands` and `events` tables, like preload/ws-client.ts: one IPC channel per
 * command (`wirescope:<command>`) and per event (`wirescope:event:<event>`). The page never gets `ipcRenderer`, a
 * generic `invoke(channel, ...)`, or an `IpcRendererEvent` (whose `sender` is ipcRenderer itself).
 *
 * The other half is main/adapters/electron.ts, which registers one `ipcMain.handle` per command channel below.
 * This file runs in a sandboxed renderer, so it is bundled to one CommonJS file; it imports only the contract.
 */
import type { ContextBridge, IpcRenderer } from "electron";
import { commands, events, type ContractError, type Result, type WirescopeApi } from "./contract.ts";
import { contractError } from "./errors.ts";

/** The channel a command travels on. main/adapters/electron.ts handles exactly these, one per command. */
export function commandChannel(name: string): string {
  return `wirescope:${name}`;
}

/** The channel an event travels on, from main to the app's windows. */
export function eventChannel(name: string): string {
  return `wirescope:event:${name}`;
}

/** The listener shape `ipcRenderer.on` takes: the IPC event first, then what main sent. */
export type IpcRendererListener = (event: unknown, ...args: unknown[]) => void;

/** The part of Electron's `ipcRenderer` used here (Electron's own fits); tests pass an in-memory one. */
export interface IpcRendererLike {
  invoke(channel: string, ...args: unknown[]): Promise<unknown>;
  on(channel: string, listener: IpcRendererListener): unknown;
  removeListener(channel: string, listener: IpcRendererListener): unknown;
}

/** Options of `buildPreloadApi`. */
export interface PreloadApiOptions {
  /** Called when an event listener throws (the other listeners still run); by default `console.error`. */
  listenerFailed?: (event: string, err: unknown) => void;
}

/** What Electron's invoke rejects with when main has no handler for the channel (its wording since Electron 7). */
const NO_HANDLER = /No handler registered for/;

/**
 * Sends one command to main and resolves with its Result; never rejects. The main side answers a Result itself
 * (forbidden, invalid-arguments, the engine's errors); what can only fail here is IPC: a channel main does not
 * handle (a name that is not a command, or a main older than this preload) answers "unknown-command", anything else
 * (a value that cannot be cloned, a main that went away) answers "ipc-failed". Exported for tests, not for the page.
 */
export async function invokeCommand(ipc: IpcRendererLike, name: string, args: unknown): Promise<Result<unknown>> {
  let answer: unknown;
  try {
    answer = await ipc.invoke(commandChannel(name), args);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const error: ContractError = NO_HANDLER.test(message)
      ? contractError("unknown-command", `${JSON.stringify(name)} is not a Wirescope command`)
      : contractError("ipc-failed", `${name}: ${message}`);
    return { ok: false, error };
  }
  const isResult =
    typeof answer === "object" && answer !== null && typeof (answer as { ok?: unknown }).ok === "boolean";
  return isResult
    ? (answer as Result<unknown>)
    : { ok: false, error: contractError("malformed-message", "the engine's answer was not a result") };
}

/**
 * The contract's API over `ipc`: one method per command, one `onX(listener)` per event. Called once by this file's
 * top level with Electron's ipcRenderer; the result is what contextBridge copies into the page.
 *
 * Guarantees: commands resolve with a Result and never reject (see `invokeCommand`); a listener receives only the
 * event's payload; each `onX` call is its own subscription (the same function subscribed twice is two), undone by
 * the function it returns, which removes exactly that subscription and is idempotent; a throwing listener does not
 * stop the others.
 */
export function buildPreloadApi(ipc: IpcRendererLike, options: PreloadApiOptions = {}): WirescopeApi {
  const listenerFailed =
    options.listenerFailed ?? ((event, err) => console.error(`wirescope: a ${event} listener failed`, err));

  function subscribe(event: string, listener: (payload: unknown) => void): () => void {
    const channel = eventChannel(event);
    // The wrapper drops the IpcRendererEvent: its `sender` is ipcRenderer, which must never reach the page.
    const wrapper: IpcRendererListener = (_event, payload) => {
      try {
        listener(payload);
      } catch (err) {
        listenerFailed(event, err);
      }
    };
    ipc.on(channel, wrapper);
    return () => {
      ipc.removeListener(channel, wrapper);
    };
  }

  const api: Record<string, unknown> = {};
  for (const name of Object.keys(commands)) api[name] = (args: unknown) => invokeCommand(ipc, name, args);
  for (const event of Object.keys(events)) {
    api[event] = (listener: (payload: unknown) => void) => subscribe(event, listener);
  }
  return api as WirescopeApi;
}

// Runs only inside Electron's renderer (where `process.type` is "renderer", sandboxed preloads included); under
// Node — tests, the CLI — importing this file only defines the functions above. `require` rather than `import`:
// under Node, loading the `electron` package looks for (and tries to download) the binary, and a sandboxed preload
// is CommonJS, where this is how Electron's own modules are reached.
if (typeof process !== "undefined" && process.type === "renderer") {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { contextBridge, ipcRenderer } = require("electron") as {
    contextBridge: ContextBridge;
    ipcRenderer: IpcRenderer;
  };
  contextBridge.exposeInMainWorld("wirescope", buildPreloadApi(ipcRenderer));
}
