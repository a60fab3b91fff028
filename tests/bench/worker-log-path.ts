/**
 * `npx tsx tests/bench/worker-log-path.ts`: the sandbox worker's CPU per decoded message, in this process alone —
 * the worker's runtime (main/sandbox/runtime.ts) fed 64 KiB batches of 64-byte lines for a LineReceiver that
 * reports each line with `log.message`, its batches encoded as they cross (wire-batch.ts) and dropped. No thread,
 * no socket, no engine: figures steadier than decoded.ts's per-thread ones on a busy machine, for comparing changes
 * to the worker's side of the log path. Baselines in the same run: `log.info` per line, and no logging.
 */
import { SandboxRuntime } from "../../main/sandbox/runtime.ts";
import { BatchEncoder } from "../../main/sandbox/wire-batch.ts";

const LINES_PER_BATCH = 1024;
const BATCHES = Number(process.env.WORKER_BATCHES ?? 600);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

const perLine = {
  message: `this.log.message("line {n}", { n: this.count });`,
  info: `this.log.info("line {n}", { n: this.count });`,
  none: ``,
};
type Mode = keyof typeof perLine;

function moduleCode(mode: Mode): string {
  return `const { LineReceiver } = require("wirescope");
class Lines extends LineReceiver {
  constructor() { super(); this.count = 0; }
  lineReceived() { this.count += 1; ${perLine[mode]} }
}
module.exports = { default: Lines };`;
}

const address = { family: "IPv4", type: "TCP", host: "127.0.0.1", port: 1 } as const;
const block = Buffer.from(("x".repeat(62) + "\r\n").repeat(LINES_PER_BATCH));

const MODES: Mode[] = ["message", "info", "none"];
const encoder = new BatchEncoder();
let sentBytes = 0;
// One runtime for the process, as a worker has (each adds an observer to the core's log publisher).
const runtime = new SandboxRuntime((batch, transfer) => {
  const wire = encoder.encode(batch, transfer);
  sentBytes += wire.ops.length + (wire.logs?.byteLength ?? 0);
});
MODES.forEach((mode, i) => {
  const moduleKey = `${mode}.js`;
  runtime.receive({
    ops: [{ op: "load", loadId: i + 1, moduleKey, code: moduleCode(mode), sourceMap: null }],
    bytes: null,
  });
  const tls = { capable: false, handshake: null };
  const attach = { op: "attach", id: i + 1, moduleKey, exportName: null, peer: address, host: address, tls } as const;
  runtime.receive({ ops: [attach], bytes: null });
});

/** CPU per line (ns) of BATCHES batches of lines for the connection of `mode`. */
function run(mode: Mode): number {
  const id = MODES.indexOf(mode) + 1;
  const sentBefore = sentBytes;
  const cpu = process.cpuUsage();
  for (let i = 0; i < BATCHES; i++) {
    const bytes = new ArrayBuffer(block.length);
    new Uint8Array(bytes).set(block);
    runtime.receive({ ops: [{ op: "data", id, offset: 0, length: block.length }], bytes });
  }
  const used = process.cpuUsage(cpu);
  if (sentBytes - sentBefore < BATCHES * LINES_PER_BATCH && mode !== "none")
    throw new Error("the runtime sent too little");
  return ((used.user + used.system) * 1000) / (BATCHES * LINES_PER_BATCH);
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
const results: Record<Mode, number[]> = { message: [], info: [], none: [] };
for (let r = 0; r < ROUNDS + 1; r++) {
  for (const mode of MODES) {
    const ns = run(mode);
    if (r > 0) results[mode].push(ns); // the first round warms up
  }
}
console.log(
  `The sandbox worker's side of the log path, in-process (${BATCHES * LINES_PER_BATCH} lines per round, median of ${ROUNDS})`,
);
for (const mode of MODES) {
  console.log(`  ${`log.${mode}`.padEnd(12)} ${median(results[mode]).toFixed(0).padStart(6)} ns CPU per line`);
}
