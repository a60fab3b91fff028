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
import type { ProtocolFile, WirescopeApi } from "../../../../preload/contract.ts";
import type * as MonacoSetup from "../../lib/monaco.ts";
import type { MonacoApi } from "../../lib/monaco.ts";

type Lib = typeof MonacoSetup;

/** One workspace file and its model. Created by WorkspaceModels; the view reads its state, WorkspaceModels owns it. */
export class WorkspaceFile {
  /** The content on disk as last read or saved here. */
  disk: string;
  /** The engine's mtime for `disk`; null until a list reported one. */
  mtimeMs: number | null;
  /** The content of a save in flight, so that the watcher's report of it isn't taken for another editor's. */
  saving: string | null = null;
  /** The model's alternative version id (undo-aware) now, and when it last matched the disk. */
  version = $state(0);
  savedVersion = $state(0);
  /** Unsaved edits. Undoing back to the saved text clears it. */
  readonly dirty = $derived(this.version !== this.savedVersion);
  /** What another editor saved while this model had unsaved edits; null when there is nothing to decide. */
  conflict = $state<string | null>(null);
  /** The file is no longer in the workspace (deleted elsewhere); saving writes it again. */
  deleted = $state(false);
  /** Whether an engine list has named this file yet: only then does its absence from one mean "deleted". */
  listed = false;
  /** Where the cursor and scroll were when the view last showed it. */
  viewState: Monaco.editor.ICodeEditorViewState | null = null;
  /** Reads of the disk, one at a time. */
  #reading: Promise<void> = Promise.resolve();

  constructor(
    readonly path: string,
    readonly model: Monaco.editor.ITextModel,
    disk: string,
    mtimeMs: number | null,
  ) {
    this.disk = disk;
    this.mtimeMs = mtimeMs;
    this.version = this.savedVersion = model.getAlternativeVersionId();
    model.onDidChangeContent(() => (this.version = model.getAlternativeVersionId()));
  }

  /** Replaces the model's text with `content` from disk, as one undoable edit, and marks it saved. */
  takeDisk(content: string): void {
    this.disk = content;
    this.conflict = null;
    if (this.model.getValue() !== content) {
      this.model.pushStackElement();
      this.model.pushEditOperations([], [{ range: this.model.getFullModelRange(), text: content }], () => null);
      this.model.pushStackElement();
    }
    this.savedVersion = this.version = this.model.getAlternativeVersionId();
  }

  /** Records that `content`, the model's text at alternative version `version`, is now on disk. */
  saved(content: string, version: number): void {
    this.disk = content;
    this.savedVersion = version;
    if (this.conflict !== null) this.conflict = null;
  }

  /** Re-reads the file after the engine reported mtime `mtimeMs`; serialised with other reads of this file. */
  refresh(api: WirescopeApi, mtimeMs: number): Promise<void> {
    this.#reading = this.#reading.then(async () => {
      if (this.mtimeMs === mtimeMs) return;
      const read = await api.readProtocol({ path: this.path });
      if (!read.ok) return; // gone meanwhile: the next list says so
      this.mtimeMs = mtimeMs;
      const content = read.value.content;
      if (content === this.disk) return;
      if (content === this.saving) {
        this.disk = content; // our own save, reported before its answer
        return;
      }
      if (this.dirty) {
        this.disk = content;
        this.conflict = content;
      } else {
        this.takeDisk(content);
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
              f.listed = true;
              created.push(f.model.uri);
            },
            () => {}, // unreadable now: tried again on the next list
          ),
        );
        continue;
      }
      file.listed = true;
      file.deleted = false;
      if (file.mtimeMs !== entry.mtimeMs) work.push(file.refresh(this.api, entry.mtimeMs));
    }
    for (const [path, file] of this.#files) {
      if (listed.has(path) || !file.listed) continue;
      file.deleted = true;
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
