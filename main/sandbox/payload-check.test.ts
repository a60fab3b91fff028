/**
 * The main thread's check of the payload bytes a worker wrote for a log event (payload-check.ts): every head the
 * worker's encoder writes passes, whatever the text and fields hold; anything else — cut short, with more after the
 * fields, not JSON — is refused, so that it never reaches a capture.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { expectCount, isPayloadHead } from "./payload-check.ts";

const PREFIX = Buffer.from('{"text":');
const INFIX = Buffer.from(',"fields":');

function head(text: string): boolean {
  const bytes = Buffer.from(text, "utf8");
  return isPayloadHead(bytes, 0, bytes.length, PREFIX, INFIX);
}

describe("payload heads", () => {
  it("pass for every text and fields the worker's encoder writes", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "binary" }),
        fc.dictionary(fc.string({ unit: "binary" }), fc.jsonValue()),
        (t, f) => {
          expect(head(`{"text":${JSON.stringify(t)},"fields":${JSON.stringify(f)}`)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("are refused when cut short, followed by more, or not JSON", () => {
    const good = `{"text":"line 1","fields":{"n":1,"s":"a\\"b\\\\","l":[1,-2.5e3,true,null,{"x":[]}]}`;
    expect(head(good)).toBe(true);
    for (let cut = 0; cut < good.length; cut++) expect(head(good.slice(0, cut))).toBe(false);
    const bad = [
      `${good},"spans":[{"dir":"in","offset":-5,"length":1}]`, // more keys after the fields
      `${good} `,
      '{"text":xxxx,"fields":{}',
      '{"text":"a","fields":[]', // fields not an object
      '{"text":"a","fields":{"n":01}',
      '{"text":"a","fields":{"n":tru}',
      '{"text":"a\u0001","fields":{}', // a control character in a string
      '{"text":"\\x","fields":{}',
      '{"text":"\\u12g4","fields":{}',
      `{"text":"a","fields":${"[".repeat(100)}${"]".repeat(100)}}`,
      `{"text":"a","fields":{"deep":${"[".repeat(100)}${"]".repeat(100)}}`, // deeper than a worker writes
    ];
    for (const text of bad) expect(head(text), text).toBe(false);
    expect(head(`{"text":"a","fields":{"deep":${"[".repeat(20)}${"]".repeat(20)}}`)).toBe(true);
  });

  it("read a count's digits only where they are exactly the number's", () => {
    const at = (text: string, n: number) => expectCount(Buffer.from(text), 0, text.length, n);
    expect(at("1024", 1024)).toBe(4);
    expect(at("0", 0)).toBe(1);
    expect(at("9007199254740991", 2 ** 53 - 1)).toBe(16);
    expect(at("1025", 1024)).toBe(-1);
    expect(at("102", 1024)).toBe(-1);
    expect(at("1", -1)).toBe(-1);
    expect(at("1", 1.5)).toBe(-1);
  });
});
