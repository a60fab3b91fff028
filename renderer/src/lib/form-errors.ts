/**
 * Errors on form fields, shared by every dialog that sends a command: the engine's "invalid-arguments" error carries
 * `issues`, each wrong field by its dotted path in the command's arguments ("target.port") with its message, and a
 * schema checked here gives the same paths. A dialog maps those paths onto its fields and shows each message next
 * to its field; what maps to no field is said for the whole form.
 */
import type { z } from "zod";
import type { ArgumentIssue, ContractError } from "../../../preload/contract.ts";
import { sentence } from "./format.ts";

/**
 * The wrong arguments an "invalid-arguments" error names: its `issues`, or, from an answer that has none, its
 * whole message for the arguments as a whole (path "").
 */
export function argumentIssues(error: ContractError): ArgumentIssue[] {
  return error.issues ?? [{ path: "", message: error.message }];
}

/** The problems a schema found, in the same shape (issue paths joined with dots). */
export function schemaProblems(issues: z.ZodError["issues"]): ArgumentIssue[] {
  return issues.map((issue) => ({ path: issue.path.map(String).join("."), message: issue.message }));
}

/** Adds `message` (as a sentence) to `field`, keeping the first message a field got. */
export function addError<F extends string>(errors: Partial<Record<F, string>>, field: F, message: string): void {
  errors[field] ??= sentence(message);
}

/**
 * Puts each problem on the field `fieldOf` names for its path (the longest path prefix that has one), or on
 * `fallback` (the whole form).
 */
export function problemsOnFields<F extends string>(
  problems: readonly ArgumentIssue[],
  fieldOf: Readonly<Record<string, NoInfer<F>>>,
  fallback: F,
): Partial<Record<F, string>> {
  const errors: Partial<Record<F, string>> = {};
  for (const { path, message } of problems) {
    let at = path;
    while (at !== "" && !Object.prototype.hasOwnProperty.call(fieldOf, at))
      at = at.slice(0, Math.max(0, at.lastIndexOf(".")));
    addError(errors, at === "" ? fallback : fieldOf[at]!, message);
  }
  return errors;
}
