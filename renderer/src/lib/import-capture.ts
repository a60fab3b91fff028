/**
 * Reading a capture file the user picked, for "Import capture…": its bytes go to the engine's importCapture in one
 * message. Browser mode's WebSocket takes messages up to 16 MiB and bytes travel as base64 (4/3 bigger), so a file
 * there is refused above IMPORT_MAX_IN_BROWSER with a message that says what to do; the desktop app's IPC has no
 * such limit.
 */
import type { CommandResult, ContractError, WirescopeApi } from "../../../preload/contract.ts";
import { contractError } from "../../../preload/errors.ts";
import { formatBytes } from "./format.ts";

/** The largest capture browser mode can carry in one message (16 MiB as base64, less room for the envelope). */
export const IMPORT_MAX_IN_BROWSER = 11 * 1024 * 1024;

/** What reading and importing a file gave: the conversations found, or why not (said next to the file field). */
export type ImportOutcome = { ok: true; value: CommandResult<"importCapture"> } | { ok: false; error: ContractError };

/**
 * Reads `file` and asks the engine to import it, under `operation` when given (its progress and cancel: see
 * operation-progress.svelte.ts). Never throws: a file that can't be read is an error too.
 */
export async function importCaptureFile(api: WirescopeApi, file: File, operation?: string): Promise<ImportOutcome> {
  if (file.size === 0) {
    return {
      ok: false,
      error: contractError("empty-file", `${file.name} is empty: choose a pcap or pcapng file.`),
    };
  }
  if (window.wirescope === undefined && file.size > IMPORT_MAX_IN_BROWSER) {
    return {
      ok: false,
      error: contractError(
        "file-too-big",
        `${file.name} is ${formatBytes(file.size)}; browser mode takes captures up to ` +
          `${formatBytes(IMPORT_MAX_IN_BROWSER)}. Cut it (editcap -c or tshark -Y) or use the desktop app.`,
      ),
    };
  }
  let data: Uint8Array<ArrayBuffer>;
  try {
    data = new Uint8Array(await file.arrayBuffer());
  } catch (err) {
    return {
      ok: false,
      error: contractError("unreadable-file", `${file.name} could not be read: ${(err as Error).message}.`),
    };
  }
  return api.importCapture({ name: file.name, data, ...(operation !== undefined ? { operation } : {}) });
}
