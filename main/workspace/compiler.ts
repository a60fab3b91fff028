/**
 * Compiles a workspace protocol file into one CommonJS bundle the sandbox can run, with esbuild.
 *
 * The bundle holds the entry file and every workspace file it imports (relative imports); the core stays outside
 * as `require("wirescope")`, which the sandbox provides. Anything else (node:fs, npm packages, files outside the
 * workspace) is refused with a diagnostic: protocols run in a sandbox and reach the world through the core.
 *
 * esbuild strips types without checking them: a file with a type error compiles and runs. Type diagnostics are the
 * editor's job (it checks against the core's own types); this reports syntax errors and unresolvable imports.
 */
import { build, type Message, type Plugin } from "esbuild";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { checkProtocolPath } from "./protocol-path.ts";

/** Modules the bundle may `require` at run time: the sandbox's `require` must provide each of them. */
export const SANDBOX_MODULES = ["wirescope", "wirescope/*", "node:buffer", "buffer"] as const;

/** A problem found while compiling, located in a workspace file. */
export interface Diagnostic {
  /** The workspace file, relative to the root, "/"-separated. */
  file: string;
  /** 1-based; 0 when the problem is about the file as a whole (e.g. it does not exist). */
  line: number;
  /** 1-based, in UTF-16 code units (as editors count); 0 with line 0. */
  column: number;
  message: string;
  severity: "error" | "warning";
}

/** A source map (version 3, https://sourcemaps.info/spec.html); `sources` are workspace-relative paths. */
export interface SourceMap {
  version: number;
  sources: string[];
  sourcesContent?: (string | null)[];
  names: string[];
  mappings: string;
}

/** What `compileProtocol` produces. */
export type CompileResult =
  | {
      ok: true;
      /** The CommonJS bundle: run it with `exports`, `require` and `module`; its default export is the protocol. */
      code: string;
      /** Maps `code` back to the workspace files: see SourceMapper and mapStackToSource. */
      sourceMap: SourceMap;
      /**
       * The file name to evaluate `code` under (vm's `filename`), so that stack frames name it and
       * `mapStackToSource` can find them: "<path>.bundle.js".
       */
      fileName: string;
      durationMs: number;
      /** Every workspace file the bundle was built from, the entry included: saving any of them should recompile. */
      inputs: string[];
      warnings: Diagnostic[];
    }
  | {
      ok: false;
      /** At least one error. */
      diagnostics: Diagnostic[];
      durationMs: number;
    };

const REFUSED_IMPORT =
  "protocols run in a sandbox: import from 'wirescope' or other workspace files ('./name.ts'), not";

/**
 * Compiles protocol `protocolPath` (a workspace-relative .ts path, checked: InvalidPathError) of the workspace at
 * `root`. Never throws for a problem in the user's code: a syntax error, a refused or missing import, a missing
 * file all come back as `{ ok: false, diagnostics }` with file:line:col. Builds in memory; writes nothing.
 */
