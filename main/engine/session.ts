/**
 * Sessions: what the user opened — a client connection to a server, a listener accepting many connections, or a
 * proxy sitting between a client and an upstream. Each session owns one timeline and numbers its connections from 1.
 *
 * A session builds its connections through the core (endpoints, reactor, transports) and wraps each in a
 * RecordingProtocol; the protocol inside comes from a ProtocolProvider (raw bytes, or a sandboxed user protocol).
 */
import {
  clientFromString,
  EndpointParseError,
  Protocol,
  serverFromString,
  TCP4ClientEndpoint,
  TwistedError,
  type Bytes,
  type IHalfCloseableProtocol,
  type IListeningPort,
  type IProtocol,
  type IProtocolFactory,
  type IReactorNet,
} from "../../core/index.ts";
import type { ClientTarget, ListenTarget, SessionInfo, SessionTLS } from "../../preload/contract.ts";
import { isErrorCode } from "../../preload/errors.ts";
import { MAX_LISTED_CONNECTIONS, MAX_REASON_LENGTH, shorten } from "../../preload/limits.ts";
import type { LifecycleEvent, Leg } from "../../preload/timeline.ts";
import type { ConnectRequest } from "../sandbox/connect-request.ts";
import type { SandboxEvents } from "../sandbox/sandboxed-protocol.ts";
import { ConnectionClosedError, EngineError, OfflineSessionError, UnknownConnectionError } from "./errors.ts";
import { engineTimeOrigin as epochMs, monotonicMicros as nowMicros } from "../recording/recorder.ts";
import {
  ConnectionRecord,
  describeReason,
  RecordingFactory,
  type RecordingProtocol,
  type TimelineSink,
} from "./recording-protocol.ts";
import { ProxyLeg, type PairTLS } from "./proxy-leg.ts";
import {
  BadEndpointError,
  clientDescription,
  formatAddress,
  hostName,
  plainUpstream,
  serverDescription,
} from "./targets.ts";
import { upgradePair } from "./tls-pair.ts";
import { NO_SERVER_TLS, type SessionTLSContext } from "./tls-stage.ts";

/** Raw bytes: no protocol. Half-closeable, so that the peer's FIN leaves the connection open for the user to close. */
export class RawProtocol extends Protocol implements IHalfCloseableProtocol {
  readConnectionLost(): void {}
  writeConnectionLost(): void {}
}

/**
 * Where a connection's protocol comes from. `protocol` is what the session was asked to run (a workspace file, or
 * null for raw bytes). The provider may set `connection.protocol` to show its state.
 */
export interface ProtocolProvider {
  create(protocol: string | null, session: Session, connection: ConnectionRecord): IProtocol;
}

/** The provider of raw sessions. */
export const rawProtocols: ProtocolProvider = { create: () => new RawProtocol() };

export type SessionKind = SessionInfo["kind"];

export interface SessionOptions {
  id: string;
  kind: SessionKind;
  name: string;
  reactor: IReactorNet;
  timeline: TimelineSink & { readonly count: number };
  protocols: ProtocolProvider;
  /** Called whenever something the session list shows changed (batched by the engine). */
  changed: () => void;
  /** For imported, decode and replay sessions: where the traffic came from. */
  source?: string;
  /** Wall-clock ms at timeline time 0 when it is not the engine's start (an imported capture's own epoch). */
  epochMs?: number;
  /** What an offline session shows as its target (the recorded server, the capture file); live ones set their own. */
  target?: string;
  /** The protocol file an offline session was decoded with. */
  protocol?: string;
  /** For a session reopened from a capture: the kind of the session that recorded it (SessionInfo.recordedKind). */
  recordedKind?: SessionKind;
  /** TLS for connections that turn TLS without settings of the session's own (session-tls.ts's default). */
  tls?: SessionTLSContext;
}

/** A listener's or proxy's TLS settings, made by session-tls.ts: its context, and what the session list shows. */
export interface SessionTLSSettings {
  context: SessionTLSContext;
  shown: SessionTLS;
}

/** Turns a failure of the core into a sentence: "ConnectionRefusedError: Connection was refused by other side: ...". */
function reasonText(err: unknown): string {
  return err instanceof Error ? describeReason(err) : shorten(String(err), MAX_REASON_LENGTH);
}

/**
 * The connections a SessionInfo lists, in order of their numbers: all of them up to MAX_LISTED_CONNECTIONS; past
 * it, the newest open ones and then the newest closed ones, so that a listener that served thousands of clients
 * still fits in every session list sent to every client.
 */
