/**
 * Builds the workbench (renderer/) with Vite and Svelte 5 into renderer/dist, which browser mode (`npm run serve`)
 * serves and the Electron shell will load. Relative asset paths, so the same build works from file:// and http://.
 *
 * The protocol editor (Monaco) is loaded on demand, in its own chunks, under the strict CSP browser mode and the
 * shell serve (script-src 'self', worker-src 'self' blob:): its workers are bundled as ES module files of their
 * own (`?worker` imports in src/lib/monaco.ts), and no asset is inlined as a data: URL (default-src 'self' would
 * refuse the codicon font). The editor's TypeScript service gets the core's declarations from a build step
 * (scripts/editor-types.ts).
 */
import { svelte } from "@sveltejs/vite-plugin-svelte";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";
import { editorTypes } from "./scripts/editor-types.ts";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "./",
  plugins: [svelte(), editorTypes(repoRoot)],
  worker: { format: "es" },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: true,
    assetsInlineLimit: 0,
    // Monaco's TypeScript worker is one large file by nature (the compiler and its lib.d.ts files).
    chunkSizeWarningLimit: 8192,
  },
});
