/**
 * The protocol library: the workspace's protocol files as the engine uses them — compiled (esbuild, cached by
 * source), loaded into sandbox groups, and hot-reloaded where they run when they are saved here or changed on disk by
 * another editor (Twisted's rebuild). It owns the workspace in use and its watcher, and moves both when the user
 * switches workspaces.
 */
import type { SourceMapPayload } from "node:module";
import type { Diagnostic, EventSink, ProtocolFile } from "../../preload/contract.ts";
import type { SandboxGroup } from "../sandbox/host.ts";
import { compileProtocol, type CompileResult } from "../workspace/compiler.ts";
import { PROFILES_FILE } from "../workspace/layout.ts";
import type { WorkspaceChange } from "../workspace/watcher.ts";
import type { Workspace } from "../workspace/workspace.ts";
import { EngineError } from "./errors.ts";
import type { Session } from "./session.ts";

/** A session as the library sees it: what it runs, in which sandbox group, from which workspace. */
export interface RunningProtocols {
  readonly session: Session;
  /** The session's sandbox worker, if it runs a protocol. */
  readonly group: SandboxGroup | null;
  /** The workspace its protocols come from: saving a file of another workspace never reloads them. */
  readonly workspaceRoot: string;
}

export interface ProtocolLibraryOptions {
  /** Where onProtocolsChanged goes (the engine's current sink). */
  emit: EventSink;
  /** The sessions alive now, for reloads and live-connection counts (the session registry's). */
  running: () => Iterable<RunningProtocols>;
}

/** The last compile of a protocol file. */
interface CompiledFile {
  result: CompileResult;
  /** Hash of the source that compiled (to skip a watcher's echo of our own save). */
  source: string;
}

/** What a save or a change on disk did: the saved file's diagnostics, and how many live connections got new code. */
export interface ReloadResult {
  diagnostics: Diagnostic[];
  reloaded: number;
}

/** The compiler's source map in the shape node:module's SourceMap (used by the sandbox) expects. */
function sourceMapPayload(result: Extract<CompileResult, { ok: true }>): SourceMapPayload {
  const map = result.sourceMap;
  return {
    file: result.fileName,
    version: map.version,
    sources: map.sources,
    sourcesContent: (map.sourcesContent ?? []).map((c) => c ?? ""),
    names: map.names,
    mappings: map.mappings,
    sourceRoot: "",
  };
}

/** "resp.ts:12:5: Expected ';'" — the first diagnostic, for an error message. */
function firstDiagnostic(diagnostics: readonly Diagnostic[]): string {
  const d = diagnostics[0];
  return d ? `${d.file}:${d.line}:${d.column}: ${d.message}` : "unknown error";
}

/** Live connections of `session` running `file`. */
function liveConnectionsOf(session: Session, file: string): number {
  let n = 0;
  for (const c of session.connections.values()) if (c.state !== "closed" && c.protocol?.file === file) n += 1;
  return n;
}

/**
 * The engine's protocol library. Owned by the engine: `watch()` once it opened, `close()` when it closes (no
 * onProtocolsChanged is sent after that).
 */
export class ProtocolLibrary {
  #workspace: Workspace;
  readonly #compiled = new Map<string, CompiledFile>();
  /**
   * The code each session's sandbox group last loaded, per file — when the session started (loadInto) or at a
   * reload: a reload of the same code is not done twice (the watcher's echo of our own save, arriving once a later
   * save has been written; the watcher's news of a file a template brought along, which the session's first load
   * already bundled).
   */
  readonly #loadedCode = new WeakMap<SandboxGroup, Map<string, string>>();
  /** Reloads run one after another, so that two triggers of the same change can't both load it. */
  #reloads: Promise<unknown> = Promise.resolve();
  readonly #options: ProtocolLibraryOptions;
  #stopWatching: (() => void) | null = null;
  #closed = false;

