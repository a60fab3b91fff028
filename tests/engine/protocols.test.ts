/**
 * Sandboxed protocols through the engine's contract, over the real WebSocket adapter, with real peers on 127.0.0.1:
 * the RESP template against redis-server, throws in every callback, an infinite loop, unbounded allocation, a syntax
 * error, hot reload in the middle of heavy traffic, and connections opened by user code.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import { describe, expect, it } from "vitest";
import type { TimelineEvent } from "../../preload/timeline.ts";
import { bytesOf, ok, timeline, useEngine, waitForTimeline } from "../helpers/engine.ts";
import { waitFor } from "../helpers/net.ts";

const { t, defer, redis } = useEngine();

const logs = (events: TimelineEvent[]) => events.flatMap((e) => (e.kind === "log" ? [e.text] : []));
const lifecycle = (events: TimelineEvent[], conn: number) =>
  events.flatMap((e) => (e.kind === "lifecycle" && e.conn === conn ? [`${e.event}: ${e.detail}`] : []));

/** A plain client of a listener session: sends lines, collects what comes back. */
class Peer {
  readonly socket: net.Socket;
  received = "";
  closed = false;
  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on("data", (d) => (this.received += d.toString("latin1")));
    socket.on("close", () => (this.closed = true));
    socket.on("error", () => {});
    defer(() => socket.destroy());
  }
  static connect(port: number): Promise<Peer> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: "127.0.0.1", port }, () => resolve(new Peer(s)));
      s.on("error", reject);
    });
  }
  async until(text: string): Promise<void> {
    await waitFor(
      () => this.received.includes(text),
      `the peer to receive ${JSON.stringify(text)} (has ${JSON.stringify(this.received)})`,
    );
  }
}

/** Saves a protocol file through the contract. */
async function save(path: string, content: string) {
  return ok(await t.api.saveProtocol({ path, content }));
}

/** Starts a listener running `file`; returns its session id and port. */
async function listenWith(file: string): Promise<{ session: string; port: number }> {
  const s = ok(await t.api.listen({ target: { port: 0 }, protocol: file }));
  return { session: s.id, port: Number(s.listeningOn!.split(":")[1]) };
}

const LINE_ECHO = (reply: string) => `
import { LineReceiver } from "wirescope";
export default class Replier extends LineReceiver {
  count = 0;
  override lineReceived(line: Buffer): void {
    this.count += 1;
    this.sendLine(Buffer.from(\`${reply} \${this.count}: \${line.toString()}\`));
  }
}
`;

describe("the RESP template against redis-server", () => {
  it("decodes replies onto the timeline beside the bytes", async () => {
    const redisPort = await redis();
    const s = ok(await t.api.connect({ target: { host: "127.0.0.1", port: redisPort }, protocol: "template:resp" }));
    expect(s.connections[0]!.protocol).toMatchObject({ file: "resp.ts", state: "running" });
    ok(
      await t.api.send({
        session: s.id,
        conn: 1,
        data: "PING\\r\\nSET greeting hello\\r\\nGET greeting\\r\\n",
        encoding: "text",
      }),
    );
    const events = await waitForTimeline(t.api, s.id, (e) => logs(e).length >= 3, "three decoded replies");
    expect(logs(events)).toEqual(["reply PONG", "reply OK", "reply hello"]);
    expect(bytesOf(events, 1, "in").toString()).toBe("+PONG\r\n+OK\r\n$5\r\nhello\r\n");
    // The template file now lives in the workspace, where the user can edit it.
    expect(ok(await t.api.listProtocols({})).map((p) => p.path)).toContain("resp.ts");
  });
});

/**
 * Listens with `file`, connects a peer that sends `input`, and waits (up to `timeoutMs`) for the watchdog to halt the
 * protocol on connection 1: the timeline then, and the peer.
 */
async function runUntilHalted(file: string, input: string, timeoutMs: number) {
  const { session, port } = await listenWith(file);
  const peer = await Peer.connect(port);
  peer.socket.write(input);
  const events = await waitForTimeline(
    t.api,
    session,
    (e) => lifecycle(e, 1).some((l) => l.startsWith("protocol-halted")),
    "the halt",
    timeoutMs,
  );
  return { events, peer };
}