function listedConnections(records: ConnectionRecord[]): ConnectionRecord[] {
  if (records.length <= MAX_LISTED_CONNECTIONS) return records;
  const open = records.filter((r) => r.state !== "closed").slice(-MAX_LISTED_CONNECTIONS);
  const room = MAX_LISTED_CONNECTIONS - open.length;
  const closed = room === 0 ? [] : records.filter((r) => r.state === "closed").slice(-room);
  return [...open, ...closed].sort((a, b) => a.conn - b.conn);
}

/**
 * One session. Created by the engine's session registry, then started with `startClient`, `startListener` or
 * `startProxy` (an offline session — imported, decode — is born closed and never started). The session alone moves
 * its own state; every method that fails throws an EngineError with a code and a sentence.
 */
export class Session {
  readonly id: string;
  readonly kind: SessionKind;
  name: string;
  target: string;
  upstream: string | undefined;
  protocol: string | null;
  /** For a session reopened from a capture: the kind of the session that recorded it. */
  readonly recordedKind: SessionKind | undefined;
  serverProtocol: string | null = null;
  listeningOn: string | undefined;
  /** For listeners and proxies: the listen backlog asked of the kernel (see targets.ts's LISTEN_BACKLOG). */
  backlog: number | undefined;
  #state: SessionInfo["state"];
  #error: string | undefined;
  readonly #source: string | undefined;
  readonly #epochMs: number;
  readonly connections = new Map<number, ConnectionRecord>();
  private nextConn = 1;
  private port: IListeningPort | null = null;
  private clientDescription: string | null = null;
  private upstreamDescription: string | null = null;
  private readonly reactor: IReactorNet;
  readonly timeline: SessionOptions["timeline"];
  private protocols: ProtocolProvider;
  private readonly changed: () => void;
  /** Where the session's connections get TLS from (`startTLS`, a TLS listener, a proxy's pair upgrade). */
  private tlsContext: SessionTLSContext;
  /** A listener's or proxy's TLS settings, as the session list shows them. */
  private tlsShown: SessionTLS | undefined;
  /** A proxy's upstream host, when it is a name: asked for (SNI) when a client asks for none. */
  private upstreamName: string | null = null;

  constructor(options: SessionOptions) {
    this.id = options.id;
    this.kind = options.kind;
    this.name = options.name;
    this.reactor = options.reactor;
    this.timeline = options.timeline;
    this.protocols = options.protocols;
    this.changed = options.changed;
    this.tlsContext = options.tls ?? NO_SERVER_TLS;
    this.#state = this.offline ? "closed" : "connecting";
    this.#source = options.source;
    this.#epochMs = options.epochMs ?? epochMs;
    this.target = options.target ?? "";
    this.protocol = options.protocol ?? null;
    this.recordedKind = options.recordedKind;
  }

  /** Where the session is: connecting, connected, listening, failed or closed (moved only by the session itself). */
  get state(): SessionInfo["state"] {
    return this.#state;
  }

  /** Why the session failed, while it is "failed". */
  get error(): string | undefined {
    return this.#error;
  }

  /** For imported, decode and replay sessions: where the traffic came from. */
  get source(): string | undefined {
    return this.#source;
  }

  /** Wall-clock ms at timeline time 0: the engine's start, or an imported capture's own epoch. */
  get epochMs(): number {
    return this.#epochMs;
  }

  /**
   * The work that fills an offline session stopped before its end (a decode whose worker was stopped): the session
   * shows as failed, with `reason`.
   */
  stopped(reason: string): void {
    this.#state = "failed";
    this.#error = reason;
    this.changed();
  }

  /**
   * The capture this offline session reopened was cut short (copy-recording.ts's cutShort): the session stays
   * closed, and its error says where the recording stops.
   */
  recordingCutShort(reason: string): void {
    this.#error = reason;
    this.changed();
  }

  /**
   * For an imported session: true while the capture it reopened is followed as it grows (follow-recording.ts), which
   * alone sets it. Shown as SessionInfo.following.
   */
  get following(): boolean {
    return this.#following;
  }

  #following = false;

  /**
   * The capture this imported session reopened grows (`true`: another process still writes it, so what
   * recordingCutShort said no longer holds and the error is cleared) or no longer does (`false`).
   */
  followingRecording(on: boolean): void {
    this.#following = on;
    if (on) this.#error = undefined;
    this.changed();
  }

  /**
   * Replaces the provider of the protocols of connections made from now on. Called by the engine before starting a
   * session whose connections run engine code rather than a workspace file (a replay drives its own).
   */
  setProtocols(provider: ProtocolProvider): void {
    this.protocols = provider;
  }

