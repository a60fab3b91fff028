/**
 * TLS-terminating proxies, driven through the contract, between node:tls clients and node:tls upstreams on
 * 127.0.0.1: the client's SNI and ALPN list reach the upstream, the upstream's ALPN choice reaches the client, both
 * legs are recorded as plaintext with a "tls" event each. Upstreams whose certificate expired or names another host
 * fail with the fix on both legs' timelines, or go through unverified (and say why) with insecureUpstream.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as tls from "node:tls";
import { afterAll, describe, expect, it } from "vitest";
import { waitFor } from "../helpers/net.ts";
import type { ProxyTLS } from "../../preload/contract.ts";
import { bytesOf, ok, timeline, useEngine, waitForTimeline } from "../helpers/engine.ts";
import {
  makeTestPKI,
  readText,
  sClient,
  tlsClient,
  tlsDetailsOf,
  tlsFailureOf,
  upperCaseTLSServer,
} from "../helpers/tls.ts";

const pki = makeTestPKI();
const configDir = fs.mkdtempSync(path.join(os.tmpdir(), "wirescope-tls-config-"));
afterAll(() => {
  fs.rmSync(configDir, { recursive: true, force: true });
  fs.rmSync(pki.dir, { recursive: true, force: true });
});
const { t, defer } = useEngine({ configDir, trustedCAs: pki.ca, tlsHandshakeTimeoutMs: 2000 });

/** A terminating proxy to a node:tls upstream with `identity`; the session id, the proxy's port, the upstream. */
async function proxyTo(identity: { cert: string; key: string }, tls: Partial<ProxyTLS> = {}, host = "localhost") {
  const upstream = await upperCaseTLSServer(identity);
  defer(() => upstream.close());
  const s = ok(
    await t.api.proxy({
      listen: { port: 0 },
      upstream: { endpoint: `ssl:host=${host}:port=${upstream.port}` },
      tls: { mode: "terminate", ...tls },
    }),
  );
  return { id: s.id, port: Number(s.listeningOn!.split(":").pop()), upstream };
}

