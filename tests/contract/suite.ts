/**
 * The contract conformance suite: what every adapter (WebSocket, Electron IPC) must do, checked the same way
 * over each. It drives an adapter from the renderer's side (`WirescopeApi`) against a small in-memory fake engine,
 * because what is under test is the adapter — arguments, results, bytes, errors and events crossing it — not the
 * engine, whose integration tests run elsewhere.
 *
 * Use: `defineContractSuite("over WebSocket", async () => ({ api, service, emit, invokeRaw, close }))`, where
 * `service` came from `createFakeService()` and the adapter under test connects `api` to it.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  commands,
  events,
  type CommandArgs,
  type CommandName,
  type CommandResult,
  type Commands,
  type EventSink,
  type Result,
  type WirescopeApi,
  type WirescopeService,
} from "../../preload/contract.ts";
import type { TimelineEvent } from "../../preload/timeline.ts";
import type { z } from "zod";

/** One call the fake engine received: the command and the arguments after the contract's schema parsed them. */
export interface FakeCall {
  name: CommandName;
  args: unknown;
}

/** What a command of the fake engine does with its (parsed) arguments. */
export type FakeHandler<K extends CommandName> = (
  args: z.output<Commands[K]["args"]>,
) => CommandResult<K> | Promise<CommandResult<K>>;

/** The controls of the fake engine, beside its commands. */
export interface FakeControls {
  /** Every call, in order. */
  readonly calls: FakeCall[];
  /** Replaces what `name` does (to answer per argument, to throw, to be slow). */
  handle<K extends CommandName>(name: K, handler: FakeHandler<K>): void;
}

/** An in-memory engine for adapter tests: each command records its call and answers its sample result. */
export type FakeWirescopeService = WirescopeService & FakeControls;

/** What an adapter's test gives the suite: a connected `api`, the fake behind it, and the adapter's event sink. */
export interface ContractHarness {
  api: WirescopeApi;
  service: FakeWirescopeService;
  /** The sink the adapter gave the engine: what `emit` sends must reach the api's subscribers. */
  emit: EventSink;
  /**
   * Sends a command by any name with any arguments through the adapter's transport, with no client-side typing:
   * how the suite tries names that are not commands (the api has no way to).
   */
  invokeRaw(name: string, args: unknown): Promise<Result<unknown>>;
  close(): Promise<void> | void;
}

/** Bytes with every value 0..255, and an empty chunk: what a timeline carries and JSON alone would not keep. */
const ALL_BYTES = Uint8Array.from({ length: 256 }, (_, i) => i);

const timelineSample: TimelineEvent[] = [
  { seq: 0, t: 0, conn: 0, kind: "lifecycle", event: "listening", detail: "127.0.0.1:40123" },
  { seq: 1, t: 15, conn: 1, kind: "data", dir: "in", data: ALL_BYTES },
  { seq: 2, t: 16, conn: 1, kind: "data", dir: "out", data: new Uint8Array(0) },
  {
    seq: 3,
    t: 20,
    conn: 1,
    kind: "log",
    level: "info",
    text: "decoded SET",
    // Log fields are the user's: one that looks like the wire's byte marker must come back as it was.
    fields: { key: "foo", nested: { $bytes: "not bytes" }, list: [1, "two", null] },
  },
  // A process session's chunk carries the child's fd.
  { seq: 4, t: 21, conn: 1, kind: "data", dir: "in", fd: 2, data: new Uint8Array([101, 114, 114, 10]) },
];

const session = {
  id: "s1",
  kind: "client" as const,
  name: "redis",
  target: "tcp:host=127.0.0.1:port=6379",
  state: "connected" as const,
  protocol: "resp.ts",
  epochMs: 1_700_000_000_000,
  connections: [
    {
      conn: 1,
      leg: "client" as const,
      state: "connected" as const,
      peer: "127.0.0.1:6379",
      host: "127.0.0.1:50000",
      bytesIn: 256,
      bytesOut: 0,
      chunksIn: 1,
      chunksOut: 1,
      openedAt: 15,
      protocol: { file: "resp.ts", className: "Resp", state: "running" as const },
    },
  ],
  bytesIn: 256,
  bytesOut: 0,
  events: 5,
};

