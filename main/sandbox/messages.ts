/**
 * What the sandbox's two threads say to each other, and how it travels.
 *
 * Both directions carry batches: every operation queued during one event-loop turn goes in one `postMessage`,
 * in order, with the bytes of all its data/write operations packed into one ArrayBuffer that is transferred (not
 * copied) to the other thread. Adjacent byte operations of the same connection are merged into one, so a protocol
 * echoing thousands of lines in one turn costs the main thread one socket write. The worker's operations cross as
 * one JSON text per batch, not as a structured clone, its log events as binary entries beside it (wire-batch.ts).
 *
 * Imported by both sides (host.ts on the main thread, runtime.ts in the worker); depends on nothing but types.
 */
import type { SourceMapPayload } from "node:module";
import type { PeerCertificate } from "node:tls";
import type { TLSDetails } from "../../preload/contract.ts";
import type { LogLevel } from "../../core/logger.ts";
import type { PayloadBytes } from "../recording/encoded-log-event.ts";
import type { TLSRequest } from "../tls/tls-request.ts";

/**
 * The global through which a worker's unsent operations are read where its code spins: a function of (maxOps,
 * maxBytes) giving Outbox.unsent's JSON. Set by worker-main.ts, called by the host's watchdog through the inspector.
 */
export const UNSENT_GLOBAL = "__wirescopeUnsent";

/** What `UNSENT_GLOBAL` gives: the batch a worker had not sent, its bytes in base64. */
export interface UnsentBatch<Op> {
  ops: Op[];
  bytes: string;
}

/** A connection's address as it crosses threads (the core's Address classes are rebuilt on the other side). */
export type WireAddress =
  | { family: "IPv4" | "IPv6"; type: "TCP" | "UDP"; host: string; port: number }
  | { family: "UNIX"; name: string | null }
  | { family: "Process" };

/** How a child process ended, as it crosses threads (the core's ProcessDone / ProcessTerminated are rebuilt). */
export interface WireExit {
  exitCode: number | null;
  signal: string | null;
}

/** An error as it crosses threads: the core's error classes are found again by `name` on the other side. */
export interface WireError {
  name: string;
  message: string;
  stack?: string;
}

/** Where in the user's source an error happened (1-based line and column). */
export interface SourcePosition {
  file: string;
  line: number;
  column: number;
}

/** An error a protocol threw, as reported to the engine (`SandboxEvents.onError`). */
export interface SandboxErrorInfo {
  /** The callback that threw: "connectionMade", "dataReceived", "callLater", "rebuilt", "load", ... */
  callback: string;
  message: string;
  /** The stack with frames of user code mapped to the user's files and lines. */
  stack: string;
  /** The topmost frame in user code, when there is one. */
  source?: SourcePosition;
}

/**
 * A protocol's log event as the worker queues it, rendered and made JSON-safe (wire-log-event.ts), its fields as JSON
 * text only.
 */
export interface WireLogEvent {
  level: LogLevel;
  namespace: string;
  /** The event's format rendered with its fields (the core's formatEvent). */
  text: string;
  /** The caller's fields as JSON text: bytes as latin1 strings, errors as "Name: message", anything else JSON-safe. */
  fieldsJson: string;
  /** Wall-clock seconds, the core's `log_time`. */
  time: number;
  /**
   * A decoded message (`log.message`): its spans, field spans and pairing as the protocol gave them, made JSON-safe
   * but not checked (main checks them before recording: message-check.ts).
   */
  message?: unknown;
}

/**
 * A protocol's log event as the engine gets it (`SandboxEvents.onLog`): what the worker sent, its text and fields
 * decoded when read, and its capture payload as the worker wrote it (PayloadBytes: wire-log-entries.ts), which the
 * engine records by copying it (main/recording/encoded-log-event.ts).
 */
export interface SandboxLogEvent extends Readonly<WireLogEvent>, PayloadBytes {
  /** The fields, parsed when first read. */
  readonly fields: Record<string, unknown>;
}

/** The result of loading a module into a group (`SandboxGroup.load`). */
export type LoadResult =
  | {
      ok: true;
      exports: string[];
      /**
       * The exports whose class is a tap (core/protocols/tap.ts), and "default" when the class a connection runs
       * without a named export is one: the main thread forwards a tapped proxy leg's bytes itself (proxy-leg.ts).
       */
      taps: string[];
    }
  | { ok: false; error: { code: string; message: string; details?: SandboxErrorInfo } };

/** The source map payload a module is loaded with (esbuild's `sourcemap: "external"` output, parsed). */
export type SourceMapInput = SourceMapPayload;

