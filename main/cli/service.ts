/**
 * How the CLI talks to the engine: through the contract, like the app. Each call goes through the same dispatcher
 * the adapters use (main/adapters/dispatch.ts), so arguments are checked by the contract's schemas and errors come
 * back as `{ code, category, message }`; a failed call is thrown as an EngineCallError whose exit code follows its
 * category.
 */
import type { CommandArgs, CommandName, CommandResult, ErrorCode } from "../../preload/contract.ts";
import { createDispatcher, type Dispatch } from "../adapters/dispatch.ts";
import type { Engine } from "../engine/engine.ts";
import { CliError } from "./errors.ts";

/** A command the engine refused or failed; `code` is the engine's (e.g. "ConnectionRefusedError", "compile-error"). */
export class EngineCallError extends CliError {
  constructor(code: ErrorCode, message: string) {
    super(code, message);
  }
}

/** The engine, seen through the contract. Owned by the CLI run that opened the engine. */
export class CliService {
  private readonly dispatch: Dispatch;

  constructor(readonly engine: Engine) {
    this.dispatch = createDispatcher(engine);
  }

  /** Runs command `name`; resolves with its result or throws EngineCallError. */
  async call<K extends CommandName>(name: K, args: CommandArgs<K>): Promise<CommandResult<K>> {
    const result = await this.dispatch(name, args);
    if (!result.ok) throw new EngineCallError(result.error.code, result.error.message);
    return result.value as CommandResult<K>;
  }
}
