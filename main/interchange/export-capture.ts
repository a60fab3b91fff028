/**
 * Exporting a session's own Wirescope capture (.wscap): the one export every session kind has, and the one a process
 * session has instead of pcapng (whose packets have no place for pipes). The capture, as recorded so far, is copied
 * into the workspace's exports folder, from where the workbench offers it as a download in browser mode (as it does
 * pcapng files); `wirescope show` prints the copy and "Open recording" reopens it. The session's own file is only
 * read: it goes on recording.
 */
import { constants } from "node:fs";
import * as fsp from "node:fs/promises";
import { fileStem } from "../../preload/file-stem.ts";
import { exclusiveFile, type SessionHeader } from "./export.ts";

/** What exportCapture wrote. */
export interface CaptureExport {
  /** The copy's absolute path. */
  path: string;
  /** The copy's size. */
  bytes: number;
}

/**
 * Copies `capture` (a capture file whose writer has flushed what it recorded: the Recorder's `flush`) into `folder`
 * (created if missing) as `<session's name>.wscap`, never over an existing file (`-2`, ... as exportSession does). A
 * record the writer appends during the copy may be cut at its end: readers take such a tail as a capture cut short
 * and read everything before it. A failed copy leaves no file.
 */
export async function exportCapture(
  info: Pick<SessionHeader, "id" | "name">,
  capture: string,
  folder: string,
): Promise<CaptureExport> {
  await fsp.mkdir(folder, { recursive: true });
  const file = await exclusiveFile(folder, fileStem(info), ".wscap", async (file) => {
    try {
      await fsp.copyFile(capture, file, constants.COPYFILE_EXCL);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") await fsp.rm(file, { force: true });
      throw err;
    }
    return file;
  });
  return { path: file, bytes: (await fsp.stat(file)).size };
}
