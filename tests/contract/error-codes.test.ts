/**
 * preload/errors.ts is the one list of error codes: every code main/ throws (or answers across the contract) is in
 * it, every error class of the core (Twisted's names) is in it as "failed", and it holds no code nothing uses. Read
 * from the sources, so that an error class added without its code in the table fails here, not in front of a user
 * whose form or exit code it would have left unexplained.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { ERROR_CODES, isErrorCode } from "../../preload/errors.ts";

const ROOT = join(import.meta.dirname, "..", "..");

/** The non-test TypeScript (and Svelte) files under `dir`, as [path from the root, text]. */
function sources(dir: string, extensions = [".ts"]): Array<[string, string]> {
  const found: Array<[string, string]> = [];
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })) {
    const file = join(entry.parentPath, entry.name);
    if (!entry.isFile() || !extensions.some((e) => entry.name.endsWith(e)) || /\.test\.ts$/.test(entry.name)) continue;
    found.push([relative(ROOT, file), readFileSync(file, "utf8")]);
  }
  return found;
}

/**
 * Where a code is written as a string literal when it is thrown or answered: an error class's constructor call or
 * `super(...)`, a `code` field or property, `contractError(...)`. A code is one word of letters, digits, `-` and `_`.
 */
const THROWN = [
  /\b(?:EngineError|WorkspaceError|CaptureError|CliError|EngineCallError|contractError|super)\(\s*"([A-Za-z][\w-]*)"\s*,/g,
  /\bcode\s*=\s*"([A-Za-z][\w-]*)"/g,
  /\bcode:\s*"([A-Za-z][\w-]*)"/g,
];

/**
 * Codes main/ writes that are not the contract's, each with why: the sandbox worker's answer to the engine's load
 * request, which the engine turns into "protocol-error" before anything crosses; what failed in a TLS handshake,
 * which is a "tls-failed" timeline event's field (the contract's TLSFailure), never an error answered.
 */
const NOT_CONTRACT_CODES: Record<string, string[]> = {
  "main/sandbox/protocol-modules.ts": ["EVALUATION_FAILED"],
  "main/engine/tls-pair.ts": ["client-failed"],
  "main/tls/client-hello.ts": ["not-tls"],
  "main/tls/tls-errors.ts": ["timeout"],
};

function thrownCodes(files: Array<[string, string]>): Array<[string, string]> {
  const codes: Array<[string, string]> = [];
  for (const [file, text] of files) {
    for (const pattern of THROWN) {
      for (const match of text.matchAll(pattern)) {
        const code = match[1]!;
        if (code === "custom" || NOT_CONTRACT_CODES[file]?.includes(code)) continue; // zod's issue kind
        codes.push([file, code]);
      }
    }
  }
  return codes;
}

/** The names of every class in core/ that extends TwistedError, directly or not. */
function twistedErrorClasses(): string[] {
  const parents = new Map<string, string>();
  for (const [, text] of sources("core")) {
    for (const match of text.matchAll(/\bclass (\w+) extends (\w+)/g)) parents.set(match[1]!, match[2]!);
  }
  const descends = (name: string): boolean => {
    for (let at = parents.get(name); at !== undefined; at = parents.get(at)) if (at === "TwistedError") return true;
    return false;
  };
  return [...parents.keys()].filter(descends);
}

describe("the error codes' table", () => {
  it("holds every code main/ and preload/ throw or answer", () => {
    const codes = thrownCodes([...sources("main"), ...sources("preload")]);
    expect(codes.length).toBeGreaterThan(40);
    const missing = codes.filter(([, code]) => !isErrorCode(code)).map(([file, code]) => `${file}: ${code}`);
    expect(missing).toEqual([]);
  });

  it("holds every error class of the core, by its Twisted name, as a failed run", () => {
    const names = twistedErrorClasses();
    expect(names).toEqual(expect.arrayContaining(["ConnectionRefusedError", "ConnectionLost", "TimeoutError"]));
    const wrong = names.filter((name) => !isErrorCode(name) || ERROR_CODES[name] !== "failed");
    expect(wrong).toEqual([]);
  });

  it("spells Wirescope's own codes in kebab-case", () => {
    const twisted = new Set(twistedErrorClasses());
    const own = Object.keys(ERROR_CODES).filter((code) => !twisted.has(code));
    expect(own.filter((code) => !/^[a-z]+(?:-[a-z]+)*$/.test(code))).toEqual([]);
  });

  it("holds no code that nothing throws, answers or compares", () => {
    const everywhere = [
      ...sources("main"),
      ...sources("preload").filter(([file]) => file !== "preload/errors.ts"),
      ...sources("renderer/src", [".ts", ".svelte"]),
    ]
      .map(([, text]) => text)
      .join("\n");
    const twisted = new Set(twistedErrorClasses());
    const unused = Object.keys(ERROR_CODES).filter((code) => !twisted.has(code) && !everywhere.includes(`"${code}"`));
    expect(unused).toEqual([]);
  });

  it("refuses what is not one of its codes", () => {
    expect(isErrorCode("invalid-path")).toBe(true);
    expect(isErrorCode("ConnectionRefusedError")).toBe(true);
    expect(isErrorCode("INVALID_PATH")).toBe(false);
    expect(isErrorCode("ECONNREFUSED")).toBe(false);
    expect(isErrorCode("toString")).toBe(false);
    expect(isErrorCode(42)).toBe(false);
  });
});
