/**
 * compileProtocol on real workspace files: bundles relative imports, keeps the core external, locates errors at
 * file:line:col, refuses imports the sandbox cannot honour, and maps the bundle back to the user's lines.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { SourceMap as NodeSourceMap } from "node:module";
import vm from "node:vm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import * as core from "../../core/index.ts";
import { compileProtocol, mapStackToSource, SourceMapper, type CompileResult } from "./compiler.ts";
import { templateSource } from "./templates.ts";

let root: string;

beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), "wirescope-compile-"));
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

function put(file: string, content: string): void {
  mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
  writeFileSync(path.join(root, file), content);
}

/** Evaluates a bundle as the sandbox will: CommonJS, with "wirescope" provided by the real core. */
function evaluate(result: Extract<CompileResult, { ok: true }>): Record<string, unknown> {
  const module = { exports: {} as Record<string, unknown> };
  const require = (id: string): unknown => {
    if (id === "wirescope") return core;
    throw new Error(`the sandbox provides no module '${id}'`);
  };
  const run = vm.compileFunction(result.code, ["exports", "require", "module"], { filename: result.fileName });
  run(module.exports, require, module);
  return module.exports;
}

async function compiled(file: string): Promise<Extract<CompileResult, { ok: true }>> {
  const result = await compileProtocol(root, file);
  if (!result.ok) throw new Error(`did not compile: ${JSON.stringify(result.diagnostics)}`);
  return result;
}

const UTIL = `export function shout(text: string): string {
  if (text === "") throw new Error("nothing to shout");
  return text.toUpperCase() + "!";
}
`;

const GREETER = `import { LineReceiver } from "wirescope";
import { shout } from "./lib/util.ts";

export class Greeter extends LineReceiver {
  override lineReceived(line: Buffer): void {
    this.sendLine(Buffer.from(shout(line.toString())));
  }
}
export default Greeter;
`;

describe("compileProtocol", () => {
  it("bundles a relative import, keeps the core external, and lists the inputs", async () => {
    put("lib/util.ts", UTIL);
    put("greeter.ts", GREETER);
    const result = await compiled("greeter.ts");
    expect(result.inputs).toEqual(["greeter.ts", "lib/util.ts"]);
    expect(result.code).toContain('require("wirescope")');
    expect(result.warnings).toEqual([]);
    expect(result.durationMs).toBeGreaterThan(0);

    const exported = evaluate(result);
    expect(exported.default).toBe(exported.Greeter);
    const Greeter = exported.default as new () => core.LineReceiver;
    expect(Greeter.name).toBe("Greeter");
    const greeter = new Greeter();
    expect(greeter).toBeInstanceOf(core.LineReceiver);
    const transport = new core.StringTransport();
    greeter.makeConnection(transport);
    greeter.dataReceived(Buffer.from("hi\r\n"));
    expect(transport.value().toString()).toBe("HI!\r\n");
  });

  it("reports a syntax error with the file, line and column, in an imported file too", async () => {
    put("lib/util.ts", "export const a = 1;\nexport const b = (2;\n");
    put("main.ts", 'import { a } from "./lib/util.ts";\nexport default a;\n');
    const result = await compileProtocol(root, "main.ts");
    expect(result).toMatchObject({
      ok: false,
      diagnostics: [
        { file: "lib/util.ts", line: 2, column: 20, severity: "error", message: 'Expected ")" but found ";"' },
      ],
    });
  });

  it("counts columns in UTF-16 units, as editors do, after non-ASCII text", async () => {
    put("accents.ts", 'const s = "héllo wörld"; const t = ;\n');
    const result = await compileProtocol(root, "accents.ts");
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.diagnostics[0]).toMatchObject({ line: 1, column: 36 });
  });

  it.each([
    ['import { readFileSync } from "node:fs";', "node:fs", 30],
    ['import net from "net";', "net", 17],
    ['import lodash from "lodash";', "lodash", 20],
    ['const fs = require("fs");', "fs", 20],
  ])("refuses %j: the sandbox provides only the core", async (statement, spec, column) => {
    // Used, so that esbuild does not drop it as a type-only import.
    const use = statement.match(/(?:import|const) \{? ?(\w+)/)![1];
    put("p.ts", `// a protocol\n${statement}\nexport default ${use};\n`);
    const result = await compileProtocol(root, "p.ts");
    expect(result).toMatchObject({
      ok: false,
      diagnostics: [
        {
          file: "p.ts",
          line: 2,
          column,
          message: `cannot import '${spec}': protocols run in a sandbox: import from 'wirescope' or other workspace files ('./name.ts'), not '${spec}'`,
        },
      ],
    });
  });

  it("refuses a relative import that leaves the workspace", async () => {
    const outside = mkdtempSync(path.join(os.tmpdir(), "wirescope-outside-"));
    writeFileSync(path.join(outside, "x.ts"), "export const x = 1;\n");
    const relative = path.relative(root, path.join(outside, "x.ts")).split(path.sep).join("/");
    put("p.ts", `import { x } from "${relative}";\nexport default x;\n`);
    const result = await compileProtocol(root, "p.ts");
    rmSync(outside, { recursive: true, force: true });
    expect(result).toMatchObject({
      ok: false,
      diagnostics: [{ file: "p.ts", line: 1, message: expect.stringContaining("it is outside the workspace") }],
    });
  });

  it("allows node:buffer, which the sandbox provides", async () => {
    put("p.ts", 'import { Buffer } from "node:buffer";\nexport default Buffer.from("x").length;\n');
    const result = await compiled("p.ts");
    expect(result.code).toContain('require("node:buffer")');
  });

  it("reports a file that does not exist as a diagnostic on the whole file", async () => {
    const result = await compileProtocol(root, "ghost.ts");
    expect(result).toMatchObject({
      ok: false,
      diagnostics: [{ file: "ghost.ts", line: 0, column: 0, message: "'ghost.ts' does not exist in the workspace" }],
    });
  });

  it("reports an import of a missing workspace file where the import is", async () => {
    put("p.ts", 'import { x } from "./missing.ts";\nexport default x;\n');
    const result = await compileProtocol(root, "p.ts");
    expect(result).toMatchObject({ ok: false, diagnostics: [{ file: "p.ts", line: 1, column: 19 }] });
  });

  it("throws InvalidPathError for a path that is not a protocol path", async () => {
    await expect(compileProtocol(root, "../x.ts")).rejects.toMatchObject({ code: "invalid-path" });
  });
});

