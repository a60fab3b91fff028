/**
 * The "Process" kind of the new-session dialog, apart from its markup: a command line (read with shell-like quoting
 * by preload/command-line.ts, and shown word by word before it runs), an optional working folder and optional
 * environment lines become the `spawn` command's arguments, checked with the contract's own schema; and an error —
 * from that schema or from the engine — becomes a message on the field the user should change.
 */
import { parseCommandLine } from "../../../preload/command-line.ts";
import { commands, type CommandArgs, type ContractError } from "../../../preload/contract.ts";
import { addError, argumentIssues, problemsOnFields, schemaProblems } from "./form-errors.ts";

/** What the process fields hold, as typed. */
export interface ProcessFormFields {
  /** The command line: a program and its arguments, quoted as in a shell (nothing is expanded). */
  command: string;
  /** The working folder; empty for the workspace's. */
  cwd: string;
  /** KEY=value lines added to the engine's environment; blank lines are ignored. */
  env: string;
  /** The protocol that drives the child (a workspace file or "template:<id>"); empty for raw bytes. */
  protocol?: string;
}

export type ProcessField = keyof ProcessFormFields | "protocol" | "form";

export function initialProcessFields(): ProcessFormFields {
  return { command: "", cwd: "", env: "" };
}

/**
 * The environment lines as entries, or the first line that is not KEY=value (by its number, from 1). A value may
 * hold "=" and spaces: only the first "=" splits.
 */
export function parseEnvLines(text: string): { env: Record<string, string> } | { error: string } {
  const env: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  for (const [i, line] of lines.entries()) {
    if (line.trim() === "") continue;
    const at = line.indexOf("=");
    if (at <= 0)
      return { error: `line ${i + 1} is not KEY=value: "${line.length > 40 ? line.slice(0, 40) + "…" : line}"` };
    env[line.slice(0, at).trim()] = line.slice(at + 1);
  }
  return { env };
}

/** Which field each path of the `spawn` command's arguments belongs to. */
export const SPAWN_PATHS: Record<string, ProcessField> = {
  argv: "command",
  cwd: "cwd",
  env: "env",
  protocol: "protocol",
};

/** The `spawn` arguments for the fields, or the errors to show; runs the schema the engine runs. */
export function buildSpawnRequest(
  fields: ProcessFormFields,
): { ok: true; args: CommandArgs<"spawn"> } | { ok: false; errors: Partial<Record<ProcessField, string>> } {
  const errors: Partial<Record<ProcessField, string>> = {};
  const parsed = parseCommandLine(fields.command);
  if ("error" in parsed) addError(errors, "command", parsed.error);
  const env = parseEnvLines(fields.env);
  if ("error" in env) addError(errors, "env", env.error);
  if ("error" in parsed || "error" in env) return { ok: false, errors };
  const cwd = fields.cwd.trim();
  const args = {
    argv: parsed.argv,
    ...(cwd !== "" ? { cwd } : {}),
    ...(Object.keys(env.env).length > 0 ? { env: env.env } : {}),
    protocol: fields.protocol === undefined || fields.protocol === "" ? null : fields.protocol,
  };
  const checked = commands.spawn.args.safeParse(args);
  if (checked.success) return { ok: true, args: checked.data };
  return {
    ok: false,
    errors: problemsOnFields<ProcessField>(schemaProblems(checked.error.issues), SPAWN_PATHS, "form"),
  };
}

/**
 * Where an engine error belongs: "spawn-failed" (no such program, not executable, no such folder) and argument
 * issues next to their field; anything else for the whole form.
 */
export function spawnErrorFields(error: ContractError): Partial<Record<ProcessField, string>> {
  if (error.code === "invalid-arguments" || error.issues !== undefined) {
    return problemsOnFields<ProcessField>(argumentIssues(error), SPAWN_PATHS, "form");
  }
  const errors: Partial<Record<ProcessField, string>> = {};
  addError(errors, error.code === "spawn-failed" ? "command" : "form", error.message);
  return errors;
}
