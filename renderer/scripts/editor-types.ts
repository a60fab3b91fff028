/**
 * Build step for the protocol editor: the type declarations its TypeScript service needs to check a user's protocol
 * the way the engine runs it — the core as "wirescope" (with its doc comments, for hover and completion) and the
 * Node globals a sandboxed protocol sees (Buffer, console, timers, process, TextDecoder, ...).
 *
 * A Vite plugin serves them as the virtual module `virtual:wirescope-editor-types`: a list of `{ path, content }`
 * that renderer/src/lib/monaco.ts adds as extra libs. Paths are file:///node_modules/... so that TypeScript's
 * ordinary module resolution finds `import { LineReceiver } from "wirescope"` from file:///workspace/*.ts.
 *
 * The core's declarations are emitted from core/index.ts by the TypeScript compiler on every build (and again in
 * the dev server when a core file changes), so the editor never drifts from the core. Node's come from
 * @types/node: the files the globals need and, transitively, the modules those files import — not all of Node.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import ts from "typescript";
import type { Plugin } from "vite";

/** The id user code imports (renderer/src/components/editor/editor-types.d.ts declares its shape). */
export const EDITOR_TYPES_MODULE = "virtual:wirescope-editor-types";
const RESOLVED_ID = `\0${EDITOR_TYPES_MODULE}`;

/** Where the editor's TypeScript service finds the core: `import ... from "wirescope"` resolves here. */
export const CORE_TYPES_ROOT = "file:///node_modules/wirescope/";
const NODE_TYPES_ROOT = "file:///node_modules/@types/node/";

/**
 * The @types/node files a sandboxed protocol's globals are declared in. Their imports are followed (so `Buffer`'s
 * `node:stream/web` resolves), except from the leaves, which only contribute their globals: process.d.ts imports
 * every Node module for `process.getBuiltinModule`, which a protocol cannot use.
 */
const NODE_ENTRIES = [
  "compatibility/index.d.ts",
  "globals.typedarray.d.ts",
  "buffer.buffer.d.ts",
  "globals.d.ts",
  "web-globals/abortcontroller.d.ts",
  "web-globals/domexception.d.ts",
  "web-globals/events.d.ts",
  "buffer.d.ts",
  "console.d.ts",
  "timers.d.ts",
  "url.d.ts", // URL, URLSearchParams
  "util.d.ts", // TextEncoder, TextDecoder
  // What the core's own declarations import (a Connection's socket, TLS options).
  "net.d.ts",
  "tls.d.ts",
];
const NODE_LEAVES = new Set(["process.d.ts"]);

/** One extra lib for the editor's TypeScript service. */
export interface EditorLib {
  /** A file:/// URI; TypeScript resolves imports between these as between files on disk. */
  path: string;
  content: string;
}

/** Declarations of the core (from `repoRoot`/core/index.ts) and the Node types they and user code need. */
export function buildEditorTypes(repoRoot: string): { libs: EditorLib[]; inputs: string[] } {
  const core = emitCoreDeclarations(repoRoot);
  const node = nodeTypes(repoRoot);
  return { libs: [...core.libs, ...node.libs], inputs: [...core.inputs, ...node.inputs] };
}

/**
 * Emits the core's declarations (with its doc comments) in memory, using the repository's compiler options.
 * Throws with the compiler's messages if the core's public API cannot be declared (a missing return type on an
 * exported function that needs one, say): the editor would otherwise silently lose types.
 */
function emitCoreDeclarations(repoRoot: string): { libs: EditorLib[]; inputs: string[] } {
  const configPath = path.join(repoRoot, "tsconfig.json");
  const config = ts.readConfigFile(configPath, (file) => ts.sys.readFile(file));
  if (config.error) throw new Error(formatDiagnostics([config.error]));
  const { options, errors } = ts.convertCompilerOptionsFromJson(config.config.compilerOptions, repoRoot, configPath);
  if (errors.length > 0) throw new Error(formatDiagnostics(errors));
  const coreDir = path.join(repoRoot, "core");
  const compilerOptions: ts.CompilerOptions = {
    ...options,
    noEmit: false,
    declaration: true,
    emitDeclarationOnly: true,
    removeComments: false,
    declarationMap: false,
    sourceMap: false,
    rootDir: coreDir,
    outDir: coreDir,
  };
  const host = ts.createCompilerHost(compilerOptions);
  const libs: EditorLib[] = [];
  host.writeFile = (fileName, text) => {
    const relative = path.relative(coreDir, fileName).split(path.sep).join("/");
    libs.push({ path: CORE_TYPES_ROOT + relative, content: text });
  };
  const program = ts.createProgram([path.join(coreDir, "index.ts")], compilerOptions, host);
  const result = program.emit(undefined, undefined, undefined, true);
  if (result.emitSkipped || result.diagnostics.length > 0) {
    throw new Error(`the core's declarations could not be emitted:\n${formatDiagnostics(result.diagnostics)}`);
  }
  const inputs = program
    .getSourceFiles()
    .map((f) => path.resolve(f.fileName))
    .filter((f) => f.startsWith(coreDir + path.sep));
  return { libs: libs.sort((a, b) => a.path.localeCompare(b.path)), inputs };
}

/** NODE_ENTRIES and the @types/node files they import, transitively. */
function nodeTypes(repoRoot: string): { libs: EditorLib[]; inputs: string[] } {
  const dir = path.join(repoRoot, "node_modules", "@types", "node");
  if (!existsSync(dir)) throw new Error(`@types/node is missing (${dir}): run npm install`);
  const fileOf = (specifier: string): string | null => {
    const name = specifier.replace(/^node:/, "");
    for (const candidate of [`${name}.d.ts`, `${name}/index.d.ts`]) {
      if (existsSync(path.join(dir, candidate))) return candidate;
    }
    return null;
  };
  const seen = new Set<string>();
  const queue = [...NODE_ENTRIES, ...NODE_LEAVES];
  const libs: EditorLib[] = [];
  while (queue.length > 0) {
    const file = queue.shift()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const content = readFileSync(path.join(dir, file), "utf8");
    libs.push({ path: NODE_TYPES_ROOT + file, content });
    if (NODE_LEAVES.has(file)) continue;
    for (const [, specifier] of content.matchAll(/(?:\bfrom|\brequire\(|\bimport\()\s*"([^"]+)"/g)) {
      const target = fileOf(specifier!);
      if (target !== null) queue.push(target);
    }
    for (const [, reference] of content.matchAll(/^\/\/\/ <reference path="([^"]+)"/gm)) {
      queue.push(path.posix.join(path.posix.dirname(file), reference!));
    }
  }
  return { libs, inputs: [...seen].map((f) => path.join(dir, f)) };
}

function formatDiagnostics(diagnostics: readonly ts.Diagnostic[]): string {
  return ts.formatDiagnostics(diagnostics, {
    getCanonicalFileName: (f) => f,
    getCurrentDirectory: () => process.cwd(),
    getNewLine: () => "\n",
  });
}

/**
 * The Vite plugin serving `virtual:wirescope-editor-types`. Built when first imported (the editor's chunk), and
 * rebuilt in the dev server when a core file changes.
 */
export function editorTypes(repoRoot: string): Plugin {
  return {
    name: "wirescope-editor-types",
    resolveId(id) {
      return id === EDITOR_TYPES_MODULE ? RESOLVED_ID : undefined;
    },
    load(id) {
      if (id !== RESOLVED_ID) return undefined;
      const { libs, inputs } = buildEditorTypes(repoRoot);
      for (const input of inputs) this.addWatchFile(input);
      return `export default ${JSON.stringify(libs)};`;
    },
  };
}
