/**
 * Protocols on process sessions, through the contract over the real WebSocket adapter, with real programs: the bc
 * template driving bc, a plain Protocol on cat (stdout as its stream, its writes to stdin), the JSON Lines template on
 * a small JSON-RPC echo server, the LSP template on Debian's pylsp, protocols that throw or loop (halted, the child
 * running on, a fix resuming them), and one that tries to start a process of its own (refused).
 */
import * as fs from "node:fs";
import { describe, expect, it } from "vitest";
import type { LifecycleTimelineEvent, TimelineEvent } from "../../preload/timeline.ts";
import { ok, useEngine, waitForTimeline } from "../helpers/engine.ts";

const { t } = useEngine();

const logs = (events: TimelineEvent[]) => events.flatMap((e) => (e.kind === "log" && e.conn === 1 ? [e.text] : []));
const steps = (events: TimelineEvent[]) =>
  events.filter((e): e is LifecycleTimelineEvent => e.kind === "lifecycle" && e.conn === 1);
const ended = (events: TimelineEvent[]) => steps(events).some((e) => e.event === "ended");
const halted = (events: TimelineEvent[]) => steps(events).some((e) => e.event === "protocol-halted");

/** The bytes that went through the child's fd `fd`. */
function fdText(events: TimelineEvent[], fd: number): string {
  const chunks = events.flatMap((e) => (e.kind === "data" && e.conn === 1 && e.fd === fd ? [e.data] : []));
  return Buffer.concat(chunks).toString("utf8");
}

async function save(path: string, content: string): Promise<void> {
  ok(await t.api.saveProtocol({ path, content }));
}

/** A JSON-RPC server over JSON Lines (MCP's stdio transport, in miniature): answers each request with its params. */
const JSONL_ECHO_SERVER = `
import json, sys
for line in sys.stdin:
    message = json.loads(line)
    if "id" in message:
        print(json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": {"echo": message.get("params")}}), flush=True)
`;

