/**
 * The send box checks input with the engine's rules before sending (lib/bytes.ts mirrors
 * main/engine/send-encoding.ts): for any input, both accept the same bytes or refuse with the same sentence.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { parseHex as engineHex, parseEscapedText as engineText } from "../../../main/engine/send-encoding.ts";
import { parseEscapedText, parseHex, type Parsed } from "./bytes.ts";

function engine(parse: (s: string) => Uint8Array, input: string): Parsed {
  try {
    return { ok: true, bytes: new Uint8Array(parse(input)) };
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
}

/** Inputs rich in what matters: backslashes, x, hex digits, separators, non-ASCII. */
const typed = fc
  .array(fc.constantFrom("\\", "x", "n", "r", "t", "0", "q", "a", "F", "9", " ", ":", "é", "€", "'", '"', "g"), {
    maxLength: 12,
  })
  .map((chars) => chars.join(""));

describe("the send box agrees with the engine", () => {
  it("on text with escapes", () => {
    fc.assert(
      fc.property(fc.oneof(typed, fc.string()), (s) => {
        expect(parseEscapedText(s)).toEqual(engine(engineText, s));
      }),
    );
  });

  it("on hex", () => {
    fc.assert(
      fc.property(fc.oneof(typed, fc.string()), (s) => {
        expect(parseHex(s)).toEqual(engine(engineHex, s));
      }),
    );
  });
});
