/**
 * `wirescope connect <endpoint>`: a client session, like netcat or redis-cli with a timeline. Sends what it is
 * given (--send, --send-hex, or piped stdin), prints every event, and exits the way a netcat user expects (see
 * USAGE).
 */
import type { ErrorCode, SessionInfo } from "../../../preload/contract.ts";
import { COMMON_OPTIONS, intOption, parseCommandLine } from "../args.ts";
import { preparedCommand, sleep, type CliCommand } from "../command.ts";
import { EXIT, RunFailedError, exitCodeOf } from "../errors.ts";
import { chooseProtocol, withDiagnostics } from "../protocol-ref.ts";
import type { CliRun } from "../run.ts";
import { clientTarget } from "../targets.ts";
import { KEYLOG_HELP } from "../tls-options.ts";
import { ConnectionWatch } from "./connection-watch.ts";
import { sendEach, sendsOf, sendStream, type Send } from "./input.ts";

/** How long the connection may stay quiet after the last input before `connect` closes it (ms). */
export const DEFAULT_IDLE_MS = 1000;
/** How long a clean close may take before the connection is aborted (ms). */
const CLOSE_WAIT_MS = 2000;
/** How often the wait for quiet looks at the connection again (ms). */
const POLL_MS = 25;

const USAGE = `Usage: wirescope connect <endpoint> [options]

Connects to a server, sends what you give it, and prints the timeline: every chunk each way, the connection's
lifecycle and what the protocol decodes. The session is recorded to a capture in the workspace.

  <endpoint>            host:port ("127.0.0.1:6379", "[::1]:80") or a Twisted client endpoint string
                        ("tcp:host=127.0.0.1:port=6379", "ssl:host=example.test:port=443")

Options:
  --send <text>         send text; escapes \\r \\n \\t \\0 \\\\ and \\xNN stand for one byte each (repeatable;
                        each is one write, in order)
  --send-hex <hex>      send bytes given as hex pairs ("de ad be ef"); may be mixed with --send
  --protocol <p>        run a protocol on the connection: a workspace file ("resp.ts"), a template
                        ("template:resp"), or a .ts file elsewhere (copied to <workspace>/cli/ for the run)
  --idle <ms>           after the input, close once nothing has passed either way for this long
                        (default ${DEFAULT_IDLE_MS} with input; without input, only when given)
  --half-close          shut our write side (FIN) once the input is sent, and keep reading
  --name <name>         the session's name in the capture
${KEYLOG_HELP}
  --json                one JSON object per event, and a summary object at the end
  --hex                 hex dumps under each chunk (with --json: data as "hex" instead of "base64")
  --workspace <folder>  the workspace (default: $WIRESCOPE_WORKSPACE, else the one chosen in the app's Settings
                        (~/.config/wirescope/settings.json), else ~/Documents/Wirescope)

Input: the --send and --send-hex values; without them, standard input when it is not a terminal (a pipe or a
file; use < /dev/null to send nothing), sent as it arrives.

When it exits:
  - the peer closes the connection (or shuts its side: connect then closes too), or
  - with input: all of it is sent and the connection has been quiet for --idle ms; connect closes cleanly, or
  - without input: Ctrl+C.

Exit codes: 0 done; 1 the connection was refused, failed or reset, or closed before the input was sent;
2 usage error; 3 the protocol does not compile; 130 Ctrl+C before all the input was sent.
`;

const OPTIONS = {
  ...COMMON_OPTIONS,
  send: { type: "string", multiple: true },
  "send-hex": { type: "string", multiple: true },
  protocol: { type: "string" },
  idle: { type: "string" },
  "half-close": { type: "boolean" },
  name: { type: "string" },
  keylog: { type: "string" },
} as const;

/** `connect`. */
export const connectCommand: CliCommand = {
  name: "connect",
  summary: "connect to a server, send, and print the timeline",
  usage: USAGE,
  prepare(argv) {
    const { values, positionals, order } = parseCommandLine("connect", argv, OPTIONS, {
      names: ["endpoint"],
      required: 1,
    });
    const sends = sendsOf("connect", order);
    const idle = values.idle === undefined ? null : intOption("connect", "idle", values.idle, 0, 86_400_000);
    return preparedCommand(values, (run) =>
      connect(run, {
        endpoint: positionals[0] ?? "",
        protocol: values.protocol,
        name: values.name,
        sends,
        idle,
        halfClose: values["half-close"] === true,
        keylog: values.keylog,
      }),
    );
  },
};

