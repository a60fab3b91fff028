/**
 * TLS listeners, driven through the contract with real TLS peers on 127.0.0.1: node:tls clients and `openssl
 * s_client`, asking for a name (SNI) or for the bare address; the user's own certificate or Wirescope's CA. The
 * timeline shows plaintext and one "tls" event; what goes wrong (a client that does not trust the CA, plain text,
 * a client that never says hello) is a "tls-failed" event with the fix, and the other connections go on.
 */
import { generateKeyPairSync } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as tls from "node:tls";
import { afterAll, describe, expect, it } from "vitest";
import { bytesOf, ok, startEngine, timeline, useEngine, waitForTimeline } from "../helpers/engine.ts";
import { readText, sClient, TEST_TLS, tlsClient, tlsDetailsOf, tlsFailureOf } from "../helpers/tls.ts";

const configDir = fs.mkdtempSync(path.join(os.tmpdir(), "wirescope-tls-config-"));
afterAll(() => fs.rmSync(configDir, { recursive: true, force: true }));
const HANDSHAKE_TIMEOUT_MS = 1500;
const { t, defer } = useEngine({ configDir, tlsHandshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS });

/** A TLS listener on a free port of 127.0.0.1 (raw bytes); its session id and port. */
async function tlsListener(tls: { certFile?: string; keyFile?: string } = {}): Promise<{ id: string; port: number }> {
  const s = ok(await t.api.listen({ target: { port: 0 }, tls }));
  return { id: s.id, port: Number(s.listeningOn!.split(":").pop()) };
}