describe("faults in user protocols", () => {
  for (const callback of ["connectionMade", "dataReceived", "callLater"] as const) {
    it(`a throw in ${callback} is recorded with its source line; the socket stays; a fix resumes it`, async () => {
      // A LineReceiver from the start, so that the fix (another LineReceiver) finds the fields it expects: a hot
      // reload swaps code, not state (Twisted's rebuild).
      const body =
        callback === "connectionMade"
          ? `override connectionMade(): void { throw new Error("boom in connectionMade"); }`
          : callback === "dataReceived"
            ? `override lineReceived(_l: Buffer): void { throw new Error("boom in dataReceived"); }`
            : `override connectionMade(): void { reactor.callLater(0.01, () => { throw new Error("boom in callLater"); }); }`;
      await save(
        "faulty.ts",
        `import { LineReceiver, reactor } from "wirescope";\nvoid reactor;\nexport default class Faulty extends LineReceiver {\n  ${body}\n}\n`,
      );
      const { session, port } = await listenWith("faulty.ts");
      const peer = await Peer.connect(port);
      if (callback === "dataReceived") peer.socket.write("trigger\r\n");
      const events = await waitForTimeline(
        t.api,
        session,
        (e) => lifecycle(e, 1).some((l) => l.startsWith("protocol-halted")),
        "the halt",
      );
      const error = lifecycle(events, 1).find((l) => l.startsWith("protocol-error"));
      expect(error).toMatch(new RegExp(`boom in ${callback} at faulty\\.ts:4:\\d+`));
      // The socket is still open and its bytes are still recorded.
      peer.socket.write("still recorded\r\n");
      await waitForTimeline(
        t.api,
        session,
        (e) => bytesOf(e, 1, "in").toString().includes("still recorded"),
        "bytes while halted",
      );
      expect(peer.closed).toBe(false);
      const info = ok(await t.api.listSessions({}))[0]!;
      expect(info.connections[0]!.protocol).toMatchObject({ state: "halted" });
      // Fix the file: the same connection runs the new code.
      // (No new fields: a reload keeps the instance's state, and new field initializers don't run on it.)
      const saved = await save(
        "faulty.ts",
        `import { LineReceiver } from "wirescope";\nexport default class Faulty extends LineReceiver {\n  override lineReceived(line: Buffer): void { this.sendLine(Buffer.from("fixed: " + line.toString())); }\n}\n`,
      );
      expect(saved.diagnostics).toEqual([]);
      peer.socket.write("hello\r\n");
      await peer.until("fixed: hello");
      expect(peer.closed).toBe(false);
    });
  }

  it("while (true) {} in dataReceived is stopped within 2 s; the app answers meanwhile; a fix resumes the socket", async () => {
    await save(
      "loop.ts",
      `import { Protocol } from "wirescope";\nexport default class Loop extends Protocol {\n  override dataReceived(): void { while (true) {} }\n}\n`,
    );
    const { session, port } = await listenWith("loop.ts");
    const peer = await Peer.connect(port);
    peer.socket.write("spin\r\n");
    const started = Date.now();
    // Meanwhile another command answers quickly: the loop runs off the main thread.
    await new Promise((r) => setTimeout(r, 300));
    const asked = performance.now();
    ok(await t.api.listSessions({}));
    expect(performance.now() - asked).toBeLessThan(100);
    const events = await waitForTimeline(
      t.api,
      session,
      (e) => lifecycle(e, 1).some((l) => l.startsWith("protocol-halted")),
      "the halt",
      5000,
    );
    expect(Date.now() - started).toBeLessThan(2500);
    expect(lifecycle(events, 1).find((l) => l.startsWith("protocol-halted"))).toMatch(/infinite loop/);
    expect(peer.closed).toBe(false);
    await save("loop.ts", LINE_ECHO("unstuck"));
    peer.socket.write("again\r\n");
    await peer.until("unstuck 1: again");
  });

  it("what a protocol wrote and logged just before looping forever is on the timeline, before the halt", async () => {
    await save(
      "chatty-loop.ts",
      `import { Protocol } from "wirescope";\nexport default class ChattyLoop extends Protocol {\n  override dataReceived(data: Buffer): void {\n    this.transport.write(Buffer.from("seen\\r\\n"));\n    this.log.info("got {n} bytes, now looping forever", { n: data.length });\n    while (true) {}\n  }\n}\n`,
    );
    const { events, peer } = await runUntilHalted("chatty-loop.ts", "spin!", 5000);
    const at = (found: (e: TimelineEvent) => boolean) => events.findIndex(found);
    const logged = at((e) => e.kind === "log" && e.text === "got 5 bytes, now looping forever");
    const wrote = at((e) => e.kind === "data" && e.dir === "out" && Buffer.from(e.data).toString() === "seen\r\n");
    const halted = at((e) => e.kind === "lifecycle" && e.event === "protocol-halted");
    expect(logged).toBeGreaterThanOrEqual(0);
    expect(wrote).toBeGreaterThanOrEqual(0);
    expect([wrote < logged, logged < halted]).toEqual([true, true]);
    await peer.until("seen\r\n");
  });

  it("unbounded allocation is stopped, and the app and the socket carry on", async () => {
    await save(
      "hog.ts",
      `import { Protocol } from "wirescope";\nexport default class Hog extends Protocol {\n  hoard: unknown[] = [];\n  override dataReceived(): void { for (;;) this.hoard.push(new Array(1e5).fill(Math.random())); }\n}\n`,
    );
    const { events, peer } = await runUntilHalted("hog.ts", "eat\r\n", 15_000);
    expect(lifecycle(events, 1).find((l) => l.startsWith("protocol-halted"))).toMatch(/ran out of memory/);
    expect(peer.closed).toBe(false);
    expect(ok(await t.api.listSessions({})).length).toBe(1);
  }, 30_000);

  it.skipIf(!fs.existsSync("/proc/self/task"))(
    "a protocol that throws while loading refuses the session and leaves no sandbox worker behind",
    async () => {
      await save(
        "throws.ts",
        `import { Protocol } from "wirescope";\nthrow new Error("broken at load");\nexport default class X extends Protocol {}\n`,
      );
      // Each sandbox worker is a thread of this process (/proc/self/task): count them around failed listens.
      const threads = () => fs.readdirSync("/proc/self/task").length;
      const attempt = async () => {
        const r = await t.api.listen({ target: { port: 0 }, protocol: "throws.ts" });
        expect(!r.ok && r.error.message).toMatch(/throws\.ts could not be loaded: .*broken at load/);
      };
      await attempt(); // the first one may start threads that stay (the file system's pool)
      const before = threads();
      for (let i = 0; i < 6; i++) await attempt();
      expect(threads() - before, "threads left behind by 6 refused listens").toBeLessThan(3);
      expect(ok(await t.api.listSessions({}))).toEqual([]);
    },
  );

  it("a syntax error is reported with file:line:col and the old code keeps running", async () => {
    await save("lines.ts", LINE_ECHO("v1"));
    const { port } = await listenWith("lines.ts");
    const peer = await Peer.connect(port);
    peer.socket.write("a\r\n");
    await peer.until("v1 1: a");
    const saved = await save("lines.ts", LINE_ECHO("v2").replace("count = 0;", "count = ;"));
    expect(saved.diagnostics[0]).toMatchObject({ file: "lines.ts", line: 4, severity: "error" });
    // The broken text was saved (nothing the user typed is lost) but the old code runs on.
    expect(ok(await t.api.readProtocol({ path: "lines.ts" })).content).toContain("count = ;");
    peer.socket.write("b\r\n");
    await peer.until("v1 2: b");
    const files = ok(await t.api.listProtocols({}));
    expect(files.find((f) => f.path === "lines.ts")!.diagnostics.length).toBeGreaterThan(0);
  });
});

