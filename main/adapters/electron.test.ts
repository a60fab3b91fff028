/**
 * The Electron adapter (main/adapters/electron.ts) and the preload's API (preload/electron-preload.ts) joined by an
 * in-memory pair that behaves like ipcMain/ipcRenderer where it matters: arguments, results and event payloads are
 * copied with `structuredClone` (Electron's IPC serialization), delivery is asynchronous, an unhandled channel
 * rejects with Electron's wording, a second handler on a channel throws, and listeners get an IPC event object
 * first. The shared contract suite runs over it, then what is Electron's own: the sender's frame, the channels.
 */
import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import { commands } from "../../preload/contract.ts";
import {
  buildPreloadApi,
  commandChannel,
  invokeCommand,
  type IpcRendererLike,
} from "../../preload/electron-preload.ts";
import { createFakeService, defineContractSuite } from "../../tests/contract/suite.ts";
import { registerElectronAdapter, type IpcMainLike, type InvokeEventLike, type WebContentsLike } from "./electron.ts";

/** A frame as far as the adapter's trust check sees it (Electron: WebFrameMain's `url`). */
interface FakeFrame {
  url: string;
}

const APP_URL = "app://wirescope/index.html"; // the shell's page (main/shell/app-protocol.ts)
const appFrame: FakeFrame = { url: APP_URL };

type Handler = (event: InvokeEventLike<FakeFrame>, ...args: unknown[]) => Promise<unknown>;

/** ipcMain and, per frame, an ipcRenderer plus the WebContents that sends to it. */
class InMemoryIpc {
  readonly handlers = new Map<string, Handler>();
  readonly ipcMain: IpcMainLike<FakeFrame> = {
    handle: (channel, listener) => {
      if (this.handlers.has(channel)) throw new Error(`Attempted to register a second handler for '${channel}'`);
      this.handlers.set(channel, listener);
    },
    removeHandler: (channel) => {
      this.handlers.delete(channel);
    },
  };

  /** A renderer whose calls carry `frame` as their sender. */
  renderer(frame: FakeFrame | null): { ipcRenderer: IpcRendererLike & EventEmitter; webContents: WebContentsLike } {
    const emitter = new EventEmitter();
    const handlers = this.handlers;
    const ipcRenderer = Object.assign(emitter, {
      async invoke(channel: string, ...args: unknown[]): Promise<unknown> {
        const copied = structuredClone(args);
        await new Promise((resolve) => setImmediate(resolve));
        const handler = handlers.get(channel);
        const failed = `Error invoking remote method '${channel}'`;
        if (!handler) throw new Error(`${failed}: Error: No handler registered for '${channel}'`);
        try {
          return structuredClone(await handler({ senderFrame: frame }, ...copied));
        } catch (err) {
          throw new Error(`${failed}: ${String(err)}`);
        }
      },
    });
    // What Electron gives listeners first: an IpcRendererEvent, whose `sender` is ipcRenderer itself.
    const ipcEvent = { sender: ipcRenderer, senderId: 0, ports: [] };
    let destroyed = false;
    const webContents: WebContentsLike & { destroy(): void } = {
      send(channel, ...args) {
        if (destroyed) throw new Error("Object has been destroyed");
        const copied = structuredClone(args);
        setImmediate(() => emitter.emit(channel, ipcEvent, ...copied));
      },
      isDestroyed: () => destroyed,
      destroy: () => {
        destroyed = true;
      },
    };
    return { ipcRenderer, webContents };
  }
}

function connect(options: { frame?: FakeFrame | null } = {}) {
  const ipc = new InMemoryIpc();
  const service = createFakeService();
  const { ipcRenderer, webContents } = ipc.renderer(options.frame === undefined ? appFrame : options.frame);
  const adapter = registerElectronAdapter({
    ipcMain: ipc.ipcMain,
    service,
    isTrustedSender: (frame) => frame?.url === APP_URL,
    targets: () => [webContents],
  });
  const api = buildPreloadApi(ipcRenderer);
  return { ipc, service, ipcRenderer, webContents, adapter, api };
}

defineContractSuite("over Electron IPC (in-memory ipcMain/ipcRenderer, structured clone)", async () => {
  const { service, ipcRenderer, adapter, api } = connect();
  return {
    api,
    service,
    emit: adapter.emit,
    invokeRaw: (name, args) => invokeCommand(ipcRenderer, name, args),
    close: () => adapter.dispose(),
  };
});

