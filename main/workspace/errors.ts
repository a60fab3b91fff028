/**
 * The workspace's errors: each a stable `code` of preload/errors.ts's table, which the contract carries to the app as
 * `{ code, category, message }`, and a message a person can act on. Thrown by Workspace, ProfileStore and
 * checkProtocolPath.
 */
import type { ErrorCodes } from "../../preload/errors.ts";

/** The stable codes of workspace errors. */
export type WorkspaceErrorCode = ErrorCodes<
  | "invalid-path"
  | "not-found"
  | "already-exists"
  | "no-template-source"
  | "invalid-profile"
  | "corrupt-profiles"
  | "write-failed"
>;

/** Base of the workspace's errors: a stable `code` and a message a person can act on. */
export class WorkspaceError extends Error {
  constructor(
    /** Stable identifier of the error kind. */
    readonly code: WorkspaceErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A path that is not a valid protocol path (absolute, `..`, not .ts, odd characters, NUL...). */
export class InvalidPathError extends WorkspaceError {
  constructor(message: string) {
    super("invalid-path", message);
  }
}

/** A protocol or profile that does not exist. */
export class NotFoundError extends WorkspaceError {
  constructor(message: string) {
    super("not-found", message);
  }
}

/** Creating or renaming onto a path that is taken. */
export class AlreadyExistsError extends WorkspaceError {
  constructor(message: string) {
    super("already-exists", message);
  }
}

/** A profile that does not have the shape of ConnectionProfile. */
export class InvalidProfileError extends WorkspaceError {
  constructor(message: string) {
    super("invalid-profile", message);
  }
}

/** profiles.json exists but cannot be read as profiles; it is left alone until the user fixes it. */
export class CorruptProfilesError extends WorkspaceError {
  constructor(message: string, cause: unknown) {
    super("corrupt-profiles", message, { cause });
  }
}

/** A write failed (permissions, full disk...); the previous content is untouched. `cause` is the system error. */
export class WriteFailedError extends WorkspaceError {
  constructor(message: string, cause: unknown) {
    super("write-failed", message, { cause });
  }
}
