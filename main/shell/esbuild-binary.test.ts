/**
 * esbuild in the packaged app: its binary must be spawned from the unpacked copy beside the asar archive, which
 * electron-builder.yml's asarUnpack makes; this checks the path rewrite and the decision, under Node.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { esbuildBinarySpecifier, pointEsbuildOutsideAsar, unpackedPath } from "./esbuild-binary.ts";

const asar = path.join(path.sep, "opt", "Wirescope", "resources", "app.asar");
const binary = path.join(asar, "node_modules", "@esbuild", "linux-x64", "bin", "esbuild");

describe("esbuild's binary in the packaged app", () => {
  it("is read from app.asar.unpacked when it resolves inside the archive", () => {
    expect(unpackedPath(binary)).toBe(
      path.join(
        path.sep,
        "opt",
        "Wirescope",
        "resources",
        "app.asar.unpacked",
        "node_modules",
        "@esbuild",
        "linux-x64",
        "bin",
        "esbuild",
      ),
    );
    expect(unpackedPath("/work/node_modules/@esbuild/linux-x64/bin/esbuild")).toBe(
      "/work/node_modules/@esbuild/linux-x64/bin/esbuild",
    );
    expect(unpackedPath("/opt/my.app.asarfile/x")).toBe("/opt/my.app.asarfile/x");
  });

  it("names the package esbuild installs for this platform, and it is here", () => {
    expect(esbuildBinarySpecifier("linux", "x64")).toBe("@esbuild/linux-x64/bin/esbuild");
    expect(esbuildBinarySpecifier("darwin", "arm64")).toBe("@esbuild/darwin-arm64/bin/esbuild");
    expect(esbuildBinarySpecifier("win32", "x64")).toBe("@esbuild/win32-x64/esbuild.exe");
    const require = createRequire(import.meta.url);
    const here = require.resolve(esbuildBinarySpecifier(process.platform, process.arch));
    expect(existsSync(here)).toBe(true);
  });

  it("sets ESBUILD_BINARY_PATH inside an archive only, and never overrides one that is set", () => {
    const packaged: NodeJS.ProcessEnv = {};
    pointEsbuildOutsideAsar(packaged, () => binary);
    expect(packaged.ESBUILD_BINARY_PATH).toBe(unpackedPath(binary));

    const development: NodeJS.ProcessEnv = {};
    pointEsbuildOutsideAsar(development, () => "/work/node_modules/@esbuild/linux-x64/bin/esbuild");
    expect(development.ESBUILD_BINARY_PATH).toBeUndefined();

    const chosen: NodeJS.ProcessEnv = { ESBUILD_BINARY_PATH: "/usr/bin/esbuild" };
    pointEsbuildOutsideAsar(chosen, () => binary);
    expect(chosen.ESBUILD_BINARY_PATH).toBe("/usr/bin/esbuild");

    const missing: NodeJS.ProcessEnv = {};
    pointEsbuildOutsideAsar(missing, () => {
      throw new Error("Cannot find module");
    });
    expect(missing.ESBUILD_BINARY_PATH).toBeUndefined();
  });
});
