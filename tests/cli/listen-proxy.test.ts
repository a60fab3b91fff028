/**
 * `wirescope listen` and `wirescope proxy` as real processes: they print the bound address first, show the traffic
 * of real clients (node:net, and redis-server behind the proxy), and on SIGINT/SIGTERM close cleanly, flush the
 * capture and say where it is — the capture file then holds the traffic, read back with the capture reader; a
 * second Ctrl+C while the first waits for a connection to close quits at once, and the capture stays readable.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import type { TimelineEvent } from "../../preload/timeline.ts";
import { useRedisForFile } from "../helpers/engine.ts";
import { waitFor } from "../helpers/net.ts";
import { capturePath, jsonLines, readCapture, runCli, startCli, useWorkspace } from "./cli-process.ts";

const redis = useRedisForFile();
const ws = useWorkspace();

/** Connects, writes `data`, half-closes, and resolves with what came back once the other side closed too. */
function exchange(port: number, data: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let received = "";
    const socket = net.connect({ host: "127.0.0.1", port }, () => socket.end(data));
    socket.setTimeout(10_000, () => socket.destroy(new Error("no close within 10 s")));
    socket.on("data", (d) => (received += d.toString()));
    socket.on("error", reject);
    socket.on("close", () => resolve(received));
  });
}

function bytes(events: TimelineEvent[], dir: "in" | "out", conn?: number): string {
  return events
    .flatMap((e) => (e.kind === "data" && e.dir === dir && (conn === undefined || e.conn === conn) ? [e.data] : []))
    .map((d) => Buffer.from(d).toString())
    .join("");
}

describe("wirescope listen", () => {
  it("prints the bound address first, shows a client's bytes, and on SIGINT exits 0 with the capture flushed", async () => {
    const cli = startCli(["listen", "0"], { workspace: ws.path });
    const [first, port] = await cli.waitForOutput(/^listening on 127\.0\.0\.1:(\d+)\n/);
    expect(cli.stdout.startsWith(first)).toBe(true);
    // A raw listener closes after the peer's FIN, as netcat does: the client sees the close.
    await exchange(Number(port), "hello from node\n");
    await cli.waitForOutput(/#1 lost ConnectionDone/);
    const r = await cli.stop("SIGINT");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/#1 <- 16 B {2}hello from node\\n/);
    expect(r.stdout).toMatch(/-- closed session closed/);
    const events = await readCapture(capturePath(r.stderr));
    expect(bytes(events, "in")).toBe("hello from node\n");
    expect(events.some((e) => e.kind === "lifecycle" && e.event === "closed")).toBe(true);
  });

  it("closes a connection still open at Ctrl+C, and exits 0", async () => {
    const cli = startCli(["listen", "127.0.0.1:0", "--json"], { workspace: ws.path });
    const [, port] = await cli.waitForOutput(/"address":"127\.0\.0\.1:(\d+)"/);
    const socket = net.connect({ host: "127.0.0.1", port: Number(port) });
    const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
    socket.on("error", () => {});
    socket.write("still here");
    await cli.waitForOutput(/"dir":"in"/);
    const r = await cli.stop("SIGINT");
    await closed; // the CLI closed our connection on its way out
    expect(r.code, r.stderr).toBe(0);
    const lines = jsonLines(r.stdout);
    expect(lines[0]).toMatchObject({ kind: "listening", backlog: 4096 });
    expect(lines.some((l) => l.kind === "lifecycle" && l.event === "lost" && l.conn === 1)).toBe(true);
    const summary = lines.at(-1)!;
    expect(summary).toMatchObject({ kind: "summary", exitCode: 0 });
    const [session] = summary.sessions as { capture: string }[];
    expect(bytes(await readCapture(session!.capture), "in")).toBe("still here");
  });

  it("on SIGTERM exits 0 like Ctrl+C: the capture flushed, where it is said on stderr only", async () => {
    const cli = startCli(["listen", "0"], { workspace: ws.path });
    const [, port] = await cli.waitForOutput(/^listening on 127\.0\.0\.1:(\d+)\n/);
    await exchange(Number(port), "terminated\n");
    await cli.waitForOutput(/#1 lost ConnectionDone/);
    const r = await cli.stop("SIGTERM");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/^capture: /m);
    const capture = capturePath(r.stderr);
    expect(path.dirname(capture)).toBe(path.join(ws.path, "captures"));
    const events = await readCapture(capture);
    expect(bytes(events, "in")).toBe("terminated\n");
    expect(events.some((e) => e.kind === "lifecycle" && e.event === "closed")).toBe(true);
  });

  it("exits 1 when the port is taken", async () => {
    const first = startCli(["listen", "0"], { workspace: ws.path });
    const [, port] = await first.waitForOutput(/^listening on 127\.0\.0\.1:(\d+)\n/);
    const r = await runCli(["listen", port!], { workspace: ws.path });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/wirescope: Could not listen on tcp:\d+:interface=127\.0\.0\.1/);
    expect((await first.stop("SIGINT")).code).toBe(0);
  });
});

