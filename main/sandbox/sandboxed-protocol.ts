/**
 * The main-thread half of a sandboxed connection: a protocol the engine gives to a real core transport, which
 * forwards the transport's events to the user's protocol in the worker and applies what that protocol does.
 */
import type { Address } from "../../core/address.ts";
import { CannotStartTLSError } from "../../core/errors.ts";
import {
  isTLSTransport,
  type Bytes,
  type IHalfCloseableProtocol,
  type IPullProducer,
  type IPushProducer,
  type ITLSTransport,
  type ITransport,
} from "../../core/interfaces.ts";
import { Logger } from "../../core/logger.ts";
import type { ProcessExitReason } from "../../core/process.ts";
import type { TLSDetails } from "../../preload/contract.ts";
import { parseTLSRequest, type TLSRequest } from "../tls/tls-request.ts";
import { receivedLogEvent } from "./received-log-event.ts";
import { StreamOffsets } from "./stream-offsets.ts";
import {
  toWireError,
  type ConnectionOp,
  type HandshakeReport,
  type SandboxErrorInfo,
  type SandboxLogEvent,
  type ToWorker,
  type WireAddress,
  type WireExit,
} from "./messages.ts";

const log = new Logger("wirescope.sandbox");

/** The transport of a process session's child, as the engine gives it to a sandboxed protocol. */
export interface ChildTransport extends ITransport {
  /** The child's pid while it runs; null once it exited. */
  readonly pid: number | null;
  /** Sends `signal` ("SIGTERM", "TERM", 15, ...) to the child; throws once it exited or for an unknown name. */
  signalProcess(signal: string | number): void;
}

function isChildTransport(transport: ITransport): transport is ChildTransport {
  return typeof (transport as Partial<ChildTransport>).signalProcess === "function";
}

/** How a child ended, as it crosses threads. */
function toWireExit(reason: ProcessExitReason): WireExit {
  return { exitCode: reason.exitCode, signal: reason.signal };
}

/** Unconsumed bytes in flight to the worker above which the real socket stops being read... */
export const FLOW_HIGH_WATER = 1024 * 1024;
/** ...and below which it is read again. */
export const FLOW_LOW_WATER = 256 * 1024;

/**
 * What the engine hears about one sandboxed connection. Each callback is optional; an exception thrown by one is
 * logged and does not disturb the sandbox.
 */
export interface SandboxEvents {
  /** The protocol logged (its `this.log`, or any logger while its code runs). */
  onLog?(event: SandboxLogEvent): void;
  /** A callback of the protocol threw; `onHalted` follows. */
  onError?(info: SandboxErrorInfo): void;
  /**
   * The protocol gets no more callbacks: it threw (reason "<message> at file:line:col"), looped ("did not return
   * within 2 s — an infinite loop?") or ran out of memory. The socket stays open; bytes that arrive while halted
   * are the engine's to record and never reach the protocol.
   */
  onHalted?(reason: string): void;
  /** The protocol runs again: after a reload of its module (the same instance), or after the worker was
   * restarted (a fresh instance: state is lost with the old worker, and connectionMade runs again). */
  onResumed?(): void;
  /** The protocol's module was hot-reloaded: this connection runs the new code from now on. */
  onReloaded?(): void;
}

/** Which protocol the worker builds for a connection. */
export type AttachTarget =
  | { kind: "module"; moduleKey: string; exportName: string | null }
  /** A connection user code asked for with connectTCP: built by the user's factory. */
  | { kind: "request"; requestId: number };

/** What a SandboxedProtocol needs from its group. Implemented by SandboxGroup. */
export interface SandboxLink {
  /** Queues an operation for the worker. */
  post(op: ToWorker): void;
  /** Queues bytes received on connection `id` for the worker (`fd`: the child fd they came from, on a process). */
  postData(id: number, data: Bytes, fd?: number): void;
  /** The real transport connected `protocol`: attach it in the worker (or halt it if the worker is dead). */
  connectionMade(protocol: SandboxedProtocol): void;
  /** The real connection is gone. */
  connectionGone(protocol: SandboxedProtocol): void;
}

