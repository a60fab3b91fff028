/**
 * What a user sees when TLS goes wrong, with real peers: a client that does not trust Wirescope's CA, bytes that are
 * not a ClientHello, an upstream whose certificate has expired or names another host, and certificate or key files
 * that are not what they should be. Each gives a clear line (on the timeline, or on stderr for the files) naming
 * the likely fix, and the listener goes on serving the next client.
 */
import * as net from "node:net";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { runCli, startCli, useWorkspace } from "./cli-process.ts";
import { PEER_TEST_TIMEOUT_MS, startSClient, startSServer, usePeers, useTestPKI, wirescopeCA } from "./tls-peers.ts";

const ws = useWorkspace();
usePeers();
const pki = useTestPKI();

/** A plain-text client: sends `text`, resolves once the other side has closed; fails if it hasn't within 10 s. */
function plainClient(port: number, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port }, () => socket.write(text));
    let timedOut = false;
    socket.setTimeout(10_000, () => {
      timedOut = true;
      socket.destroy();
    });
    socket.on("error", () => {}); // a reset counts as closed
    socket.on("close", () => (timedOut ? reject(new Error("the listener did not close within 10 s")) : resolve()));
  });
}

describe("TLS that goes wrong, through the CLI", { timeout: PEER_TEST_TIMEOUT_MS }, () => {
  it("says a client rejected Wirescope's CA and where the CA is, says a plain-text client is not TLS, serves the next", async () => {
    const ca = await wirescopeCA(ws.path);
    const cli = startCli(["listen", "0", "--tls", "--protocol", "template:echo"], { workspace: ws.path });
    const [, port] = await cli.waitForOutput(/^listening on 127\.0\.0\.1:(\d+)\n/);

    // Trusts another CA only, and gives up on a certificate it can't verify.
    const distrustful = startSClient(Number(port), [
      "-CAfile",
      pki.ca,
      "-verify_return_error",
      "-servername",
      "localhost",
    ]);
    expect(await distrustful.exited()).not.toBe(0);
    expect(distrustful.stderr).toMatch(/verify error/);
    const [rejected] = await cli.waitForOutput(/^.* #1 tls-failed server .*$/m);
    expect(rejected).toMatch(/does not trust Wirescope's CA/);
    expect(rejected).toContain(ca);

    await plainClient(Number(port), "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    const [plain] = await cli.waitForOutput(/^.* #2 tls-failed server .*$/m);
    expect(plain).toMatch(/'GET \/ HTTP\/1\.1'.*plain text, not TLS/);

    const next = startSClient(Number(port), ["-CAfile", ca, "-verify_return_error", "-servername", "localhost"]);
    next.type("still serving\n");
    await next.waitFor(/^still serving$/m);
    next.child.stdin!.end();
    expect(await next.exited()).toBe(0);
    await cli.waitForOutput(/#3 <- 14 B {2}still serving\\n/);
    expect((await cli.stop("SIGINT")).code).toBe(0);
  });

  it("says an upstream's certificate has expired and how to skip the check; with --insecure-upstream it goes through", async () => {
    const ca = await wirescopeCA(ws.path);
    const server = await startSServer(pki.expired);
    const env = { NODE_EXTRA_CA_CERTS: pki.ca };
    const cli = startCli(["proxy", "0", `127.0.0.1:${server.port}`, "--tls"], { workspace: ws.path, env });
    const [, port] = await cli.waitForOutput(/^listening on 127\.0\.0\.1:(\d+)\n/);
    for (const conn of [2, 4]) {
      // The client leg is closed once the upstream's handshake fails; the next client is accepted all the same.
      const client = startSClient(Number(port), ["-CAfile", ca, "-servername", "localhost"]);
      expect(await client.exited()).not.toBe(0);
      const [failed] = await cli.waitForOutput(new RegExp(`^.* #${conn} tls-failed client .*$`, "m"));
      expect(failed).toMatch(/CERT_HAS_EXPIRED.*expired.*--insecure-upstream/);
      await cli.waitForOutput(new RegExp(`#${conn - 1} (lost|tls-failed) .*`));
    }
    expect((await cli.stop("SIGINT")).code).toBe(0);

    const insecure = startCli(["proxy", "0", `127.0.0.1:${server.port}`, "--tls", "--insecure-upstream"], {
      workspace: ws.path,
      env,
    });
    const [, insecurePort] = await insecure.waitForOutput(/^listening on 127\.0\.0\.1:(\d+)\n/);
    const client = startSClient(Number(insecurePort), [
      "-CAfile",
      ca,
      "-verify_return_error",
      "-servername",
      "localhost",
    ]);
    client.type("through anyway\n");
    await server.waitFor(/^through anyway$/m);
    await insecure.waitForOutput(
      /#2 tls TLSv1\.3 \S+ sni=localhost alpn=- peer=CN=localhost unverified \(.*expired.*\)/,
    );
    client.child.stdin!.end();
    await client.exited();
    expect((await insecure.stop("SIGINT")).code).toBe(0);
  });

  it("says an upstream's certificate is for another name", async () => {
    const ca = await wirescopeCA(ws.path);
    const server = await startSServer(pki.wrongName);
    const cli = startCli(["proxy", "0", `127.0.0.1:${server.port}`, "--tls"], {
      workspace: ws.path,
      env: { NODE_EXTRA_CA_CERTS: pki.ca },
    });
    const [, port] = await cli.waitForOutput(/^listening on 127\.0\.0\.1:(\d+)\n/);
    const client = startSClient(Number(port), ["-CAfile", ca, "-servername", "localhost"]);
    expect(await client.exited()).not.toBe(0);
    const [failed] = await cli.waitForOutput(/^.* #2 tls-failed client .*$/m);
    expect(failed).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID.*localhost.*wrong\.example/);
    expect((await cli.stop("SIGINT")).code).toBe(0);
  });

  it("refuses a --keylog file it can't write before it listens", async () => {
    const nowhere = path.join(ws.path, "no-such-folder", "keys.log");
    const r = await runCli(["listen", "0", "--tls", "--keylog", nowhere], { workspace: ws.path });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`wirescope: listen: --keylog ${nowhere}: ENOENT`);
    expect(r.stdout).not.toMatch(/listening on/);
  });

  it("refuses a key file that is not a key, swapped files, and a key of another certificate, naming the file", async () => {
    const listen = (cert: string, key: string) =>
      runCli(["listen", "0", "--tls", "--cert", cert, "--key", key], { workspace: ws.path });
    const notAKey = await listen(pki.good.cert, pki.notAKey);
    expect(notAKey.code, notAKey.stderr).toBe(3);
    expect(notAKey.stderr).toContain(pki.notAKey);
    expect(notAKey.stdout).not.toMatch(/listening on/);

    const swapped = await listen(pki.good.key, pki.good.cert);
    expect(swapped.code, swapped.stderr).toBe(3);
    expect(swapped.stderr).toMatch(new RegExp(`${pki.good.key}|${pki.good.cert}`));

    const mismatched = await listen(pki.good.cert, pki.expired.key);
    expect(mismatched.code, mismatched.stderr).toBe(3);
    expect(mismatched.stderr).toMatch(/does not match/);
  });
});
