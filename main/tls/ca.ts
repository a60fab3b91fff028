/**
 * Wirescope's certificate authority: one CA per user, kept in the settings folder beside settings.json, which signs
 * the leaf certificates Wirescope presents when it plays a TLS server (a TLS listener, a terminating proxy, a
 * STARTTLS upgrade). A client trusts Wirescope by trusting the CA's certificate file once.
 *
 *     <dir>/wirescope-ca.pem       the CA certificate (give it to clients)
 *     <dir>/wirescope-ca-key.pem   its private key (PKCS#8; mode 0600; never leaves the folder)
 *
 * ECDSA P-256 throughout (a key pair and a signature take about a millisecond). The CA is valid 10 years, a leaf 397
 * days from one day ago (inside the 398 days browsers accept; the day before covers a peer whose clock is behind)
 * and never past the CA. As HTTP Toolkit's mockttp does, every leaf of one CA shares one key pair, made in memory
 * when the CA is opened: only the signature differs between two names. Leaves are cached per name, at most
 * MAX_CACHED_LEAVES of them (least recently asked dropped first).
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { KeyObject, X509Certificate, createPrivateKey, createPublicKey, randomBytes, webcrypto } from "node:crypto";
import { chmod, mkdir, readFile, stat } from "node:fs/promises";
import { isIP } from "node:net";
import path from "node:path";
import { createSecureContext } from "node:tls";
import type { SecureContext, TlsOptions } from "node:tls";
import type { CAInfo } from "../../preload/contract.ts";
import { EngineError } from "../engine/errors.ts";
import { isErrno, writeAtomically } from "../workspace/atomic-write.ts";

/** The CA certificate's file name, in the settings folder. */
export const CA_CERT_FILE = "wirescope-ca.pem";
/** The CA private key's file name, in the settings folder. */
export const CA_KEY_FILE = "wirescope-ca-key.pem";
/** How many names' leaves are kept (certificate and SecureContext). */
export const MAX_CACHED_LEAVES = 1_000;
/** The names the default certificate (a client that sent no SNI) covers. */
export const DEFAULT_LEAF_NAMES: readonly string[] = ["localhost", "127.0.0.1", "::1"];

