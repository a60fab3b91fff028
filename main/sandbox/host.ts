/**
 * The main thread's side of one sandbox worker (SandboxGroup): the modules it runs, its connections, the batches it
 * sends and how they are applied, and the watchdog's examination of it when it falls silent. Groups are made and
 * watched by a SandboxHost (sandbox-host.ts), which says how the sandbox is used.
 *
 * A group is one worker_threads Worker with resource limits, watched by the host: a worker that has not been heard
 * from for HANG_TIMEOUT_MS (user code that does not return) is terminated, as is one that runs out of memory (a
 * silent worker whose live heap grew since its last heartbeat is one, whichever of the watchdog and V8's heap limit
 * comes first); every connection of the group is then halted with the reason, its socket left open, and the next
 * successful `load()` starts a new worker, evaluates every module of the group again and re-attaches the halted
 * connections with fresh instances (their state was in the dead worker: connectionMade runs again).
 */
import { Worker } from "node:worker_threads";
import { ConnectError } from "../../core/errors.ts";
import {
  MAX_TURN_BYTES,
  MAX_TURN_OPS,
  Outbox,
  toWireError,
  type Batch,
  type FromWorker,
  type LoadResult,
  type SandboxErrorInfo,
  type SandboxLogEvent,
  type SourceMapInput,
  type ToWorker,
  UNSENT_GLOBAL,
} from "./messages.ts";
import { ateMemory, examineWorker, grown, type WorkerFrame } from "./hang-locator.ts";
import { ConnectRequest, type RequestAnswers } from "./connect-request.ts";
import { receivedLogEvent } from "./received-log-event.ts";
import { SandboxedProtocol, type SandboxEvents, type SandboxLink } from "./sandboxed-protocol.ts";
import { PROTOCOL_URL_PREFIX, StackMapper } from "./stack-map.ts";
import { decodeBatch } from "./wire-batch.ts";
import { WorkerTurn } from "./worker-turn.ts";

/** A worker not heard from for this long is stopped (it heartbeats every 200 ms). Together with the check
 * interval and EXAMINE_TIMEOUT_MS this stops a hang within 2 s of its start. */
export const HANG_TIMEOUT_MS = 1500;

/** The reason connections show after the watchdog stopped their worker. */
export const HANG_REASON = "did not return within 2 s — an infinite loop?";
/** The reason connections show after their worker was stopped for a callback past a turn's bounds (MAX_TURN_OPS). */
export const TURN_BOUND_REASON =
  `logged or wrote more than ${MAX_TURN_OPS.toLocaleString("en-US")} times (or ${MAX_TURN_BYTES / 2 ** 20} MiB) ` +
  "in one callback without returning — an infinite loop?";
/**
 * How long the watchdog waits for what a silent worker is doing (its heap; with GroupOptions.locateHangs, where it
 * spins) before stopping it anyway. A looping worker answers within milliseconds; one filling its heap may not
 * (it is collecting garbage), and V8's heap limit may stop it meanwhile. The watchdog notices a silence at most
 * HANG_TIMEOUT_MS + WATCHDOG_INTERVAL_MS after the worker was last heard from (no later than the hang began), so
 * the examination is over 1.8 s after that at the latest: the rest of the 2 s HANG_REASON promises is for a late
 * watchdog tick on a busy machine and for stopping the worker and halting its connections.
 */
const EXAMINE_TIMEOUT_MS = 200;
/**
 * Bytes of a hung worker's unsent writes the watchdog reads at most: they cross the inspector as base64 in JSON,
 * parsed on the engine's thread, and a worker near its heap limit has no room for a bigger copy.
 */
const MAX_UNSENT_READ_BYTES = 4 * 1024 * 1024;

/** Options of a SandboxHost. */
export interface SandboxHostOptions {
  /** The old generation (heap) limit of each worker, in MB. Default 256. */
  memoryLimitMb?: number;
  /** The young generation limit of each worker, in MB. Default 48. */
  youngGenerationMb?: number;
  /** Stop a worker not heard from for this many ms. Default HANG_TIMEOUT_MS. */
  hangTimeoutMs?: number;
  /** The worker script; default: worker-main.ts bundled at run time (worker-bundle.ts). */
  workerSource?: () => Promise<string>;
}

