/**
 * The protocol workspace: a folder of plain .ts protocol files, git-friendly and editable in the app or in any
 * editor, plus the saved connection profiles (layout.ts names what is where; by default `<Documents>/Wirescope`).
 * `Workspace` is what the engine holds: the protocol files here, and the profiles (profiles.ts), the trash
 * (trash.ts) and the watcher (watcher.ts) behind the same object.
 *
 * Every write is atomic (atomic-write.ts): a crash or a full disk leaves either the old content or the new, never
 * half a file. Paths are checked before any file system call (protocol-path.ts).
 */
import { promises as fsp } from "node:fs";
import path from "node:path";
import { isErrno, syncDirectory, writeAtomically } from "./atomic-write.ts";
import { AlreadyExistsError, NotFoundError, WorkspaceError, WriteFailedError } from "./errors.ts";
import { capturesDir, readmeFile, WORKSPACE_README } from "./layout.ts";
import { ProfileStore, type ConnectionProfile } from "./profiles.ts";
import { checkProtocolPath, isIgnoredDirectory, isProtocolPath, quotePath } from "./protocol-path.ts";
import { templateImports, templateSource } from "./templates.ts";
import { moveToTrash } from "./trash.ts";
import { contentHash, watchWorkspace, type WorkspaceChange } from "./watcher.ts";

/** A protocol file, as `list()` returns it. */
export interface ProtocolFileInfo {
  /** Relative to the workspace root, "/"-separated: "redis.ts", "lib/frames.ts". */
  path: string;
  /** In bytes. */
  size: number;
  /** Last modification, in milliseconds since the epoch. */
  mtimeMs: number;
}

/** What `write()` and `create()` stored: enough for a caller to recognise its own write when `watch` reports it. */
export interface WrittenFile extends ProtocolFileInfo {
  /** `contentHash` of what was written. */
  hash: string;
}

/**
 * A workspace folder. Owns nothing but its `root` (and the queue of its profile saves): every method goes to the
 * file system, so edits made by other editors are always seen. Methods taking a protocol path validate it first
 * (InvalidPathError).
 */
export class Workspace {
  /** The absolute path of the workspace folder. */
  readonly root: string;
  readonly #profiles: ProfileStore;

  /** `root` is resolved to an absolute path; nothing is created until `init()`. */
  constructor(root: string) {
    this.root = path.resolve(root);
    this.#profiles = new ProfileStore(this.root);
  }

  /** The absolute path of protocol path `p`, after checking it. */
  resolve(p: string): string {
    return path.join(this.root, ...checkProtocolPath(p).split("/"));
  }

  /**
   * Creates the folder, captures/ and a README.txt when missing. Idempotent; touches nothing that exists.
   * Called once by the engine at startup, before any other method.
   */
  async init(): Promise<void> {
    await fsp.mkdir(capturesDir(this.root), { recursive: true });
    try {
      await writeAtomically(readmeFile(this.root), WORKSPACE_README, true);
    } catch (err) {
      if (!isErrno(err, "EEXIST")) throw err;
    }
  }