describe("wirescope proxy", () => {
  it("forwards a redis client to redis-server, shows both legs, and exits 0 on SIGTERM", async () => {
    const cli = startCli(["proxy", "0", `127.0.0.1:${redis.port}`], { workspace: ws.path });
    const [, port] = await cli.waitForOutput(/^listening on 127\.0\.0\.1:(\d+)\n/);
    const answer = await exchange(Number(port), "*1\r\n$4\r\nPING\r\n");
    expect(answer).toBe("+PONG\r\n");
    await cli.waitForOutput(/#1 -> 7 B {2}\+PONG\\r\\n/);
    const r = await cli.stop("SIGTERM");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/#1 <- 14 B {2}\*1\\r\\n\$4\\r\\nPING\\r\\n/);
    expect(r.stdout).toMatch(/#2 -> 14 B {2}\*1\\r\\n\$4\\r\\nPING\\r\\n/);
    expect(r.stdout).toMatch(/#2 <- 7 B {2}\+PONG\\r\\n/);
    const events = await readCapture(capturePath(r.stderr));
    expect(bytes(events, "out", 2)).toBe("*1\r\n$4\r\nPING\r\n");
    expect(bytes(events, "in", 2)).toBe("+PONG\r\n");
  });

  it("quits at once with 130 at a second Ctrl+C while the first waits for a stuck upstream to take its bytes", async () => {
    // An upstream that accepts and never reads: at Ctrl+C the proxy's upstream leg can't flush what it holds, so the
    // first Ctrl+C waits (up to 2 s) for it before closing anyway and exiting 0.
    const accepted: net.Socket[] = [];
    const stuck = net.createServer((socket) => accepted.push(socket.pause()));
    await new Promise<void>((resolve) => stuck.listen(0, "127.0.0.1", resolve));
    const upstream = (stuck.address() as net.AddressInfo).port;
    const client = new net.Socket();
    try {
      const cli = startCli(["proxy", "0", `127.0.0.1:${upstream}`], { workspace: ws.path });
      const [, port] = await cli.waitForOutput(/^listening on 127\.0\.0\.1:(\d+)\n/);
      client.on("error", () => {});
      client.connect(Number(port), "127.0.0.1", () => client.write(Buffer.alloc(20 * 1024 * 1024, "a")));
      // Paused once the upstream leg holds more than it can send (a first pause waits for the upstream to connect).
      await cli.waitForOutput(/#1 resumed[\s\S]*#1 paused reading paused \(flow control\)/);
      // What was recorded so far is on disk (the capture thread writes in batches), so the test can't lose the race
      // with the quit that follows.
      const captures = path.join(ws.path, "captures");
      const written = () =>
        fs
          .readdirSync(captures)
          .some((f) => f.endsWith(".wscap") && fs.statSync(path.join(captures, f)).size > 256 * 1024);
      await waitFor(written, "the capture to hold the first bytes on disk");
      cli.child.kill("SIGINT");
      // The first Ctrl+C is being handled (it says so) before the second is sent: two can't merge into one.
      await waitFor(
        () => /^wirescope: SIGINT: stopping \(press Ctrl\+C again to quit at once\)$/m.test(cli.stderr),
        "the first Ctrl+C to be taken",
      );
      const r = await cli.stop("SIGINT");
      expect(r.code, r.stderr).toBe(130);
      // It quit before the end of the run (one Ctrl+C ends it with exit 0 and "capture: <path>" on stderr)...
      expect(r.stderr).not.toMatch(/^capture: /m);
      // ...and what the capture had recorded stays readable.
      const [capture] = fs.readdirSync(captures).filter((f) => f.endsWith(".wscap"));
      const events = await readCapture(path.join(captures, capture!));
      expect(bytes(events, "in", 1).length).toBeGreaterThan(0);
    } finally {
      client.destroy();
      for (const socket of accepted) socket.destroy();
      await new Promise((resolve) => stuck.close(resolve));
    }
  });
});