/** A completed TLS handshake, as the main thread reports it to the worker. */
export interface HandshakeReport {
  /** What the handshake agreed on, as the engine recorded it (the connection's "tls" event). */
  details: TLSDetails;
  /** The peer's certificate as node:tls describes it, without its issuer chain; null when the transport gives none. */
  peerCertificate: PeerCertificate | null;
}

/** What the worker is told of TLS when it attaches a connection. */
export interface WireTLSState {
  /** Whether the connection's transport can turn TLS: `startTLS` on one that can't throws in the worker. */
  capable: boolean;
  /** The handshake that already completed on it (a TLS listener's, or before a worker restart), or null. */
  handshake: HandshakeReport | null;
}

/** Producer calls the real transport makes on the proxy producer main registered for a worker-side producer. */
export type ProducerCall = "pauseProducing" | "resumeProducing" | "stopProducing";

/** Operations from the main thread to the worker. */
export type ToWorker =
  | { op: "load"; loadId: number; moduleKey: string; code: string; sourceMap: SourceMapInput | null }
  | {
      op: "attach";
      id: number;
      moduleKey: string;
      exportName: string | null;
      peer: WireAddress;
      host: WireAddress;
      tls: WireTLSState;
      /** A process session's child: its pid (the peer is then a "Process" address). */
      pid?: number;
      /**
       * A tapped proxy leg: main forwards what arrives before the protocol gets a copy, so its transport refuses
       * `write` and `startTLS` (they throw at the call). Fixed for the connection's life, reloads included.
       */
      tap?: true;
      /** A proxy leg (tapped or not): a reload may not make its class a tap, or no longer one (it is halted). */
      leg?: true;
    }
  | { op: "attachRequested"; id: number; requestId: number; peer: WireAddress; host: WireAddress; tls: WireTLSState }
  | { op: "connectFailed"; requestId: number; reason: WireError }
  /** Bytes received; `fd` on a process session's child: the fd it wrote them to (0: what was written to its stdin). */
  | { op: "data"; id: number; offset: number; length: number; fd?: number }
  /** A process session's child: the pipe to its fd `fd` closed. */
  | { op: "childConnectionLost"; id: number; fd: number }
  /** A process session's child exited (output may follow). */
  | { op: "processExited"; id: number; exit: WireExit }
  | { op: "readConnectionLost"; id: number }
  | { op: "writeConnectionLost"; id: number }
  /** `exit` on a process session's child: it ended so (the protocol's processEnded, or connectionLost). */
  | { op: "connectionLost"; id: number; reason: WireError; exit?: WireExit }
  | { op: "producer"; id: number; call: ProducerCall }
  /** The connection's TLS handshake completed: the protocol's `handshakeCompleted` runs. */
  | { op: "handshakeCompleted"; id: number; report: HandshakeReport }
  /** The real transport refused the protocol's `startTLS` (`reason`): the connection stays plain. */
  | { op: "startTLSFailed"; id: number; reason: WireError }
  /** Virtual clock only (a decode): drop every pending timed call and read `to` seconds from now on. */
  | { op: "setClock"; to: number }
  /** Virtual clock only: move to `to` seconds, running each due call at its own time; answered by `advanced`. */
  | { op: "advance"; advanceId: number; to: number };

/** Operations from the worker to the main thread. */
export type FromWorker =
  /** Alive; `heapUsed`: the worker's V8 heap in use (bytes, garbage included) when it was sent. */
  | { op: "heartbeat"; heapUsed: number }
  | { op: "loaded"; loadId: number; result: LoadResult }
  | { op: "write"; id: number; offset: number; length: number }
  | { op: "loseConnection"; id: number }
  | { op: "abortConnection"; id: number }
  | { op: "loseWriteConnection"; id: number }
  | { op: "pauseProducing"; id: number }
  | { op: "resumeProducing"; id: number }
  | { op: "setTcpNoDelay"; id: number; enabled: boolean }
  /** A process session's protocol signals its child (`transport.signalProcess`). */
  | { op: "signalProcess"; id: number; signal: string | number }
  | { op: "setTcpKeepAlive"; id: number; enabled: boolean }
  | { op: "registerProducer"; id: number; streaming: boolean }
  | { op: "unregisterProducer"; id: number }
  /** Turn the connection TLS here, after the writes queued before it (which go out in clear). */
  | { op: "startTLS"; id: number; request: TLSRequest }
  /** How many bytes of `data` operations of this connection the worker has consumed (flow control). */
  | { op: "ack"; id: number; bytes: number }
  /** `id` null: an event not attributable to a connection (module top-level code). */
  | { op: "log"; id: number | null; event: WireLogEvent }
  /** A callback threw: the connection's protocol gets no more callbacks. `id` null: code of no connection. */
  | { op: "halted"; id: number | null; error: SandboxErrorInfo; reason: string }
  /** The worker has delivered connectionLost and forgotten the connection. */
  | { op: "closed"; id: number }
  | { op: "reloaded"; id: number }
  | { op: "resumed"; id: number }
  | { op: "connect"; requestId: number; host: string; port: number; timeout: number; parentId: number | null }
  | { op: "cancelConnect"; requestId: number }
  /** Virtual clock only: the clock now reads `time` seconds; what follows happened at that time. */
  | { op: "clock"; time: number }
  /** Virtual clock only: the `advance` of that id is done, and so is everything queued before it. */
  | { op: "advanced"; advanceId: number };