  /** Every protocol file, sorted by path. Skips captures/, hidden folders (.trash, .git) and node_modules. */
  async list(): Promise<ProtocolFileInfo[]> {
    const files: ProtocolFileInfo[] = [];
    const walk = async (relative: string): Promise<void> => {
      let entries;
      try {
        entries = await fsp.readdir(path.join(this.root, relative), { withFileTypes: true });
      } catch (err) {
        if (isErrno(err, "ENOENT") || isErrno(err, "ENOTDIR")) return;
        throw err;
      }
      for (const entry of entries) {
        const child = relative === "" ? entry.name : `${relative}/${entry.name}`;
        if (entry.isDirectory()) {
          if (!isIgnoredDirectory(child)) await walk(child);
        } else if (entry.isFile() && isProtocolPath(child)) {
          const stat = await fsp.stat(path.join(this.root, child)).catch(() => null);
          if (stat !== null) files.push({ path: child, size: stat.size, mtimeMs: stat.mtimeMs });
        }
      }
    };
    await walk("");
    return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /** The content of protocol `p`, as UTF-8 text. Throws NotFoundError if there is no such file. */
  async read(p: string): Promise<string> {
    try {
      return await fsp.readFile(this.resolve(p), "utf8");
    } catch (err) {
      if (isErrno(err, "ENOENT") || isErrno(err, "EISDIR")) {
        throw new NotFoundError(`there is no protocol ${quotePath(p)} in the workspace`);
      }
      throw err;
    }
  }

  /**
   * Saves `content` as protocol `p` atomically, creating its folders: afterwards the file holds either the old
   * content (on error: WriteFailedError) or the new, never a mix. Returns what was stored, with its hash: `watch`
   * reports this write too, and a caller can skip the change whose hash it just wrote.
   */
  async write(p: string, content: string): Promise<WrittenFile> {
    return this.#store(p, content, false);
  }

  /**
   * Creates protocol `name` (".ts" added if missing) from template `templateId`, its class named after the file
   * ("my-redis.ts": MyRedis). Throws AlreadyExistsError rather than overwrite, a WorkspaceError "no-template-source" for "raw",
   * UnknownTemplateError (code "unknown-template") for an unknown template. The files the template imports
   * (resp-tap imports "./resp.ts") are created beside it from their templates when missing; existing ones are
   * kept as they are: they are the user's.
   */
  async create(name: string, templateId: string): Promise<WrittenFile> {
    const p = checkProtocolPath(name === "" || name.endsWith(".ts") ? name : `${name}.ts`);
    const source = await templateSource(templateId, classNameFor(p));
    if (source === null) {
      throw new WorkspaceError(
        "no-template-source",
        `the '${templateId}' template has no file: connect without a protocol to see raw bytes`,
      );
    }
    const written = await this.#store(p, source, true);
    const folder = p.slice(0, p.lastIndexOf("/") + 1);
    for (const imported of templateImports(templateId)) {
      const beside = `${folder}${imported.file}`;
      const importedSource = (await templateSource(imported.template, classNameFor(beside)))!;
      await this.#store(beside, importedSource, true).catch((err: unknown) => {
        if (!(err instanceof AlreadyExistsError)) throw err;
      });
    }
    return written;
  }

  async #store(p: string, content: string, exclusive: boolean): Promise<WrittenFile> {
    const target = this.resolve(p);
    try {
      await fsp.mkdir(path.dirname(target), { recursive: true });
      await writeAtomically(target, content, exclusive);
    } catch (err) {
      if (exclusive && isErrno(err, "EEXIST")) throw new AlreadyExistsError(`protocol ${quotePath(p)} already exists`);
      const reason = err instanceof Error ? err.message : String(err);
      const kept = exclusive ? "nothing was created" : "the previous version is unchanged";
      throw new WriteFailedError(`could not save ${quotePath(p)}: ${reason}; ${kept}`, err);
    }
    const stat = await fsp.stat(target);
    return { path: p, size: stat.size, mtimeMs: stat.mtimeMs, hash: contentHash(content) };
  }

  /**
   * Renames protocol `from` to `to`, creating `to`'s folders. Never overwrites: AlreadyExistsError if `to` exists
   * (a hard link then an unlink, so the check and the move are one step). NotFoundError if `from` does not exist.
   * Files importing `from` are not rewritten: their next compile reports the broken import.
   */
  async rename(from: string, to: string): Promise<void> {
    const source = this.resolve(from);
    const target = this.resolve(to);
    if (source === target) return;
    await fsp.mkdir(path.dirname(target), { recursive: true });
    try {
      await fsp.link(source, target);
    } catch (err) {
      if (isErrno(err, "ENOENT")) throw new NotFoundError(`there is no protocol ${quotePath(from)} to rename`);
      if (isErrno(err, "EEXIST")) {
        throw new AlreadyExistsError(`cannot rename to ${quotePath(to)}: it already exists`);
      }
      throw err;
    }
    await fsp.unlink(source);
    await syncDirectory(path.dirname(source));
  }

  /**
   * Moves protocol `p` to `.trash/<time>/<p>` (never a hard delete: the user restores it from there) and returns
   * that trash path, relative to the root. NotFoundError if it does not exist.
   */
  async delete(p: string): Promise<string> {
    return moveToTrash(this.root, p, this.resolve(p));
  }

  /** The saved profiles, in the order saved (profiles.ts). */
  async listProfiles(): Promise<ConnectionProfile[]> {
    return this.#profiles.list();
  }

  /** Saves `profile`, replacing the one with the same name or adding it at the end (profiles.ts). */
  async saveProfile(profile: ConnectionProfile): Promise<void> {
    return this.#profiles.save(profile);
  }

  /** Deletes the profile named `name`; NotFoundError if there is none. */
  async deleteProfile(name: string): Promise<void> {
    return this.#profiles.delete(name);
  }

  /**
   * Calls `onChange` with the protocol files (and profiles.json) whose content changed, whoever changed them
   * (watcher.ts says how). Returns the function that stops watching; the caller owns it.
   */
  watch(onChange: (changes: WorkspaceChange[]) => void): () => void {
    return watchWorkspace(this.root, onChange);
  }
}

/** "my-redis.ts" -> "MyRedis"; "lib/2fa.ts" -> "P2fa". */
function classNameFor(p: string): string {
  const base = p.slice(p.lastIndexOf("/") + 1, -3);
  const name = base
    .split(/[-_]+/)
    .filter(Boolean)
    .map((word) => word[0]!.toUpperCase() + word.slice(1))
    .join("");
  return /^[0-9]/.test(name) ? `P${name}` : name;
}