describe("source maps", () => {
  it("map a line of the bundle back to the line and column in the user's file", async () => {
    put("lib/util.ts", UTIL);
    put("greeter.ts", GREETER);
    const result = await compiled("greeter.ts");
    expect([...result.sourceMap.sources].sort()).toEqual(["greeter.ts", "lib/util.ts"]);
    const mapper = new SourceMapper(result.sourceMap);
    const lines = result.code.split("\n");
    const at = (needle: string) => {
      const line = lines.findIndex((l) => l.includes(needle));
      return [line + 1, lines[line]!.indexOf(needle) + 1] as const;
    };
    expect(mapper.originalPosition(...at("toUpperCase"))).toEqual({ file: "lib/util.ts", line: 3, column: 15 });
    expect(mapper.originalPosition(...at("this.sendLine"))).toEqual({ file: "greeter.ts", line: 6, column: 5 });
    expect(mapper.originalPosition(1, 1)).toBeNull(); // esbuild's module glue
    expect(mapper.originalPosition(lines.length + 10, 1)).toBeNull();
  });

  it("map a stack trace thrown from the bundle to the user's file:line:col", async () => {
    put("lib/util.ts", UTIL);
    put("greeter.ts", GREETER);
    const result = await compiled("greeter.ts");
    const Greeter = evaluate(result).default as new () => core.LineReceiver;
    const greeter = new Greeter();
    greeter.makeConnection(new core.StringTransport());
    let stack = "";
    try {
      greeter.lineReceived(Buffer.from(""));
    } catch (err) {
      stack = (err as Error).stack ?? "";
    }
    expect(stack).toContain("greeter.ts.bundle.js:");
    const mapped = mapStackToSource(stack, result.sourceMap, result.fileName);
    const frames = mapped
      .split("\n")
      .slice(1, 3)
      .map((l) => l.trim());
    expect(frames[0]).toMatch(/^at shout \(lib\/util\.ts:2:26\)$/); // "new Error(...)"
    expect(frames[1]).toMatch(/^at Greeter\.lineReceived \(greeter\.ts:6:31\)$/);
  });

  it("agree with Node's own decoder (node:module SourceMap) at every position of a bundle", async () => {
    for (const id of ["resp", "http"]) {
      put(`${id}.ts`, (await templateSource(id))!);
      const result = await compiled(`${id}.ts`);
      const ours = new SourceMapper(result.sourceMap);
      const node = new NodeSourceMap({
        file: result.fileName,
        sourceRoot: "",
        ...result.sourceMap,
        sourcesContent: [],
      });
      const lines = result.code.split("\n");
      let compared = 0;
      for (let line = 0; line < lines.length; line++) {
        for (let column = 0; column < lines[line]!.length; column++) {
          const entry = node.findEntry(line, column) as {
            originalSource?: string;
            originalLine?: number;
            originalColumn?: number;
            generatedLine?: number;
          };
          const mine = ours.originalPosition(line + 1, column + 1);
          if (entry.originalSource === undefined || entry.generatedLine !== line) {
            expect(mine).toBeNull();
            continue;
          }
          expect(mine).toEqual({
            file: entry.originalSource,
            line: entry.originalLine! + 1,
            column: entry.originalColumn! + 1,
          });
          compared++;
        }
      }
      expect(compared).toBeGreaterThan(1000);
    }
  });

  it("refuse malformed mappings with a TypeError", () => {
    const map = { version: 3, sources: ["a.ts"], names: [], mappings: "AAAA;A!" };
    expect(() => new SourceMapper(map)).toThrow(TypeError);
    expect(() => new SourceMapper({ ...map, mappings: "AAg" })).toThrow(/cut short/);
  });
});
