/**
 * What the sidebar's actions do to a session's connections: Close, Abort and Half-close one connection, and what
 * Delete does on a tree item. The engine's next session list shows the outcome; a refusal goes to the status bar.
 */
import type { ConnectionInfo, SessionInfo } from "../../../preload/contract.ts";
import type { Workbench } from "./workbench.svelte.ts";

/** The commands that act on one connection. */
export type ConnectionCommand = "closeConnection" | "abortConnection" | "halfCloseConnection";

/** A client's open connection: what Close, Abort and Half-close act on when the client itself is selected. */
export function liveConnection(s: SessionInfo): ConnectionInfo | undefined {
  return s.connections.findLast((c) => c.state !== "closed");
}

/** Close, Abort or Half-close connection `c` of session `s`; a refusal goes to the status bar. */
export async function runOnConnection(
  workbench: Workbench,
  command: ConnectionCommand,
  s: SessionInfo,
  c: ConnectionInfo,
): Promise<void> {
  await workbench.run(workbench.api[command]({ session: s.id, conn: c.conn }));
}

/** What Delete does on a tree item: close the connection (a client's live one), or stop the listener or proxy. */
export async function closeItem(workbench: Workbench, s: SessionInfo, c: ConnectionInfo | null): Promise<void> {
  const target = c ?? (s.kind === "client" ? liveConnection(s) : undefined);
  if (target && target.state !== "closed") await runOnConnection(workbench, "closeConnection", s, target);
  else if (s.kind !== "client" && c === null) await workbench.run(workbench.api.closeSession({ session: s.id }));
}
