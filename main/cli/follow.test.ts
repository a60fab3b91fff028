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

/** Taps logging each line that passes as a decoded message: a request on the client leg, its answer on the other. */
const LINE_TAPS = `
import { LineReceiver } from "wirescope";
class Lines extends LineReceiver {
  static readonly tap = true;
  role: "request" | "response" = "request";
  override lineReceived(line: Buffer): void {
    this.log.message("line {text}", { text: line.toString("latin1") }, { [this.role]: true });
  }
}
export class ClientLeg extends Lines {}
export class ServerLeg extends Lines {
  override role = "response" as const;
}
`;

/**
 * A proxy in front of the echo server, raw or with LINE_TAPS on both legs, and a follower (told of growth as the
 * CLI's run tells it) of it while 50 lines go through and back.
 */
async function followProxy(taps: boolean, bounds?: QueueBounds): Promise<{ session: string; passed: TimelineEvent[] }> {
  if (taps) await service.call("saveProtocol", { path: "lines.ts", content: LINE_TAPS });
  const info = await service.call("proxy", {
    listen: { port: 0, interface: "127.0.0.1" },
    upstream: { host: "127.0.0.1", port: (upstream.address() as net.AddressInfo).port },
    clientProtocol: taps ? "lines.ts" : null,
    serverProtocol: taps ? "lines.ts" : null,
  });
  const passed: TimelineEvent[] = [];
  const follower = new TimelineFollower(service, info.id, (events) => passed.push(...events), bounds);
  engine.setEventSink((name, payload) => {
    if (name !== "onTimelineGrew") return;
    for (const { count } of payload as EventPayload<"onTimelineGrew">) follower.grew(count);
  });
  await follower.drain();
  // Through the proxy and back, one line at a time, each in a turn of its own, over several of the engine's growth
  // notices (50 ms apart): a follower reading the timeline back would read it several times.
  const socket = net.connect({ host: "127.0.0.1", port: Number(info.listeningOn!.split(":")[1]) });
  socket.setEncoding("latin1");
  for (let i = 0; i < 50; i++) {
    socket.write(`line ${i}\r\n`);
    await new Promise((resolve) => socket.once("data", resolve));
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  socket.end();
  await new Promise((resolve) => socket.once("close", resolve));
  // The taps decode in their worker: their last messages come after the bytes.
  const messages = async () => (await recorded(info.id)).filter((e) => e.kind === "log" && e.spans).length;
  while (taps && (await messages()) < 100) await new Promise((resolve) => setTimeout(resolve, 10));
  await service.call("closeSession", { session: info.id });
  await follower.drain();
  follower.stop();
  return { session: info.id, passed };
}

/** The whole timeline, read back (from the engine itself: not counted in `reads`). */
async function recorded(session: string): Promise<TimelineEvent[]> {
  const events: TimelineEvent[] = [];
  for (;;) {
    const page = await engine.readTimeline({ session, from: events.length, count: 10_000 });
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
    const { session, passed } = await followProxy(false);
    const all = await recorded(session);
    expect(all.length).toBeGreaterThan(200); // 50 lines each way on both legs, and the lifecycle events
    expect(passed.map((e) => e.seq)).toEqual(all.map((e) => e.seq));
    expect(printed(passed)).toBe(printed(all));
    // The first drain reads what was recorded before; the last one finds nothing left. Nothing between.
    expect(reads).toBeLessThanOrEqual(3);
  });

  it("passes on decoded messages as recorded, pairing included, printed as they read back", async () => {
    const { session, passed } = await followProxy(true);
    const all = await recorded(session);
    const answered = all.filter((e) => e.kind === "log" && e.pair?.request !== undefined);
    expect(answered).toHaveLength(50);
    expect(printed(passed)).toBe(printed(all));
    expect(reads).toBeLessThanOrEqual(3);
  });

  it("past its queue's bound, reads the rest back: nothing lost, nothing twice", async () => {
    // A chunk the proxy forwards is recorded twice in one turn (received, sent): the second never fits.
    const { session, passed } = await followProxy(false, { events: 1, bytes: 1 });
    const all = await recorded(session);
    expect(passed.map((e) => e.seq)).toEqual(all.map((e) => e.seq));
    expect(printed(passed)).toBe(printed(all));
    expect(reads).toBeGreaterThan(3);
  });
});

