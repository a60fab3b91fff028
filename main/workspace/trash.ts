/**
 * The workspace's trash: where `Workspace.delete` moves protocols, never deleting user code for good. Each deletion
 * gets its own folder, named by the time (then a few random characters), under `.trash/`, keeping the protocol's
 * path inside it, so the user finds and restores a file from a file manager or git.
 */
import { randomBytes } from "node:crypto";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { NotFoundError } from "./errors.ts";
import { trashPath } from "./layout.ts";
import { quotePath } from "./protocol-path.ts";

/**
 * Moves protocol `p` (a checked protocol path), at `source` in the workspace at `root`, to `.trash/<time>/<p>` and
 * returns that trash path, relative to the root. NotFoundError if it does not exist.
 */
export async function moveToTrash(root: string, p: string, source: string): Promise<string> {
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const trashed = trashPath(`${stamp}-${randomBytes(3).toString("hex")}`, p);
  const target = path.join(root, ...trashed.split("/"));
  try {
    await fsp.access(source);
  } catch {
    throw new NotFoundError(`there is no protocol ${quotePath(p)} to delete`);
  }
  await fsp.mkdir(path.dirname(target), { recursive: true });
  await fsp.rename(source, target);
  return trashed;
}
