/**
 * What a silent sandbox worker is doing, asked before the watchdog terminates it, so the reason it gives is the
 * cause and not a guess: how much its heap holds now (a protocol allocating without bound stops heartbeating too,
 * and would otherwise be called a loop or a memory failure depending on whether the watchdog or V8's heap limit came
 * first), and where it spins, so the error can name the user's source line ("did not return within 2 s — an
 * infinite loop? at loop.ts:4:5").
 *
 * A worker whose JavaScript never returns cannot answer a message, but V8 still services inspector requests at the
 * interrupt checks of loops. So the main thread opens an in-process inspector session (node:inspector), attaches to
 * the worker through the NodeWorker domain and sends it DevTools requests: the heap's usage as it is; when asked,
 * the stack where it was interrupted (`new Error().stack` evaluated at the interrupt sees the spinning frames beneath
 * it; lighter than enabling the debugger and pausing, which first reports every script); then, if that usage is
 * suspect, a full garbage collection and the heap's usage after it (what is still held). A worker filling its heap
 * may answer the first and not the rest in time: it is busy collecting. The session is closed again at once (the worker is terminated
 * right after). What could not be learnt within the time given is null; nothing throws.
 *
 * The inspector is never called from inside one of its own callbacks. A worker's answer reaches the main thread at
 * an interrupt check of whatever JavaScript runs, so the handlers below may run nested inside another dispatch of
 * the same session (NodeWorker.enable announcing the worker): closing the session there frees what that dispatch is
 * still using and crashes the whole process. Requests, the close and the caller's continuation (which terminates
 * the worker) therefore run on the next turn of the event loop (`setImmediate`), when no dispatch is on the stack.
 */
import { Session } from "node:inspector";

/** A frame of the silent worker: the script's URL (a sandboxed module's sourceURL) and 0-based line and column. */
export interface WorkerFrame {
  url: string;
  lineNumber: number;
  columnNumber: number;
}

/** What `examineWorker` learnt. */
export interface WorkerExamination {
  /** Bytes of the worker's heap in use (garbage included) when first asked; null if it did not answer in time. */
  heapUsed: number | null;
  /** Bytes its heap still holds after a full garbage collection; null if not asked or not answered in time. */
  liveHeap: number | null;
  /** Its call frames, innermost first, when asked to locate; null if not asked or not answered in time. */
  frames: WorkerFrame[] | null;
  /** The string `ExamineOptions.read` evaluated to ("" for anything else); null if not asked or not answered. */
  read: string | null;
}

interface WorkerMessage {
  id?: number;
  result?: { usedSize?: number; result?: { value?: unknown } };
}

/** Request ids of the DevTools messages sent to the worker. */
const HEAP_USAGE = 1;
const STACK = 2;
const COLLECT = 3;
const LIVE_HEAP_USAGE = 4;
const READ = 5;

/** A stack line's location: "at f (url:line:col)" or "at url:line:col", 1-based. */
const STACK_LOCATION = /^\s*at (?:.*\()?(.+?):(\d+):(\d+)\)?$/;

/** The frames of a V8 stack string (the message line and frames without a location are skipped). */
function framesOf(stack: string): WorkerFrame[] {
  return stack.split("\n").flatMap((line) => {
    const match = STACK_LOCATION.exec(line);
    if (match === null) return [];
    return [{ url: match[1]!, lineNumber: Number(match[2]) - 1, columnNumber: Number(match[3]) - 1 }];
  });
}

/** What a silent worker's examination is judged against (`grown`, `ateMemory`). */
export interface HeapBaseline {
  /** Bytes of its heap in use at its last heartbeat. */
  lastHeapUsed: number;
  /** Its heap (old generation) limit, in bytes. */
  limit: number;
}

/**
 * A silent worker whose heap grew by more than this share of its heap limit since its last heartbeat is suspect:
 * it may be allocating without bound. Young-generation garbage alone can exceed it (a loop that only makes garbage),
 * so a full collection decides.
 */
const GROWTH_SHARE_OF_LIMIT = 1 / 8;
/**
 * A suspect worker that did not say in time what its heap still holds after the collection is out of memory only if
 * its heap is beyond this share of the limit: busy collecting on its way to the limit. Below it, the silence is as
 * likely a loop on a busy machine (garbage and all), and a hang is the safer cause to give.
 */
const NEAR_LIMIT_SHARE = 3 / 4;

/** Whether a heap in use of `bytes` grew past the baseline enough to be suspect (a full collection decides). */
export function grown(bytes: number, baseline: HeapBaseline): boolean {
  return bytes - baseline.lastHeapUsed > baseline.limit * GROWTH_SHARE_OF_LIMIT;
}

