/**
 * The sandbox runtime: everything the worker does, in one object (worker-main.ts only wires it to the port).
 *
 * It evaluates user modules (protocol-modules.ts), builds protocol instances for the connections main attaches,
 * delivers their events, reports what they do back as operations, and swaps their code on a hot reload (Twisted's
 * rebuild, src/twisted/python/rebuild.py: the instance stays, its prototype is replaced, so its fields survive).
 *
 * Every call into user code goes through `runAs(record, ...)`: it runs inside an AsyncLocalStorage context naming
 * the connection, so that an error — thrown synchronously, or later from a promise or a timer the code started —
 * is reported against that connection and halts it (no more callbacks; the socket stays open on the main thread),
 * and log events without a source still land on the right connection.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { getHeapStatistics } from "node:v8";
import * as core from "../../core/index.ts";
import type { Address } from "../../core/address.ts";
import type { Bytes, IProtocol } from "../../core/interfaces.ts";
import type { ProcessExitReason } from "../../core/process.ts";
import { isHalfCloseable, isHandshakeListener } from "../../core/interfaces.ts";
import { reactorTime } from "../../core/base.ts";
import { globalLogPublisher, type LogEvent } from "../../core/logger.ts";
import { isTapClass } from "../../core/protocols/tap.ts";
import { BridgeReactor, type BridgeConnector, type ReactorHost } from "./bridge-reactor.ts";
import { BridgeProcessTransport } from "./bridge-process-transport.ts";
import { BridgeTransport, type TransportSink } from "./bridge-transport.ts";
import {
  Outbox,
  type Batch,
  type FromWorker,
  type SourceMapInput,
  type ToWorker,
  type HandshakeReport,
  type WireAddress,
  type WireError,
  type WireTLSState,
} from "./messages.ts";
import { exitReason, isProcessProtocol, streamSide, type UserProtocol } from "./process-side.ts";
import { ProtocolModules, swapPrototype, type ModuleRecord, type ProtocolClass } from "./protocol-modules.ts";
import { haltReason, StackMapper } from "./stack-map.ts";
import { VirtualClock } from "./virtual-clock.ts";
import { placedMessage, skippedWhileHalted, tryOr, wireLogEvent } from "./wire-log-event.ts";

/**
 * How often a turn that keeps running posts what it queued (ms): what a worker stopped where the watchdog can't
 * read it (blocked in a native call, or killed by its heap limit) may lose of its last moments.
 */
export const LOG_POST_INTERVAL_MS = 10;

/**
 * The most bytes one dataReceived call is given, as Twisted's TCP transport reads at most 64 KiB per doRead. Main
 * sends a connection's bytes in batches of up to 1 MiB; sliced, one callback's work (and so what the host keeps of
 * an unfinished turn, messages.ts MAX_TURN_OPS) grows with 64 KiB of input, not with a whole batch.
 */
const MAX_DELIVERY = 64 * 1024;

/** Options of a SandboxRuntime, given by worker-main.ts from the worker's `workerData`. */
export interface RuntimeOptions {
  /** Reactor time is virtual (a decode): see virtual-clock.ts. Default false: the wall clock. */
  virtualClock?: boolean;
}

/** One attached connection, as the worker knows it. */
interface WorkerConnection {
  readonly id: number;
  /** The module whose code runs this connection (for hot reload); null if none is known. */
  moduleKey: string | null;
  /** The export main asked for (null: the default one); unused for factory-built protocols. */
  readonly requestedExport: string | null;
  /** The export the protocol class was taken from, once built from a module; null for factory-built protocols. */
  exportName: string | null;
  /** The user's protocol; null until built (a failed build leaves it null until a reload succeeds). */
  protocol: UserProtocol | null;
  readonly transport: BridgeTransport;
  /** No more callbacks until a reload of its module. */
  halted: boolean;
  /** Timed calls that came due while halted: run when a reload un-halts it, so periodic work carries on. */
  parked: (() => void)[];
  closed: boolean;
  /** The connector, for connections opened by user code with connectTCP. */
  connector: BridgeConnector<WorkerConnection> | null;
  /** A proxy leg's forwarding, fixed for its life: "tapped" (main forwards) or "forwarding" (its protocol does). */
  readonly leg: "tapped" | "forwarding" | null;
  /** Bytes this worker got for the connection, by fd (-1 for a socket's). */
  readonly received: Map<number, number>;
  /** `received` when the protocol instance was built: where its framers' offsets start. */
  receivedBefore: ReadonlyMap<number, number>;
}

