import { describe, expect, it } from "vitest";
import { checkArgs } from "../../../preload/contract.ts";
import { contractError, invalidArguments } from "../../../preload/errors.ts";
import { buildRequest, engineErrorFields, initialForm, type SessionForm } from "./session-form.ts";

function form(fields: Partial<SessionForm>): SessionForm {
  return { ...initialForm(), ...fields };
}

describe("buildRequest", () => {
  it("explains port 70000 next to Port and sends nothing", () => {
    const built = buildRequest("client", form({ host: "127.0.0.1", port: "70000" }));
    expect(built).toEqual({ ok: false, errors: { port: "A port is from 0 to 65535" } });
  });

  it("explains an empty host next to Host", () => {
    const built = buildRequest("client", form({ host: "  ", port: "6379" }));
    expect(built.ok).toBe(false);
    if (!built.ok) expect(built.errors.host).toMatch(/^The host is empty/);
  });

  it("says a port that isn't a number is one, rather than 'missing'", () => {
    const built = buildRequest("listener", form({ port: "80a" }));
    expect(built.ok).toBe(false);
    if (!built.ok) expect(built.errors.port).toMatch(/whole number/);
  });

  it("sends the endpoint string alone when it is filled, ignoring the fields", () => {
    const built = buildRequest("client", form({ endpoint: " tcp:host=127.0.0.1:port=6379 ", host: "x", port: "1" }));
    expect(built).toEqual({
      ok: true,
      request: { kind: "client", args: { target: { endpoint: "tcp:host=127.0.0.1:port=6379" }, protocol: null } },
    });
  });

  it("builds a listener on port 0 with an interface, and a protocol from a template", () => {
    const built = buildRequest("listener", form({ port: "0", interface: "::1", protocol: "template:echo" }));
    expect(built).toEqual({
      ok: true,
      request: { kind: "listener", args: { target: { port: 0, interface: "::1" }, protocol: "template:echo" } },
    });
  });

  it("runs a proxy's protocol on both legs and checks both sides", () => {
    const bad = buildRequest("proxy", form({ port: "0", upstreamHost: "", upstreamPort: "99999" }));
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(Object.keys(bad.errors).sort()).toEqual(["upstreamHost", "upstreamPort"]);
    const good = buildRequest(
      "proxy",
      form({ port: "0", upstreamHost: "127.0.0.1", upstreamPort: "6379", protocol: "tap.ts" }),
    );
    expect(good.ok && good.request.kind === "proxy" && good.request.args).toMatchObject({
      listen: { port: 0 },
      upstream: { host: "127.0.0.1", port: 6379, tls: false },
      clientProtocol: "tap.ts",
      serverProtocol: "tap.ts",
    });
  });

  it("wants a profile name when saving a profile, and names the session after it", () => {
    const missing = buildRequest("client", form({ host: "127.0.0.1", port: "1", saveProfile: true, profileName: "" }));
    expect(missing.ok).toBe(false);
    if (!missing.ok) expect(Object.keys(missing.errors)).toEqual(["profileName"]);
    const named = buildRequest(
      "client",
      form({ host: "127.0.0.1", port: "1", saveProfile: true, profileName: "redis" }),
    );
    expect(named.ok && named.request.args.name).toBe("redis");
  });
});

describe("buildRequest with TLS", () => {
  it("sends a listener's TLS with Wirescope's CA as an empty tls argument", () => {
    const built = buildRequest("listener", form({ port: "0", tlsMode: "terminate" }));
    expect(built).toEqual({
      ok: true,
      request: { kind: "listener", args: { target: { port: 0 }, protocol: null, tls: {} } },
    });
  });

  it("sends no tls for a plain listener, whatever the hidden certificate fields hold", () => {
    const built = buildRequest("listener", form({ port: "0", certificate: "own", certFile: "a.pem" }));
    expect(built.ok && built.request.args).toEqual({ target: { port: 0 }, protocol: null });
  });

  it("wants both files when the certificate is the user's own, each next to its field", () => {
    const built = buildRequest(
      "listener",
      form({ port: "0", tlsMode: "terminate", certificate: "own", certFile: " /etc/cert.pem ", keyFile: "" }),
    );
    expect(built).toEqual({
      ok: false,
      errors: { keyFile: "Give the private key's file (PEM), or use Wirescope's CA" },
    });
  });

  it("sends a terminating proxy's files and skipped verification, its upstream as plain TCP", () => {
    const built = buildRequest(
      "proxy",
      form({
        port: "0",
        upstreamHost: "127.0.0.1",
        upstreamPort: "6380",
        tls: true,
        tlsMode: "terminate",
        certificate: "own",
        certFile: "/c.pem",
        keyFile: "/k.pem",
        insecureUpstream: true,
      }),
    );
    expect(built.ok && built.request.kind === "proxy" && built.request.args).toMatchObject({
      upstream: { host: "127.0.0.1", port: 6380, tls: false },
      tls: { mode: "terminate", certFile: "/c.pem", keyFile: "/k.pem", insecureUpstream: true },
    });
  });

  it("sends a STARTTLS proxy's mode with Wirescope's CA, its upstream TLS box meaning nothing yet", () => {
    const built = buildRequest(
      "proxy",
      form({ port: "0", upstreamHost: "127.0.0.1", upstreamPort: "25", tlsMode: "starttls" }),
    );
    expect(built.ok && built.request.kind === "proxy" && built.request.args.tls).toEqual({ mode: "starttls" });
  });
});

