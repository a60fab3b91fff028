/**
 * Hot reload under load: a peer streams ~20 MB of lines through a sandboxed line echo while the module is reloaded
 * ten times. Every line must come back once, in order, and the instance's counter must survive every reload.
 */
import * as net from "node:net";
import { afterEach, expect, test } from "vitest";
import { waitFor } from "../../tests/helpers/net.ts";
import { SandboxHost } from "./sandbox-host.ts";
import { compile, serveSandboxed } from "./test-helpers.ts";

const LINE_SIZE = 64;
const TOTAL_LINES = (20 * 1024 * 1024) / LINE_SIZE;
const RELOADS = 10;
const LINES_PER_WRITE = 1024;

let host: SandboxHost;
afterEach(async () => {
  await host.dispose();
});

const echo = (version: number) => `import { LineReceiver } from "wirescope";
const VERSION = ${version};
export default class CountingEcho extends LineReceiver {
  count = 0;
  lineReceived(line: Buffer) {
    if (line.toString() === "COUNT") {
      this.sendLine(Buffer.from("count=" + this.count + " version=" + VERSION));
      return;
    }
    this.count += 1;
    this.sendLine(line);
  }
}`;

/** Line `i` of the stream: a 10-digit sequence number, padding, CRLF; LINE_SIZE bytes in all. */
function line(i: number): string {
  const head = `${String(i).padStart(10, "0")} `;
  return head + "x".repeat(LINE_SIZE - 2 - head.length) + "\r\n";
}

test("reloading 10 times in the middle of 20 MB of traffic loses and duplicates nothing", async () => {
  host = new SandboxHost();
  const group = host.createGroup("traffic");
  const versions = await Promise.all(Array.from({ length: RELOADS + 1 }, (_, i) => compile(echo(i + 1), "echo.ts")));
  const first = await group.load("echo.ts", versions[0]!.code, versions[0]!.sourceMap);
  expect(first.ok).toBe(true);
  const { port, portNumber, recorders } = await serveSandboxed(group, "echo.ts");

  // The peer: checks each echoed line against the one expected next, without keeping the stream.
  let expected = 0;
  let mismatches = 0;
  let tail = "";
  const replies: string[] = [];
  const socket = net.connect({ host: "127.0.0.1", port: portNumber });
  socket.setEncoding("latin1");
  socket.on("data", (text: string) => {
    const parts = (tail + text).split("\r\n");
    tail = parts.pop()!;
    for (const part of parts) {
      if (expected < TOTAL_LINES) {
        if (`${part}\r\n` !== line(expected)) mismatches += 1;
        expected += 1;
      } else {
        replies.push(part);
      }
    }
  });
  await new Promise<void>((resolve) => socket.once("connect", resolve));

  const sending = (async () => {
    for (let i = 0; i < TOTAL_LINES; i += LINES_PER_WRITE) {
      let chunk = "";
      for (let j = i; j < Math.min(i + LINES_PER_WRITE, TOTAL_LINES); j++) chunk += line(j);
      if (!socket.write(chunk, "latin1")) await new Promise((resolve) => socket.once("drain", resolve));
    }
  })();

  // Reload at evenly spaced points of the stream, while it flows.
  const reloadedAt: number[] = [];
  for (let r = 1; r <= RELOADS; r++) {
    await waitFor(() => expected >= (r * TOTAL_LINES) / (RELOADS + 2), `progress before reload ${r}`, 30_000);
    const result = await group.load("echo.ts", versions[r]!.code, versions[r]!.sourceMap);
    expect(result.ok).toBe(true);
    reloadedAt.push(expected);
  }
  await sending;
  await waitFor(() => expected === TOTAL_LINES, "every line back", 30_000);
  socket.write("COUNT\r\n");
  await waitFor(() => replies.length === 1, "the count");
  socket.destroy();
  await port.stopListening();

  expect(mismatches).toBe(0);
  expect(tail).toBe("");
  expect(reloadedAt.every((at) => at < TOTAL_LINES)).toBe(true);
  expect(recorders[0]!.events.reloaded).toBe(RELOADS);
  expect(recorders[0]!.bytesIn).toBe(TOTAL_LINES * LINE_SIZE + 7);
  expect(replies).toEqual([`count=${TOTAL_LINES} version=${RELOADS + 1}`]);
});