/** An address as it crosses threads. */
export function toWireAddress(address: Address): WireAddress {
  switch (address.family) {
    case "IPv4":
    case "IPv6":
      return { family: address.family, type: address.type, host: address.host, port: address.port };
    case "UNIX":
      return { family: "UNIX", name: address.name };
    case "Process":
      return { family: "Process" };
  }
}

/**
 * A sandboxed connection, main side. Built by `SandboxGroup.attach()` (or `ConnectRequest.accept()`) and given
 * to a real transport as its protocol; the engine owns the transport.
 *
 * Guarantees: bytes and events reach the worker in the order the transport delivered them, and the worker's
 * commands are applied to the transport in the order the user's code issued them. Unlike the core's default, a
 * protocol that throws does not close the socket: it is halted, and the socket stays open. Reading pauses while
 * more than FLOW_HIGH_WATER bytes wait in the worker, so a slow protocol cannot make the main thread buffer
 * without bound.
 */
export class SandboxedProtocol implements IHalfCloseableProtocol {
  /** The real transport, once connected. */
  transport: ITransport | null = null;
  connected = false;
  /** Why the protocol is halted, or null while it runs. */
  haltReason: string | null = null;
  /** True while the current worker has an instance (or a pending attach) for this connection. */
  attached = false;
  /** True once the real connection is gone. */
  closed = false;
  /** The connection's completed TLS handshake, told to every instance the worker builds for it. */
  private handshake: HandshakeReport | null = null;
  /**
   * A startTLS of the protocol was refused here: the connection is being aborted, and nothing the protocol wrote
   * after that call is sent (it meant those bytes for TLS, not for the wire in clear).
   */
  private tlsRefused = false;
  private unacked = 0;
  private flowPaused = false;
  private userPaused = false;
  private readingPaused = false;
  private producer: (IPushProducer & IPullProducer) | null = null;
  /** Where the bytes sent to the worker sit in the connection's streams, for decoded messages' spans. */
  private readonly offsets = new StreamOffsets();
  /** Called once the worker has consumed every byte sent so far (see whenConsumed). */
  private consumedWaiters: (() => void)[] = [];
  /** Called once no worker holds the protocol any more (see whenFinished). */
  private finishedWaiters: (() => void)[] = [];

  constructor(
    private readonly link: SandboxLink,
    /** Unique among the host's connections; names the connection in both threads. */
    readonly id: number,
    readonly target: AttachTarget,
    private readonly events: SandboxEvents,
    /**
     * A tapped proxy leg (AttachOptions.tap): the engine forwards what arrives and gives this protocol a copy to
     * decode; the worker's transport refuses the protocol's writes, and any that reached here would be dropped.
     */
    readonly tap = false,
    /** A proxy leg, tapped or not (AttachOptions.proxyLeg). */
    private readonly proxyLeg = false,
  ) {}

  /** Whether a fresh instance can be built for it after a worker restart (not for factory-built ones). */
  get reattachable(): boolean {
    return this.target.kind === "module";
  }

  /** Called by the real transport once connected: attaches the connection in the worker. */
  makeConnection(transport: ITransport): void {
    this.transport = transport;
    this.connected = true;
    this.link.connectionMade(this);
  }

  /** Called by the real transport with each chunk; forwarded unless the protocol is halted. */
  dataReceived(data: Bytes): void {
    this.received(data);
  }

  /**
   * On a process session (RecordingProcessProtocol calls it): a chunk from the child's fd `childFD`, or, for fd 0,
   * what someone else wrote to its stdin (the send box, the program a wrap relays for). Forwarded unless halted.
   */
  childDataReceived(childFD: number, data: Bytes): void {
    this.received(data, childFD);
  }

  /** On a process session: the pipe to the child's fd `childFD` closed. */
  childConnectionLost(childFD: number): void {
    if (this.attached && this.haltReason === null && !this.closed) {
      this.link.post({ op: "childConnectionLost", id: this.id, fd: childFD });
    }
  }

