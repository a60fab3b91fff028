/**
 * Watching a workspace for changed protocol files and profiles.json, whoever changed them: this app's writes,
 * another editor saving in place, or saving by rename (vim, VS Code). What `Workspace.watch` runs.
 */
import { createHash } from "node:crypto";
import { promises as fsp, readdirSync, readFileSync, watch as watchDirectory, type FSWatcher } from "node:fs";
import path from "node:path";
import { Logger } from "../../core/index.ts";
import { PROFILES_FILE } from "./layout.ts";
import { isIgnoredDirectory, isProtocolPath } from "./protocol-path.ts";

/** How long `watch` waits for the file system to go quiet before reporting, in milliseconds. */
export const WATCH_DEBOUNCE_MS = 50;
/** The longest `watch` holds changes back while the file system keeps changing, in milliseconds. */
export const WATCH_MAX_DELAY_MS = 500;

const log = new Logger("wirescope.workspace");

/** One file that changed, as `watch` reports it. */
export interface WorkspaceChange {
  /** A protocol path, or "profiles.json". */
  path: string;
  /** `contentHash` of the new content; null when the file is gone (deleted, renamed away, moved to the trash). */
  hash: string | null;
}

/** The identity of some content, as `Workspace.write()` returns it and `watch` reports it: SHA-256, hex. */
export function contentHash(content: string | Uint8Array): string {
  return createHash("sha256").update(content).digest("hex");
}

/**
 * Calls `onChange` with the protocol files (and profiles.json) of the workspace at `root` whose content changed.
 * Changes are batched until the file system has been quiet for WATCH_DEBOUNCE_MS (at most WATCH_MAX_DELAY_MS),
 * then compared with the content last seen, so a save that changes nothing and an editor's intermediate steps are
 * not reported.
 *
 * The content as it is when `watchWorkspace` returns is the baseline (read synchronously, so no change is missed).
 * Uses one non-recursive fs.watch per folder (Node 20's recursive mode on Linux cannot skip captures/, which the
 * recorder writes to constantly). Returns the function that stops watching; the caller owns it.
 */
export function watchWorkspace(root: string, onChange: (changes: WorkspaceChange[]) => void): () => void {
  const watcher = new WorkspaceWatcher(root, onChange);
  return () => watcher.close();
}

/** Whether `watch` reports file `relative`. */
function isWatchedFile(relative: string): boolean {
  return relative === PROFILES_FILE || isProtocolPath(relative);
}

/** The machinery of `watchWorkspace`: one fs.watch per folder, a debounce, and the last hash of each file. */
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
