/**
 * What the sidebar's session tree says about sessions and connections: the keys of its items, the order of a
 * proxy's legs, and the words of each item (its accessible name, its target, the tone of its state dot). Pure
 * functions of the engine's snapshots and the live rates, so the sidebar's components only lay them out.
 */
import type { ConnectionInfo, SessionInfo } from "../../../preload/contract.ts";
import { formatBytes, formatRate, plural } from "./format.ts";
import { connectionKey, type Rate } from "./rates.svelte.ts";
import { isRecorded } from "./session-kinds.ts";

/** The tree item key of a session (its id) or of one of its connections (its connectionKey). */
export function itemKey(session: string, conn: number | null): string {
  return conn === null ? session : connectionKey(session, conn);
}

/** Connections in display order: a proxy's accepted leg, then the upstream leg paired with it. */
export function displayOrder(session: SessionInfo): ConnectionInfo[] {
  const byNumber = [...session.connections].sort((a, b) => a.conn - b.conn);
  if (session.kind !== "proxy") return byNumber;
  const out: ConnectionInfo[] = [];
  const placed = new Set<number>();
  for (const c of byNumber) {
    if (c.leg !== "client" || placed.has(c.conn)) continue;
    out.push(c);
    placed.add(c.conn);
    const pair = byNumber.find((p) => p.conn === c.pairedWith);
    if (pair && !placed.has(pair.conn)) {
      out.push(pair);
      placed.add(pair.conn);
    }
  }
  for (const c of byNumber) if (!placed.has(c.conn)) out.push(c);
  return out;
}

/** "tcp:host=127.0.0.1:port=6379" reads as "127.0.0.1:6379"; anything else as typed. */
export function shortEndpoint(description: string): string {
  const m = /^(tcp6?|ssl):host=([^:\\]+):port=(\d+)$/.exec(description);
  if (!m) return description;
  return `${m[2]}:${m[3]}${m[1] === "ssl" ? " (TLS)" : ""}`;
}

/** A session's second line: where it connects or listens (and a proxy's upstream), or where a recording came from. */
export function where(s: SessionInfo): string {
  if (isRecorded(s.kind)) return s.source ?? s.target;
  const local = s.kind === "client" ? shortEndpoint(s.target) : (s.listeningOn ?? s.target);
  return s.kind === "proxy" && s.upstream ? `${local} → ${shortEndpoint(s.upstream)}` : local;
}

/** A session item's accessible name: name, kind, state, where, bytes, rate, open connections, error. */
export function sessionLabel(s: SessionInfo, rate: Rate): string {
  const parts = [
    s.name,
    s.kind,
    s.state,
    where(s),
    `${formatBytes(s.bytesIn)} in`,
    `${formatBytes(s.bytesOut)} out`,
    formatRate(rate.in + rate.out),
  ];
  if (s.kind !== "client") {
    parts.push(plural(s.connections.filter((c) => c.state !== "closed").length, "open connection"));
  }
  if (s.error) parts.push(s.error);
  return parts.join(", ");
}

/** Which leg of a proxy a connection is ("from client", "upstream of 3"); empty for other sessions. */
export function legText(s: SessionInfo, c: ConnectionInfo): string {
  if (s.kind !== "proxy") return "";
  return c.leg === "client" ? "from client" : `upstream of ${c.pairedWith ?? "?"}`;
}

/** A connection item's accessible name: "Connection N", its leg, state, peer, bytes, rate and why it closed. */
export function connectionLabel(s: SessionInfo, c: ConnectionInfo, rate: Rate): string {
  const leg = legText(s, c);
  return [
    `Connection ${c.conn}`,
    ...(leg ? [leg] : []),
    c.state,
    ...(c.peer ? [c.peer] : []),
    `${formatBytes(c.bytesIn)} in`,
    `${formatBytes(c.bytesOut)} out`,
    formatRate(rate.in + rate.out),
    ...(c.reason ? [c.reason] : []),
  ].join(", ");
}

/** The colour of a state's dot: a CSS class of the tree. */
export function tone(state: string): "ok" | "warn" | "danger" | "off" {
  if (state === "connected" || state === "listening") return "ok";
  if (state === "connecting" || state === "half-closed") return "warn";
  if (state === "failed") return "danger";
  return "off";
}