describe("the Electron adapter", () => {
  it("registers exactly one channel per command of the contract, and no other", () => {
    const { ipc, adapter } = connect();
    expect([...ipc.handlers.keys()].sort()).toEqual(Object.keys(commands).map(commandChannel).sort());
    adapter.dispose();
    expect(ipc.handlers.size).toBe(0);
  });

  it("refuses calls from a frame that is not the app's, without calling the engine", async () => {
    for (const frame of [{ url: "https://example.invalid/" }, { url: `${APP_URL}.evil.html` }, null]) {
      const { api, service, adapter } = connect({ frame });
      const result = await api.listSessions({});
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.error.code).toBe("forbidden");
      expect(await api.connect({ target: { host: "127.0.0.1", port: 6379 } })).toMatchObject({
        ok: false,
        error: { code: "forbidden" },
      });
      expect(service.calls).toEqual([]);
      adapter.dispose();
    }
  });

  it("refuses the call when the trust check throws", async () => {
    const ipc = new InMemoryIpc();
    const service = createFakeService();
    const adapter = registerElectronAdapter({
      ipcMain: ipc.ipcMain,
      service,
      isTrustedSender: () => {
        throw new Error("frame disposed");
      },
      targets: () => [],
    });
    const api = buildPreloadApi(ipc.renderer(appFrame).ipcRenderer);
    expect(await api.listSessions({})).toMatchObject({ ok: false, error: { code: "forbidden" } });
    expect(service.calls).toEqual([]);
    adapter.dispose();
  });

  it("answers unknown-command once disposed, and sends no more events", async () => {
    const { api, adapter } = connect();
    const seen: unknown[] = [];
    api.onSessionsChanged((sessions) => seen.push(sessions));
    adapter.dispose();
    adapter.dispose();
    expect(await api.listSessions({})).toMatchObject({ ok: false, error: { code: "unknown-command" } });
    adapter.emit("onSessionsChanged", []);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(seen).toEqual([]);
  });

  it("registers all or nothing when a channel is taken", () => {
    const ipc = new InMemoryIpc();
    ipc.ipcMain.handle(commandChannel("send"), async () => null);
    const register = () =>
      registerElectronAdapter({
        ipcMain: ipc.ipcMain,
        service: createFakeService(),
        isTrustedSender: () => true,
        targets: () => [],
      });
    expect(register).toThrow(/second handler/);
    expect([...ipc.handlers.keys()]).toEqual([commandChannel("send")]);
  });

  it("skips destroyed windows and survives a window whose send throws", async () => {
    const ipc = new InMemoryIpc();
    const live = ipc.renderer(appFrame);
    const gone = ipc.renderer(appFrame);
    (gone.webContents as WebContentsLike & { destroy(): void }).destroy();
    const broken: WebContentsLike = {
      send: () => {
        throw new Error("render frame was disposed");
      },
      isDestroyed: () => false,
    };
    const failures: string[] = [];
    const adapter = registerElectronAdapter({
      ipcMain: ipc.ipcMain,
      service: createFakeService(),
      isTrustedSender: () => true,
      targets: () => [broken, gone.webContents, live.webContents],
      sendFailed: (event) => failures.push(event),
    });
    const seen: unknown[] = [];
    buildPreloadApi(live.ipcRenderer).onTimelineGrew((grew) => seen.push(grew));
    adapter.emit("onTimelineGrew", [{ session: "s1", count: 3 }]);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(seen).toEqual([[{ session: "s1", count: 3 }]]);
    expect(failures).toEqual(["onTimelineGrew"]);
    adapter.dispose();
  });

  it("gives listeners only the payload, never the IPC event (whose sender is ipcRenderer)", async () => {
    const { api, adapter, ipcRenderer } = connect();
    const calls: unknown[][] = [];
    api.onProtocolsChanged((...args: unknown[]) => calls.push(args));
    adapter.emit("onProtocolsChanged", []);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(calls).toEqual([[[]]]);
    expect(JSON.stringify(calls)).not.toContain("sender");
    expect(calls.flat(2)).not.toContain(ipcRenderer);
    adapter.dispose();
  });
});
