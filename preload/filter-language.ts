/**
 * The timeline's filter language, Wireshark-like and small: the parser. Pure (no Node, no DOM): the workbench parses
 * what is typed in its filter box to explain a mistake under it at once, and the engine parses the same text for
 * findTimeline and evaluates the tree (main/engine/filter-evaluator.ts). The CLI's `show --filter` uses it too.
 *
 *     in, out                     direction (of a chunk, or of the bytes a decoded message came from)
 *     data, lifecycle, log, message   kind of event (every decoded message is a log event too)
 *     word, "quoted string"       case-insensitive text: a chunk's bytes as Latin-1, a lifecycle event and its
 *                                 detail, a log's text and its field values
 *     hex: de ad be ef, hex:dead  bytes in a chunk
 *     conn == 3                   the connection
 *     size > 1KiB                 a chunk's length, a decoded message's bytes (its spans added up)
 *     t >= 1.5s                   time since the session's first event (a bare number is seconds)
 *     latency > 10ms              a paired response's latency (a bare number is seconds)
 *     command == "SET", args.1 ~ user, id == 3   a decoded message's fields, by dotted path (`fields.size` for a
 *                                 field named like one of the words above)
 *
 * Operators `== != < <= > >= ~` (~: contains, case-insensitive), `&&`/`and`, `||`/`or`, `!`/`not`, parentheses;
 * terms side by side mean and. Units: us (or µs), ms, s; B, KB (1000), KiB (1024), MB, MiB. Precedence: not, then
 * and, then or.
 */
import type { Direction } from "./timeline.ts";
import { parseHex } from "./send-input.ts";

/** A comparison operator. */
export type FilterOperator = "==" | "!=" | "<" | "<=" | ">" | ">=" | "~";

/** What the columns of the engine's index hold, compared as numbers: bytes for size, µs for t and latency. */
export type Measure = "conn" | "size" | "t" | "latency";

/** The kinds a filter names: "message" is the decoded messages, "log" every log event (messages included). */
export type FilterKind = "data" | "lifecycle" | "log" | "message";

/** A parsed filter. */
export type FilterExpr =
  | { type: "all" }
  | { type: "and"; left: FilterExpr; right: FilterExpr }
  | { type: "or"; left: FilterExpr; right: FilterExpr }
  | { type: "not"; operand: FilterExpr }
  | { type: "direction"; dir: Direction }
  | { type: "kind"; kind: FilterKind }
  /** `text` in lower case. */
  | { type: "text"; text: string }
  | { type: "bytes"; bytes: Uint8Array }
  /** `value` in bytes (size) or µs (t, latency). */
  | { type: "measure"; name: Measure; op: FilterOperator; value: number }
  | { type: "field"; path: string[]; op: FilterOperator; value: string | number | boolean | null };

/** The outcome of `parseFilter`: the tree, or what is wrong and where (`column` from 1; the message names it too). */
export type ParsedFilter = { ok: true; filter: FilterExpr } | { ok: false; message: string; column: number };

/** The longest filter the contract takes. */
export const MAX_FILTER_LENGTH = 2000;

const KINDS: readonly FilterKind[] = ["data", "lifecycle", "log", "message"];
const MEASURES: readonly Measure[] = ["conn", "size", "t", "latency"];
const OPERATORS: readonly FilterOperator[] = ["==", "!=", "<=", ">=", "<", ">", "~"];

const TIME_UNITS: Record<string, number> = { us: 1, µs: 1, ms: 1000, s: 1_000_000 };
const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1000, kib: 1024, mb: 1_000_000, mib: 1024 * 1024 };

/** A token: an operator or parenthesis, a quoted string, or an atom (a run of anything else but spaces). */
interface Token {
  kind: "op" | "string" | "atom" | "end";
  text: string;
  column: number;
}

/** Thrown inside the parser, turned into `{ ok: false }` by parseFilter. */
class FilterSyntaxError extends Error {
  constructor(
    readonly column: number,
    what: string,
  ) {
    super(`at column ${column}: ${what}`);
  }
}

/** Characters that end an atom. */
const DELIMITERS = new Set([...'=!<>~&|()"']);

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    const column = i + 1;
    if (/\s/.test(c)) {
      i += 1;
    } else if (c === '"') {
      const { text, end } = quoted(source, i);
      tokens.push({ kind: "string", text, column });
      i = end;
    } else if (c === "(" || c === ")" || c === "~") {
      tokens.push({ kind: "op", text: c, column });
      i += 1;
    } else if (c === "&" || c === "|") {
      if (source[i + 1] !== c) throw new FilterSyntaxError(column, `'${c}' alone is not an operator: use ${c}${c}`);
      tokens.push({ kind: "op", text: c + c, column });
      i += 2;
    } else if (c === "=" || c === "!" || c === "<" || c === ">") {
      const two = source.slice(i, i + 2);
      if (two === "==" || two === "!=" || two === "<=" || two === ">=") {
        tokens.push({ kind: "op", text: two, column });
        i += 2;
      } else if (c === "=") {
        throw new FilterSyntaxError(column, "'=' alone is not an operator: use == to compare");
      } else {
        tokens.push({ kind: "op", text: c, column });
        i += 1;
      }
    } else {
      let end = i;
      while (end < source.length && !DELIMITERS.has(source[end]!) && !/\s/.test(source[end]!)) end += 1;
      tokens.push({ kind: "atom", text: source.slice(i, end), column });
      i = end;
    }
  }
  tokens.push({ kind: "end", text: "", column: source.length + 1 });
  return tokens;
}

