/**
 * Replay: one side of a recorded conversation sent again to a real peer, exchange by exchange, and the
 * peer's new answers compared with the recorded ones.
 *
 * An exchange is one turn of each side. Replaying the client side: send the client's bytes of the exchange, then
 * wait for the server's answer. Replaying the server side: wait for the client's bytes of the exchange, then send
 * the server's recorded answer. Waiting ends when as many bytes as the recording's arrived (all that arrived is
 * taken: an answer may be longer), when the peer goes quiet (QUIET_MS after its last byte, or NO_ANSWER_MS with no
 * byte at all), or when it closes. An exchange whose recording expects nothing from the peer does not wait.
 *
 * The replay runs as the protocol of a live "replay" session's connection (ReplayProtocol), so its traffic is
 * recorded like any session's; the session's ReplayDriver holds the report.
 */
import { Protocol } from "../../core/protocol.ts";
import type { Bytes, IDelayedCall, IHalfCloseableProtocol, IReactorTime } from "../../core/interfaces.ts";
import type { BytesWindow, ClientTarget, ListenTarget, ReplayExchange, ReplayReport } from "../../preload/contract.ts";
import { otherSide, type Conversation, type Side } from "../interchange/conversation.ts";
import type { Session } from "./session.ts";
import { BadEndpointError } from "./targets.ts";

/** After the peer's last byte, this much silence ends the wait for its answer. */
export const QUIET_MS = 1000;
/** With no byte at all from the peer, this much silence ends the wait. */
export const NO_ANSWER_MS = 5000;

/** One exchange as the recording has it. */
export interface PlannedExchange {
  /** What we send in this exchange (the replayed side's bytes). */
  sent: Uint8Array<ArrayBuffer>;
  /** What the peer sent in this exchange in the recording. */
  expected: Uint8Array<ArrayBuffer>;
  /** Send first, then wait for the peer (replaying the client side), or the reverse (the server side). */
  sendFirst: boolean;
}

/** Joins chunks into one array. */
function concat(chunks: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  return new Uint8Array(Buffer.concat(chunks));
}

/**
 * The exchanges of `conversation` when replaying `side`: the data events grouped into alternating turns of the two
 * sides, then paired — for the client side (turn of ours, turn of theirs); for the server side (turn of theirs,
 * turn of ours). A conversation that starts with the other order (a server's banner) gets a first exchange with
 * nothing on one side.
 */
export function planExchanges(conversation: Conversation, side: Side): PlannedExchange[] {
  const turns: { from: Side; chunks: Uint8Array[] }[] = [];
  for (const e of conversation.events) {
    if (e.kind !== "data" || e.data.byteLength === 0) continue;
    const last = turns.at(-1);
    if (last !== undefined && last.from === e.from) last.chunks.push(e.data);
    else turns.push({ from: e.from, chunks: [e.data] });
  }
  const first: Side = side === "client" ? side : otherSide(side); // whose turn opens an exchange
  const plan: PlannedExchange[] = [];
  for (let i = 0; i < turns.length;) {
    const opening = turns[i]!.from === first ? turns[i++]!.chunks : [];
    const closing = i < turns.length && turns[i]!.from !== first ? turns[i++]!.chunks : [];
    const ours = side === first ? opening : closing;
    const theirs = side === first ? closing : opening;
    plan.push({ sent: concat(ours), expected: concat(theirs), sendFirst: side === "client" });
  }
  return plan;
}

/** The offset of the first byte that differs, or where the shorter ends; null when the same. */
export function firstDifferingOffset(expected: Uint8Array, actual: Uint8Array): number | null {
  const n = Math.min(expected.byteLength, actual.byteLength);
  for (let i = 0; i < n; i++) if (expected[i] !== actual[i]) return i;
  return expected.byteLength === actual.byteLength ? null : n;
}

/**
 * The most bytes of each of an exchange's sent, recorded and new bytes a report carries: a report is asked for again
 * and again while a replay runs, and it must stay small however much the peer sends.
 */
export const REPORT_BYTES = 64 * 1024;
/** When the first difference lies past the first REPORT_BYTES, how many bytes before it a report's window keeps. */
export const REPORT_CONTEXT_BEFORE = 4 * 1024;

/**
 * The part `[start, end)` of `length` bytes a report carries: all of them up to `limit`; else `limit` bytes from the
 * start, or, when `firstDifference` lies past those, from `context` bytes before it, so the window holds the
 * difference (or the end of the shorter answer). The recorded and new answers get the same start: their windows
 * line up.
 */
export function reportWindow(
  length: number,
  firstDifference: number | null,
  limit = REPORT_BYTES,
  context = REPORT_CONTEXT_BEFORE,
): { start: number; end: number } {
  if (length <= limit) return { start: 0, end: length };
  const start =
    firstDifference === null || firstDifference < limit
      ? 0
      : Math.min(firstDifference - Math.min(context, limit - 1), length);
  return { start, end: Math.min(length, start + limit) };
}