  /** On a process session: the child exited; its output may still follow. */
  processExited(reason: ProcessExitReason): void {
    if (this.attached && this.haltReason === null && !this.closed) {
      this.link.post({ op: "processExited", id: this.id, exit: toWireExit(reason) });
    }
  }

  /** On a process session: the child ended (every pipe closed), the connection's loss. */
  processEnded(reason: ProcessExitReason): void {
    this.lost(reason, toWireExit(reason));
  }

  private received(data: Bytes, fd?: number): void {
    const sent = this.attached && this.haltReason === null && !this.closed;
    this.offsets.received(data.byteLength, fd, sent);
    if (!sent) return;
    this.link.postData(this.id, data, fd);
    this.unacked += data.byteLength;
    if (!this.flowPaused && this.unacked > FLOW_HIGH_WATER) {
      this.flowPaused = true;
      this.updateReading();
    }
  }

  /** Called by the real transport once, when the connection is gone. */
  connectionLost(reason: Error): void {
    this.lost(reason);
  }

  private lost(reason: Error, exit?: WireExit): void {
    if (this.closed) return;
    this.closed = true;
    this.connected = false;
    if (this.attached) {
      const op: ToWorker = { op: "connectionLost", id: this.id, reason: toWireError(reason) };
      this.link.post(exit === undefined ? op : { ...op, exit });
    }
    this.link.connectionGone(this);
  }

  /** The peer shut its write side. The worker applies the core's rule for protocols that are not half-closeable. */
  readConnectionLost(): void {
    if (this.attached && this.haltReason === null) this.link.post({ op: "readConnectionLost", id: this.id });
  }

  /** Our write side was shut after `loseWriteConnection()`. */
  writeConnectionLost(): void {
    if (this.attached) this.link.post({ op: "writeConnectionLost", id: this.id });
  }

  /**
   * Called by the engine once the connection's TLS handshake completed (after its "tls" event), whoever started
   * it: the protocol's `handshakeCompleted` runs in the worker (later, if it is halted: after the reload that
   * resumes it), and every instance built for the connection from now on learns it is TLS.
   */
  handshakeCompleted(details: TLSDetails): void {
    const report: HandshakeReport = { details, peerCertificate: this.peerCertificate() };
    this.handshake = report;
    if (this.attached && !this.closed) this.link.post({ op: "handshakeCompleted", id: this.id, report });
  }

  /** The real transport's peer certificate, cut to what crosses threads (no issuer chain); null without one. */
  private peerCertificate(): HandshakeReport["peerCertificate"] {
    const t = this.transport as Partial<ITLSTransport> | null;
    const certificate = typeof t?.getPeerCertificate === "function" ? t.getPeerCertificate() : null;
    if (certificate === null) return null;
    const { issuerCertificate: _chain, ...own } = certificate as typeof certificate & { issuerCertificate?: unknown };
    return { ...own };
  }

  /**
   * Calls `callback` once the worker has consumed every byte given to this connection so far — by then what the
   * protocol wrote in those callbacks has been applied, as the worker acknowledges bytes after the operations they
   * caused — or at once if nothing is pending or no worker holds the protocol (halted ones are still acknowledged).
   * A proxy leg uses it to pass a close on only after what its protocol forwards.
   */
  whenConsumed(callback: () => void): void {
    if (this.unacked === 0 || !this.attached) callback();
    else this.consumedWaiters.push(callback);
  }

  /**
   * Calls `callback` once no worker holds the protocol any more: the worker delivered the connection's end (and
   * sent what the protocol logged on it), or it is halted by a dead worker, or was never attached. A process
   * session waits for it before its child counts as ended, so that a capture closed then holds the protocol's last
   * words.
   */
  whenFinished(callback: () => void): void {
    if (!this.attached) callback();
    else this.finishedWaiters.push(callback);
  }

  // ---- called by the group ----

  /** The worker delivered the connection's loss and forgot it. */
  workerClosed(): void {
    this.attached = false;
    this.consumed();
    this.finished();
  }

