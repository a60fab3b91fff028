/** The first screen: an empty workspace, and what to do first. */
import { expect, saveScreens, sessionItems, sidebar, test } from "./fixtures.ts";

test("a new workspace shows the empty state with the ways to start", async ({ app }) => {
  const side = sidebar(app);
  for (const name of ["New connection", "New listener", "New proxy", "New process"]) {
    await expect(side.getByRole("button", { name, exact: true })).toBeVisible();
  }
  await expect(sessionItems(app)).toHaveCount(0);
  await expect(app.getByRole("contentinfo"), "the status bar").toBeVisible();
  await saveScreens(app, "welcome");
});
