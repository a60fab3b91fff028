/**
 * The contract's process shapes: the command a process session runs (argv and environment, with their limits),
 * the signals it can be sent, and what SessionInfo.process says. contract.ts re-exports them.
 */
import { z } from "zod";
import { text } from "./contract-text.ts";
import { MAX_ARGV_ENTRIES, MAX_ARGV_LENGTH, MAX_ENV_ENTRIES, MAX_ENV_LENGTH } from "./limits.ts";

/**
 * The command a process session runs: its words (argv[0] is the program, found in PATH as a shell would), the
 * working folder (the workspace's by default), and environment entries added to the engine's own environment.
 */
const noNul = { error: "it holds a NUL character, which no program can receive" };
const argvWord = text("a word of the command", MAX_ARGV_LENGTH).refine((w) => !w.includes("\0"), noNul);
const envName = text("an environment variable's name", MAX_ENV_LENGTH).regex(/^[^=\0]+$/, {
  error: "an environment variable's name is not empty and holds no '=' or NUL character",
});
const envValue = text("an environment variable's value", MAX_ENV_LENGTH).refine((v) => !v.includes("\0"), noNul);
export const Argv = z
  .array(argvWord)
  .min(1, "the command is empty: give the program to run")
  .max(MAX_ARGV_ENTRIES, `a command has at most ${MAX_ARGV_ENTRIES.toLocaleString("en-US")} words`)
  .refine((argv) => argv[0] !== "", { error: "the program's name is empty" })
  .refine((argv) => totalLength(argv) <= MAX_ARGV_LENGTH, {
    error: (issue) => `the command is ${lengthsOf(issue.input)}; at most ${MAX_ARGV_LENGTH.toLocaleString("en-US")}`,
  });
export const Env = z
  .record(envName, envValue)
  .refine((env) => Object.keys(env).length <= MAX_ENV_ENTRIES, {
    error: `at most ${MAX_ENV_ENTRIES} environment entries`,
  })
  .refine((env) => totalLength(Object.entries(env).flat()) <= MAX_ENV_LENGTH, {
    error: (issue) =>
      `the environment entries are ${lengthsOf(Object.entries(issue.input as object).flat())}; at most ${MAX_ENV_LENGTH.toLocaleString("en-US")}`,
  });

/** "131,073 characters": the words of `input` added up. */
function lengthsOf(input: unknown): string {
  const words = Array.isArray(input) ? input.filter((w): w is string => typeof w === "string") : [];
  return `${totalLength(words).toLocaleString("en-US")} characters`;
}

function totalLength(words: readonly string[]): number {
  return words.reduce((n, w) => n + w.length, 0);
}

/** The signals the workbench sends to a process session's child. */
export const ProcessSignal = z.enum(["SIGINT", "SIGTERM", "SIGKILL", "SIGHUP"]);
export type ProcessSignal = z.infer<typeof ProcessSignal>;

/** A process session's command and, once known, how its current child ended. */
export const ProcessInfo = z.object({
  argv: z.array(z.string()),
  /** The working folder, absolute. */
  cwd: z.string(),
  /** The running child's process id; absent once it exited. */
  pid: z.number().optional(),
  /** How the last child ended: its exit code, or the signal that killed it ("SIGKILL"). */
  exitCode: z.number().optional(),
  signal: z.string().optional(),
});
export type ProcessInfo = z.infer<typeof ProcessInfo>;