  /** Asks the worker to build this connection's protocol and connect it. */
  attach(): void {
    const transport = this.transport;
    if (transport === null) return;
    this.attached = true;
    this.offsets.attached();
    const peer = toWireAddress(transport.getPeer());
    const host = toWireAddress(transport.getHost());
    const tls = { capable: isTLSTransport(transport), handshake: this.handshake };
    const target = this.target;
    if (target.kind === "module") {
      const { moduleKey, exportName } = target;
      const pid = isChildTransport(transport) ? transport.pid : null;
      const op: ToWorker = { op: "attach", id: this.id, moduleKey, exportName, peer, host, tls };
      if (pid !== null) op.pid = pid;
      if (this.tap) op.tap = true;
      if (this.proxyLeg) op.leg = true;
      this.link.post(op);
    } else {
      this.link.post({ op: "attachRequested", id: this.id, requestId: target.requestId, peer, host, tls });
    }
  }

  /** After a worker restart: a fresh instance on the new worker (connectionMade runs again), then `onResumed`. */
  reattach(): void {
    this.haltReason = null;
    this.attach();
    this.emit("onResumed");
  }

  /**
   * The worker holding this connection's instance is gone (or never could take it): halt with `reason`. Reading
   * resumes so the engine keeps recording. With `notify` false (the group is disposed) no event fires.
   */
  orphan(reason: string, notify = true): void {
    this.attached = false;
    this.unacked = 0;
    this.flowPaused = false;
    this.userPaused = false;
    this.updateReading();
    if (this.producer !== null) {
      this.producer = null;
      this.transport?.unregisterProducer();
    }
    this.consumed();
    this.finished();
    if (this.closed || this.haltReason === reason) return;
    this.haltReason = reason;
    if (notify) this.emit("onHalted", reason);
  }

  /** Applies one operation of the worker for this connection. `bytes` is the batch's transferred buffer. */
  apply(op: ConnectionOp, bytes: ArrayBuffer | null): void {
    const t = this.transport;
    if (t === null || !this.attached) return;
    switch (op.op) {
      case "write":
        if (bytes !== null && !this.tlsRefused && !this.tap) t.write(Buffer.from(bytes, op.offset, op.length));
        return;
      case "loseConnection":
        t.loseConnection();
        return;
      case "abortConnection":
        t.abortConnection();
        return;
      case "loseWriteConnection":
        t.loseWriteConnection();
        return;
      case "pauseProducing":
        this.userPaused = true;
        this.updateReading();
        return;
      case "resumeProducing":
        this.userPaused = false;
        this.updateReading();
        return;
      case "setTcpNoDelay":
        t.setTcpNoDelay(op.enabled);
        return;
      case "setTcpKeepAlive":
        t.setTcpKeepAlive(op.enabled);
        return;
      case "signalProcess":
        this.signalProcess(t, op.signal);
        return;
      case "registerProducer":
        this.registerProducer(t, op.streaming);
        return;
      case "startTLS":
        this.startTLS(t, op.request);
        return;
      case "unregisterProducer":
        if (this.producer !== null) {
          this.producer = null;
          t.unregisterProducer();
        }
        return;
      case "ack":
        this.unacked = Math.max(0, this.unacked - op.bytes);
        if (this.flowPaused && this.unacked <= FLOW_LOW_WATER) {
          this.flowPaused = false;
          this.updateReading();
        }
        if (this.unacked === 0) this.consumed();
        return;
      case "log":
        if (op.event.message !== undefined) this.offsets.mapMessage(op.event.message);
        this.emit("onLog", receivedLogEvent(op.event));
        return;
      case "halted":
        this.haltReason = op.reason;
        this.userPaused = false;
        this.updateReading();
        this.emit("onError", op.error);
        this.emit("onHalted", op.reason);
        return;
      case "reloaded":
        this.emit("onReloaded");
        return;
      case "resumed":
        this.haltReason = null;
        this.emit("onResumed");
        return;
    }
  }

