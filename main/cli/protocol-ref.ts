/**
 * What `--protocol` names, made into what the engine runs: a protocol file of the workspace.
 *
 * - `template:resp`: a template (the engine creates `resp.ts` in the workspace from it, or uses the one there).
 * - a `.ts` path that exists, inside the workspace: that workspace file.
 * - a `.ts` path that exists elsewhere: copied to `<workspace>/cli/<name>.ts` for this run (replacing the previous
 *   copy of that name), so that the capture, the protocol and the app all see the same code. Its relative imports
 *   are not copied: a protocol split over several files runs from its own folder with `--workspace <folder>`.
 * - a path relative to the workspace (`resp.ts`, `redis/resp.ts`).
 *
 * Anything else is a usage error that says which forms are accepted.
 */
import { copyFile, mkdir, stat } from "node:fs/promises";
import * as path from "node:path";
import type { Diagnostic, ErrorCode } from "../../preload/contract.ts";
import { cliProtocolPath } from "../workspace/layout.ts";
import { listTemplates } from "../workspace/templates.ts";
import { helpHint } from "./args.ts";
import { BadInputError, UsageError } from "./errors.ts";
import type { CliRun } from "./run.ts";
import type { CliService } from "./service.ts";

/** A protocol resolved for the engine, and how to name its file to the user. */
export interface ProtocolChoice {
  /** What the engine is given: a workspace path or "template:<id>". */
  ref: string;
  /** Workspace path -> the path the user gave, for diagnostics (a copied file's errors name the original). */
  shownAs: (file: string) => string;
  /** Set when the file was copied into the workspace: where it went (the caller tells the user). */
  copiedTo?: string;
}

async function isFile(file: string): Promise<boolean> {
  return stat(file).then(
    (s) => s.isFile(),
    () => false,
  );
}

/** `name` made into a workspace file name: letters, digits, `_` and `-`, then `.ts`. */
function safeName(file: string): string {
  const base = path.basename(file).replace(/\.ts$/, "");
  return `${base.replace(/[^A-Za-z0-9_-]+/g, "-").replace(/^-+|-+$/g, "") || "protocol"}.ts`;
}

/** Resolves `--protocol <given>` for `command` against the workspace at `workspaceRoot` (see the module's comment). */
export async function resolveProtocol(command: string, given: string, workspaceRoot: string): Promise<ProtocolChoice> {
  const same = (file: string): string => file;
  if (given.startsWith("template:")) return { ref: given, shownAs: same };
  const absolute = path.resolve(given);
  if (await isFile(absolute)) {
    if (!absolute.endsWith(".ts")) {
      throw new UsageError(`${command}: --protocol ${given} is not a .ts file`, helpHint(command));
    }
    const inside = path.relative(workspaceRoot, absolute);
    if (!inside.startsWith("..") && !path.isAbsolute(inside)) {
      return { ref: inside.split(path.sep).join("/"), shownAs: same };
    }
    const ref = cliProtocolPath(safeName(absolute));
    const copiedTo = path.join(workspaceRoot, ref);
    await mkdir(path.dirname(copiedTo), { recursive: true });
    await copyFile(absolute, copiedTo);
    return { ref, shownAs: (file) => (file === ref ? given : file), copiedTo };
  }
  if (await isFile(path.join(workspaceRoot, given))) return { ref: given, shownAs: same };
  throw new UsageError(
    `${command}: no protocol file '${given}' (not a file here, nor in the workspace ${workspaceRoot})`,
    `Give a .ts file's path, a file of the workspace, or a template such as template:resp ` +
      `(templates: ${templateIds()}). ${helpHint(command)}`,
  );
}

/**
 * What a command calls with its `--protocol` value (or `--client-protocol` ...): resolveProtocol against the run's
 * workspace, telling the user (on stderr) where a file from elsewhere was copied. Null when no protocol was given.
 */
export async function chooseProtocol(run: CliRun, command: string, given: string): Promise<ProtocolChoice>;
export async function chooseProtocol(
  run: CliRun,
  command: string,
  given: string | undefined,
): Promise<ProtocolChoice | null>;
export async function chooseProtocol(
  run: CliRun,
  command: string,
  given: string | undefined,
): Promise<ProtocolChoice | null> {
  if (given === undefined) return null;
  const choice = await resolveProtocol(command, given, run.workspaceRoot);
  if (choice.copiedTo) run.note(`wirescope: ${given} copied to ${choice.copiedTo} for this run`);
  return choice;
}

/** "echo, line, resp, ...": the templates a user may name after `template:`. */
export function templateIds(): string {
  return listTemplates()
    .map((t) => t.id)
    .join(", ");
}

/**
 * Runs `action` (which starts something running the protocols `choices`; null ones are raw legs); a protocol that
 * doesn't compile (the engine's "compile-error", whose message starts with the file) becomes a BadInputError
 * carrying every diagnostic of that file, named as the user gave it.
 */
export async function withDiagnostics<T>(
  service: CliService,
  choices: (ProtocolChoice | null)[],
  action: () => Promise<T>,
): Promise<T> {
  try {
    return await action();
  } catch (err) {
    if ((err as { code?: ErrorCode }).code !== "compile-error") throw err;
    const fileOf = (c: ProtocolChoice): string =>
      c.ref.startsWith("template:") ? `${c.ref.slice("template:".length)}.ts` : c.ref;
    const given = choices.filter((c): c is ProtocolChoice => c !== null);
    const choice = given.find((c) => (err as Error).message.startsWith(fileOf(c))) ?? given[0];
    if (choice === undefined) throw err;
    const file = fileOf(choice);
    const files = await service.call("listProtocols", {}).catch(() => []);
    const diagnostics: Diagnostic[] = (files.find((f) => f.path === file)?.diagnostics ?? []).map((d) => ({
      ...d,
      file: choice.shownAs(d.file),
    }));
    throw new BadInputError(`${choice.shownAs(file)} does not compile`, diagnostics, { cause: err });
  }
}
