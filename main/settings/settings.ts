/**
 * The app's settings, kept between runs in one small JSON file: for now, which folder is the workspace. One file
 * for every front end — the desktop app, browser mode and the CLI all read `settingsDir()`, so moving the workspace
 * in one moves it for the others (the desktop app's window position stays in Electron's user data folder). The
 * shell and browser mode open the store at start, open the workspace it names (start-workspace.ts, which falls back
 * to the default when the saved one cannot be used), and hand the store to the engine, whose `setWorkspace` command
 * records the user's choice; the CLI only asks `savedWorkspace()`.
 *
 *     { "version": 1, "workspace": "/home/me/protocols" }
 *
 * Writes are atomic (atomic-write.ts's writeAtomically: a temporary file, fsync, rename): a crash leaves the old file
 * or the new one. A file that cannot be read as settings never stops the app: it starts with the defaults, says
 * why once (`problem`), and the next change replaces the file.
 */
import { mkdir, readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { EngineError } from "../engine/errors.ts";
import { writeAtomically } from "../workspace/atomic-write.ts";
import { defaultWorkspaceRoot } from "../workspace/layout.ts";

/** The settings file's name, in its folder. */
export const SETTINGS_FILE = "settings.json";
/** The version of the file's format this code writes. */
const VERSION = 1;

/** What the file holds. Absent fields take their defaults. */
export interface StoredSettings {
  /** The workspace folder the user chose (absolute); absent: the default one. */
  workspace?: string;
}

/** The settings could not be saved (permissions, a full disk...); what was saved before is untouched. */
export class SettingsUnwritableError extends EngineError {
  constructor(file: string, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(
      "settings-unwritable",
      `Could not save the settings to ${file} (${reason}). Check that the folder is writable, then try again.`,
      { cause },
    );
  }
}

/**
 * Where every front end keeps its settings: `$WIRESCOPE_CONFIG_DIR` when set (tests point it at a temporary folder),
 * else `$XDG_CONFIG_HOME/wirescope`, else `~/.config/wirescope` (the XDG Base Directory default). Pure.
 */
export function settingsDir(options: { env?: NodeJS.ProcessEnv; homeDir?: string } = {}): string {
  const env = options.env ?? process.env;
  if (env.WIRESCOPE_CONFIG_DIR) return path.resolve(env.WIRESCOPE_CONFIG_DIR);
  const config = env.XDG_CONFIG_HOME ? env.XDG_CONFIG_HOME : path.join(options.homeDir ?? os.homedir(), ".config");
  return path.resolve(config, "wirescope");
}

/**
 * The default workspace, `<documents>/Wirescope` (`documentsDir`: the desktop app passes the OS's documents folder,
 * `app.getPath("documents")`; browser mode none: `$XDG_DOCUMENTS_DIR` or `~/Documents`). Unlike
 * defaultWorkspaceRoot, `$WIRESCOPE_WORKSPACE` does not count: it overrides one run, it is not the default.
 */
export function defaultWorkspace(documentsDir?: string, env: NodeJS.ProcessEnv = process.env): string {
  const { WIRESCOPE_WORKSPACE: _override, ...rest } = env;
  return defaultWorkspaceRoot({ env: rest, ...(documentsDir === undefined ? {} : { documentsDir }) });
}

/**
 * The workspace a front end should use, without opening it: `$WIRESCOPE_WORKSPACE` when set, else the one saved in
 * Settings (the file in `settingsDir()`), else the default (`defaultWorkspace()`). A settings file that cannot be
 * read counts as none. Does not check or create the folder: whoever uses it reports a folder that is not there or
 * not usable (start-workspace.ts does it for the app). For the CLI (main/cli).
 */
export async function savedWorkspace(options: { env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const env = options.env ?? process.env;
  if (env.WIRESCOPE_WORKSPACE) return path.resolve(env.WIRESCOPE_WORKSPACE);
  const store = await SettingsStore.open({
    dir: settingsDir({ env }),
    defaultWorkspace: defaultWorkspace(undefined, env),
  });
  return store.startWorkspace(env);
}

/** Options of `SettingsStore.open`. */
export interface SettingsStoreOptions {
  /** The folder of the settings file (created on the first write). */
  dir: string;
  /** Where the workspace is unless the user moves it: `<documents>/Wirescope` (defaultWorkspaceRoot). */
  defaultWorkspace: string;
}

/**
 * The settings of one app instance. Owned by whoever starts the engine (the shell, browser mode); the engine only
 * calls `rememberWorkspace`. One writer per file: two writes from this store never interleave.
 */
export class SettingsStore {
  /** Why the file was not used, when it exists but could not be read as settings; null otherwise. */
  readonly problem: string | null;
  #stored: StoredSettings;
  #writes: Promise<unknown> = Promise.resolve();

  private constructor(
    /** The settings file. */
    readonly file: string,
    /** Where the workspace is unless the user moves it. */
    readonly defaultWorkspace: string,
    stored: StoredSettings,
    problem: string | null,
  ) {
    this.#stored = stored;
    this.problem = problem;
  }

  /** Reads the settings file; a missing one gives the defaults, and so does a broken one (see `problem`). */
  static async open(options: SettingsStoreOptions): Promise<SettingsStore> {
    const file = path.join(options.dir, SETTINGS_FILE);
    const defaultWorkspace = path.resolve(options.defaultWorkspace);
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      const missing = (err as NodeJS.ErrnoException).code === "ENOENT";
      const problem = missing ? null : `could not read ${file} (${(err as Error).message}); using the defaults`;
      return new SettingsStore(file, defaultWorkspace, {}, problem);
    }
    const parsed = parseSettings(text);
    if (typeof parsed === "string") {
      return new SettingsStore(file, defaultWorkspace, {}, `${file} ${parsed}; using the defaults`);
    }
    return new SettingsStore(file, defaultWorkspace, parsed, null);
  }

  /** The workspace the user chose, or undefined when they kept the default. */
  get workspace(): string | undefined {
    return this.#stored.workspace;
  }

  /**
   * The workspace to open at start: `$WIRESCOPE_WORKSPACE` when set (a choice for this run only, never saved),
   * else the one the user chose, else the default.
   */
  startWorkspace(env: NodeJS.ProcessEnv = process.env): string {
    if (env.WIRESCOPE_WORKSPACE) return path.resolve(env.WIRESCOPE_WORKSPACE);
    return this.#stored.workspace ?? this.defaultWorkspace;
  }

  /**
   * Records `root` (absolute) as the workspace for the next runs; the default itself is recorded as "no choice",
   * so that a later change of the default applies. Resolves once the file is on disk; rejects with
   * SettingsUnwritableError, leaving the file and this store as they were.
   */
  rememberWorkspace(root: string): Promise<void> {
    const next: StoredSettings = { ...this.#stored };
    const resolved = path.resolve(root);
    if (resolved === this.defaultWorkspace) delete next.workspace;
    else next.workspace = resolved;
    const write = this.#writes.then(async () => {
      try {
        await mkdir(path.dirname(this.file), { recursive: true });
        await writeAtomically(this.file, `${JSON.stringify({ version: VERSION, ...next }, null, 2)}\n`, false);
      } catch (err) {
        throw new SettingsUnwritableError(this.file, err);
      }
      this.#stored = next;
    });
    this.#writes = write.catch(() => undefined);
    return write;
  }
}

/** The settings in `text`, or what is wrong with it. Unknown fields are ignored (a newer version may add some). */
function parseSettings(text: string): StoredSettings | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return "is not JSON";
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "does not hold an object";
  const { workspace } = value as { workspace?: unknown };
  if (workspace === undefined) return {};
  if (typeof workspace !== "string" || !path.isAbsolute(workspace)) {
    return "has a workspace that is not an absolute folder path";
  }
  return { workspace };
}
