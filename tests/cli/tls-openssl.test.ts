/**
 * `wirescope listen --tls` and `wirescope proxy --tls` with OpenSSL's own client and server as the peers: the
 * client verifies Wirescope's certificate against the CA `wirescope ca` names (by the name it asks for, and by bare
 * 127.0.0.1), the proxy verifies the upstream's against the CA the user trusts (NODE_EXTRA_CA_CERTS), what is typed
 * on one side arrives on the other, and the timeline and the capture show it in plaintext with a `tls` line per leg.
 * `--keylog` writes the very secrets OpenSSL's own key log holds.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import type { TLSDetails } from "../../preload/contract.ts";
import type { TimelineEvent } from "../../preload/timeline.ts";
import { freePort, waitFor } from "../helpers/net.ts";
import { capturePath, jsonLines, readCapture, startCli, useWorkspace } from "./cli-process.ts";
import {
  PEER_TEST_TIMEOUT_MS,
  keylogLines,
  startSClient,
  startSServer,
  usePeers,
  useTestPKI,
  wirescopeCA,
} from "./tls-peers.ts";

const ws = useWorkspace();
usePeers();
const pki = useTestPKI();

/** What went `dir` on connection `conn`, as text. */
function text(events: TimelineEvent[], conn: number, dir: "in" | "out"): string {
  return events
    .flatMap((e) => (e.kind === "data" && e.conn === conn && e.dir === dir ? [Buffer.from(e.data).toString()] : []))
    .join("");
}

/** The fields of connection `conn`'s `tls` event. */
function tlsOf(events: TimelineEvent[], conn: number): TLSDetails | undefined {
  const e = events.find((x) => x.kind === "lifecycle" && x.event === "tls" && x.conn === conn);
  return e?.kind === "lifecycle" ? (e.fields as TLSDetails | undefined) : undefined;
}

/** s_client's options to verify the server's certificate against `ca`, failing the handshake if it doesn't. */
function verifying(ca: string, ...how: string[]): string[] {
  return ["-CAfile", ca, "-verify_return_error", "-brief", ...how];
}

const BY_NAME = ["-servername", "localhost", "-verify_hostname", "localhost"];
const BY_IP = ["-noservername", "-verify_ip", "127.0.0.1"];