describe("hot reload", () => {
  it("swaps code on a live connection under heavy traffic: no byte lost or duplicated, fields kept", async () => {
    await save("counter.ts", LINE_ECHO("r0"));
    const { session, port } = await listenWith("counter.ts");
    const peer = await Peer.connect(port);
    const LINES = 20_000;
    let sent = 0;
    const pump = () => {
      while (sent < LINES) {
        sent += 1;
        if (!peer.socket.write(`line ${sent}\r\n`)) return void peer.socket.once("drain", pump);
      }
    };
    pump();
    for (let i = 1; i <= 5; i++) {
      await new Promise((r) => setTimeout(r, 30));
      const saved = await save("counter.ts", LINE_ECHO(`r${i}`));
      expect(saved.diagnostics).toEqual([]);
    }
    await waitFor(() => peer.received.split("\r\n").length - 1 === LINES, "every line answered", 20_000);
    const replies = peer.received.split("\r\n").slice(0, LINES);
    // The counter field survived every reload: replies are numbered 1..LINES with no gap or repeat.
    replies.forEach((r, i) => expect(r).toMatch(new RegExp(`^r\\d ${i + 1}: line ${i + 1}$`)));
    // The version only moves forward, and the last reload is in use.
    const versions = replies.map((r) => Number(r[1]));
    for (let i = 1; i < versions.length; i++) expect(versions[i]).toBeGreaterThanOrEqual(versions[i - 1]!);
    peer.socket.write("last\r\n");
    await peer.until(`r5 ${LINES + 1}: last`);
    const events = await timeline(t.api, session);
    expect(lifecycle(events, 1).filter((l) => l.startsWith("protocol-reloaded")).length).toBe(5);
  }, 40_000);
});

