/**
 * Atomic file writes, for every file the app writes in place of the user's (protocols, profiles.json, settings.json):
 * a temporary file in the same folder, fsync, rename. A crash or a full disk leaves either the old content or the
 * new, never half a file.
 */
import { randomBytes } from "node:crypto";
import { promises as fsp } from "node:fs";
import path from "node:path";

/** Whether `err` is a system error with errno code `code`. */
export function isErrno(err: unknown, code: string): boolean {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === code;
}

/** Flushes a folder's entries (the rename) to disk; best effort, as some file systems refuse to open folders. */
export async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await fsp.open(dir, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // The data itself is synced; only the rename's durability across a power cut is at stake.
  }
}

/**
 * Writes `content` to `target` atomically: a hidden temporary file in the same folder (same file system, so the
 * rename is atomic), fsync, then rename over the target (`exclusive`: link, which fails if the target exists).
 * On any failure the temporary file is removed and the target is untouched. Keeps an existing target's mode, unless
 * `mode` is given (a private key's 0600): the file has that mode from its first byte.
 */
export async function writeAtomically(
  target: string,
  content: string | Uint8Array,
  exclusive: boolean,
  mode?: number,
): Promise<void> {
  const dir = path.dirname(target);
  const temporary = path.join(dir, `.${path.basename(target)}.${randomBytes(6).toString("hex")}.tmp`);
  let fileMode = mode ?? 0o644;
  if (!exclusive && mode === undefined) {
    try {
      fileMode = (await fsp.stat(target)).mode & 0o7777;
    } catch (err) {
      if (!isErrno(err, "ENOENT")) throw err;
    }
  }
  let created = false;
  try {
    const handle = await fsp.open(temporary, "wx", fileMode);
    created = true;
    try {
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (exclusive) {
      await fsp.link(temporary, target);
      await fsp.unlink(temporary).catch(() => undefined);
    } else {
      await fsp.rename(temporary, target);
    }
    created = false;
  } finally {
    if (created) await fsp.rm(temporary, { force: true }).catch(() => undefined);
  }
  await syncDirectory(dir);
}
