/**
 * The protocol workspace: a folder of plain .ts protocol files, git-friendly and editable in the app or in any
 * editor, plus the saved connection profiles. By default `<Documents>/Wirescope` (see `defaultWorkspaceRoot`).
 *
 *     <root>/README.txt       what the folder is (written by `init()` when missing)
 *     <root>/**\/*.ts          protocols; they may import each other with relative paths, and the core as "wirescope"
 *     <root>/profiles.json    saved connection profiles
 *     <root>/captures/        the recorder's capture files: not a protocol folder, not watched
 *     <root>/.trash/          protocols deleted from the app, by deletion time: never a hard delete of user code
 *
 * Every write is atomic (a temporary file in the same folder, fsync, rename): a crash or a full disk leaves either
 * the old content or the new, never half a file. Paths are checked before any file system call (`checkProtocolPath`).
 */
import { createHash, randomBytes } from "node:crypto";
import { promises as fsp, readdirSync, readFileSync, watch as watchDirectory, type FSWatcher } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Logger } from "../../core/index.ts";
import { templateImports, templateSource } from "./templates.ts";

/** The file holding the saved connection profiles, at the root. */
export const PROFILES_FILE = "profiles.json";
/** The folder, at the root, where sessions keep their capture files. Reserved: no protocol lives there. */
export const CAPTURES_DIR = "captures";
/** The folder, at the root, that deleted protocols are moved to. */
export const TRASH_DIR = ".trash";
/** The longest protocol path accepted, in characters. */
export const MAX_PATH_LENGTH = 200;
/** How long `watch` waits for the file system to go quiet before reporting, in milliseconds. */
export const WATCH_DEBOUNCE_MS = 50;
/** The longest `watch` holds changes back while the file system keeps changing, in milliseconds. */
export const WATCH_MAX_DELAY_MS = 500;

const README = `This folder is Wirescope's workspace.

- *.ts files are protocols: TypeScript classes in Twisted's style, e.g.

      import { LineReceiver } from "wirescope";
      export default class Greeter extends LineReceiver {
        override lineReceived(line: Buffer): void {
          this.sendLine(Buffer.from("hello " + line.toString()));
        }
      }

  Wirescope compiles and hot-loads them onto live connections when they are saved, from the app or from any
  editor. A protocol may import the core ("wirescope") and other files of this folder ("./util.ts").
- profiles.json holds saved connection profiles (client, listener, proxy).
- captures/ holds recorded sessions.
- .trash/ holds protocols deleted from the app; remove them from there for good.

Plain files: keep this folder under git if you like.
`;

/** What a protocol path may be made of, once the ".ts" is removed. */
const PROTOCOL_NAME = /^[A-Za-z0-9_-]+(?:\/[A-Za-z0-9_-]+)*$/;

const log = new Logger("wirescope.workspace");

// ---------------------------------------------------------------------------------------------------------------
// Errors

/** The stable codes of workspace errors; the contract carries them to the app as `{ code, message }`. */
export type WorkspaceErrorCode =
  | "INVALID_PATH"
  | "NOT_FOUND"
  | "ALREADY_EXISTS"
  | "NO_TEMPLATE_SOURCE"
  | "INVALID_PROFILE"
  | "CORRUPT_PROFILES"
  | "WRITE_FAILED";

