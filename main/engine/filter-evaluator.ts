/**
 * What a parsed filter (preload/filter-language.ts) says about one event of a timeline. Two steps, so that a search
 * reads the capture only where it must: `verdict` without the event answers from the index's columns (direction,
 * kind, connection, size, time, latency) and says null where it can't (text, bytes, fields); with the event read,
 * it always answers.
 */
import type { FilterExpr, FilterOperator } from "../../preload/filter-language.ts";
import type { LifecycleTimelineEvent, LogTimelineEvent, TimelineEvent } from "../../preload/timeline.ts";
import { EVENT_KIND, type TimelineIndex } from "../recording/timeline-index.ts";

/** Whether event `seq` matches `filter`: from the index alone (null: read the event), or with `event` read. */
export function verdict(filter: FilterExpr, index: TimelineIndex, seq: number, event?: TimelineEvent): boolean | null {
  switch (filter.type) {
    case "all":
      return true;
    case "and": {
      const left = verdict(filter.left, index, seq, event);
      if (left === false) return false;
      const right = verdict(filter.right, index, seq, event);
      return right === false ? false : left === null || right === null ? null : true;
    }
    case "or": {
      const left = verdict(filter.left, index, seq, event);
      if (left === true) return true;
      const right = verdict(filter.right, index, seq, event);
      return right === true ? true : left === null || right === null ? null : false;
    }
    case "not": {
      const operand = verdict(filter.operand, index, seq, event);
      return operand === null ? null : !operand;
    }
    case "direction":
      return index.dirOf(seq) === filter.dir;
    case "kind": {
      const kind = index.kindOf(seq);
      if (filter.kind === "log") return kind === EVENT_KIND.log || kind === EVENT_KIND.message;
      return kind === EVENT_KIND[filter.kind];
    }
    case "measure":
      return measured(filter.name, index, seq, filter.op, filter.value);
    case "text":
      if (event === undefined) return null;
      return event.kind === "data"
        ? includesFolded(event.data, folded(filter.text))
        : searchableText(event).includes(filter.text);
    case "bytes":
      if (index.kindOf(seq) !== EVENT_KIND.data) return false;
      return event?.kind === "data" ? bytesOf(event.data).indexOf(filter.bytes) !== -1 : null;
    case "field":
      if (index.kindOf(seq) !== EVENT_KIND.message) return false;
      if (event?.kind !== "log") return null;
      return compareField(valueAt(event.fields, filter.path), filter.op, filter.value);
  }
}

/** `conn`, `size`, `t` (since the first event) or `latency` of event `seq`, compared; false where it has none. */
function measured(name: string, index: TimelineIndex, seq: number, op: FilterOperator, value: number): boolean {
  switch (name) {
    case "conn":
      return compareNumbers(index.connOf(seq), op, value);
    case "size": {
      const kind = index.kindOf(seq);
      return (kind === EVENT_KIND.data || kind === EVENT_KIND.message) && compareNumbers(index.sizeOf(seq), op, value);
    }
    case "t":
      return compareNumbers(index.tOf(seq) - (index.firstT ?? 0), op, value);
    default: {
      if (index.kindOf(seq) !== EVENT_KIND.message) return false;
      const latency = index.latencyOf(seq);
      return !Number.isNaN(latency) && compareNumbers(latency, op, value);
    }
  }
}

function compareNumbers(a: number, op: FilterOperator, b: number): boolean {
  switch (op) {
    case "==":
      return a === b;
    case "!=":
      return a !== b;
    case "<":
      return a < b;
    case "<=":
      return a <= b;
    case ">":
      return a > b;
    case ">=":
      return a >= b;
    case "~":
      return String(a).includes(String(b));
  }
}

/** The bytes as a Buffer (no copy), for its indexOf. */
function bytesOf(data: Uint8Array): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** A lower-case text as the bytes a chunk read as Latin-1 would hold, each in lower and upper case. */
interface FoldedText {
  lower: Uint8Array;
  upper: Uint8Array;
}