const processSession = {
  ...session,
  id: "s2",
  kind: "process" as const,
  name: "bc",
  target: "bc -q",
  protocol: null,
  process: { argv: ["bc", "-q"], cwd: "/home/u", pid: 4242 },
};

const SAMPLE_CA = {
  path: "/home/u/.config/wirescope/wirescope-ca.pem",
  pem: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
  subject: "CN=Wirescope CA, O=Wirescope",
  validFrom: "Dec  5 18:00:00 2026 GMT",
  validTo: "Dec  5 18:00:00 2036 GMT",
  fingerprint256: "AB:CD:EF:01",
};

const protocolFile = { path: "resp.ts", size: 120, mtimeMs: 1_700_000_000_000, diagnostics: [], liveConnections: 1 };

/**
 * For every command, arguments its schema accepts unchanged (so the engine must receive exactly them) and a result.
 * Typed over the contract: a command added to the contract without a sample here does not compile.
 */
export const contractSamples: { [K in CommandName]: { args: CommandArgs<K>; result: CommandResult<K> } } = {
  listSessions: { args: {}, result: [session] },
  connect: {
    args: { target: { host: "127.0.0.1", port: 6379, tls: false }, protocol: "resp.ts", name: "redis" },
    result: session,
  },
  listen: { args: { target: { endpoint: "tcp:0:interface=127.0.0.1" }, protocol: null }, result: session },
  proxy: {
    args: {
      listen: { port: 0, interface: "127.0.0.1" },
      upstream: { endpoint: "tcp:host=127.0.0.1:port=6379" },
      clientProtocol: "resp.ts",
      serverProtocol: null,
      name: "redis proxy",
    },
    result: { ...session, kind: "proxy", upstream: "tcp:host=127.0.0.1:port=6379", listeningOn: "127.0.0.1:40123" },
  },
  spawn: {
    args: { argv: ["bc", "-q"], cwd: "/home/u", env: { BC_LINE_LENGTH: "0" }, protocol: null, name: "bc" },
    result: processSession,
  },
  signalProcess: { args: { session: "s2", signal: "SIGTERM" }, result: {} },
  reconnect: { args: { session: "s1" }, result: session },
  closeSession: { args: { session: "s1" }, result: {} },
  removeSession: { args: { session: "s1" }, result: {} },
  closeConnection: { args: { session: "s1", conn: 1 }, result: {} },
  abortConnection: { args: { session: "s1", conn: 1 }, result: {} },
  halfCloseConnection: { args: { session: "s1", conn: 1 }, result: {} },
  send: { args: { session: "s1", conn: 1, data: "PING\\r\\n", encoding: "text" }, result: { bytes: 6 } },
  readTimeline: { args: { session: "s1", from: 0, count: 5 }, result: { events: timelineSample, total: 5 } },
  findTimeline: {
    args: { session: "s1", filter: 'conn == 1 && command == "SET"', from: 0, limit: 100 },
    result: { seqs: [3, 7], next: -1, scanned: 5, total: 5 },
  },
  ioGraph: {
    args: { session: "s1", conn: 1, buckets: 2 },
    result: {
      from: 10,
      to: 30,
      bucketUs: 10,
      in: { bytes: [0, 256], messages: [0, 1] },
      out: { bytes: [14, 0], messages: [1, 0] },
      latency: { count: 1, p50: 12, p95: 12, p99: 12, edgesUs: [12, 13], counts: [1] },
    },
  },
  locateSpans: {
    args: { session: "s1", conn: 1, spans: [{ dir: "in", offset: 0, length: 300 }] },
    result: { pieces: [{ seq: 2, start: 0, end: 256, spanIndex: 0 }] },
  },
  messageAt: { args: { session: "s1", conn: 1, dir: "in", offset: 4 }, result: { seq: 4, field: "key" } },
  listProtocols: { args: {}, result: [protocolFile] },
  readProtocol: { args: { path: "resp.ts" }, result: { content: "export class Resp {}\n" } },
  saveProtocol: {
    args: { path: "resp.ts", content: "export class Resp {\n" },
    result: {
      diagnostics: [{ file: "resp.ts", line: 1, column: 20, message: "'}' expected.", severity: "error" }],
      reloaded: 0,
    },
  },
  createProtocol: { args: { path: "echo.ts", template: "echo" }, result: { ...protocolFile, path: "echo.ts" } },
  deleteProtocol: { args: { path: "echo.ts" }, result: {} },
  listTemplates: {
    args: {},
    result: [{ id: "echo", title: "Echo server", description: "Writes back what it reads." }],
  },
  listProfiles: {
    args: {},
    result: [{ name: "local redis", kind: "client", endpoint: "tcp:host=127.0.0.1:port=6379" }],
  },
  saveProfile: { args: { name: "local redis", kind: "client", endpoint: "tcp:host=127.0.0.1:port=6379" }, result: {} },
  deleteProfile: { args: { name: "local redis" }, result: {} },
  getSettings: {
    args: {},
    result: { workspace: "/home/u/Documents/Wirescope", defaultWorkspace: "/home/u/Documents/Wirescope" },
  },
  setWorkspace: {
    args: { path: "/tmp/ws" },
    result: { workspace: "/tmp/ws", defaultWorkspace: "/home/u/Documents/Wirescope" },
  },
  caInfo: { args: {}, result: SAMPLE_CA },
  regenerateCA: { args: {}, result: { ...SAMPLE_CA, fingerprint256: "12:34:56:78" } },
  exportPcapng: {
    args: { session: "s1", conn: 1, includeData: true },
    result: {
      path: "/tmp/ws/exports/s1.pcapng",
      packets: 9,
      bytes: 640,
      data: new Uint8Array([0x0a, 0x0d, 0x0d, 0x0a]),
    },
  },
  exportCapture: {
    args: { session: "s1" },
    result: { path: "/tmp/ws/exports/s1.wscap", bytes: 4096, events: 12 },
  },
  exportTLSKeys: {
    args: { session: "s1", conn: 1 },
    result: {
      text: `CLIENT_HANDSHAKE_TRAFFIC_SECRET ${"ab".repeat(32)} ${"cd".repeat(48)}\n`,
      lines: 1,
      connections: 1,
    },
  },
  importCapture: {
    args: { name: "redis.pcapng", data: new Uint8Array([0x0a, 0x0d, 0x0d, 0x0a]), operation: "import-1" },
    result: {
      capture: "c1",
      name: "redis.pcapng",
      format: "pcapng",
      packets: 12,
      conversations: [
        {
          id: 1,
          client: "127.0.0.1:51234",
          server: "127.0.0.1:6379",
          startMs: 1_700_000_000_000,
          durationMs: 12.5,
          packets: 12,
          bytesToServer: 14,
          bytesToClient: 7,
          complete: true,
          notes: [],
        },
      ],
      warnings: [],
    },
  },
  openRecording: {
    args: { path: "/tmp/ws/captures/2024-01-01T00-00-00-000Z-s1.wscap" },
    result: { ...session, kind: "imported", state: "closed", source: "2024-01-01T00-00-00-000Z-s1.wscap" },
  },
  openConversation: {
    args: { capture: "c1", conversation: 1 },
    result: { ...session, kind: "imported", state: "closed" },
  },
  decode: {
    args: { session: "s1", conn: 1, protocol: "resp.ts", side: "client", resplit: { runs: 10, seed: 7 } },
    result: {
      session: { ...session, kind: "decode", state: "closed", source: "s1, connection 1" },
      resplit: { runs: 10, seed: 7, consistent: true, mismatches: [] },
    },
  },
  cancel: { args: { operation: "import-1" }, result: { cancelled: true } },
  replay: {
    args: { session: "s1", conn: 1, side: "client", target: { endpoint: "tcp:host=127.0.0.1:port=6379" } },
    result: { ...session, kind: "replay" },
  },
  replayReport: {
    args: { session: "s2" },
    result: {
      state: "done",
      exchanges: [
        {
          index: 0,
          sent: new Uint8Array([80]),
          expected: new Uint8Array([43]),
          actual: new Uint8Array([43]),
          same: true,
          firstDifference: null,
        },
        {
          // Long answers that differ at byte 70,000: the report carries a window of each, holding the difference.
          index: 1,
          sent: new Uint8Array([80]),
          expected: new Uint8Array([43, 43]),
          actual: new Uint8Array([43, 45]),
          same: false,
          firstDifference: 70_000,
          expectedWindow: { offset: 69_999, length: 70_002 },
          actualWindow: { offset: 69_999, length: 70_001 },
        },
      ],
      same: 1,
      differing: 1,
    },
  },
};

