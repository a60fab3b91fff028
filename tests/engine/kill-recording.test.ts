/**
 * kill -9 of a recording engine under load, then the capture reopened: the engine runs a raw listener in a child
 * process (tests/helpers/recording-engine.ts) while clients stream to it; the test kills it by pid with SIGKILL
 * and opens the capture it left with openRecording. The reopened session keeps every record that reached the disk
 * and says where the recording stops (seconds, wall clock) and how many bytes of the file could not be read.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, expect, it } from "vitest";
import { Engine } from "../../main/engine/engine.ts";
import { CaptureReader } from "../../main/recording/capture-reader.ts";
import type { TimelineEvent } from "../../preload/timeline.ts";
import { waitFor } from "./../helpers/net.ts";

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "helpers", "recording-engine.ts");
const STREAMS = 8;
/** The capture must have grown past this before the kill, so that the engine is killed in the middle of work. */
const GROWN_BYTES = 4 * 1024 * 1024;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** What stream `s` sends: numbered lines, so that a prefix of it can be told from garbage. */
function line(s: number, n: number): string {
  return `stream ${s} line ${String(n).padStart(8, "0")} ${"x".repeat(200)}\n`;
}

/** Whether `text` is the start of what stream `s` sends. */
function isPrefixOfStream(s: number, text: string): boolean {
  let expected = "";
  for (let n = 0; expected.length < text.length; n++) expected += line(s, n);
  return expected.startsWith(text);
}

/**
 * A client that writes its numbered lines as fast as the engine takes them (a batch per turn of the loop, waiting
 * for "drain" when the socket is full), until `stop()`.
 */
function stream(port: number, s: number): { stop: () => void } {
  const socket = net.connect({ host: "127.0.0.1", port });
  let n = 0;
  let stopped = false;
  const pump = (): void => {
    if (stopped) return;
    for (let i = 0; i < 256; i++) {
      if (!socket.write(line(s, n++))) return void socket.once("drain", pump);
    }
    setImmediate(pump);
  };
  socket.on("connect", pump);
  socket.on("error", () => {}); // the engine is killed under it: the reset is expected
  return {
    stop: () => {
      stopped = true;
      socket.destroy();
    },
  };
}

it(
  "a capture left by kill -9 under load reopens with its loss reported in seconds and bytes",
  { timeout: 120_000 },
  async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wirescope-kill-"));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const child = spawn(process.execPath, ["--import", "tsx", CHILD, path.join(dir, "killed")], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.once("exit", (_code, signal) => resolve(signal)),
    );
    cleanups.push(() => (child.exitCode === null && child.signalCode === null ? child.kill("SIGKILL") : undefined));
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    await waitFor(() => stdout.includes("\n") || child.exitCode !== null, "the engine to listen", 60_000);
    expect(stdout, stderr).toMatch(/^\{.*\}\n/);
    const { port, capture } = JSON.parse(stdout) as { port: number; capture: string };

    const streams = Array.from({ length: STREAMS }, (_, s) => stream(port, s));
    cleanups.push(() => streams.forEach((s) => s.stop()));
    await waitFor(
      () => fs.existsSync(capture) && fs.statSync(capture).size > GROWN_BYTES,
      `the capture to grow past ${GROWN_BYTES} bytes`,
      60_000,
    );
    process.kill(child.pid!, "SIGKILL");
    expect(await exited).toBe("SIGKILL");
    for (const s of streams) s.stop();

    // What the file holds, read independently of the engine: where its last record is, and what can't be read.
    const reader = await CaptureReader.open(capture);
    const { firstT, lastT, count } = reader.summary;
    const lostBytes = reader.lostBytes;
    await reader.close();
    expect(count).toBeGreaterThan(0);

    const workspace = path.join(dir, "reopened");
    const engine = await Engine.open({ workspaceRoot: workspace });
    cleanups.push(() => engine.close());
    const info = await engine.openRecording({ path: capture });
    const stops = `The recording stops at ${((lastT! - firstT!) / 1e6).toFixed(6)} s`;
    expect(info.error).toContain(stops);
    expect(info.error).toContain("without its session's close");
    if (lostBytes > 0) expect(info.error).toContain(`; ${lostBytes} bytes at the end of the file could not be read`);
    else expect(info.error).not.toContain("could not be read");

    // The note is on the reopened timeline, last, at the last recorded time; before it, every client's bytes are a
    // prefix of what it sent (the tail that never reached the disk is what was lost, nothing is garbled).
    const { total } = await engine.readTimeline({ session: info.id, from: 0, count: 0 });
    const events: TimelineEvent[] = [];
    while (events.length < total) {
      events.push(...(await engine.readTimeline({ session: info.id, from: events.length, count: 10_000 })).events);
    }
    expect(events.at(-1)).toMatchObject({ kind: "lifecycle", conn: 0, event: "error", detail: info.error, t: lastT });
    const received = new Map<number, string>();
    for (const e of events) {
      if (e.kind === "data") received.set(e.conn, (received.get(e.conn) ?? "") + Buffer.from(e.data).toString());
    }
    expect(received.size).toBe(STREAMS);
    for (const text of received.values()) {
      expect(isPrefixOfStream(Number(/^stream (\d+) /.exec(text)?.[1]), text)).toBe(true);
    }
  },
);
