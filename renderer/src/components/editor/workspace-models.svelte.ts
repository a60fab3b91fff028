/**
 * The workspace's protocol files as editor models, kept for the life of the page (one `WorkspaceModels` per
 * engine connection, made by `workspaceModels`).
 *
 * Every file gets a model, not only the open one: TypeScript needs the others to resolve `import ... from
 * "./resp.ts"`. Models outlive the editor view, so unsaved edits (and their undo history) survive switching to a
 * traffic view and back. The engine is the source of truth for what is on disk: `sync` is called with each
 * `onProtocolsChanged` list, and a file whose mtime moved is read again — taken in at once when the model has no
 * unsaved edits, offered as a `conflict` when it has.
 */
import type * as Monaco from "monaco-editor/editor";
import type { CommandResult, ProtocolFile, Result, WirescopeApi } from "../../../../preload/contract.ts";
import type * as MonacoSetup from "../../lib/monaco.ts";
import type { MonacoApi } from "../../lib/monaco.ts";

type Lib = typeof MonacoSetup;

/**
 * One workspace file and its model. Created by WorkspaceModels; the view reads its state through the getters and
 * changes it only through the methods below (saving, settling a conflict, remembering where it was scrolled).
 */
export class WorkspaceFile {
  /** The content on disk as last read or saved here. */
  #disk: string;
  /** The engine's mtime for `#disk`; null until a list reported one. */
  #mtimeMs: number | null;
  /** The content of a save in flight, so that the watcher's report of it isn't taken for another editor's. */
  #saving: string | null = null;
  /** The model's alternative version id (undo-aware) now, and when it last matched the disk. */
  #version = $state(0);
  #savedVersion = $state(0);
  #dirty = $derived(this.#version !== this.#savedVersion);
  #conflict = $state<string | null>(null);
  #deleted = $state(false);
  #listed = false;
  #viewState: Monaco.editor.ICodeEditorViewState | null = null;
  /** Reads of the disk, one at a time. */
  #reading: Promise<void> = Promise.resolve();