describe("engineErrorFields", () => {
  it("puts a certificate problem the engine names on its file's field", () => {
    const error = contractError("not-found", "tls.keyFile: /k.pem is not a private key: give the PEM key of /c.pem", [
      { path: "tls.keyFile", message: "/k.pem is not a private key: give the PEM key of /c.pem" },
    ]);
    const errors = engineErrorFields("listener", form({ tlsMode: "terminate", certificate: "own" }), error);
    expect(errors).toEqual({ keyFile: "/k.pem is not a private key: give the PEM key of /c.pem" });
    const proxy = engineErrorFields("proxy", form({ tlsMode: "terminate" }), {
      ...error,
      issues: [{ path: "tls.certFile", message: "the certificate does not match its key" }],
    });
    expect(proxy).toEqual({ certFile: "The certificate does not match its key" });
  });

  it("puts an unknown endpoint type on Endpoint", () => {
    const errors = engineErrorFields(
      "client",
      form({ endpoint: "foo:bar" }),
      contractError("bad-endpoint", "Unknown endpoint type: 'foo'"),
    );
    expect(errors).toEqual({ endpoint: "Unknown endpoint type: 'foo'" });
  });

  it("puts a bad proxy endpoint on the string that contains what the parser quoted", () => {
    const errors = engineErrorFields(
      "proxy",
      form({ endpoint: "tcp:0", upstreamEndpoint: "nope:x" }),
      contractError("bad-endpoint", "Unknown endpoint type: 'nope'"),
    );
    expect(errors).toEqual({ upstreamEndpoint: "Unknown endpoint type: 'nope'" });
  });

  it("puts a port in use on Port, or on Endpoint when the port came from there", () => {
    const error = contractError("cannot-listen", "Could not listen on tcp:5000: EADDRINUSE");
    expect(engineErrorFields("listener", form({ port: "5000" }), error)).toEqual({ port: error.message });
    expect(engineErrorFields("listener", form({ endpoint: "tcp:5000" }), error)).toEqual({ endpoint: error.message });
  });

  it("maps the contract's field paths to the fields", () => {
    const errors = engineErrorFields(
      "proxy",
      form({}),
      invalidArguments("proxy", [
        { path: "listen.port", message: "a port is from 0 to 65535" },
        { path: "upstream.host", message: "the host is empty: give a name" },
      ]),
    );
    expect(errors).toEqual({
      port: "A port is from 0 to 65535",
      upstreamHost: "The host is empty: give a name",
    });
  });

  it("shows a message that itself holds a semicolon whole, next to its field", () => {
    const refused = checkArgs("connect", { target: { host: "h".repeat(300), port: 6379 } });
    expect(refused.ok).toBe(false);
    const errors = engineErrorFields("client", form({}), !refused.ok ? refused.error : contractError("internal", ""));
    expect(errors).toEqual({ host: "The host is 300 characters; at most 253" });
  });

  it("puts a protocol that doesn't compile on Protocol, and a refused connection on Port", () => {
    expect(engineErrorFields("client", form({}), contractError("compile-error", "x.ts does not compile"))).toEqual({
      protocol: "X.ts does not compile",
    });
    expect(
      engineErrorFields(
        "client",
        form({ host: "127.0.0.1", port: "1" }),
        contractError("ConnectionRefusedError", "Could not connect"),
      ),
    ).toEqual({ port: "Could not connect" });
  });

  it("shows anything else for the whole form", () => {
    expect(engineErrorFields("listener", form({}), contractError("internal", "boom"))).toEqual({ form: "Boom" });
  });
});
