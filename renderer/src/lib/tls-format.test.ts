import { describe, expect, it } from "vitest";
import type { TLSDetails } from "../../../preload/contract.ts";
import type { TimelineEvent } from "../../../preload/timeline.ts";
import { sessionTLSLabel, tlsDetailRows, tlsEventFields, tlsFailureRows } from "./tls-format.ts";

const upstream: TLSDetails = {
  side: "client",
  version: "TLSv1.3",
  cipher: "TLS_AES_256_GCM_SHA384",
  alpn: null,
  sni: "db.example",
  peerCertificate: {
    subject: "CN=db.example",
    issuer: "CN=Test CA",
    validFrom: "Dec  6 18:00:00 2025 GMT",
    validTo: "Dec  6 18:00:00 2026 GMT",
    fingerprint256: "AB:CD",
  },
  localCertificate: null,
  verified: false,
  verifyError: "certificate has expired",
};

function row(rows: { label: string; value: string }[], label: string): string | undefined {
  return rows.find((r) => r.label === label)?.value;
}

describe("TLS in words", () => {
  it("names a session's TLS by mode and certificate", () => {
    expect(sessionTLSLabel({ mode: "terminate", certificate: "wirescope-ca" })).toBe("TLS (Wirescope CA)");
    expect(sessionTLSLabel({ mode: "terminate", certificate: "own", certFile: "/c.pem" })).toBe(
      "TLS (own certificate)",
    );
    expect(sessionTLSLabel({ mode: "starttls", certificate: "wirescope-ca" })).toBe("STARTTLS");
    expect(sessionTLSLabel(undefined)).toBeNull();
  });

  it("shows what a handshake agreed on, and a verification that failed but was skipped", () => {
    const rows = tlsDetailRows(upstream);
    expect(row(rows, "Version")).toBe("TLSv1.3");
    expect(row(rows, "ALPN")).toBe("none agreed");
    expect(row(rows, "SNI")).toBe("db.example");
    expect(row(rows, "Peer certificate subject")).toBe("CN=db.example");
    expect(row(rows, "Peer certificate valid")).toBe("Dec  6 18:00:00 2025 GMT to Dec  6 18:00:00 2026 GMT");
    expect(row(rows, "Peer certificate SHA-256")).toBe("AB:CD");
    expect(row(rows, "Verification")).toBe(
      "not verified, accepted because upstream verification is skipped: certificate has expired",
    );
  });

  it("gives a failure's hint whole", () => {
    const hint = "the client does not trust Wirescope's CA: trust /cfg/wirescope-ca.pem in it " + "x".repeat(300);
    const rows = tlsFailureRows({ side: "server", code: "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA", message: "m", hint });
    expect(row(rows, "Likely fix")).toBe(hint);
  });

  it("reads a tls event's fields with the contract's shape, and nothing from other events", () => {
    const base = { seq: 3, t: 1, conn: 1, kind: "lifecycle" as const, detail: "TLSv1.3" };
    const tls: TimelineEvent = { ...base, event: "tls", fields: upstream };
    expect(tlsEventFields(tls)).toEqual({ kind: "tls", details: upstream });
    const failed: TimelineEvent = { ...base, event: "tls-failed", fields: { side: "client", code: "x", message: "m" } };
    expect(tlsEventFields(failed)).toEqual({
      kind: "tls-failed",
      failure: { side: "client", code: "x", message: "m" },
    });
    expect(tlsEventFields({ ...base, event: "tls", fields: { version: 1 } })).toBeNull();
    expect(tlsEventFields({ ...base, event: "lost" })).toBeNull();
  });
});