  /** Puts a session-level lifecycle event on the timeline. */
  note(event: LifecycleEvent, detail: string, conn = 0): void {
    this.timeline.append({ kind: "lifecycle", t: nowMicros(), conn, event, detail });
    this.changed();
  }

  /** Whether this session only shows traffic recorded before (imported, decoded): it has no sockets. */
  get offline(): boolean {
    return this.kind === "imported" || this.kind === "decode";
  }

  /**
   * A new connection record, numbered next. Sockets get theirs through the recording factories; an offline session
   * gets one per conversation it shows (see offline.ts). `conn` gives a reopened recording's rows their recorded
   * numbers (reopen-recording.ts); numbering goes on after the highest.
   */
  newConnection(leg: Leg, conn = this.nextConn): ConnectionRecord {
    const record = new ConnectionRecord(conn, leg);
    this.nextConn = Math.max(this.nextConn, conn + 1);
    this.connections.set(record.conn, record);
    this.changed();
    return record;
  }

  /**
   * A factory whose connections are recorded on this session, with protocols from the provider. `record`, if
   * given, is the connection already shown as "connecting" (a client's attempt); otherwise each accepted
   * connection gets a new number.
   */
  private recordingFactory(
    leg: Leg,
    protocol: string | null,
    record?: ConnectionRecord,
    tlsAtOnce = false,
  ): RecordingFactory {
    return new RecordingFactory(
      () => record ?? this.newConnection(leg),
      (connection) => this.protocols.create(protocol, this, connection),
      this.timeline,
      this.changed,
      this.tlsContext,
      tlsAtOnce,
    );
  }

  /** Takes a listener's or proxy's TLS settings, before it starts. */
  private useTLS(tls: SessionTLSSettings | undefined): void {
    if (tls === undefined) return;
    this.tlsContext = tls.context;
    this.tlsShown = tls.shown;
  }

  // --- client sessions ------------------------------------------------------------------------------------------

  /** Starts a client session: connects now; resolves once connected, or fails with the reason. */
  async startClient(target: ClientTarget, protocol: string | null): Promise<void> {
    this.clientDescription = clientDescription(target);
    this.target = this.clientDescription;
    this.protocol = protocol;
    await this.connectClient();
  }

  /** Connects (again): a new connection on the same timeline. */
  async connectClient(): Promise<void> {
    if (this.clientDescription === null)
      throw new EngineError("not-a-client", `Session '${this.id}' is not a client session.`);
    const live = [...this.connections.values()].find((c) => c.state !== "closed");
    if (live) {
      throw new EngineError(
        "already-connected",
        `Session '${this.name}' already has an open connection (${live.conn}): close it before reconnecting.`,
      );
    }
    const record = this.newConnection("server");
    record.dialedName = hostName(plainUpstream(this.clientDescription).host);
    this.#state = "connecting";
    this.#error = undefined;
    this.note("connecting", this.clientDescription, record.conn);
    let endpoint;
    try {
      endpoint = clientFromString(this.reactor, this.clientDescription);
    } catch (err) {
      throw this.clientFailed(record, err instanceof EndpointParseError ? new BadEndpointError(err.message, err) : err);
    }
    try {
      await endpoint.connect(this.recordingFactory("server", this.protocol, record));
      this.#state = "connected";
      this.changed();
    } catch (err) {
      throw this.clientFailed(record, err);
    }
  }

  /** The client's attempt failed: the session fails with it. Returns the error to throw to the caller. */
  private clientFailed(record: ConnectionRecord, err: unknown): Error {
    this.#state = "failed";
    this.#error = this.connectionFailed(record, err);
    if (err instanceof EngineError) return err;
    const code = err instanceof TwistedError && isErrorCode(err.code) ? err.code : "connect-failed";
    return new EngineError(code, `Could not connect to ${shorten(this.target)}: ${record.reason}`, { cause: err });
  }

  /**
   * A connection attempt failed (refused, timed out, bad description): its record closes with the reason and the
   * timeline says so. Every attempt of this session — the client's, a proxy's upstream leg, a protocol's own
   * connectTCP — ends here when it fails, as Twisted's Connector reports connectionFailed. Returns the reason.
   */
  private connectionFailed(record: ConnectionRecord, err: unknown): string {
    record.state = "closed";
    record.closedAt = nowMicros();
    record.reason = reasonText(err);
    this.note("failed", record.reason, record.conn);
    return record.reason;
  }

  // --- listeners --------------------------------------------------------------------------------------------------

