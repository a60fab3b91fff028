/**
 * The script sandbox workers run: worker-main.ts and the core it imports, bundled (or found prebuilt as
 * `sandbox-worker.js` beside the built main bundle) as every worker script is, by main/workers/worker-bundle.ts. An
 * app that ships the script elsewhere passes it to SandboxHost instead (`workerSource` option).
 */
import { fileURLToPath } from "node:url";
import { WorkerBundle } from "../workers/worker-bundle.ts";

/** The sandbox worker's script, for SandboxHost and the desktop build. */
export const SANDBOX_WORKER = new WorkerBundle(
  "sandbox worker",
  fileURLToPath(new URL("./worker-main.ts", import.meta.url)),
  "sandbox-worker.js",
);

/**
 * The sandbox worker's script: SandboxHost's default `workerSource`. The first call reads the prebuilt one or
 * bundles it; later calls return the same promise (see WorkerBundle.source).
 */
export function workerSource(): Promise<string> {
  return SANDBOX_WORKER.source();
}
