/**
 * The layer rule (eslint.config.js, `layers/imports`) for Svelte components: ESLint has no Svelte parser here, so
 * `npm run lint` never reads a `.svelte` file. This test lints each component's `<script>` blocks as the TypeScript
 * module they are, at the component's own path (so the renderer's rule applies), and keeps only that rule's findings.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ESLint } from "eslint";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "../..");
const SCRIPT = /<script\b[^>]*>([\s\S]*?)<\/script>/g;

/** Every `.svelte` file under `dir`, as absolute paths. */
function components(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".svelte"))
    .map((e) => path.join(e.parentPath, e.name));
}

/** The layer rule's messages for the `<script>` blocks of `source`, linted as if they were at `file` + ".ts". */
async function layerProblems(eslint: ESLint, file: string, source: string): Promise<string[]> {
  const scripts = [...source.matchAll(SCRIPT)].map((m) => m[1]).join("\n");
  const [result] = await eslint.lintText(scripts, { filePath: `${file}.ts` });
  return result!.messages.filter((m) => m.ruleId === "layers/imports").map((m) => `${m.line}: ${m.message}`);
}

describe("Svelte components keep the renderer's layer rule", () => {
  const eslint = new ESLint({ cwd: ROOT });

  it("finds the rule's message for a component that imports the engine", async () => {
    const file = path.join(ROOT, "renderer/src/components/Probe.svelte");
    const problems = await layerProblems(
      eslint,
      file,
      `<script lang="ts">\n  import { Engine } from "../../../main/engine/engine.ts";\n</script>\n`,
    );
    expect(problems).toEqual([expect.stringMatching(/^2: renderer\/ imports only renderer\/, preload\//)]);
  });

  it("no component imports main/, core/, node: built-ins or electron", { timeout: 120_000 }, async () => {
    const found: Record<string, string[]> = {};
    for (const file of components(path.join(ROOT, "renderer/src"))) {
      const problems = await layerProblems(eslint, file, fs.readFileSync(file, "utf8"));
      if (problems.length > 0) found[path.relative(ROOT, file)] = problems;
    }
    expect(found).toEqual({});
  });
});
