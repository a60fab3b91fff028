/**
 * Where esbuild's native binary is in the packaged app. The engine compiles user protocols with esbuild, whose API
 * spawns its binary (`child_process.spawn`); electron-builder unpacks esbuild next to the app's asar archive
 * (electron-builder.yml's asarUnpack) because nothing can be spawned from inside one, but esbuild locates its
 * binary with `require.resolve`, which answers the path inside the archive. ESBUILD_BINARY_PATH, esbuild's own
 * setting, points it at the unpacked copy. esbuild reads it once, when its module is first evaluated, so the shell's
 * entry (main.ts) sets it before it imports anything that imports esbuild.
 */
import { createRequire } from "node:module";
import path from "node:path";

/**
 * The path of a file that electron-builder unpacked: `…/app.asar/…` becomes `…/app.asar.unpacked/…`. A path not
 * inside an asar archive (development, `electron .` on the built tree) is returned as it is.
 */
export function unpackedPath(file: string): string {
  const marker = `${path.sep}app.asar${path.sep}`;
  const at = file.indexOf(marker);
  if (at === -1) return file;
  return `${file.slice(0, at)}${path.sep}app.asar.unpacked${path.sep}${file.slice(at + marker.length)}`;
}

/**
 * The esbuild package that holds this platform's binary, and the binary's path in it, as esbuild's own install
 * names them (`@esbuild/linux-x64` + `bin/esbuild`; `@esbuild/win32-x64` + `esbuild.exe`).
 */
export function esbuildBinarySpecifier(platform: NodeJS.Platform, arch: string): string {
  return platform === "win32" ? `@esbuild/win32-${arch}/esbuild.exe` : `@esbuild/${platform}-${arch}/bin/esbuild`;
}

/**
 * Sets ESBUILD_BINARY_PATH to the unpacked binary when the app runs from an asar archive, unless it is set already.
 * Called once by the shell's entry before the engine is imported; does nothing outside an archive, or when the
 * binary cannot be resolved (esbuild then reports its own error on the first compile).
 */
export function pointEsbuildOutsideAsar(
  env: NodeJS.ProcessEnv = process.env,
  resolve: (specifier: string) => string = createRequire(import.meta.url).resolve,
): void {
  if (env.ESBUILD_BINARY_PATH) return;
  let binary: string;
  try {
    binary = resolve(esbuildBinarySpecifier(process.platform, process.arch));
  } catch {
    return;
  }
  const unpacked = unpackedPath(binary);
  if (unpacked !== binary) env.ESBUILD_BINARY_PATH = unpacked;
}
