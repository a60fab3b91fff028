/**
 * How a batch from the worker crosses to the main thread: its operations as one JSON text beside the transferred
 * bytes, not as a structured clone of many small objects, and its log events as binary entries in a buffer of their
 * own (wire-log-entries.ts), each carrying the head of its capture payload already written. A protocol that logs
 * every message it decodes sends thousands of log events per batch; V8 clones such a graph several times slower than
 * it writes and parses JSON, and the engine records a log entry by copying its bytes, never parsing its text or
 * fields. In the JSON text, a number k stands for the next k log entries, in order with the other operations.
 * Operations from the worker are JSON-safe by design (log fields are made so by jsonSafe, wire-log-event.ts; the
 * watchdog reads a hung worker's queue as JSON too: Outbox.unsent).
 *
 * Imported by worker-main.ts (encode) and host.ts (decode).
 */
import type { Batch, FromWorker } from "./messages.ts";
import { LogEntryWriter, readLogEntry, type LogEntryEvent } from "./wire-log-entries.ts";

/** A batch as it crosses (see the module comment). */
export interface WireBatch {
  ops: string;
  bytes: ArrayBuffer | null;
  /** The batch's log entries, when it has any. */
  logs?: ArrayBuffer;
  partial?: true;
}

type LogOp = Extract<FromWorker, { op: "log" }>;

/** Encodes the worker's batches; one per worker (it keeps the buffer its log entries are written in). */
export class BatchEncoder {
  private readonly logs = new LogEntryWriter();

  /** `batch` as it crosses, and what to transfer with it. Called by the worker for every batch it posts. */
  encode(batch: Batch<FromWorker>, transfer: ArrayBuffer[]): WireBatch {
    const ops: unknown[] = [];
    let run = 0;
    for (const op of batch.ops) {
      if (op.op === "log" && this.logs.add(op.id, op.event)) {
        run += 1;
        continue;
      }
      if (run > 0) ops.push(run);
      run = 0;
      ops.push(op);
    }
    if (run > 0) ops.push(run);
    const wire: WireBatch = { ops: JSON.stringify(ops), bytes: batch.bytes };
    const logs = this.logs.take();
    if (logs !== null) {
      wire.logs = logs;
      transfer.push(logs);
    }
    if (batch.partial) wire.partial = true;
    return wire;
  }
}

/**
 * The batch `message` carries, or null when it is not one (user code may post anything on its worker's port: that
 * is ignored, never thrown on the main thread). The operations themselves are not checked beyond their shape: the
 * host applies what it knows and the engine checks what user code could have put in them (message-check.ts,
 * tls-request.ts). A log entry that can't be read is skipped with those after it, not the batch: its writes and acks
 * are the connection's life.
 */
export function decodeBatch(message: unknown): Batch<FromWorker> | null {
  if (typeof message !== "object" || message === null) return null;
  const { ops, bytes, logs, partial } = message as Partial<Record<keyof WireBatch, unknown>>;
  if (typeof ops !== "string" || !(bytes === null || bytes instanceof ArrayBuffer)) return null;
  if (!(logs === undefined || logs instanceof ArrayBuffer)) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(ops);
  } catch {
    return null;
  }
  if (!Array.isArray(parsed)) return null;
  const entries = logs === undefined ? null : Buffer.from(logs);
  const view = logs === undefined ? null : new DataView(logs);
  let at = 0;
  const entry: { id: number | null; event: LogEntryEvent | null } = { id: null, event: null };
  const decoded: FromWorker[] = [];
  for (const op of parsed as unknown[]) {
    if (typeof op === "number") {
      for (let i = 0; i < op && entries !== null && at >= 0; i++) {
        at = readLogEntry(entries, view!, at, entry);
        if (at >= 0) decoded.push({ op: "log", id: entry.id, event: entry.event! } satisfies LogOp);
      }
    } else if (op !== null && typeof op === "object") {
      decoded.push(op as FromWorker);
    }
  }
  const batch: Batch<FromWorker> = { ops: decoded, bytes };
  if (partial === true) batch.partial = true;
  return batch;
}
