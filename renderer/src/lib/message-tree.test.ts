import { describe, expect, it } from "vitest";
import { ancestorsOf, branchesTo, fieldTree, treeKey, visibleRows } from "./message-tree.ts";

const fields = { command: "SET", args: ["greeting", "hello\r\n"], meta: { id: 3, tags: [] } };
const spans = { command: [{ dir: "out" as const, offset: 4, length: 3 }] };

describe("fieldTree", () => {
  const nodes = fieldTree(fields, spans);

  it("gives each field its path, its value as text and its spans", () => {
    expect(nodes.map((n) => [n.path, n.label])).toEqual([
      ["command", "SET"],
      ["args", "[2 items]"],
      ["meta", "{2 fields}"],
    ]);
    expect(nodes[0]!.spans).toEqual(spans.command);
    expect(nodes[1]!.children.map((n) => [n.path, n.label])).toEqual([
      ["args.0", "greeting"],
      ["args.1", "hello\r\n"],
    ]);
    expect(nodes[2]!.children[1]!.label).toBe("[0 items]");
  });

  it("copies strings as they are and anything else as JSON", () => {
    expect(nodes[1]!.children[1]!.copy).toBe("hello\r\n");
    expect(nodes[2]!.copy).toBe('{"id":3,"tags":[]}');
  });

  it("shows control characters as control pictures", () => {
    expect(fieldTree({ raw: "a\u0000b" })[0]!.label).toBe("a\u2400b");
  });
});

describe("the tree's rows and keys", () => {
  const nodes = fieldTree(fields);

  it("shows the children of open branches only, depth first", () => {
    const closed = visibleRows(nodes, new Set());
    expect(closed.map((r) => r.node.path)).toEqual(["command", "args", "meta"]);
    const open = visibleRows(nodes, new Set(["args"]));
    expect(open.map((r) => [r.node.path, r.level, r.parent, r.expanded])).toEqual([
      ["command", 1, -1, null],
      ["args", 1, -1, true],
      ["args.0", 2, 1, null],
      ["args.1", 2, 1, null],
      ["meta", 1, -1, false],
    ]);
  });

  it("opens the top level to begin with, and the ancestors of a path on demand", () => {
    expect([...branchesTo(nodes, 1)]).toEqual(["args", "meta"]);
    expect(ancestorsOf("meta.tags.0")).toEqual(["meta", "meta.tags"]);
  });

  it("moves like a tree: right opens then enters, left closes then goes to the parent", () => {
    const rows = visibleRows(nodes, new Set(["args"]));
    expect(treeKey("ArrowRight", rows, 4)).toEqual({ open: "meta" });
    expect(treeKey("ArrowRight", rows, 1)).toEqual({ to: 2 });
    expect(treeKey("ArrowLeft", rows, 3)).toEqual({ to: 1 });
    expect(treeKey("ArrowLeft", rows, 1)).toEqual({ close: "args" });
    expect(treeKey("ArrowDown", rows, 4)).toEqual({ to: 4 });
    expect(treeKey("End", rows, 0)).toEqual({ to: 4 });
    expect(treeKey("x", rows, 0)).toBeNull();
  });
});
