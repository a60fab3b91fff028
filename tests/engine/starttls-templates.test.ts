/**
 * The TLS templates against real peers, through the engine's contract over its WebSocket adapter:
 * - swaks (`--tls`, verifying against Wirescope's CA) through a STARTTLS proxy running template:smtp, to Debian's
 *   python3-aiosmtpd with STARTTLS required: the mail arrives, and the timeline has EHLO and STARTTLS, then the TLS
 *   handshake, then AUTH, MAIL, RCPT and DATA in plaintext;
 * - psql (`sslmode=require`) through a STARTTLS proxy running template:postgres, to a throwaway PostgreSQL cluster
 *   with ssl=on: SELECT 1 answers, and the Query is on the timeline in plaintext (skipped, saying why, where the
 *   cluster cannot start);
 * - the TLS client template on a client session to a node:tls server whose certificate the test CA signed.
 * Upstream certificates come from tests/fixtures/tls, which the proxy does not trust: the proxies skip upstream
 * verification (insecureUpstream); the client side is verified against Wirescope's CA.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tls from "node:tls";
import { afterAll, describe, expect, it } from "vitest";
import type { TimelineEvent } from "../../preload/timeline.ts";
import { bytesOf, freePort, ok, timeline, useEngine, waitForTimeline } from "../helpers/engine.ts";
import { startPostgres } from "../helpers/postgres.ts";
import { messagesOf, spannedBytes, streamOf } from "../helpers/spans.ts";

const FIXTURES = path.join(import.meta.dirname, "../fixtures");
const CERT = path.join(FIXTURES, "tls/server.crt");
const KEY = path.join(FIXTURES, "tls/server.key");
const TEST_CA = path.join(FIXTURES, "tls/ca.crt");

/** Wirescope's CA for these tests (never the user's config folder). */
const configDir = fs.mkdtempSync(path.join(os.tmpdir(), "wirescope-starttls-config-"));
afterAll(() => fs.rmSync(configDir, { recursive: true, force: true }));

const { t, defer } = useEngine({ configDir });

/** The log lines of one connection, in order. */
const logsOn = (events: TimelineEvent[], conn: number) =>
  events.flatMap((e) => (e.kind === "log" && e.conn === conn ? [e.text] : []));
/** Where on the timeline the first event matching `what` is (-1: none). */
const indexOf = (events: TimelineEvent[], what: (e: TimelineEvent) => boolean) => events.findIndex(what);
const tlsEventOn = (conn: number) => (e: TimelineEvent) =>
  e.kind === "lifecycle" && e.event === "tls" && e.conn === conn;
const logOn = (conn: number, prefix: string) => (e: TimelineEvent) =>
  e.kind === "log" && e.conn === conn && e.text.startsWith(prefix);

/**
 * The decoded messages of a tap's leg `conn`, end to end, are exactly the plaintext it received (every byte is part
 * of one message), and every message it reports as a response is paired with a request of the other leg.
 */
function expectMessagesCover(events: TimelineEvent[], conn: number): void {
  const messages = messagesOf(events, conn);
  const spanned = Buffer.concat(messages.map((m) => spannedBytes(events, conn, m.spans)));
  expect(spanned.equals(streamOf(events, conn, "in")), `the messages of connection ${conn}`).toBe(true);
  for (const response of messages.filter((m) => m.pair?.role === "response")) {
    expect(response.pair!.request, `what "${response.text}" answers`).toBeTypeOf("number");
  }
}

/** A session's timeline without its bytes, one line per event: what a failed exchange's message shows. */
async function story(session: string): Promise<string> {
  const events = await timeline(t.api, session);
  return events
    .flatMap((e) => (e.kind === "data" ? [] : [`#${e.conn} ${e.kind === "log" ? e.text : `${e.event}: ${e.detail}`}`]))
    .join("\n");
}

/** Runs a program to its end (at most `timeoutMs`); resolves with its exit code and output. */
function run(file: string, args: string[], timeoutMs = 30_000): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === "number" ? err.code : -1;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

/** A STARTTLS proxy in front of 127.0.0.1:`port` running `protocol` on both legs; its session id and port. */
async function starttlsProxy(port: number, protocol: string): Promise<{ session: string; port: number }> {
  const s = ok(
    await t.api.proxy({
      listen: { port: 0 },
      upstream: { host: "127.0.0.1", port },
      clientProtocol: protocol,
      serverProtocol: protocol,
      tls: { mode: "starttls", insecureUpstream: true },
    }),
  );
  return { session: s.id, port: Number(s.listeningOn!.split(":")[1]) };
}

