/**
 * A protocol chosen in a dialog that takes only workspace files (decode): a workspace file as it is, or a template
 * ("template:resp"), whose file ("resp.ts") is created from it first when the workspace doesn't have it yet — as
 * the new-session dialog's engine side does for live sessions.
 */
import type { ContractError } from "../../../preload/contract.ts";
import type { Workbench } from "./workbench.svelte.ts";

const TEMPLATE = "template:";

/** The workspace file for `choice`, creating it from its template if needed; or the engine's refusal. */
export async function protocolFileFor(
  workbench: Workbench,
  choice: string,
): Promise<{ ok: true; path: string } | { ok: false; error: ContractError }> {
  if (!choice.startsWith(TEMPLATE)) return { ok: true, path: choice };
  const template = choice.slice(TEMPLATE.length);
  const path = `${template}.ts`;
  if (workbench.protocols.some((p) => p.path === path)) return { ok: true, path };
  const created = await workbench.api.createProtocol({ path, template });
  if (!created.ok) return created;
  workbench.addProtocol(created.value);
  return { ok: true, path: created.value.path };
}