/**
 * A fresh fake engine: every command of the contract (looped over, not listed) records its call and answers its
 * sample result until `handle` says otherwise.
 */
export function createFakeService(): FakeWirescopeService {
  const calls: FakeCall[] = [];
  const handlers = new Map<CommandName, (args: unknown) => unknown>();
  const fake: Record<string, unknown> = {
    calls,
    handle(name: CommandName, handler: (args: unknown) => unknown) {
      handlers.set(name, handler);
    },
  };
  for (const name of Object.keys(commands) as CommandName[]) {
    fake[name] = async (args: unknown) => {
      calls.push({ name, args });
      const handler = handlers.get(name);
      return handler ? handler(args) : contractSamples[name].result;
    };
  }
  return fake as unknown as FakeWirescopeService;
}

/** Calls a command by name, as an adapter's loop would: the suite loops over the contract too. */
function callByName(api: WirescopeApi, name: string, args: unknown): Promise<Result<unknown>> {
  return (api as unknown as Record<string, (args: unknown) => Promise<Result<unknown>>>)[name]!(args);
}

/** Resolves when `predicate()` holds, polling; fails the test after `timeoutMs`. */
async function eventually(predicate: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Defines the conformance tests for one adapter. `makeApi` runs before each test, `close` after it. */
export function defineContractSuite(name: string, makeApi: () => Promise<ContractHarness>): void {
  describe(`the contract ${name}`, () => {
    let h: ContractHarness;
    beforeEach(async () => {
      h = await makeApi();
    });
    afterEach(async () => {
      await h.close();
    });

    it("has a sample for every command of the contract", () => {
      expect(Object.keys(contractSamples).sort()).toEqual(Object.keys(commands).sort());
    });

    it("carries every command's arguments to the engine and its result back", async () => {
      for (const command of Object.keys(commands) as CommandName[]) {
        const sample = contractSamples[command];
        const before = h.service.calls.length;
        const result = await callByName(h.api, command, sample.args);
        expect(result, command).toEqual({ ok: true, value: sample.result });
        expect(h.service.calls.slice(before), command).toEqual([{ name: command, args: sample.args }]);
      }
    });

    it("keeps bytes inside results as bytes", async () => {
      const result = await h.api.readTimeline(contractSamples.readTimeline.args);
      if (!result.ok) throw new Error(result.error.message);
      const [, full, empty, log] = result.value.events;
      expect(full?.kind === "data" && full.data).toBeInstanceOf(Uint8Array);
      expect(full?.kind === "data" && [...full.data]).toEqual([...ALL_BYTES]);
      expect(empty?.kind === "data" && empty.data).toEqual(new Uint8Array(0));
      expect(log?.kind === "log" && log.fields).toEqual({
        key: "foo",
        nested: { $bytes: "not bytes" },
        list: [1, "two", null],
      });
    });

    it("carries a full page of 10,000 timeline events with their bytes", async () => {
      const page: TimelineEvent[] = Array.from({ length: 10_000 }, (_, seq) => ({
        seq,
        t: seq * 3,
        conn: 1,
        kind: "data",
        dir: seq % 2 ? "in" : "out",
        data: Uint8Array.from({ length: 512 }, (_, i) => (seq + i) & 0xff),
      }));
      h.service.handle("readTimeline", () => ({ events: page, total: page.length }));
      const result = await h.api.readTimeline({ session: "s1", from: 0, count: 10_000 });
      if (!result.ok) throw new Error(result.error.message);
      expect(result.value.events).toHaveLength(10_000);
      const last = result.value.events[9_999];
      expect(last?.kind === "data" && [...last.data.subarray(0, 3)]).toEqual([
        9_999 & 0xff,
        10_000 & 0xff,
        10_001 & 0xff,
      ]);
    });

    it("refuses invalid arguments, naming the field in its message and its issues, without calling the engine", async () => {
      const cases: Array<[CommandName, unknown, RegExp, string]> = [
        [
          "connect",
          { target: { host: "127.0.0.1", port: 70000 } },
          /target\.port: a port is from 0 to 65535/,
          "target.port",
        ],
        ["send", { session: "s1", conn: "1", data: "x", encoding: "text" }, /^send: conn: /, "conn"],
        ["send", { session: "s1", conn: 1, data: "x", encoding: "utf7" }, /encoding/, "encoding"],
        ["readTimeline", { session: "s1", from: 0, count: 20_000 }, /count: read at most 10,000 events/, "count"],
        ["closeSession", {}, /session/, "session"],
        ["listen", "not an object", /^listen: /, ""],
      ];
      for (const [command, args, message, path] of cases) {
        const result = await callByName(h.api, command, args);
        expect(result.ok, command).toBe(false);
        if (result.ok) continue;
        expect(result.error).toMatchObject({ code: "invalid-arguments", category: "usage" });
        expect(result.error.message).toMatch(message);
        expect(result.error.issues?.[0]?.path, command).toBe(path);
      }
      expect(h.service.calls).toEqual([]);
    });

    it("gives the engine's error code and message, and nothing of its stack", async () => {
      class UnknownSession extends Error {
        code = "unknown-session";
      }
      h.service.handle("reconnect", ({ session: id }) => {
        throw new UnknownSession(`no session '${id}': it may have been removed`);
      });
      h.service.handle("listSessions", () => {
        throw new Error("the recorder is gone");
      });
      expect(await h.api.reconnect({ session: "s9" })).toEqual({
        ok: false,
        error: { code: "unknown-session", category: "usage", message: "no session 's9': it may have been removed" },
      });
      const internal = await h.api.listSessions({});
      expect(internal).toEqual({
        ok: false,
        error: { code: "internal", category: "internal", message: "the recorder is gone" },
      });
      expect(JSON.stringify(internal)).not.toMatch(/ at |\.ts:\d+/);
    });

    it("answers concurrent calls each with its own result", async () => {
      h.service.handle("readProtocol", async ({ path }) => {
        await new Promise((resolve) => setTimeout(resolve, (path.length * 7) % 11));
        return { content: `source of ${path}` };
      });
      const paths = Array.from({ length: 50 }, (_, i) => `p${"x".repeat(i)}.ts`);
      const results = await Promise.all(paths.map((path) => h.api.readProtocol({ path })));
      expect(results).toEqual(paths.map((path) => ({ ok: true, value: { content: `source of ${path}` } })));
    });

    it("delivers events to their subscribers until they unsubscribe", async () => {
      const first: unknown[] = [];
      const second: unknown[] = [];
      const protocols: unknown[] = [];
      const unsubscribeFirst = h.api.onSessionsChanged((sessions) => first.push(sessions));
      h.api.onSessionsChanged((sessions) => second.push(sessions));
      h.api.onProtocolsChanged((files) => protocols.push(files));

      h.emit("onSessionsChanged", [session]);
      await eventually(() => first.length === 1 && second.length === 1, "the first event");
      expect(first).toEqual([[session]]);

      unsubscribeFirst();
      h.emit("onSessionsChanged", []);
      h.emit("onTimelineGrew", [{ session: "s1", count: 5 }]);
      await eventually(() => second.length === 2, "the second event");
      expect(second).toEqual([[session], []]);
      expect(first).toHaveLength(1);
      expect(protocols).toEqual([]);
    });

    it("refuses names that are not commands, without calling the engine", async () => {
      for (const name of ["shutdown", "toString", "constructor", "__proto__", ""]) {
        const result = await h.invokeRaw(name, {});
        expect(result.ok, name).toBe(false);
        if (!result.ok) expect(result.error.code, name).toBe("unknown-command");
      }
      expect(h.service.calls).toEqual([]);
    });

    it("has one subscription per event of the contract", () => {
      for (const event of Object.keys(events)) {
        const subscribe = (h.api as unknown as Record<string, (listener: () => void) => () => void>)[event];
        expect(typeof subscribe, event).toBe("function");
        const unsubscribe = subscribe!(() => {});
        expect(typeof unsubscribe, event).toBe("function");
        unsubscribe();
      }
    });
  });
}