/** The worker's operations that concern one connection (SandboxedProtocol.apply). */
export type ConnectionOp = Exclude<
  FromWorker,
  { op: "heartbeat" | "loaded" | "connect" | "cancelConnect" | "closed" | "clock" | "advanced" }
>;

/** One postMessage: operations in order, and the bytes their `offset`/`length` point into. */
export interface Batch<Op> {
  ops: Op[];
  bytes: ArrayBuffer | null;
  /**
   * Sent in the middle of a turn (the worker posts a log event at once, with what was queued before it, in case
   * the code never returns): the receiver keeps it and applies it with the turn's last batch — or when the worker
   * dies — so that a turn's operations are applied together, as they were issued (a write, then `startTLS`).
   */
  partial?: true;
}

/**
 * What one unfinished turn of a worker may send in partial batches (see Batch.partial): operations, and bytes
 * written. The host keeps them until the turn ends; a turn that logs in an endless loop would grow them without
 * limit, so past either bound the worker stops sending (Outbox) and the host stops it as hung, as if it had gone
 * silent. A worker's turn ends with each callback that posted part of it (runtime.ts runAs), and a callback is given
 * at most 64 KiB: a protocol logging every line of 64 KiB of one-byte lines stays within the bound.
 */
export const MAX_TURN_OPS = 100_000;
export const MAX_TURN_BYTES = 64 * 1024 * 1024;

/** The byte-carrying operations of either direction. */
type ByteOp = { op: "data" | "write"; id: number; offset: number; length: number; fd?: number };

/**
 * Collects the operations of one event-loop turn and sends them as one batch.
 *
 * Guarantees: operations arrive in the order they were pushed; bytes pushed with `pushBytes` are copied at once (the
 * caller may reuse its buffer) and arrive as views of one transferred ArrayBuffer; `flush()` is called by itself on
 * the next turn (setImmediate) after the first push, and may be called earlier by the owner. After a partial flush
 * (`flush(true)`, mid-turn), the turn's last flush sends a batch even when nothing else was queued, so that the
 * receiver knows the turn is over.
 */
export class Outbox<Op extends { op: string }> {
  private ops: Op[] = [];
  private chunks: Uint8Array[] = [];
  private size = 0;
  private scheduled = false;
  /** While false, flushes keep the operations (the worker is not there yet). */
  private open = true;
  /** A partial batch was sent this turn: the next flush sends one even if empty. */
  private partialSent = false;
  /** performance.now() when a batch was last sent. */
  private lastSent = 0;
  /** Operations and bytes sent in partial batches of this turn, against MAX_TURN_OPS and MAX_TURN_BYTES. */
  private turnOps = 0;
  private turnBytes = 0;

  constructor(private readonly send: (batch: Batch<Op>, transfer: ArrayBuffer[]) => void) {}

  /**
   * Whether this turn sent more than the host keeps of one (MAX_TURN_OPS, MAX_TURN_BYTES): the host stops the
   * thread, so what it queues until its turn ends is dropped rather than sent — a loop that logs forever would
   * otherwise flood the host with batches it has to read and throw away.
   */
  private get overflowed(): boolean {
    return this.turnOps > MAX_TURN_OPS || this.turnBytes > MAX_TURN_BYTES;
  }

  /** Queues an operation. */
  push(op: Op): void {
    if (this.overflowed) return;
    this.ops.push(op);
    this.schedule();
  }

