/**
 * The TLS options of `listen` and `proxy`, as a user types them: what the engine is asked for, and a usage error
 * (before anything opens) for a combination that means nothing.
 */
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { listenCommand, proxyCommand } from "./commands/listen.ts";
import { UsageError } from "./errors.ts";
import { listenTLS, proxyTLS } from "./tls-options.ts";

/** The usage error `prepare` throws for `argv`, or a failure if it throws none. */
function usageError(prepare: () => unknown): UsageError {
  try {
    prepare();
  } catch (err) {
    if (err instanceof UsageError) return err;
    throw err;
  }
  throw new Error("no usage error");
}

describe("listen's TLS options", () => {
  it("asks for Wirescope's CA with --tls alone, and for the user's files, made absolute, with --cert and --key", () => {
    expect(listenTLS({})).toBeUndefined();
    expect(listenTLS({ tls: true })).toEqual({});
    expect(listenTLS({ tls: true, cert: "c.pem", key: "k.pem" })).toEqual({
      certFile: path.resolve("c.pem"),
      keyFile: path.resolve("k.pem"),
    });
  });

  it("refuses a certificate without its key, a key without its certificate, and files without --tls", () => {
    expect(usageError(() => listenCommand.prepare(["0", "--tls", "--cert", "c.pem"])).message).toBe(
      "listen: --cert needs --key (the certificate's private key file)",
    );
    expect(usageError(() => listenCommand.prepare(["0", "--tls", "--key", "k.pem"])).message).toBe(
      "listen: --key needs --cert (the key's certificate file)",
    );
    expect(usageError(() => listenCommand.prepare(["0", "--cert", "c.pem", "--key", "k.pem"])).message).toBe(
      "listen: --cert and --key are for a TLS listener: add --tls",
    );
    expect(usageError(() => listenCommand.prepare(["0", "--tls", "--insecure-upstream"])).message).toBe(
      "listen: unknown option --insecure-upstream",
    );
  });

  it("takes --keylog with or without --tls (a protocol may upgrade a plain connection)", () => {
    expect(listenCommand.prepare(["0", "--keylog", "keys.log"]).help).toBe(false);
    expect(listenCommand.prepare(["0", "--tls", "--keylog", "keys.log"]).help).toBe(false);
  });
});

describe("proxy's TLS options", () => {
  it("terminates with --tls, leaves the upgrade to a protocol with --starttls, verifies unless told not to", () => {
    expect(proxyTLS({})).toBeUndefined();
    expect(proxyTLS({ tls: true })).toEqual({ mode: "terminate" });
    expect(proxyTLS({ starttls: true, "insecure-upstream": true })).toEqual({
      mode: "starttls",
      insecureUpstream: true,
    });
    expect(proxyTLS({ tls: true, cert: "/c.pem", key: "/k.pem" })).toEqual({
      mode: "terminate",
      certFile: "/c.pem",
      keyFile: "/k.pem",
    });
  });

  it("refuses both modes at once, and TLS settings on a plain proxy", () => {
    const proxy = (...flags: string[]) => usageError(() => proxyCommand.prepare(["0", "127.0.0.1:1", ...flags]));
    expect(proxy("--tls", "--starttls").message).toMatch(/^proxy: --tls and --starttls exclude each other/);
    expect(proxy("--insecure-upstream").message).toBe(
      "proxy: --insecure-upstream is for a TLS proxy: add --tls or --starttls",
    );
    expect(proxy("--cert", "c.pem", "--key", "k.pem").message).toBe(
      "proxy: --cert and --key are for a TLS proxy: add --tls or --starttls",
    );
    expect(proxy("--starttls", "--key", "k.pem").message).toBe(
      "proxy: --key needs --cert (the key's certificate file)",
    );
    expect(proxy("--insecure-upstream").hint).toBe("Run 'wirescope proxy --help' for its usage.");
  });
});
