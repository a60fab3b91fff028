/**
 * `wirescope listen <endpoint>` and `wirescope proxy <listen> <upstream>`: sessions that accept connections and run
 * until Ctrl+C. The first line on stdout is the bound address, so that a script can read it and connect.
 */
import type { SessionInfo } from "../../../preload/contract.ts";
import { COMMON_OPTIONS, parseCommandLine } from "../args.ts";
import { aborted, preparedCommand, type CliCommand } from "../command.ts";
import { EXIT, RunFailedError, exitCodeOf } from "../errors.ts";
import type { KeylogFile } from "../keylog-file.ts";
import { chooseProtocol, withDiagnostics, type ProtocolChoice } from "../protocol-ref.ts";
import type { CliRun } from "../run.ts";
import { clientTarget, listenTarget } from "../targets.ts";
import { CERT_HELP, KEYLOG_HELP, PROXY_TLS_OPTIONS, TLS_FILE_OPTIONS, listenTLS, proxyTLS } from "../tls-options.ts";

const COMMON_HELP = `  --json                one JSON object per event ({"kind":"listening",...} first), and a summary at the end
  --hex                 hex dumps under each chunk (with --json: data as "hex" instead of "base64")
  --workspace <folder>  the workspace (default: $WIRESCOPE_WORKSPACE, else the one chosen in the app's Settings
                        (~/.config/wirescope/settings.json), else ~/Documents/Wirescope)

The first line printed is "listening on <address>" (the port chosen when you gave 0; with --json, its
"backlog" is how many connections the kernel queues before they are accepted: 4096 unless the endpoint string
says backlog=N, capped by the kernel's net.core.somaxconn). Runs until Ctrl+C (or SIGTERM), then closes every
connection cleanly, flushes the capture and prints where it is. With TLS and no --cert, stderr says where
Wirescope's CA is, for the clients to trust; with --json, "tls" in the first line gives the session's TLS settings.

A TLS handshake shows as a "tls" line (version, cipher, SNI, ALPN, the certificate and whether it was verified)
or a "tls-failed" line (what failed and the likely fix); the data lines show the plaintext.

Exit codes: 0 stopped by Ctrl+C; 1 could not listen (port in use, no such interface); 2 usage error;
3 a protocol does not compile, or a --cert/--key file that is not a certificate or key, or that do not match.
`;

const LISTEN_USAGE = `Usage: wirescope listen <endpoint> [options]

Listens for connections and prints the timeline of each one. Without a protocol, a connection whose peer
shuts its side (FIN) is closed in turn, as netcat does.

  <endpoint>            a port ("6379", "0" for any free one), host:port ("127.0.0.1:0", "[::1]:8080"), or a
                        Twisted server endpoint string ("tcp:0:interface=127.0.0.1"); 127.0.0.1 unless you say

Options:
  --protocol <p>        run a protocol on each connection: a workspace file, a template ("template:echo"), or a
                        .ts file elsewhere (copied to <workspace>/cli/ for the run)
  --name <name>         the session's name in the capture
  --tls                 speak TLS to every client, with a certificate from Wirescope's CA for the name it asks
                        (or for localhost, 127.0.0.1 and ::1): trust the CA in the client ('wirescope ca')
${CERT_HELP}
${KEYLOG_HELP}
${COMMON_HELP}`;

const PROXY_USAGE = `Usage: wirescope proxy <listen> <upstream> [options]

Listens, and forwards each accepted connection to the upstream; both legs are recorded on one timeline: each
accepted connection (your client's leg) is followed by the upstream leg opened for it (#1 and #2, #3 and #4...).

  <listen>              as for listen: "0", "127.0.0.1:6380", "tcp:6380"
  <upstream>            as for connect: "127.0.0.1:6379", "tcp:host=127.0.0.1:port=6379" (with --tls, host:port
                        or "ssl:host=...:port=..." is the TLS server; --starttls upgrades a plain one)

Options:
  --protocol <p>        a protocol on both legs (a file exporting ClientLeg / ServerLeg, like template:resp-tap,
                        runs each on its leg)
  --client-protocol <p> a protocol on the accepted (client-facing) leg only
  --server-protocol <p> a protocol on the upstream leg only
  --name <name>         the session's name in the capture
  --tls                 terminate TLS: clients speak TLS to the proxy (a certificate from Wirescope's CA for the
                        name they ask), the proxy speaks TLS to the upstream (their SNI and ALPN passed on); both
                        legs are shown in plaintext
  --starttls            both legs start plain; a leg protocol upgrades them when the protocol says so
                        (this.transport.startTLS(), as template:smtp does); the options below apply then
  --insecure-upstream   with --tls or --starttls: do not verify the upstream's certificate (the "tls" line says
                        why it would have failed); to verify one whose CA the system does not trust, give that
                        CA to Node instead: NODE_EXTRA_CA_CERTS=its-ca.pem wirescope proxy ...
${CERT_HELP}
${KEYLOG_HELP}
${COMMON_HELP}`;

