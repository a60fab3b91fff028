/**
 * "Export capture (.wscap)" for a session: the engine copies the session's own Wirescope capture, as recorded so far,
 * into the workspace's exports folder and answers its path, which the status bar says with the command that prints
 * it. In browser mode the copy is also offered as a download, from the server's exports route as pcapng exports are
 * (export-pcapng.ts); in the desktop app the file is already on this machine. Every session kind has a capture: for a
 * process session, whose pipes pcapng can't carry, it is the export there is. A refusal goes to the status bar.
 */
import type { SessionInfo } from "../../../preload/contract.ts";
import { quoteCommandLine } from "../../../preload/command-line.ts";
import { baseName, exportUrlOf, offerLink } from "./download.ts";
import { formatBytes, plural } from "./format.ts";
import type { Workbench } from "./workbench.svelte.ts";

/**
 * Exports `session`'s capture. Resolves once the copy is written and, in browser mode, its download started; returns
 * its path, or null when the engine refused (its message is in the status bar).
 */
export async function exportCapture(workbench: Workbench, session: SessionInfo): Promise<string | null> {
  const result = await workbench.run(workbench.api.exportCapture({ session: session.id }));
  if (result === null) return null;
  const exportUrl = exportUrlOf(workbench.api);
  if (exportUrl !== null) {
    const name = baseName(result.path);
    offerLink(exportUrl(name), name);
  }
  workbench.say(
    `Exported the capture of ${session.name} (${plural(result.events, "event")}, ${formatBytes(result.bytes)}) ` +
      `to ${result.path}: \`wirescope show --json ${quoteCommandLine([result.path])}\` prints it` +
      (exportUrl !== null ? "; your browser downloads a copy." : "."),
  );
  return result.path;
}
