/**
 * `wirescope listen` and `wirescope proxy` as real processes: they print the bound address first, show the traffic
 * of real clients (node:net, and redis-server behind the proxy), and on SIGINT/SIGTERM close cleanly, flush the
 * capture and say where it is — the capture file then holds the traffic, read back with the capture reader.
 */
import * as net from "node:net";
import { describe, expect, it } from "vitest";
import { CaptureReader } from "../../main/recording/capture-file.ts";
import type { TimelineEvent } from "../../preload/timeline.ts";
import { useRedisForFile } from "../helpers/engine.ts";
import { capturePath, jsonLines, runCli, startCli, useWorkspace } from "./cli-process.ts";

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

async function readCapture(file: string): Promise<TimelineEvent[]> {
  const reader = await CaptureReader.open(file);
  try {
    return await reader.read(0, reader.count);
  } finally {
    await reader.close();
  }
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
    expect(lines[0]).toMatchObject({ kind: "listening" });
    expect(lines.some((l) => l.kind === "lifecycle" && l.event === "lost" && l.conn === 1)).toBe(true);
    const summary = lines.at(-1)!;
    expect(summary).toMatchObject({ kind: "summary", exitCode: 0 });
    const [session] = summary.sessions as { capture: string }[];
    expect(bytes(await readCapture(session!.capture), "in")).toBe("still here");
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
});