/** What a group needs from its host (sandbox-host.ts). */
export interface HostServices {
  readonly options: Required<Omit<SandboxHostOptions, "workerSource">>;
  source(): Promise<string>;
  nextConnectionId(): number;
  forget(group: SandboxGroup): void;
}

interface ModuleVersion {
  code: string;
  sourceMap: SourceMapInput | null;
  /** What it exports (names), as its evaluation reported. */
  exports: readonly string[];
  /** Which of them are taps (LoadResult's `taps`). */
  taps: readonly string[];
}

/** Options of `SandboxGroup.attach`. */
export interface AttachOptions {
  /** The module (as given to `load`) whose protocol class runs the connection. */
  moduleKey: string;
  /** The export to instantiate; default: the default export, else the only exported protocol class. */
  exportName?: string;
  /**
   * A proxy leg whose class is a tap (see `runsTap`): the engine forwards its bytes itself, and the protocol's
   * transport refuses writes. Fixed for the connection's life.
   */
  tap?: boolean;
  /** A proxy leg, tapped or not: a reload that changes whether its class is a tap halts it (runtime.ts rebuild). */
  proxyLeg?: boolean;
}

/** Options of `SandboxHost.createGroup`. */
export interface GroupOptions {
  /**
   * Reactor time in the group's worker is virtual (virtual-clock.ts): it moves only with `setClock` and
   * `advanceClock`. For decoding recorded traffic; a live session's group keeps the wall clock (the default).
   */
  virtualClock?: boolean;
  /**
   * When the watchdog stops a hung worker, first find where it spins (hang-locator.ts) and name that source line
   * in the reason ("... an infinite loop? at loop.ts:4:5"): the examination every silent worker gets (at most
   * EXAMINE_TIMEOUT_MS) also reads its stack.
   */
  locateHangs?: boolean;
}

function failure(code: string, message: string): LoadResult {
  return { ok: false, error: { code, message } };
}

/**
 * One sandbox worker and the connections and modules it runs. Created by `SandboxHost.createGroup`; the engine
 * owns it and disposes it with its session.
 */
export class SandboxGroup {
  /**
   * Called when user code asks for a connection (`reactor.connectTCP`). The engine opens the real, recorded
   * connection and calls `request.accept(events)` from its buildProtocol, or `request.fail(reason)`. Without a
   * hook, the attempt fails with a ConnectError saying outgoing connections are not available here.
   */
  onConnectRequest: ((request: ConnectRequest) => void) | null = null;
  /** Log events of no connection (module top-level code, timers scheduled outside any connection). */
  onLog: ((event: SandboxLogEvent) => void) | null = null;
  /** Errors of no connection (module top-level code running later, e.g. a timer it scheduled). */
  onError: ((info: SandboxErrorInfo) => void) | null = null;
  /**
   * Virtual clock only: the worker's clock now reads `seconds`. Called in order with the connections' events, so
   * everything reported after it (logs, writes, errors) happened at that time.
   */
  onClock: ((seconds: number) => void) | null = null;

  private worker: Worker | null = null;
  private generation = 0;
  /** Why the last worker died; null while one runs or before the first. */
  private deathReason: string | null = null;
  private disposed = false;
  /** The last successfully loaded version of each module, evaluated again in a new worker. */
  private readonly modules = new Map<string, ModuleVersion>();
  private readonly connections = new Map<number, SandboxedProtocol>();
  private readonly loads = new Map<number, (result: LoadResult) => void>();
  private readonly requests = new Map<number, ConnectRequest>();
  private readonly advances = new Map<number, (done: boolean) => void>();
  private nextLoadId = 1;
  private nextAdvanceId = 1;
  /** While the watchdog examines a silent worker (hang-locator.ts). */
  private examining = false;
  /** performance.now() when the worker was last heard from: a batch that ends a turn (a partial one does not). */
  private lastHeard = 0;
  /** Partial batches of the worker's current turn, applied with its last batch (see Batch.partial). */
  private readonly turn = new WorkerTurn();
  /** The worker's heap in use (bytes) at its last heartbeat. */
  private lastHeapUsed = 0;
  /**
   * What goes to the worker. At most one batch of bytes is in flight: after posting one, the outbox holds what
   * comes next until the worker's next batch (which acknowledges those bytes) arrives, so that a busy session
   * crosses in few large batches rather than one per event-loop turn. Holding costs no latency to the bytes'
   * peers: what the worker answers is applied in order anyway, and a tap's bytes are forwarded on this thread.
   */
  private readonly outbox = new Outbox<ToWorker>((batch, transfer) => {
    this.worker?.postMessage(batch, transfer);
    if (batch.bytes !== null) this.outbox.setOpen(false);
  });
  /** What the group's SandboxedProtocols call. */
  private readonly link: SandboxLink = {
    post: (op) => this.outbox.push(op),
    postData: (id, data, fd) => this.outbox.pushBytes("data", id, data, fd),
    connectionMade: (protocol) => this.connectionMade(protocol),
    connectionGone: (protocol) => this.connectionGone(protocol),
  };
  private readonly answers: RequestAnswers = {
    accept: (request, events) => this.acceptRequest(request, events),
    fail: (request, reason) => this.failRequest(request, reason),
  };

