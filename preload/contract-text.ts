/**
 * The contract's strings with a limit: the one helper every schema module of the contract (contract.ts,
 * tls-shapes.ts, process-shapes.ts) builds its string fields with, so that every limit is checked, and worded, alike.
 */
import { z } from "zod";
import { MAX_PATH_LENGTH } from "./limits.ts";

/**
 * A string of at most `max` characters (limits.ts), checked before anything else so that a huge one costs no more
 * work; over it, the message says what was wrong and what to do: "the host is 15,728,640 characters; at most 253".
 */
export function text(what: string, max: number): z.ZodString {
  return z.string().max(max, {
    error: (issue) =>
      `${what} is ${lengthOf(issue.input).toLocaleString("en-US")} characters; at most ${max.toLocaleString("en-US")}`,
  });
}

function lengthOf(input: unknown): number {
  return typeof input === "string" ? input.length : 0;
}

/** A file or folder path the user gives. */
export const filePath = text("the path", MAX_PATH_LENGTH);
