/**
 * Helpers for the workspace's tests (main/workspace/*.test.ts): a fresh workspace on a real temporary folder for
 * each test, the error a promise rejects with, and the temporary files an atomic write may have left.
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach } from "vitest";
import type { WorkspaceError } from "../../main/workspace/errors.ts";
import { Workspace } from "../../main/workspace/workspace.ts";

/** The running test's workspace: its folder and the Workspace on it (init() done). */
export interface WorkspaceFixture {
  readonly root: string;
  readonly ws: Workspace;
}

/**
 * Called once at the top of a test file: before each test, a new temporary folder made a workspace (init()); after
 * it, the folder removed. The returned object's fields are the running test's, so it can be kept in a const.
 */
export function useWorkspace(): WorkspaceFixture {
  let current: WorkspaceFixture | null = null;
  const running = (): WorkspaceFixture => {
    if (current === null) throw new Error("useWorkspace's workspace exists only while a test runs");
    return current;
  };
  beforeEach(async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), "wirescope-ws-"));
    current = { root, ws: new Workspace(root) };
    await current.ws.init();
  });
  afterEach(() => {
    if (current !== null) rmSync(current.root, { recursive: true, force: true });
    current = null;
  });
  return {
    get root() {
      return running().root;
    },
    get ws() {
      return running().ws;
    },
  };
}

/** The error `promise` rejects with (fails the test if it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<WorkspaceError> {
  try {
    await promise;
  } catch (err) {
    return err as WorkspaceError;
  }
  throw new Error("expected a rejection");
}

/** Files in `dir` whose name looks like one of our temporary files. */
export function temporaryFiles(dir: string): string[] {
  return readdirSync(dir).filter((name) => name.endsWith(".tmp"));
}