  constructor(
    readonly path: string,
    readonly model: Monaco.editor.ITextModel,
    disk: string,
    mtimeMs: number | null,
  ) {
    this.#disk = disk;
    this.#mtimeMs = mtimeMs;
    this.#version = this.#savedVersion = model.getAlternativeVersionId();
    model.onDidChangeContent(() => (this.#version = model.getAlternativeVersionId()));
  }

  /** The model's alternative version id now: it changes with every edit (reactive). */
  get version(): number {
    return this.#version;
  }

  /** Unsaved edits. Undoing back to the saved text clears it. */
  get dirty(): boolean {
    return this.#dirty;
  }

  /** What another editor saved while this model had unsaved edits; null when there is nothing to decide. */
  get conflict(): string | null {
    return this.#conflict;
  }

  /** The file is no longer in the workspace (deleted elsewhere); saving writes it again. */
  get deleted(): boolean {
    return this.#deleted;
  }

  /** The engine's mtime of the content last read or saved here; null until a list reported one. */
  get mtimeMs(): number | null {
    return this.#mtimeMs;
  }

  /** Whether an engine list has named this file yet: only then does its absence from one mean "deleted". */
  get listed(): boolean {
    return this.#listed;
  }

  /** Where the cursor and scroll were when the view last showed it. */
  get viewState(): Monaco.editor.ICodeEditorViewState | null {
    return this.#viewState;
  }

  /** Called by the view as it stops showing the file, with where the cursor and scroll were. */
  rememberViewState(state: Monaco.editor.ICodeEditorViewState | null): void {
    this.#viewState = state;
  }

  /**
   * Saves the model's text through `api` (the engine writes, compiles and hot-loads it) and answers the engine's
   * result. Once saved, the text is the disk's (and the file is in the workspace again if it had been deleted);
   * edits made while the save was in flight stay unsaved.
   */
  async save(api: WirescopeApi): Promise<Result<CommandResult<"saveProtocol">>> {
    const content = this.model.getValue();
    const version = this.model.getAlternativeVersionId();
    this.#saving = content;
    const result = await api.saveProtocol({ path: this.path, content });
    this.#saving = null;
    if (result.ok) {
      this.#disk = content;
      this.#savedVersion = version;
      if (this.#conflict !== null) this.#conflict = null;
      this.#deleted = false;
    }
    return result;
  }

  /** Takes what another editor saved (the conflict) into the model, as one undoable edit; nothing when none. */
  takeConflict(): void {
    if (this.#conflict !== null) this.#takeDisk(this.#conflict);
  }

  /** Keeps the unsaved edits over what another editor saved: the next save overwrites it. */
  keepMine(): void {
    this.#conflict = null;
  }

  /** Called by WorkspaceModels when an engine list names the file: it is in the workspace. */
  markListed(): void {
    this.#listed = true;
    this.#deleted = false;
  }

  /** Called by WorkspaceModels when an engine list no longer names the file: deleted elsewhere. */
  markDeleted(): void {
    this.#deleted = true;
  }

  /** Replaces the model's text with `content` from disk, as one undoable edit, and marks it saved. */
  #takeDisk(content: string): void {
    this.#disk = content;
    this.#conflict = null;
    if (this.model.getValue() !== content) {
      this.model.pushStackElement();
      this.model.pushEditOperations([], [{ range: this.model.getFullModelRange(), text: content }], () => null);
      this.model.pushStackElement();
    }
    this.#savedVersion = this.#version = this.model.getAlternativeVersionId();
  }

  /** Re-reads the file after the engine reported mtime `mtimeMs`; serialised with other reads of this file. */
  refresh(api: WirescopeApi, mtimeMs: number): Promise<void> {
    this.#reading = this.#reading.then(async () => {
      if (this.#mtimeMs === mtimeMs) return;
      const read = await api.readProtocol({ path: this.path });
      if (!read.ok) return; // gone meanwhile: the next list says so
      this.#mtimeMs = mtimeMs;
      const content = read.value.content;
      if (content === this.#disk) return;
      if (content === this.#saving) {
        this.#disk = content; // our own save, reported before its answer
        return;
      }
      if (this.#dirty) {
        this.#disk = content;
        this.#conflict = content;
      } else {
        this.#takeDisk(content);
      }
    });
    return this.#reading;
  }
}

/** The models of one workspace, reached through `api`. */
export class WorkspaceModels {
  readonly #files = new Map<string, WorkspaceFile>();
  readonly #loading = new Map<string, Promise<WorkspaceFile>>();

  constructor(
    private readonly lib: Lib,
    private readonly api: WirescopeApi,
  ) {}

  get monaco(): MonacoApi {
    return this.lib.monaco;
  }

  /**
   * The file at `path`, read from disk the first time. `mtimeMs` is the engine's, if known. Rejects with the
   * engine's message when the file cannot be read.
   */
  open(path: string, mtimeMs: number | null): Promise<WorkspaceFile> {
    const known = this.#files.get(path);
    if (known) return Promise.resolve(known);
    let loading = this.#loading.get(path);
    if (!loading) {
      loading = this.#load(path, mtimeMs).finally(() => this.#loading.delete(path));
      this.#loading.set(path, loading);
    }
    return loading;
  }

  async #load(path: string, mtimeMs: number | null): Promise<WorkspaceFile> {
    const read = await this.api.readProtocol({ path });
    if (!read.ok) throw new Error(read.error.message);
    const uri = this.lib.workspaceUri(path);
    const model =
      this.monaco.editor.getModel(uri) ?? this.monaco.editor.createModel(read.value.content, "typescript", uri);
    model.updateOptions({ tabSize: 2, insertSpaces: true });
    const file = new WorkspaceFile(path, model, read.value.content, mtimeMs);
    this.#files.set(path, file);
    return file;
  }

  /**
   * Brings the models up to date with the engine's list: new files get a model (so imports of them resolve),
   * files whose mtime moved are read again, files no longer listed are marked deleted (and their models disposed
   * when nothing shows them and nothing is unsaved). Resolves when the reads it started are done.
   */
  async sync(list: readonly ProtocolFile[]): Promise<void> {
    const listed = new Set(list.map((f) => f.path));
    const created: Monaco.Uri[] = [];
    const work: Promise<unknown>[] = [];
    for (const entry of list) {
      const file = this.#files.get(entry.path);
      if (file === undefined) {
        work.push(
          this.open(entry.path, entry.mtimeMs).then(
            (f) => {
              f.markListed();
              created.push(f.model.uri);
            },
            () => {}, // unreadable now: tried again on the next list
          ),
        );
        continue;
      }
      file.markListed();
      if (file.mtimeMs !== entry.mtimeMs) work.push(file.refresh(this.api, entry.mtimeMs));
    }
    for (const [path, file] of this.#files) {
      if (listed.has(path) || !file.listed) continue;
      file.markDeleted();
      if (!file.dirty && !file.model.isAttachedToEditor()) {
        file.model.dispose();
        this.#files.delete(path);
      }
    }
    await Promise.all(work);
    await this.lib.shareWithTypeScript(created).catch(() => {});
  }
}

const shared = new WeakMap<WirescopeApi, Promise<WorkspaceModels>>();

/** The page's WorkspaceModels for `api`, loading Monaco the first time (again on the next call if that failed). */
export function workspaceModels(api: WirescopeApi): Promise<WorkspaceModels> {
  let models = shared.get(api);
  if (!models) {
    models = import("../../lib/monaco.ts").then(
      (lib) => new WorkspaceModels(lib, api),
      (err: unknown) => {
        shared.delete(api);
        throw new Error(`the editor could not be loaded (${(err as Error).message})`, { cause: err });
      },
    );
    shared.set(api, models);
  }
  return models;
}