export async function compileProtocol(root: string, protocolPath: string): Promise<CompileResult> {
  const started = performance.now();
  checkProtocolPath(protocolPath);
  const elapsed = () => Math.round((performance.now() - started) * 100) / 100;
  let realRoot: string;
  try {
    realRoot = await fsp.realpath(root);
    await fsp.access(path.join(realRoot, protocolPath));
  } catch {
    const message = `'${protocolPath}' does not exist in the workspace`;
    return { ok: false, diagnostics: [wholeFile(protocolPath, message)], durationMs: elapsed() };
  }
  try {
    const result = await build({
      absWorkingDir: realRoot,
      entryPoints: [path.join(realRoot, protocolPath)],
      // Not written (write: false); it anchors the source map's paths at the root.
      outfile: path.join(realRoot, "wirescope-bundle.js"),
      write: false,
      bundle: true,
      format: "cjs",
      platform: "node",
      target: "node20",
      sourcemap: "external",
      keepNames: true, // the logger's namespace, and the timeline, show class names
      metafile: true,
      logLevel: "silent",
      charset: "utf8",
      // Fixed settings, whatever tsconfig.json the user keeps for their editor: the semantics of class fields must
      // not change with it (a field of a subclass overrides its base's, as in the core).
      tsconfigRaw: { compilerOptions: { useDefineForClassFields: true, verbatimModuleSyntax: false } },
      plugins: [sandboxImports(realRoot)],
    });
    const js = result.outputFiles.find((f) => f.path.endsWith(".js"));
    const map = result.outputFiles.find((f) => f.path.endsWith(".js.map"));
    if (js === undefined || map === undefined) throw new Error("esbuild returned no bundle");
    const sourceMap = JSON.parse(map.text) as SourceMap;
    sourceMap.sources = sourceMap.sources.map((s) => toWorkspacePath(realRoot, path.resolve(realRoot, s)));
    return {
      ok: true,
      code: js.text,
      sourceMap,
      fileName: `${protocolPath}.bundle.js`,
      durationMs: elapsed(),
      inputs: Object.keys(result.metafile.inputs)
        .map((input) => toWorkspacePath(realRoot, path.resolve(realRoot, input)))
        .sort(),
      warnings: result.warnings.map((w) => toDiagnostic(realRoot, protocolPath, w, "warning")),
    };
  } catch (err) {
    const failure = err as { errors?: Message[]; warnings?: Message[] };
    if (!Array.isArray(failure.errors)) throw err;
    const diagnostics = [
      ...failure.errors.map((e) => toDiagnostic(realRoot, protocolPath, e, "error")),
      ...(failure.warnings ?? []).map((w) => toDiagnostic(realRoot, protocolPath, w, "warning")),
    ];
    return { ok: false, diagnostics, durationMs: elapsed() };
  }
}

/** Keeps imports to the core (external), the workspace's own files (bundled), and node:buffer; refuses the rest. */
function sandboxImports(root: string): Plugin {
  return {
    name: "wirescope-sandbox-imports",
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        if (args.kind === "entry-point") return undefined;
        const spec = args.path;
        if (spec === "wirescope" || spec.startsWith("wirescope/") || spec === "node:buffer" || spec === "buffer") {
          return { path: spec, external: true };
        }
        if (spec.startsWith("./") || spec.startsWith("../")) {
          if (isInside(root, path.resolve(args.resolveDir, spec))) return undefined;
          return { errors: [{ text: `cannot import '${spec}': it is outside the workspace; ${REFUSED_IMPORT} that` }] };
        }
        return { errors: [{ text: `cannot import '${spec}': ${REFUSED_IMPORT} '${spec}'` }] };
      });
      // After resolution (symlinks followed): a file that lives outside the workspace is refused too.
      b.onLoad({ filter: /.*/ }, (args) => {
        if (isInside(root, args.path)) return undefined;
        return { errors: [{ text: `cannot import '${args.path}': it is outside the workspace` }] };
      });
    },
  };
}

function isInside(root: string, file: string): boolean {
  const relative = path.relative(root, file);
  return relative !== "" && !relative.startsWith("..") && !path.isAbsolute(relative);
}

function toWorkspacePath(root: string, absolute: string): string {
  return path.relative(root, absolute).split(path.sep).join("/");
}

function wholeFile(file: string, message: string): Diagnostic {
  return { file, line: 0, column: 0, message, severity: "error" };
}

/** An esbuild message as a Diagnostic; esbuild's column counts UTF-8 bytes from 0, editors UTF-16 units from 1. */
function toDiagnostic(root: string, entry: string, m: Message, severity: Diagnostic["severity"]): Diagnostic {
  const location = m.location;
  if (location === null) return { ...wholeFile(entry, m.text), severity };
  const column = Buffer.from(location.lineText, "utf8").subarray(0, location.column).toString("utf8").length + 1;
  const file = toWorkspacePath(root, path.resolve(root, location.file));
  return { file, line: location.line, column, message: m.text, severity };
}

// ---------------------------------------------------------------------------------------------------------------
// Source maps

/** A position in a workspace file: 1-based line and column, as in stack traces and diagnostics. */
export interface SourcePosition {
  file: string;
  line: number;
  column: number;
}

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const BASE64_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < BASE64.length; i++) BASE64_VALUE[BASE64.charCodeAt(i)] = i;

