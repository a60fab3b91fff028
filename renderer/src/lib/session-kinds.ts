/**
 * What each kind of session lets a user do. Live sessions (client, listener, proxy) own sockets: the user sends,
 * closes, aborts. Recorded ones (imported, decode) show traffic that happened before and own no socket: there is
 * nothing to send on or close. A replay is live but drives its connection itself: sending by hand would spoil the
 * comparison it exists for.
 */
import type { SessionInfo, SessionKind } from "../../../preload/contract.ts";

/** Sessions made from traffic recorded before: no sockets, state "closed" from the start. */
export function isRecorded(kind: SessionKind): boolean {
  return kind === "imported" || kind === "decode";
}

/**
 * Why the send box and the connection actions (close, abort, half-close) don't apply to a session, or null when
 * they do. Said to the user in place of the controls.
 */
export function whyNotInteractive(session: SessionInfo): string | null {
  const from = session.source ? ` (${session.source})` : "";
  if (session.kind === "imported") return `Imported traffic${from}: there is no socket to send on or close.`;
  if (session.kind === "decode") return `A decode of recorded traffic${from}: there is no socket to send on or close.`;
  if (session.kind === "replay")
    return `A replay${from} sends the recorded bytes itself: sending by hand would spoil the comparison.`;
  return null;
}