describe("imports between workspace files", () => {
  it("saving an imported file hot-loads the files that import it", async () => {
    await save("greeting.ts", `export const GREETING = "hello";\n`);
    await save(
      "greeter.ts",
      `import { LineReceiver } from "wirescope";\nimport { GREETING } from "./greeting.ts";\nexport default class Greeter extends LineReceiver {\n  override lineReceived(line: Buffer): void { this.sendLine(Buffer.from(GREETING + " " + line.toString())); }\n}\n`,
    );
    const { port } = await listenWith("greeter.ts");
    const peer = await Peer.connect(port);
    peer.socket.write("you\r\n");
    await peer.until("hello you");
    const saved = await save("greeting.ts", `export const GREETING = "bonjour";\n`);
    expect(saved.reloaded).toBe(1);
    peer.socket.write("toi\r\n");
    await peer.until("bonjour toi");
  });

  it("a file that failed to compile for a missing import compiles once the import is saved", async () => {
    const greeter = `import { LineReceiver } from "wirescope";\nimport { GREETING } from "./later.ts";\nexport default class Greeter extends LineReceiver {\n  override lineReceived(line: Buffer): void { this.sendLine(Buffer.from(GREETING + " " + line.toString())); }\n}\n`;
    const early = await save("greeter.ts", greeter);
    expect(early.diagnostics.map((d) => d.message).join()).toMatch(/Could not resolve "\.\/later\.ts"/);
    await save("later.ts", `export const GREETING = "salut";\n`);
    const { port } = await listenWith("greeter.ts");
    const peer = await Peer.connect(port);
    peer.socket.write("toi\r\n");
    await peer.until("salut toi");
  });
});

describe("connections opened by user code", () => {
  it("are recorded on the session like the others", async () => {
    const upstream = await listenWith("template:echo");
    await save(
      "relay.ts",
      `import { ClientFactory, Protocol, reactor } from "wirescope";
class Upstream extends Protocol {
  override connectionMade(): void { this.transport.write(Buffer.from("from the protocol")); }
}
export default class Relay extends Protocol {
  override connectionMade(): void {
    const f = new ClientFactory();
    f.protocol = Upstream;
    reactor.connectTCP("127.0.0.1", ${upstream.port}, f);
  }
}
`,
    );
    const { session, port } = await listenWith("relay.ts");
    await Peer.connect(port);
    const events = await waitForTimeline(
      t.api,
      session,
      (e) => bytesOf(e, 2, "in").toString() === "from the protocol",
      "the echo on the protocol's own connection",
    );
    expect(bytesOf(events, 2, "out").toString()).toBe("from the protocol");
    expect(lifecycle(events, 2)[0]).toMatch(/^connecting: 127\.0\.0\.1:\d+ \(opened by the protocol\)/);
  });
});
