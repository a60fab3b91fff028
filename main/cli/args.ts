/**
 * Reading a subcommand's command line: node:util's parseArgs (strict: an unknown option is an error, never
 * ignored), with its errors turned into UsageErrors that name the option and point at the subcommand's --help.
 * Numbers and choices are checked here too, so that a command module only ever sees values it can use.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "./errors.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;

/** Options every subcommand takes. */
export const COMMON_OPTIONS = {
  json: { type: "boolean" },
  hex: { type: "boolean" },
  workspace: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const satisfies Options;

/**
 * Splits a command line at its first "--": the words before are the command's own options, the words after are the
 * command it runs (empty when there is no "--"), so that the run command's options are never taken for ours.
 */
export function splitAtDashes(argv: readonly string[]): { own: string[]; command: string[] } {
  const dashes = argv.indexOf("--");
  return dashes < 0 ? { own: [...argv], command: [] } : { own: argv.slice(0, dashes), command: argv.slice(dashes + 1) };
}

/** The hint every usage error of `command` ends with. */
export function helpHint(command: string): string {
  return `Run 'wirescope ${command} --help' for its usage.`;
}

/** A subcommand's command line, read. `order` lists the options in the order they were typed (for --send). */
export interface CommandLine<O extends Options> {
  values: ReturnType<typeof parseArgs<{ options: O; allowPositionals: true; strict: true }>>["values"];
  positionals: string[];
  order: { name: string; value: string | undefined }[];
}

/**
 * Parses `argv` (the words after the subcommand) against `options`. `positionals` names the arguments the command
 * takes, `required` how many of them must be there. Throws UsageError for an unknown option, a missing value, a
 * missing or extra argument — unless --help was given, which the caller answers first.
 */
export function parseCommandLine<O extends Options>(
  command: string,
  argv: string[],
  options: O,
  positionals: { names: string[]; required: number },
): CommandLine<O> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true, tokens: true });
  } catch (err) {
    throw new UsageError(`${command}: ${parseArgsMessage(err)}`, helpHint(command));
  }
  const order = parsed.tokens.flatMap((t) => (t.kind === "option" ? [{ name: t.name, value: t.value }] : []));
  const values = parsed.values as CommandLine<O>["values"];
  if ((values as { help?: boolean }).help) return { values, positionals: parsed.positionals, order };
  const given = parsed.positionals;
  if (given.length < positionals.required) {
    const missing = positionals.names.slice(given.length, positionals.required).map((n) => `<${n}>`);
    throw new UsageError(`${command}: missing ${missing.join(" and ")}`, helpHint(command));
  }
  if (given.length > positionals.names.length) {
    const extra = given.slice(positionals.names.length).map((w) => `'${w}'`);
    throw new UsageError(`${command}: unexpected argument ${extra.join(" ")}`, helpHint(command));
  }
  return { values, positionals: given, order };
}

/** parseArgs' error in a shorter sentence (its own messages explain `--` at length). */
function parseArgsMessage(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    const option = /'([^']+)'/.exec(message)?.[1] ?? message;
    return `unknown option ${option}`;
  }
  return message.replace(/\. To specify .*$/s, "");
}

/** An integer option's value, checked: `--idle 500`. Throws UsageError naming the option and the range. */
export function intOption(command: string, name: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(
      `${command}: --${name} takes a whole number from ${min} to ${max}, got '${value}'`,
      helpHint(command),
    );
  }
  return n;
}

/**
 * A numbering option from 1 (`--conn 2`, `--conversation 3`: connections and conversations are counted in 32 bits),
 * or `fallback` when it was not given. Throws UsageError as intOption does.
 */
export function numberOption<F>(command: string, name: string, value: string | undefined, fallback: F): number | F {
  return value === undefined ? fallback : intOption(command, name, value, 1, 2 ** 32 - 1);
}

/** One of `choices`: `--side client`. */
export function choiceOption<C extends string>(command: string, name: string, value: string, choices: readonly C[]): C {
  if ((choices as readonly string[]).includes(value)) return value as C;
  throw new UsageError(`${command}: --${name} is one of ${choices.join(", ")}, got '${value}'`, helpHint(command));
}