describe("TimelineFollower with appends the watch does not see", () => {
  /** A session's timeline as the follower sees it: handed events (wrapped) and ones only a read finds (bypass). */
  function fakeSession() {
    const events: TimelineEvent[] = [];
    let listener: ((e: TimelineEvent) => void) | null = null;
    let afterRead: { delay: number; act: () => void } | null = null;
    const fake = {
      engine: {
        watchRecorded: (_session: string, l: (e: TimelineEvent) => void) => {
          listener = l;
          return () => (listener = null);
        },
      },
      async call(_name: string, args: { from: number; count: number }) {
        await new Promise((resolve) => setImmediate(resolve));
        const page = { events: events.slice(args.from, args.from + args.count), total: events.length };
        const then = afterRead;
        afterRead = null;
        if (then !== null) {
          // `delay` microtasks after this read's answer reaches the follower.
          const step = (left: number): void => (left === 0 ? then.act() : queueMicrotask(() => step(left - 1)));
          queueMicrotask(() => step(then.delay));
        }
        return page;
      },
    };
    const next = (): TimelineEvent => {
      const seq = events.length;
      const e: TimelineEvent = { seq, t: seq, conn: 0, kind: "lifecycle", event: "connected", detail: "" };
      events.push(e);
      return e;
    };
    return {
      service: fake as unknown as CliService,
      events,
      bypass: () => void next(),
      wrapped: () => listener?.(next()),
      /** Runs `act` once, `delay` microtasks after the next read answers. */
      afterRead: (delay: number, act: () => void) => (afterRead = { delay, act }),
    };
  }

  it("passes on every event once, in order, whichever way each was appended and whenever", async () => {
    for (let round = 0; round < 50; round++) {
      const s = fakeSession();
      const passed: number[] = [];
      const follower = new TimelineFollower(s.service, "s", (batch) => passed.push(...batch.map((e) => e.seq)));
      s.bypass();
      void follower.drain().catch(() => {});
      // Appends of both kinds at every microtask and turn boundary around the reads, each kind announced as the
      // engine announces growth (batched, later).
      for (let i = 0; i < 40; i++) {
        if ((i + round) % 3 === 0) s.bypass();
        else s.wrapped();
        if (i % 4 === round % 4) follower.grew(s.events.length);
        for (let k = 0; k < (i + round) % 5; k++) await Promise.resolve();
        if (i % 7 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      follower.grew(s.events.length);
      await passedAll(passed, s.events.length);
      expect(passed).toEqual(s.events.map((e) => e.seq));
      follower.stop();
    }
  });

  it("an event it was not handed, appended as a read goes live, is passed on without waiting for another", async () => {
    // Right after a read finds the end, at each microtask: one append the watch does not see, one it does (which
    // then does not follow on), and the growth notice — whose count the handed event already made known.
    for (let delay = 0; delay < 12; delay++) {
      const s = fakeSession();
      const passed: number[] = [];
      const follower = new TimelineFollower(s.service, "s", (batch) => passed.push(...batch.map((e) => e.seq)));
      s.bypass();
      s.afterRead(delay, () => {
        s.bypass();
        s.wrapped();
        follower.grew(s.events.length);
      });
      void follower.drain().catch(() => {});
      await passedAll(passed, 3);
      expect(passed, `appended ${delay} microtasks after the read`).toEqual([0, 1, 2]);
      follower.stop();
    }
  });
});

/** Waits a few turns for `passed` to hold `count` events: what a follower passes on by itself, with no drain. */
async function passedAll(passed: readonly number[], count: number): Promise<void> {
  for (let turn = 0; turn < 20 && passed.length < count; turn++) {
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}