/** Rebuilds a core Address from its wire form. */
function toAddress(wire: WireAddress): Address {
  switch (wire.family) {
    case "IPv4":
      return new core.IPv4Address(wire.type, wire.host, wire.port);
    case "IPv6":
      return new core.IPv6Address(wire.type, wire.host, wire.port);
    case "UNIX":
      return new core.UNIXAddress(wire.name);
    case "Process":
      return new core.ProcessAddress();
  }
}

/** Rebuilds an error: an instance of the core's class of that name when there is one (ConnectionDone, ...). */
function reviveError(wire: WireError): Error {
  const ctor = (core as Record<string, unknown>)[wire.name];
  const isErrorClass = typeof ctor === "function" && (ctor as { prototype: unknown }).prototype instanceof Error;
  const error = isErrorClass ? (Object.create((ctor as { prototype: Error }).prototype) as Error) : new Error();
  Object.defineProperties(error, {
    message: { value: wire.message, writable: true, configurable: true },
    name: { value: wire.name, writable: true, configurable: true },
    stack: { value: wire.stack ?? `${wire.name}: ${wire.message}`, writable: true, configurable: true },
  });
  if (isErrorClass) Object.defineProperty(error, "code", { value: wire.name, configurable: true });
  return error;
}

/** The sandbox of one group, living in its worker. Created once by worker-main.ts. */
export class SandboxRuntime {
  private readonly modules: ProtocolModules;
  private readonly records = new Map<number, WorkerConnection>();
  private readonly byProtocol = new WeakMap<object, WorkerConnection>();
  private readonly connectors = new Map<number, BridgeConnector<WorkerConnection>>();
  private readonly context = new AsyncLocalStorage<WorkerConnection>();
  private readonly stacks = new StackMapper();
  private readonly outbox: Outbox<FromWorker>;
  private readonly reactor: BridgeReactor<WorkerConnection>;
  /** Bytes of `data` operations consumed per connection in the batch being handled (flow control). */
  private readonly acks = new Map<number, number>();
  private readonly sink: TransportSink = {
    write: (id, data) => this.outbox.pushBytes("write", id, data),
    post: (op) => this.outbox.push(op),
  };
  /** The virtual clock, when the group asked for one; null: reactor time is the wall clock. */
  private readonly clock: VirtualClock | null;
  /** How many `runAs` calls are running (user code may call back into the core, which may call user code). */
  private depth = 0;

  constructor(send: (batch: Batch<FromWorker>, transfer: ArrayBuffer[]) => void, options: RuntimeOptions = {}) {
    this.outbox = new Outbox(send);
    this.clock = options.virtualClock ? new VirtualClock((time) => this.outbox.push({ op: "clock", time })) : null;
    this.clock?.install(reactorTime);
    const host: ReactorHost<WorkerConnection> = {
      currentOwner: () => this.context.getStore() ?? null,
      runAs: (owner, callback, fn) => this.runAs(owner, callback, fn),
      ownerId: (owner) => owner.id,
      post: (op) => this.outbox.push(op),
      pending: (requestId, connector) => this.connectors.set(requestId, connector),
      settled: (requestId) => this.connectors.delete(requestId),
    };
    this.reactor = new BridgeReactor(host);
    this.modules = new ProtocolModules(Object.freeze({ ...core, reactor: this.reactor }), this.stacks, this.context);
    Error.stackTraceLimit = Math.max(Error.stackTraceLimit, 30);
    globalLogPublisher.addObserver((event) => this.logged(event));
    this.ownTimers();
  }

  /**
   * Makes every timed call of the worker's core (`reactor.callLater`, and LoopingCall, TimeoutMixin,
   * ReconnectingClientFactory, which use the core's clock directly) code of the connection that scheduled it: it
   * runs in that connection's context, an error halts that connection, and a call that comes due while the
   * connection is halted waits for the reload that un-halts it. This worker's core is the sandbox's own copy,
   * so the patch touches nothing else.
   */
  private ownTimers(): void {
    const schedule = reactorTime.callLater.bind(reactorTime);
    reactorTime.callLater = <A extends unknown[]>(delay: number, fn: (...args: A) => unknown, ...args: A) => {
      const owner = this.context.getStore() ?? null;
      const call = () => this.runAs(owner, "callLater", () => void fn(...args));
      return schedule(delay, () => {
        if (owner?.halted && !owner.closed) owner.parked.push(call);
        else call();
      });
    };
  }

