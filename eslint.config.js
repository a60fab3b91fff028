// ESLint flat config: typescript-eslint's recommended rules over the whole tree, and the layers' import rules.
import path from "node:path";
import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

/** The checkout's root: relative imports are resolved against it to the top folder (layer) they land in. */
const ROOT = import.meta.dirname;

/**
 * What an import brings in: `<folder>/` for a file of this checkout (its top folder: `core/`, `main/`...; `./` for
 * a file at the root, `../` for one outside the checkout), `node:` for Node's built-ins, else the package's name.
 */
function importTarget(source, filename) {
  if (source.startsWith("node:")) return "node:";
  if (source.startsWith(".")) {
    const parts = path.relative(ROOT, path.resolve(path.dirname(filename), source)).split(path.sep);
    if (parts[0] === "..") return "../";
    return parts.length === 1 ? "./" : `${parts[0]}/`;
  }
  const parts = source.split("/");
  return source.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

/**
 * `layers/imports`: the dependency rule of the house (README.md, "Layout"), checked on every import, export-from, `import()`,
 * `import("...")` type and `require("...")` with a literal name, as VS Code's `code-import-patterns` checks its
 * layers. Options: `may`, what the file's layer may import (`<folder>/` of this checkout, `node:`, a package's
 * name, or `*` for any package but electron, which is always named), and `says`, the rule in words, reported as is.
 */
const layersPlugin = {
  rules: {
    imports: {
      meta: {
        type: "problem",
        docs: { description: "Each layer imports only what the house's dependency rule lets it." },
        schema: [
          {
            type: "object",
            properties: { may: { type: "array", items: { type: "string" } }, says: { type: "string" } },
            required: ["may", "says"],
            additionalProperties: false,
          },
        ],
        messages: { layer: '{{says}}: not "{{source}}".' },
      },
      create(context) {
        const [{ may, says }] = context.options;
        const allows = (target) =>
          may.includes(target) || (may.includes("*") && !/[/:]$/.test(target) && target !== "electron");
        const check = (node) => {
          if (node?.type !== "Literal" || typeof node.value !== "string") return;
          if (!allows(importTarget(node.value, context.filename))) {
            context.report({ node, messageId: "layer", data: { says, source: node.value } });
          }
        };
        const checkSource = (node) => check(node.source);
        return {
          ImportDeclaration: checkSource,
          ExportAllDeclaration: checkSource,
          ExportNamedDeclaration: checkSource,
          ImportExpression: checkSource,
          TSImportType: checkSource,
          CallExpression(node) {
            if (node.callee.type === "Identifier" && node.callee.name === "require") check(node.arguments[0]);
          },
        };
      },
    },
  },
};

/**
 * The layers, from the general to the particular (a later entry replaces an earlier one for the files both match).
 * tests/, scripts/, bin/ and the root's config files have no entry: they drive every layer from outside.
 */
const LAYERS = [
  {
    files: ["core/**"],
    may: ["core/", "node:"],
    says:
      "core/ imports only node: built-ins and core/ itself: it is a library a user could use without the app " +
      "(no packages, main/, preload/, renderer/ or electron)",
  },
  {
    files: ["main/**"],
    may: ["main/", "core/", "preload/", "node:", "*"],
    says:
      "main/ imports core/, preload/, node: built-ins and packages, never renderer/ (the workbench is reached only " +
      "through preload/'s contract); only main/shell/ imports electron: the engine also runs under plain Node",
  },
  {
    files: ["main/shell/**"],
    may: ["main/", "core/", "preload/", "node:", "*", "electron"],
    says: "main/shell/ imports main/, core/, preload/, node: built-ins and packages (electron too), never renderer/",
  },
  {
    files: ["preload/**"],
    may: ["preload/", "zod"],
    says:
      "preload/ imports only preload/ itself and zod: the contract is loaded by the engine, the browser and " +
      "Electron's sandboxed preload alike (no main/, core/, renderer/ or node: built-ins; electron only in " +
      "preload/electron-preload.ts)",
  },
  {
    files: ["preload/electron-preload.ts"],
    may: ["preload/", "zod", "electron"],
    says: "preload/electron-preload.ts imports only preload/, zod and electron",
  },
  {
    files: ["renderer/**"],
    may: ["renderer/", "preload/", "*"],
    says:
      "renderer/ imports only renderer/, preload/ (the contract, its WebSocket client) and browser packages: it " +
      "runs in a sandboxed page (no main/, core/, node: built-ins or electron)",
  },
  {
    files: ["renderer/vite.config.ts", "renderer/scripts/**"],
    may: ["renderer/", "preload/", "node:", "*"],
    says: "renderer/'s build files import renderer/, preload/, node: built-ins and packages, never main/, core/ or electron",
  },
];

/** Test files, and the helpers beside them, which may cross their layer as far as TEST_MAY says. */
const TESTS = ["**/*.test.ts", "**/test-helpers.ts"];
/** What a test file may import on top of its layer: the shared helpers, Node, the test runner and fast-check. */
const TEST_MAY = ["tests/", "node:", "vitest", "fast-check"];

const layerRules = (files, may, says) => ({
  files,
  plugins: { layers: layersPlugin },
  rules: { "layers/imports": ["error", { may, says }] },
});

export default tseslint.config(
  {
    ignores: [
      "node_modules/",
      "dist/",
      "out/",
      "coverage/",
      "test-results/",
      "playwright-report/",
      "renderer/dist/",
      "release/",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "no-constant-condition": ["error", { checkLoops: false }],
    },
  },
  ...LAYERS.map(({ files, may, says }) => layerRules(files, may, says)),
  ...LAYERS.map(({ files, may, says }) =>
    layerRules(
      files.flatMap((layer) => TESTS.map((test) => [layer, test])),
      [...may, ...TEST_MAY],
      `${says}; its tests may also import tests/ helpers, node: built-ins, vitest and fast-check`,
    ),
  ),
);
