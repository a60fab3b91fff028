/**
 * "Export as pcapng" for a session or one of its connections: the engine writes the file into the workspace's
 * exports folder and answers its path, which the status bar says. In browser mode the workspace is on the machine
 * that serves the workbench, which may not be where the browser keeps files, so the file is also offered as a
 * download: a link to the server's exports route (preload/ws-client.ts `exportUrl`), which streams it, so that an
 * export of any size downloads (its bytes never travel inside a WebSocket answer). In the desktop app the file is
 * already on this machine: the path is all there is to say. A refusal goes to the status bar as an error.
 */
import type { SessionInfo } from "../../../preload/contract.ts";
import { baseName, exportUrlOf, offerLink } from "./download.ts";
import { formatBytes, plural } from "./format.ts";
import type { Workbench } from "./workbench.svelte.ts";

/**
 * Exports `session` (or its connection `conn`) as pcapng, under `operation` when given (its progress and cancel:
 * see operation-progress.svelte.ts). Resolves once the file is written and, in browser mode, its download started;
 * returns the path, or null when the engine refused or it was cancelled (the message is in the status bar).
 */
export async function exportPcapng(
  workbench: Workbench,
  session: SessionInfo,
  conn: number | null,
  operation?: string,
): Promise<string | null> {
  const result = await workbench.run(
    workbench.api.exportPcapng({
      session: session.id,
      ...(conn !== null ? { conn } : {}),
      ...(operation !== undefined ? { operation } : {}),
    }),
  );
  if (result === null) return null;
  const exportUrl = exportUrlOf(workbench.api);
  if (exportUrl !== null) {
    const name = baseName(result.path);
    offerLink(exportUrl(name), name);
  }
  const what = conn === null ? session.name : `${session.name}, connection ${conn}`;
  workbench.say(
    `Exported ${what} as pcapng (${plural(result.packets, "packet")}, ${formatBytes(result.bytes)}) to ${result.path}` +
      (exportUrl !== null ? "; your browser downloads a copy." : "."),
  );
  return result.path;
}