  /** Handles one batch from the main thread, then sends what it caused as one batch. */
  receive(batch: Batch<ToWorker>): void {
    for (const op of batch.ops) this.handle(op, batch.bytes);
    for (const [id, bytes] of this.acks) this.outbox.push({ op: "ack", id, bytes });
    this.acks.clear();
    this.outbox.flush();
  }

  /**
   * Tells main this thread is alive (called every ~200 ms by worker-main.ts), and how much heap it uses: the
   * watchdog compares it with what a silent worker holds to tell unbounded allocation from a loop.
   */
  heartbeat(): void {
    this.outbox.push({ op: "heartbeat", heapUsed: getHeapStatistics().used_heap_size });
    this.outbox.flush();
  }

  /**
   * What the worker queued and has not sent (Outbox.unsent), for the watchdog to read through the inspector from a
   * worker whose code does not return (worker-main.ts exposes it as UNSENT_GLOBAL).
   */
  unsent(maxOps: number, maxBytes: number): string {
    return this.outbox.unsent(maxOps, maxBytes);
  }

  /**
   * An error no callback caught (a promise, a Node timer started by user code): halts the connection whose code
   * started it, or reports it for the group when no connection is known.
   */
  uncaught(kind: string, err: unknown): void {
    this.halt(this.context.getStore() ?? null, kind, err);
    this.outbox.flush();
  }

  private handle(op: ToWorker, bytes: ArrayBuffer | null): void {
    switch (op.op) {
      case "load":
        this.load(op.loadId, op.moduleKey, op.code, op.sourceMap);
        return;
      case "attach":
        this.attach(op, toAddress(op.peer), toAddress(op.host));
        return;
      case "attachRequested":
        this.attachRequested(op.id, op.requestId, toAddress(op.peer), toAddress(op.host), op.tls);
        return;
      case "connectFailed": {
        const connector = this.connectors.get(op.requestId);
        connector?.connectionFailed(reviveError(op.reason));
        return;
      }
      case "data": {
        this.acks.set(op.id, (this.acks.get(op.id) ?? 0) + op.length);
        const known = this.records.get(op.id);
        known?.received.set(op.fd ?? -1, (known.received.get(op.fd ?? -1) ?? 0) + op.length);
        if (known?.halted && known.protocol !== null) skippedWhileHalted(known, op.fd ?? -1, op.length);
        const record = this.live(op.id);
        if (record === null || record.transport.disconnecting || bytes === null) return;
        this.dataReceived(record, Buffer.from(bytes, op.offset, op.length), op.fd);
        return;
      }
      case "childConnectionLost": {
        const record = this.live(op.id);
        const protocol = record?.protocol;
        if (record && protocol && isProcessProtocol(protocol)) {
          this.runAs(record, "childConnectionLost", () => protocol.childConnectionLost(op.fd));
        }
        return;
      }
      case "processExited":
        this.processExited(op.id, exitReason(op.exit));
        return;
      case "readConnectionLost": {
        const record = this.live(op.id);
        if (record === null) return;
        const protocol = streamSide(record.protocol!);
        if (protocol === null) return;
        if (isHalfCloseable(protocol) && !record.transport.disconnecting) {
          this.runAs(record, "readConnectionLost", () => protocol.readConnectionLost());
        } else {
          record.transport.loseConnection(); // Not half-closeable: the core closes the connection (ConnectionDone).
        }
        return;
      }
      case "writeConnectionLost": {
        const record = this.live(op.id);
        const protocol = record?.protocol ? streamSide(record.protocol) : null;
        if (record && protocol && isHalfCloseable(protocol)) {
          this.runAs(record, "writeConnectionLost", () => protocol.writeConnectionLost());
        }
        return;
      }
      case "connectionLost":
        this.connectionLost(op.id, op.exit ? exitReason(op.exit) : reviveError(op.reason));
        return;
      case "producer": {
        const record = this.live(op.id);
        if (record !== null) this.runAs(record, op.call, () => record.transport.producerCall(op.call));
        return;
      }
      case "handshakeCompleted":
        this.handshakeCompleted(op.id, op.report);
        return;
      case "startTLSFailed":
        this.records.get(op.id)?.transport.startTLSRefused();
        return;
      case "setClock":
        this.clock?.set(op.to);
        return;
      case "advance":
        this.clock?.advanceTo(op.to);
        this.outbox.push({ op: "advanced", advanceId: op.advanceId });
        return;
    }
  }

