/**
 * A decoded message's fields as a tree, the way Wireshark's packet details pane shows a packet: one node per field,
 * objects and lists expandable, each node knowing its dotted path ("args.1") and, where the protocol said, the
 * stream bytes it came from (the message's `fieldSpans`). Pure; FieldTree.svelte draws the rows it gives and moves
 * through them with the keys of the WAI-ARIA tree pattern.
 */
import type { Span } from "../../../preload/timeline.ts";
import { showControls } from "./bytes.ts";

/** One field of a message. */
export interface FieldNode {
  /** The dotted path into the message's fields ("args.1"): the key of `fieldSpans` and of field predicates. */
  path: string;
  /** Its own key: an object's property name, or a list's index. */
  key: string;
  /** A leaf's value as text (strings as they are, control characters made visible); a branch's size. */
  label: string;
  /** What "Copy value" copies: a string as it is, anything else as JSON. */
  copy: string;
  children: FieldNode[];
  /** The stream bytes of this field, when the protocol gave them. */
  spans: Span[] | undefined;
}

/** A node as it shows in the tree: where it sits and whether it is open. */
export interface TreeRow {
  node: FieldNode;
  /** From 1 (aria-level). */
  level: number;
  /** Its place among its siblings, from 1, and how many there are (aria-posinset, aria-setsize). */
  position: number;
  siblings: number;
  /** Null for a leaf. */
  expanded: boolean | null;
  /** The row of its parent, or -1 at the top. */
  parent: number;
}

/** The fields of a message as tree nodes, in the order the protocol gave them. */
export function fieldTree(fields: Record<string, unknown>, fieldSpans?: Record<string, Span[]>): FieldNode[] {
  return Object.entries(fields).map(([key, value]) => nodeOf(key, key, value, fieldSpans));
}

function nodeOf(path: string, key: string, value: unknown, fieldSpans: Record<string, Span[]> | undefined): FieldNode {
  const entries = childEntries(value);
  const children = entries.map(([k, v]) => nodeOf(`${path}.${k}`, k, v, fieldSpans));
  return {
    path,
    key,
    label: isContainer(value) ? sizeLabel(value, entries.length) : leafLabel(value),
    copy: typeof value === "string" ? value : (JSON.stringify(value) ?? String(value)),
    children,
    spans: fieldSpans?.[path],
  };
}

function isContainer(value: unknown): value is object {
  return typeof value === "object" && value !== null;
}

function childEntries(value: unknown): [string, unknown][] {
  if (Array.isArray(value)) return value.map((v, i) => [String(i), v]);
  if (isContainer(value)) return Object.entries(value);
  return [];
}

function sizeLabel(value: object, n: number): string {
  return Array.isArray(value) ? `[${n} ${n === 1 ? "item" : "items"}]` : `{${n} ${n === 1 ? "field" : "fields"}}`;
}

function leafLabel(value: unknown): string {
  if (typeof value === "string") return showControls(value);
  return JSON.stringify(value) ?? String(value);
}

/**
 * The rows the tree shows with `expanded` open (paths): every top-level node, and the children of open nodes,
 * depth first.
 */
export function visibleRows(nodes: readonly FieldNode[], expanded: ReadonlySet<string>): TreeRow[] {
  const rows: TreeRow[] = [];
  const walk = (list: readonly FieldNode[], level: number, parent: number) => {
    list.forEach((node, i) => {
      const open = node.children.length > 0 ? expanded.has(node.path) : null;
      const row = rows.length;
      rows.push({ node, level, position: i + 1, siblings: list.length, expanded: open, parent });
      if (open) walk(node.children, level + 1, row);
    });
  };
  walk(nodes, 1, -1);
  return rows;
}

/** Paths of every branch down to `depth` levels (1: the top level): what the tree opens with. */
export function branchesTo(nodes: readonly FieldNode[], depth: number): Set<string> {
  const open = new Set<string>();
  const walk = (list: readonly FieldNode[], level: number) => {
    for (const n of list) {
      if (n.children.length === 0 || level > depth) continue;
      open.add(n.path);
      walk(n.children, level + 1);
    }
  };
  walk(nodes, 1);
  return open;
}

/** The paths to open so that `path` shows: each of its ancestors ("a", "a.b" for "a.b.c"). */
export function ancestorsOf(path: string): string[] {
  const parts = path.split(".");
  return parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join("."));
}

/** What a key does in the tree (WAI-ARIA tree pattern): move to another row, open or close one, or nothing. */
export type TreeMove = { to: number } | { open: string } | { close: string } | null;

/** The effect of `key` on `rows` with row `current` focused (-1: none yet). */
export function treeKey(key: string, rows: readonly TreeRow[], current: number): TreeMove {
  if (rows.length === 0) return null;
  const row = rows[current];
  switch (key) {
    case "ArrowDown":
      return { to: Math.min(rows.length - 1, current + 1) };
    case "ArrowUp":
      return { to: Math.max(0, current - 1) };
    case "Home":
      return { to: 0 };
    case "End":
      return { to: rows.length - 1 };
    case "ArrowRight":
      if (!row) return { to: 0 };
      if (row.expanded === false) return { open: row.node.path };
      return row.expanded === true ? { to: current + 1 } : null;
    case "ArrowLeft":
      if (!row) return { to: 0 };
      if (row.expanded === true) return { close: row.node.path };
      return row.parent >= 0 ? { to: row.parent } : null;
    default:
      return null;
  }
}