describe("wirescope listen --tls", { timeout: PEER_TEST_TIMEOUT_MS }, () => {
  it("is verified by openssl s_client by name and by bare 127.0.0.1, and shows what it types in plaintext", async () => {
    const ca = await wirescopeCA(ws.path);
    const cli = startCli(["listen", "0", "--tls", "--protocol", "template:echo"], { workspace: ws.path });
    const [, port] = await cli.waitForOutput(/^listening on 127\.0\.0\.1:(\d+)\n/);
    const note = `tls: clients get certificates from Wirescope's CA: trust ${ca}\n`;
    await waitFor(() => cli.stderr.includes(note), "the CLI to say where the CA is");

    const byName = startSClient(Number(port), verifying(ca, ...BY_NAME));
    await byName.waitFor(/Verification: OK/);
    byName.type("hello by name\n");
    await byName.waitFor(/^hello by name$/m); // the echo came back through TLS
    await cli.waitForOutput(/#1 tls TLSv1\.3 \S+ sni=localhost alpn=- cert=CN=localhost/);
    await cli.waitForOutput(/#1 <- 14 B {2}hello by name\\n/);
    byName.child.stdin!.end();
    expect(await byName.exited()).toBe(0);

    const byIP = startSClient(Number(port), verifying(ca, ...BY_IP));
    await byIP.waitFor(/Verification: OK/);
    byIP.type("hello by address\n");
    await byIP.waitFor(/^hello by address$/m);
    await cli.waitForOutput(/#2 tls TLSv1\.3 \S+ sni=- alpn=- cert=/);
    byIP.child.stdin!.end();
    expect(await byIP.exited()).toBe(0);

    const r = await cli.stop("SIGINT");
    expect(r.code, r.stderr).toBe(0);
    const events = await readCapture(capturePath(r.stderr));
    expect(text(events, 1, "in")).toBe("hello by name\n");
    expect(text(events, 1, "out")).toBe("hello by name\n");
    expect(text(events, 2, "in")).toBe("hello by address\n");
    expect(tlsOf(events, 1)).toMatchObject({ side: "server", sni: "localhost", version: "TLSv1.3" });
    expect(tlsOf(events, 2)).toMatchObject({ side: "server", sni: null });
    expect(tlsOf(events, 2)?.localCertificate?.subjectAltName).toMatch(/IP Address:127\.0\.0\.1/);
  });

  it("appends each connection's secrets to --keylog (mode 0600) as they come: the lines OpenSSL's own log holds", async () => {
    const ca = await wirescopeCA(ws.path);
    const keylog = path.join(ws.path, "keys.log");
    const theirs = path.join(ws.path, "openssl-keys.log");
    const cli = startCli(["listen", "0", "--tls", "--keylog", keylog], { workspace: ws.path });
    const [, port] = await cli.waitForOutput(/^listening on 127\.0\.0\.1:(\d+)\n/);
    const client = startSClient(Number(port), [...verifying(ca, ...BY_NAME), "-keylogfile", theirs]);
    await client.waitFor(/Verification: OK/);
    client.type("secret\n");
    await cli.waitForOutput(/#1 <- 7 B {2}secret\\n/);
    // Written while the listener still runs, not only at its end.
    const deadline = Date.now() + 10_000;
    while (keylogLines(fs.existsSync(keylog) ? fs.readFileSync(keylog, "utf8") : "").length < 5) {
      if (Date.now() > deadline) throw new Error(`no key log lines in ${keylog}; stdout: ${cli.stdout}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    client.child.stdin!.end();
    await client.exited();
    const r = await cli.stop("SIGINT");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`^keylog: ${keylog} \\(5 lines\\)$`, "m"));
    expect(fs.statSync(keylog).mode & 0o777).toBe(0o600);
    const ours = keylogLines(fs.readFileSync(keylog, "utf8"));
    expect(ours).toEqual(keylogLines(fs.readFileSync(theirs, "utf8")));
    expect(ours.map((line) => line.split(" ")[0])).toEqual([
      "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
      "CLIENT_TRAFFIC_SECRET_0",
      "EXPORTER_SECRET",
      "SERVER_HANDSHAKE_TRAFFIC_SECRET",
      "SERVER_TRAFFIC_SECRET_0",
    ]);
  });
});

describe("wirescope proxy --tls", { timeout: PEER_TEST_TIMEOUT_MS }, () => {
  it("gives a script a STARTTLS proxy's settings on its first JSON line", async () => {
    const upstream = await freePort(); // nothing connects: the settings are what is checked
    const cli = startCli(["proxy", "0", `127.0.0.1:${upstream}`, "--starttls", "--insecure-upstream", "--json"], {
      workspace: ws.path,
    });
    await cli.waitForOutput(/"kind":"listening"/);
    const r = await cli.stop("SIGINT");
    expect(r.code, r.stderr).toBe(0);
    expect(jsonLines(r.stdout)[0]).toMatchObject({
      kind: "listening",
      tls: { mode: "starttls", certificate: "wirescope-ca", insecureUpstream: true },
    });
  });

  it("carries s_client's bytes to s_server and back, both verified, both legs in plaintext", async () => {
    const ca = await wirescopeCA(ws.path);
    const server = await startSServer(pki.good);
    const cli = startCli(["proxy", "0", `127.0.0.1:${server.port}`, "--tls"], {
      workspace: ws.path,
      env: { NODE_EXTRA_CA_CERTS: pki.ca },
    });
    const [, port] = await cli.waitForOutput(/^listening on 127\.0\.0\.1:(\d+)\n/);

    const byName = startSClient(Number(port), verifying(ca, ...BY_NAME));
    await byName.waitFor(/Verification: OK/);
    byName.type("ping from client\n");
    await server.waitFor(/^ping from client$/m);
    server.type("pong from server\n");
    await byName.waitFor(/^pong from server$/m);
    await cli.waitForOutput(/#1 tls TLSv1\.3 \S+ sni=localhost alpn=- cert=CN=localhost/);
    await cli.waitForOutput(/#2 tls TLSv1\.3 \S+ sni=localhost alpn=- peer=CN=localhost verified/);
    byName.child.stdin!.end();
    await byName.exited();

    // Bare 127.0.0.1 on both sides: no SNI to pass on, the upstream verified by its IP address.
    const byIP = startSClient(Number(port), verifying(ca, ...BY_IP));
    await byIP.waitFor(/Verification: OK/);
    byIP.type("second client\n");
    await server.waitFor(/^second client$/m);
    await cli.waitForOutput(/#4 tls TLSv1\.3 \S+ sni=- alpn=- peer=CN=localhost verified/);
    byIP.child.stdin!.end();
    await byIP.exited();

    const r = await cli.stop("SIGINT");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/#1 <- 17 B {2}ping from client\\n/);
    expect(r.stdout).toMatch(/#2 -> 17 B {2}ping from client\\n/);
    expect(r.stdout).toMatch(/#2 <- 17 B {2}pong from server\\n/);
    expect(r.stdout).toMatch(/#1 -> 17 B {2}pong from server\\n/);
    const events = await readCapture(capturePath(r.stderr));
    expect(text(events, 2, "out")).toBe("ping from client\n");
    expect(text(events, 1, "out")).toBe("pong from server\n");
    expect(text(events, 4, "out")).toBe("second client\n");
    expect(tlsOf(events, 2)).toMatchObject({ side: "client", sni: "localhost", verified: true });
    expect(tlsOf(events, 4)).toMatchObject({ side: "client", sni: null, verified: true });
  });
});