  constructor(
    private readonly host: HostServices,
    /** A name for logs and the worker's thread name. */
    readonly label: string,
    private readonly options: GroupOptions = {},
  ) {
    this.outbox.setOpen(false);
  }

  /** Whether reactor time in this group's worker is virtual (see GroupOptions). */
  get virtualClock(): boolean {
    return this.options.virtualClock === true;
  }

  /**
   * Virtual clock only: starts a run at `seconds` (pending timed calls of an earlier run are dropped). Queued in
   * order with the connections' events, like every operation. Throws on a group with the wall clock.
   */
  setClock(seconds: number): void {
    this.requireVirtualClock("setClock");
    this.outbox.push({ op: "setClock", to: seconds });
  }

  /**
   * Virtual clock only: moves the worker's clock to `seconds`, running the timed calls due by then, each at its own
   * time (onClock tells each time). Queued in order with the connections' events: bytes given to a connection
   * before this call are delivered before the clock moves. Resolves true once the worker has done it (and
   * everything queued before it: a barrier), false if the worker died first (hung, out of memory, disposed).
   */
  advanceClock(seconds: number): Promise<boolean> {
    this.requireVirtualClock("advanceClock");
    if (this.worker === null) return Promise.resolve(false);
    const advanceId = this.nextAdvanceId++;
    return new Promise((resolve) => {
      this.advances.set(advanceId, resolve);
      this.outbox.push({ op: "advance", advanceId, to: seconds });
    });
  }

  private requireVirtualClock(what: string): void {
    if (!this.virtualClock) throw new Error(`${what}: the sandbox group "${this.label}" runs on the wall clock`);
  }

  /**
   * Evaluates `code` (CommonJS; `require("wirescope")` gives the core with the sandbox's reactor) as module
   * `moduleKey` in the group's worker, starting the worker if there is none.
   *
   * Loading a module that is already loaded is a hot reload: every live instance built from its classes gets the
   * new class's prototype (Twisted's rebuild: fields survive, the new code runs from now on), then its
   * `rebuilt(previousPrototype)` hook if it defines one; halted instances of the module are un-halted. New
   * connections use the newest code. A module that fails to evaluate leaves the old code running and is reported
   * as `{ ok: false, error }`. If the worker had died, the next successful load re-attaches every halted
   * connection with a fresh instance. Resolves after the reload's onReloaded/onResumed events fired.
   */
  async load(moduleKey: string, code: string, sourceMap: SourceMapInput | null = null): Promise<LoadResult> {
    if (this.disposed) return failure("DISPOSED", `The sandbox group "${this.label}" is closed.`);
    if (this.worker === null) {
      let source: string;
      try {
        source = await this.host.source();
      } catch (err) {
        return failure("SANDBOX_UNAVAILABLE", `The sandbox worker could not be built: ${toWireError(err).message}`);
      }
      if (this.disposed) return failure("DISPOSED", `The sandbox group "${this.label}" is closed.`);
      if (this.worker === null) this.startWorker(source);
    }
    const result = await this.send(moduleKey, code, sourceMap);
    if (result.ok) {
      this.modules.set(moduleKey, { code, sourceMap, exports: result.exports, taps: result.taps });
      this.reattachOrphans();
    }
    return result;
  }

