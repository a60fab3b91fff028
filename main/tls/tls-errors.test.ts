/**
 * What a failed handshake's "tls-failed" event says, by side: as a client Wirescope did not trust a server (skip
 * verification, or fix the server's certificate), as a server a client did not trust Wirescope (trust the CA).
 */
import { describe, expect, it } from "vitest";
import { SSLError } from "../../core/index.ts";
import { ClientHelloError } from "./client-hello.ts";
import { describeVerifyError, failureDetail, handshakeTimedOut, tlsFailure } from "./tls-errors.ts";

const withCA = { caPath: "/home/u/.config/wirescope/wirescope-ca.pem", certFile: null };
const own = { caPath: null, certFile: "/srv/tls/server.pem" };

function nodeError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

describe("tlsFailure", () => {
  it("tells how to get past an upstream's certificate it could not verify", () => {
    const expired = tlsFailure(nodeError("CERT_HAS_EXPIRED", "certificate has expired"), "client", withCA);
    expect(expired).toEqual({
      side: "client",
      code: "CERT_HAS_EXPIRED",
      message: "certificate expired (CERT_HAS_EXPIRED: certificate has expired)",
      hint: expect.stringContaining("--insecure-upstream"),
    });
    const untrusted = tlsFailure(nodeError("DEPTH_ZERO_SELF_SIGNED_CERT", "self-signed"), "client", withCA);
    expect(untrusted.hint).toMatch(/^the upstream's certificate is not trusted/);
  });

  it("tells a client that rejected Wirescope's certificate what to trust, through the core's SSLError too", () => {
    const alert = nodeError("ERR_SSL_TLSV1_ALERT_UNKNOWN_CA", "SSL routines::tlsv1 alert unknown ca");
    const failure = tlsFailure(new SSLError("unknown CA", { cause: alert }), "server", withCA);
    expect(failure).toMatchObject({
      code: "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA",
      message: "unknown CA",
      hint: `the client does not trust Wirescope's CA: trust ${withCA.caPath} in it (Settings > Certificate authority)`,
    });
    expect(tlsFailure(alert, "server", own).hint).toBe(
      "the client does not trust your certificate (/srv/tls/server.pem): trust its CA in it",
    );
  });

  it("says a client speaks plain text, and a timeout what it waited for", () => {
    const plain = new ClientHelloError("not-tls", "the client sent 'GET / HTTP/1.1': it speaks plain text, not TLS");
    expect(tlsFailure(plain, "server", withCA)).toMatchObject({ code: "not-tls", hint: expect.stringMatching(/TLS/) });
    const timeout = handshakeTimedOut("server", 10_000);
    expect(timeout).toMatchObject({ code: "timeout", message: "the TLS handshake did not complete within 10 s" });
    expect(failureDetail(timeout)).toBe(`${timeout.message} — ${timeout.hint}`);
  });
});

describe("describeVerifyError", () => {
  it("puts an unverified upstream's reason in words", () => {
    expect(describeVerifyError("CERT_HAS_EXPIRED", null)).toMatch(/^certificate expired \(CERT_HAS_EXPIRED/);
    const mismatch = nodeError("ERR_TLS_CERT_ALTNAME_INVALID", "Host: localhost. is not in the cert's altnames");
    expect(describeVerifyError("ERR_TLS_CERT_ALTNAME_INVALID", mismatch)).toMatch(/^hostname mismatch/);
  });
});
