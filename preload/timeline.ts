/**
 * The timeline's event model, shared by the engine (which records it) and the renderer (which shows it).
 * Types only: no runtime code, so both sides can import it without pulling anything in.
 *
 * A session's timeline is one dense sequence: event `seq` 0, 1, 2, ... in the order the engine saw them, each with
 * a monotonic timestamp in microseconds. Connections of the session are numbered from 1; `conn: 0` is the session
 * itself (listening, errors of the listener, ...).
 */

/** Which way bytes went, seen from Wirescope's socket: "in" was received from the peer, "out" was written to it. */
export type Direction = "in" | "out";

/**
 * For a proxy, which leg a connection id is: "client" is the accepted connection (the user's client to us),
 * "server" the one we opened upstream. Other sessions have only "client" legs (client sessions: our connection
 * to the server is recorded as the "server" leg, see Session docs).
 */
export type Leg = "client" | "server";

/** Lifecycle events of a connection or session. */
export type LifecycleEvent =
  | "listening" // the session's port is bound (detail: the address)
  | "connecting" // an attempt started (detail: the destination)
  | "connected" // established (detail: "peer -> host")
  | "read-closed" // the peer shut its write side (FIN)
  | "write-closed" // we shut our write side
  | "lost" // the connection is gone (detail: the reason: "ConnectionDone: ...")
  | "failed" // a connect attempt failed (detail: the reason)
  | "paused" // reading paused
  | "resumed" // reading resumed
  | "protocol-loaded" // a protocol was attached (detail: file and class)
  | "protocol-reloaded" // new code swapped in (detail: file)
  | "protocol-halted" // the protocol was stopped (detail: the reason, with its source line)
  | "protocol-error" // a callback threw (detail: message and source line); the connection stays
  | "error" // any other error worth showing (detail)
  | "closed" // the session ended (listener stopped, ...)
  | "tls" // a TLS handshake completed (detail: a one-line summary; fields: the contract's TLSDetails)
  | "tls-failed" // a TLS handshake failed or timed out (detail: what failed and the likely fix; fields: TLSFailure)
  | "spawned" // a process session's child started (detail: its argv as a shell would quote it, and its pid; fields: {pid, argv, cwd})
  | "fd-closed" // one of the child's pipes closed (detail: which; fields: {fd})
  | "exited" // the child exited (detail: "exit code 3" or "killed by SIGTERM"; fields: {code, signal}); output may still follow
  | "ended"; // the child exited and every pipe closed: all its output is on the timeline (detail: how it exited)

interface EventBase {
  /** Position in the session's timeline, from 0, dense. */
  seq: number;
  /** Monotonic microseconds since the engine started; `SessionInfo.startedAt` relates them to wall-clock time. */
  t: number;
  /** Connection number within the session, from 1; 0 for the session itself. */
  conn: number;
}

/**
 * Bytes that passed. `data` is the whole chunk (the engine keeps it in the capture file), unless `size` says it was
 * cut to a preview.
 */
export interface DataEvent extends EventBase {
  kind: "data";
  dir: Direction;
  data: Uint8Array;
  /**
   * Set only on a chunk read with a preview (readTimeline's `preview`) and cut short by it: the chunk's whole size in
   * bytes, of which `data` holds the first ones. Whatever shows, copies or decodes a chunk's bytes reads it again
   * without a preview when this is set; absent, `data` is the whole chunk.
   */
  size?: number;
  /**
   * Process sessions only: the child's fd the bytes went through — 0 for what was written to its stdin ("out"),
   * 1 its stdout and 2 its stderr ("in"). Absent for sockets.
   */
  fd?: number;
  /**
   * The stream offset of the chunk's first byte: the bytes that went the same way on the same connection (and fd)
   * before it. Filled by the engine on reads (readTimeline), so that spans can be matched to chunks.
   */
  offset?: number;
}

export interface LifecycleTimelineEvent extends EventBase {
  kind: "lifecycle";
  event: LifecycleEvent;
  detail: string;
  /**
   * Structured details, JSON-safe, for events that have them ("tls": TLSDetails; "tls-failed": TLSFailure;
   * "spawned", "fd-closed", "exited": see LifecycleEvent).
   */
  fields?: Record<string, unknown>;
}

/**
 * A run of bytes of one connection's stream in one direction: `offset` counts the bytes that went that way on that
 * connection before it (from 0), so a span means the same bytes however the stream was chunked. `fd` tells a process
 * session's stdout (1) from its stderr (2) for "in"; absent for sockets.
 */
export interface Span {
  dir: Direction;
  offset: number;
  length: number;
  fd?: number;
}

/**
 * How a decoded message takes part in request/response pairing. The protocol marks it (`role`, and `key` when
 * messages pair by id, as LSP's do; without a key they pair in order, as RESP's and HTTP/1.1's do); the engine pairs
 * a response with the oldest unanswered request of the same key on the same connection, or on the other leg of the
 * same proxied connection, and fills in `request` and `latency` on the response.
 */
export interface MessagePair {
  role: "request" | "response";
  key?: string;
  /** Responses the engine paired: the seq of the request answered. */
  request?: number;
  /** Responses the engine paired: microseconds from the request's event to this one. */
  latency?: number;
}

/**
 * Something a protocol reported through its `log` ("decoded SET key=foo"), or the engine's own notes. A decoded
 * message (reported with `log.message`) is a log event with `spans`: the bytes it was decoded from.
 */
export interface LogTimelineEvent extends EventBase {
  kind: "log";
  level: "debug" | "info" | "warn" | "error" | "critical";
  /** The rendered message. */
  text: string;
  /** The structured fields, as JSON-safe values (bytes as their latin1 string). */
  fields: Record<string, unknown>;
  /** Decoded messages only: the stream bytes the message was decoded from (empty when not known). */
  spans?: Span[];
  /** Decoded messages only: narrower spans of single fields, by dotted path into `fields` ("args.1", "key"). */
  fieldSpans?: Record<string, Span[]>;
  /** Decoded messages only: its part in request/response pairing. */
  pair?: MessagePair;
}

export type TimelineEvent = DataEvent | LifecycleTimelineEvent | LogTimelineEvent;

/** Distributes Omit over a union, so that each variant keeps its own fields. */
export type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** An event before the recorder numbered it. */
export type NewTimelineEvent = DistributiveOmit<TimelineEvent, "seq">;