  /**
   * Builds the protocol the engine gives to a real transport (from its factory's buildProtocol). When the transport
   * connects it, the worker instantiates the module's protocol class and calls makeConnection. Never throws: a
   * module that is missing or whose class throws shows up as onError/onHalted on `events`.
   */
  attach(options: AttachOptions, events: SandboxEvents = {}): SandboxedProtocol {
    const target = { kind: "module" as const, moduleKey: options.moduleKey, exportName: options.exportName ?? null };
    const { tap = false, proxyLeg = false } = options;
    return new SandboxedProtocol(this.link, this.host.nextConnectionId(), target, events, tap, proxyLeg);
  }

  /**
   * Whether the class module `moduleKey` runs for `exportName` (null: its default) is a tap, as of its last
   * successful load: known before a connection's first byte, so the engine can decide who forwards it.
   */
  runsTap(moduleKey: string, exportName: string | null): boolean {
    return this.modules.get(moduleKey)?.taps.includes(exportName ?? "default") ?? false;
  }

  /** The names module `moduleKey` exported when it last loaded successfully; empty if it never did. */
  exportsOf(moduleKey: string): readonly string[] {
    return this.modules.get(moduleKey)?.exports ?? [];
  }

  /** The connections the group holds (not yet lost). */
  get liveConnections(): readonly SandboxedProtocol[] {
    return [...this.connections.values()].filter((protocol) => !protocol.closed);
  }

  /** Whether a worker is running. */
  get running(): boolean {
    return this.worker !== null;
  }

  /** Why the group's last worker died ("did not return within 2 s — an infinite loop?"); null while one runs. */
  get stoppedBecause(): string | null {
    return this.deathReason;
  }