  constructor(workspace: Workspace, options: ProtocolLibraryOptions) {
    this.#workspace = workspace;
    this.#options = options;
  }

  /** The workspace in use; `switchTo` replaces it (sessions started before keep their code and captures). */
  get workspace(): Workspace {
    return this.#workspace;
  }

  /** Starts watching the workspace for edits made in other editors. */
  watch(): void {
    this.#stopWatching = this.#workspace.watch((changes) => void this.workspaceChanged(changes));
  }

  /**
   * Makes `next` the workspace in use, unless it is the same folder or the library is closed: the watcher moves,
   * the compile cache is emptied, and the protocol list is sent again.
   */
  async switchTo(next: Workspace): Promise<void> {
    if (next.root === this.#workspace.root || this.#closed) return;
    this.#stopWatching?.();
    this.#workspace = next;
    this.#compiled.clear();
    this.watch();
    await this.emitProtocols();
  }

  /** Resolves a protocol reference: null (raw), a workspace file, or "template:<id>" (created in the workspace). */
  async resolve(ref: string | null | undefined): Promise<string | null> {
    if (ref === null || ref === undefined || ref === "" || ref === "template:raw") return null;
    if (ref.startsWith("template:")) {
      const id = ref.slice("template:".length);
      const file = `${id}.ts`;
      const existing = await this.#workspace.list();
      if (!existing.some((f) => f.path === file)) await this.#workspace.create(file, id);
      return file;
    }
    return ref;
  }

  /** Compiles `file` (cached by source) and loads it into `group`; throws a "compile-error" with file:line:col. */
  async loadInto(group: SandboxGroup, file: string): Promise<void> {
    const compiled = await this.compile(file);
    if (!compiled.result.ok) {
      throw new EngineError(
        "compile-error",
        `${file} does not compile: ${firstDiagnostic(compiled.result.diagnostics)}. Fix it and save, then try again.`,
      );
    }
    const loaded = await group.load(file, compiled.result.code, sourceMapPayload(compiled.result));
    if (!loaded.ok) throw new EngineError("protocol-error", `${file} could not be loaded: ${loaded.error.message}`);
    this.loaded(group, file, compiled.result.code);
  }

  /** Remembers that `group` runs `code` for `file` now. */
  private loaded(group: SandboxGroup, file: string, code: string): void {
    let files = this.#loadedCode.get(group);
    if (files === undefined) this.#loadedCode.set(group, (files = new Map()));
    files.set(file, code);
  }

  private async compile(file: string): Promise<CompiledFile> {
    const source = await this.#workspace.read(file);
    const cached = this.#compiled.get(file);
    // A failure is not reused: it may be an import that was missing then (a template's second file not written
    // yet, a file saved before the one it imports) and is there now.
    if (cached && cached.source === source && cached.result.ok) return cached;
    const result = await compileProtocol(this.#workspace.root, file);
    const compiled = { result, source };
    this.#compiled.set(file, compiled);
    return compiled;
  }

  /** The workspace's protocol files, with their last diagnostics and how many live connections run each. */
  async list(): Promise<ProtocolFile[]> {
    const files = await this.#workspace.list();
    return files.map((f) => {
      const compiled = this.#compiled.get(f.path);
      let live = 0;
      for (const { session } of this.#options.running()) live += liveConnectionsOf(session, f.path);
      return {
        path: f.path,
        size: f.size,
        mtimeMs: f.mtimeMs,
        diagnostics: compiled && !compiled.result.ok ? compiled.result.diagnostics : [],
        liveConnections: live,
      };
    });
  }

  /**
   * Saves atomically, compiles, and hot-loads the new code into every session running this file (or a file that
   * imports it). A file that doesn't compile is saved (the user's text is never lost) but leaves the old code
   * running; its diagnostics are returned.
   */
  async save(file: string, content: string): Promise<ReloadResult> {
    await this.#workspace.write(file, content);
    const result = await this.reloadFile(file);
    void this.emitProtocols();
    return result;
  }

  /** Creates `file` from a template and compiles it; a template that doesn't compile still creates the file. */
  async create(file: string, template: string): Promise<ProtocolFile> {
    const written = await this.#workspace.create(file, template);
    const compiled = await this.compile(written.path);
    void this.emitProtocols();
    return {
      path: written.path,
      size: written.size,
      mtimeMs: written.mtimeMs,
      diagnostics: compiled.result.ok ? [] : compiled.result.diagnostics,
      liveConnections: 0,
    };
  }

  /** Deletes `file`; sessions running it keep the code they loaded. */
  async delete(file: string): Promise<void> {
    await this.#workspace.delete(file);
    this.#compiled.delete(file);
    void this.emitProtocols();
  }

  /** Stops watching; no protocol list is sent from now on. */
  close(): void {
    this.#closed = true;
    this.#stopWatching?.();
  }

  /**
   * Recompiles `file` and every compiled file depending on it, and reloads them where they run: after the reloads
   * asked for before it, and only where the code changed. `reloaded` counts the live connections running the new
   * code of `file` and of the files importing it, whichever trigger (this save, or the watcher's echo of it) loaded
   * it.
   */
  private reloadFile(file: string): Promise<ReloadResult> {
    const run = this.#reloads.then(() => this.reloadNow(file));
    this.#reloads = run.catch(() => {});
    return run;
  }

  private async reloadNow(file: string): Promise<ReloadResult> {
    const affected = [file];
    for (const [other, compiled] of this.#compiled) {
      if (other !== file && compiled.result.ok && compiled.result.inputs.includes(file)) affected.push(other);
    }
    let diagnostics: Diagnostic[] = [];
    let reloaded = 0;
    for (const target of affected) {
      // A dependent's own text didn't change, but what it bundles did: drop its cached build.
      if (target !== file) this.#compiled.delete(target);
      let compiled: CompiledFile;
      try {
        compiled = await this.compile(target);
      } catch {
        continue; // deleted meanwhile
      }
      if (!compiled.result.ok) {
        if (target === file) diagnostics = compiled.result.diagnostics;
        continue;
      }
      const code = compiled.result.code;
      for (const running of this.#options.running()) {
        const group = running.group;
        if (group === null || !this.runs(running, target)) continue;
        if (this.#loadedCode.get(group)?.get(target) === code) {
          reloaded += liveConnectionsOf(running.session, target);
          continue;
        }
        const loaded = await group.load(target, code, sourceMapPayload(compiled.result));
        if (loaded.ok) {
          this.loaded(group, target, code);
          reloaded += liveConnectionsOf(running.session, target);
        } else {
          // Not remembered: code a session could not load is tried again on the next save, even unchanged.
          running.session.note("protocol-error", `${target} could not be reloaded: ${loaded.error.message}`);
        }
      }
    }
    return { diagnostics, reloaded };
  }

  /** Whether `running` runs `file` of the workspace in use. */
  private runs(running: RunningProtocols, file: string): boolean {
    const s = running.session;
    if (running.workspaceRoot !== this.#workspace.root) return false;
    return s.protocol === file || s.serverProtocol === file;
  }

  /** Another editor saved, created or deleted files: recompile and reload what changed. */
  private async workspaceChanged(changes: WorkspaceChange[]): Promise<void> {
    for (const change of changes) {
      if (change.path === PROFILES_FILE || change.hash === null) continue;
      const cached = this.#compiled.get(change.path);
      if (cached) {
        const source = await this.#workspace.read(change.path).catch(() => null);
        if (source === cached.source) continue; // our own save, already reloaded
      }
      await this.reloadFile(change.path).catch(() => {});
    }
    await this.emitProtocols();
  }

  private async emitProtocols(): Promise<void> {
    if (this.#closed) return;
    this.#options.emit("onProtocolsChanged", await this.list());
  }
}
