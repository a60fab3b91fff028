/**
 * The CLI's exit code comes from the category of the error's code (preload/errors.ts), for its own errors and for
 * the engine's alike: what a script sees after a typo, a bad file, a refused connection or Ctrl+C.
 */
import { describe, expect, it } from "vitest";
import { ERROR_CODES, type ErrorCode } from "../../preload/errors.ts";
import {
  BadInputError,
  EXIT,
  EXIT_BY_CATEGORY,
  InterruptedError,
  RunFailedError,
  UsageError,
  exitCodeOf,
} from "./errors.ts";
import { EngineCallError } from "./service.ts";

/** An error as the engine throws it: a message and a code. */
function engineError(code: string): Error {
  return Object.assign(new Error(`failed with ${code}`), { code });
}

describe("the CLI's exit codes", () => {
  it("exits 2 for usage, 3 for a bad input, 1 for a failed run or a fault of Wirescope's, 130 for Ctrl+C", () => {
    expect(EXIT_BY_CATEGORY).toEqual({ usage: 2, "bad-input": 3, failed: 1, internal: 1, interrupted: 130 });
  });

  it("gives every code of the table its category's exit code, thrown by the engine or answered through the contract", () => {
    for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
      const expected = EXIT_BY_CATEGORY[ERROR_CODES[code]];
      expect(exitCodeOf(engineError(code)), code).toBe(expected);
      expect(exitCodeOf(new EngineCallError(code, "refused")), code).toBe(expected);
    }
  });

  it("tells a typo from a bad file from a dead server", () => {
    expect(exitCodeOf(engineError("bad-endpoint"))).toBe(EXIT.usage);
    expect(exitCodeOf(engineError("invalid-path"))).toBe(EXIT.usage);
    expect(exitCodeOf(engineError("compile-error"))).toBe(EXIT.badInput);
    expect(exitCodeOf(engineError("not-a-capture"))).toBe(EXIT.badInput);
    expect(exitCodeOf(engineError("ConnectionRefusedError"))).toBe(EXIT.failed);
    expect(exitCodeOf(engineError("cannot-listen"))).toBe(EXIT.failed);
    expect(exitCodeOf(engineError("interrupted"))).toBe(EXIT.interrupted);
  });

  it("never exits 0 for a code it does not know, nor for something that is not an error", () => {
    expect(exitCodeOf(engineError("EPIPE"))).toBe(EXIT.failed);
    expect(exitCodeOf(engineError("INVALID_PATH"))).toBe(EXIT.failed);
    expect(exitCodeOf(new Error("no code"))).toBe(EXIT.failed);
    expect(exitCodeOf("a string")).toBe(EXIT.failed);
  });

  it("gives the CLI's own errors their category's exit code", () => {
    expect(exitCodeOf(new UsageError("no such option --frob", "see wirescope --help"))).toBe(EXIT.usage);
    expect(exitCodeOf(new BadInputError("x.ts does not compile"))).toBe(EXIT.badInput);
    expect(exitCodeOf(new RunFailedError("refused"))).toBe(EXIT.failed);
    expect(exitCodeOf(new InterruptedError("SIGINT"))).toBe(EXIT.interrupted);
  });
});
