/**
 * How the CLI prints a TLS handshake and a failed one: the line a person scans (version, cipher, SNI, ALPN, the
 * certificate, the verdict; the failure's code, message and fix) and, with --json, the event's fields.
 */
import { describe, expect, it } from "vitest";
import type { CertificateSummary, TLSDetails, TLSFailure } from "../../preload/contract.ts";
import type { LifecycleTimelineEvent } from "../../preload/timeline.ts";
import { TimelinePrinter } from "./printer.ts";

const LEAF: CertificateSummary = {
  subject: "CN=localhost",
  issuer: "CN=Wirescope CA",
  validFrom: "Dec  5 18:00:00 2026 GMT",
  validTo: "Jan  6 18:00:00 2028 GMT",
  fingerprint256: "AB:CD",
};

const UPSTREAM: TLSDetails = {
  side: "client",
  version: "TLSv1.3",
  cipher: "TLS_AES_256_GCM_SHA384",
  alpn: null,
  sni: "localhost",
  peerCertificate: { ...LEAF, subject: "CN=redis.test" },
  localCertificate: null,
  verified: true,
};

function lifecycle(
  event: "tls" | "tls-failed",
  fields: Record<string, unknown> | undefined,
  detail = "summary",
): LifecycleTimelineEvent {
  return { kind: "lifecycle", seq: 4, t: 1500, conn: 2, event, detail, ...(fields ? { fields } : {}) };
}

/** What the printer writes for `events`, human or JSON. */
function printed(json: boolean, ...events: LifecycleTimelineEvent[]): string {
  let out = "";
  const printer = new TimelinePrinter({ write: (text: string) => (out += text) }, { json, hex: false }, 0);
  printer.print(events);
  return out;
}

describe("the CLI's tls lines", () => {
  it("shows the upstream's certificate and that it was verified, or why it was not", () => {
    expect(printed(false, lifecycle("tls", UPSTREAM))).toBe(
      "0.000000 #2 tls TLSv1.3 TLS_AES_256_GCM_SHA384 sni=localhost alpn=- peer=CN=redis.test verified\n",
    );
    const skipped = { ...UPSTREAM, verified: false, verifyError: "certificate has expired" };
    expect(printed(false, lifecycle("tls", skipped))).toMatch(
      /peer=CN=redis\.test unverified \(certificate has expired\)\n$/,
    );
  });

  it("shows the certificate Wirescope presented when it was the server", () => {
    const served: TLSDetails = {
      ...UPSTREAM,
      side: "server",
      sni: null,
      alpn: "h2",
      peerCertificate: null,
      localCertificate: LEAF,
    };
    expect(printed(false, lifecycle("tls", served))).toBe(
      "0.000000 #2 tls TLSv1.3 TLS_AES_256_GCM_SHA384 sni=- alpn=h2 cert=CN=localhost\n",
    );
  });

  it("says what failed and the likely fix", () => {
    const failure: TLSFailure = {
      side: "server",
      code: "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA",
      message: "the client does not trust Wirescope's CA",
      hint: "trust /tmp/c/wirescope-ca.pem in it",
    };
    expect(printed(false, lifecycle("tls-failed", failure))).toBe(
      "0.000000 #2 tls-failed server ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: the client does not trust Wirescope's CA" +
        " — trust /tmp/c/wirescope-ca.pem in it\n",
    );
  });

  it("keeps a failure on one line when OpenSSL's message has several", () => {
    const failure: TLSFailure = {
      side: "server",
      code: "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA",
      message: "unknown CA (ssl3_read_bytes:tlsv1 alert unknown ca:SSL alert number 48\n)",
      hint: "trust the CA",
    };
    expect(printed(false, lifecycle("tls-failed", failure))).toBe(
      "0.000000 #2 tls-failed server ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: unknown CA (ssl3_read_bytes:tlsv1 alert" +
        " unknown ca:SSL alert number 48 ) — trust the CA\n",
    );
  });

  it("prints any lifecycle event on one line", () => {
    const lost: LifecycleTimelineEvent = {
      ...lifecycle("tls", undefined),
      event: "lost",
      detail: "SSLError: An SSL error occurred: unknown CA (SSL alert number 48\n).",
    };
    expect(printed(false, lost)).toBe(
      "0.000000 #2 lost SSLError: An SSL error occurred: unknown CA (SSL alert number 48 ).\n",
    );
  });

  it("prints the detail of an event without fields of the right shape", () => {
    expect(printed(false, lifecycle("tls", undefined, "TLSv1.2 somehow"))).toBe("0.000000 #2 tls TLSv1.2 somehow\n");
    expect(printed(false, lifecycle("tls-failed", { side: "nobody" }, "it failed"))).toBe(
      "0.000000 #2 tls-failed it failed\n",
    );
  });

  it("gives the fields to a script with --json", () => {
    const [line] = printed(true, lifecycle("tls", UPSTREAM)).split("\n");
    expect(JSON.parse(line!)).toMatchObject({
      kind: "lifecycle",
      event: "tls",
      conn: 2,
      detail: "summary",
      fields: UPSTREAM,
    });
  });
});