  /**
   * Bytes for a live connection's protocol: a stream protocol gets them as dataReceived — on a process session only
   * the child's stdout — and a process protocol gets every fd's through childDataReceived.
   */
  private dataReceived(record: WorkerConnection, chunk: Bytes, fd: number | undefined): void {
    for (let at = 0; at < chunk.byteLength; at += MAX_DELIVERY) {
      if (at > 0 && (record.halted || record.closed || record.transport.disconnecting)) {
        // The rest never reaches the protocol, as bytes arriving after a halt don't (see skippedWhileHalted).
        if (record.halted) skippedWhileHalted(record, fd ?? -1, chunk.byteLength - at);
        return;
      }
      const slice = chunk.byteLength <= MAX_DELIVERY ? chunk : chunk.subarray(at, at + MAX_DELIVERY);
      const protocol = record.protocol!;
      if (isProcessProtocol(protocol)) {
        if (fd !== undefined) this.runAs(record, "childDataReceived", () => protocol.childDataReceived(fd, slice));
      } else if (fd === undefined || fd === 1) {
        this.runAs(record, "dataReceived", () => protocol.dataReceived(slice));
      }
    }
  }

  /** A process session's child exited: it can't be signalled any more; a process protocol hears it. */
  private processExited(id: number, reason: ProcessExitReason): void {
    const transport = this.records.get(id)?.transport;
    if (transport instanceof BridgeProcessTransport) transport.exited();
    const record = this.live(id);
    const protocol = record?.protocol;
    if (record && protocol && isProcessProtocol(protocol)) {
      this.runAs(record, "processExited", () => protocol.processExited(reason));
    }
  }

  /** The record of a connection that may get callbacks: built, not halted, not closed. */
  private live(id: number): WorkerConnection | null {
    const record = this.records.get(id);
    if (!record || record.halted || record.closed || record.protocol === null) return null;
    return record;
  }

  /** Runs user code as `owner`'s (see the file's comment). Skipped when the owner is halted. */
  private runAs(owner: WorkerConnection | null, callback: string, fn: () => void): void {
    if (owner?.halted) return;
    const run = () => {
      try {
        fn();
      } catch (err) {
        this.halt(owner, callback, err);
      }
    };
    this.depth++;
    try {
      if (owner === null) this.context.exit(run);
      else this.context.run(owner, run);
    } finally {
      this.depth--;
    }
    // A callback long enough to have posted part of its turn (see `logged`) ends that turn as it returns: the host
    // keeps an unfinished turn's operations until its end (host.ts), so it holds one callback's, not a batch's.
    if (this.depth === 0) this.outbox.endTurn();
  }

  /** Reports an error of user code; halts the connection it belongs to, if any. */
  private halt(record: WorkerConnection | null, callback: string, err: unknown): void {
    const error = this.stacks.describe(callback, err);
    const reason = haltReason(err, error);
    if (record !== null) {
      if (record.halted) return; // Already halted: its callbacks are not running, this is a straggler.
      record.halted = true;
    }
    this.outbox.push({ op: "halted", id: record?.id ?? null, error, reason });
  }

  // ---- modules ----

  /**
   * Evaluates a module. A module that is already loaded is hot-reloaded: live instances of its classes get the new
   * prototypes. A module that fails to evaluate changes nothing: the previous version keeps running.
   */
  private load(loadId: number, moduleKey: string, code: string, sourceMap: SourceMapInput | null): void {
    const evaluated = this.modules.evaluate(moduleKey, code, sourceMap);
    if (!evaluated.ok) {
      this.outbox.push({ op: "loaded", loadId, result: evaluated.result });
      return;
    }
    this.rebuild(evaluated.previous, evaluated.next);
    this.outbox.push({ op: "loaded", loadId, result: this.modules.loaded(evaluated.next) });
  }

