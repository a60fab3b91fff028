/**
 * Stdio tap figures (not pass/fail): `npx tsx tests/bench/wrap.ts`. What `wirescope wrap` adds to a conversation
 * over a child's pipes: a client writes a 100-byte line to `cat` and waits for it to come back, ROUND_TRIPS times in
 * a row, with cat run directly, through `wirescope wrap`, and through `wirescope wrap --protocol template:lsp` (the
 * sandboxed decoder sees both directions; the lines are not LSP, so it gives up decoding early and what remains is
 * the cost of carrying the bytes to it); then it pipes BULK_BYTES through each. Printed: the round trip's median and
 * 99th percentile, and the bulk throughput, with and without the tap.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const BIN = fileURLToPath(new URL("../../bin/wirescope.js", import.meta.url));
const ROUND_TRIPS = 2000;
const BULK_BYTES = 256 * 1024 * 1024;
const LINE = Buffer.from(`${"x".repeat(99)}\n`);

/** Starts `argv`; resolves once it echoed a first line (so a slow start is not counted as latency). */
async function started(argv: string[], workspace: string) {
  const child = spawn(argv[0]!, argv.slice(1), {
    env: { ...process.env, WIRESCOPE_WORKSPACE: workspace },
    stdio: ["pipe", "pipe", "ignore"],
  });
  let received = 0;
  let waiting: { bytes: number; resolve: () => void } | null = null;
  child.stdout.on("data", (d: Buffer) => {
    received += d.length;
    if (waiting !== null && received >= waiting.bytes) {
      const { resolve } = waiting;
      waiting = null;
      resolve();
    }
  });
  const until = (bytes: number): Promise<void> =>
    received >= bytes ? Promise.resolve() : new Promise((resolve) => (waiting = { bytes, resolve }));
  const closed = new Promise<void>((resolve) => child.on("close", () => resolve()));
  child.stdin.write(LINE);
  await until(LINE.length);
  return { child, until, closed, received: () => received };
}

async function roundTrips(argv: string[], workspace: string): Promise<{ median: number; p99: number }> {
  const { child, until, closed } = await started(argv, workspace);
  const times: number[] = [];
  for (let i = 2; i <= ROUND_TRIPS + 1; i++) {
    const start = process.hrtime.bigint();
    child.stdin.write(LINE);
    await until(i * LINE.length);
    times.push(Number(process.hrtime.bigint() - start) / 1000);
  }
  child.stdin.end();
  await closed;
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)]!, p99: times[Math.floor(times.length * 0.99)]! };
}

async function bulk(argv: string[], workspace: string): Promise<number> {
  const { child, until, closed } = await started(argv, workspace);
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const start = process.hrtime.bigint();
  for (let sent = 0; sent < BULK_BYTES; sent += chunk.length) {
    if (!child.stdin.write(chunk)) await new Promise((resolve) => child.stdin.once("drain", resolve));
  }
  await until(LINE.length + BULK_BYTES);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  child.stdin.end();
  await closed;
  return BULK_BYTES / 2 ** 20 / seconds;
}

const workspace = fs.mkdtempSync(path.join(os.tmpdir(), "wirescope-bench-wrap-"));
try {
  const cat = ["cat"];
  const wrapped = [process.execPath, BIN, "wrap", "--", "cat"];
  const decoded = [process.execPath, BIN, "wrap", "--protocol", "template:lsp", "--", "cat"];
  console.log(`round trip of a ${LINE.length}-byte line through cat, ${ROUND_TRIPS} in a row (µs):`);
  for (const [name, argv] of [
    ["cat directly", cat],
    ["cat through wrap", wrapped],
    ["wrap --protocol", decoded],
  ] as const) {
    const { median, p99 } = await roundTrips([...argv], workspace);
    console.log(`  ${name.padEnd(18)} median ${median.toFixed(0).padStart(6)}   p99 ${p99.toFixed(0).padStart(6)}`);
  }
  console.log(`${BULK_BYTES / 2 ** 20} MiB piped through cat (MiB/s):`);
  for (const [name, argv] of [
    ["cat directly", cat],
    ["cat through wrap", wrapped],
    ["wrap --protocol", decoded],
  ] as const) {
    console.log(`  ${name.padEnd(18)} ${(await bulk([...argv], workspace)).toFixed(0).padStart(6)}`);
  }
} finally {
  fs.rmSync(workspace, { recursive: true, force: true });
}
