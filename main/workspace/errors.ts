/**
 * The workspace's errors: each a stable `code` the contract carries to the app as `{ code, message }`, and a message
 * a person can act on. Thrown by Workspace, ProfileStore and checkProtocolPath.
 */

/** The stable codes of workspace errors. */
export type WorkspaceErrorCode =
  | "INVALID_PATH"
  | "NOT_FOUND"
  | "ALREADY_EXISTS"
  | "NO_TEMPLATE_SOURCE"
  | "INVALID_PROFILE"
  | "CORRUPT_PROFILES"
  | "WRITE_FAILED";

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
    super("INVALID_PATH", message);
  }
}

/** A protocol or profile that does not exist. */
export class NotFoundError extends WorkspaceError {
  constructor(message: string) {
    super("NOT_FOUND", message);
  }
}

/** Creating or renaming onto a path that is taken. */
export class AlreadyExistsError extends WorkspaceError {
  constructor(message: string) {
    super("ALREADY_EXISTS", message);
  }
}

/** A profile that does not have the shape of ConnectionProfile. */
export class InvalidProfileError extends WorkspaceError {
  constructor(message: string) {
    super("INVALID_PROFILE", message);
  }
}

/** profiles.json exists but cannot be read as profiles; it is left alone until the user fixes it. */
export class CorruptProfilesError extends WorkspaceError {
  constructor(message: string, cause: unknown) {
    super("CORRUPT_PROFILES", message, { cause });
  }
}

/** A write failed (permissions, full disk...); the previous content is untouched. `cause` is the system error. */
export class WriteFailedError extends WorkspaceError {
  constructor(message: string, cause: unknown) {
    super("WRITE_FAILED", message, { cause });
  }
}
