import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { EventPayload } from "../../preload/contract.ts";
import type { TimelineEvent } from "../../preload/timeline.ts";
import { Engine } from "../engine/engine.ts";
import { TimelineFollower, type QueueBounds } from "./follow.ts";
import { TimelinePrinter } from "./printer.ts";
import { CliService } from "./service.ts";

let folder: string;
let engine: Engine;
let service: CliService;
let upstream: net.Server;
/** readTimeline calls made through `service`. */
let reads: number;

beforeEach(async () => {
  folder = fs.mkdtempSync(path.join(os.tmpdir(), "wirescope-follow-"));
  engine = await Engine.open({ workspaceRoot: path.join(folder, "ws"), configDir: path.join(folder, "config") });
  service = new CliService(engine);
  reads = 0;
  const call = service.call.bind(service);
  service.call = (name, args) => {
    if (name === "readTimeline") reads += 1;
    return call(name, args);
  };
  upstream = net.createServer((socket) => socket.pipe(socket));
  await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
});

afterEach(async () => {
  await engine.close();
  await new Promise((resolve) => upstream.close(resolve));
  fs.rmSync(folder, { recursive: true, force: true });
});

/** A raw proxy in front of the echo server, and a follower (told of growth as the CLI's run tells it) of it. */
async function followProxy(bounds?: QueueBounds): Promise<{ session: string; passed: TimelineEvent[] }> {
  const info = await service.call("proxy", {
    listen: { port: 0, interface: "127.0.0.1" },
    upstream: { host: "127.0.0.1", port: (upstream.address() as net.AddressInfo).port },
    clientProtocol: null,
    serverProtocol: null,
  });
  const passed: TimelineEvent[] = [];
  const follower = new TimelineFollower(service, info.id, (events) => passed.push(...events), bounds);
  engine.setEventSink((name, payload) => {
    if (name !== "onTimelineGrew") return;
    for (const { count } of payload as EventPayload<"onTimelineGrew">) follower.grew(count);
  });
  await follower.drain();
  // Through the proxy and back, one line at a time: each lands in a turn of its own.
  const socket = net.connect({ host: "127.0.0.1", port: Number(info.listeningOn!.split(":")[1]) });
  socket.setEncoding("latin1");
  for (let i = 0; i < 50; i++) {
    socket.write(`line ${i}\n`);
    await new Promise((resolve) => socket.once("data", resolve));
  }
  socket.end();
  await new Promise((resolve) => socket.once("close", resolve));
  await service.call("closeSession", { session: info.id });
  await follower.drain();
  follower.stop();
  return { session: info.id, passed };
}

/** The whole timeline, read back. */
async function recorded(session: string): Promise<TimelineEvent[]> {
  const events: TimelineEvent[] = [];
  for (;;) {
    const page = await service.call("readTimeline", { session, from: events.length, count: 10_000 });
    events.push(...page.events);
    if (page.events.length === 0 || events.length >= page.total) return events;
  }
}

/** `events` as the CLI prints them, for people and as JSON. */
function printed(events: TimelineEvent[]): string {
  let out = "";
  for (const json of [false, true])
    new TimelinePrinter({ write: (t: string) => (out += t) }, { json, hex: true }, 0).print(events);
  return out;
}

describe("TimelineFollower", () => {
  it("passes on a live proxy's every event, in order, as recorded, reading back only what came before it", async () => {
    const { session, passed } = await followProxy();
    const all = await recorded(session);
    expect(all.length).toBeGreaterThan(200); // 50 lines each way on both legs, and the lifecycle events
    expect(passed.map((e) => e.seq)).toEqual(all.map((e) => e.seq));
    expect(printed(passed)).toBe(printed(all));
    // The first drain reads what was recorded before; the last one finds nothing left. Nothing between.
    expect(reads).toBeLessThanOrEqual(3);
  });

  it("past its queue's bound, reads the rest back: nothing lost, nothing twice", async () => {
    // A chunk the proxy forwards is recorded twice in one turn (received, sent): the second never fits.
    const { session, passed } = await followProxy({ events: 1, bytes: 1 });
    const all = await recorded(session);
    expect(passed.map((e) => e.seq)).toEqual(all.map((e) => e.seq));
    expect(printed(passed)).toBe(printed(all));
    expect(reads).toBeGreaterThan(3);
  });
});
