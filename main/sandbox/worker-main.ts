/**
 * The sandbox worker's entry point: wires a SandboxRuntime to the worker's port. worker-bundle.ts bundles this file
 * (with the core it imports) into the script every sandbox worker runs.
 *
 * Also here: the heartbeat the host's watchdog listens for, what it reads from a hung worker (UNSENT_GLOBAL), and
 * the last-resort handlers that turn an error thrown outside any callback (a promise, a Node timer started by user
 * code) into a halted connection instead of a dead worker.
 */
import { parentPort, workerData } from "node:worker_threads";
import { UNSENT_GLOBAL, type Batch, type ToWorker } from "./messages.ts";
import { BatchEncoder } from "./wire-batch.ts";
import { SandboxRuntime } from "./runtime.ts";

/** How often the worker tells the host it is alive; the host gives up after HANG_TIMEOUT_MS (host.ts). */
const HEARTBEAT_MS = 200;

const port = parentPort;
if (port === null) throw new Error("worker-main.ts runs only as a sandbox worker");

const options = (workerData ?? {}) as { virtualClock?: boolean };
const encoder = new BatchEncoder();
const runtime = new SandboxRuntime((batch, transfer) => port.postMessage(encoder.encode(batch, transfer), transfer), {
  virtualClock: options.virtualClock === true,
});
port.on("message", (batch: Batch<ToWorker>) => runtime.receive(batch));
Object.defineProperty(globalThis, UNSENT_GLOBAL, {
  value: (maxOps: number, maxBytes: number) => runtime.unsent(maxOps, maxBytes),
});
setInterval(() => runtime.heartbeat(), HEARTBEAT_MS).unref();
process.on("uncaughtException", (err) => runtime.uncaught("uncaught exception", err));
process.on("unhandledRejection", (reason) => runtime.uncaught("unhandled rejection", reason));
runtime.heartbeat();