const LISTEN_OPTIONS = {
  ...COMMON_OPTIONS,
  ...TLS_FILE_OPTIONS,
  protocol: { type: "string" },
  name: { type: "string" },
} as const;
const PROXY_OPTIONS = {
  ...COMMON_OPTIONS,
  ...PROXY_TLS_OPTIONS,
  protocol: { type: "string" },
  name: { type: "string" },
  "client-protocol": { type: "string" },
  "server-protocol": { type: "string" },
} as const;

/** `listen`. */
export const listenCommand: CliCommand = {
  name: "listen",
  summary: "listen for connections and print their timeline until Ctrl+C",
  usage: LISTEN_USAGE,
  prepare(argv) {
    const { values, positionals } = parseCommandLine("listen", argv, LISTEN_OPTIONS, {
      names: ["endpoint"],
      required: 1,
    });
    const tls = listenTLS(values);
    return preparedCommand(values, async (run) => {
      const choice = await chooseProtocol(run, "listen", values.protocol);
      const keylog = values.keylog !== undefined ? await run.openKeylog("listen", values.keylog) : null;
      return serveUntilStopped(run, [choice], choice === null, keylog, () =>
        run.service.call("listen", {
          target: listenTarget(positionals[0] ?? ""),
          protocol: choice?.ref ?? null,
          ...(tls !== undefined ? { tls } : {}),
          ...(values.name !== undefined ? { name: values.name } : {}),
        }),
      );
    });
  },
};

/** `proxy`. */
export const proxyCommand: CliCommand = {
  name: "proxy",
  summary: "sit between a client and a server, print both legs until Ctrl+C",
  usage: PROXY_USAGE,
  prepare(argv) {
    const { values, positionals } = parseCommandLine("proxy", argv, PROXY_OPTIONS, {
      names: ["listen", "upstream"],
      required: 2,
    });
    const tls = proxyTLS(values);
    return preparedCommand(values, async (run) => {
      const both = values.protocol;
      const client = await chooseProtocol(run, "proxy", values["client-protocol"] ?? both);
      const server = await chooseProtocol(run, "proxy", values["server-protocol"] ?? both);
      const keylog = values.keylog !== undefined ? await run.openKeylog("proxy", values.keylog) : null;
      return serveUntilStopped(run, [client, server], false, keylog, () =>
        run.service.call("proxy", {
          listen: listenTarget(positionals[0] ?? ""),
          upstream: clientTarget(positionals[1] ?? ""),
          clientProtocol: client?.ref ?? null,
          serverProtocol: server?.ref ?? null,
          ...(tls !== undefined ? { tls } : {}),
          ...(values.name !== undefined ? { name: values.name } : {}),
        }),
      );
    });
  },
};

/**
 * Starts the session, says where it listens, prints its timeline until Ctrl+C. With `closeAfterPeer` (a raw
 * listener: nobody is there to answer or to close), a connection whose peer shut its side (FIN) is closed in turn,
 * as netcat does, instead of staying half-open for a user who would close it in the app. `keylog` (--keylog)
 * receives the session's events once it has started.
 */
async function serveUntilStopped(
  run: CliRun,
  choices: (ProtocolChoice | null)[],
  closeAfterPeer: boolean,
  keylog: KeylogFile | null,
  start: () => Promise<SessionInfo>,
): Promise<number> {
  let info: SessionInfo;
  try {
    info = await withDiagnostics(run.service, choices, start);
  } catch (err) {
    if (exitCodeOf(err) === EXIT.failed) throw new RunFailedError((err as Error).message, { cause: err });
    throw err;
  }
  run.keepCapture(info.id);
  const address = info.listeningOn ?? info.target;
  run.announce(`listening on ${address}`, {
    kind: "listening",
    session: info.id,
    address,
    backlog: info.backlog,
    ...(info.tls !== undefined ? { tls: info.tls } : {}),
  });
  if (info.tls?.certificate === "wirescope-ca") {
    // Where the CA is, for the client to trust: what a first handshake that fails would ask for anyway.
    const ca = await run.service.call("caInfo", {});
    run.note(`tls: clients get certificates from Wirescope's CA: trust ${ca.path}`);
  }
  keylog?.follows(info.id);
  run.follow(info, (e) => {
    keylog?.saw(e);
    if (closeAfterPeer && e.kind === "lifecycle" && e.event === "read-closed") {
      run.service.call("closeConnection", { session: info.id, conn: e.conn }).catch(() => {});
    }
  });
  await aborted(run.signal);
  return EXIT.ok;
}
