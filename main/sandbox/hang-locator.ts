/**
 * Where a hung sandbox worker is spinning: the watchdog asks before it terminates the worker, so the error can name
 * the user's source line ("did not return within 2 s — an infinite loop? at loop.ts:4:5") instead of only saying
 * that something looped.
 *
 * A worker whose JavaScript never returns cannot answer a message, but V8 still services inspector requests at the
 * interrupt checks of loops. So the main thread opens an in-process inspector session (node:inspector), attaches to
 * the worker through the NodeWorker domain, enables the Debugger in it and pauses it; the paused event carries the
 * call frames. The session is closed again at once (the worker is terminated right after). Any failure, or no answer
 * within the time given, yields null: the caller then reports the hang without a location.
 */
import { Session } from "node:inspector";

/** A frame of the paused worker: the script's URL (a sandboxed module's sourceURL) and 0-based line and column. */
export interface PausedFrame {
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface WorkerMessage {
  id?: number;
  method?: string;
  params?: {
    scriptId?: string;
    url?: string;
    callFrames?: { url: string; location: { scriptId: string; lineNumber: number; columnNumber: number } }[];
  };
}

/**
 * Pauses the worker of thread `threadId` and returns its call frames, innermost first; null if that could not be
 * done within `timeoutMs`. Never throws.
 */
export function locateHang(threadId: number, timeoutMs: number): Promise<PausedFrame[] | null> {
  return new Promise((resolve) => {
    const session = new Session();
    const scripts = new Map<string, string>();
    let settled = false;
    const finish = (frames: PausedFrame[] | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      try {
        session.disconnect();
      } catch {
        // already gone
      }
      resolve(frames);
    };
    const timer = setTimeout(() => finish(null), timeoutMs);
    try {
      session.connect();
    } catch {
      finish(null);
      return;
    }
    session.on(
      "NodeWorker.attachedToWorker",
      (notice: { params: { sessionId: string; workerInfo: { title: string } } }) => {
        // The inspector numbers workers its own way; the title starts with the thread id: "[worker 3] name".
        if (!notice.params.workerInfo.title.startsWith(`[worker ${threadId}] `)) return;
        const send = (id: number, method: string) =>
          session.post("NodeWorker.sendMessageToWorker", {
            sessionId: notice.params.sessionId,
            message: JSON.stringify({ id, method }),
          });
        send(1, "Debugger.enable");
        send(2, "Debugger.pause");
      },
    );
    session.on("NodeWorker.receivedMessageFromWorker", (notice: { params: { message: string } }) => {
      let message: WorkerMessage;
      try {
        message = JSON.parse(notice.params.message) as WorkerMessage;
      } catch {
        return;
      }
      if (message.method === "Debugger.scriptParsed" && message.params?.scriptId !== undefined) {
        scripts.set(message.params.scriptId, message.params.url ?? "");
      } else if (message.method === "Debugger.paused") {
        const frames = (message.params?.callFrames ?? []).map((f) => ({
          url: f.url || (scripts.get(f.location.scriptId) ?? ""),
          lineNumber: f.location.lineNumber,
          columnNumber: f.location.columnNumber,
        }));
        finish(frames);
      }
    });
    session.post("NodeWorker.enable", { waitForDebuggerOnStart: false }, (err) => {
      if (err) finish(null);
    });
  });
}
