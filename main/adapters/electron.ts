/**
 * The contract over Electron IPC, main side: one `ipcMain.handle` per command of the contract (looped over, never
 * a generic channel), each refusing callers that are not the app's own frame and then running the transport-neutral
 * dispatcher (dispatch.ts: name known, arguments checked against the contract's schema, errors reduced to
 * `{ code, category, message }`). Events go to the app's windows with `webContents.send` on their own channel.
 *
 * The renderer's half is preload/electron-preload.ts, which owns the channel names. Written against the small
 * structural interfaces below, which Electron's `ipcMain` and `WebContents` satisfy, so that tests run it under Node
 * over an in-memory pair.
 */
import { commands, type ContractError, type EventSink, type WirescopeService } from "../../preload/contract.ts";
import { commandChannel, eventChannel } from "../../preload/electron-preload.ts";
import { contractError } from "../../preload/errors.ts";
import { createDispatcher, type DispatcherOptions } from "./dispatch.ts";

/** What a handler learns of its caller: the frame that sent it (Electron: `IpcMainInvokeEvent.senderFrame`). */
export interface InvokeEventLike<Frame> {
  /** Null when the frame navigated away or was destroyed before the message was handled. */
  readonly senderFrame: Frame | null;
}

/** The part of Electron's `ipcMain` used here. */
export interface IpcMainLike<Frame> {
  handle(channel: string, listener: (event: InvokeEventLike<Frame>, ...args: unknown[]) => Promise<unknown>): void;
  removeHandler(channel: string): void;
}

/** The part of Electron's `WebContents` events are sent with. */
export interface WebContentsLike {
  send(channel: string, ...args: unknown[]): void;
  isDestroyed(): boolean;
}

/** Options of `registerElectronAdapter`. */
export interface ElectronAdapterOptions<Frame> {
  ipcMain: IpcMainLike<Frame>;
  /** The engine. The caller owns it: disposing the adapter does not close it. */
  service: WirescopeService;
  /**
   * Whether a call comes from the app's own frame (the shell compares the frame's URL with the app's). Called for
   * every call before anything else; a false answer, a null frame or a throw refuses the call.
   */
  isTrustedSender(frame: Frame | null): boolean;
  /** The windows events go to, asked at each event (windows come and go). */
  targets(): Iterable<WebContentsLike>;
  /** Where the service's failures go before they are reduced to `{ code, category, message }` (to log stacks). */
  serviceFailed?: DispatcherOptions["serviceFailed"];
  /** Called when sending an event to a window fails; by default `console.error`. */
  sendFailed?: (event: string, err: unknown) => void;
}

/** The registered adapter. Its owner (the shell) calls `dispose()` before closing the engine. */
export interface ElectronAdapter {
  /** The engine's event sink: sends to every live target. Never throws; after `dispose()` does nothing. */
  emit: EventSink;
  /** Removes every handler this registered; calls made later fail in the renderer as unknown commands. Idempotent. */
  dispose(): void;
}

/** The answer to a call from a frame that is not the app's. */
function forbidden(name: string): ContractError {
  return contractError("forbidden", `${name}: refused: the call did not come from Wirescope's own window`);
}

/**
 * Registers one handler per command of the contract on `ipcMain` and returns the event sink and a way to undo it.
 * Throws (as Electron does) if a handler is already registered for one of the channels: register once per process.
 *
 * Each call answers a Result, never a rejection (Electron would reduce a thrown error to its message): "forbidden"
 * when `isTrustedSender` does not accept the sender, otherwise what the dispatcher answers for the first argument.
 */
export function registerElectronAdapter<Frame>(options: ElectronAdapterOptions<Frame>): ElectronAdapter {
  const { ipcMain, isTrustedSender, targets } = options;
  const dispatch = createDispatcher(
    options.service,
    options.serviceFailed ? { serviceFailed: options.serviceFailed } : {},
  );
  const sendFailed =
    options.sendFailed ?? ((event, err) => console.error(`wirescope: could not send ${event} to a window`, err));
  const channels: string[] = [];
  let disposed = false;

  function trusted(frame: Frame | null): boolean {
    if (frame === null) return false;
    try {
      return isTrustedSender(frame) === true;
    } catch {
      return false;
    }
  }

  try {
    for (const name of Object.keys(commands)) {
      const channel = commandChannel(name);
      ipcMain.handle(channel, async (event, args) => {
        if (!trusted(event.senderFrame)) return { ok: false, error: forbidden(name) };
        return dispatch(name, args);
      });
      channels.push(channel);
    }
  } catch (err) {
    // All or nothing: a half-registered contract would answer some commands and not others.
    for (const channel of channels) ipcMain.removeHandler(channel);
    throw err;
  }

  const emit: EventSink = (name, payload) => {
    if (disposed) return;
    const channel = eventChannel(name);
    for (const contents of targets()) {
      try {
        if (!contents.isDestroyed()) contents.send(channel, payload);
      } catch (err) {
        sendFailed(name, err);
      }
    }
  };

  return {
    emit,
    dispose() {
      if (disposed) return;
      disposed = true;
      for (const channel of channels) ipcMain.removeHandler(channel);
    },
  };
}