/** The string starting with the quote at `start`: `\"` and `\\` escape; returns its text and where it ended. */
function quoted(source: string, start: number): { text: string; end: number } {
  let text = "";
  for (let i = start + 1; i < source.length; i += 1) {
    const c = source[i]!;
    if (c === '"') return { text, end: i + 1 };
    if (c === "\\" && i + 1 < source.length) {
      i += 1;
      text += source[i];
    } else {
      text += c;
    }
  }
  throw new FilterSyntaxError(start + 1, "this string has no closing '\"'");
}

/** A recursive-descent parser over the tokens: or -> and -> unary -> primary. */
class Parser {
  private at = 0;
  constructor(private readonly tokens: Token[]) {}

  /** The current token. */
  private get token(): Token {
    return this.tokens[this.at]!;
  }

  private atEnd(): boolean {
    return this.token.kind === "end";
  }

  private next(): Token {
    return this.tokens[this.at++]!;
  }

  private isWord(word: string): boolean {
    return this.token.kind === "atom" && this.token.text.toLowerCase() === word;
  }

  parse(): FilterExpr {
    if (this.atEnd()) return { type: "all" };
    const filter = this.or();
    if (!this.atEnd()) throw this.unexpected("an operator (and, or) or the end");
    return filter;
  }

  private or(): FilterExpr {
    let left = this.and();
    while (this.token.text === "||" || this.isWord("or")) {
      const op = this.next();
      left = { type: "or", left, right: this.operand(op, () => this.and()) };
    }
    return left;
  }

  private and(): FilterExpr {
    let left = this.unary();
    while (true) {
      if (this.token.text === "&&" || this.isWord("and")) {
        const op = this.next();
        left = { type: "and", left, right: this.operand(op, () => this.unary()) };
      } else if (this.startsTerm()) {
        left = { type: "and", left, right: this.unary() };
      } else {
        return left;
      }
    }
  }

  /** Whether the current token can start a term (so that terms side by side mean and). */
  private startsTerm(): boolean {
    const t = this.token;
    if (t.kind === "string") return true;
    if (t.kind === "op") return t.text === "(" || t.text === "!";
    return t.kind === "atom" && !this.isWord("or") && !this.isWord("and");
  }

  /** What `parse` expects after the operator `op`, or an error naming it. */
  private operand(op: Token, parse: () => FilterExpr): FilterExpr {
    if (!this.startsTerm()) throw new FilterSyntaxError(this.token.column, `expected a term after '${op.text}'`);
    return parse();
  }

  private unary(): FilterExpr {
    if (this.token.text === "!" || this.isWord("not")) {
      const op = this.next();
      return { type: "not", operand: this.operand(op, () => this.unary()) };
    }
    return this.primary();
  }

  private primary(): FilterExpr {
    const t = this.token;
    if (t.kind === "op" && t.text === "(") {
      this.next();
      if (this.token.kind === "op" && this.token.text === ")") throw this.unexpected("a term inside '( )'");
      const inner = this.or();
      if (this.token.text !== ")" || this.token.kind !== "op") {
        throw new FilterSyntaxError(this.token.column, `expected ')' to close the '(' at column ${t.column}`);
      }
      this.next();
      return inner;
    }
    if (t.kind === "string") {
      this.next();
      return this.comparedOrText(t, t.text);
    }
    if (t.kind !== "atom") throw this.unexpected("a term");
    this.next();
    const word = t.text.toLowerCase();
    if (word.startsWith("hex:")) return this.hex(t);
    if (word === "in" || word === "out") return { type: "direction", dir: word };
    if ((KINDS as readonly string[]).includes(word)) return { type: "kind", kind: word as FilterKind };
    if ((MEASURES as readonly string[]).includes(word)) return this.measure(t, word as Measure);
    return this.comparedOrText(t, t.text);
  }

  /** A field predicate when an operator follows `name`, else a text search for it. */
  private comparedOrText(name: Token, text: string): FilterExpr {
    const op = this.operator();
    if (op === null) return { type: "text", text: text.toLowerCase() };
    const given = name.kind === "atom" && /^fields\./i.test(text) ? text.slice("fields.".length) : text;
    const path = given.split(".");
    if (path.some((part) => part === "")) {
      throw new FilterSyntaxError(name.column, `'${text}' is not a field path: name fields as command or args.1`);
    }
    const value = this.value(op);
    if (op.text === "~" && typeof value !== "string" && typeof value !== "number") {
      throw new FilterSyntaxError(op.column, "'~' (contains) takes text: give a word or a \"quoted string\"");
    }
    return { type: "field", path, op: op.text as FilterOperator, value };
  }

