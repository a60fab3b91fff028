/**
 * Errors on form fields, shared by every dialog that sends a command: the engine's "invalid-arguments" message
 * names each wrong field by its path in the command's arguments ("connect: target.port: a port is from 0 to
 * 65535; target.host: ..."), and a schema checked here gives the same paths. A dialog maps those paths onto its
 * fields and shows each message next to its field; what maps to no field is said for the whole form.
 */
import type { z } from "zod";
import { sentence } from "./format.ts";

/** A problem with one argument: its dotted path ("target.port"), or "" for the arguments as a whole. */
export interface ArgumentProblem {
  path: string;
  message: string;
}

/**
 * The problems an "invalid-arguments" message lists. The leading command name is dropped; a detail without a
 * path ("give either an endpoint string or host and port, not both") comes back with path "".
 */
export function splitInvalidArguments(message: string): ArgumentProblem[] {
  return message
    .replace(/^\w+: /, "")
    .split("; ")
    .map((detail) => {
      const match = /^([A-Za-z]\w*(?:\.\w+)*): (.*)$/s.exec(detail);
      return match ? { path: match[1]!, message: match[2]! } : { path: "", message: detail };
    });
}

/** The problems a schema found, in the same shape (issue paths joined with dots). */
export function schemaProblems(issues: z.ZodError["issues"]): ArgumentProblem[] {
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
  problems: readonly ArgumentProblem[],
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
