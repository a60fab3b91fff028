/**
 * The desktop app's entry (package.json "main" is its build, out/main/main.js). It only settles where esbuild's
 * binary is (esbuild-binary.ts: in the packaged app it must be the unpacked copy, and esbuild reads that setting
 * once, as its module loads) and then loads the shell, app.ts, which imports the engine and so esbuild.
 *
 * The import is awaited at the top level: Electron waits for an ES module entry to finish before the app is ready,
 * so app.ts still registers its scheme and single-instance lock before `ready`, as Electron requires
 * (https://www.electronjs.org/docs/latest/tutorial/esm).
 */
import { pointEsbuildOutsideAsar } from "./esbuild-binary.ts";

pointEsbuildOutsideAsar();
await import("./app.ts");
