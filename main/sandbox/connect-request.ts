/**
 * A connection user code asked for from inside the sandbox, as the engine sees it until it answers.
 */
import type { SandboxEvents, SandboxedProtocol } from "./sandboxed-protocol.ts";

/** How a ConnectRequest answers its group. */
export interface RequestAnswers {
  accept(request: ConnectRequest, events: SandboxEvents): SandboxedProtocol;
  fail(request: ConnectRequest, reason: Error): void;
}

/**
 * A connection user code asked for (`reactor.connectTCP` in a protocol), handed to the engine through
 * `SandboxGroup.onConnectRequest`. The engine answers once: `accept` when its real connection is made, or `fail`.
 */
export class ConnectRequest {
  private readonly controller = new AbortController();
  private answered = false;

  constructor(
    private readonly answers: RequestAnswers,
    /** Names the request between the threads. */
    readonly requestId: number,
    readonly host: string,
    readonly port: number,
    /** Seconds, as given to connectTCP (default 30): the engine applies it to its connect. */
    readonly timeout: number,
    /** The connection whose protocol asked, if any (so the engine can show them together). */
    readonly parent: SandboxedProtocol | null,
    /** The worker generation that asked. */
    readonly generation: number,
  ) {}

  /** Aborted when user code stopped the attempt (`connector.stopConnecting()`) or its worker died. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /**
   * Called by the engine when the real connection is made, from its factory's buildProtocol: returns the protocol
   * for the real transport. The user's factory builds the worker-side protocol when it connects. If the attempt
   * was aborted meanwhile, the returned protocol closes the connection at once.
   */
  accept(events: SandboxEvents = {}): SandboxedProtocol {
    this.answered = true;
    return this.answers.accept(this, events);
  }

  /** Called by the engine when the connection could not be made: the user's factory gets clientConnectionFailed. */
  fail(reason: Error): void {
    if (this.answered) return;
    this.answered = true;
    this.answers.fail(this, reason);
  }

  /** Called by the group when user code stopped the attempt or the worker died. */
  abort(): void {
    this.controller.abort();
  }
}
