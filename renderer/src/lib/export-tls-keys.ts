/**
 * "Export TLS keys" for a session or one of its connections: the engine answers the TLS session secrets it kept
 * (SSLKEYLOGFILE lines, the format Wireshark reads to decrypt a capture of the same traffic) as text, and the
 * workbench offers them as a download named after the session, as its pcapng exports are. The engine writes no file:
 * the keys only go where the user saves them. A refusal goes to the status bar as an error.
 */
import type { ConnectionInfo, SessionInfo } from "../../../preload/contract.ts";
import { fileStem } from "../../../preload/file-stem.ts";
import { offerText } from "./download.ts";
import { plural } from "./format.ts";
import type { Workbench } from "./workbench.svelte.ts";

/** "listener-1-tls-keys.txt", or "listener-1-conn-2-tls-keys.txt" for connection 2. */
export function tlsKeysFileName(session: Pick<SessionInfo, "id" | "name">, conn: number | null): string {
  return `${fileStem(session, conn ?? undefined)}-tls-keys.txt`;
}

/** How many key lines the engine keeps for `connection`, or for the session's listed connections together. */
export function tlsKeyLines(session: SessionInfo, connection: ConnectionInfo | undefined): number {
  const of = (c: ConnectionInfo) => c.tlsKeys ?? 0;
  return connection ? of(connection) : session.connections.reduce((sum, c) => sum + of(c), 0);
}

/**
 * Asks the engine for the keys of `session` (or of its connection `conn`) and offers them as a download. Resolves
 * with the number of lines once the download started, or null when the engine refused (said in the status bar).
 */
export async function exportTLSKeys(
  workbench: Workbench,
  session: SessionInfo,
  conn: number | null,
): Promise<number | null> {
  const result = await workbench.run(
    workbench.api.exportTLSKeys({ session: session.id, ...(conn !== null ? { conn } : {}) }),
  );
  if (result === null) return null;
  const fileName = tlsKeysFileName(session, conn);
  offerText(result.text, fileName, "text/plain;charset=utf-8");
  workbench.say(
    `Exported ${plural(result.lines, "TLS key line")} of ${plural(result.connections, "connection")} as ${fileName}: ` +
      "give it to Wireshark (Preferences › Protocols › TLS › (Pre)-Master-Secret log filename) to decrypt a " +
      "capture of the same traffic.",
  );
  return result.lines;
}
