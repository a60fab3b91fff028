/**
 * The protocol editor's Monaco, set up once: the editor core and its standard features, the TypeScript language
 * only, its workers, and a TypeScript service that checks protocols as the engine runs them.
 *
 * Loaded on demand (`await import("./monaco.ts")` from the editor view), so the rest of the workbench never waits
 * for it. Works under browser mode's CSP (script-src 'self', worker-src 'self' blob:): the workers are bundled
 * files of our own origin (Vite's `?worker`), and nothing here evaluates strings.
 *
 * Files live in a virtual tree TypeScript resolves like a disk:
 *   file:///workspace/<path>                  the workspace's protocols (models; they import each other as "./x.ts")
 *   file:///node_modules/wirescope/...        the core's declarations, with its doc comments ("wirescope")
 *   file:///node_modules/@types/node/...      the Node globals a sandboxed protocol sees (Buffer, timers, ...)
 */
import * as monaco from "monaco-editor/editor";
import "monaco-editor/features/register.all";
import "monaco-editor/languages/definitions/typescript/register";
import {
  getTypeScriptWorker,
  ModuleKind,
  ScriptTarget,
  typescriptDefaults,
  type ModuleResolutionKind,
} from "monaco-editor/languages/features/typescript/register";
import EditorWorker from "monaco-editor/editor/editor.worker?worker";
import TypeScriptWorker from "monaco-editor/languages/features/typescript/ts.worker?worker";
import editorTypes from "virtual:wirescope-editor-types";

export { monaco };
/** The Monaco API object, for code that receives it from this module rather than importing Monaco itself. */
export type MonacoApi = typeof monaco;

/** Where workspace files live in the editor's virtual tree. */
const WORKSPACE_ROOT = "file:///workspace/";

/** TypeScript's ModuleResolutionKind.Bundler, which Monaco's copy of the enum does not list. */
const BUNDLER = 100 as ModuleResolutionKind;

self.MonacoEnvironment = {
  getWorker(_workerId: string, label: string): Worker {
    return label === "typescript" || label === "javascript" ? new TypeScriptWorker() : new EditorWorker();
  },
};

// The engine compiles protocols with esbuild, which strips types without checking them: these options make the
// editor's check match how the code runs (see main/workspace/compiler.ts) and what the templates are written for.
typescriptDefaults.setCompilerOptions({
  target: ScriptTarget.ESNext,
  lib: ["lib.es2023.d.ts"],
  module: ModuleKind.ESNext,
  moduleResolution: BUNDLER,
  allowImportingTsExtensions: true,
  allowNonTsExtensions: true,
  noEmit: true,
  strict: true,
  noImplicitOverride: true,
  useDefineForClassFields: true,
  skipLibCheck: true,
  // Only what editorTypes declares: no DOM, no automatic @types.
  types: [],
});
typescriptDefaults.setDiagnosticsOptions({ noSemanticValidation: false, noSyntaxValidation: false, onlyVisible: true });
// Every workspace model is given to the TypeScript worker, so that "./resp.ts" resolves from another protocol.
typescriptDefaults.setEagerModelSync(true);
typescriptDefaults.setExtraLibs(editorTypes.map(({ path, content }) => ({ filePath: path, content })));

// Light and dark follow the OS, like the rest of the workbench.
const darkScheme = window.matchMedia("(prefers-color-scheme: dark)");
// vs-dark's comments (#608b4e on #1e1e1e, 4.2:1) fall short of WCAG AA's 4.5:1; VS Code's Dark+ green passes (5:1).
monaco.editor.defineTheme("wirescope-dark", {
  base: "vs-dark",
  inherit: true,
  rules: [{ token: "comment", foreground: "6a9955" }],
  colors: {},
});
const applyTheme = () => monaco.editor.setTheme(darkScheme.matches ? "wirescope-dark" : "vs");
applyTheme();
darkScheme.addEventListener("change", applyTheme);

/** The model URI of workspace file `path` ("resp.ts", "lib/util.ts"). */
export function workspaceUri(path: string): monaco.Uri {
  return monaco.Uri.parse(WORKSPACE_ROOT + path.split("/").map(encodeURIComponent).join("/"));
}

/**
 * Hands models created after the TypeScript worker started to it, so that imports between workspace files
 * resolve (eager sync covers only the models that existed when it started). Call once a TypeScript model exists;
 * resolves when the worker has them.
 */
export async function shareWithTypeScript(uris: monaco.Uri[]): Promise<void> {
  if (uris.length === 0) return;
  const worker = await getTypeScriptWorker();
  await worker(...uris);
}