/** Folded texts by text: a search folds its text once, not once per chunk. */
const foldedTexts = new Map<string, FoldedText | null>();

/** `text` folded, or null when it has a character no Latin-1 byte is (it can't be in a chunk read as Latin-1). */
function folded(text: string): FoldedText | null {
  let found = foldedTexts.get(text);
  if (found !== undefined) return found;
  const lower = new Uint8Array(text.length);
  const upper = new Uint8Array(text.length);
  found = { lower, upper };
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    const up = text[i]!.toUpperCase();
    if (code > 0xff) found = null;
    lower[i] = code;
    upper[i] = up.length === 1 && up.charCodeAt(0) <= 0xff ? up.charCodeAt(0) : code;
  }
  if (foldedTexts.size > 64) foldedTexts.clear();
  foldedTexts.set(text, found);
  return found;
}

/** Whether `data`, read as Latin-1, holds the folded text in any case: a chunk's text search, without a string. */
function includesFolded(data: Uint8Array, text: FoldedText | null): boolean {
  if (text === null) return false;
  const { lower, upper } = text;
  const n = lower.length;
  if (n === 0) return true;
  outer: for (let i = 0; i + n <= data.length; i += 1) {
    const b = data[i];
    if (b !== lower[0] && b !== upper[0]) continue;
    for (let j = 1; j < n; j += 1) {
      const c = data[i + j];
      if (c !== lower[j] && c !== upper[j]) continue outer;
    }
    return true;
  }
  return false;
}

/** What a text search looks in, in lower case: a lifecycle event, a log's text and values. */
function searchableText(event: LifecycleTimelineEvent | LogTimelineEvent): string {
  switch (event.kind) {
    case "lifecycle":
      return `${event.event} ${event.detail}`.toLowerCase();
    case "log": {
      const parts = [event.text];
      collectValues(event.fields, parts);
      return parts.join(" ").toLowerCase();
    }
  }
}

/** Every string, number and boolean inside `value`, in order. */
function collectValues(value: unknown, into: string[]): void {
  if (typeof value === "string") into.push(value);
  else if (typeof value === "number" || typeof value === "boolean") into.push(String(value));
  else if (Array.isArray(value)) for (const item of value) collectValues(item, into);
  else if (typeof value === "object" && value !== null)
    for (const item of Object.values(value)) collectValues(item, into);
}

/** The value at `path` in `fields` (a list's items by their index), or undefined. */
function valueAt(fields: Record<string, unknown>, path: string[]): unknown {
  let value: unknown = fields;
  for (const part of path) {
    if (typeof value !== "object" || value === null || !Object.prototype.hasOwnProperty.call(value, part)) {
      return undefined;
    }
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/**
 * A field's value against what the filter gives: numbers as numbers (a numeric string counts as its number),
 * text as text, `~` as case-insensitive containment; a missing field matches nothing, `!=` included.
 */
function compareField(actual: unknown, op: FilterOperator, expected: string | number | boolean | null): boolean {
  if (actual === undefined) return false;
  if (op === "~") return textOf(actual).toLowerCase().includes(String(expected).toLowerCase());
  if (typeof expected === "number") {
    const n =
      typeof actual === "number" ? actual : typeof actual === "string" && actual.trim() !== "" ? Number(actual) : NaN;
    return Number.isNaN(n) ? op === "!=" : compareNumbers(n, op, expected);
  }
  if (typeof expected === "string") {
    const a = textOf(actual);
    switch (op) {
      case "==":
        return a === expected;
      case "!=":
        return a !== expected;
      case "<":
        return a < expected;
      case "<=":
        return a <= expected;
      case ">":
        return a > expected;
      default:
        return a >= expected;
    }
  }
  if (op === "==") return actual === expected;
  return op === "!=" ? actual !== expected : false;
}

function textOf(value: unknown): string {
  return typeof value === "string" ? value : typeof value === "object" ? JSON.stringify(value) : String(value);
}