describe("TLS-terminating proxies", () => {
  it("passes SNI and ALPN through, records both legs as plaintext, and verifies the upstream", async () => {
    const { id, port, upstream } = await proxyTo(pki.good);
    const ca = (await t.engine.ca()).certPem;
    const client = await tlsClient(port, { servername: "localhost", ca, ALPNProtocols: ["h2", "http/1.1"] });
    defer(() => client.destroy());
    expect(client.authorized).toBe(true);
    expect(client.alpnProtocol).toBe("http/1.1");
    expect(upstream.seen).toEqual([{ servername: "localhost", alpn: ["h2", "http/1.1"] }]);
    client.write("ping");
    expect(await readText(client, 4)).toBe("PING");
    const events = await waitForTimeline(t.api, id, (e) => bytesOf(e, 1, "out").length === 4, "the answer");
    expect(bytesOf(events, 1, "in").toString()).toBe("ping");
    expect(bytesOf(events, 2, "out").toString()).toBe("ping");
    expect(bytesOf(events, 2, "in").toString()).toBe("PING");
    expect(bytesOf(events, 1, "out").toString()).toBe("PING");
    expect(tlsDetailsOf(events, 1)).toMatchObject({
      side: "server",
      sni: "localhost",
      alpn: "http/1.1",
      verified: true,
    });
    expect(tlsDetailsOf(events, 2)).toMatchObject({
      side: "client",
      sni: "localhost",
      alpn: "http/1.1",
      verified: true,
      peerCertificate: { subject: "CN=localhost", issuer: "CN=Wirescope test CA" },
    });
    const [session] = ok(await t.api.listSessions({}));
    expect(session!.tls).toEqual({ mode: "terminate", certificate: "wirescope-ca" });
  });

  it("asks a named upstream for its own name, whatever name the client used for Wirescope", async () => {
    const { id, port, upstream } = await proxyTo(pki.good);
    const ca = (await t.engine.ca()).certPem;
    const client = await tlsClient(port, { servername: "wirescope.test", ca, ALPNProtocols: ["http/1.1"] });
    defer(() => client.destroy());
    expect(client.authorized).toBe(true);
    expect(client.getPeerCertificate().subject.CN).toBe("wirescope.test");
    expect(upstream.seen).toEqual([{ servername: "localhost", alpn: ["http/1.1"] }]);
    const events = await waitForTimeline(t.api, id, (e) => tlsDetailsOf(e, 2) !== undefined, "the upstream's tls");
    expect(tlsDetailsOf(events, 2)).toMatchObject({ sni: "localhost", verified: true });
  });

  it("passes the client's name on to an upstream given by address", async () => {
    const { port, upstream } = await proxyTo(pki.good, {}, "127.0.0.1");
    const ca = (await t.engine.ca()).certPem;
    const client = await tlsClient(port, { servername: "localhost", ca, ALPNProtocols: ["http/1.1"] });
    defer(() => client.destroy());
    expect(client.authorized).toBe(true);
    expect(upstream.seen).toEqual([{ servername: "localhost", alpn: ["http/1.1"] }]);
  });

  it("refuses an upstream whose certificate expired, saying so on both legs", async () => {
    const { id, port } = await proxyTo(pki.expired);
    const ca = (await t.engine.ca()).certPem;
    await expect(tlsClient(port, { servername: "localhost", ca })).rejects.toThrow();
    const events = await waitForTimeline(t.api, id, (e) => tlsFailureOf(e, 1) !== undefined, "the failures");
    expect(tlsFailureOf(events, 2)).toMatchObject({
      side: "client",
      code: "CERT_HAS_EXPIRED",
      hint: expect.stringContaining("--insecure-upstream"),
    });
    expect(tlsFailureOf(events, 1)).toMatchObject({
      side: "server",
      code: "CERT_HAS_EXPIRED",
      message: expect.stringMatching(/^the upstream's TLS handshake failed: certificate expired/),
    });
  });

  it("refuses an upstream whose certificate names another host", async () => {
    const { id, port } = await proxyTo(pki.wrongName);
    const ca = (await t.engine.ca()).certPem;
    await expect(tlsClient(port, { servername: "localhost", ca })).rejects.toThrow();
    const events = await waitForTimeline(t.api, id, (e) => tlsFailureOf(e, 1) !== undefined, "the failures");
    expect(tlsFailureOf(events, 2)).toMatchObject({
      code: "ERR_TLS_CERT_ALTNAME_INVALID",
      hint: expect.stringContaining("connect by a name it covers"),
    });
  });

  it("goes through to an expired or wrong-name upstream with insecureUpstream, and says why it is not verified", async () => {
    for (const [identity, why] of [
      [pki.expired, /certificate expired/],
      [pki.wrongName, /hostname mismatch/],
    ] as const) {
      const { id, port } = await proxyTo(identity, { insecureUpstream: true });
      const client = await tlsClient(port, { servername: "localhost", ca: (await t.engine.ca()).certPem });
      defer(() => client.destroy());
      client.write("hi");
      expect(await readText(client, 2)).toBe("HI");
      const events = await timeline(t.api, id);
      expect(tlsDetailsOf(events, 2)).toMatchObject({ verified: false, verifyError: expect.stringMatching(why) });
      const session = ok(await t.api.listSessions({})).find((s) => s.id === id)!;
      expect(session.tls).toEqual({ mode: "terminate", certificate: "wirescope-ca", insecureUpstream: true });
    }
  });

  it("tells a client that rejects Wirescope's CA to trust it, and the next client goes through", async () => {
    const { id, port } = await proxyTo(pki.good);
    const caPath = (await t.engine.ca()).certPath;
    const run = await sClient(
      port,
      ["-servername", "localhost", "-CAfile", path.join(pki.dir, "ca.crt"), "-verify_return_error"],
      "",
    );
    expect(run.code).not.toBe(0);
    const events = await waitForTimeline(t.api, id, (e) => tlsFailureOf(e, 1) !== undefined, "the failure");
    expect(tlsFailureOf(events, 1)).toMatchObject({
      side: "server",
      hint: `the client does not trust Wirescope's CA: trust ${caPath} in it (Settings > Certificate authority)`,
    });
    const next = await tlsClient(port, { servername: "localhost", ca: (await t.engine.ca()).certPem });
    defer(() => next.destroy());
    next.write("again");
    expect(await readText(next, 5)).toBe("AGAIN");
  });

  it("closes a client that speaks plain text or never says hello, and serves the others meanwhile", async () => {
    const { id, port } = await proxyTo(pki.good);
    const plain = net.connect({ host: "127.0.0.1", port });
    plain.on("error", () => {});
    defer(() => plain.destroy());
    plain.write("EHLO there\r\n");
    const silent = net.connect({ host: "127.0.0.1", port });
    silent.on("error", () => {});
    defer(() => silent.destroy());
    const silentClosed = new Promise<void>((resolve) => silent.once("close", () => resolve()));
    const client = await tlsClient(port, { servername: "localhost", ca: (await t.engine.ca()).certPem });
    defer(() => client.destroy());
    client.write("still here");
    expect(await readText(client, 10)).toBe("STILL HERE");
    await silentClosed;
    const events = await timeline(t.api, id);
    const failures = [1, 3, 5].map((conn) => tlsFailureOf(events, conn)?.code);
    expect(failures.filter((code) => code !== undefined).sort()).toEqual(["not-tls", "timeout"]);
    expect(
      events.some((e) => e.kind === "lifecycle" && e.event === "tls-failed" && /'EHLO there'/.test(e.detail)),
    ).toBe(true);
  });
});

describe("a client that leaves while the upstream's handshake is under way", () => {
  it("is told as closed during the handshake, not before its ClientHello", async () => {
    // An upstream that accepts TCP and never answers a ClientHello: the proxy waits on it, hello in hand.
    const sockets: net.Socket[] = [];
    let hellos = 0;
    const mute = net.createServer((socket) => {
      sockets.push(socket);
      socket.once("data", () => (hellos += 1));
      socket.on("error", () => {});
    });
    await new Promise<void>((resolve) => mute.listen(0, "127.0.0.1", resolve));
    defer(() => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => mute.close(() => resolve()));
    });
    const upstreamPort = (mute.address() as net.AddressInfo).port;
    const s = ok(
      await t.api.proxy({
        listen: { port: 0 },
        upstream: { endpoint: `tcp:host=localhost:port=${upstreamPort}` },
        tls: { mode: "terminate" },
      }),
    );
    const port = Number(s.listeningOn!.split(":").pop());
    const client = tls.connect({ host: "127.0.0.1", port, servername: "localhost" });
    client.on("error", () => {});
    defer(() => client.destroy());
    // The proxy's own ClientHello reaching the upstream means it read the client's.
    await waitFor(() => hellos === 1, "the proxy's ClientHello upstream");
    client.destroy();
    const events = await waitForTimeline(t.api, s.id, (e) => tlsFailureOf(e, 1) !== undefined, "the failure");
    expect(tlsFailureOf(events, 1)).toMatchObject({
      code: "closed",
      message: "the client closed the connection during the TLS handshake",
    });
  });
});

describe("TLS client sessions", () => {
  it("records an ssl: connection's handshake as its tls event, verified against the given CAs", async () => {
    const upstream = await upperCaseTLSServer(pki.good);
    defer(() => upstream.close());
    const cas = fs.mkdtempSync(path.join(os.tmpdir(), "wirescope-cas-"));
    defer(() => fs.rmSync(cas, { recursive: true, force: true }));
    fs.writeFileSync(path.join(cas, "test-ca.pem"), pki.ca);
    const endpoint = `ssl:host=127.0.0.1:port=${upstream.port}:hostname=localhost:caCertsDir=${cas}`;
    const s = ok(await t.api.connect({ target: { endpoint } }));
    ok(await t.api.send({ session: s.id, conn: 1, data: "hi", encoding: "text" }));
    const events = await waitForTimeline(t.api, s.id, (e) => bytesOf(e, 1, "in").toString() === "HI", "the answer");
    expect(tlsDetailsOf(events, 1)).toMatchObject({
      side: "client",
      sni: "localhost",
      verified: true,
      peerCertificate: { subject: "CN=localhost", issuer: "CN=Wirescope test CA" },
    });
  });
});
