/**
 * The filter language's parser: every form the README lists reads as meant, and a mistake says what and where.
 */
import { describe, expect, it } from "vitest";
import { parseFilter, type FilterExpr } from "./filter-language.ts";

function parsed(source: string): FilterExpr {
  const result = parseFilter(source);
  if (!result.ok) throw new Error(`did not parse: ${result.message}`);
  return result.filter;
}

function mistake(source: string): { message: string; column: number } {
  const result = parseFilter(source);
  if (result.ok) throw new Error(`parsed, but should not have: ${source}`);
  return { message: result.message, column: result.column };
}

describe("parseFilter", () => {
  it("reads nothing as everything", () => {
    expect(parsed("")).toEqual({ type: "all" });
    expect(parsed("   ")).toEqual({ type: "all" });
  });

  it("reads directions and kinds", () => {
    expect(parsed("in")).toEqual({ type: "direction", dir: "in" });
    expect(parsed("OUT")).toEqual({ type: "direction", dir: "out" });
    for (const kind of ["data", "lifecycle", "log", "message"]) expect(parsed(kind)).toEqual({ type: "kind", kind });
  });

  it("reads words and quoted strings as case-insensitive text", () => {
    expect(parsed("Hello")).toEqual({ type: "text", text: "hello" });
    expect(parsed('"GET / HTTP"')).toEqual({ type: "text", text: "get / http" });
    expect(parsed('"say \\"hi\\""')).toEqual({ type: "text", text: 'say "hi"' });
    expect(parsed('"in"')).toEqual({ type: "text", text: "in" });
  });

  it("reads hex searches with and without spaces", () => {
    const bytes = Uint8Array.from([0xde, 0xad, 0xbe, 0xef]);
    expect(parsed("hex: de ad be ef")).toEqual({ type: "bytes", bytes });
    expect(parsed("hex:deadbeef")).toEqual({ type: "bytes", bytes });
    expect(parsed('hex: "de ad be ef"')).toEqual({ type: "bytes", bytes });
    expect(parsed("hex: de ad and in")).toEqual({
      type: "and",
      left: { type: "bytes", bytes: Uint8Array.from([0xde, 0xad]) },
      right: { type: "direction", dir: "in" },
    });
  });

  it("reads the measures in their units", () => {
    expect(parsed("conn == 3")).toEqual({ type: "measure", name: "conn", op: "==", value: 3 });
    expect(parsed("size > 1000")).toEqual({ type: "measure", name: "size", op: ">", value: 1000 });
    expect(parsed("size >= 2KiB")).toEqual({ type: "measure", name: "size", op: ">=", value: 2048 });
    expect(parsed("size < 1KB")).toEqual({ type: "measure", name: "size", op: "<", value: 1000 });
    expect(parsed("size <= 1MiB")).toEqual({ type: "measure", name: "size", op: "<=", value: 1024 * 1024 });
    expect(parsed("size != 3MB")).toEqual({ type: "measure", name: "size", op: "!=", value: 3_000_000 });
    expect(parsed("t >= 1.5s")).toEqual({ type: "measure", name: "t", op: ">=", value: 1_500_000 });
    expect(parsed("t < 200ms")).toEqual({ type: "measure", name: "t", op: "<", value: 200_000 });
    expect(parsed("t < 2")).toEqual({ type: "measure", name: "t", op: "<", value: 2_000_000 });
    expect(parsed("latency > 10ms")).toEqual({ type: "measure", name: "latency", op: ">", value: 10_000 });
    expect(parsed("latency > 250us")).toEqual({ type: "measure", name: "latency", op: ">", value: 250 });
  });

  it("reads field predicates on decoded messages", () => {
    expect(parsed('command == "SET"')).toEqual({ type: "field", path: ["command"], op: "==", value: "SET" });
    expect(parsed('args.1 ~ "user"')).toEqual({ type: "field", path: ["args", "1"], op: "~", value: "user" });
    expect(parsed("id == 3")).toEqual({ type: "field", path: ["id"], op: "==", value: 3 });
    expect(parsed("method == initialize")).toEqual({ type: "field", path: ["method"], op: "==", value: "initialize" });
    expect(parsed("ok == true")).toEqual({ type: "field", path: ["ok"], op: "==", value: true });
    expect(parsed("fields.size > 10")).toEqual({ type: "field", path: ["size"], op: ">", value: 10 });
  });

  it("gives not, and, or their precedence; side by side means and", () => {
    const conn3: FilterExpr = { type: "measure", name: "conn", op: "==", value: 3 };
    const inbound: FilterExpr = { type: "direction", dir: "in" };
    const set: FilterExpr = { type: "field", path: ["command"], op: "==", value: "SET" };
    expect(parsed('conn == 3 in || command == "SET"')).toEqual({
      type: "or",
      left: { type: "and", left: conn3, right: inbound },
      right: set,
    });
    expect(parsed('conn == 3 && (in or command == "SET")')).toEqual({
      type: "and",
      left: conn3,
      right: { type: "or", left: inbound, right: set },
    });
    expect(parsed("!in and not data")).toEqual({
      type: "and",
      left: { type: "not", operand: inbound },
      right: { type: "not", operand: { type: "kind", kind: "data" } },
    });
    expect(parsed("message latency > 10ms")).toEqual({
      type: "and",
      left: { type: "kind", kind: "message" },
      right: { type: "measure", name: "latency", op: ">", value: 10_000 },
    });
  });

  it("says what is wrong and at which column", () => {
    expect(mistake("command == ")).toEqual({ message: "at column 12: expected a value after '=='", column: 12 });
    expect(mistake("size == and")).toEqual({ message: "at column 9: expected a value after '=='", column: 9 });
    expect(mistake("conn = 3").message).toBe("at column 6: '=' alone is not an operator: use == to compare");
    expect(mistake("in & out").message).toBe("at column 4: '&' alone is not an operator: use &&");
    expect(mistake("(in or out").message).toBe("at column 11: expected ')' to close the '(' at column 1");
    expect(mistake("in)").message).toBe("at column 3: expected an operator (and, or) or the end, found ')'");
    expect(mistake('"open').message).toBe("at column 1: this string has no closing '\"'");
    expect(mistake("conn").message).toBe("at column 5: expected a comparison after 'conn' (conn == 3)");
    expect(mistake("conn == 1.5").message).toBe("at column 9: a connection is a whole number (conn == 3)");
    expect(mistake("size > 3pc").message).toBe("at column 8: 'pc' is not a unit of size: use B, KB, KiB, MB or MiB");
    expect(mistake("t > 3kb").message).toBe("at column 5: 'kb' is not a unit of time: use us, ms or s");
    expect(mistake("t ~ 3").message).toBe("at column 3: '~' compares text; t takes a number (t >= 1.5s)");
    expect(mistake("hex: d").message).toBe(
      "at column 1: hex: an odd number of hex digits (1): each byte takes two digits, e.g. '0a' rather than 'a'",
    );
    expect(mistake("hex:").message).toBe("at column 1: expected bytes after 'hex:' (hex: de ad be ef)");
    expect(mistake("in and").message).toBe("at column 7: expected a term after 'and'");
    expect(mistake("!").message).toBe("at column 2: expected a term after '!'");
    expect(mistake("a..b == 1").message).toBe(
      "at column 1: 'a..b' is not a field path: name fields as command or args.1",
    );
  });
});
