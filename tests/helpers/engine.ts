/**
 * Helpers for integration tests that drive the engine through its contract, over the real WebSocket adapter on
 * 127.0.0.1, with a fresh workspace in a temporary folder; and real peers (redis-server) on free ports.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach } from "vitest";
import { WebSocket } from "ws";
import { Factory } from "../../core/index.ts";
import { Echo } from "../../core/protocols/wire.ts";
import { startWebSocketServer } from "../../main/adapters/ws-server.ts";
import { Engine, type EngineOptions } from "../../main/engine/engine.ts";
import type { EventName, EventPayload, Result, WirescopeApi } from "../../preload/contract.ts";
import type { TimelineEvent } from "../../preload/timeline.ts";
import { connectWebSocketApi } from "../../preload/ws-client.ts";
import { freePort, listenLocal, pollConnect } from "./net.ts";

export { freePort };

export interface EngineUnderTest {
  engine: Engine;
  api: WirescopeApi & { close(): void };
  /** The WebSocket URL (token included) `api` is connected to: for tests that send raw frames. */
  url: string;
  workspace: string;
  /** The settings folder the engine keeps its CA in (EngineOptions.configDir): a temporary one unless given. */
  configDir: string;
  /** Every event received, by name. */
  received: { [E in EventName]: EventPayload<E>[] };
  close(): Promise<void>;
}

/**
 * Starts an engine on a new workspace, serves it over WebSocket, and connects a client to it. `options` are passed
 * to Engine.open (a settings store, say); the workspace is always a new temporary folder, and so is the settings
 * folder (where the CA is made) unless `options.configDir` names one: a test never touches the user's.
 */
export async function startEngine(options: Omit<EngineOptions, "workspaceRoot"> = {}): Promise<EngineUnderTest> {
  const workspace = fs.mkdtempSync(path.join(os.tmpdir(), "wirescope-test-"));
  const configDir = options.configDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "wirescope-test-config-"));
  const engine = await Engine.open({ ...options, workspaceRoot: workspace, configDir });
  const server = await startWebSocketServer({ service: engine });
  engine.setEventSink(server.emit);
  const api = await connectWebSocketApi(server.url, { WebSocket: WebSocket as never });
  const received: EngineUnderTest["received"] = {
    onSessionsChanged: [],
    onTimelineGrew: [],
    onProtocolsChanged: [],
    onProgress: [],
  };
  api.onSessionsChanged((p) => received.onSessionsChanged.push(p));
  api.onTimelineGrew((p) => received.onTimelineGrew.push(p));
  api.onProtocolsChanged((p) => received.onProtocolsChanged.push(p));
  api.onProgress((p) => received.onProgress.push(p));
  return {
    engine,
    api,
    url: server.url,
    workspace,
    configDir,
    received,
    async close() {
      api.close();
      await server.close();
      await engine.close();
      fs.rmSync(workspace, { recursive: true, force: true });
      if (options.configDir === undefined) fs.rmSync(configDir, { recursive: true, force: true });
    },
  };
}

/** The value of an ok result, or a thrown error with the result's code and message. */
export function ok<T>(result: Result<T>): T {
  if (!result.ok) throw new Error(`expected ok, got ${result.error.code}: ${result.error.message}`);
  return result.value;
}

/**
 * Starts a proxy on a free port of 127.0.0.1 in front of `upstreamPort`, with these leg protocols (null or
 * undefined: a raw leg); its session id and port.
 */
export async function startProxy(
  api: WirescopeApi,
  upstreamPort: number,
  clientProtocol?: string | null,
  serverProtocol?: string | null,
): Promise<{ session: string; port: number }> {
  const s = ok(
    await api.proxy({
      listen: { port: 0 },
      upstream: { host: "127.0.0.1", port: upstreamPort },
      ...(clientProtocol != null ? { clientProtocol } : {}),
      ...(serverProtocol != null ? { serverProtocol } : {}),
    }),
  );
  return { session: s.id, port: Number(s.listeningOn!.split(":")[1]) };
}

/** Reads a session's whole timeline, through the contract a page of 10,000 events at a time. */
export async function timeline(api: WirescopeApi, session: string): Promise<TimelineEvent[]> {
  const events: TimelineEvent[] = [];
  for (;;) {
    const page = ok(await api.readTimeline({ session, from: events.length, count: 10_000 }));
    events.push(...page.events);
    if (events.length >= page.total || page.events.length === 0) return events;
  }
}

