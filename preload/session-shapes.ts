/**
 * The contract's session shapes: what the session list shows of each session (SessionInfo), of its connections
 * (ConnectionInfo) and of the protocol each runs (ProtocolState). listSessions, the commands that open a session and
 * onSessionsChanged answer them; contract.ts re-exports them.
 */
import { z } from "zod";
import { ProcessInfo } from "./process-shapes.ts";
import { SessionTLS, TLSDetails } from "./tls-shapes.ts";

/** The protocol a connection runs (a workspace file's class), and whether it still runs. */
export const ProtocolState = z.object({
  file: z.string(),
  className: z.string(),
  state: z.enum(["running", "halted"]),
  /** Why it was halted: the error with its source line. */
  halted: z.string().optional(),
});

/** One connection of a session: its state, its counters, the protocol it runs and its TLS. */
export const ConnectionInfo = z.object({
  conn: z.number(),
  /** For proxies: which leg ("client": accepted from the user's client; "server": ours to the upstream). */
  leg: z.enum(["client", "server"]),
  /** For proxies: the other leg's connection number. */
  pairedWith: z.number().optional(),
  state: z.enum(["connecting", "connected", "half-closed", "closed"]),
  peer: z.string(),
  host: z.string(),
  bytesIn: z.number(),
  bytesOut: z.number(),
  chunksIn: z.number(),
  chunksOut: z.number(),
  /** Timeline time (µs) it opened and closed. */
  openedAt: z.number(),
  closedAt: z.number().optional(),
  /** Why it closed ("ConnectionDone: ..."). */
  reason: z.string().optional(),
  protocol: ProtocolState.nullable(),
  /** What its TLS handshake agreed on, once one completed. */
  tls: TLSDetails.optional(),
  /** How many TLS key log lines (SSLKEYLOGFILE) the engine keeps for it: exportTLSKeys gives them. */
  tlsKeys: z.number().optional(),
});
export type ConnectionInfo = z.infer<typeof ConnectionInfo>;

/**
 * What a session is. Live ones: client, listener, proxy, and process (a command the user runs: connection 1 is its
 * child, stdin "out", stdout and stderr "in"; each restart is a new connection). Offline ones, made from traffic already recorded:
 * "imported" (a conversation read from a pcap/pcapng file), "decode" (a protocol run over a recorded conversation as a
 * passive decoder), and "replay" (one side of a recorded conversation sent again to a real peer; it is live).
 */
export const SessionKind = z.enum(["client", "listener", "proxy", "imported", "decode", "replay", "process"]);
export type SessionKind = z.infer<typeof SessionKind>;

/** One session as the session list shows it: what it is, where it connects or listens, and its connections. */
export const SessionInfo = z.object({
  id: z.string(),
  kind: SessionKind,
  name: z.string(),
  /** What it connects to or listens on, as the user would type it. */
  target: z.string(),
  /** For proxies: the upstream. */
  upstream: z.string().optional(),
  state: z.enum(["connecting", "connected", "listening", "closed", "failed"]),
  /** The protocol file new connections run, or null for raw bytes. */
  protocol: z.string().nullable(),
  /** Wall-clock ms at timeline time 0, to show absolute times. */
  epochMs: z.number(),
  /** The bound address of a listener or proxy ("127.0.0.1:40123"). */
  listeningOn: z.string().optional(),
  /** A listener's or proxy's TLS settings; absent for plain ones. */
  tls: SessionTLS.optional(),
  /** The listen backlog of a listener or proxy: connections the kernel queues before they are accepted. */
  backlog: z.number().int().nonnegative().optional(),
  /** Its connections, at most MAX_LISTED_CONNECTIONS (limits.ts): the open ones first, then the newest closed. */
  connections: z.array(ConnectionInfo),
  /** How many connections `connections` leaves out (older closed ones); absent when it lists them all. */
  unlistedConnections: z.number().optional(),
  bytesIn: z.number(),
  bytesOut: z.number(),
  /** Events on its timeline. */
  events: z.number(),
  /** The last error ("ConnectionRefusedError: ..."). */
  error: z.string().optional(),
  /** For imported, decode and replay sessions: where the traffic came from ("redis.pcapng, conversation 3"). */
  source: z.string().optional(),
  /**
   * For an imported session reopened from a Wirescope capture (.wscap): the kind of the session that recorded it
   * ("process": its connections are a child's pipes, which Decode and Replay refuse).
   */
  recordedKind: SessionKind.optional(),
  /**
   * For an imported session: true while the capture it reopened is still being written and new records are added
   * to its timeline as they land (openRecording); absent once it stopped following (the capture's session closed,
   * the file is damaged, or the session was removed) and for every other session.
   */
  following: z.literal(true).optional(),
  /** For process sessions: the command and how its child is doing. */
  process: ProcessInfo.optional(),
});
export type SessionInfo = z.infer<typeof SessionInfo>;
