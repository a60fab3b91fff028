/**
 * Turning the folder a user typed into a workspace the engine can switch to (the `setWorkspace` command): the path
 * checked and made absolute, the folder created when missing, its README and captures/ laid out. Everything that
 * can fail happens here, before the engine lets go of the workspace it has.
 */
import { stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { EngineError } from "../engine/errors.ts";
import { Workspace } from "../workspace/workspace.ts";

/** A folder that cannot be a workspace: a relative path, a file, the file system's root. */
export class InvalidWorkspaceError extends EngineError {
  constructor(message: string) {
    super("invalid-workspace", message);
  }
}

/** A folder that could not be created or written (permissions, a read-only disk...). */
export class WorkspaceUnavailableError extends EngineError {
  constructor(folder: string, cause: unknown) {
    const reason = (cause as NodeJS.ErrnoException).code ?? (cause instanceof Error ? cause.message : String(cause));
    super(
      "workspace-unavailable",
      `Could not use ${folder} as the workspace (${reason}). Choose a folder you can write to.`,
      { cause },
    );
  }
}

/**
 * The absolute folder `input` names: surrounding spaces dropped, a leading "~" taken as the home folder. Throws
 * InvalidWorkspaceError for a relative path (relative to what? the app has no current folder a person can see),
 * a NUL, or the file system's root (a workspace is searched for protocols all the way down).
 */
export function resolveWorkspacePath(input: string, homeDir: string = os.homedir()): string {
  let folder = input.trim();
  if (folder === "") throw new InvalidWorkspaceError("The folder is empty: give the path of a folder.");
  if (folder.includes("\0")) throw new InvalidWorkspaceError("A folder path may not contain NUL characters.");
  if (folder === "~" || folder.startsWith("~/") || folder.startsWith(`~${path.sep}`)) {
    folder = path.join(homeDir, folder.slice(1));
  }
  if (!path.isAbsolute(folder)) {
    throw new InvalidWorkspaceError(
      `'${folder}' is not a full path: give one from the top, such as ${path.join(homeDir, "Wirescope")}.`,
    );
  }
  const resolved = path.resolve(folder);
  if (path.dirname(resolved) === resolved) {
    throw new InvalidWorkspaceError(
      `The top of the disk (${resolved}) cannot be the workspace: choose a folder in it.`,
    );
  }
  return resolved;
}

/**
 * Opens the folder `input` names as a workspace, creating it (and its README.txt and captures/) when missing.
 * Throws InvalidWorkspaceError when the path names a file or is not a full path, WorkspaceUnavailableError when
 * the folder cannot be created or written. Touches nothing that already exists.
 */
export async function openWorkspaceFolder(input: string): Promise<Workspace> {
  const folder = resolveWorkspacePath(input);
  const existing = await stat(folder).catch(() => null);
  if (existing !== null && !existing.isDirectory()) {
    throw new InvalidWorkspaceError(`${folder} is a file, not a folder: choose a folder (it is created if missing).`);
  }
  const workspace = new Workspace(folder);
  try {
    await workspace.init();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOTDIR" || code === "EEXIST") {
      throw new InvalidWorkspaceError(`${folder} cannot be created: part of its path is a file, not a folder.`);
    }
    throw new WorkspaceUnavailableError(folder, err);
  }
  return workspace;
}