/** Concatenated bytes of one connection in one direction. */
export function bytesOf(events: TimelineEvent[], conn: number, dir: "in" | "out"): Buffer {
  return Buffer.concat(events.flatMap((e) => (e.kind === "data" && e.conn === conn && e.dir === dir ? [e.data] : [])));
}

/** Polls the timeline until `predicate` holds. */
export async function waitForTimeline(
  api: WirescopeApi,
  session: string,
  predicate: (events: TimelineEvent[]) => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<TimelineEvent[]> {
  let last: TimelineEvent[] = [];
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    last = await timeline(api, session);
    if (predicate(last)) return last;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`Timed out waiting for ${what}; timeline: ${JSON.stringify(last.map(describe))}`);
}

function describe(e: TimelineEvent): string {
  if (e.kind === "data") return `${e.conn} ${e.dir} ${JSON.stringify(Buffer.from(e.data).toString("latin1"))}`;
  if (e.kind === "lifecycle") return `${e.conn} ${e.event} ${e.detail}`;
  return `${e.conn} log ${e.text}`;
}

export const REDIS_SERVER = "/usr/bin/redis-server";

/** Starts Debian's redis-server on a free port on 127.0.0.1, without persistence. Fails clearly if it's missing. */
export async function startRedis(): Promise<{ port: number; stop(): Promise<void> }> {
  if (!fs.existsSync(REDIS_SERVER)) {
    throw new Error(`These tests need redis-server as a real peer: apt-get install redis-server (.ci/run does this).`);
  }
  const port = await freePort();
  const child: ChildProcess = spawn(
    REDIS_SERVER,
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "yes"],
    { stdio: "ignore" },
  );
  if (!(await pollConnect(port))) throw new Error(`redis-server did not start on 127.0.0.1:${port}`);
  return {
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGKILL");
      }),
  };
}

/** What a test file that calls useEngine works with; each member acts on the running test. */
export interface EngineFixture {
  /** The running test's engine (startEngine): a new one for each test, closed after it. */
  readonly t: EngineUnderTest;
  /** Runs `cleanup` after the running test, before its engine closes; the last one deferred runs first. */
  defer(cleanup: () => unknown): void;
  /** Debian's redis-server on a free port (startRedis), stopped after the running test; resolves with its port. */
  redis(): Promise<number>;
  /** The core's Echo listening on `host` (127.0.0.1 unless given), stopped after the running test; its port. */
  echoServer(host?: string): Promise<number>;
}

/**
 * Called once at the top of a test file whose tests each drive a new engine: registers the beforeEach that starts
 * it (with `options`, as startEngine) and the afterEach that runs what the test deferred, then closes it. `t` is
 * one object for the whole file whose fields are those of the running test's engine, so it can be kept in a const.
 */
export function useEngine(options: Omit<EngineOptions, "workspaceRoot"> = {}): EngineFixture {
  let current: EngineUnderTest | null = null;
  const cleanups: (() => unknown)[] = [];
  const running = (): EngineUnderTest => {
    if (current === null) throw new Error("useEngine's engine exists only while a test runs (not at load time)");
    return current;
  };
  const t: EngineUnderTest = {
    get engine() {
      return running().engine;
    },
    get api() {
      return running().api;
    },
    get url() {
      return running().url;
    },
    get workspace() {
      return running().workspace;
    },
    get configDir() {
      return running().configDir;
    },
    get received() {
      return running().received;
    },
    close: () => running().close(),
  };
  beforeEach(async () => {
    current = await startEngine(options);
  });
  afterEach(async () => {
    try {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    } finally {
      await current?.close();
      current = null;
    }
  });
  const defer = (cleanup: () => unknown): void => {
    cleanups.push(cleanup);
  };
  return {
    t,
    defer,
    async redis() {
      const redis = await startRedis();
      defer(() => redis.stop());
      return redis.port;
    },
    async echoServer(host) {
      const { port, portNumber } = await listenLocal(Factory.forProtocol(Echo), host);
      defer(() => port.stopListening());
      return portNumber;
    },
  };
}

/**
 * Called once at the top of a test file whose tests share one redis-server: starts it before the file's first test
 * (beforeAll) and stops it after the last. `port` is its port from then on.
 */
export function useRedisForFile(): { readonly port: number } {
  let redis: Awaited<ReturnType<typeof startRedis>> | null = null;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  return {
    get port() {
      if (redis === null) throw new Error("useRedisForFile's redis-server runs only while the file's tests do");
      return redis.port;
    },
  };
}