  /**
   * Twisted's rebuild for one module: every live instance whose class came from the previous version gets the new
   * class's prototype (matched by export name, else by class name), then its `rebuilt(previousPrototype)` hook
   * if it has one. Halted instances of the module are un-halted; connections whose protocol was never built
   * (the module was missing or threw) get one now.
   */
  private rebuild(previous: ModuleRecord | null, next: ModuleRecord): void {
    for (const record of this.records.values()) {
      if (record.closed || record.moduleKey !== next.key) continue;
      const wasHalted = record.halted;
      const protocol = record.protocol;
      if (protocol === null) {
        if (record.connector !== null) continue; // Built by a user factory that failed: nothing to rebuild from.
        record.halted = false;
        if (this.build(record) && wasHalted) this.outbox.push({ op: "resumed", id: record.id });
        continue;
      }
      const current = swapPrototype(protocol, previous, next, record.exportName, (replacement) => {
        if (record.leg === null || isTapClass(replacement) === (record.leg === "tapped")) return true;
        // Who forwards a proxy leg is fixed when it connects (proxy-leg.ts): a tap left to forward would freeze it.
        const name = (replacement as { name?: string }).name ?? "?";
        const change = record.leg === "tapped" ? "is no longer a Tap" : "became a Tap";
        const why = `${name} ${change} with this reload, and a live proxy leg keeps how it forwards: reconnect`;
        this.halt(record, "rebuild", new Error(`${why} to run the new code (or save it back as it was)`));
        return false;
      });
      if (current === null) continue;
      record.halted = false;
      this.outbox.push({ op: "reloaded", id: record.id });
      const hook = (protocol as { rebuilt?: unknown }).rebuilt;
      if (typeof hook === "function") this.runAs(record, "rebuilt", () => hook.call(protocol, current));
      if (wasHalted && !record.halted) {
        this.outbox.push({ op: "resumed", id: record.id });
        for (const call of record.parked.splice(0)) call();
      }
    }
  }

  // ---- connections ----

  private newRecord(
    id: number,
    moduleKey: string | null,
    requestedExport: string | null,
    peer: Address,
    host: Address,
    tls: WireTLSState,
    pid: number | null = null,
    leg: WorkerConnection["leg"] = null,
  ): WorkerConnection {
    const record: WorkerConnection = {
      id,
      moduleKey,
      requestedExport,
      exportName: null,
      protocol: null,
      transport:
        peer instanceof core.ProcessAddress
          ? new BridgeProcessTransport(id, peer, host, this.sink, tls, pid)
          : new BridgeTransport(id, peer, host, this.sink, tls, leg === "tapped"),
      halted: false,
      parked: [],
      closed: false,
      connector: null,
      leg,
      received: new Map(),
      receivedBefore: new Map(),
    };
    this.records.set(id, record);
    return record;
  }

  /** Main attached a connection to a module's protocol class: build the instance and connect it. */
  private attach(op: ToWorker & { op: "attach" }, peer: Address, host: Address): void {
    const { id, moduleKey, exportName, tls } = op;
    const leg = op.tap === true ? "tapped" : op.leg === true ? "forwarding" : null;
    this.build(this.newRecord(id, moduleKey, exportName, peer, host, tls, op.pid ?? null, leg));
  }

  /** Builds the protocol of `record` from its module and calls makeConnection. Returns false if that failed. */
  private build(record: WorkerConnection): boolean {
    let cls: ProtocolClass;
    try {
      const found = this.modules.protocolClass(record.moduleKey ?? "", record.requestedExport);
      cls = found.cls;
      record.exportName = found.name;
    } catch (err) {
      this.halt(record, "attach", err);
      return false;
    }
    record.receivedBefore = new Map(record.received);
    this.runAs(record, "constructor", () => {
      record.protocol = new cls();
    });
    return this.connect(record);
  }

  /**
   * Calls makeConnection (so connectionMade) on a freshly built protocol; on a connection already TLS (a TLS
   * listener's, or one rebuilt after a worker restart) `handshakeCompleted` follows at once, as the core does for
   * a listenSSL connection.
   */
  private connect(record: WorkerConnection): boolean {
    const protocol = record.protocol;
    if (protocol === null || record.halted) return false;
    this.byProtocol.set(protocol, record);
    const transport = record.transport;
    if (isProcessProtocol(protocol)) {
      if (!(transport instanceof BridgeProcessTransport)) {
        const name = protocol.constructor.name;
        this.halt(record, "attach", new TypeError(`${name} is a ProcessProtocol: it runs on process sessions only`));
        return false;
      }
      this.runAs(record, "connectionMade", () => protocol.makeConnection(transport));
      return !record.halted;
    }
    this.runAs(record, "connectionMade", () => protocol.makeConnection(transport));
    const info = transport.getTLSInfo();
    if (info !== null && isHandshakeListener(protocol)) {
      this.runAs(record, "handshakeCompleted", () => protocol.handshakeCompleted(info));
    }
    return !record.halted;
  }

