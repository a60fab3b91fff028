/**
 * The dispatcher: the contract suite over an in-memory pair (what the Electron adapter's ipcMain/ipcRenderer will
 * stand on: structured clones both ways), and the guarantees adapters rely on.
 */
import { describe, expect, it } from "vitest";
import { commands, events, type EventSink, type Result, type WirescopeApi } from "../../preload/contract.ts";
import { createFakeService, defineContractSuite } from "../../tests/contract/suite.ts";
import { createDispatcher } from "./dispatch.ts";

defineContractSuite("over the dispatcher, in memory", async () => {
  const service = createFakeService();
  const dispatch = createDispatcher(service);
  const listeners = new Map<string, Set<(payload: unknown) => void>>();
  const api: Record<string, unknown> = {};
  // Like IPC: arguments and results are structured clones, and nothing arrives in the same tick it was sent.
  for (const name of Object.keys(commands)) {
    api[name] = async (args: unknown) => structuredClone(await dispatch(name, structuredClone(args)));
  }
  for (const event of Object.keys(events)) {
    api[event] = (listener: (payload: unknown) => void) => {
      const entry = (payload: unknown) => listener(payload);
      let set = listeners.get(event);
      if (!set) listeners.set(event, (set = new Set()));
      set.add(entry);
      return () => set.delete(entry);
    };
  }
  const emit: EventSink = (name, payload) => {
    const copy = structuredClone(payload);
    setTimeout(() => {
      for (const listener of [...(listeners.get(name) ?? [])]) listener(copy);
    });
  };
  return { api: api as WirescopeApi, service, emit, invokeRaw: dispatch, close() {} };
});

describe("createDispatcher", () => {
  it("gives the engine the arguments as the schema parsed them", async () => {
    const service = createFakeService();
    const dispatch = createDispatcher(service);
    const result = await dispatch("connect", { target: { host: "  127.0.0.1 ", port: 6379 }, protocol: "resp.ts" });
    expect(result.ok).toBe(true);
    expect(service.calls).toEqual([
      { name: "connect", args: { target: { host: "127.0.0.1", port: 6379 }, protocol: "resp.ts" } },
    ]);
  });

  it("treats missing arguments as an empty object", async () => {
    const dispatch = createDispatcher(createFakeService());
    expect((await dispatch("listSessions", undefined)).ok).toBe(true);
    const result = await dispatch("readProtocol", undefined);
    expect(result).toEqual({
      ok: false,
      error: {
        code: "invalid-arguments",
        category: "usage",
        message: expect.stringMatching(/^readProtocol: path: /),
        issues: [{ path: "path", message: expect.any(String) }],
      },
    });
  });

  it("never rejects, whatever the engine throws, and hands the original error to serviceFailed", async () => {
    const service = createFakeService();
    const failures: Array<[string, unknown]> = [];
    const dispatch = createDispatcher(service, { serviceFailed: (name, err) => failures.push([name, err]) });
    const nasty = {
      get message(): string {
        throw new Error("no message either");
      },
      toString(): string {
        throw new Error("nor a string");
      },
    };
    const thrown: unknown[] = [nasty, "a string", null, Object.assign(new Error("coded"), { code: 42 })];
    const answers: Result<unknown>[] = [];
    for (const value of thrown) {
      service.handle("listSessions", () => {
        throw value;
      });
      answers.push(await dispatch("listSessions", {}));
    }
    expect(answers).toEqual([
      {
        ok: false,
        error: {
          code: "internal",
          category: "internal",
          message: "the engine failed with an error that could not be described",
        },
      },
      { ok: false, error: { code: "internal", category: "internal", message: "a string" } },
      { ok: false, error: { code: "internal", category: "internal", message: "null" } },
      { ok: false, error: { code: "internal", category: "internal", message: "coded" } },
    ]);
    expect(failures.map(([name, err]) => [name, err])).toEqual(thrown.map((err) => ["listSessions", err]));
  });

  it("passes on the field an engine error blames (a key file that is not a key), for the form to show it there", async () => {
    const service = createFakeService();
    const issues = [{ path: "tls.keyFile", message: "/k.pem is not a private key" }];
    service.handle("listen", () => {
      throw Object.assign(new Error("/k.pem is not a private key"), { code: "bad-certificate", issues });
    });
    const result = await createDispatcher(service)("listen", {
      target: { port: 0 },
      protocol: null,
      tls: { certFile: "/c.pem", keyFile: "/k.pem" },
    });
    expect(result).toEqual({
      ok: false,
      error: { code: "bad-certificate", category: "bad-input", message: "/k.pem is not a private key", issues },
    });
  });

  it("answers even when serviceFailed itself throws", async () => {
    const service = createFakeService();
    service.handle("listTemplates", () => {
      throw Object.assign(new Error("templates folder unreadable"), { code: "workspace-unavailable" });
    });
    const dispatch = createDispatcher(service, {
      serviceFailed: () => {
        throw new Error("the log is full");
      },
    });
    expect(await dispatch("listTemplates", {})).toEqual({
      ok: false,
      error: { code: "workspace-unavailable", category: "failed", message: "templates folder unreadable" },
    });
  });

  it("says which command an incomplete engine lacks", async () => {
    const service = createFakeService();
    const partial = { ...service, deleteProfile: undefined } as unknown as typeof service;
    expect(await createDispatcher(partial)("deleteProfile", { name: "x" })).toEqual({
      ok: false,
      error: {
        code: "not-implemented",
        category: "internal",
        message: "deleteProfile is not available in this engine",
      },
    });
  });

  it("echoes at most a short prefix of an unknown name", async () => {
    const result = await createDispatcher(createFakeService())("x".repeat(10_000), {});
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.code).toBe("unknown-command");
      expect(result.error.message.length).toBeLessThan(120);
    }
  });
});
