/**
 * The preload's API on its own, over a recording fake ipcRenderer: its shape is the contract's (nothing else
 * reaches the page), subscriptions undo exactly themselves, listeners never see the IPC event, and IPC failures come
 * back as Results. Its conversation with the main side runs in main/adapters/electron.test.ts (the contract suite).
 */
import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import { commands, events } from "./contract.ts";
import {
  buildPreloadApi,
  commandChannel,
  eventChannel,
  invokeCommand,
  type IpcRendererLike,
} from "./electron-preload.ts";

/** An ipcRenderer that records invokes and answers with `answer`; events are emitted by the test. */
function fakeIpc(
  answer: (channel: string, args: unknown[]) => Promise<unknown> = async () => ({ ok: true, value: 1 }),
) {
  const emitter = new EventEmitter();
  const invoked: Array<{ channel: string; args: unknown[] }> = [];
  const ipc: IpcRendererLike = {
    invoke: (channel, ...args) => {
      invoked.push({ channel, args });
      return answer(channel, args);
    },
    on: (channel, listener) => emitter.on(channel, listener),
    removeListener: (channel, listener) => emitter.removeListener(channel, listener),
  };
  const ipcEvent = { sender: ipc, senderId: 0 };
  return {
    ipc,
    invoked,
    emitter,
    send: (event: string, payload: unknown) => emitter.emit(eventChannel(event), ipcEvent, payload),
  };
}

describe("the Electron preload's API", () => {
  it("has exactly the contract's commands and events: no generic invoke, no ipcRenderer", () => {
    const api = buildPreloadApi(fakeIpc().ipc);
    expect(Object.keys(api).sort()).toEqual([...Object.keys(commands), ...Object.keys(events)].sort());
    for (const value of Object.values(api)) expect(typeof value).toBe("function");
  });

  it("sends each command on its own channel with its arguments", async () => {
    const { ipc, invoked } = fakeIpc();
    const api = buildPreloadApi(ipc);
    expect(await api.closeSession({ session: "s1" })).toEqual({ ok: true, value: 1 });
    expect(invoked).toEqual([{ channel: "wirescope:closeSession", args: [{ session: "s1" }] }]);
    expect(commandChannel("send")).toBe("wirescope:send");
    expect(eventChannel("onTimelineGrew")).toBe("wirescope:event:onTimelineGrew");
  });

  it("passes listeners only the payload, never the IPC event", () => {
    const { ipc, send } = fakeIpc();
    const calls: unknown[][] = [];
    buildPreloadApi(ipc).onSessionsChanged((...args: unknown[]) => calls.push(args));
    send("onSessionsChanged", []);
    expect(calls).toEqual([[[]]]);
  });

  it("unsubscribes exactly the subscription it came from, once", () => {
    const { ipc, send, emitter } = fakeIpc();
    const api = buildPreloadApi(ipc);
    const seen: string[] = [];
    const listener = () => seen.push("shared");
    const first = api.onTimelineGrew(listener);
    api.onTimelineGrew(listener);
    api.onTimelineGrew(() => seen.push("other"));
    first();
    first();
    send("onTimelineGrew", []);
    expect(seen).toEqual(["shared", "other"]);
    expect(emitter.listenerCount(eventChannel("onTimelineGrew"))).toBe(2);
  });

  it("keeps delivering to the other listeners when one throws", () => {
    const { ipc, send } = fakeIpc();
    const failed: string[] = [];
    const api = buildPreloadApi(ipc, { listenerFailed: (event) => failed.push(event) });
    const seen: unknown[] = [];
    api.onProtocolsChanged(() => {
      throw new Error("listener bug");
    });
    api.onProtocolsChanged((files) => seen.push(files));
    send("onProtocolsChanged", []);
    expect(seen).toEqual([[]]);
    expect(failed).toEqual(["onProtocolsChanged"]);
  });

  it("turns IPC failures into Results instead of rejecting", async () => {
    const noHandler = fakeIpc(async (channel) => {
      throw new Error(`Error invoking remote method '${channel}': Error: No handler registered for '${channel}'`);
    });
    expect(await invokeCommand(noHandler.ipc, "shutdown", {})).toMatchObject({
      ok: false,
      error: { code: "unknown-command" },
    });
    const uncloneable = fakeIpc(async () => {
      throw new Error("An object could not be cloned.");
    });
    expect(await buildPreloadApi(uncloneable.ipc).listSessions({})).toEqual({
      ok: false,
      error: { code: "ipc-failed", category: "internal", message: "listSessions: An object could not be cloned." },
    });
    const odd = fakeIpc(async () => "not a result");
    expect(await buildPreloadApi(odd.ipc).listSessions({})).toMatchObject({
      ok: false,
      error: { code: "malformed-message" },
    });
  });
});