  /**
   * Starts listening; resolves once bound. A port in use fails with a CannotListenError's message. With `tls`, every
   * accepted connection turns TLS at once (its protocol sees only plaintext).
   */
  async startListener(target: ListenTarget, protocol: string | null, tls?: SessionTLSSettings): Promise<void> {
    const description = serverDescription(target);
    this.target = description;
    this.protocol = protocol;
    this.useTLS(tls);
    this.port = await this.listenOn(
      description,
      this.recordingFactory("client", protocol, undefined, tls !== undefined),
    );
  }

  private async listenOn(description: string, factory: IProtocolFactory): Promise<IListeningPort> {
    let endpoint;
    try {
      endpoint = serverFromString(this.reactor, description);
    } catch (err) {
      throw err instanceof EndpointParseError ? new BadEndpointError(err.message, err) : err;
    }
    try {
      const port = await endpoint.listen(factory);
      this.#state = "listening";
      this.listeningOn = formatAddress(port.getHost());
      if ("backlog" in endpoint && typeof endpoint.backlog === "number") this.backlog = endpoint.backlog;
      this.note("listening", this.listeningOn);
      return port;
    } catch (err) {
      const reason = reasonText(err);
      this.#state = "failed";
      this.#error = reason;
      this.note("error", reason);
      throw new EngineError("cannot-listen", `Could not listen on ${shorten(description)}: ${reason}`, {
        cause: err,
      });
    }
  }

  // --- proxies ----------------------------------------------------------------------------------------------------

  /**
   * Starts a proxy: listens, and for each accepted connection opens one to the upstream; bytes are forwarded both
   * ways with each transport registered as the other's producer (Twisted's portforward), so a slow side slows the
   * other instead of buffering without bound. Both legs are recorded on this session. `clientProtocol` runs on
   * each accepted leg and `serverProtocol` on each upstream leg (null: raw bytes are relayed); what such a
   * protocol writes goes to the other leg (see ProxyLeg). TLS (`tls`): "terminate" upgrades each pair as soon as
   * both legs are connected (the upstream is connected as TCP, an `ssl:` one too, and turned TLS by the proxy);
   * "starttls" (and a proxy without TLS settings) upgrades a pair when a leg protocol calls `startTLS`.
   */
  async startProxy(
    listen: ListenTarget,
    upstream: ClientTarget,
    clientProtocol: string | null,
    serverProtocol: string | null,
    tls?: SessionTLSSettings,
  ): Promise<void> {
    const asked = clientDescription(upstream);
    const plain = plainUpstream(asked);
    this.upstreamDescription = tls?.shown.mode === "terminate" ? plain.description : asked;
    this.upstreamName = hostName(plain.host);
    // Parse the upstream now, so that a bad description fails before anything listens.
    try {
      clientFromString(this.reactor, this.upstreamDescription);
    } catch (err) {
      throw err instanceof EndpointParseError ? new BadEndpointError(err.message, err) : err;
    }
    this.useTLS(tls);
    const pairTLS: PairTLS = {
      terminate: tls?.shown.mode === "terminate",
      upgrade: (client, server, request) => upgradePair(client, server, request, this.upstreamName),
    };
    this.upstream = asked;
    this.protocol = clientProtocol;
    this.serverProtocol = serverProtocol;
    const description = serverDescription(listen);
    this.target = description;
    const accept = new RecordingFactory(
      () => this.newConnection("client"),
      (connection) =>
        ProxyLeg.accepted(this.legProtocol(clientProtocol, connection), (client) => this.openUpstream(client), pairTLS),
      this.timeline,
      this.changed,
      this.tlsContext,
    );
    this.port = await this.listenOn(description, accept);
  }

  /** The protocol of a proxy leg: the provider's for a file, none for raw bytes. */
  private legProtocol(protocol: string | null, connection: ConnectionRecord): IProtocol | null {
    return protocol === null ? null : this.protocols.create(protocol, this, connection);
  }

  /** Opens the upstream leg for an accepted client leg. Called by ProxyLeg.connectionMade. */
  private openUpstream(clientLeg: ProxyLeg): void {
    const description = this.upstreamDescription!;
    const clientRecord = clientLeg.record();
    const record = this.newConnection("server");
    record.pairedWith = clientRecord.conn;
    clientRecord.pairedWith = record.conn;
    this.note("connecting", description, record.conn);
    const factory = new RecordingFactory(
      () => record,
      (connection) => ProxyLeg.upstream(clientLeg, this.legProtocol(this.serverProtocol, connection)),
      this.timeline,
      this.changed,
      this.tlsContext,
    );
    clientFromString(this.reactor, description)
      .connect(factory)
      .catch((err: unknown) => {
        this.connectionFailed(record, err);
        clientLeg.upstreamFailed();
      });
  }

