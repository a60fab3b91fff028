/**
 * The timeline's virtual layout: which rows a scroll position shows and where they sit, which rows to fetch around
 * them, and where to scroll to bring a row into view. Pure arithmetic over row counts and pixels, so the grid
 * (components/traffic/Timeline.svelte) only reads the DOM and writes scrollTop.
 *
 * Rows are ROW_HEIGHT pixels high. Browsers cap an element's height, so past MAX_SCROLL_PX of rows the scrolled
 * content stays MAX_SCROLL_PX high and the scrollbar is scaled: its position is a fraction of the rows, not a pixel.
 */

/** Must match --row-height in theme.css: the virtual layout depends on it. */
export const ROW_HEIGHT = 22;
/** Browsers cap an element's height (Chromium near 33.5M px, Firefox near 17.9M): beyond this the scrollbar is scaled. */
export const MAX_SCROLL_PX = 15_000_000;
/** Rows fetched beyond each edge of the viewport, so that a short scroll shows rows already loaded. */
export const OVERSCAN = 60;
/** Unfiltered rows fetched ahead in the direction of a scroll (two pages), so a steady scroll finds them loaded. */
export const LOOKAHEAD = 400;

/** Where the rows sit for one scroll position. */
export interface Layout {
  /** How many rows there are. */
  n: number;
  /** The scrolled content's height, in pixels. */
  content: number;
  /** The largest scrollTop the content allows. */
  maxScroll: number;
  /** The first row on screen (0 when there are none), and how many rows are drawn from it. */
  first: number;
  count: number;
  /** Where the first drawn row's top sits in the scrolled content, in pixels. */
  offset: number;
  /** Whether the scrollbar is scaled (more rows than MAX_SCROLL_PX holds). */
  scaled: boolean;
}

/** The layout of `n` rows scrolled to `scrollTop` in a viewport `viewportHeight` pixels high. */
export function layoutRows(n: number, scrollTop: number, viewportHeight: number): Layout {
  const natural = n * ROW_HEIGHT;
  const content = Math.min(natural, MAX_SCROLL_PX);
  const maxScroll = Math.max(0, content - viewportHeight);
  const screenRows = viewportHeight / ROW_HEIGHT;
  const top =
    natural <= MAX_SCROLL_PX
      ? scrollTop / ROW_HEIGHT
      : maxScroll > 0
        ? (Math.min(scrollTop, maxScroll) / maxScroll) * Math.max(0, n - screenRows)
        : 0;
  const first = Math.max(0, Math.min(Math.floor(top), Math.max(0, n - 1)));
  const count = Math.max(0, Math.min(n - first, Math.ceil(screenRows) + 1));
  const offset = scrollTop - (top - first) * ROW_HEIGHT;
  return { n, content, maxScroll, first, count, offset, scaled: natural > MAX_SCROLL_PX };
}

/**
 * The rows to have loaded, [from, to): the drawn ones with OVERSCAN on each side, and LOOKAHEAD in the direction of
 * the last scroll (`heading` +1 down, -1 up) when the rows are `dense` (consecutive events). Scattered (filtered)
 * rows each cost a read of their own, so they get only the overscan.
 */
export function rowsToLoad(layout: Layout, heading: number, dense: boolean): { from: number; to: number } {
  const ahead = dense ? LOOKAHEAD : OVERSCAN;
  const from = Math.max(0, layout.first - (heading < 0 ? ahead : OVERSCAN));
  const to = Math.min(layout.n, layout.first + layout.count + (heading > 0 ? ahead : OVERSCAN));
  return { from, to };
}

/** Whether `scrollTop` is at the bottom (within 2 px): the view then follows the newest row. */
export function atBottom(layout: Layout, scrollTop: number): boolean {
  return scrollTop >= layout.maxScroll - 2;
}

/**
 * The scrollTop that shows `row` whole, from the current `scrollTop`; null when it is on screen already. Unscaled, the
 * least scroll that does it; scaled, the row goes to the top (scrolling up) or the bottom (scrolling down).
 */
export function scrollToReveal(layout: Layout, row: number, scrollTop: number, viewportHeight: number): number | null {
  const screenRows = viewportHeight / ROW_HEIGHT;
  if (!layout.scaled) {
    const top = row * ROW_HEIGHT;
    if (top < scrollTop) return top;
    if (top + ROW_HEIGHT > scrollTop + viewportHeight) return top + ROW_HEIGHT - viewportHeight;
    return null;
  }
  const { first, n, maxScroll } = layout;
  if (row >= first && row + 1 <= first + Math.floor(screenRows)) return null;
  const target = Math.max(0, Math.min(row - (row < first ? 0 : Math.floor(screenRows) - 1), n - screenRows));
  return (target / Math.max(1, n - screenRows)) * maxScroll;
}

/** How many rows PageUp and PageDown move: a screenful less one, at least one. */
function pageRows(viewportHeight: number): number {
  return Math.max(1, Math.floor(viewportHeight / ROW_HEIGHT) - 1);
}

/**
 * The row a navigation key moves the selection to, from row `current` (-1 when nothing is selected: the moves start
 * from the first row on screen); null for a key that doesn't move it. The result may be out of range: the caller
 * clamps it to the rows there are.
 */
export function rowForKey(key: string, current: number, layout: Layout, viewportHeight: number): number | null {
  const from = current === -1 ? layout.first : current;
  switch (key) {
    case "ArrowDown":
      return current === -1 ? layout.first : current + 1;
    case "ArrowUp":
      return current === -1 ? layout.first : current - 1;
    case "PageDown":
      return from + pageRows(viewportHeight);
    case "PageUp":
      return from - pageRows(viewportHeight);
    case "Home":
      return 0;
    case "End":
      return layout.n - 1;
    default:
      return null;
  }
}
