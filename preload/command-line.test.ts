import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseCommandLine, quoteCommandLine } from "./command-line.ts";

describe("parseCommandLine", () => {
  it.each([
    ["cat", ["cat"]],
    ["  sh   -c\t'exit 3'  ", ["sh", "-c", "exit 3"]],
    [`grep -n "a \\"b\\" \\$HOME \\x" file`, ["grep", "-n", 'a "b" $HOME \\x', "file"]],
    ["echo a\\ b c\\'d", ["echo", "a b", "c'd"]],
    ["printf '%s\\n' $HOME ~ *.ts", ["printf", "%s\\n", "$HOME", "~", "*.ts"]],
    ["echo '' \"\" x''y", ["echo", "", "", "xy"]],
    ['echo one\\\ntwo "three\\\nfour"', ["echo", "onetwo", "threefour"]],
    ["a|b>c", ["a|b>c"]],
  ])("reads %j as its words, expanding nothing", (text, argv) => {
    expect(parseCommandLine(text)).toEqual({ argv });
  });

  it.each([
    ["echo 'open", "a single quote at character 6 is never closed"],
    ['echo "open', "a double quote at character 6 is never closed"],
    ["echo \\", "the command line ends with a backslash: escape it as \\\\"],
    ["   ", "the command line is empty: type a program and its arguments"],
  ])("says why %j has no words", (text, error) => {
    expect(parseCommandLine(text)).toEqual({ error });
  });
});

describe("quoteCommandLine", () => {
  it("leaves plain words alone and quotes the rest", () => {
    expect(quoteCommandLine(["sh", "-c", "exit 3", "", "it's", "a=b", "/usr/bin/bc"])).toBe(
      "sh -c 'exit 3' '' 'it'\\''s' a=b /usr/bin/bc",
    );
  });

  it("is read back as the same words, whatever they hold", () => {
    const word = fc.string({ unit: fc.constantFrom("a", " ", "'", '"', "\\", "\n", "\t", "$", "é", "-", "*") });
    fc.assert(
      fc.property(fc.array(word, { minLength: 1, maxLength: 6 }), (argv) => {
        expect(parseCommandLine(quoteCommandLine(argv))).toEqual({ argv });
      }),
      { numRuns: 2000 },
    );
  });

  it("reads back what it parsed as the same words", () => {
    const text = fc.string({ unit: fc.constantFrom("a", " ", "'", '"', "\\", "\n", "b") });
    fc.assert(
      fc.property(text, (line) => {
        const parsed = parseCommandLine(line);
        if ("argv" in parsed) expect(parseCommandLine(quoteCommandLine(parsed.argv))).toEqual(parsed);
      }),
      { numRuns: 2000 },
    );
  });
});