interface ConnectPlan {
  endpoint: string;
  protocol: string | undefined;
  name: string | undefined;
  sends: Send[];
  idle: number | null;
  halfClose: boolean;
  /** `--keylog <file>`: where the connection's TLS secrets go, if it speaks TLS. */
  keylog: string | undefined;
}

async function connect(run: CliRun, plan: ConnectPlan): Promise<number> {
  const { service, signal } = run;
  const choice = await chooseProtocol(run, "connect", plan.protocol);
  const keylog = plan.keylog !== undefined ? await run.openKeylog("connect", plan.keylog) : null;
  let info: SessionInfo;
  try {
    info = await withDiagnostics(service, [choice], () =>
      service.call("connect", {
        target: clientTarget(plan.endpoint),
        protocol: choice?.ref ?? null,
        ...(plan.name !== undefined ? { name: plan.name } : {}),
      }),
    );
  } catch (err) {
    // A failed attempt stays as a session, with its timeline: show it, then the reason.
    const failed = (await service.call("listSessions", {})).find((s) => s.kind === "client");
    if (failed) {
      run.keepCapture(failed.id);
      await run.follow(failed).drain();
    }
    if (exitCodeOf(err) === EXIT.failed) throw new RunFailedError((err as Error).message, { cause: err });
    throw err;
  }
  run.keepCapture(info.id);
  const conn = info.connections[0]!.conn;
  const watch = new ConnectionWatch(conn);
  keylog?.follows(info.id);
  run.follow(info, (e) => {
    keylog?.saw(e);
    watch.saw(e);
  });

  const stdin = plan.sends.length === 0 && run.io.stdin.isTTY !== true ? run.io.stdin : null;
  const hasInput = plan.sends.length > 0 || stdin !== null;
  let sentAll: boolean;
  try {
    sentAll = stdin
      ? await sendStream(run, info.id, conn, stdin, watch.ended)
      : await sendEach(run, info.id, conn, plan.sends);
  } catch (err) {
    if ((err as { code?: ErrorCode }).code !== "connection-closed") throw err;
    await watch.ended;
    throw new RunFailedError(`the connection closed before all the input was sent (${watch.reason})`);
  }
  if (sentAll && plan.halfClose && !watch.isEnded) {
    await service.call("halfCloseConnection", { session: info.id, conn });
  }
  watch.touch();
  const idle = plan.idle ?? (hasInput ? DEFAULT_IDLE_MS : null);
  while (!watch.isEnded && !watch.peerClosed && !signal.aborted) {
    const quiet = Date.now() - watch.lastActivity;
    if (idle !== null && quiet >= idle) break;
    await sleep(idle === null ? POLL_MS : Math.min(POLL_MS, idle - quiet), signal);
  }
  await closeConnection(run, info.id, watch);
  if (signal.aborted && !sentAll) return EXIT.interrupted;
  if (watch.failed) throw new RunFailedError(`connection ${conn} failed: ${watch.reason}`);
  return EXIT.ok;
}

/**
 * Closes cleanly (FIN) unless it has ended, and waits for the close; aborts (RST) if that takes longer than
 * CLOSE_WAIT_MS. Ctrl+C doesn't cut the wait short (a second Ctrl+C quits at once): a clean close is what it asks.
 */
async function closeConnection(run: CliRun, session: string, watch: ConnectionWatch): Promise<void> {
  if (watch.isEnded) return;
  const never = new AbortController().signal;
  await run.service.call("closeConnection", { session, conn: watch.conn }).catch(() => {});
  await Promise.race([watch.ended, sleep(CLOSE_WAIT_MS, never)]);
  if (!watch.isEnded) {
    await run.service.call("abortConnection", { session, conn: watch.conn }).catch(() => {});
    await Promise.race([watch.ended, sleep(CLOSE_WAIT_MS, never)]);
  }
}