  /** The comparison operator here, taken, or null when there is none. */
  private operator(): Token | null {
    const t = this.token;
    if (t.kind !== "op" || !(OPERATORS as readonly string[]).includes(t.text)) return null;
    return this.next();
  }

  /** The value after `op`: a quoted string, a number, true/false/null, or a bare word (a string). */
  private value(op: Token): string | number | boolean | null {
    const t = this.token;
    if (t.kind === "string") {
      this.next();
      return t.text;
    }
    if (t.kind !== "atom" || this.isWord("and") || this.isWord("or") || this.isWord("not")) {
      throw new FilterSyntaxError(t.column, `expected a value after '${op.text}'`);
    }
    this.next();
    const word = t.text.toLowerCase();
    if (word === "true" || word === "false") return word === "true";
    if (word === "null") return null;
    const n = Number(t.text);
    return /^-?\d+(\.\d+)?$/.test(t.text) && Number.isFinite(n) ? n : t.text;
  }

  /** `conn == 3`, `size > 1KiB`, `t >= 1.5s`, `latency > 10ms`: the number in the measure's own unit. */
  private measure(name: Token, measure: Measure): FilterExpr {
    const op = this.operator();
    const example = { conn: "conn == 3", size: "size > 1000", t: "t >= 1.5s", latency: "latency > 10ms" }[measure];
    if (op === null) {
      throw new FilterSyntaxError(this.token.column, `expected a comparison after '${name.text}' (${example})`);
    }
    if (op.text === "~")
      throw new FilterSyntaxError(op.column, `'~' compares text; ${measure} takes a number (${example})`);
    const t = this.token;
    if (t.kind !== "atom" || this.isWord("and") || this.isWord("or") || this.isWord("not")) {
      throw new FilterSyntaxError(t.column, `expected a value after '${op.text}'`);
    }
    this.next();
    const match = /^(-?\d+(?:\.\d+)?)([a-zA-Zµ]*)$/.exec(t.text);
    if (match === null) throw new FilterSyntaxError(t.column, `expected a number after '${op.text}' (${example})`);
    const number = Number(match[1]);
    const unit = match[2]!.toLowerCase();
    let scale = 1;
    if (measure === "conn") {
      if (unit !== "" || !Number.isInteger(number)) {
        throw new FilterSyntaxError(t.column, `a connection is a whole number (${example})`);
      }
    } else if (measure === "size") {
      if (unit !== "" && SIZE_UNITS[unit] === undefined) {
        throw new FilterSyntaxError(t.column, `'${match[2]}' is not a unit of size: use B, KB, KiB, MB or MiB`);
      }
      scale = unit === "" ? 1 : SIZE_UNITS[unit]!;
    } else {
      if (unit !== "" && TIME_UNITS[unit] === undefined) {
        throw new FilterSyntaxError(t.column, `'${match[2]}' is not a unit of time: use us, ms or s`);
      }
      scale = unit === "" ? TIME_UNITS.s! : TIME_UNITS[unit]!;
    }
    return { type: "measure", name: measure, op: op.text as FilterOperator, value: number * scale };
  }

  /** `hex:deadbeef`, `hex: de ad be ef` (groups of hex digits that follow), or `hex: "de ad"`. */
  private hex(start: Token): FilterExpr {
    let digits = start.text.slice("hex:".length);
    if (digits === "" && this.token.kind === "string") {
      digits = this.next().text;
    } else {
      while (this.token.kind === "atom" && /^(0x)?[0-9a-f]+$/i.test(this.token.text)) digits += this.next().text;
    }
    const parsed = parseHex(digits);
    if (!parsed.ok) throw new FilterSyntaxError(start.column, `hex: ${parsed.message}`);
    if (parsed.bytes.length === 0) {
      throw new FilterSyntaxError(start.column, "expected bytes after 'hex:' (hex: de ad be ef)");
    }
    return { type: "bytes", bytes: parsed.bytes };
  }

  private unexpected(expected: string): FilterSyntaxError {
    const t = this.token;
    const what = t.kind === "end" ? "the end" : `'${t.text}'`;
    return new FilterSyntaxError(t.column, `expected ${expected}, found ${what}`);
  }
}

/**
 * Parses `source` (at most MAX_FILTER_LENGTH characters, which the contract checks): the tree, or the first mistake
 * with its column ("at column 9: expected a value after '=='"). An empty or blank filter matches everything.
 */
export function parseFilter(source: string): ParsedFilter {
  try {
    return { ok: true, filter: new Parser(tokenize(source)).parse() };
  } catch (err) {
    if (err instanceof FilterSyntaxError) return { ok: false, message: err.message, column: err.column };
    throw err;
  }
}
