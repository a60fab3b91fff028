/**
 * The sandbox that runs user protocols off the main thread: a hang or a crash in user code never takes the app down
 * or drops a socket, and saved code is hot-loaded into live connections.
 *
 *     const host = new SandboxHost();
 *     const group = host.createGroup("session 1");          // one worker; the engine uses one per session
 *     await group.load("echo.ts", code, sourceMap);         // CommonJS from the workspace compiler
 *     factory.buildProtocol = () => group.attach({ moduleKey: "echo.ts" }, events);
 *     ...
 *     await group.load("echo.ts", newCode, newMap);         // hot reload: live connections run the new code
 *
 * The host makes the groups (host.ts: one worker each, and what happens when it hangs or dies) and runs the
 * watchdog that checks their heartbeats. The main thread never runs user code, so it stays responsive whatever the
 * protocols do.
 */
import {
  HANG_TIMEOUT_MS,
  SandboxGroup,
  type GroupOptions,
  type HostServices,
  type SandboxHostOptions,
} from "./host.ts";
import { workerSource } from "./worker-bundle.ts";

/** How often the host checks its workers. */
const WATCHDOG_INTERVAL_MS = 100;
/** A watchdog tick this late means the main thread itself was blocked: that round proves nothing, skip it. */
const WATCHDOG_LATE_MS = 300;

/**
 * Runs sandbox groups and watches their workers. One per process (the engine's); `dispose()` stops every worker.
 */
export class SandboxHost {
  private readonly groups = new Set<SandboxGroup>();
  private readonly services: HostServices;
  private watchdog: NodeJS.Timeout | null = null;
  private lastTick = 0;
  private connectionIds = 1;

  constructor(options: SandboxHostOptions = {}) {
    const source = options.workerSource ?? workerSource;
    this.services = {
      options: {
        memoryLimitMb: options.memoryLimitMb ?? 256,
        youngGenerationMb: options.youngGenerationMb ?? 48,
        hangTimeoutMs: options.hangTimeoutMs ?? HANG_TIMEOUT_MS,
      },
      source,
      nextConnectionId: () => this.connectionIds++,
      forget: (group) => this.groups.delete(group),
    };
  }

  /** Creates a group: one worker (started by its first `load`), for one session's connections. */
  createGroup(label: string, options: GroupOptions = {}): SandboxGroup {
    const group = new SandboxGroup(this.services, label, options);
    this.groups.add(group);
    this.startWatchdog();
    return group;
  }

  /** Stops every group's worker. Resolves once they have exited. */
  async dispose(): Promise<void> {
    if (this.watchdog !== null) clearInterval(this.watchdog);
    this.watchdog = null;
    await Promise.all([...this.groups].map((group) => group.dispose()));
  }

  /**
   * Every WATCHDOG_INTERVAL_MS: a group whose worker was silent longer than the hang timeout is stopped. If this
   * tick itself came late, the main thread was blocked and the workers' heartbeats may be waiting in its queue:
   * the round is skipped rather than blaming them.
   */
  private startWatchdog(): void {
    if (this.watchdog !== null) return;
    this.lastTick = performance.now();
    this.watchdog = setInterval(() => {
      const now = performance.now();
      const late = now - this.lastTick - WATCHDOG_INTERVAL_MS > WATCHDOG_LATE_MS;
      this.lastTick = now;
      for (const group of this.groups) group.checkHeartbeat(now, late);
    }, WATCHDOG_INTERVAL_MS);
    this.watchdog.unref();
  }
}