  /**
   * Stops the worker and forgets the group. Connections are left to the engine, halted without events: their
   * sockets are the engine's to close.
   */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.host.forget(this);
    const worker = this.worker;
    this.stopWorker("The sandbox was closed.", false);
    if (worker) await worker.terminate();
  }

  // ---- connections ----

  private connectionMade(protocol: SandboxedProtocol): void {
    this.connections.set(protocol.id, protocol);
    const target = protocol.target;
    if (target.kind === "request") {
      const request = this.requests.get(target.requestId);
      this.requests.delete(target.requestId);
      if (request === undefined || request.signal.aborted) {
        protocol.transport?.loseConnection(); // User code stopped the attempt meanwhile.
        return;
      }
      if (request.generation !== this.generation || this.worker === null) {
        protocol.orphan(this.deathReason ?? "The sandbox worker that asked for this connection is gone.");
        return;
      }
    }
    if (this.disposed) protocol.orphan("The sandbox was closed.", false);
    else if (this.deathReason !== null) protocol.orphan(this.deathReason);
    else protocol.attach();
  }

  private connectionGone(protocol: SandboxedProtocol): void {
    // An attached connection is forgotten when the worker says it delivered the loss: what its connectionLost
    // reports (an error, a log event) still reaches the engine.
    if (!protocol.attached) this.connections.delete(protocol.id);
  }

  // ---- connect requests ----

  private acceptRequest(request: ConnectRequest, events: SandboxEvents): SandboxedProtocol {
    const target = { kind: "request" as const, requestId: request.requestId };
    return new SandboxedProtocol(this.link, this.host.nextConnectionId(), target, events);
  }

  private failRequest(request: ConnectRequest, reason: Error): void {
    this.requests.delete(request.requestId);
    if (request.generation !== this.generation || this.worker === null) return;
    this.outbox.push({ op: "connectFailed", requestId: request.requestId, reason: toWireError(reason) });
  }

  private connectRequested(op: FromWorker & { op: "connect" }): void {
    const parent = op.parentId === null ? null : (this.connections.get(op.parentId) ?? null);
    const request = new ConnectRequest(
      this.answers,
      op.requestId,
      op.host,
      op.port,
      op.timeout,
      parent,
      this.generation,
    );
    this.requests.set(op.requestId, request);
    const hook = this.onConnectRequest;
    if (hook === null) {
      request.fail(new ConnectError("outgoing connections are not available in this session"));
      return;
    }
    try {
      hook(request);
    } catch (err) {
      request.fail(err instanceof Error ? err : new ConnectError(String(err)));
    }
  }

  // ---- the worker ----

  private startWorker(source: string): void {
    const { memoryLimitMb, youngGenerationMb } = this.host.options;
    const worker = new Worker(source, {
      eval: true,
      name: `wirescope sandbox: ${this.label}`,
      workerData: { virtualClock: this.virtualClock },
      resourceLimits: { maxOldGenerationSizeMb: memoryLimitMb, maxYoungGenerationSizeMb: youngGenerationMb },
    });
    this.worker = worker;
    this.generation += 1;
    this.deathReason = null;
    this.lastHeard = performance.now();
    this.lastHeapUsed = 0;
    worker.on("message", (message: unknown) => {
      const batch = decodeBatch(message);
      if (batch !== null) this.received(worker, batch);
    });
    worker.on("error", (err: Error & { code?: string }) => {
      const reason =
        err.code === "ERR_WORKER_OUT_OF_MEMORY" ? this.outOfMemory() : `the sandbox crashed: ${err.message}`;
      this.died(worker, reason);
    });
    worker.on("exit", (code) => this.died(worker, `the sandbox stopped unexpectedly (exit code ${code})`));
    // A new worker knows nothing: evaluate again what the old one had, before anything else reaches it.
    for (const [moduleKey, version] of this.modules) {
      void this.send(moduleKey, version.code, version.sourceMap).then((result) => {
        if (!result.ok) this.onError?.({ callback: "load", message: result.error.message, stack: "" });
      });
    }
    this.outbox.setOpen(true);
  }

  private send(moduleKey: string, code: string, sourceMap: SourceMapInput | null): Promise<LoadResult> {
    const loadId = this.nextLoadId++;
    return new Promise((resolve) => {
      this.loads.set(loadId, resolve);
      this.outbox.push({ op: "load", loadId, moduleKey, code, sourceMap });
    });
  }

  /** Connections whose instance died with a worker get a fresh one, if their module is loaded. */
  private reattachOrphans(): void {
    for (const protocol of this.connections.values()) {
      const target = protocol.target;
      if (protocol.attached || protocol.closed || target.kind !== "module") continue;
      if (this.modules.has(target.moduleKey)) protocol.reattach();
    }
  }

  private received(worker: Worker, batch: Batch<FromWorker>): void {
    if (worker !== this.worker || this.turn.overflowed) return; // A worker already stopped, or being stopped.
    if (batch.partial) {
      // Not a sign of life: the turn is not over, and a turn that never ends is a hang (it may log forever).
      this.keepPartial(worker, batch);
      return;
    }
    this.lastHeard = performance.now();
    this.applyTurn();
    this.apply(batch);
    if (this.worker === worker) this.outbox.setOpen(true); // The bytes in flight were consumed: send what waits.
  }

  /** Keeps a partial batch until its turn ends; past the turn's bounds, stops the worker as hung instead. */
  private keepPartial(worker: Worker, batch: Batch<FromWorker>): void {
    if (!this.turn.keep(batch) && !this.examining) this.silent(worker);
  }

  /** Applies the partial batches kept so far, in order. */
  private applyTurn(): void {
    for (const partial of this.turn.take()) this.apply(partial);
  }

  private apply(batch: Batch<FromWorker>): void {
    for (const op of batch.ops) {
      switch (op.op) {
        case "heartbeat":
          this.lastHeapUsed = op.heapUsed;
          break;
        case "loaded": {
          const resolve = this.loads.get(op.loadId);
          this.loads.delete(op.loadId);
          resolve?.(op.result);
          break;
        }
        case "connect":
          this.connectRequested(op);
          break;
        case "closed":
          this.connections.get(op.id)?.workerClosed();
          this.connections.delete(op.id);
          break;
        case "cancelConnect": {
          const request = this.requests.get(op.requestId);
          this.requests.delete(op.requestId);
          request?.abort();
          break;
        }
        case "clock":
          this.onClock?.(op.time);
          break;
        case "advanced": {
          const resolve = this.advances.get(op.advanceId);
          this.advances.delete(op.advanceId);
          resolve?.(true);
          break;
        }
        case "log":
          if (op.id === null) this.onLog?.(receivedLogEvent(op.event));
          else this.connections.get(op.id)?.apply(op, batch.bytes);
          break;
        case "halted":
          if (op.id === null) this.onError?.(op.error);
          else this.connections.get(op.id)?.apply(op, batch.bytes);
          break;
        default:
          this.connections.get(op.id)?.apply(op, batch.bytes);
      }
    }
  }

  /**
   * Called by the host's watchdog every tick: stops a worker silent for longer than the hang timeout. `skip`: the
   * main thread itself was blocked, so silence proves nothing this round.
   */
  checkHeartbeat(now: number, skip: boolean): void {
    if (this.worker === null || this.examining) return;
    if (skip) this.lastHeard = now;
    else if (now - this.lastHeard > this.host.options.hangTimeoutMs) this.silent(this.worker);
  }

  /**
   * Stops a silent worker with the cause the evidence shows (hang-locator.ts `ateMemory`): out of memory when its
   * heap grew far beyond its heap at the last heartbeat and a full collection does not bring it back, or it is too
   * busy collecting to answer with its heap near the limit (or V8's heap limit stops it first, reported by the
   * "error" handler); else a hang, with `locateHangs` at the user's source line it spins on. A worker that does not
   * answer in time is taken for hung.
   */
  private silent(worker: Worker): void {
    this.examining = true;
    const locate = this.options.locateHangs === true;
    const baseline = { lastHeapUsed: this.lastHeapUsed, limit: this.host.options.memoryLimitMb * 1024 * 1024 };
    const readBytes = Math.min(MAX_UNSENT_READ_BYTES, this.turn.bytesLeft);
    const read = `${UNSENT_GLOBAL}(${this.turn.opsLeft}, ${readBytes})`;
    const suspect = (bytes: number) => grown(bytes, baseline);
    const options = { locate, suspect, timeoutMs: EXAMINE_TIMEOUT_MS, read };
    void examineWorker(worker.threadId, options).then((found) => {
      this.examining = false;
      // Applied when it is stopped: what its code did before it spun is not lost.
      if (found.read && !this.turn.overflowed && worker === this.worker) this.turn.keepUnsent(found.read);
      const spun = this.turn.overflowed ? TURN_BOUND_REASON : HANG_REASON;
      const reason = ateMemory(found, baseline) ? this.outOfMemory() : spun + this.sourceOf(found.frames ?? []);
      this.died(worker, reason);
    });
  }

  /** The reason of a worker stopped by its heap limit, or by the watchdog on its way there. */
  private outOfMemory(): string {
    return `ran out of memory (${this.host.options.memoryLimitMb} MB limit)`;
  }

  /** " at loop.ts:4:5": the innermost frame of user code among `frames`, mapped to its source; "" if none. */
  private sourceOf(frames: readonly WorkerFrame[]): string {
    for (const frame of frames) {
      if (!frame.url.startsWith(PROTOCOL_URL_PREFIX)) continue;
      const moduleKey = frame.url.slice(PROTOCOL_URL_PREFIX.length).replace(/\?v=\d+$/, "");
      const mapper = new StackMapper();
      const url = mapper.register(moduleKey, this.modules.get(moduleKey)?.sourceMap ?? null);
      const { source } = mapper.mapStack(`    at ${url}:${frame.lineNumber + 1}:${frame.columnNumber + 1}`);
      if (source) return ` at ${source.file}:${source.line}:${source.column}`;
    }
    return "";
  }

  /** The worker died: what its last turn had sent (a write, a log before a hang) is applied, then it is stopped. */
  private died(worker: Worker, reason: string): void {
    if (worker !== this.worker) return;
    void worker.terminate();
    this.applyTurn();
    this.stopWorker(reason, true);
  }

  /** Forgets the worker: pending loads fail, requests abort, every connection is halted with `reason`. */
  private stopWorker(reason: string, notify: boolean): void {
    this.worker = null;
    this.turn.reset();
    this.deathReason = reason;
    this.outbox.clear();
    this.outbox.setOpen(false);
    const loads = [...this.loads.values()];
    this.loads.clear();
    for (const resolve of loads) resolve(failure("SANDBOX_DIED", `The protocol ${reason}`));
    const advances = [...this.advances.values()];
    this.advances.clear();
    for (const resolve of advances) resolve(false);
    for (const request of this.requests.values()) request.abort();
    this.requests.clear();
    for (const protocol of this.connections.values()) {
      protocol.orphan(reason, notify); // A closed one only lets go of what waited for the worker (whenConsumed).
      if (protocol.closed) this.connections.delete(protocol.id);
    }
  }
}