describe("TLS listeners", () => {
  it("serves a node:tls client with the user's certificate: one tls event, plaintext both ways", async () => {
    const { id, port } = await tlsListener({ certFile: TEST_TLS.certFile, keyFile: TEST_TLS.keyFile });
    const client = await tlsClient(port, { servername: "localhost", ca: TEST_TLS.ca, ALPNProtocols: ["x-test"] });
    defer(() => client.destroy());
    client.write("hello over TLS");
    let events = await waitForTimeline(t.api, id, (e) => bytesOf(e, 1, "in").length === 14, "the plaintext");
    expect(bytesOf(events, 1, "in").toString()).toBe("hello over TLS");
    ok(await t.api.send({ session: id, conn: 1, data: "and back", encoding: "text" }));
    expect(await readText(client, 8)).toBe("and back");
    events = await timeline(t.api, id);
    const details = tlsDetailsOf(events, 1);
    expect(details).toMatchObject({
      side: "server",
      version: client.getProtocol(),
      cipher: client.getCipher().name,
      sni: "localhost",
      alpn: null,
      peerCertificate: null,
      localCertificate: { subject: "CN=localhost", subjectAltName: expect.stringContaining("DNS:localhost") },
      verified: true,
    });
    expect(details!.localCertificate!.fingerprint256).toBe(client.getPeerCertificate().fingerprint256);
    // The handshake's bytes are not data: the timeline holds only what the two sides said.
    expect(bytesOf(events, 1, "out").toString()).toBe("and back");
    const [session] = ok(await t.api.listSessions({}));
    expect(session!.tls).toEqual({ mode: "terminate", certificate: "own", certFile: TEST_TLS.certFile });
    expect(session!.connections[0]!.tls).toEqual(details);
  });

  it("gives a certificate from Wirescope's CA for the name asked, and for the bare address", async () => {
    const { id, port } = await tlsListener();
    const ca = (await t.engine.ca()).certPem;
    const named = await tlsClient(port, { servername: "db.example.test", ca });
    defer(() => named.destroy());
    expect(named.authorized).toBe(true);
    expect(named.getPeerCertificate().subjectaltname).toContain("DNS:db.example.test");
    const bare = await tlsClient(port, { ca });
    defer(() => bare.destroy());
    expect(bare.authorized).toBe(true);
    const events = await waitForTimeline(t.api, id, (e) => tlsDetailsOf(e, 2) !== undefined, "both handshakes");
    expect(tlsDetailsOf(events, 1)).toMatchObject({ sni: "db.example.test", verified: true });
    expect(tlsDetailsOf(events, 2)).toMatchObject({
      sni: null,
      localCertificate: { subjectAltName: expect.stringContaining("IP Address:127.0.0.1") },
    });
  });

  it("is verified by openssl s_client against the exported CA, with SNI and without", async () => {
    const { id, port } = await tlsListener();
    const caFile = (await t.engine.ca()).certPath;
    const checks = [
      [1, ["-servername", "localhost", "-verify_hostname", "localhost"]],
      [2, ["-noservername", "-verify_ip", "127.0.0.1"]],
    ] as const;
    for (const [conn, extra] of checks) {
      const run = sClient(port, ["-CAfile", caFile, "-verify_return_error", ...extra], "ping\n");
      await waitForTimeline(
        t.api,
        id,
        (e) => bytesOf(e, conn, "in").toString() === "ping\n",
        `s_client ${conn}'s line`,
      );
      ok(await t.api.closeConnection({ session: id, conn }));
      const { stdout } = await run;
      expect(stdout).toContain("Verify return code: 0 (ok)");
    }
    const events = await timeline(t.api, id);
    expect(tlsDetailsOf(events, 1)).toMatchObject({ sni: "localhost", verified: true });
    expect(tlsDetailsOf(events, 2)).toMatchObject({ sni: null });
  });

  it("tells a client that rejects Wirescope's CA to trust it, and the other connections go on", async () => {
    const { id, port } = await tlsListener();
    const caPath = (await t.engine.ca()).certPath;
    const run = await sClient(
      port,
      ["-servername", "localhost", "-CAfile", TEST_TLS.caFile, "-verify_return_error"],
      "",
    );
    expect(run.code).not.toBe(0);
    const events = await waitForTimeline(t.api, id, (e) => tlsFailureOf(e, 1) !== undefined, "the failure");
    expect(tlsFailureOf(events, 1)).toMatchObject({
      side: "server",
      code: "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA",
      hint: `the client does not trust Wirescope's CA: trust ${caPath} in it (Settings > Certificate authority)`,
    });
    const lost = events.find((e) => e.kind === "lifecycle" && e.conn === 1 && e.event === "lost");
    expect(lost && lost.kind === "lifecycle" && lost.detail).toMatch(/^SSLError/);
    const next = await tlsClient(port, { ca: (await t.engine.ca()).certPem, servername: "localhost" });
    defer(() => next.destroy());
    expect(next.authorized).toBe(true);
  });

  it("tells a node:tls client's silent rejection when it closes, with the same fix, not at the timeout", async () => {
    // An engine of its own with a handshake timeout far away: the failure must come from the client's close.
    const own = await startEngine({ configDir, tlsHandshakeTimeoutMs: 120_000 });
    defer(() => own.close());
    const s = ok(await own.api.listen({ target: { port: 0 }, tls: {} }));
    const port = Number(s.listeningOn!.split(":").pop());
    const caPath = (await own.engine.ca()).certPath;
    // Node's client checks the certificate after the handshake's messages and just closes: no alert.
    const rejected = await new Promise<Error>((resolve) => {
      const c = tls.connect({ host: "127.0.0.1", port, servername: "localhost" });
      c.on("error", resolve);
      c.on("secureConnect", () => resolve(new Error("the client trusted Wirescope's CA")));
    });
    expect(rejected.message).toMatch(/unable to verify/);
    const events = await waitForTimeline(own.api, s.id, (e) => tlsFailureOf(e, 1) !== undefined, "the failure");
    expect(tlsFailureOf(events, 1)).toEqual({
      side: "server",
      code: "closed",
      message: "the client closed the connection during the TLS handshake",
      hint:
        "a client that closes without an alert has usually rejected the certificate: " +
        `trust ${caPath} in it (Settings > Certificate authority)`,
    });
  });

  it("never shows as sent what a protocol wrote before a handshake that then failed", async () => {
    ok(
      await t.api.saveProtocol({
        path: "greeter.ts",
        content: `import { Protocol } from "wirescope";
export default class Greeter extends Protocol {
  override connectionMade(): void {
    this.transport.write(Buffer.from("220 ready\\r\\n"));
  }
}
`,
      }),
    );
    const s = ok(await t.api.listen({ target: { port: 0 }, protocol: "greeter.ts", tls: {} }));
    const port = Number(s.listeningOn!.split(":").pop());
    const run = await sClient(
      port,
      ["-servername", "localhost", "-CAfile", TEST_TLS.caFile, "-verify_return_error"],
      "",
    );
    expect(run.code).not.toBe(0);
    const events = await waitForTimeline(t.api, s.id, (e) => tlsFailureOf(e, 1) !== undefined, "the failure");
    expect(bytesOf(events, 1, "out")).toHaveLength(0);
    const [session] = ok(await t.api.listSessions({}));
    expect(session!.connections[0]!.bytesOut).toBe(0);
  });

  it("says so when a client speaks plain text instead of TLS", async () => {
    const { id, port } = await tlsListener();
    const plain = net.connect({ host: "127.0.0.1", port });
    plain.on("error", () => {}); // the engine resets it
    defer(() => plain.destroy());
    const closed = new Promise<void>((resolve) => plain.once("close", () => resolve()));
    plain.write("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    const events = await waitForTimeline(t.api, id, (e) => tlsFailureOf(e, 1) !== undefined, "the failure");
    expect(tlsFailureOf(events, 1)).toMatchObject({
      side: "server",
      code: "not-tls",
      message: "the client sent 'GET / HTTP/1.1': it speaks plain text, not TLS",
    });
    // Nothing of it is recorded as data: it was never the connection's plaintext.
    expect(bytesOf(events, 1, "in")).toHaveLength(0);
    await closed;
  });

  it("gives up on a client that never sends its ClientHello, after the handshake timeout", async () => {
    const { id, port } = await tlsListener();
    const silent = net.connect({ host: "127.0.0.1", port });
    silent.on("error", () => {}); // the engine resets it
    defer(() => silent.destroy());
    const closed = new Promise<void>((resolve) => silent.once("close", () => resolve()));
    const started = Date.now();
    const events = await waitForTimeline(t.api, id, (e) => tlsFailureOf(e, 1) !== undefined, "the timeout");
    expect(tlsFailureOf(events, 1)).toMatchObject({ side: "server", code: "timeout" });
    await closed;
    expect(Date.now() - started).toBeGreaterThanOrEqual(HANDSHAKE_TIMEOUT_MS - 50);
    const session = ok(await t.api.listSessions({}))[0]!;
    expect(session.state).toBe("listening");
    expect(session.connections[0]).toMatchObject({
      state: "closed",
      reason: expect.stringMatching(/^SSLError: .*the TLS handshake did not complete/),
    });
  });

  it("exports each connection's TLS secrets as an SSLKEYLOGFILE, the client's own", async () => {
    const { id, port } = await tlsListener({ certFile: TEST_TLS.certFile, keyFile: TEST_TLS.keyFile });
    const clientKeys: string[] = [];
    for (let i = 0; i < 2; i++) {
      const client = tls.connect({ host: "127.0.0.1", port, servername: "localhost", ca: TEST_TLS.ca });
      defer(() => client.destroy());
      client.on("keylog", (line: Buffer) => clientKeys.push(line.toString()));
      await new Promise((resolve) => client.once("secureConnect", resolve));
      client.write("x");
    }
    const keyed = async () =>
      ok(await t.api.listSessions({}))[0]!.connections.filter((c) => (c.tlsKeys ?? 0) >= 5).length === 2;
    for (let tries = 0; !(await keyed()); tries++) {
      expect(tries).toBeLessThan(200);
      await new Promise((r) => setTimeout(r, 20));
    }
    const one = ok(await t.api.exportTLSKeys({ session: id, conn: 1 }));
    const all = ok(await t.api.exportTLSKeys({ session: id }));
    expect(one.connections).toBe(1);
    expect(all).toMatchObject({ connections: 2, lines: clientKeys.length });
    expect(new Set(all.text.split(/(?<=\n)/))).toEqual(new Set(clientKeys));
    expect(all.text.startsWith(one.text) || all.text.endsWith(one.text)).toBe(true);
  });

  it("refuses a key file that holds no key, and a certificate that is not the key's, naming the field", async () => {
    const notAKey = await t.api.listen({
      target: { port: 0 },
      tls: { certFile: TEST_TLS.certFile, keyFile: TEST_TLS.certFile },
    });
    expect(!notAKey.ok && notAKey.error).toMatchObject({
      code: "bad-certificate",
      category: "bad-input",
      message: `${TEST_TLS.certFile} is not a private key: give the PEM file with the certificate's key ("-----BEGIN PRIVATE KEY-----")`,
      issues: [{ path: "tls.keyFile" }],
    });
    const encryptedKey = path.join(configDir, "encrypted.key");
    fs.writeFileSync(
      encryptedKey,
      generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({
        type: "pkcs8",
        format: "pem",
        cipher: "aes-256-cbc",
        passphrase: "secret",
      }),
    );
    const encrypted = await t.api.listen({
      target: { port: 0 },
      tls: { certFile: TEST_TLS.certFile, keyFile: encryptedKey },
    });
    expect(!encrypted.ok && encrypted.error).toMatchObject({
      code: "bad-certificate",
      message: expect.stringContaining(`${encryptedKey} is encrypted with a passphrase`),
      issues: [{ path: "tls.keyFile" }],
    });
    const otherKey = path.join(configDir, "other.key");
    fs.writeFileSync(
      otherKey,
      generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" }),
    );
    const mismatch = await t.api.listen({
      target: { port: 0 },
      tls: { certFile: TEST_TLS.certFile, keyFile: otherKey },
    });
    expect(!mismatch.ok && mismatch.error).toMatchObject({
      code: "bad-certificate",
      message: expect.stringContaining(`${TEST_TLS.certFile} does not match the key in ${otherKey}`),
      issues: [{ path: "tls.certFile" }],
    });
    const missing = await t.api.proxy({
      listen: { port: 0 },
      upstream: { host: "127.0.0.1", port: 1 },
      tls: { mode: "terminate", certFile: path.join(configDir, "none.pem"), keyFile: TEST_TLS.keyFile },
    });
    expect(!missing.ok && missing.error).toMatchObject({ code: "bad-certificate", issues: [{ path: "tls.certFile" }] });
    // Nothing was left listening.
    expect(ok(await t.api.listSessions({}))).toEqual([]);
  });
});