  /**
   * Queues `data` for connection `id` as a `kind` operation (`fd`: from a child's fd). Adjacent byte operations of
   * the same kind, connection and fd are merged: their bytes are contiguous in the batch.
   */
  pushBytes(kind: "data" | "write", id: number, data: Uint8Array, fd?: number): void {
    if (data.byteLength === 0 || this.overflowed) return;
    // Both directions' Op unions contain their ByteOp; the generic Op cannot say so, hence the casts.
    const last = this.ops[this.ops.length - 1] as unknown as ByteOp | undefined;
    const follows = last !== undefined && last.op === kind && last.id === id && last.fd === fd;
    if (follows && last.offset + last.length === this.size) {
      last.length += data.byteLength;
    } else {
      const op: ByteOp = { op: kind, id, offset: this.size, length: data.byteLength };
      if (fd !== undefined) op.fd = fd;
      this.ops.push(op as unknown as Op);
    }
    this.chunks.push(data);
    this.size += data.byteLength;
    this.schedule();
  }

  /** Whether anything waits to be sent. */
  get pending(): boolean {
    return this.ops.length > 0;
  }

  /**
   * Sends everything queued as one batch (a no-op when empty or held). `partial`: the turn is not over (see
   * Batch.partial); its end flushes again by itself.
   */
  flush(partial = false): void {
    if (!this.open || (this.ops.length === 0 && (partial || !this.partialSent))) return;
    let bytes: ArrayBuffer | null = null;
    if (this.size > 0) {
      const joined = Buffer.allocUnsafeSlow(this.size); // not pooled: its ArrayBuffer is exactly ours to transfer.
      let at = 0;
      for (const chunk of this.chunks) {
        joined.set(chunk, at);
        at += chunk.byteLength;
      }
      bytes = joined.buffer as ArrayBuffer;
    }
    const ops = this.ops;
    this.ops = [];
    this.chunks = [];
    this.size = 0;
    this.partialSent = partial;
    this.lastSent = performance.now();
    this.turnOps = partial ? this.turnOps + ops.length : 0;
    this.turnBytes = partial ? this.turnBytes + (bytes?.byteLength ?? 0) : 0;
    this.send(partial ? { ops, bytes, partial } : { ops, bytes }, bytes ? [bytes] : []);
    if (partial) this.schedule();
  }

  /** Ends a turn that sent a partial batch (see `flush`) now rather than on the next turn; otherwise does nothing. */
  endTurn(): void {
    if (this.partialSent) this.flush();
  }

  /**
   * Sends what is queued as a partial batch (see `flush`) if no batch was sent for `ms` milliseconds: a long turn that
   * calls it reports what it did every `ms` or so, and a busy thread's short turns are not cut into one batch per call.
   */
  flushIfQuietFor(ms: number): void {
    if (performance.now() - this.lastSent >= ms) this.flush(true);
  }

  /**
   * What is queued and not sent, as JSON text `{ ops, bytes }` (`bytes` base64, the offsets of byte operations
   * into it): for a thread whose code never returns, read through the inspector by the watchdog (hang-locator.ts)
   * and applied as its turn's last batch. Only the first operations within `maxOps` and `maxBytes` bytes are
   * given; the rest is dropped, as a turn past its bounds is (host.ts). Final: the watchdog stops the thread after
   * reading, and its code may still run until then, so the queue is emptied and closed here — what was read is never
   * also posted (it would be applied twice).
   */
  unsent(maxOps: number, maxBytes: number): string {
    const ops: Op[] = [];
    let bytes = 0;
    for (const op of this.ops) {
      const length = op.op === "data" || op.op === "write" ? (op as unknown as ByteOp).length : 0;
      if (ops.length >= maxOps || bytes + length > maxBytes) break;
      ops.push(op);
      bytes += length;
    }
    // Only the prefix given is copied (byte operations' offsets are in queue order, so it is the first `bytes`).
    const joined = Buffer.allocUnsafe(bytes);
    let at = 0;
    for (const chunk of this.chunks) {
      if (at >= bytes) break;
      const take = Math.min(chunk.byteLength, bytes - at);
      joined.set(chunk.subarray(0, take), at);
      at += take;
    }
    const batch: UnsentBatch<Op> = { ops, bytes: joined.toString("base64") };
    this.open = false;
    this.ops = [];
    this.chunks = [];
    this.size = 0;
    return JSON.stringify(batch);
  }

  /** Holds (false) or releases (true) the operations; releasing flushes what was held. */
  setOpen(open: boolean): void {
    this.open = open;
    if (open) this.flush();
  }

  /** Drops everything queued (the other side is gone). */
  clear(): void {
    this.partialSent = false;
    this.turnOps = 0;
    this.turnBytes = 0;
    this.ops = [];
    this.chunks = [];
    this.size = 0;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }
}

/** An error as it crosses threads. */
export function toWireError(err: unknown): WireError {
  if (err instanceof Error) {
    const wire: WireError = { name: err.name, message: err.message };
    if (err.stack !== undefined) wire.stack = err.stack;
    return wire;
  }
  return { name: "Error", message: String(err) };
}
