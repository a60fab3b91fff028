/**
 * electron-builder.yml, checked offline: it must satisfy electron-builder's own JSON schema
 * (app-builder-lib/scheme.json, with the same validator library electron-builder uses), pass electron-builder's
 * own configuration check, and say what a release needs (app id, product name, icons on disk, Linux AppImage
 * and deb, macOS dmg, Windows nsis). No Electron binary and no network are needed.
 *
 * The YAML parser and the validator are resolved through electron-builder -> app-builder-lib, so the test uses
 * exactly the copies electron-builder itself loads, and depends only on the direct devDependency electron-builder.
 */
import { readFileSync, readdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Configuration } from "electron-builder";
import { beforeAll, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../", import.meta.url));
const configPath = path.join(root, "electron-builder.yml");

// --- electron-builder's own modules ------------------------------------------------------------------------------

interface SchemaError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}
interface ValidateFunction {
  (data: unknown): boolean;
  errors?: SchemaError[] | null;
}
interface AjvInstance {
  compile(schema: object): ValidateFunction;
}
type AjvConstructor = new (options: Record<string, unknown>) => AjvInstance;
interface JsYaml {
  load(source: string, options?: { filename?: string }): unknown;
}
interface ConfigModule {
  validateConfiguration(
    config: Configuration,
    debugLogger: { isEnabled: boolean; add(key: string, value: unknown): void },
  ): Promise<void>;
}

const requireFromRoot = createRequire(path.join(root, "package.json"));
const requireFromBuilder = createRequire(requireFromRoot.resolve("electron-builder/package.json"));
const appBuilderLibDir = path.dirname(requireFromBuilder.resolve("app-builder-lib/package.json"));
const requireFromLib = createRequire(path.join(appBuilderLibDir, "package.json"));

function loadAjv(): AjvConstructor {
  const mod: unknown = requireFromLib("ajv");
  const ctor = (mod as { default?: unknown }).default ?? mod;
  if (typeof ctor !== "function") throw new Error("ajv (as resolved from app-builder-lib) exports no constructor");
  return ctor as AjvConstructor;
}

const yaml = requireFromLib("js-yaml") as JsYaml;
const Ajv = loadAjv();
const ajvVersion = (requireFromLib("ajv/package.json") as { version: string }).version;
const schema = JSON.parse(readFileSync(path.join(appBuilderLibDir, "scheme.json"), "utf8")) as object;

function loadConfig(): Configuration {
  const parsed = yaml.load(readFileSync(configPath, "utf8"), { filename: configPath });
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new Error("electron-builder.yml is not a mapping");
  }
  return parsed as Configuration;
}

function formatErrors(errors: SchemaError[] | null | undefined): string {
  return (errors ?? [])
    .map((e) => `${e.instancePath || "(root)"} ${e.keyword}: ${e.message ?? ""} ${JSON.stringify(e.params)}`)
    .join("\n");
}

/** Target names from any of the shapes electron-builder accepts: "x", ["x", …], [{ target: "x" }, …]. */
function targetNames(target: unknown): string[] {
  const list: unknown[] = Array.isArray(target) ? target : target == null ? [] : [target];
  return list.map((t) => {
    if (typeof t === "string") return t;
    if (t !== null && typeof t === "object" && "target" in t && typeof t.target === "string") return t.target;
    throw new Error(`unrecognised target entry ${JSON.stringify(t)}`);
  });
}

/** Width and height from a PNG's IHDR chunk. */
function pngSize(file: string): { width: number; height: number } {
  const buf = readFileSync(file);
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  if (!buf.subarray(0, 8).equals(signature) || buf.toString("latin1", 12, 16) !== "IHDR") {
    throw new Error(`${file} is not a PNG`);
  }
  return { width: buf.readUInt32BE(16), height: buf.readUInt32BE(20) };
}

/** Icon paths resolve like electron-builder's getResource: buildResources first, then the project directory. */
function resolveResource(config: Configuration, p: string): string {
  const buildResources = path.resolve(root, config.directories?.buildResources ?? "build");
  const inResources = path.resolve(buildResources, p);
  try {
    statSync(inResources);
    return inResources;
  } catch {
    return path.resolve(root, p);
  }
}

// --- tests -------------------------------------------------------------------------------------------------------