/**
 * Decodes a source map's `mappings` (base64 VLQ, https://sourcemaps.info/spec.html) into, for each generated
 * line, its segments as flat quadruples [generatedColumn, source, originalLine, originalColumn], 0-based.
 * Segments without a source are dropped. Throws TypeError on malformed mappings.
 */
function decodeMappings(mappings: string): Int32Array[] {
  const lines: Int32Array[] = [];
  let line: number[] = [];
  let source = 0;
  let originalLine = 0;
  let originalColumn = 0;
  let generatedColumn = 0;
  const fields: number[] = [];
  let value = 0;
  let shift = 0;
  const endSegment = () => {
    if (shift !== 0) throw new TypeError("malformed source map: a VLQ value is cut short");
    if (fields.length === 0) return;
    generatedColumn += fields[0]!;
    if (fields.length >= 4) {
      source += fields[1]!;
      originalLine += fields[2]!;
      originalColumn += fields[3]!;
      line.push(generatedColumn, source, originalLine, originalColumn);
    } else if (fields.length !== 1) {
      throw new TypeError("malformed source map: a segment has 2 or 3 fields");
    }
    fields.length = 0;
  };
  for (let i = 0; i <= mappings.length; i++) {
    const c = i < mappings.length ? mappings.charCodeAt(i) : 0x3b; // a final ";" ends the last line
    if (c === 0x2c /* , */ || c === 0x3b /* ; */) {
      endSegment();
      if (c === 0x3b) {
        lines.push(Int32Array.from(line));
        line = [];
        generatedColumn = 0;
      }
      continue;
    }
    const digit = c < 128 ? BASE64_VALUE[c]! : -1;
    if (digit === -1) throw new TypeError(`malformed source map: ${JSON.stringify(mappings[i])} in mappings`);
    value += (digit & 31) * 2 ** shift;
    if (digit & 32) {
      shift += 5;
      continue;
    }
    fields.push(value % 2 === 1 ? -(value - 1) / 2 : value / 2);
    value = 0;
    shift = 0;
  }
  return lines;
}

/**
 * Answers "where in the user's files is this position of the bundle", for a compiled protocol's source map.
 * Decodes the map once (on construction); each lookup is a binary search.
 */
export class SourceMapper {
  readonly #lines: Int32Array[];
  readonly #sources: string[];

  /** Decodes `sourceMap` (from a CompileResult). Throws TypeError on a malformed map. */
  constructor(sourceMap: SourceMap) {
    this.#lines = decodeMappings(sourceMap.mappings);
    this.#sources = sourceMap.sources;
  }

  /**
   * The original position of bundle position `line`:`column` (1-based, as in a stack trace), or null when it is
   * code esbuild generated (module glue) rather than code from a workspace file.
   */
  originalPosition(line: number, column: number): SourcePosition | null {
    const segments = this.#lines[line - 1];
    if (segments === undefined || segments.length === 0) return null;
    const target = column - 1;
    let low = 0;
    let high = segments.length / 4 - 1;
    let found = -1;
    while (low <= high) {
      const mid = (low + high) >> 1;
      if (segments[mid * 4]! <= target) {
        found = mid;
        low = mid + 1;
      } else {
        high = mid - 1;
      }
    }
    if (found === -1) return null;
    const file = this.#sources[segments[found * 4 + 1]!];
    if (file === undefined) return null;
    return { file, line: segments[found * 4 + 2]! + 1, column: segments[found * 4 + 3]! + 1 };
  }
}

/**
 * Rewrites the frames of `stack` that point into the bundle evaluated as `fileName` (CompileResult.fileName) to
 * point at the user's files: "resp.ts.bundle.js:57:11" becomes "resp.ts:42:7". Frames elsewhere (the core, Node)
 * and positions in esbuild's glue are left as they are. For the sandbox, when a protocol's callback throws.
 */
export function mapStackToSource(stack: string, sourceMap: SourceMap | SourceMapper, fileName: string): string {
  const mapper = sourceMap instanceof SourceMapper ? sourceMap : new SourceMapper(sourceMap);
  const escaped = fileName.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return stack.replace(new RegExp(`${escaped}:(\\d+):(\\d+)`, "g"), (whole, line: string, column: string) => {
    const position = mapper.originalPosition(Number(line), Number(column));
    return position === null ? whole : `${position.file}:${position.line}:${position.column}`;
  });
}