  /**
   * The user's protocol registered a producer on its BridgeTransport: register a stand-in on the real transport,
   * so the core decides when to pause, resume and stop it (Twisted's rules: paused over 64 KiB, resumed on drain).
   */
  private registerProducer(t: ITransport, streaming: boolean): void {
    const call = (name: "pauseProducing" | "resumeProducing" | "stopProducing") => () => {
      if (this.attached && !this.closed) this.link.post({ op: "producer", id: this.id, call: name });
    };
    const proxy = {
      pauseProducing: call("pauseProducing"),
      resumeProducing: call("resumeProducing"),
      stopProducing: call("stopProducing"),
    };
    try {
      t.registerProducer(proxy, streaming);
      this.producer = proxy;
    } catch (err) {
      log.failure("Could not register the sandboxed protocol's producer", err, { connection: this.id });
    }
  }

  /**
   * The protocol called `startTLS(request)`: its transport turns TLS — the engine's recording wrapper (a direct
   * connection) or a proxy leg's ForwardingTransport (the pair upgrade). The worker already checked what it could
   * (tls-request-check.ts); the request is checked again here against the engine's limits (parseTLSRequest), as it
   * comes from user code. A refusal here comes after the user's call returned, and the protocol may already have
   * written what it meant for TLS: it fails closed. The refusal is reported as an error of the protocol (the
   * timeline's protocol-error), the connection is aborted, and nothing written after the call reaches the peer.
   */
  private startTLS(t: ITransport, request: TLSRequest): void {
    try {
      if (!isTLSTransport(t)) throw new CannotStartTLSError("This connection can't turn TLS.");
      t.startTLS(parseTLSRequest(request));
    } catch (err) {
      const reason = toWireError(err);
      this.tlsRefused = true;
      this.link.post({ op: "startTLSFailed", id: this.id, reason });
      this.emit("onError", {
        callback: "startTLS",
        message: `${reason.name}: ${reason.message} (the connection was aborted: nothing written after startTLS was sent)`,
        stack: reason.stack ?? "",
      });
      t.abortConnection();
    }
  }

  /**
   * The protocol of a process session signalled its child. A refusal (it exited already, an unknown signal) comes
   * after the user's call returned: it is reported as an error of the protocol, without halting it.
   */
  private signalProcess(t: ITransport, signal: string | number): void {
    try {
      if (!isChildTransport(t)) throw new Error("This connection is not a process: it can't be signalled.");
      t.signalProcess(signal);
    } catch (err) {
      const reason = toWireError(err);
      this.emit("onError", { callback: "signalProcess", message: `${reason.name}: ${reason.message}`, stack: "" });
    }
  }

  /** Nothing waits in the worker any more: run what waited for that. */
  private consumed(): void {
    const waiters = this.consumedWaiters;
    this.consumedWaiters = [];
    this.run(waiters);
  }

  /** No worker holds the protocol any more: run what waited for that. */
  private finished(): void {
    const waiters = this.finishedWaiters;
    this.finishedWaiters = [];
    this.run(waiters);
  }

  private run(waiters: (() => void)[]): void {
    for (const waiter of waiters) {
      try {
        waiter();
      } catch (err) {
        log.failure("A callback waiting for a sandboxed connection to consume its bytes threw", err);
      }
    }
  }

  /** Pauses the real socket while the protocol asked for it or the worker lags behind; reads otherwise. */
  private updateReading(): void {
    const t = this.transport;
    const wanted = this.userPaused || this.flowPaused;
    if (t === null || wanted === this.readingPaused) return;
    this.readingPaused = wanted;
    if (wanted) t.pauseProducing();
    else t.resumeProducing();
  }

  private emit<K extends keyof SandboxEvents>(name: K, ...args: Parameters<NonNullable<SandboxEvents[K]>>): void {
    const handler = this.events[name] as ((...a: typeof args) => void) | undefined;
    if (handler === undefined) return;
    try {
      handler.apply(this.events, args);
    } catch (err) {
      log.failure("A sandbox event handler threw ({event})", err, { event: name });
    }
  }

  toString(): string {
    return `<SandboxedProtocol #${this.id}${this.haltReason === null ? "" : " halted"}>`;
  }
}