/** `bytes` as a report carries them: whole, or a copy of their window (not a view pinning the whole) and where it lies. */
function carried(
  bytes: Uint8Array<ArrayBuffer>,
  firstDifference: number | null,
): { bytes: Uint8Array<ArrayBuffer>; window?: BytesWindow } {
  const { start, end } = reportWindow(bytes.byteLength, firstDifference);
  if (start === 0 && end === bytes.byteLength) return { bytes };
  return { bytes: bytes.slice(start, end), window: { offset: start, length: bytes.byteLength } };
}

/**
 * The report's entry for exchange `index`: its bytes cut to REPORT_BYTES each (reportWindow), the whole lengths and
 * the windows' offsets in `sentWindow`, `expectedWindow`, `actualWindow` when cut; the verdict and the first
 * difference computed on the whole answers.
 */
export function reportedExchange(
  index: number,
  exchange: PlannedExchange,
  actual: Uint8Array<ArrayBuffer>,
): ReplayExchange {
  const firstDifference = firstDifferingOffset(exchange.expected, actual);
  const sent = carried(exchange.sent, null);
  const expected = carried(exchange.expected, firstDifference);
  const got = carried(actual, firstDifference);
  return {
    index,
    sent: sent.bytes,
    expected: expected.bytes,
    actual: got.bytes,
    same: firstDifference === null,
    firstDifference,
    ...(sent.window ? { sentWindow: sent.window } : {}),
    ...(expected.window ? { expectedWindow: expected.window } : {}),
    ...(got.window ? { actualWindow: got.window } : {}),
  };
}

/** What a ReplayDriver writes through: the live connection's transport. */
interface ReplayTransport {
  write(data: Bytes): void;
  loseConnection(): void;
}

/**
 * Plays one side of a recording on one connection and keeps the report. Created by `startReplay` for a replay
 * session; its ReplayProtocol feeds it the connection's events. Guarantees: exchanges run in order, one at a time;
 * the report only grows; once every exchange ran (or the connection is gone) the state is "done" — or "failed"
 * with the reason when no connection could be made, or the session stopped before any peer connected. Once the
 * peer is gone, nothing more is written.
 */
export class ReplayDriver {
  private state: ReplayReport["state"] = "running";
  private error: string | undefined;
  private readonly done: ReplayExchange[] = [];
  private transport: ReplayTransport | null = null;
  private received: Uint8Array[] = [];
  private receivedBytes = 0;
  /** True while waiting for the peer's part of the current exchange. */
  private waiting = false;
  private timer: IDelayedCall | null = null;
  private peerGone = false;
  /** Whether a connection was taken: a replay plays to one peer. */
  taken = false;

  constructor(
    private readonly plan: readonly PlannedExchange[],
    private readonly clock: IReactorTime,
    /** Close the connection after the last exchange (replaying the client side). */
    private readonly closeWhenDone: boolean,
  ) {}

  /** The report so far; each exchange's bytes cut to REPORT_BYTES (reportedExchange). */
  report(): ReplayReport {
    const same = this.done.filter((e) => e.same).length;
    return {
      state: this.state,
      ...(this.error !== undefined ? { error: this.error } : {}),
      exchanges: [...this.done],
      same,
      differing: this.done.length - same,
    };
  }

  /** Called when no connection could be made (refused, no such host): the replay failed with `reason`. */
  failed(reason: string): void {
    this.state = "failed";
    this.error = reason;
  }

  /**
   * Called when the session stopped (closed, or its listener gone): a replay still waiting for its peer (a
   * server-side replay no client connected to) failed; one that played is unchanged.
   */
  sessionStopped(): void {
    if (this.state === "running" && !this.taken) this.failed("no client connected before the session was closed");
  }

  /** Called by ReplayProtocol once connected: starts the first exchange. */
  connected(transport: ReplayTransport): void {
    this.transport = transport;
    this.step();
  }

  /** Called with each chunk the peer sent. */
  dataReceived(data: Bytes): void {
    this.received.push(new Uint8Array(data));
    this.receivedBytes += data.byteLength;
    if (!this.waiting) return;
    const expected = this.plan[this.done.length]!.expected.byteLength;
    if (this.receivedBytes >= expected) this.answered();
    else this.wait(QUIET_MS);
  }

  /**
   * Called when the peer shut its side or the connection is gone: what is awaited will not come. The exchange in
   * progress is recorded with what arrived (replaying the server side, its answer is still sent while the
   * connection is open: a client that shuts its side after its request still reads the answer); the exchanges
   * after it are recorded as unanswered and nothing more is written.
   */
  peerClosed(): void {
    if (this.peerGone) return;
    this.peerGone = true;
    if (this.waiting) this.answered();
  }

  /** Called when the connection is gone. Exchanges that could not run are reported with no answer. */
  connectionLost(): void {
    this.transport = null;
    this.peerClosed();
    this.timer?.cancel();
    this.timer = null;
    this.waiting = false;
    while (this.done.length < this.plan.length) this.record(new Uint8Array(0));
    if (this.state === "running") this.state = "done";
  }