const CA_YEARS = 10;
const LEAF_DAYS = 397;
const DAY_MS = 24 * 60 * 60 * 1000;
const KEY_MODE = 0o600;
/** How long a process that lost the race to create the CA waits for the winner's certificate file. */
const CREATE_RACE_WAIT_MS = 2_000;
const ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
/** A DNS name as certificates carry it: letters, digits, '-' and '_' in labels of 1 to 63, a leading "*." allowed. */
const DNS_NAME = /^(\*\.)?([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/;
const MAX_DNS_NAME_LENGTH = 253;
/** The longest common name X.509 allows (RFC 5280's ub-common-name). */
const MAX_COMMON_NAME_LENGTH = 64;

/** node:tls server options, as `tls.createServer` and `new TLSSocket(..., { isServer: true })` take them. */
export type ServerTLSOptions = TlsOptions;

/** A leaf certificate and its key, PEM. */
export interface Leaf {
  cert: string;
  key: string;
}

/** The CA files exist but cannot be used (unreadable, damaged, not a pair). The message names the file and the way out. */
export class CAUnreadableError extends EngineError {
  constructor(file: string, problem: string, cause?: unknown) {
    super(
      "ca-unreadable",
      `Wirescope's certificate authority in ${file} ${problem}. Delete ${path.basename(file)} (and its partner ` +
        `${file.endsWith(CA_KEY_FILE) ? CA_CERT_FILE : CA_KEY_FILE}) to have a new CA made on next use, or ` +
        `regenerate it (Settings > Certificate authority, or \`wirescope ca --regenerate\`); clients must then ` +
        `trust the new one.`,
      cause === undefined ? undefined : { cause },
    );
  }
}

/** A name a leaf certificate cannot carry (neither an IP address nor a DNS name). */
export class BadServerNameError extends EngineError {
  constructor(name: string) {
    super(
      "bad-server-name",
      `'${name.slice(0, MAX_DNS_NAME_LENGTH)}' is neither an IP address nor a DNS name: no certificate can be made for it.`,
    );
  }
}

/** A CA's key pair and certificate, in memory. */
interface Authority {
  keys: webcrypto.CryptoKeyPair;
  cert: x509.X509Certificate;
  certPem: string;
  /** The key pair every leaf of this CA carries. */
  leafKeys: webcrypto.CryptoKeyPair;
  leafKeyPem: string;
  /** The leaves' subject and authority key identifiers: the same in every leaf, so made once (each is a hash). */
  leafKeyIds: x509.Extension[];
}

/** A cache entry: the leaf once made, with its SecureContext made on first use by a server. */
interface CachedLeaf {
  promise: Promise<Leaf>;
  leaf?: Leaf;
  context?: SecureContext;
}

/**
 * Wirescope's CA, opened on a settings folder. The engine keeps one (engine.ca()), shared by every session; leafFor
 * and serverOptions may be called concurrently. After regenerate() every later call uses the new CA; a leaf being
 * made when it is called is signed by the old one.
 */
export class CertificateAuthority {
  /** The CA certificate's file, to give to a client to trust. */
  readonly certPath: string;
  #authority: Authority;
  /** Map order is the LRU order: the first entry is the least recently asked for. */
  #leaves = new Map<string, CachedLeaf>();
  #defaultLeaf: Leaf;
  /** The regeneration under way, if any: the next waits for it. */
  #regenerating: Promise<unknown> = Promise.resolve();

  private constructor(dir: string, authority: Authority, defaultLeaf: Leaf) {
    this.certPath = path.join(dir, CA_CERT_FILE);
    this.#authority = authority;
    this.#defaultLeaf = defaultLeaf;
  }

  /**
   * Opens the CA in `dir` (the settings folder), making it (and the folder) on first use. Two processes opening a
   * new folder at once end up with the same CA. Throws CAUnreadableError when the files exist but can't be used.
   */
  static async open(dir: string): Promise<CertificateAuthority> {
    return CertificateAuthority.#withAuthority(dir, await loadOrCreate(dir));
  }

  /** Makes a new CA in `dir` over whatever is there (damaged files included), and opens it. */
  static async create(dir: string): Promise<CertificateAuthority> {
    return CertificateAuthority.#withAuthority(dir, await createAuthority(dir, false));
  }

  static async #withAuthority(dir: string, authority: Authority): Promise<CertificateAuthority> {
    return new CertificateAuthority(dir, authority, await makeLeaf(authority, DEFAULT_LEAF_NAMES));
  }

  /** The CA certificate, PEM. */
  get certPem(): string {
    return this.#authority.certPem;
  }

  /** What the contract says about the CA (caInfo): its file, PEM, subject, validity and SHA-256 fingerprint. */
  info(): CAInfo {
    const cert = new X509Certificate(this.#authority.certPem);
    return {
      path: this.certPath,
      pem: this.#authority.certPem,
      subject: cert.subject.split("\n").join(", "),
      validFrom: cert.validFrom,
      validTo: cert.validTo,
      fingerprint256: cert.fingerprint256,
    };
  }

  /**
   * The leaf certificate for `name` (a DNS name, or an IP address: then an IP SAN), signed by the CA, and its key.
   * Names are compared case-insensitively, a trailing dot and IPv6 brackets ignored. Throws BadServerNameError for
   * a name no certificate can carry.
   */
  leafFor(name: string): Promise<Leaf> {
    return this.#entry(name).promise;
  }

  /**
   * node:tls server options: a client that sends a server name (SNI) gets a leaf for it (made on first use, then
   * cached with its SecureContext); one that sends none gets the leaf for `fallback` — which must have been made
   * (`await leafFor(fallback)`) — or, without one, the default leaf, which covers localhost, 127.0.0.1 and ::1.
   */
  serverOptions(fallback?: string): ServerTLSOptions {
    const leaf = fallback === undefined ? this.#defaultLeaf : this.#leaves.get(normalizeName(fallback))?.leaf;
    if (leaf === undefined)
      throw new Error(`serverOptions: the leaf for '${fallback}' is not made yet: await leafFor first`);
    return {
      cert: leaf.cert,
      key: leaf.key,
      SNICallback: (servername, callback) => {
        let entry: CachedLeaf;
        try {
          entry = this.#entry(servername);
        } catch (err) {
          callback(err instanceof Error ? err : new Error(String(err)), undefined);
          return;
        }
        entry.promise.then(
          (made) => {
            entry.context ??= createSecureContext({ cert: made.cert, key: made.key });
            callback(null, entry.context);
          },
          (err: unknown) => callback(err instanceof Error ? err : new Error(String(err)), undefined),
        );
      },
    };
  }

  /**
   * Replaces the CA (and the leaves' key pair) with a new one, on disk first: clients must trust the new certificate.
   * Leaves cached so far are forgotten.
   */
  regenerate(): Promise<void> {
    // One at a time: two at once would interleave their key and certificate writes (key of one, certificate of
    // the other on disk).
    const run = this.#regenerating.then(() => this.#regenerateNow());
    this.#regenerating = run.catch(() => {});
    return run;
  }

  async #regenerateNow(): Promise<void> {
    const authority = await createAuthority(path.dirname(this.certPath), false);
    const defaultLeaf = await makeLeaf(authority, DEFAULT_LEAF_NAMES);
    this.#authority = authority;
    this.#defaultLeaf = defaultLeaf;
    this.#leaves = new Map();
  }

  /** The cache entry for `name`, made (and the oldest dropped past the bound) if missing, moved to the newest end. */
  #entry(name: string): CachedLeaf {
    const key = normalizeName(name);
    const leaves = this.#leaves;
    const cached = leaves.get(key);
    if (cached !== undefined) {
      leaves.delete(key);
      leaves.set(key, cached);
      return cached;
    }
    const promise = makeLeaf(this.#authority, [key]);
    const entry: CachedLeaf = { promise };
    promise.then(
      (leaf) => {
        entry.leaf = leaf;
      },
      () => {
        if (leaves.get(key) === entry) leaves.delete(key);
      },
    );
    leaves.set(key, entry);
    if (leaves.size > MAX_CACHED_LEAVES) leaves.delete(leaves.keys().next().value!);
    return entry;
  }
}

/** `name` as the cache and the certificate hold it: lower case, no trailing dot, no IPv6 brackets; checked. */
function normalizeName(name: string): string {
  let normal = name.trim().toLowerCase();
  if (normal.startsWith("[") && normal.endsWith("]")) normal = normal.slice(1, -1);
  if (isIP(normal) !== 0) return normal;
  if (normal.endsWith(".")) normal = normal.slice(0, -1);
  if (normal.length > MAX_DNS_NAME_LENGTH || !DNS_NAME.test(normal)) throw new BadServerNameError(name);
  return normal;
}

/** Reads the CA from `dir`, or makes it when neither file exists; CAUnreadableError otherwise. */
async function loadOrCreate(dir: string): Promise<Authority> {
  const certPath = path.join(dir, CA_CERT_FILE);
  const keyPath = path.join(dir, CA_KEY_FILE);
  const [certPem, keyPem] = await Promise.all([readIfThere(certPath), readIfThere(keyPath)]);
  if (certPem === undefined && keyPem === undefined) {
    try {
      return await createAuthority(dir, true);
    } catch (err) {
      if (!isErrno(err, "EEXIST")) throw err;
      return await loadAfterRace(certPath, keyPath);
    }
  }
  if (certPem === undefined) throw new CAUnreadableError(certPath, "is missing while its key is there");
  if (keyPem === undefined) throw new CAUnreadableError(keyPath, "is missing while its certificate is there");
  const authority = await parseAuthority(certPath, certPem, keyPath, keyPem);
  await keepPrivate(keyPath);
  return authority;
}

/**
 * Makes the key file readable by its owner only again when others can read or write it (restored from a backup,
 * copied by a sync tool): whoever reads it can sign a certificate for any name that clients trusting the CA accept.
 */
async function keepPrivate(keyPath: string): Promise<void> {
  try {
    if (((await stat(keyPath)).mode & 0o077) !== 0) await chmod(keyPath, KEY_MODE);
  } catch (err) {
    throw new CAUnreadableError(
      keyPath,
      `is readable by others and could not be made private (${err instanceof Error ? err.message : String(err)}): ` +
        `run chmod 600 on it`,
      err,
    );
  }
}

/** Another process made the CA while this one tried to: its key is there; waits for its certificate, then loads. */
async function loadAfterRace(certPath: string, keyPath: string): Promise<Authority> {
  const deadline = Date.now() + CREATE_RACE_WAIT_MS;
  for (;;) {
    const certPem = await readIfThere(certPath);
    if (certPem !== undefined) {
      const keyPem = await readIfThere(keyPath);
      if (keyPem === undefined) throw new CAUnreadableError(keyPath, "is missing while its certificate is there");
      return await parseAuthority(certPath, certPem, keyPath, keyPem);
    }
    if (Date.now() > deadline) throw new CAUnreadableError(certPath, "is missing while its key is there");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The file's text, or undefined when it does not exist; CAUnreadableError when it can't be read. */
async function readIfThere(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    if (isErrno(err, "ENOENT")) return undefined;
    throw new CAUnreadableError(file, `cannot be read (${err instanceof Error ? err.message : String(err)})`, err);
  }
}

/** The CA of these two files, checked: a CA certificate, an ECDSA P-256 key, and the key is the certificate's. */
async function parseAuthority(certPath: string, certPem: string, keyPath: string, keyPem: string): Promise<Authority> {
  let nodeCert: X509Certificate;
  let cert: x509.X509Certificate;
  try {
    nodeCert = new X509Certificate(certPem);
    cert = new x509.X509Certificate(nodeCert.raw);
  } catch (err) {
    throw new CAUnreadableError(certPath, "is damaged: it is not a PEM certificate", err);
  }
  if (!nodeCert.ca) throw new CAUnreadableError(certPath, "is not a CA certificate");
  let keys: webcrypto.CryptoKeyPair;
  try {
    const privateKey = createPrivateKey(keyPem);
    if (privateKey.asymmetricKeyType !== "ec" || privateKey.asymmetricKeyDetails?.namedCurve !== "prime256v1") {
      throw new Error("not an ECDSA P-256 key");
    }
    const publicDer = createPublicKey(privateKey).export({ type: "spki", format: "der" });
    if (!publicDer.equals(nodeCert.publicKey.export({ type: "spki", format: "der" }))) {
      throw new CAUnreadableError(keyPath, `is not the key of the certificate ${certPath}`);
    }
    const pkcs8 = privateKey.export({ type: "pkcs8", format: "der" });
    keys = {
      privateKey: await webcrypto.subtle.importKey("pkcs8", pkcs8, ALGORITHM, true, ["sign"]),
      publicKey: await webcrypto.subtle.importKey("spki", publicDer, ALGORITHM, true, ["verify"]),
    };
  } catch (err) {
    if (err instanceof CAUnreadableError) throw err;
    throw new CAUnreadableError(keyPath, "is damaged: it is not an ECDSA P-256 private key in PEM", err);
  }
  return { keys, cert, certPem, ...(await makeLeafKeys(keys)) };
}

/**
 * Makes a new CA and writes it to `dir` (made if missing): the key first (mode 0600), then the certificate, each
 * atomically. `exclusive`: fail with EEXIST rather than replace a file (first use, where another process may race).
 */
async function createAuthority(dir: string, exclusive: boolean): Promise<Authority> {
  const keys = await webcrypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"]);
  const notBefore = new Date(Date.now() - DAY_MS);
  const notAfter = new Date(notBefore);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + CA_YEARS);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: "CN=Wirescope CA, O=Wirescope",
    notBefore,
    notAfter,
    signingAlgorithm: ALGORITHM,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const certPem = cert.toString("pem") + "\n";
  const keyPem = privateKeyPem(keys.privateKey);
  await mkdir(dir, { recursive: true });
  await writeAtomically(path.join(dir, CA_KEY_FILE), keyPem, exclusive, KEY_MODE);
  await writeAtomically(path.join(dir, CA_CERT_FILE), certPem, exclusive);
  return { keys, cert, certPem, ...(await makeLeafKeys(keys)) };
}

/** The key pair every leaf of the CA of `keys` shares, its private key as PEM, and the leaves' key identifiers. */
async function makeLeafKeys(
  keys: webcrypto.CryptoKeyPair,
): Promise<Pick<Authority, "leafKeys" | "leafKeyPem" | "leafKeyIds">> {
  const leafKeys = await webcrypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"]);
  const leafKeyIds = [
    await x509.SubjectKeyIdentifierExtension.create(leafKeys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(keys.publicKey),
  ];
  return { leafKeys, leafKeyPem: privateKeyPem(leafKeys.privateKey), leafKeyIds };
}

/** A leaf for `names` (normalized; IPs become IP SANs), signed by `authority`, for a TLS server. */
async function makeLeaf(authority: Authority, names: readonly string[]): Promise<Leaf> {
  const notBefore = new Date(Date.now() - DAY_MS);
  const notAfter = new Date(Math.min(notBefore.getTime() + LEAF_DAYS * DAY_MS, authority.cert.notAfter.getTime()));
  const first = names[0]!;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: first.length <= MAX_COMMON_NAME_LENGTH ? `CN=${first}, O=Wirescope` : "O=Wirescope",
    issuer: authority.cert.subjectName,
    notBefore,
    notAfter,
    signingAlgorithm: ALGORITHM,
    publicKey: authority.leafKeys.publicKey,
    signingKey: authority.keys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(names.map((n) => ({ type: isIP(n) === 0 ? "dns" : "ip", value: n }))),
      ...authority.leafKeyIds,
    ],
  });
  return { cert: cert.toString("pem") + "\n", key: authority.leafKeyPem };
}

/** A random positive 128-bit serial number, as hex (RFC 5280 4.1.2.2: unique per CA, at most 20 octets). */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0]! &= 0x7f;
  return bytes.toString("hex");
}

/** A private CryptoKey as PKCS#8 PEM. */
function privateKeyPem(key: webcrypto.CryptoKey): string {
  return KeyObject.from(key).export({ type: "pkcs8", format: "pem" }).toString();
}
