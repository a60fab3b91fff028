import { describe, expect, it } from "vitest";
import {
  LOOKAHEAD,
  MAX_SCROLL_PX,
  OVERSCAN,
  ROW_HEIGHT,
  atBottom,
  layoutRows,
  rowForKey,
  rowsToLoad,
  scrollToReveal,
} from "./timeline-layout.ts";

/** A viewport ten rows high. */
const VIEWPORT = 10 * ROW_HEIGHT;
/** More rows than MAX_SCROLL_PX can hold: the scrollbar is scaled. */
const HUGE = 10_000_000;

/** The rows wholly on screen for a layout: what the user sees. */
function wholeRows(n: number, scrollTop: number): { first: number; last: number } {
  const layout = layoutRows(n, scrollTop, VIEWPORT);
  const visibleTop = scrollTop - layout.offset; // pixels of the first drawn row above the viewport's top
  const first = layout.first + (visibleTop > 0 ? 1 : 0);
  const last = layout.first + Math.floor((VIEWPORT + visibleTop) / ROW_HEIGHT) - 1;
  return { first, last: Math.min(last, n - 1) };
}

describe("layoutRows", () => {
  it("draws the rows under the viewport, and one more for a partly scrolled row", () => {
    expect(layoutRows(1000, 100 * ROW_HEIGHT, VIEWPORT)).toEqual({
      n: 1000,
      content: 1000 * ROW_HEIGHT,
      maxScroll: 990 * ROW_HEIGHT,
      first: 100,
      count: 11,
      offset: 100 * ROW_HEIGHT,
      scaled: false,
    });
    const half = layoutRows(1000, 100.5 * ROW_HEIGHT, VIEWPORT);
    expect([half.first, half.offset]).toEqual([100, 100 * ROW_HEIGHT]);
  });

  it("draws nothing without rows, and only the rows there are when they don't fill the viewport", () => {
    expect(layoutRows(0, 0, VIEWPORT)).toMatchObject({ content: 0, maxScroll: 0, first: 0, count: 0 });
    expect(layoutRows(3, 0, VIEWPORT)).toMatchObject({ content: 3 * ROW_HEIGHT, maxScroll: 0, first: 0, count: 3 });
  });

  it("scales a scrollbar too long for the browser, reaching the first and the last row", () => {
    const top = layoutRows(HUGE, 0, VIEWPORT);
    expect(top).toMatchObject({ content: MAX_SCROLL_PX, scaled: true, first: 0, offset: 0 });
    const maxScroll = MAX_SCROLL_PX - VIEWPORT;
    const bottom = layoutRows(HUGE, maxScroll, VIEWPORT);
    expect(bottom.first + bottom.count).toBe(HUGE);
    expect(bottom.offset + bottom.count * ROW_HEIGHT).toBe(MAX_SCROLL_PX); // the last row ends at the content's end
    const middle = layoutRows(HUGE, maxScroll / 2, VIEWPORT);
    expect(middle.first).toBe(Math.floor((HUGE - 10) / 2));
  });
});

describe("rowsToLoad", () => {
  it("loads ahead in the direction of the scroll over consecutive rows, and only the overscan over filtered ones", () => {
    const layout = layoutRows(100_000, 50_000 * ROW_HEIGHT, VIEWPORT);
    expect(rowsToLoad(layout, 1, true)).toEqual({ from: 50_000 - OVERSCAN, to: 50_011 + LOOKAHEAD });
    expect(rowsToLoad(layout, -1, true)).toEqual({ from: 50_000 - LOOKAHEAD, to: 50_011 + OVERSCAN });
    expect(rowsToLoad(layout, 1, false)).toEqual({ from: 50_000 - OVERSCAN, to: 50_011 + OVERSCAN });
  });

  it("stays within the rows there are", () => {
    expect(rowsToLoad(layoutRows(30, 0, VIEWPORT), 1, true)).toEqual({ from: 0, to: 30 });
  });
});

describe("scrollToReveal", () => {
  it("scrolls the least that shows a row whole, and not at all when it is on screen", () => {
    const scrollTop = 100 * ROW_HEIGHT;
    const layout = layoutRows(1000, scrollTop, VIEWPORT);
    expect(scrollToReveal(layout, 105, scrollTop, VIEWPORT)).toBeNull();
    expect(scrollToReveal(layout, 99, scrollTop, VIEWPORT)).toBe(99 * ROW_HEIGHT);
    expect(scrollToReveal(layout, 110, scrollTop, VIEWPORT)).toBe(101 * ROW_HEIGHT);
  });

  it("brings any row on screen when the scrollbar is scaled", () => {
    const scrollTop = (MAX_SCROLL_PX - VIEWPORT) / 3;
    const layout = layoutRows(HUGE, scrollTop, VIEWPORT);
    for (const row of [0, 1, layout.first - 1, layout.first + 10, HUGE / 2, HUGE - 2, HUGE - 1]) {
      const next = scrollToReveal(layout, row, scrollTop, VIEWPORT);
      expect(next).not.toBeNull();
      const shown = wholeRows(HUGE, next!);
      expect(row, `row ${row}`).toBeGreaterThanOrEqual(shown.first);
      expect(row, `row ${row}`).toBeLessThanOrEqual(shown.last);
    }
    expect(scrollToReveal(layout, layout.first, scrollTop, VIEWPORT)).toBeNull();
  });
});

describe("atBottom and rowForKey", () => {
  it("follows the newest row only at the bottom", () => {
    const layout = layoutRows(1000, 0, VIEWPORT);
    expect(atBottom(layout, layout.maxScroll)).toBe(true);
    expect(atBottom(layout, layout.maxScroll - 1)).toBe(true);
    expect(atBottom(layout, layout.maxScroll - 10)).toBe(false);
  });

  it("moves by one, by a page less one row, or to either end; from the first row on screen when none is selected", () => {
    const layout = layoutRows(1000, 100 * ROW_HEIGHT, VIEWPORT);
    expect(rowForKey("ArrowDown", -1, layout, VIEWPORT)).toBe(100);
    expect(rowForKey("ArrowDown", 7, layout, VIEWPORT)).toBe(8);
    expect(rowForKey("ArrowUp", 7, layout, VIEWPORT)).toBe(6);
    expect(rowForKey("PageDown", 7, layout, VIEWPORT)).toBe(16);
    expect(rowForKey("PageUp", -1, layout, VIEWPORT)).toBe(91);
    expect(rowForKey("Home", 7, layout, VIEWPORT)).toBe(0);
    expect(rowForKey("End", 7, layout, VIEWPORT)).toBe(999);
    expect(rowForKey("a", 7, layout, VIEWPORT)).toBeNull();
  });
});