describe("electron-builder.yml", () => {
  let config: Configuration;
  beforeAll(() => {
    config = loadConfig();
  });

  describe("against electron-builder's own schema", () => {
    it("uses a draft-07 schema and ajv 8, like electron-builder", () => {
      expect((schema as { $schema?: string }).$schema).toBe("http://json-schema.org/draft-07/schema#");
      expect(ajvVersion).toMatch(/^8\./);
    });

    it("is valid against app-builder-lib/scheme.json", () => {
      const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
      const ok = validate(config);
      expect(formatErrors(validate.errors)).toBe("");
      expect(ok).toBe(true);
    });

    it("the validator really bites: a misspelt key is rejected", () => {
      const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
      const broken = { ...config, linux: { ...config.linux, targets: ["AppImage"] } };
      expect(validate(broken)).toBe(false);
      expect(validate.errors?.some((e) => e.keyword === "additionalProperties")).toBe(true);
    });

    it("passes electron-builder's validateConfiguration (schema plus its deprecation checks)", async () => {
      const { validateConfiguration } = requireFromLib("./out/util/config/config.js") as ConfigModule;
      await expect(validateConfiguration(config, { isEnabled: false, add: () => {} })).resolves.toBeUndefined();
    });
  });

  describe("what a release needs", () => {
    it("has the app id and product name", () => {
      expect(config.appId).toBe("dev.wirescope.app");
      expect(config.appId).toMatch(/^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$/);
      expect(config.productName).toBe("Wirescope");
    });

    it("builds AppImage and deb on Linux, with the desktop metadata a deb needs", () => {
      expect(targetNames(config.linux?.target).sort()).toEqual(["AppImage", "deb"]);
      expect(config.linux?.category).toBe("Development");
      expect(config.linux?.maintainer).toMatch(/<[^@\s]+@[^@\s]+>$/);
      expect(config.linux?.synopsis).toBeTruthy();
    });

    it("builds a dmg on macOS, hardened runtime, developer-tools category", () => {
      expect(targetNames(config.mac?.target)).toEqual(["dmg"]);
      expect(config.mac?.category).toBe("public.app-category.developer-tools");
      expect(config.mac?.hardenedRuntime).toBe(true);
    });

    it("builds an assisted nsis installer on Windows", () => {
      expect(targetNames(config.win?.target)).toEqual(["nsis"]);
      expect(config.nsis?.oneClick).toBe(false);
      expect(config.nsis?.allowToChangeInstallationDirectory).toBe(true);
    });

    it("packs only the build output into an asar, publishes nothing, writes to release/", () => {
      expect(config.asar).toBe(true);
      expect(config.publish).toBeNull();
      expect(config.directories?.output).toBe("release");
      expect(config.directories?.buildResources).toBe("build");
      const files = (Array.isArray(config.files) ? config.files : [config.files]).filter(
        (f): f is string => typeof f === "string",
      );
      for (const dir of ["out/main/", "out/preload/", "renderer/dist/"]) {
        expect(files.some((f) => f.startsWith(dir))).toBe(true);
      }
      const included = files.filter((f) => !f.startsWith("!"));
      expect(included.every((f) => /^(out\/(main|preload)|renderer\/dist)\//.test(f))).toBe(true);
      expect(files).toContain("!**/*.{test,spec}.{js,mjs,cjs,ts}");
      const main = (config.extraMetadata as { main?: unknown } | null | undefined)?.main;
      expect(typeof main === "string" && main.startsWith("out/main/")).toBe(true);
    });
  });

  describe("hardening", () => {
    it("flips Electron's fuses: no run-as-node, NODE_OPTIONS or --inspect; asar only, checked; cookies encrypted", () => {
      expect(config.electronFuses).toEqual({
        runAsNode: false,
        enableNodeOptionsEnvironmentVariable: false,
        enableNodeCliInspectArguments: false,
        grantFileProtocolExtraPrivileges: false,
        enableEmbeddedAsarIntegrityValidation: true,
        onlyLoadAppFromAsar: true,
        enableCookieEncryption: true,
      });
    });

    it("the schema bites on fuses too: a misspelt fuse is rejected", () => {
      const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
      const broken = { ...config, electronFuses: { ...config.electronFuses, runAsnode: false } };
      expect(validate(broken)).toBe(false);
      expect(validate.errors?.some((e) => e.params.additionalProperty === "runAsnode")).toBe(true);
    });
  });

  describe("icons", () => {
    const sizes = [16, 24, 32, 48, 64, 128, 256, 512, 1024];

    it("has an SVG source and a PNG per size, each the size its name says", () => {
      const iconsDir = path.join(root, "build", "icons");
      expect(readFileSync(path.join(iconsDir, "icon.svg"), "utf8")).toMatch(/<svg[\s>]/);
      for (const size of sizes) {
        expect(pngSize(path.join(iconsDir, `${size}x${size}.png`))).toEqual({ width: size, height: size });
      }
      expect(pngSize(path.join(iconsDir, "icon.png"))).toEqual({ width: 512, height: 512 });
    });

    it("every icon the configuration names exists and is big enough for its platform", () => {
      const rootIcon = config.icon;
      const macIcon = config.mac?.icon;
      const winIcon = config.win?.icon;
      const linuxIcon = config.linux?.icon;
      if (typeof rootIcon !== "string" || typeof macIcon !== "string" || typeof winIcon !== "string") {
        throw new Error("icon, mac.icon and win.icon must be set");
      }
      if (typeof linuxIcon !== "string") throw new Error("linux.icon must be set");

      // .icns is generated from a PNG of at least 512 (1024 for Retina); .ico needs at least 256.
      expect(pngSize(resolveResource(config, rootIcon)).width).toBeGreaterThanOrEqual(512);
      expect(pngSize(resolveResource(config, macIcon)).width).toBeGreaterThanOrEqual(1024);
      expect(pngSize(resolveResource(config, winIcon)).width).toBeGreaterThanOrEqual(256);

      // Linux takes a directory of NxN.png files.
      const linuxDir = resolveResource(config, linuxIcon);
      expect(statSync(linuxDir).isDirectory()).toBe(true);
      const named = readdirSync(linuxDir).filter((f) => /^\d+x\d+\.png$/.test(f));
      expect(named.sort()).toEqual(sizes.map((s) => `${s}x${s}.png`).sort());
    });
  });
});
