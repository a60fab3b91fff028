/**
 * The transport-neutral half of every adapter (vscode's `ChannelServer` idea, src/vs/base/parts/ipc): a command name
 * and its arguments go in, a `Result` comes out. The WebSocket adapter calls it for each frame, the Electron adapter
 * calls it from `ipcMain.handle`; neither knows the commands, which come from the contract's table.
 */
import {
  checkArgs,
  isCommandName,
  toContractError,
  type ContractError,
  type Result,
  type WirescopeService,
} from "../../preload/contract.ts";
import { contractError } from "../../preload/errors.ts";
import { shorten } from "../../preload/limits.ts";

/** Runs one command for a client; always resolves (never rejects) with a Result that is safe to send. */
export type Dispatch = (name: string, args: unknown) => Promise<Result<unknown>>;

/** Options of `createDispatcher`. */
export interface DispatcherOptions {
  /**
   * Called with what the service threw, before it is reduced to `{ code, category, message }`: the place to log a
   * stack, which never crosses to the client. Errors thrown by this callback are ignored.
   */
  serviceFailed?: (name: string, err: unknown) => void;
}

/** Longest part of an unknown command's name echoed back in the error. */
const MAX_ECHOED_NAME = 64;

/**
 * Makes the dispatcher over `service`. The caller (an adapter) owns the service; the dispatcher holds no state of
 * its own, so one may serve every client.
 *
 * For each call it guarantees, in order: a name that is not one of the contract's commands gets "unknown-command"
 * (inherited names like `toString` included); arguments that fail the command's schema get "invalid-arguments" naming
 * the field, and the service is not called; otherwise the service gets the parsed arguments, and what it throws
 * becomes `{ code, category, message }` through `toContractError`, without its stack.
 */
export function createDispatcher(service: WirescopeService, options: DispatcherOptions = {}): Dispatch {
  return async function dispatch(name: string, args: unknown): Promise<Result<unknown>> {
    if (typeof name !== "string" || !isCommandName(name)) return { ok: false, error: unknownCommand(name) };
    const checked = checkArgs(name, args);
    if (!checked.ok) return checked;
    try {
      // The contract's table and the service's type are keyed alike; this call is as typed as a loop over a table
      // can be.
      const method = service[name] as (args: unknown) => Promise<unknown>;
      if (typeof method !== "function") {
        return { ok: false, error: contractError("not-implemented", `${name} is not available in this engine`) };
      }
      return { ok: true, value: await method.call(service, checked.value) };
    } catch (err) {
      report(options, name, err);
      return { ok: false, error: safeContractError(err) };
    }
  };
}

function unknownCommand(name: unknown): ContractError {
  const shown =
    typeof name === "string"
      ? JSON.stringify(shorten(name, MAX_ECHOED_NAME))
      : `a ${name === null ? "null" : typeof name} name`;
  return contractError("unknown-command", `${shown} is not a Wirescope command`);
}

/** toContractError, guarded: a thrown object whose `message` or `toString` itself throws still gets an answer. */
function safeContractError(err: unknown): ContractError {
  try {
    const error = toContractError(err);
    const issues = error.issues?.map((i) => ({ path: String(i.path), message: String(i.message) }));
    return contractError(error.code, String(error.message), issues);
  } catch {
    return contractError("internal", "the engine failed with an error that could not be described");
  }
}

function report(options: DispatcherOptions, name: string, err: unknown): void {
  try {
    options.serviceFailed?.(name, err);
  } catch {
    // A failing logger must not change the answer.
  }
}
