/**
 * How a process session reads in the workbench: the state of its child ("running", "exited with code 3", "killed
 * by SIGKILL") and the name of the pipe a chunk went through. Pure; the traffic view and the timeline use it.
 */
import type { SessionInfo } from "../../../preload/contract.ts";
import type { TimelineEvent } from "../../../preload/timeline.ts";

/** The child's standard pipes by fd, as the timeline names them. */
const FD_NAMES: Record<number, string> = { 0: "stdin", 1: "stdout", 2: "stderr" };

/** "stdin", "stdout", "stderr" (or "fd 3") for a process's chunk; null for a socket's chunk or another event. */
export function fdLabel(e: TimelineEvent): string | null {
  if (e.kind !== "data" || e.fd === undefined) return null;
  return FD_NAMES[e.fd] ?? `fd ${e.fd}`;
}

/**
 * The state of a process session's latest child, as said next to its command: "running" while it runs, then how it
 * ended ("not running" before its first run, or after a restart that failed).
 */
export function processState(session: SessionInfo): { label: string; tone: "ok" | "trouble" | "neutral" } {
  const info = session.process;
  if (!info) return { label: session.state, tone: "neutral" };
  if (info.signal !== undefined) return { label: `killed by ${info.signal}`, tone: "trouble" };
  if (info.exitCode !== undefined) {
    return { label: `exited with code ${info.exitCode}`, tone: info.exitCode === 0 ? "neutral" : "trouble" };
  }
  if (session.state === "connected") return { label: "running", tone: "ok" };
  return { label: "not running", tone: "neutral" };
}