/**
 * Whether what `examineWorker` learnt shows a worker allocating without bound rather than looping: its heap grew
 * and still holds the growth after a full collection, or, the collection unanswered in time, is near its limit.
 * A worker that answered nothing is taken for looping (false).
 */
export function ateMemory(found: Omit<WorkerExamination, "read">, baseline: HeapBaseline): boolean {
  const { heapUsed, liveHeap } = found;
  if (heapUsed === null || !grown(heapUsed, baseline)) return false;
  if (liveHeap !== null) return grown(liveHeap, baseline);
  return heapUsed > baseline.limit * NEAR_LIMIT_SHARE;
}

/** What to ask a silent worker (`examineWorker`). */
export interface ExamineOptions {
  /** Also read the stack it spins in. */
  locate: boolean;
  /** Whether a heap in use of this many bytes needs a full collection to tell what is still held. */
  suspect: (heapUsed: number) => boolean;
  /** Resolve with what was learnt by then. */
  timeoutMs: number;
  /** An expression to evaluate in the worker, where it spins (what it has not sent yet: host.ts); its string value. */
  read?: string;
}

/**
 * Examines the worker of thread `threadId`: its heap (after a full collection when `suspect`), with `locate`
 * where it spins, with `read` the value of that expression there. Resolves once everything asked was answered, or
 * after `timeoutMs` with what was (a worker busy dying in garbage collection may answer nothing). Never throws.
 */
export function examineWorker(threadId: number, options: ExamineOptions): Promise<WorkerExamination> {
  const { locate, suspect, timeoutMs, read } = options;
  return new Promise((resolve) => {
    const session = new Session();
    const found: WorkerExamination = { heapUsed: null, liveHeap: null, frames: null, read: null };
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      setImmediate(() => {
        try {
          session.disconnect();
        } catch {
          // already gone
        }
        resolve(found);
      });
    };
    let send: ((id: number, method: string, params?: object) => void) | null = null;
    const answered = () => {
      if (found.heapUsed === null || (locate && found.frames === null)) return;
      if (read !== undefined && found.read === null) return;
      if (!suspect(found.heapUsed) || found.liveHeap !== null) finish();
    };
    const timer = setTimeout(finish, timeoutMs);
    try {
      session.connect();
    } catch {
      finish();
      return;
    }
    session.on(
      "NodeWorker.attachedToWorker",
      (notice: { params: { sessionId: string; workerInfo: { title: string } } }) => {
        // The inspector numbers workers its own way; the title starts with the thread id: "[worker 3] name", or is
        // just "[worker 3]" for a worker without a name.
        const { title } = notice.params.workerInfo;
        if (title !== `[worker ${threadId}]` && !title.startsWith(`[worker ${threadId}] `)) return;
        send = (id, method, params = {}) =>
          setImmediate(() => {
            if (settled) return;
            session.post("NodeWorker.sendMessageToWorker", {
              sessionId: notice.params.sessionId,
              message: JSON.stringify({ id, method, params }),
            });
          });
        send(HEAP_USAGE, "Runtime.getHeapUsage");
        if (locate) send(STACK, "Runtime.evaluate", { expression: "new Error().stack", returnByValue: true });
        if (read !== undefined) send(READ, "Runtime.evaluate", { expression: read, returnByValue: true });
      },
    );
    session.on("NodeWorker.receivedMessageFromWorker", (notice: { params: { message: string } }) => {
      if (settled) return; // What was learnt is final once finish() ran.
      let message: WorkerMessage;
      try {
        message = JSON.parse(notice.params.message) as WorkerMessage;
      } catch {
        return;
      }
      const usedSize = message.result?.usedSize;
      if (message.id === HEAP_USAGE && typeof usedSize === "number") {
        found.heapUsed = usedSize;
        if (suspect(usedSize)) {
          send?.(COLLECT, "HeapProfiler.collectGarbage");
          send?.(LIVE_HEAP_USAGE, "Runtime.getHeapUsage");
        }
        answered();
      } else if (message.id === LIVE_HEAP_USAGE && typeof usedSize === "number") {
        found.liveHeap = usedSize;
        answered();
      } else if (message.id === STACK) {
        const stack = message.result?.result?.value;
        found.frames = typeof stack === "string" ? framesOf(stack) : [];
        answered();
      } else if (message.id === READ) {
        const value = message.result?.result?.value;
        found.read = typeof value === "string" ? value : "";
        answered();
      }
    });
    session.post("NodeWorker.enable", { waitForDebuggerOnStart: false }, (err) => {
      if (err) finish();
    });
  });
}
