/**
 * "Export as pcapng" for a session or one of its connections: the engine writes the file into the workspace's
 * exports folder and answers its path; in browser mode it also sends the bytes back, offered as a download (the
 * workspace is on the machine that serves the workbench, which may not be where the browser keeps files). The path
 * is said in the status bar either way; a refusal goes there as an error.
 */
import type { SessionInfo } from "../../../preload/contract.ts";
import { baseName, offerDownload } from "./download.ts";
import { formatBytes, plural } from "./format.ts";
import type { Workbench } from "./workbench.svelte.ts";

/** The media type of pcapng files (as Wireshark registers it). */
const PCAPNG_TYPE = "application/x-pcapng";

/** Whether the workbench runs in a browser tab (browser mode) rather than in the desktop app's window. */
function inBrowserTab(): boolean {
  return window.wirescope === undefined;
}

/**
 * Exports `session` (or its connection `conn`) as pcapng. Resolves once the file is written and, in browser mode,
 * offered as a download; returns the path, or null when the engine refused (its message is in the status bar).
 */
export async function exportPcapng(
  workbench: Workbench,
  session: SessionInfo,
  conn: number | null,
): Promise<string | null> {
  const includeData = inBrowserTab();
  const result = await workbench.run(
    workbench.api.exportPcapng({ session: session.id, ...(conn !== null ? { conn } : {}), includeData }),
  );
  if (result === null) return null;
  if (result.data) offerDownload(baseName(result.path), result.data, PCAPNG_TYPE);
  const what = conn === null ? session.name : `${session.name}, connection ${conn}`;
  workbench.say(
    `Exported ${what} as pcapng (${plural(result.packets, "packet")}, ${formatBytes(result.bytes)}) to ${result.path}` +
      (result.data ? " and downloaded it." : "."),
  );
  return result.path;
}
