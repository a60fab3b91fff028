/**
 * The "Decode with protocol…" form apart from its markup: the fields become the `decode` command's arguments,
 * checked with the contract's own schema first; an error — the schema's or the engine's — becomes a message on the
 * field to change. The dialog sends nothing while there are any.
 */
import { commands, type CommandArgs, type ContractError, type ErrorCode } from "../../../preload/contract.ts";
import { addError, argumentIssues, problemsOnFields, schemaProblems } from "./form-errors.ts";

/** Which side the decoding protocol plays; see SIDE_HELP for what each means to a user. */
export type DecodeSide = "client" | "server" | "both";

/** What the dialog's fields hold, as typed. */
export interface DecodeForm {
  /** A workspace file, or "template:<id>" (the dialog creates the file first), or "" when none is chosen. */
  protocol: string;
  side: DecodeSide;
  resplit: boolean;
  runs: string;
  seed: string;
}

export type DecodeField = "protocol" | "side" | "runs" | "seed" | "form";
export type DecodeErrors = Partial<Record<DecodeField, string>>;

/** What each side means, in words, under its radio button. */
export const SIDE_HELP: Record<DecodeSide, { label: string; help: string }> = {
  client: {
    label: "Client",
    help: "The protocol plays the client, as when it connected: it receives what the server sent.",
  },
  server: {
    label: "Server",
    help: "The protocol plays the server, as in a listener: it receives what the client sent.",
  },
  both: {
    label: "Both",
    help: "Two instances, one per direction: every byte either side sent is decoded.",
  },
};

/** Re-split defaults: enough runs to hit most split points of a short exchange, a fixed seed to reproduce them. */
export const DEFAULT_RUNS = 20;
export const DEFAULT_SEED = 1;

/** Where each argument's problems are shown. */
const FIELDS: Record<string, DecodeField> = {
  protocol: "protocol",
  side: "side",
  "resplit.runs": "runs",
  "resplit.seed": "seed",
  resplit: "runs",
};

/** A fresh form: the given protocol (or none), the client side, no re-split. */
export function initialDecodeForm(protocol = ""): DecodeForm {
  return { protocol, side: "client", resplit: false, runs: String(DEFAULT_RUNS), seed: String(DEFAULT_SEED) };
}

/** A whole number as typed; NaN when it isn't one (said before the schema runs, which would say "expected number"). */
function wholeNumber(text: string): number {
  const trimmed = text.trim();
  return /^\d+$/.test(trimmed) ? Number(trimmed) : Number.NaN;
}

/**
 * The `decode` arguments for connection `conn` of `session` with `protocol` (a workspace file), or the errors to
 * show. The form's protocol choice is checked too (`protocol` is what it resolved to).
 */
export function buildDecode(
  session: string,
  conn: number,
  form: DecodeForm,
  protocol: string,
): { ok: true; args: CommandArgs<"decode"> } | { ok: false; errors: DecodeErrors } {
  const errors: DecodeErrors = {};
  let resplit: { runs: number; seed: number } | undefined;
  if (form.resplit) {
    const runs = wholeNumber(form.runs);
    const seed = wholeNumber(form.seed);
    if (Number.isNaN(runs)) addError(errors, "runs", "the number of runs is a whole number from 1 to 1,000");
    if (Number.isNaN(seed)) addError(errors, "seed", "the seed is a whole number, 0 or more");
    resplit = { runs, seed };
  }
  const args: CommandArgs<"decode"> = { session, conn, protocol, side: form.side, ...(resplit ? { resplit } : {}) };
  const parsed = commands.decode.args.safeParse(args);
  // What was said above about a number that isn't one is clearer than the schema's "expected number".
  const all = {
    ...(parsed.success ? {} : problemsOnFields<DecodeField>(schemaProblems(parsed.error.issues), FIELDS, "form")),
    ...errors,
  };
  return Object.keys(all).length === 0 ? { ok: true, args } : { ok: false, errors: all };
}

/** Engine error codes that are about the protocol file (it doesn't compile, load or exist). */
const PROTOCOL_CODES: ReadonlySet<ErrorCode> = new Set([
  "compile-error",
  "protocol-error",
  "not-found",
  "invalid-path",
  "unknown-template",
]);

/** Where an engine error belongs in the form: its fields for "invalid-arguments", Protocol for a bad file. */
export function decodeEngineErrors(error: ContractError): DecodeErrors {
  if (error.code === "invalid-arguments") {
    return problemsOnFields<DecodeField>(argumentIssues(error), FIELDS, "form");
  }
  const errors: DecodeErrors = {};
  addError(errors, PROTOCOL_CODES.has(error.code) ? "protocol" : "form", error.message);
  return errors;
}
