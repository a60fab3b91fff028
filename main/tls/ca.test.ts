/**
 * Wirescope's CA: made once in the settings folder and found again, leaves that OpenSSL and node:tls clients accept
 * when they trust only the CA, a bounded cache, regeneration, and files that can't be used explained, not crashed on.
 */
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  BadServerNameError,
  CAUnreadableError,
  CA_CERT_FILE,
  CA_KEY_FILE,
  CertificateAuthority,
  MAX_CACHED_LEAVES,
} from "./ca.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "wirescope-ca-unit-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** `openssl <args>`'s stdout; throws with its stderr when it fails. */
function openssl(...args: string[]): string {
  return execFileSync("openssl", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** Writes `pem` to a file in the test folder and returns its path. */
function pemFile(name: string, pem: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, pem);
  return file;
}

/**
 * Completes a TLS handshake with a server using `ca.serverOptions()` on 127.0.0.1 (or ::1), as a client that
 * trusts only the CA, and returns the certificate the server presented. `servername` undefined: no SNI is sent.
 */
async function handshake(
  options: tls.TlsOptions,
  ca: string,
  host: string,
  servername: string | undefined,
  client: tls.ConnectionOptions = {},
): Promise<tls.PeerCertificate> {
  const server = tls.createServer(options, (socket) => socket.end());
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  try {
    return await new Promise<tls.PeerCertificate>((resolve, reject) => {
      const socket = tls.connect(
        { ...client, host, port, ca: [ca], ...(servername === undefined ? {} : { servername }) },
        () => {
          const cert = socket.getPeerCertificate();
          socket.destroy();
          resolve(cert);
        },
      );
      socket.on("error", reject);
    });
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

describe("the CA's files", () => {
  it("are made on first use, the key readable by its owner only, and found again by the next open", async () => {
    const config = path.join(dir, "config");
    const ca = await CertificateAuthority.open(config);
    expect(readdirSync(config).sort()).toEqual([CA_CERT_FILE, CA_KEY_FILE].sort());
    expect(ca.certPath).toBe(path.join(config, CA_CERT_FILE));
    expect(statSync(path.join(config, CA_KEY_FILE)).mode & 0o777).toBe(0o600);
    expect(readFileSync(ca.certPath, "utf8")).toBe(ca.certPem);

    const info = ca.info();
    expect(info.path).toBe(ca.certPath);
    expect(info.subject).toBe("CN=Wirescope CA, O=Wirescope");
    expect(info.fingerprint256).toBe(new X509Certificate(ca.certPem).fingerprint256);
    const years = (Date.parse(info.validTo) - Date.parse(info.validFrom)) / (365.25 * 24 * 3600 * 1000);
    expect(Math.round(years)).toBe(10);
    expect(openssl("x509", "-in", ca.certPath, "-noout", "-text")).toMatch(/CA:TRUE/);

    const again = await CertificateAuthority.open(config);
    expect(again.info().fingerprint256).toBe(info.fingerprint256);
  });

  it("a key file that others can read is made private again when the CA is opened", async () => {
    await CertificateAuthority.open(dir);
    const keyFile = path.join(dir, CA_KEY_FILE);
    chmodSync(keyFile, 0o644);
    await CertificateAuthority.open(dir);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
  });

  it("two processes opening a new folder at once end up with one CA", async () => {
    const [a, b] = await Promise.all([CertificateAuthority.open(dir), CertificateAuthority.open(dir)]);
    expect(a.info().fingerprint256).toBe(b.info().fingerprint256);
    expect(readdirSync(dir).sort()).toEqual([CA_CERT_FILE, CA_KEY_FILE].sort());
    const leaf = await b.leafFor("example.test");
    const caFile = pemFile("ca-copy.pem", a.certPem);
    expect(openssl("verify", "-CAfile", caFile, pemFile("leaf.pem", leaf.cert)).trim()).toMatch(/: OK$/);
  });

  it("regenerate() replaces the CA on disk, and its leaves with it", async () => {
    const ca = await CertificateAuthority.open(dir);
    const before = ca.info().fingerprint256;
    const oldLeaf = await ca.leafFor("example.test");
    await ca.regenerate();
    expect(ca.info().fingerprint256).not.toBe(before);
    expect(readFileSync(ca.certPath, "utf8")).toBe(ca.certPem);
    expect(statSync(path.join(dir, CA_KEY_FILE)).mode & 0o777).toBe(0o600);
    const newLeaf = await ca.leafFor("example.test");
    expect(newLeaf.cert).not.toBe(oldLeaf.cert);
    expect(newLeaf.key).not.toBe(oldLeaf.key);
    const caFile = pemFile("ca-copy.pem", ca.certPem);
    expect(openssl("verify", "-CAfile", caFile, pemFile("leaf.pem", newLeaf.cert)).trim()).toMatch(/: OK$/);
    expect((await CertificateAuthority.open(dir)).info().fingerprint256).toBe(ca.info().fingerprint256);
  });
});

describe("files that can't be used", () => {
  /** What opening `dir` throws. */
  async function openError(): Promise<CAUnreadableError> {
    const err: unknown = await CertificateAuthority.open(dir).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CAUnreadableError);
    return err as CAUnreadableError;
  }

  it("a damaged certificate is named, with what to do", async () => {
    await CertificateAuthority.open(dir);
    writeFileSync(path.join(dir, CA_CERT_FILE), "-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n");
    const err = await openError();
    expect(err.code).toBe("ca-unreadable");
    expect(err.message).toContain(path.join(dir, CA_CERT_FILE));
    expect(err.message).toMatch(/is damaged/);
    expect(err.message).toMatch(/Delete wirescope-ca\.pem/);
    expect(err.message).toMatch(/regenerate/);
  });

  it("a damaged key, a key of another CA, a missing half and an unreadable file each say which file", async () => {
    await CertificateAuthority.open(dir);
    const keyPath = path.join(dir, CA_KEY_FILE);
    const goodKey = readFileSync(keyPath, "utf8");

    writeFileSync(keyPath, "not a key");
    expect((await openError()).message).toMatch(new RegExp(`${keyPath} is damaged`));

    const other = path.join(dir, "other");
    await CertificateAuthority.open(other);
    writeFileSync(keyPath, readFileSync(path.join(other, CA_KEY_FILE)));
    expect((await openError()).message).toMatch(/is not the key of the certificate/);

    rmSync(keyPath);
    expect((await openError()).message).toMatch(new RegExp(`${keyPath} is missing`));

    mkdirSync(keyPath); // a folder where the key should be: reading it fails (even as root)
    expect((await openError()).message).toMatch(new RegExp(`${keyPath} cannot be read`));
    rmSync(keyPath, { recursive: true });
    writeFileSync(keyPath, goodKey);
    await expect(CertificateAuthority.open(dir)).resolves.toBeInstanceOf(CertificateAuthority);
  });

  it("create() makes a new CA over damaged files", async () => {
    writeFileSync(path.join(dir, CA_CERT_FILE), "garbage");
    writeFileSync(path.join(dir, CA_KEY_FILE), "garbage");
    await openError();
    const ca = await CertificateAuthority.create(dir);
    expect((await CertificateAuthority.open(dir)).info().fingerprint256).toBe(ca.info().fingerprint256);
    expect(statSync(path.join(dir, CA_KEY_FILE)).mode & 0o777).toBe(0o600);
  });
});

describe("leaves", () => {
  it.each([
    ["example.test", "DNS:example.test"],
    ["127.0.0.1", "IP Address:127.0.0.1"],
    ["::1", "IP Address:0:0:0:0:0:0:0:1"],
  ])("a leaf for %s verifies against the CA with OpenSSL and names it in its SAN", async (name, san) => {
    const ca = await CertificateAuthority.open(dir);
    const leaf = await ca.leafFor(name);
    const caFile = pemFile("ca-copy.pem", ca.certPem);
    const leafFile = pemFile("leaf.pem", leaf.cert);
    expect(openssl("verify", "-CAfile", caFile, leafFile).trim()).toBe(`${leafFile}: OK`);
    expect(openssl("x509", "-in", leafFile, "-noout", "-ext", "subjectAltName")).toContain(san);
    expect(openssl("pkey", "-in", pemFile("key.pem", leaf.key), "-pubout")).toBe(
      openssl("x509", "-in", leafFile, "-noout", "-pubkey"),
    );
    const cert = new X509Certificate(leaf.cert);
    expect(Date.parse(cert.validFrom)).toBeLessThan(Date.now() - 23 * 3600 * 1000);
    expect((Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / (24 * 3600 * 1000)).toBe(397);
  });

  it("one name gives one cached certificate, whatever its case, trailing dot or brackets", async () => {
    const ca = await CertificateAuthority.open(dir);
    const leaf = await ca.leafFor("Example.Test.");
    expect(await ca.leafFor("example.test")).toBe(leaf);
    expect(await ca.leafFor("[::1]")).toBe(await ca.leafFor("::1"));
    const other = await ca.leafFor("other.test");
    expect(other.cert).not.toBe(leaf.cert);
    expect(other.key).toBe(leaf.key); // one key pair for every leaf of a CA
  });

  it("the cache keeps the most recently asked names and drops the oldest past its bound", async () => {
    const ca = await CertificateAuthority.open(dir);
    const first = await ca.leafFor("host-0.test");
    const kept = await ca.leafFor("host-1.test");
    for (let i = 2; i <= MAX_CACHED_LEAVES; i++) {
      await ca.leafFor(`host-${i}.test`);
      if (i % 100 === 0) expect(await ca.leafFor("host-1.test")).toBe(kept); // asked again: stays
    }
    expect(await ca.leafFor("host-1.test")).toBe(kept);
    const remade = await ca.leafFor("host-0.test");
    expect(remade).not.toBe(first);
    expect(remade.cert).not.toBe(first.cert);
  });

  it("a name no certificate can carry is refused", async () => {
    const ca = await CertificateAuthority.open(dir);
    expect(() => ca.leafFor("bad name")).toThrow(BadServerNameError);
    expect(() => ca.leafFor("a..b")).toThrow(/neither an IP address nor a DNS name/);
    expect(() => ca.leafFor(`${"a".repeat(64)}.test`)).toThrow(BadServerNameError);
  });
});

describe("serverOptions() on a real node:tls server", () => {
  it("answers a client's server name with a leaf for it", async () => {
    const ca = await CertificateAuthority.open(dir);
    const cert = await handshake(ca.serverOptions(), ca.certPem, "127.0.0.1", "example.test");
    expect(cert.subjectaltname).toBe("DNS:example.test");
    expect(cert.fingerprint256).toBe(new X509Certificate((await ca.leafFor("example.test")).cert).fingerprint256);
  });

  it("gives a client that sends no server name the default leaf: localhost, 127.0.0.1 and ::1", async () => {
    const ca = await CertificateAuthority.open(dir);
    const v4 = await handshake(ca.serverOptions(), ca.certPem, "127.0.0.1", undefined);
    expect(v4.subjectaltname).toBe("DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1");
    const v6 = await handshake(ca.serverOptions(), ca.certPem, "::1", undefined);
    expect(v6.fingerprint256).toBe(v4.fingerprint256);
  });

  it("gives a client that sends no server name the fallback's leaf, once made", async () => {
    const ca = await CertificateAuthority.open(dir);
    expect(() => ca.serverOptions("upstream.test")).toThrow(/await leafFor first/);
    await ca.leafFor("upstream.test");
    // A client of "upstream.test" that reached it by address, as through a proxy: it checks that name.
    const cert = await handshake(ca.serverOptions("upstream.test"), ca.certPem, "127.0.0.1", undefined, {
      checkServerIdentity: (_host, peer) => tls.checkServerIdentity("upstream.test", peer),
    });
    expect(cert.subjectaltname).toBe("DNS:upstream.test");
  });

  it("a client that trusts another CA refuses the leaf", async () => {
    const ca = await CertificateAuthority.open(dir);
    const other = await CertificateAuthority.open(path.join(dir, "other"));
    const err = await handshake(ca.serverOptions(), other.certPem, "127.0.0.1", "example.test").catch(
      (e: unknown) => e,
    );
    expect(String(err)).toMatch(/unable to verify the first certificate/);
  });
});
