/**
 * The workbench's parts as a user finds them: by role and accessible name, as renderer/UI-CONTRACT.md defines them
 * (change both together). Used by the end-to-end tests and the renderer benchmark.
 */
import type { Locator, Page } from "@playwright/test";

/** `<aside aria-label="Sessions and protocols">`. */
export function sidebar(page: Page): Locator {
  return page.getByRole("complementary", { name: "Sessions and protocols" });
}

/** The "Sessions" tree (or list). */
export function sessionsList(page: Page): Locator {
  return page.getByRole("tree", { name: "Sessions" }).or(page.getByRole("list", { name: "Sessions" }));
}

/** Every item of the Sessions list: sessions and their nested connections, in order. */
export function sessionItems(page: Page): Locator {
  const list = sessionsList(page);
  return list.getByRole("treeitem").or(list.getByRole("listitem"));
}

/** The session item showing `text` (its name, or its target's port); the session comes before its connections. */
export function sessionItem(page: Page, text: string | RegExp): Locator {
  return sessionItems(page).filter({ hasText: text }).first();
}

/** The item "Connection N" (nested under its listener or proxy). */
export function connectionItem(page: Page, n: number): Locator {
  const list = sessionsList(page);
  const name = new RegExp(`^Connection ${n}\\b`);
  return list.getByRole("treeitem", { name }).or(list.getByRole("listitem", { name }));
}

/**
 * Selects a sessions-list item as a user would: a click on its own row (its top edge, mid-width), not on a
 * connection nested under it, nor on an expand/collapse arrow at its left.
 */
export async function selectItem(item: Locator): Promise<void> {
  const box = await item.boundingBox();
  if (!box) throw new Error("the item is not visible");
  await item.click({ position: { x: box.width / 2, y: Math.min(8, box.height / 2) } });
}

/** The "Protocols" list (one item per workspace file). */
export function protocolsList(page: Page): Locator {
  return page.getByRole("list", { name: "Protocols" }).or(page.getByRole("tree", { name: "Protocols" }));
}

/** The item of the Protocols list showing `file`. */
export function protocolItem(page: Page, file: string): Locator {
  const list = protocolsList(page);
  return list.getByRole("listitem").or(list.getByRole("treeitem")).filter({ hasText: file }).first();
}

/** `<section aria-label="Traffic">`. */
export function trafficView(page: Page): Locator {
  return page.getByRole("region", { name: "Traffic" });
}

/** The "Timeline" grid's rows showing all of `texts` (e.g. a direction arrow and a preview). */
export function timelineRows(page: Page, ...texts: (string | RegExp)[]): Locator {
  let rows = trafficView(page).getByRole("grid", { name: "Timeline" }).getByRole("row");
  for (const text of texts) rows = rows.filter({ hasText: text });
  return rows;
}

/** `<form aria-label="Send">`. */
export function sendBox(page: Page): Locator {
  return page.getByRole("form", { name: "Send" });
}

/** `<section aria-label="Protocol editor">`. */
export function protocolEditor(page: Page): Locator {
  return page.getByRole("region", { name: "Protocol editor" });
}
