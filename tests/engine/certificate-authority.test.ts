/**
 * Wirescope's CA through the engine's contract, over the real WebSocket adapter: caInfo makes it in the settings
 * folder on first use and answers the same one after; regenerateCA replaces it on disk; a damaged file is explained
 * (code, file, what to do) and regenerateCA repairs it. The engine's own callers share one CA.
 */
import { X509Certificate } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { CA_CERT_FILE } from "../../main/tls/ca.ts";
import { ok, useEngine } from "../helpers/engine.ts";

const { t } = useEngine();

describe("the CA through the contract", () => {
  it("caInfo makes the CA in the settings folder, then answers the same one", async () => {
    const info = ok(await t.api.caInfo({}));
    expect(info.path).toBe(path.join(t.configDir, CA_CERT_FILE));
    expect(fs.readFileSync(info.path, "utf8")).toBe(info.pem);
    expect(info.fingerprint256).toBe(new X509Certificate(info.pem).fingerprint256);
    expect(info.subject).toBe("CN=Wirescope CA, O=Wirescope");
    expect(ok(await t.api.caInfo({})).fingerprint256).toBe(info.fingerprint256);
  });

  it("the engine's callers share one CA, opened once", async () => {
    const [a, b] = await Promise.all([t.engine.ca(), t.engine.ca()]);
    expect(a).toBe(b);
    expect(ok(await t.api.caInfo({})).fingerprint256).toBe(a.info().fingerprint256);
  });

  it("regenerateCA replaces the certificate on disk and in the engine", async () => {
    const before = ok(await t.api.caInfo({}));
    const after = ok(await t.api.regenerateCA({}));
    expect(after.fingerprint256).not.toBe(before.fingerprint256);
    expect(after.path).toBe(before.path);
    expect(fs.readFileSync(after.path, "utf8")).toBe(after.pem);
    expect(ok(await t.api.caInfo({})).fingerprint256).toBe(after.fingerprint256);
    expect((await t.engine.ca()).info().fingerprint256).toBe(after.fingerprint256);
  });

  it("a damaged CA file is a bad-input error naming it; regenerateCA makes a new CA over it", async () => {
    fs.mkdirSync(t.configDir, { recursive: true });
    const file = path.join(t.configDir, CA_CERT_FILE);
    fs.writeFileSync(file, "not a certificate");
    fs.writeFileSync(path.join(t.configDir, "wirescope-ca-key.pem"), "not a key");
    const failed = await t.api.caInfo({});
    expect(failed.ok).toBe(false);
    if (failed.ok) return;
    expect(failed.error.code).toBe("ca-unreadable");
    expect(failed.error.category).toBe("bad-input");
    expect(failed.error.message).toContain(file);
    expect(failed.error.message).toMatch(/Delete wirescope-ca\.pem .* or regenerate it/);

    const made = ok(await t.api.regenerateCA({}));
    expect(fs.readFileSync(file, "utf8")).toBe(made.pem);
    expect(ok(await t.api.caInfo({})).fingerprint256).toBe(made.fingerprint256);
  });
});