/** python3-aiosmtpd with STARTTLS and AUTH (tests/fixtures/smtp-server.py); stopped after the test. */
async function smtpServer(): Promise<{ port: number; maildir: string }> {
  const maildir = fs.mkdtempSync(path.join(os.tmpdir(), "wirescope-mail-"));
  const port = await freePort();
  const script = path.join(FIXTURES, "smtp-server.py");
  const child: ChildProcess = spawn("/usr/bin/python3", [script, String(port), CERT, KEY, maildir], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  defer(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    }
    fs.rmSync(maildir, { recursive: true, force: true });
  });
  let output = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the SMTP server did not start:\n${output}`)), 15_000);
    const seen = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("ready")) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on("data", seen);
    child.stderr!.on("data", seen);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the SMTP server exited (${code}); needs /usr/bin/python3 with python3-aiosmtpd:\n${output}`));
    });
  });
  return { port, maildir };
}

describe("template:smtp with swaks and aiosmtpd", () => {
  it("the mail arrives; EHLO and STARTTLS in clear, then the handshake, then AUTH, MAIL, RCPT, DATA in plaintext", async () => {
    const smtp = await smtpServer();
    const proxy = await starttlsProxy(smtp.port, "template:smtp");
    const ca = await t.engine.ca();
    const swaks = await run("/usr/bin/swaks", [
      ...["--server", `127.0.0.1:${proxy.port}`, "--tls", "--tls-verify", "--tls-ca-path", ca.certPath],
      ...["--tls-sni", "localhost", "--auth", "PLAIN", "--auth-user", "wirescope", "--auth-password", "secret"],
      ...["--from", "alice@example.org", "--to", "bob@example.org"],
      ...["--header", "Subject: through Wirescope", "--body", "hello over STARTTLS"],
    ]);
    expect(swaks.code, `${swaks.output}\n${await story(proxy.session)}`).toBe(0);

    const mail = JSON.parse(fs.readFileSync(path.join(smtp.maildir, "1.json"), "utf8")) as Record<string, unknown>;
    expect(mail).toMatchObject({ from: "alice@example.org", to: ["bob@example.org"] });
    expect(mail["content"]).toContain("Subject: through Wirescope");
    expect(mail["content"]).toContain("hello over STARTTLS");

    const events = await waitForTimeline(
      t.api,
      proxy.session,
      (e) => logsOn(e, 1).includes("command QUIT"),
      "the client's QUIT, decoded",
    );
    const commands = logsOn(events, 1).filter((line) => line.startsWith("command "));
    expect(commands.map((line) => line.split(" ")[1])).toEqual([
      "EHLO",
      "STARTTLS",
      "EHLO",
      "AUTH",
      "MAIL",
      "RCPT",
      "DATA",
      "QUIT",
    ]);
    expect(commands).toContain("command MAIL FROM:<alice@example.org>");
    expect(logsOn(events, 1)).toContainEqual(
      expect.stringMatching(/^message of \d+ lines, \d+ bytes: through Wirescope$/),
    );
    expect(logsOn(events, 2)).toContain("reply 235 2.7.0 Authentication successful");
    // The upgrade sits between STARTTLS's go-ahead and AUTH, on both legs; what follows is recorded in plaintext.
    const starttls = indexOf(events, logOn(1, "command STARTTLS"));
    const goAhead = indexOf(events, logOn(2, "reply 220 Ready to start TLS"));
    const auth = indexOf(events, logOn(1, "command AUTH"));
    for (const conn of [1, 2]) {
      const handshake = indexOf(events, tlsEventOn(conn));
      expect(handshake, `the tls event of connection ${conn}`).toBeGreaterThan(Math.max(starttls, goAhead));
      expect(handshake).toBeLessThan(auth);
    }
    expect(bytesOf(events, 1, "in").toString()).toContain("MAIL FROM:<alice@example.org>\r\n");
    expect(bytesOf(events, 2, "out").toString()).toContain("hello over STARTTLS");
    expect(logsOn(events, 1)).toContainEqual(expect.stringMatching(/^TLS TLSv1\.[23] /));
    for (const conn of [1, 2]) expectMessagesCover(events, conn);

    // Decoding the recorded upstream leg runs ServerLeg again: its startTLS does nothing there (what was recorded
    // after the upgrade is plaintext already), so it decodes on to the end instead of being halted.
    const decode = ok(await t.api.decode({ session: proxy.session, conn: 2, protocol: "smtp.ts", side: "client" }));
    const decoded = await story(decode.session.id);
    expect(decoded).not.toContain("protocol-halted");
    expect(decoded).toContain("reply 220 Ready to start TLS");
    expect(decoded).toContain("reply 235 2.7.0 Authentication successful");
  });
});