  // --- connections opened by protocols ----------------------------------------------------------------------------

  /**
   * User code in the sandbox called `reactor.connectTCP`: opens that connection for real, recorded on this session
   * like any other, and hands it to the sandbox (the user's factory builds its protocol in the worker).
   */
  openRequested(request: ConnectRequest, events: (connection: ConnectionRecord) => SandboxEvents): void {
    const record = this.newConnection("server");
    record.dialedName = hostName(request.host);
    const where = `${request.host}:${request.port}`;
    this.note("connecting", `${where} (opened by the protocol)`, record.conn);
    const factory = new RecordingFactory(
      () => record,
      (connection) => request.accept(events(connection)),
      this.timeline,
      this.changed,
      this.tlsContext,
    );
    new TCP4ClientEndpoint(this.reactor, request.host, request.port, request.timeout)
      .connect(factory, { signal: request.signal })
      .catch((err: unknown) => {
        this.connectionFailed(record, err);
        request.fail(err instanceof Error ? err : new Error(String(err)));
      });
  }

  // --- connections ------------------------------------------------------------------------------------------------

  connection(conn: number): ConnectionRecord {
    const record = this.connections.get(conn);
    if (!record) throw new UnknownConnectionError(this.id, conn);
    return record;
  }

  private openWrapper(conn: number, what: string): RecordingProtocol {
    if (this.offline) throw new OfflineSessionError(this.id, what);
    const record = this.connection(conn);
    if (record.state === "closed" || record.wrapper === null) throw new ConnectionClosedError(this.id, conn, what);
    return record.wrapper;
  }

  /** Sends bytes on a connection (recorded as "out"). */
  send(conn: number, data: Bytes): void {
    const wrapper = this.openWrapper(conn, "send");
    if (wrapper.disconnecting) throw new ConnectionClosedError(this.id, conn, "send: it is closing");
    wrapper.write(data);
  }

  closeConnection(conn: number): void {
    this.openWrapper(conn, "close it").loseConnection();
  }

  abortConnection(conn: number): void {
    this.openWrapper(conn, "abort it").abortConnection();
  }

  halfCloseConnection(conn: number): void {
    this.openWrapper(conn, "half-close it").loseWriteConnection();
  }

  /** The first `close`'s work: a session is closed, and its "closed" noted, once. */
  #closing: Promise<void> | null = null;

  /**
   * Stops listening and closes every open connection (cleanly). Resolves once the port is released. Later calls
   * wait for the first (the CLI closes its sessions, then the engine closes whatever is left).
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    if (this.offline) return;
    const port = this.port;
    this.port = null;
    if (port) await port.stopListening();
    for (const record of this.connections.values()) {
      if (record.state !== "closed") record.wrapper?.loseConnection();
    }
    if (this.state !== "failed") this.#state = "closed";
    this.note("closed", "session closed");
  }

  info(): SessionInfo {
    let bytesIn = 0;
    let bytesOut = 0;
    let open = 0;
    for (const record of this.connections.values()) {
      bytesIn += record.bytesIn;
      bytesOut += record.bytesOut;
      if (record.state !== "closed") open++;
    }
    const listed = listedConnections([...this.connections.values()]);
    const connections = listed.map((record) => record.info());
    const unlisted = this.connections.size - listed.length;
    // A client whose connection has ended shows as closed (derived: reconnecting makes it "connecting" again).
    const ended = this.kind === "client" && this.state === "connected" && open === 0;
    return {
      id: this.id,
      kind: this.kind,
      name: this.name,
      target: this.target,
      ...(this.upstream !== undefined ? { upstream: this.upstream } : {}),
      state: ended ? "closed" : this.state,
      protocol: this.protocol,
      epochMs: this.epochMs,
      ...(this.listeningOn !== undefined ? { listeningOn: this.listeningOn } : {}),
      ...(this.tlsShown !== undefined ? { tls: this.tlsShown } : {}),
      ...(this.backlog !== undefined ? { backlog: this.backlog } : {}),
      connections,
      ...(unlisted > 0 ? { unlistedConnections: unlisted } : {}),
      bytesIn,
      bytesOut,
      events: this.timeline.count,
      ...(this.error !== undefined ? { error: this.error } : {}),
      ...(this.source !== undefined ? { source: this.source } : {}),
      ...(this.recordedKind !== undefined ? { recordedKind: this.recordedKind } : {}),
      ...(this.following ? { following: true as const } : {}),
    };
  }
}