  /**
   * Runs exchanges from the current one until one has to wait for the peer (or none is left): send, then wait
   * (client side), or wait, then send (server side). Once the peer is gone, each remaining exchange is recorded
   * unanswered without being sent. A loop, not recursion: a long recording ends in constant stack.
   */
  private step(): void {
    for (;;) {
      const exchange = this.plan[this.done.length];
      const transport = this.transport;
      if (transport === null) return;
      if (exchange === undefined) {
        this.state = "done";
        // The client side closes once it has played everything; the server side waits for its client to close.
        if (this.closeWhenDone) transport.loseConnection();
        return;
      }
      if (this.peerGone) {
        this.record(new Uint8Array(0));
        continue;
      }
      if (exchange.sendFirst && exchange.sent.byteLength > 0) transport.write(exchange.sent);
      if (exchange.expected.byteLength > 0 && this.receivedBytes < exchange.expected.byteLength) {
        this.waiting = true;
        this.wait(this.receivedBytes > 0 ? QUIET_MS : NO_ANSWER_MS);
        return;
      }
      this.finish();
    }
  }

  /** (Re)arms the silence timer. */
  private wait(ms: number): void {
    this.timer?.cancel();
    this.timer = this.clock.callLater(ms / 1000, () => {
      this.timer = null;
      if (this.waiting) this.answered();
    });
  }

  /** The peer's part of the current exchange is in (or will not come): finish the exchange, go on. */
  private answered(): void {
    this.finish();
    this.step();
  }

  /** Records the current exchange with what arrived, and sends our part if it follows the peer's. */
  private finish(): void {
    this.waiting = false;
    this.timer?.cancel();
    this.timer = null;
    const actual = concat(this.received);
    this.received = [];
    this.receivedBytes = 0;
    const exchange = this.record(actual);
    if (!exchange.sendFirst && exchange.sent.byteLength > 0) this.transport?.write(exchange.sent);
  }

  private record(actual: Uint8Array<ArrayBuffer>): PlannedExchange {
    const index = this.done.length;
    const exchange = this.plan[index]!;
    this.done.push(reportedExchange(index, exchange, actual));
    return exchange;
  }
}

/**
 * The protocol of a replay session's connection: hands the connection's events to the driver. The first
 * connection plays the replay; any later one (a second client of a server-side replay) is closed at once.
 */
export class ReplayProtocol extends Protocol implements IHalfCloseableProtocol {
  private playing = false;

  constructor(private readonly driver: ReplayDriver) {
    super();
  }

  override connectionMade(): void {
    if (this.driver.taken) {
      this.log.warn("a replay plays to one peer: closing this second connection");
      this.transport.loseConnection();
      return;
    }
    this.driver.taken = true;
    this.playing = true;
    this.driver.connected(this.transport);
  }

  override dataReceived(data: Bytes): void {
    if (this.playing) this.driver.dataReceived(data);
  }

  readConnectionLost(): void {
    if (this.playing) this.driver.peerClosed();
    this.transport.loseConnection();
  }

  writeConnectionLost(): void {}

  override connectionLost(): void {
    if (this.playing) this.driver.connectionLost();
  }
}

const drivers = new WeakMap<Session, ReplayDriver>();

/** Gives `session` (a new "replay" session) the driver of its replay; its connections get ReplayProtocols. */
export function attachReplay(session: Session, driver: ReplayDriver): void {
  drivers.set(session, driver);
  session.setProtocols({ create: () => new ReplayProtocol(driver) });
}

/**
 * The driver of a replay session, or undefined for any other session. A session that stopped (closed, failed)
 * stops its driver here: a replay nobody connected to then reads "failed" rather than "running" for ever.
 */
export function replayOf(session: Session): ReplayDriver | undefined {
  const driver = drivers.get(session);
  if (driver !== undefined && (session.state === "closed" || session.state === "failed")) driver.sessionStopped();
  return driver;
}

/** What the contract's `replay` asks, beside the recording. */
export interface ReplayRequest {
  side: Side;
  target?: ClientTarget | undefined;
  listen?: ListenTarget | undefined;
}

/**
 * Starts replaying `conversation` on `session` (a new "replay" session, raw): connects to `request.target` and
 * plays the client side, or listens on `request.listen` and plays the server side to the first client. A refused
 * or failed connect is not thrown: the report says "failed" with the reason (the session shows it too). Throws
 * what should leave no session behind: a description that does not parse, a port that can't be listened on.
 */
export async function startReplay(
  session: Session,
  conversation: Conversation,
  request: ReplayRequest,
  clock: IReactorTime,
): Promise<ReplayDriver> {
  const driver = new ReplayDriver(planExchanges(conversation, request.side), clock, request.side === "client");
  attachReplay(session, driver);
  if (request.side === "server") {
    await session.startListener(request.listen ?? { port: 0 }, null);
    return driver;
  }
  try {
    await session.startClient(
      request.target ?? { host: conversation.server.host, port: conversation.server.port },
      null,
    );
  } catch (err) {
    if (err instanceof BadEndpointError) throw err;
    driver.failed(session.error ?? (err instanceof Error ? err.message : String(err)));
  }
  return driver;
}