  /**
   * Main reports the connection's TLS handshake: the transport answers getTLSInfo() from now on, and the protocol's
   * `handshakeCompleted(info)` runs — once a reload resumes it, if it is halted.
   */
  private handshakeCompleted(id: number, report: HandshakeReport): void {
    const record = this.records.get(id);
    if (record === undefined || record.closed) return;
    const info = record.transport.handshakeCompleted(report);
    const protocol = record.protocol === null ? null : streamSide(record.protocol);
    if (info === null || protocol === null || !isHandshakeListener(protocol)) return;
    const call = () => this.runAs(record, "handshakeCompleted", () => protocol.handshakeCompleted(info));
    if (record.halted) record.parked.push(call);
    else call();
  }

  /** Main made the connection user code asked for with connectTCP: build the protocol with the user's factory. */
  private attachRequested(id: number, requestId: number, peer: Address, host: Address, tls: WireTLSState): void {
    const connector = this.connectors.get(requestId);
    const owner = connector?.owner ?? null;
    const record = this.newRecord(id, owner?.moduleKey ?? null, null, peer, host, tls);
    if (!connector) {
      record.transport.loseConnection(); // The attempt was stopped meanwhile.
      return;
    }
    record.connector = connector;
    let built: IProtocol | null = null;
    this.runAs(record, "buildProtocol", () => {
      built = connector.connectionMade(record.transport, peer);
    });
    if (record.halted) return;
    if (built === null) {
      record.transport.loseConnection(); // Twisted: a client factory returning null closes the connection.
      return;
    }
    record.protocol = built;
    this.connect(record);
  }

  private connectionLost(id: number, reason: Error): void {
    const record = this.records.get(id);
    if (!record || record.closed) return;
    record.closed = true;
    this.records.delete(id);
    record.transport.lost();
    const protocol = record.protocol;
    if (protocol !== null && isProcessProtocol(protocol)) {
      // Only a process session's end reaches a process protocol: its reason is a ProcessDone or ProcessTerminated.
      const ended = reason as ProcessExitReason;
      this.runAs(record, "processEnded", () => protocol.processEnded(ended));
    } else if (protocol !== null) {
      this.runAs(record, "connectionLost", () => protocol.connectionLost(reason));
    }
    record.connector?.connectionLost(reason);
    this.outbox.push({ op: "closed", id });
  }

  // ---- logging ----

  /**
   * Routes a log event of the worker's core to the connection it belongs to, rendered and JSON-safe, queued in order
   * with everything else. The code that logged may never return (`while (true) {}`, or allocating until the heap
   * limit): the watchdog reads what is unsent from a hung worker before stopping it (`unsent`), and a log event
   * more than LOG_POST_INTERVAL_MS after the last batch is posted at once (a partial batch, with the writes queued
   * before it, in order), so that a worker stopped where it cannot be examined loses no more of what it logged. A
   * busy protocol's events of a turn cross in one batch, not one postMessage each. As in Twisted, a log event
   * reaches its observers synchronously, while writes wait for control to return.
   */
  private logged(event: LogEvent): void {
    const source = event.log_source;
    const bySource = typeof source === "object" && source !== null ? this.byProtocol.get(source) : undefined;
    const record = bySource ?? this.context.getStore() ?? null;
    const rendered = wireLogEvent(event, this.stacks);
    if (event.log_message !== undefined) {
      // A message whose fields throw as they are read is dropped, the event kept: logging must not throw (above).
      const message = tryOr(
        () => this.messageOf(record, event.log_message),
        () => undefined,
      );
      if (message !== undefined) rendered.message = message;
    }
    this.outbox.push({ op: "log", id: record?.id ?? null, event: rendered });
    this.outbox.flushIfQuietFor(LOG_POST_INTERVAL_MS);
  }

  /**
   * A decoded message's `log_message` as it crosses (wire-log-event.ts), its "in" spans placed among the bytes this
   * worker got for `record`'s connection; a stream protocol run on a process session's child reads its stdout.
   */
  private messageOf(record: WorkerConnection | null, logged: unknown): unknown {
    const protocol = record?.protocol ?? null;
    const onStdout =
      record?.transport instanceof BridgeProcessTransport && protocol !== null && !isProcessProtocol(protocol);
    return placedMessage(logged, record, onStdout);
  }
}