describe("protocols on process sessions", () => {
  it("the bc template drives bc: asks each expression, logs each answer, closes stdin, bc exits 0", async () => {
    const s = ok(await t.api.spawn({ argv: ["bc", "-q"], protocol: "template:bc" }));
    expect(s.connections[0]!.protocol).toMatchObject({ file: "bc.ts", state: "running" });
    // The protocol hears of the end after it is recorded: its last log line follows the "ended" event.
    const over = (e: TimelineEvent[]) => ended(e) && logs(e).some((l) => l.startsWith("bc ended"));
    const events = await waitForTimeline(t.api, s.id, over, "bc to end");
    expect(logs(events)).toEqual([
      "2+3 = 5",
      "2^64 = 18446744073709551616",
      "scale=10; 1/3 = .3333333333",
      "sqrt(144) = 12.0000000000",
      expect.stringMatching(/^bc ended: .*exit code 0/),
    ]);
    expect(fdText(events, 0)).toBe("2+3\n2^64\nscale=10; 1/3\nsqrt(144)\n");
    expect(steps(events).find((e) => e.event === "exited")?.detail).toBe("exit code 0");
  });

  it("a plain Protocol gets the child's stdout; its writes feed stdin; the send box's input is not echoed to it", async () => {
    await save(
      "lines.ts",
      `import { Protocol, type Bytes } from "wirescope";
export default class Lines extends Protocol {
  override connectionMade(): void { this.transport.write(Buffer.from("hello\\n")); }
  override dataReceived(data: Bytes): void { this.log.info("got {text}", { text: Buffer.from(data).toString().trim() }); }
  override connectionLost(reason: Error): void { this.log.info("lost: {name}", { name: reason.name }); }
}
`,
    );
    const s = ok(await t.api.spawn({ argv: ["cat"], protocol: "lines.ts" }));
    await waitForTimeline(t.api, s.id, (e) => logs(e).includes("got hello"), "the protocol's line back");
    ok(await t.api.send({ session: s.id, conn: 1, data: "typed\\n", encoding: "text" }));
    await waitForTimeline(t.api, s.id, (e) => logs(e).includes("got typed"), "the send box's line back");
    ok(await t.api.halfCloseConnection({ session: s.id, conn: 1 }));
    const events = await waitForTimeline(t.api, s.id, (e) => logs(e).some((l) => l.startsWith("lost")), "the end");
    expect(logs(events)).toEqual(["got hello", "got typed", "lost: ProcessDone"]);
    expect(fdText(events, 0)).toBe("hello\ntyped\n");
  });

  it("the jsonl-rpc template pairs a JSON-RPC echo server's responses with the requests sent to it", async () => {
    const s = ok(await t.api.spawn({ argv: ["python3", "-c", JSONL_ECHO_SERVER], protocol: "template:jsonl-rpc" }));
    const requests = [
      { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18" } },
      { jsonrpc: "2.0", method: "notifications/initialized" },
      { jsonrpc: "2.0", id: "b", method: "tools/list", params: {} },
    ];
    const data = requests.map((r) => JSON.stringify(r)).join("\n") + "\n";
    ok(await t.api.send({ session: s.id, conn: 1, data: Buffer.from(data).toString("base64"), encoding: "base64" }));
    const events = await waitForTimeline(t.api, s.id, (e) => logs(e).length >= 5, "five decoded messages");
    const texts = logs(events);
    expect(texts.slice(0, 3)).toEqual([
      'client request #1 initialize {"protocolVersion":"2025-06-18"}',
      "client notification notifications/initialized ",
      "client request #b tools/list {}",
    ]);
    expect(texts.slice(3)).toEqual([
      expect.stringMatching(/^server response #1 to initialize in [\d.]+ ms: \{"echo":\{"protocolVersion":/),
      expect.stringMatching(/^server response #b to tools\/list in [\d.]+ ms: \{"echo":\{\}\}$/),
    ]);
    const response = events.find(
      (e) => e.kind === "log" && e.fields["method"] === "tools/list" && "latencyMs" in e.fields,
    );
    expect(response?.kind === "log" && typeof response.fields["latencyMs"]).toBe("number");
    ok(await t.api.closeSession({ session: s.id }));
  });

  for (const fault of ["throws", "loops"] as const) {
    it(`a ProcessProtocol that ${fault} is halted; the child runs on and is recorded; a fix resumes it`, async () => {
      const body = fault === "throws" ? `throw new Error("boom in outReceived");` : `for (;;) {}`;
      await save(
        "faulty.ts",
        `import { ProcessProtocol, type Bytes } from "wirescope";
export default class Faulty extends ProcessProtocol {
  override outReceived(data: Bytes): void { if (Buffer.from(data).includes("trigger")) { ${body} } }
}
`,
      );
      const s = ok(await t.api.spawn({ argv: ["cat"], protocol: "faulty.ts" }));
      ok(await t.api.send({ session: s.id, conn: 1, data: "trigger\\n", encoding: "text" }));
      const events = await waitForTimeline(t.api, s.id, halted, "the halt", 15_000);
      const reason = steps(events).find((e) => e.event === "protocol-halted")!.detail;
      expect(reason).toMatch(fault === "throws" ? /boom in outReceived at faulty\.ts:3/ : /infinite loop/);

      // The child is alive and still recorded: what is sent comes back.
      const info = ok(await t.api.listSessions({})).find((x) => x.id === s.id)!;
      expect(info).toMatchObject({ state: "connected", process: { pid: s.process!.pid } });
      expect(info.connections[0]!.protocol).toMatchObject({ state: "halted" });
      ok(await t.api.send({ session: s.id, conn: 1, data: "after\\n", encoding: "text" }));
      await waitForTimeline(t.api, s.id, (e) => fdText(e, 1) === "trigger\nafter\n", "cat's echo after the halt");

      await save(
        "faulty.ts",
        `import { ProcessProtocol, type Bytes } from "wirescope";
export default class Faulty extends ProcessProtocol {
  override outReceived(data: Bytes): void { this.log.info("fixed {text}", { text: Buffer.from(data).toString().trim() }); }
}
`,
      );
      await waitForTimeline(t.api, s.id, (e) => steps(e).some((x) => x.event === "protocol-loaded"), "the resume");
      ok(await t.api.send({ session: s.id, conn: 1, data: "again\\n", encoding: "text" }));
      await waitForTimeline(t.api, s.id, (e) => logs(e).includes("fixed again"), "the fixed code's log");
      ok(await t.api.closeSession({ session: s.id }));
    }, 30_000);
  }

  it("refuses a ProcessProtocol on a TCP connection: halted at attach, with a message saying why", async () => {
    await save(
      "proc.ts",
      `import { ProcessProtocol } from "wirescope";\nexport default class Proc extends ProcessProtocol {}\n`,
    );
    const s = ok(await t.api.listen({ target: { port: 0, interface: "127.0.0.1" }, protocol: "proc.ts" }));
    const port = Number(s.listeningOn!.split(":")[1]);
    const { connect } = await import("node:net");
    const socket = connect({ host: "127.0.0.1", port });
    try {
      const events = await waitForTimeline(t.api, s.id, halted, "the halt");
      expect(steps(events).find((e) => e.event === "protocol-halted")?.detail).toMatch(
        /Proc is a ProcessProtocol: it runs on process sessions only/,
      );
    } finally {
      socket.destroy();
    }
  });

  it("the lsp template decodes a process session running pylsp: each message, responses paired with requests", async () => {
    if (!fs.existsSync("/usr/bin/pylsp")) {
      throw new Error("This test needs pylsp as a real server: apt-get install python3-pylsp (.ci/run does this).");
    }
    const s = ok(await t.api.spawn({ argv: ["/usr/bin/pylsp"], protocol: "template:lsp" }));
    const frame = (message: object): string => {
      const body = Buffer.from(JSON.stringify({ jsonrpc: "2.0", ...message }));
      return Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body]).toString("base64");
    };
    const sendFrame = async (message: object) =>
      ok(await t.api.send({ session: s.id, conn: 1, data: frame(message), encoding: "base64" }));
    await sendFrame({ id: 1, method: "initialize", params: { processId: null, rootUri: null, capabilities: {} } });
    const paired = (id: number, method: string) => (l: string) =>
      l.startsWith(`server response #${id} to ${method} in `);
    await waitForTimeline(t.api, s.id, (e) => logs(e).some(paired(1, "initialize")), "initialize answered", 30_000);
    await sendFrame({ method: "initialized", params: {} });
    await sendFrame({ id: 2, method: "shutdown" });
    await waitForTimeline(t.api, s.id, (e) => logs(e).some(paired(2, "shutdown")), "shutdown answered", 15_000);
    await sendFrame({ method: "exit" });
    const events = await waitForTimeline(t.api, s.id, ended, "pylsp's exit", 15_000);
    expect(logs(events).filter((l) => l.startsWith("client "))).toEqual([
      expect.stringMatching(/^client request #1 initialize \{"processId":null/),
      "client notification initialized {}",
      "client request #2 shutdown ",
      "client notification exit ",
    ]);
    expect(steps(events).find((e) => e.event === "exited")?.detail).toBe("exit code 0");
  }, 60_000);

  it("refuses spawnProcess from a protocol: halted saying so, no child of its own started", async () => {
    await save(
      "spawner.ts",
      `import { ProcessProtocol, reactor } from "wirescope";
export default class Spawner extends ProcessProtocol {
  override connectionMade(): void {
    reactor.spawnProcess(new ProcessProtocol(), "/bin/sh", ["sh", "-c", "echo escaped"]);
  }
}
`,
    );
    const s = ok(await t.api.spawn({ argv: ["cat"], protocol: "spawner.ts" }));
    const events = await waitForTimeline(t.api, s.id, halted, "the halt");
    expect(steps(events).find((e) => e.event === "protocol-halted")?.detail).toMatch(
      /spawning processes from a protocol is not supported in the sandbox/,
    );
    const info = ok(await t.api.listSessions({})).find((x) => x.id === s.id)!;
    expect(
      info.connections.map((c) => c.conn),
      "the session's own child only",
    ).toEqual([1]);
    expect(info).toMatchObject({ state: "connected", process: { pid: s.process!.pid } });
    ok(await t.api.closeSession({ session: s.id }));
  });
});