describe("template:postgres with psql and a throwaway cluster", () => {
  it("SELECT 1 answers through the proxy; the SSLRequest, the upgrade and the Query are on the timeline", async (ctx) => {
    const cluster = await startPostgres(CERT, KEY);
    if ("why" in cluster) {
      console.warn(`skipped: PostgreSQL could not be started here: ${cluster.why}`);
      ctx.skip(`PostgreSQL could not be started here: ${cluster.why}`);
      return;
    }
    defer(() => cluster.stop());
    const proxy = await starttlsProxy(cluster.port, "template:postgres");
    const conninfo = `host=127.0.0.1 port=${proxy.port} user=postgres dbname=postgres sslmode=require`;
    const psql = await run("/usr/bin/psql", ["-X", "-At", conninfo, "-c", "SELECT 1 AS answer"]);
    expect(psql.code, `${psql.output}\n${await story(proxy.session)}`).toBe(0);
    expect(psql.output.trim()).toBe("1");

    const events = await waitForTimeline(
      t.api,
      proxy.session,
      (e) => logsOn(e, 1).includes("Terminate"),
      "psql's Terminate, decoded",
    );
    const decoded = (conn: number) => logsOn(events, conn).filter((line) => !line.startsWith("TLS "));
    const client = decoded(1);
    expect(client.slice(0, 2)).toEqual(["SSLRequest", "StartupMessage user=postgres database=postgres"]);
    expect(client).toContain("Query SELECT 1 AS answer");
    const server = decoded(2);
    expect(server[0]).toBe("SSL accepted: upgrading the connection");
    for (const conn of [1, 2]) expect(logsOn(events, conn)).toContainEqual(expect.stringMatching(/^TLS TLSv1\.3 /));
    expect(server).toEqual(
      expect.arrayContaining(["RowDescription answer", "DataRow 1 column", "CommandComplete SELECT 1"]),
    );
    expect(server).toContain("ReadyForQuery idle");
    // The query went upstream in plaintext on the timeline, after both legs' handshakes.
    expect(bytesOf(events, 2, "out").toString()).toContain("SELECT 1 AS answer");
    const query = indexOf(events, logOn(1, "Query"));
    for (const conn of [1, 2]) expect(indexOf(events, tlsEventOn(conn))).toBeLessThan(query);
    for (const conn of [1, 2]) expectMessagesCover(events, conn);
  });
});

describe("template:tls-client", () => {
  it("connects plain, starts TLS trusting the test CA, and logs what the handshake agreed on", async () => {
    const received: string[] = [];
    const sockets: tls.TLSSocket[] = [];
    const server = tls.createServer(
      { cert: fs.readFileSync(CERT), key: fs.readFileSync(KEY), ALPNProtocols: ["wirescope-test"] },
      (socket) => {
        sockets.push(socket);
        socket.on("data", (chunk: Buffer) => {
          received.push(chunk.toString());
          socket.write("PONG over TLS\r\n");
        });
        socket.on("error", () => {});
      },
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    defer(() => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(resolve));
    });
    const port = (server.address() as { port: number }).port;
    ok(await t.api.createProtocol({ path: "tls-client.ts", template: "tls-client" }));
    ok(
      await t.api.saveProtocol({
        path: "test-ca-client.ts",
        content: `import { TlsClient } from "./tls-client.ts";
/** The template, trusting the test CA and offering an ALPN protocol. */
export default class TestCAClient extends TlsClient {
  override ca = ${JSON.stringify(fs.readFileSync(TEST_CA, "utf8"))};
  override alpn = ["wirescope-test"];
}
`,
      }),
    );
    const session = ok(await t.api.connect({ target: { host: "127.0.0.1", port }, protocol: "test-ca-client.ts" })).id;
    const events = await waitForTimeline(
      t.api,
      session,
      (e) => logsOn(e, 1).some((line) => line.startsWith("line PONG")),
      "the server's answer, over TLS",
    );
    expect(received).toEqual(["PING\r\n"]);
    expect(logsOn(events, 1)).toEqual([
      expect.stringMatching(/^TLS TLSv1\.3 \S+, ALPN wirescope-test, SNI localhost$/),
      expect.stringMatching(/^server certificate localhost, issued by .+, valid until /),
      "line PONG over TLS",
    ]);
    // The timeline shows the plaintext; the handshake is a tls event before it.
    expect(bytesOf(events, 1, "out").toString()).toBe("PING\r\n");
    expect(indexOf(events, tlsEventOn(1))).toBeLessThan(indexOf(events, logOn(1, "line PONG")));
    const all = await timeline(t.api, session);
    expect(all.filter((e) => e.kind === "lifecycle" && e.event === "tls-failed")).toEqual([]);
  });
});
