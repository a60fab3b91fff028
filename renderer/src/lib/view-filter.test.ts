import { describe, expect, it } from "vitest";
import { checkFilter, viewExpression, type ViewChoices } from "./view-filter.ts";

const all: ViewChoices = { incoming: true, outgoing: true, lifecycle: true, decoded: true, messages: false };

describe("viewExpression", () => {
  it("asks for nothing when nothing is hidden", () => {
    expect(viewExpression("  ", all)).toBe("");
  });

  it("writes the unticked boxes as terms, after what was typed", () => {
    expect(viewExpression('command == "SET"', { ...all, lifecycle: false })).toBe(
      '(command == "SET") && (data || log)',
    );
    expect(viewExpression("", { ...all, incoming: false, decoded: false })).toBe("((data && out) || lifecycle)");
    expect(viewExpression("hello", { ...all, outgoing: false, incoming: false, lifecycle: false })).toBe(
      "(hello) && log",
    );
  });

  it("shows decoded messages only in the Messages view, each direction as its box says", () => {
    expect(viewExpression("", { ...all, messages: true })).toBe("message");
    expect(viewExpression("latency > 10ms", { ...all, messages: true, outgoing: false })).toBe(
      "(latency > 10ms) && message && in",
    );
  });

  it("says when the boxes leave nothing to show", () => {
    expect(
      viewExpression("x", { incoming: false, outgoing: false, lifecycle: false, decoded: false, messages: false }),
    ).toBeNull();
    expect(viewExpression("", { ...all, incoming: false, outgoing: false, messages: true })).toBeNull();
  });
});

it("explains a wrong expression with where it is wrong", () => {
  expect(checkFilter('command == "SET"')).toEqual({ ok: true });
  const wrong = checkFilter("command ==");
  expect(wrong.ok).toBe(false);
  if (!wrong.ok) expect(wrong.message).toMatch(/column \d+/);
});
