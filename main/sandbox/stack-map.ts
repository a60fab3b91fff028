/**
 * Maps stack traces of sandboxed code back to the user's source files (worker side).
 *
 * Every evaluation of a module gets its own URL, `wirescope-protocol:///<moduleKey>?v=<n>`, so a frame of code
 * loaded before a hot reload (a timer's closure, an instance whose class could not be swapped) is mapped with the
 * source map of the version it came from. Node's own `SourceMap` (node:module) does the lookup.
 */
import { SourceMap } from "node:module";
import type { SandboxErrorInfo, SourceMapInput, SourcePosition } from "./messages.ts";

/** The scheme of the URLs sandboxed modules are evaluated under. */
export const PROTOCOL_URL_PREFIX = "wirescope-protocol:///";

/** Lines `new Function(...)` puts before the body ("function anonymous(args\n) {\n"). */
const FUNCTION_HEADER_LINES = 2;

/** Source maps of older versions kept per module, for frames of code still running from before a reload. */
const VERSIONS_KEPT = 20;

/** A frame location in sandboxed code: URL without scheme, 1-based line and column. */
const FRAME = /wirescope-protocol:\/\/\/([^()\n]*?):(\d+):(\d+)(?=\)|$)/gm;

interface Version {
  moduleKey: string;
  map: SourceMap | null;
}

/**
 * The URLs and source maps of evaluated modules. Owned by the sandbox runtime: `register` before evaluating,
 * `forget` if evaluation failed.
 */
export class StackMapper {
  private readonly versions = new Map<string, Version>();
  private readonly order = new Map<string, string[]>();
  private counter = 0;

  /** Allocates the URL of a new evaluation of `moduleKey` and remembers its source map. */
  register(moduleKey: string, sourceMap: SourceMapInput | null): string {
    this.counter += 1;
    const path = `${moduleKey}?v=${this.counter}`;
    let map: SourceMap | null = null;
    try {
      map = sourceMap ? new SourceMap(sourceMap) : null;
    } catch {
      map = null; // A broken map only costs the mapping: frames then show generated positions.
    }
    this.versions.set(path, { moduleKey, map });
    const kept = this.order.get(moduleKey) ?? [];
    kept.push(path);
    while (kept.length > VERSIONS_KEPT) this.versions.delete(kept.shift()!);
    this.order.set(moduleKey, kept);
    return PROTOCOL_URL_PREFIX + path;
  }

  /** Forgets a URL whose evaluation failed. */
  forget(url: string): void {
    const path = url.slice(PROTOCOL_URL_PREFIX.length);
    const version = this.versions.get(path);
    if (!version) return;
    this.versions.delete(path);
    const kept = this.order.get(version.moduleKey);
    if (kept) kept.splice(kept.indexOf(path), 1);
  }

  /** Maps one position of generated code (1-based line and column as in a stack) to the user's source. */
  private position(path: string, line: number, column: number): SourcePosition | null {
    const version = this.versions.get(path);
    if (!version) return null;
    const line0 = line - 1 - FUNCTION_HEADER_LINES;
    if (version.map) {
      const entry = version.map.findEntry(line0, column - 1);
      if ("originalSource" in entry) {
        return { file: entry.originalSource, line: entry.originalLine + 1, column: entry.originalColumn + 1 };
      }
    }
    return { file: version.moduleKey, line: line0 + 1, column };
  }

  /**
   * Rewrites the frames of sandboxed code in `stack` to `file:line:column` of the user's source, and returns the
   * topmost such frame as `source`. Other frames (the core, Node) are left as they are.
   */
  mapStack(stack: string): { stack: string; source?: SourcePosition } {
    let source: SourcePosition | undefined;
    const mapped = stack.replace(FRAME, (whole, path: string, line: string, column: string) => {
      const position = this.position(path, Number(line), Number(column));
      if (position === null) return whole;
      source ??= position;
      return `${position.file}:${position.line}:${position.column}`;
    });
    return source ? { stack: mapped, source } : { stack: mapped };
  }

  /** The report of an error thrown by sandboxed code in `callback`. */
  describe(callback: string, err: unknown): SandboxErrorInfo {
    const error = err instanceof Error ? err : null;
    const message = error ? error.message : String(err);
    const { stack, source } = this.mapStack(error?.stack ?? "");
    const info: SandboxErrorInfo = { callback, message, stack };
    if (source) info.source = source;
    return info;
  }
}

/** The one-line reason a connection shows while halted: "<Error: message> at file:line:col". */
export function haltReason(err: unknown, info: SandboxErrorInfo): string {
  const name = err instanceof Error && err.name !== "Error" ? `${err.name}: ` : "";
  const where = info.source ? ` at ${info.source.file}:${info.source.line}:${info.source.column}` : "";
  return `${name}${info.message}${where}`;
}