/** Base of the workspace's errors: a stable `code` and a message a person can act on. */
export class WorkspaceError extends Error {
  constructor(
    /** Stable identifier of the error kind. */
    readonly code: WorkspaceErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A path that is not a valid protocol path (absolute, `..`, not .ts, odd characters, NUL...). */
export class InvalidPathError extends WorkspaceError {
  constructor(message: string) {
    super("INVALID_PATH", message);
  }
}

/** A protocol or profile that does not exist. */
export class NotFoundError extends WorkspaceError {
  constructor(message: string) {
    super("NOT_FOUND", message);
  }
}

/** Creating or renaming onto a path that is taken. */
export class AlreadyExistsError extends WorkspaceError {
  constructor(message: string) {
    super("ALREADY_EXISTS", message);
  }
}

/** A profile that does not have the shape of ConnectionProfile. */
export class InvalidProfileError extends WorkspaceError {
  constructor(message: string) {
    super("INVALID_PROFILE", message);
  }
}

/** profiles.json exists but cannot be read as profiles; it is left alone until the user fixes it. */
export class CorruptProfilesError extends WorkspaceError {
  constructor(message: string, cause: unknown) {
    super("CORRUPT_PROFILES", message, { cause });
  }
}

/** A write failed (permissions, full disk...); the previous content is untouched. `cause` is the system error. */
export class WriteFailedError extends WorkspaceError {
  constructor(message: string, cause: unknown) {
    super("WRITE_FAILED", message, { cause });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Paths

/** A path as shown in messages: quoted, with control characters escaped. */
function show(p: string): string {
  return `'${p.replace(/\p{Cc}/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)}'`;
}

/**
 * Checks that `p` is a protocol path: relative to the workspace, "/"-separated, inside it (no `..`, not absolute),
 * a `.ts` file, names of letters, digits, '-' and '_', not under captures/. Returns it unchanged; throws
 * InvalidPathError with what to change. Used on every path from outside before any file system call.
 */
export function checkProtocolPath(p: unknown): string {
  if (typeof p !== "string") throw new InvalidPathError(`a protocol path must be a string, got ${typeof p}`);
  if (p === "") throw new InvalidPathError("the protocol path is empty: give a name such as 'redis.ts'");
  if (p.includes("\0")) throw new InvalidPathError(`protocol paths may not contain NUL characters: got ${show(p)}`);
  if (p.startsWith("/") || p.startsWith("\\") || /^[A-Za-z]:/.test(p)) {
    throw new InvalidPathError(`protocol paths are relative to the workspace, such as 'redis.ts': got ${show(p)}`);
  }
  if (p.split(/[/\\]/).includes("..")) {
    throw new InvalidPathError(`protocol paths may not leave the workspace with '..': got ${show(p)}`);
  }
  if (!p.endsWith(".ts")) throw new InvalidPathError(`protocols are .ts files: got ${show(p)}`);
  if (p.length > MAX_PATH_LENGTH) {
    throw new InvalidPathError(`protocol paths are at most ${MAX_PATH_LENGTH} characters: got ${p.length}`);
  }
  if (!PROTOCOL_NAME.test(p.slice(0, -3))) {
    throw new InvalidPathError(`protocol names may contain letters, digits, '-', '_' and '/': got ${show(p)}`);
  }
  if (p.split("/")[0] === CAPTURES_DIR && p.includes("/")) {
    throw new InvalidPathError(`'${CAPTURES_DIR}/' is reserved for capture files: got ${show(p)}`);
  }
  return p;
}

/** Whether `p` is a valid protocol path (checkProtocolPath without the throw). */
export function isProtocolPath(p: string): boolean {
  try {
    checkProtocolPath(p);
    return true;
  } catch {
    return false;
  }
}

/** The identity of some content, as `write()` returns it and `watch()` reports it: SHA-256, hex. */
export function contentHash(content: string | Uint8Array): string {
  return createHash("sha256").update(content).digest("hex");
}

/**
 * The workspace folder to use: `$WIRESCOPE_WORKSPACE` when set; else `<documents>/Wirescope`, where documents is
 * `options.documentsDir` (the Electron shell passes `app.getPath("documents")`), else `$XDG_DOCUMENTS_DIR`, else
 * `~/Documents`. Pure: creates nothing (that is `init()`).
 */
export function defaultWorkspaceRoot(
  options: { documentsDir?: string; env?: NodeJS.ProcessEnv; homeDir?: string } = {},
): string {
  const env = options.env ?? process.env;
  if (env.WIRESCOPE_WORKSPACE) return path.resolve(env.WIRESCOPE_WORKSPACE);
  const documents =
    options.documentsDir ?? env.XDG_DOCUMENTS_DIR ?? path.join(options.homeDir ?? os.homedir(), "Documents");
  return path.resolve(documents, "Wirescope");
}

// ---------------------------------------------------------------------------------------------------------------
// Atomic writes

/** Whether `err` is a system error with errno code `code`. */
function isErrno(err: unknown, code: string): boolean {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === code;
}

/** Flushes a folder's entries (the rename) to disk; best effort, as some file systems refuse to open folders. */
async function syncDirectory(dir: string): Promise<void> {
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
 * On any failure the temporary file is removed and the target is untouched. Keeps an existing target's mode.
 */
export async function writeAtomically(target: string, content: string | Uint8Array, exclusive: boolean): Promise<void> {
  const dir = path.dirname(target);
  const temporary = path.join(dir, `.${path.basename(target)}.${randomBytes(6).toString("hex")}.tmp`);
  let mode = 0o644;
  if (!exclusive) {
    try {
      mode = (await fsp.stat(target)).mode & 0o7777;
    } catch (err) {
      if (!isErrno(err, "ENOENT")) throw err;
    }
  }
  let created = false;
  try {
    const handle = await fsp.open(temporary, "wx", mode);
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

// ---------------------------------------------------------------------------------------------------------------
// Profiles

/** A saved connection: what the connect dialog fills in. */
export interface ConnectionProfile {
  /** Unique within the workspace; what the user picks it by. */
  name: string;
  /** Connect to a server, accept connections, or sit in the middle. */
  kind: "client" | "listener" | "proxy";
  /** A Twisted endpoint string: where to connect (client) or listen (listener, proxy). */
  endpoint: string;
  /** For a proxy (required there): the endpoint string of the server to forward to. */
  upstream?: string;
  /** A protocol path in the workspace, or absent for raw bytes. */
  protocol?: string;
}

const PROFILE_KINDS = ["client", "listener", "proxy"] as const;
/** The longest profile name, endpoint or upstream accepted, in characters. */
const MAX_PROFILE_TEXT = 1000;

/** Checks a profile's shape and returns a clean copy (unknown fields dropped); throws InvalidProfileError. */
function checkProfile(value: unknown): ConnectionProfile {
  if (typeof value !== "object" || value === null) throw new InvalidProfileError("a profile must be an object");
  const { name, kind, endpoint, upstream, protocol } = value as Record<string, unknown>;
  const text = (field: string, v: unknown): string => {
    if (typeof v !== "string" || v.trim() === "" || v.length > MAX_PROFILE_TEXT || /\p{Cc}/u.test(v)) {
      throw new InvalidProfileError(
        `a profile's ${field} must be a non-empty line of at most ${MAX_PROFILE_TEXT} characters`,
      );
    }
    return v;
  };
  const profile: ConnectionProfile = { name: text("name", name), kind: "client", endpoint: "" };
  if (!PROFILE_KINDS.includes(kind as ConnectionProfile["kind"])) {
    throw new InvalidProfileError(`a profile's kind is one of ${PROFILE_KINDS.join(", ")}: got ${String(kind)}`);
  }
  profile.kind = kind as ConnectionProfile["kind"];
  profile.endpoint = text("endpoint", endpoint);
  if (upstream !== undefined) profile.upstream = text("upstream", upstream);
  if (profile.kind === "proxy" && profile.upstream === undefined) {
    throw new InvalidProfileError(`proxy profile '${profile.name}' needs an upstream endpoint to forward to`);
  }
  if (protocol !== undefined) {
    try {
      profile.protocol = checkProtocolPath(protocol);
    } catch (err) {
      throw new InvalidProfileError(`profile '${profile.name}': ${(err as Error).message}`);
    }
  }
  return profile;
}

// ---------------------------------------------------------------------------------------------------------------
// The workspace

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

/** One file that changed, as `watch` reports it. */
export interface WorkspaceChange {
  /** A protocol path, or "profiles.json". */
  path: string;
  /** `contentHash` of the new content; null when the file is gone (deleted, renamed away, moved to the trash). */
  hash: string | null;
}

/**
 * A workspace folder. Owns nothing but its `root`: every method goes to the file system, so edits made by other
 * editors are always seen. Methods taking a protocol path validate it first (InvalidPathError).
 */
export class Workspace {
  /** The absolute path of the workspace folder. */
  readonly root: string;
  /** Serialises the read-modify-write of profiles.json, so two saves never lose one another. */
  #profilesQueue: Promise<unknown> = Promise.resolve();

  /** `root` is resolved to an absolute path; nothing is created until `init()`. */
  constructor(root: string) {
    this.root = path.resolve(root);
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
    await fsp.mkdir(path.join(this.root, CAPTURES_DIR), { recursive: true });
    try {
      await writeAtomically(path.join(this.root, "README.txt"), README, true);
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
        throw new NotFoundError(`there is no protocol ${show(p)} in the workspace`);
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
   * ("my-redis.ts": MyRedis). Throws AlreadyExistsError rather than overwrite, a WorkspaceError "NO_TEMPLATE_SOURCE" for "raw",
   * UnknownTemplateError (code "UNKNOWN_TEMPLATE") for an unknown template. The files the template imports
   * (resp-tap imports "./resp.ts") are created beside it from their templates when missing; existing ones are
   * kept as they are: they are the user's.
   */
  async create(name: string, templateId: string): Promise<WrittenFile> {
    const p = checkProtocolPath(name === "" || name.endsWith(".ts") ? name : `${name}.ts`);
    const source = await templateSource(templateId, classNameFor(p));
    if (source === null) {
      throw new WorkspaceError(
        "NO_TEMPLATE_SOURCE",
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
      if (exclusive && isErrno(err, "EEXIST")) throw new AlreadyExistsError(`protocol ${show(p)} already exists`);
      const reason = err instanceof Error ? err.message : String(err);
      const kept = exclusive ? "nothing was created" : "the previous version is unchanged";
      throw new WriteFailedError(`could not save ${show(p)}: ${reason}; ${kept}`, err);
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
      if (isErrno(err, "ENOENT")) throw new NotFoundError(`there is no protocol ${show(from)} to rename`);
      if (isErrno(err, "EEXIST")) throw new AlreadyExistsError(`cannot rename to ${show(to)}: it already exists`);
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
    const source = this.resolve(p);
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    const trashPath = `${TRASH_DIR}/${stamp}-${randomBytes(3).toString("hex")}/${p}`;
    const target = path.join(this.root, ...trashPath.split("/"));
    try {
      await fsp.access(source);
    } catch {
      throw new NotFoundError(`there is no protocol ${show(p)} to delete`);
    }
    await fsp.mkdir(path.dirname(target), { recursive: true });
    await fsp.rename(source, target);
    return trashPath;
  }

  /** The saved profiles, in the order saved. [] when there is no profiles.json; CorruptProfilesError if unreadable. */
  async listProfiles(): Promise<ConnectionProfile[]> {
    const file = path.join(this.root, PROFILES_FILE);
    let text: string;
    try {
      text = await fsp.readFile(file, "utf8");
    } catch (err) {
      if (isErrno(err, "ENOENT")) return [];
      throw err;
    }
    try {
      const parsed: unknown = JSON.parse(text);
      const list = (parsed as { profiles?: unknown } | null)?.profiles;
      if (!Array.isArray(list)) throw new Error('no "profiles" array');
      return list.map(checkProfile);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new CorruptProfilesError(
        `${PROFILES_FILE} in ${this.root} cannot be read (${reason}): fix or remove it; it is left as it is`,
        err,
      );
    }
  }

  /**
   * Saves `profile` (validated: InvalidProfileError), replacing the one with the same name or adding it at the end.
   * Atomic; saves are serialised so concurrent ones never lose one another. Refuses (CorruptProfilesError) to
   * overwrite a profiles.json it cannot read.
   */
  async saveProfile(profile: ConnectionProfile): Promise<void> {
    const clean = checkProfile(profile);
    await this.#updateProfiles((profiles) => {
      const at = profiles.findIndex((p) => p.name === clean.name);
      if (at === -1) profiles.push(clean);
      else profiles[at] = clean;
      return profiles;
    });
  }

  /** Deletes the profile named `name`; NotFoundError if there is none. */
  async deleteProfile(name: string): Promise<void> {
    await this.#updateProfiles((profiles) => {
      const kept = profiles.filter((p) => p.name !== name);
      if (kept.length === profiles.length) throw new NotFoundError(`there is no profile named '${name}'`);
      return kept;
    });
  }

  async #updateProfiles(change: (profiles: ConnectionProfile[]) => ConnectionProfile[]): Promise<void> {
    const run = async (): Promise<void> => {
      const profiles = change(await this.listProfiles());
      const file = path.join(this.root, PROFILES_FILE);
      try {
        await fsp.mkdir(this.root, { recursive: true });
        await writeAtomically(file, `${JSON.stringify({ version: 1, profiles }, null, 2)}\n`, false);
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        throw new WriteFailedError(
          `could not save ${PROFILES_FILE}: ${reason}; the previous profiles are unchanged`,
          err,
        );
      }
    };
    const done = this.#profilesQueue.then(run, run);
    this.#profilesQueue = done.catch(() => undefined);
    return done;
  }

  /**
   * Calls `onChange` with the protocol files (and profiles.json) whose content changed, whoever changed them:
   * this app's `write()`, another editor saving in place, or saving by rename (vim, VS Code). Changes are batched
   * until the file system has been quiet for WATCH_DEBOUNCE_MS (at most WATCH_MAX_DELAY_MS), then compared with
   * the content last seen, so a save that changes nothing and an editor's intermediate steps are not reported.
   *
   * The content as it is when `watch` returns is the baseline (read synchronously, so no change is missed).
   * Uses one non-recursive fs.watch per folder (Node 20's recursive mode on Linux cannot skip captures/, which the
   * recorder writes to constantly). Returns the function that stops watching; the caller owns it.
   */
  watch(onChange: (changes: WorkspaceChange[]) => void): () => void {
    const watcher = new WorkspaceWatcher(this.root, onChange);
    return () => watcher.close();
  }
}

/** Whether folder `relative` is skipped by list() and watch(): hidden ones (.trash, .git), captures/, node_modules. */
function isIgnoredDirectory(relative: string): boolean {
  const name = relative.slice(relative.lastIndexOf("/") + 1);
  return name.startsWith(".") || name === "node_modules" || relative === CAPTURES_DIR;
}

/** Whether `watch` reports file `relative`. */
function isWatchedFile(relative: string): boolean {
  return relative === PROFILES_FILE || isProtocolPath(relative);
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

/** The machinery of `Workspace.watch`: one fs.watch per folder, a debounce, and the last hash of each file. */
class WorkspaceWatcher {
  readonly #watchers = new Map<string, FSWatcher>();
  /** Last seen content hash of every watched file, by relative path. */
  readonly #known = new Map<string, string>();
  /** Relative paths something happened to since the last flush (a file, a folder, or a folder to rescan). */
  readonly #dirty = new Set<string>();
  #timer: NodeJS.Timeout | null = null;
  #firstDirtyAt = 0;
  #flushing: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(
    private readonly root: string,
    private readonly onChange: (changes: WorkspaceChange[]) => void,
  ) {
    this.#baseline("");
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    for (const watcher of this.#watchers.values()) watcher.close();
    this.#watchers.clear();
  }

  /** Watches folder `relative` and its subfolders, recording the hash of each file in them. */
  #baseline(relative: string): void {
    this.#watchFolder(relative);
    let entries;
    try {
      entries = readdirSync(path.join(this.root, relative), { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const child = join(relative, entry.name);
      if (entry.isDirectory() && !isIgnoredDirectory(child)) this.#baseline(child);
      else if (entry.isFile() && isWatchedFile(child)) {
        try {
          this.#known.set(child, contentHash(readFileSync(path.join(this.root, child))));
        } catch {
          // Gone already: its creation, if it comes back, is reported.
        }
      }
    }
  }

  #watchFolder(relative: string): void {
    if (this.#watchers.has(relative) || this.#closed) return;
    let watcher: FSWatcher;
    try {
      watcher = watchDirectory(path.join(this.root, relative), (_event, name) => {
        this.#touched(name ? join(relative, name.toString()) : relative);
      });
    } catch {
      return; // Gone or unreadable: its parent's watcher reports what happens to it.
    }
    watcher.on("error", () => {
      watcher.close();
      if (this.#watchers.get(relative) === watcher) this.#watchers.delete(relative);
      this.#touched(relative);
    });
    this.#watchers.set(relative, watcher);
  }

  /** Notes that something happened to `relative`, and schedules a flush. */
  #touched(relative: string): void {
    if (this.#closed) return;
    const now = Date.now();
    if (this.#dirty.size === 0) this.#firstDirtyAt = now;
    this.#dirty.add(relative);
    if (this.#timer !== null) clearTimeout(this.#timer);
    const wait = Math.min(WATCH_DEBOUNCE_MS, Math.max(0, this.#firstDirtyAt + WATCH_MAX_DELAY_MS - now));
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#flushing = this.#flushing.then(() => this.#flush());
    }, wait);
  }

  async #flush(): Promise<void> {
    const paths = [...this.#dirty];
    this.#dirty.clear();
    const changes = new Map<string, string | null>();
    for (const relative of paths) await this.#examine(relative, changes);
    if (changes.size === 0 || this.#closed) return;
    const list = [...changes].map(([p, hash]) => ({ path: p, hash })).sort((a, b) => (a.path < b.path ? -1 : 1));
    try {
      this.onChange(list);
    } catch (err) {
      log.failure("a workspace watch callback threw", err, {}, "error");
    }
  }

  /** Compares what is at `relative` now with what was known, recording the differences in `changes`. */
  async #examine(relative: string, changes: Map<string, string | null>): Promise<void> {
    if (relative !== "" && relative.split("/").some((part) => part.startsWith("."))) return;
    const absolute = path.join(this.root, relative);
    const stat = await fsp.stat(absolute).catch(() => null);
    if (stat?.isDirectory()) {
      if (relative !== "" && isIgnoredDirectory(relative)) return;
      this.#watchFolder(relative);
      const entries = await fsp.readdir(absolute).catch(() => [] as string[]);
      for (const known of this.#known.keys()) {
        if (parentOf(known) === relative && !entries.includes(known.slice(known.lastIndexOf("/") + 1))) {
          this.#forget(known, changes);
        }
      }
      for (const name of entries) await this.#examine(join(relative, name), changes);
      return;
    }
    if (stat?.isFile()) {
      if (!isWatchedFile(relative)) return;
      const content = await fsp.readFile(absolute).catch(() => null);
      if (content === null) return this.#forget(relative, changes);
      const hash = contentHash(content);
      if (this.#known.get(relative) !== hash) {
        this.#known.set(relative, hash);
        changes.set(relative, hash);
      }
      return;
    }
    this.#forget(relative, changes);
  }

  /** `relative` is gone: forget it, and every file and watcher under it if it was a folder. */
  #forget(relative: string, changes: Map<string, string | null>): void {
    const under = (p: string) => p === relative || p.startsWith(`${relative}/`);
    for (const known of [...this.#known.keys()]) {
      if (under(known)) {
        this.#known.delete(known);
        changes.set(known, null);
      }
    }
    if (relative === "") return;
    for (const [folder, watcher] of [...this.#watchers]) {
      if (under(folder)) {
        watcher.close();
        this.#watchers.delete(folder);
      }
    }
  }
}

function join(parent: string, name: string): string {
  return parent === "" ? name : `${parent}/${name}`;
}

function parentOf(relative: string): string {
  const at = relative.lastIndexOf("/");
  return at === -1 ? "" : relative.slice(0, at);
}
