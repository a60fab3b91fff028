/**
 * Endpoints and their description strings (ported from Twisted's internet/test/test_endpoints.py: ParserTests,
 * ServerStringTests, ClientStringTests, SSLClientStringTests, WrappingFactoryTests and the endpoint mixins'
 * connect/listen/cancel cases), first over MemoryReactor, then over real sockets on 127.0.0.1.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tls from "node:tls";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { deferred, waitFor } from "../tests/helpers/net.ts";
import { IPv4Address, UNIXAddress, type Address } from "./address.ts";
import {
  CannotListenError,
  ConnectError,
  ConnectionDone,
  ConnectionRefusedError,
  SSLError,
  UserError,
} from "./errors.ts";
import {
  clientFromString,
  ConnectingCancelledError,
  EndpointParseError,
  NoProtocol,
  parseEndpointString,
  parsePortNumber,
  quoteStringArgument,
  serverFromString,
  SSL4ClientEndpoint,
  SSL4ServerEndpoint,
  TCP4ClientEndpoint,
  TCP4ServerEndpoint,
  TCP6ServerEndpoint,
  UNIXClientEndpoint,
  UNIXServerEndpoint,
} from "./endpoints.ts";
import {
  isHalfCloseable,
  type Bytes,
  type IListeningPort,
  type IProtocol,
  type IProtocolFactory,
  type ListenTCPOptions,
  type TLSInfo,
} from "./interfaces.ts";
import { ClientFactory, Factory, Protocol } from "./protocol.ts";
import { reactor } from "./reactor.ts";
import { MemoryListeningPort, MemoryReactor, StringTransport, type MemoryConnector } from "./testing.ts";
import { Echo } from "./protocols/wire.ts";

const fixtures = path.join(import.meta.dirname, "../tests/fixtures/tls");
const fixture = (name: string) => path.join(fixtures, name);
const q = quoteStringArgument;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A fresh temporary directory, removed after the test. */
function tmpDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wirescope-endpoints-"));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A protocol that records what happens to it (Twisted's TestProtocol). */
class TestProtocol extends Protocol {
  connectionMadeCalls = 0;
  data: Buffer[] = [];
  connectionsLost: Error[] = [];
  lost = deferred<Error>();
  override connectionMade(): void {
    this.connectionMadeCalls += 1;
  }
  override dataReceived(data: Bytes): void {
    this.data.push(Buffer.from(data));
  }
  override connectionLost(reason: Error): void {
    super.connectionLost(reason);
    this.connectionsLost.push(reason);
    this.lost.resolve(reason);
  }
  text(): string {
    return Buffer.concat(this.data).toString();
  }
}

class TestHalfCloseableProtocol extends TestProtocol {
  readLost = false;
  writeLost = false;
  readConnectionLost(): void {
    this.readLost = true;
  }
  writeConnectionLost(): void {
    this.writeLost = true;
  }
}

/** A client factory whose protocols are typed, so `connect()` resolves with a TestProtocol. */
class TestFactory extends ClientFactory {
  built: TestProtocol[] = [];
  override buildProtocol(_addr: Address): TestProtocol {
    const p = new TestProtocol();
    this.built.push(p);
    return p;
  }
}

const peer = new IPv4Address("TCP", "192.0.2.7", 1234);

/** The wrapping factory an endpoint handed to the MemoryReactor, and the connector it got. */
function lastTcpClient(r: MemoryReactor): { factory: IProtocolFactory; connector: MemoryConnector } {
  const client = r.tcpClients.at(-1);
  if (client === undefined) throw new Error("no connectTCP/connectSSL call was recorded");
  return { factory: client.factory, connector: client.connector };
}

/** Completes a MemoryReactor connection attempt the way the real reactor does: build, then connect. */
function completeConnection(factory: IProtocolFactory): IProtocol {
  const p = factory.buildProtocol(peer);
  if (p === null) throw new Error("the wrapping factory built nothing");
  p.makeConnection(new StringTransport());
  return p;
}

function parseError(f: () => unknown): EndpointParseError {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(EndpointParseError);
    return err as EndpointParseError;
  }
  throw new Error("expected an EndpointParseError");
}

/** A PEM file holding the fixture certificate and then its key, like Twisted's server.pem. */
function combinedPem(dir: string): string {
  const file = path.join(dir, "server.pem");
  fs.writeFileSync(
    file,
    Buffer.concat([fs.readFileSync(fixture("server.crt")), fs.readFileSync(fixture("server.key"))]),
  );
  return file;
}

/** A directory of CAs for caCertsDir: the test CA twice (one .PEM), a junk .pem and a non-.pem file. */
function caDir(): string {
  const dir = tmpDir();
  fs.copyFileSync(fixture("ca.crt"), path.join(dir, "ca.pem"));
  fs.copyFileSync(fixture("ca.crt"), path.join(dir, "copy-of-ca.PEM"));
  fs.writeFileSync(path.join(dir, "junk.pem"), "not a certificate");
  fs.copyFileSync(fixture("server.crt"), path.join(dir, "server.crt"));
  return dir;
}

// ---------------------------------------------------------------------------------------------------------------

describe("parseEndpointString (the grammar)", () => {
  it.each([
    ["tcp:80", { type: "tcp", args: ["80"], kwargs: {} }],
    [
      "tcp:host=example.com:port=1234:timeout=7",
      { type: "tcp", args: [], kwargs: { host: "example.com", port: "1234", timeout: "7" } },
    ],
    ["tcp6:8080:interface=\\:\\:1", { type: "tcp6", args: ["8080"], kwargs: { interface: "::1" } }],
    ["unix:foo\\:bar\\=baz\\:qux\\\\", { type: "unix", args: ["foo:bar=baz:qux\\"], kwargs: {} }],
    // Twisted's _parse docstring: keywords and positionals may be interleaved.
    ["a:b:d=1:c", { type: "a", args: ["b", "c"], kwargs: { d: "1" } }],
    // Only the first '=' splits: the rest belong to the value (ParserTests.test_impliedEscape).
    ["unix:address=foo=bar", { type: "unix", args: [], kwargs: { address: "foo=bar" } }],
    ["tcp:80:interface=", { type: "tcp", args: ["80"], kwargs: { interface: "" } }],
    ["tcp::80", { type: "tcp", args: ["", "80"], kwargs: {} }],
    ["tcp:80:backlog=1:backlog=2", { type: "tcp", args: ["80"], kwargs: { backlog: "2" } }],
    ["TCP:Example.COM:80", { type: "TCP", args: ["Example.COM", "80"], kwargs: {} }],
  ])("%s", (description, expected) => {
    expect(parseEndpointString(description)).toEqual(expected);
  });

  it("keeps keys like __proto__ as plain data", () => {
    const { kwargs } = parseEndpointString("tcp:80:__proto__=x:constructor=y");
    expect(Object.getPrototypeOf(kwargs)).toBe(Object.prototype);
    expect(Object.keys(kwargs).sort()).toEqual(["__proto__", "constructor"]);
    expect(kwargs["constructor"]).toBe("y");
  });

  it.each([
    ["", /Empty endpoint description/],
    ["   ", /Empty endpoint description/],
    ["host=a:port=1", /has no type/],
    ["unix:/tmp/x\\", /lone backslash/],
  ])("rejects %j with an actionable message", (description, message) => {
    expect(parseError(() => parseEndpointString(description)).message).toMatch(message);
  });

  it("quoteStringArgument escapes backslashes and colons (ParserTests.test_quoteStringArgument)", () => {
    expect(quoteStringArgument("some : stuff \\")).toBe("some \\: stuff \\\\");
  });

  it("a quoted value always reads back unchanged", () => {
    fc.assert(
      fc.property(fc.string(), (value) => {
        expect(parseEndpointString(`unix:path=${quoteStringArgument(value)}`).kwargs["path"]).toBe(value);
      }),
    );
  });
});

describe("parsePortNumber", () => {
  it("reads ports and says what is wrong otherwise", () => {
    expect(parsePortNumber("0", { allowZero: true })).toBe(0);
    expect(parsePortNumber("65535")).toBe(65535);
    expect(parseError(() => parsePortNumber("70000", { allowZero: true })).message).toBe(
      "port must be an integer 0-65535, got '70000'",
    );
    expect(parseError(() => parsePortNumber("0")).message).toBe("port must be an integer 1-65535, got '0'");
    for (const bad of ["", "-1", "80.5", "0x50", " 80", "http"]) {
      expect(parseError(() => parsePortNumber(bad)).parameter).toBe("port");
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe("serverFromString", () => {
  const r = new MemoryReactor();

  it("tcp: port, backlog and interface (ServerStringTests.test_tcp)", () => {
    const server = serverFromString(r, "tcp:1234:backlog=12:interface=10.0.0.1");
    expect(server).toBeInstanceOf(TCP4ServerEndpoint);
    expect(server).toMatchObject({ reactor: r, port: 1234, backlog: 12, interface: "10.0.0.1" });
  });

  it("tcp: defaults are every IPv4 interface and a backlog of 50 (ParserTests.test_simpleTCP)", () => {
    expect(serverFromString(r, "tcp:80")).toMatchObject({ port: 80, backlog: 50, interface: "" });
    expect(serverFromString(r, "tcp:port=80:interface=lo")).toMatchObject({ port: 80, interface: "lo" });
  });

  it("tcp6: the interface defaults to ::, and \\: escapes the colons of an address", () => {
    const server = serverFromString(r, "tcp6:8080:interface=\\:\\:1");
    expect(server).toBeInstanceOf(TCP6ServerEndpoint);
    expect(server).toMatchObject({ port: 8080, backlog: 50, interface: "::1" });
    expect(serverFromString(r, "tcp6:8080")).toMatchObject({ interface: "::" });
  });

  it("unix: path, backlog, octal mode and lockfile (ServerStringTests.test_unix)", () => {
    const server = serverFromString(r, "unix:/var/foo/bar:backlog=7:mode=0123:lockfile=1");
    expect(server).toBeInstanceOf(UNIXServerEndpoint);
    expect(server).toMatchObject({ address: "/var/foo/bar", backlog: 7, mode: 0o123, wantPID: true });
  });

  it("unix: defaults, mode=0660, lockfile=0 and escapes (ParserTests)", () => {
    expect(serverFromString(r, "unix:/var/run/finger")).toMatchObject({ mode: 0o666, backlog: 50, wantPID: true });
    expect(serverFromString(r, "unix:/var/run/finger:mode=0660")).toMatchObject({ mode: 0o660 });
    expect(serverFromString(r, "unix:/var/run/finger:mode=600")).toMatchObject({ mode: 0o600 });
    expect(serverFromString(r, "unix:/var/run/finger:lockfile=0")).toMatchObject({ wantPID: false });
    expect(serverFromString(r, "unix:foo\\:bar\\=baz\\:qux\\\\")).toMatchObject({ address: "foo:bar=baz:qux\\" });
    expect(serverFromString(r, "unix:address=foo=bar")).toMatchObject({ address: "foo=bar" });
  });

  it("types are case-insensitive", () => {
    expect(serverFromString(r, "TCP:80")).toBeInstanceOf(TCP4ServerEndpoint);
    expect(serverFromString(r, "Tcp6:80")).toBeInstanceOf(TCP6ServerEndpoint);
  });

  it("an unknown type is reported as Twisted reports it (ServerStringTests.test_unknownType)", () => {
    const err = parseError(() => serverFromString(r, "ftl:andromeda/carcosa/hali/2387"));
    expect(err.message).toBe("Unknown endpoint type: 'ftl'");
    expect(err.code).toBe("EndpointParseError");
  });

  it.each([
    ["tcp:70000", "port must be an integer 0-65535, got '70000'", "port"],
    ["tcp:http", "port must be an integer 0-65535, got 'http'", "port"],
    [
      "tcp:interface=127.0.0.1",
      "Missing port for a tcp server endpoint; usage: tcp:PORT[:interface=IP][:backlog=50]",
      "port",
    ],
    ["tcp:80:backlog=many", "backlog must be a non-negative integer, got 'many'", "backlog"],
    [
      "tcp:80:bindAddress=1.2.3.4",
      /^Unknown parameter 'bindAddress' for a tcp server endpoint; known parameters: port, interface, backlog\.$/,
      "bindAddress",
    ],
    ["tcp:80:port=81", /^port is given twice/, "port"],
    ["tcp:80:lo:5:extra", /^Too many positional parameters for a tcp server endpoint \('extra'\)/, null],
    ["unix:/tmp/s:mode=999", "mode must be an octal file mode such as 666 or 0600, got '999'", "mode"],
    ["unix:/tmp/s:lockfile=yes", "lockfile must be 0 or 1, got 'yes'", "lockfile"],
    ["unix:", "The unix socket path is empty.", "address"],
    ["unix:mode=600", /^Missing address for a unix server endpoint/, "address"],
  ])("%s is refused: %s", (description, message, parameter) => {
    const err = parseError(() => serverFromString(r, description));
    if (typeof message === "string") expect(err.message).toBe(message);
    else expect(err.message).toMatch(message);
    expect(err.parameter).toBe(parameter);
  });

  describe("ssl", () => {
    it("loads privateKey and certKey (ServerStringTests.test_ssl)", () => {
      const server = serverFromString(
        r,
        `ssl:1234:backlog=12:privateKey=${q(fixture("server.key"))}:certKey=${q(fixture("server.crt"))}` +
          ":sslmethod=TLSv1_2_METHOD:interface=10.0.0.1",
      );
      expect(server).toBeInstanceOf(SSL4ServerEndpoint);
      const ssl = server as SSL4ServerEndpoint;
      expect(ssl).toMatchObject({ port: 1234, backlog: 12, interface: "10.0.0.1" });
      expect(ssl.tlsOptions.secureProtocol).toBe("TLSv1_2_method");
      const cert = new crypto.X509Certificate(String(ssl.tlsOptions.cert));
      expect(cert.subject).toBe("CN=localhost");
      expect(cert.checkPrivateKey(crypto.createPrivateKey(String(ssl.tlsOptions.key)))).toBe(true);
      // Node accepts them, as Twisted checks that the context can be made.
      expect(() => tls.createSecureContext(ssl.tlsOptions)).not.toThrow();
    });

    it("certKey defaults to the privateKey file, which then holds both (test_sslWithDefaults)", () => {
      const pem = combinedPem(tmpDir());
      const server = serverFromString(r, `ssl:4321:privateKey=${q(pem)}`) as SSL4ServerEndpoint;
      expect(server).toMatchObject({ port: 4321, backlog: 50, interface: "" });
      expect(new crypto.X509Certificate(String(server.tlsOptions.cert)).subject).toBe("CN=localhost");
      expect(() => tls.createSecureContext(server.tlsOptions)).not.toThrow();
    });

    it("privateKey defaults to server.pem in the working directory, as in Twisted", () => {
      const dir = tmpDir();
      combinedPem(dir);
      const cwd = process.cwd();
      process.chdir(dir);
      try {
        expect(serverFromString(r, "ssl:443")).toBeInstanceOf(SSL4ServerEndpoint);
      } finally {
        process.chdir(cwd);
      }
      const err = parseError(() => serverFromString(r, "ssl:443"));
      expect(err.message).toMatch(/^Can't read the privateKey file 'server\.pem'/);
      expect(err.parameter).toBe("privateKey");
    });

    it("extraCertChain is appended to the certificate, in order (test_sslChainLoads)", () => {
      const server = serverFromString(
        r,
        `ssl:1234:privateKey=${q(fixture("server.key"))}:certKey=${q(fixture("server.crt"))}` +
          `:extraCertChain=${q(fixture("ca.crt"))}`,
      ) as SSL4ServerEndpoint;
      const blocks = String(server.tlsOptions.cert).match(
        /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g,
      );
      expect(blocks?.map((b) => new crypto.X509Certificate(b).subject)).toEqual([
        "CN=localhost",
        "CN=Wirescope Test CA",
      ]);
    });

    it("an extraCertChain without certificates is refused (test_sslChainFileMustContainCert)", () => {
      const empty = path.join(tmpDir(), "empty.pem");
      fs.writeFileSync(empty, "");
      const err = parseError(() =>
        serverFromString(r, `ssl:1234:privateKey=${q(combinedPem(tmpDir()))}:extraCertChain=${q(empty)}`),
      );
      expect(err.message).toBe(`Specified chain file '${empty}' doesn't contain any valid certificates in PEM format.`);
    });

    it("dhParameters is read and passed as Node's dhparam", () => {
      const dh = path.join(tmpDir(), "dh.pem");
      fs.writeFileSync(dh, "-----BEGIN DH PARAMETERS-----\n...\n-----END DH PARAMETERS-----\n");
      const server = serverFromString(
        r,
        `ssl:4321:privateKey=${q(combinedPem(tmpDir()))}:dhParameters=${q(dh)}`,
      ) as SSL4ServerEndpoint;
      expect(Buffer.from(server.tlsOptions.dhparam as Buffer).toString()).toContain("DH PARAMETERS");
    });

    it("reports unreadable, keyless, certificate-less and mismatched files by parameter", () => {
      const dir = tmpDir();
      const missing = path.join(dir, "missing.pem");
      expect(parseError(() => serverFromString(r, `ssl:443:privateKey=${q(missing)}`))).toMatchObject({
        parameter: "privateKey",
        message: expect.stringMatching(/^Can't read the privateKey file '.*missing\.pem': ENOENT/),
      });
      expect(parseError(() => serverFromString(r, `ssl:443:privateKey=${q(fixture("server.crt"))}`)).parameter).toBe(
        "privateKey",
      );
      expect(
        parseError(() =>
          serverFromString(r, `ssl:443:privateKey=${q(fixture("server.key"))}:certKey=${q(fixture("server.key"))}`),
        ).message,
      ).toMatch(/certKey file .* holds no PEM certificate/);
      const other = path.join(dir, "other.key");
      const { privateKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
      fs.writeFileSync(other, privateKey.export({ type: "pkcs8", format: "pem" }));
      expect(
        parseError(() => serverFromString(r, `ssl:443:privateKey=${q(other)}:certKey=${q(fixture("server.crt"))}`))
          .message,
      ).toMatch(/doesn't match the private key/);
      expect(
        parseError(() => serverFromString(r, `ssl:443:privateKey=${q(combinedPem(dir))}:sslmethod=SSLv2_METHOD`))
          .message,
      ).toMatch(/^sslmethod must be one of TLS_METHOD, .*got 'SSLv2_METHOD'$/);
    });
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe("clientFromString", () => {
  const r = new MemoryReactor();

  it("tcp with keywords (ClientStringTests.test_tcp)", () => {
    const client = clientFromString(r, "tcp:host=example.com:port=1234:timeout=7:bindAddress=10.0.0.2");
    expect(client).toBeInstanceOf(TCP4ClientEndpoint);
    expect(client).toMatchObject({
      reactor: r,
      host: "example.com",
      port: 1234,
      timeout: 7,
      bindAddress: ["10.0.0.2", 0],
    });
  });

  it.each([
    "tcp:example.com:1234:timeout=7:bindAddress=10.0.0.2",
    "tcp:example.com:port=1234:timeout=7:bindAddress=10.0.0.2",
    "tcp:host=example.com:1234:timeout=7:bindAddress=10.0.0.2",
    "TCP:example.com:1234:timeout=7:bindAddress=10.0.0.2",
  ])("tcp with positionals: %s (test_tcpPositionalArgs, test_tcp*PositionalArg)", (description) => {
    expect(clientFromString(r, description)).toMatchObject({ host: "example.com", port: 1234, timeout: 7 });
  });

  it("tcp defaults: a 30 s timeout and no bind address (test_tcpDefaults)", () => {
    expect(clientFromString(r, "tcp:host=example.com:port=1234")).toMatchObject({ timeout: 30, bindAddress: null });
    expect(clientFromString(r, "tcp:example.com:80:timeout=0.5")).toMatchObject({ timeout: 0.5 });
  });

  it("unix with keywords, lockfile and defaults (test_unix, test_unixDefaults, test_unixPathPositionalArg)", () => {
    const client = clientFromString(r, "unix:path=/var/foo/bar:lockfile=1:timeout=9");
    expect(client).toBeInstanceOf(UNIXClientEndpoint);
    expect(client).toMatchObject({ path: "/var/foo/bar", timeout: 9, checkPID: true });
    expect(clientFromString(r, "unix:path=/var/foo/bar")).toMatchObject({ timeout: 30, checkPID: false });
    expect(clientFromString(r, "unix:/var/foo/bar:lockfile=1:timeout=9")).toMatchObject({
      path: "/var/foo/bar",
      timeout: 9,
      checkPID: true,
    });
    expect(clientFromString(r, "UNIX:/var/foo/bar:checkPID=1")).toMatchObject({ checkPID: true });
  });

  it("an unknown type, and tcp6 which Twisted has no client parser for (test_unknownType)", () => {
    expect(parseError(() => clientFromString(r, "ftl:andromeda/carcosa/hali/2387")).message).toBe(
      "Unknown endpoint type: 'ftl'",
    );
    expect(parseError(() => clientFromString(r, "tcp6:\\:\\:1:80")).message).toBe("Unknown endpoint type: 'tcp6'");
  });

  it.each([
    [
      "tcp:example.com",
      /^Missing port for a tcp client endpoint; usage: tcp:HOST:PORT or tcp:host=HOST:port=PORT$/,
      "port",
    ],
    ["tcp:port=80", /^Missing host for a tcp client endpoint/, "host"],
    ["tcp:example.com:70000", /^port must be an integer 1-65535, got '70000'$/, "port"],
    ["tcp:example.com:0", /^port must be an integer 1-65535, got '0'$/, "port"],
    ["tcp::80", /^host is empty/, "host"],
    ["tcp:example.com:80:timeout=soon", /^timeout must be a number of seconds, got 'soon'$/, "timeout"],
    ["tcp:example.com:80:interface=lo", /^Unknown parameter 'interface' for a tcp client endpoint/, "interface"],
    ["tcp:example.com:80:port=81", /^port is given twice/, "port"],
    ["tcp:a:80:extra", /^Too many positional parameters for a tcp client endpoint/, null],
    ["unix:/a:/b", /^Too many positional parameters for a unix client endpoint \('\/b'\)/, null],
    ["unix:timeout=3", /^Missing path for a unix client endpoint/, "path"],
    ["ssl:example.com:443:caCertsDir=/nonexistent/dir", /^Can't read the caCertsDir directory/, "caCertsDir"],
  ])("%s is refused", (description, message, parameter) => {
    const err = parseError(() => clientFromString(r, description));
    expect(err.message).toMatch(message);
    expect(err.parameter).toBe(parameter);
  });

  describe("ssl", () => {
    it("client certificate, CAs from caCertsDir, bindAddress and timeout (SSLClientStringTests.test_ssl)", () => {
      const client = clientFromString(
        r,
        `ssl:host=example.net:port=4321:privateKey=${q(fixture("server.key"))}:certKey=${q(fixture("server.crt"))}` +
          `:bindAddress=10.0.0.3:timeout=3:caCertsDir=${q(caDir())}`,
      );
      expect(client).toBeInstanceOf(SSL4ClientEndpoint);
      const ssl = client as SSL4ClientEndpoint;
      expect(ssl).toMatchObject({ host: "example.net", port: 4321, timeout: 3, bindAddress: ["10.0.0.3", 0] });
      // Only *.pem files (any case), unparseable ones skipped, duplicates dropped: the test CA, once.
      const cas = ssl.tlsOptions.ca as string[];
      expect(cas.map((pem) => new crypto.X509Certificate(pem).subject)).toEqual(["CN=Wirescope Test CA"]);
      expect(new crypto.X509Certificate(String(ssl.tlsOptions.cert)).subject).toBe("CN=localhost");
      expect(ssl.tlsOptions.key).toMatch(/^-----BEGIN PRIVATE KEY-----/);
      // Without hostname: the chain is checked against those CAs, no name is.
      expect(ssl.tlsOptions.rejectUnauthorized).toBe(true);
      expect(ssl.tlsOptions.checkServerIdentity?.("example.net", {} as tls.PeerCertificate)).toBeUndefined();
      expect(() => tls.createSecureContext(ssl.tlsOptions)).not.toThrow();
    });

    it("without extra parameters it neither verifies nor presents a certificate (test_sslWithDefaults, test_sslSimple)", () => {
      const client = clientFromString(r, "ssl:example.net:4321") as SSL4ClientEndpoint;
      expect(client).toMatchObject({ host: "example.net", port: 4321, timeout: 30, bindAddress: null });
      expect(client.tlsOptions).toEqual({ rejectUnauthorized: false });
    });

    it("hostname turns verification on, against that name and the default CAs", () => {
      const client = clientFromString(r, "ssl:10.0.0.9:443:hostname=example.net") as SSL4ClientEndpoint;
      expect(client.tlsOptions).toEqual({ servername: "example.net", rejectUnauthorized: true });
    });

    it("an IP address as hostname is checked against the certificate without being sent as SNI", () => {
      const client = clientFromString(r, "ssl:example.net:443:hostname=127.0.0.1") as SSL4ClientEndpoint;
      expect(client.tlsOptions.servername).toBeUndefined();
      expect(client.tlsOptions.rejectUnauthorized).toBe(true);
      // The certificate is for 127.0.0.1: the check passes whatever host was connected to, as it checks hostname.
      const cert = new crypto.X509Certificate(fs.readFileSync(fixture("server.crt"))).toLegacyObject();
      expect(client.tlsOptions.checkServerIdentity?.("example.net", cert)).toBeUndefined();
      const other = clientFromString(r, "ssl:127.0.0.1:443:hostname=10.0.0.9") as SSL4ClientEndpoint;
      expect(other.tlsOptions.checkServerIdentity?.("127.0.0.1", cert)).toBeInstanceOf(Error);
    });

    it("certKey alone gives both certificate and key; privateKey alone is refused", () => {
      const client = clientFromString(
        r,
        `ssl:example.net:443:certKey=${q(combinedPem(tmpDir()))}`,
      ) as SSL4ClientEndpoint;
      expect(client.tlsOptions.key).toMatch(/PRIVATE KEY/);
      expect(client.tlsOptions.cert).toMatch(/CERTIFICATE/);
      expect(
        parseError(() => clientFromString(r, `ssl:example.net:443:privateKey=${q(fixture("server.key"))}`)).parameter,
      ).toBe("privateKey");
    });
  });
});

// ---------------------------------------------------------------------------------------------------------------

/** A reactor whose listenTCP binds nothing: its port's `listening` rejects, as Node's does on EADDRINUSE. */
class BusyPortReactor extends MemoryReactor {
  override listenTCP(port: number, factory: IProtocolFactory, _options?: ListenTCPOptions): MemoryListeningPort {
    const failure = new CannotListenError("", port, new Error("EADDRINUSE: address already in use"));
    return new (class extends MemoryListeningPort {
      override readonly listening = Promise.reject(failure);
    })(new IPv4Address("TCP", "0.0.0.0", port), factory);
  }
}

/** A reactor whose listen and connect calls throw (Twisted's RaisingMemoryReactor). */
class RaisingReactor extends MemoryReactor {
  constructor(private readonly error: Error) {
    super();
  }
  override listenTCP(): MemoryListeningPort {
    throw this.error;
  }
  override connectTCP(): MemoryConnector {
    throw this.error;
  }
}

describe("server endpoints (over MemoryReactor)", () => {
  it("listen() calls listenTCP with the endpoint's arguments and resolves with the port", async () => {
    const r = new MemoryReactor();
    const factory = Factory.forProtocol(Protocol);
    const port = await serverFromString(r, "tcp:1234:interface=127.0.0.1:backlog=100").listen(factory);
    expect(r.tcpServers).toHaveLength(1);
    expect(r.tcpServers[0]).toMatchObject({ port: 1234, factory, backlog: 100, interface: "127.0.0.1", tls: false });
    expect(port).toBe(r.tcpServers[0]!.listeningPort);
    expect(port.getHost()).toEqual(new IPv4Address("TCP", "127.0.0.1", 1234));
  });

  it("ssl and unix listen through listenSSL and listenUNIX", async () => {
    const r = new MemoryReactor();
    const factory = Factory.forProtocol(Protocol);
    await serverFromString(r, `ssl:443:privateKey=${q(combinedPem(tmpDir()))}`).listen(factory);
    expect(r.tcpServers[0]).toMatchObject({ port: 443, tls: true, backlog: 50, interface: "" });
    const port = await serverFromString(r, "unix:/tmp/wirescope.sock:mode=600").listen(factory);
    expect(r.unixServers[0]).toMatchObject({ path: "/tmp/wirescope.sock", mode: 0o600, factory });
    expect(port.getHost()).toEqual(new UNIXAddress("/tmp/wirescope.sock"));
  });

  it("a port that fails to bind rejects with its CannotListenError (test_endpointListenFailure)", async () => {
    const err = await serverFromString(new BusyPortReactor(), "tcp:80")
      .listen(new Factory())
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CannotListenError);
    expect((err as Error).message).toMatch(/EADDRINUSE/);
  });

  it("a reactor that throws: a CannotListenError passes as is, anything else is wrapped in one", async () => {
    const cannot = new CannotListenError("", 80, new Error("EACCES"));
    await expect(new TCP4ServerEndpoint(new RaisingReactor(cannot), 80).listen(new Factory())).rejects.toBe(cannot);
    const range = new RangeError("port must be an integer from 0 to 65535");
    const err = await new TCP4ServerEndpoint(new RaisingReactor(range), 80)
      .listen(new Factory())
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CannotListenError);
    expect((err as CannotListenError).cause).toBe(range);
  });
});

describe("client endpoints (over MemoryReactor)", () => {
  it("connect() resolves with the user's protocol once its connectionMade ran (test_endpointConnectSuccess)", async () => {
    const r = new MemoryReactor();
    const factory = new TestFactory();
    const d = clientFromString(r, "tcp:example.com:1234:timeout=10:bindAddress=10.0.0.2").connect(factory);
    expect(r.tcpClients[0]).toMatchObject({
      host: "example.com",
      port: 1234,
      timeout: 10,
      bindAddress: ["10.0.0.2", 0],
      tls: false,
    });
    const wrapper = completeConnection(lastTcpClient(r).factory);
    const proto = await d;
    expect(proto).toBe(factory.built[0]);
    expect(proto.connectionMadeCalls).toBe(1);
    expect(proto.transport).toBe((wrapper as Protocol).transport);
  });

  it("ssl and unix connect through connectSSL and connectUNIX", async () => {
    const r = new MemoryReactor();
    const ssl = clientFromString(r, "ssl:example.com:443:timeout=5").connect(new TestFactory());
    expect(r.tcpClients[0]).toMatchObject({ host: "example.com", port: 443, timeout: 5, tls: true });
    completeConnection(lastTcpClient(r).factory);
    await expect(ssl).resolves.toBeInstanceOf(TestProtocol);

    const unix = clientFromString(r, "unix:/tmp/wirescope.sock:timeout=9").connect(new TestFactory());
    expect(r.unixClients[0]).toMatchObject({ path: "/tmp/wirescope.sock", timeout: 9 });
    completeConnection(r.unixClients[0]!.factory);
    await expect(unix).resolves.toBeInstanceOf(TestProtocol);
  });

  it("rejects with the reason of clientConnectionFailed (test_clientConnectionFailed)", async () => {
    const r = new MemoryReactor();
    const d = new TCP4ClientEndpoint(r, "example.com", 80).connect(new TestFactory());
    const { factory, connector } = lastTcpClient(r);
    const refused = new ConnectionRefusedError();
    (factory as ClientFactory).clientConnectionFailed(connector, refused);
    await expect(d).rejects.toBe(refused);
  });

  it("rejects when the reactor's connect throws (test_endpointConnectFailure)", async () => {
    const error = new ConnectError("Connection Failed");
    await expect(new TCP4ClientEndpoint(new RaisingReactor(error), "h", 80).connect(new TestFactory())).rejects.toBe(
      error,
    );
  });

  it("rejects with NoProtocol when buildProtocol returns null, and builds nothing (test_buildNoneProtocol)", async () => {
    const r = new MemoryReactor();
    const none = new ClientFactory();
    none.buildProtocol = () => null;
    const d = new TCP4ClientEndpoint(r, "example.com", 80).connect(none);
    expect(lastTcpClient(r).factory.buildProtocol(peer)).toBeNull();
    await expect(d).rejects.toBeInstanceOf(NoProtocol);
  });

  it("rejects with what buildProtocol threw (test_failedBuildProtocol)", async () => {
    const r = new MemoryReactor();
    const bogus = new ClientFactory();
    bogus.buildProtocol = () => {
      throw new Error("My protocol is poorly defined.");
    };
    const d = new TCP4ClientEndpoint(r, "example.com", 80).connect(bogus);
    expect(lastTcpClient(r).factory.buildProtocol(peer)).toBeNull();
    await expect(d).rejects.toThrow("My protocol is poorly defined.");
  });

  it("rejects with what the user's connectionMade threw, and lets the transport see it", async () => {
    const r = new MemoryReactor();
    class Grumpy extends TestProtocol {
      override connectionMade(): void {
        throw new Error("not today");
      }
    }
    const d = new TCP4ClientEndpoint(r, "example.com", 80).connect(Factory.forProtocol(Grumpy));
    const wrapper = lastTcpClient(r).factory.buildProtocol(peer)!;
    expect(() => wrapper.makeConnection(new StringTransport())).toThrow("not today");
    await expect(d).rejects.toThrow("not today");
  });

  it("passes doStart/doStop to the user's factory (test_doStart, test_doStop)", () => {
    const r = new MemoryReactor();
    const factory = new TestFactory();
    void new TCP4ClientEndpoint(r, "example.com", 80).connect(factory);
    const wrapper = lastTcpClient(r).factory;
    wrapper.doStart();
    expect(factory.numPorts).toBe(1);
    wrapper.doStop();
    expect(factory.numPorts).toBe(0);
  });

  it("passes data and the loss to the user's protocol (test_wrappedProtocolDataReceived, ...ConnectionLost)", async () => {
    const r = new MemoryReactor();
    const d = new TCP4ClientEndpoint(r, "example.com", 80).connect(new TestFactory());
    const wrapper = completeConnection(lastTcpClient(r).factory);
    const proto = await d;
    wrapper.dataReceived(Buffer.from("foo"));
    wrapper.dataReceived(Buffer.from("bar"));
    expect(proto.text()).toBe("foobar");
    const done = new ConnectionDone();
    wrapper.connectionLost(done);
    expect(proto.connectionsLost).toEqual([done]);
  });

  it("the wrapper is half-closeable exactly when the user's protocol is (test_wrappingProtocol*HalfCloseable)", async () => {
    const r = new MemoryReactor();
    void new TCP4ClientEndpoint(r, "h", 80).connect(new TestFactory());
    expect(isHalfCloseable(lastTcpClient(r).factory.buildProtocol(peer)!)).toBe(false);

    const d = new TCP4ClientEndpoint(r, "h", 80).connect(Factory.forProtocol(TestHalfCloseableProtocol));
    const wrapper = completeConnection(lastTcpClient(r).factory);
    expect(isHalfCloseable(wrapper)).toBe(true);
    const proto = (await d) as TestHalfCloseableProtocol;
    if (!isHalfCloseable(wrapper)) throw new Error("unreachable");
    wrapper.readConnectionLost();
    wrapper.writeConnectionLost();
    expect([proto.readLost, proto.writeLost]).toEqual([true, true]);
  });

  describe("cancel (AbortSignal)", () => {
    it("aborting while connecting stops the connector and rejects with ConnectingCancelledError (test_endpointConnectingCancelled)", async () => {
      const r = new MemoryReactor();
      const abort = new AbortController();
      const d = new TCP4ClientEndpoint(r, "example.com", 1234).connect(new TestFactory(), { signal: abort.signal });
      const { factory, connector } = lastTcpClient(r);
      expect(connector.state).toBe("connecting");
      abort.abort();
      expect(connector.state).toBe("disconnected");
      // The connector then reports the stop, as the real one does; the promise has settled already.
      (factory as ClientFactory).clientConnectionFailed(connector, new UserError());
      const err = await d.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectingCancelledError);
      expect((err as ConnectingCancelledError).code).toBe("ConnectingCancelledError");
      expect((err as ConnectingCancelledError).address).toEqual(new IPv4Address("TCP", "example.com", 1234));
      expect((err as Error).cause).toBe(abort.signal.reason);
    });

    it("an already aborted signal rejects without connecting", async () => {
      const r = new MemoryReactor();
      const d = new UNIXClientEndpoint(r, "/tmp/s").connect(new TestFactory(), { signal: AbortSignal.abort() });
      const err = await d.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectingCancelledError);
      expect((err as ConnectingCancelledError).address).toEqual(new UNIXAddress("/tmp/s"));
      expect(r.unixClients).toHaveLength(0);
    });

    it("aborting after the connection was made changes nothing", async () => {
      const r = new MemoryReactor();
      const abort = new AbortController();
      const d = new TCP4ClientEndpoint(r, "example.com", 80).connect(new TestFactory(), { signal: abort.signal });
      completeConnection(lastTcpClient(r).factory);
      const proto = await d;
      abort.abort();
      expect(lastTcpClient(r).connector.state).toBe("connecting"); // stopConnecting was not called
      expect(proto.connectionsLost).toEqual([]);
    });
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe("endpoints over real sockets (127.0.0.1)", () => {
  /** Listens with an echo server from a description; stopped after the test. */
  async function echoServer(description: string): Promise<IListeningPort> {
    const port = await serverFromString(reactor, description).listen(Factory.forProtocol(Echo));
    cleanups.push(() => port.stopListening());
    return port;
  }

  function portNumber(port: IListeningPort): number {
    const host = port.getHost();
    if (!(host instanceof IPv4Address)) throw new Error(`not an IPv4 port: ${host.toString()}`);
    return host.port;
  }

  /** Sends `text` through a connected client, waits for the echo, then closes cleanly. */
  async function roundTrip(client: TestProtocol, text: string): Promise<void> {
    client.transport.write(Buffer.from(text));
    await waitFor(() => client.text() === text, `the echo of '${text}'`);
    client.transport.loseConnection();
    expect(await client.lost.promise).toBeInstanceOf(ConnectionDone);
  }

  it("tcp: a client from a string talks to a server from a string", async () => {
    const port = await echoServer("tcp:0:interface=127.0.0.1");
    const factory = new TestFactory();
    const client = await clientFromString(reactor, `tcp:127.0.0.1:${portNumber(port)}`).connect(factory);
    expect(client.connectionMadeCalls).toBe(1);
    expect(client.transport.getPeer()).toEqual(new IPv4Address("TCP", "127.0.0.1", portNumber(port)));
    expect(factory.numPorts).toBe(1);
    await roundTrip(client, "hello, endpoints");
    await waitFor(() => factory.numPorts === 0, "the factory's doStop after the loss");
  });

  it("tcp: a refused connection rejects with ConnectionRefusedError", async () => {
    const port = await serverFromString(reactor, "tcp:0:interface=127.0.0.1").listen(Factory.forProtocol(Echo));
    const closed = portNumber(port);
    await port.stopListening();
    const factory = new TestFactory();
    const err = await clientFromString(reactor, `tcp:host=127.0.0.1:port=${closed}`)
      .connect(factory)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionRefusedError);
    expect(factory.built).toEqual([]);
    expect(factory.numPorts).toBe(0);
  });

  it("tcp: listening on a port in use rejects with CannotListenError", async () => {
    const port = await echoServer("tcp:0:interface=127.0.0.1");
    const err = await serverFromString(reactor, `tcp:${portNumber(port)}:interface=127.0.0.1`)
      .listen(Factory.forProtocol(Echo))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CannotListenError);
  });

  it("tcp: aborting right after connect() cancels the attempt before a connection is made", async () => {
    const server = new Factory();
    server.protocol = Echo;
    const port = await serverFromString(reactor, "tcp:0:interface=127.0.0.1").listen(server);
    cleanups.push(() => port.stopListening());
    const accepted: Address[] = [];
    const build = server.buildProtocol.bind(server);
    server.buildProtocol = (addr) => (accepted.push(addr), build(addr));
    const factory = new TestFactory();
    const abort = new AbortController();
    const d = clientFromString(reactor, `tcp:127.0.0.1:${portNumber(port)}`).connect(factory, { signal: abort.signal });
    abort.abort();
    await expect(d).rejects.toBeInstanceOf(ConnectingCancelledError);
    expect(factory.numPorts).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(factory.built).toEqual([]);
    expect(accepted).toEqual([]);
  });

  describe("ssl", () => {
    const serverDescription = () =>
      `ssl:0:interface=127.0.0.1:privateKey=${q(fixture("server.key"))}:certKey=${q(fixture("server.crt"))}`;

    it("without hostname: connects without verification (Twisted's old default)", async () => {
      const port = await echoServer(serverDescription());
      const client = await clientFromString(reactor, `ssl:127.0.0.1:${portNumber(port)}`).connect(new TestFactory());
      await roundTrip(client, "hello over tls");
    });

    it("the user's protocol hears handshakeCompleted through the endpoint's wrapper", async () => {
      const port = await echoServer(serverDescription());
      const handshakes: TLSInfo[] = [];
      class Listening extends TestProtocol {
        handshakeCompleted(info: TLSInfo): void {
          handshakes.push(info);
        }
      }
      const factory = new TestFactory();
      factory.buildProtocol = () => new Listening();
      const client = await clientFromString(reactor, `ssl:127.0.0.1:${portNumber(port)}`).connect(factory);
      await waitFor(() => handshakes.length === 1, "handshakeCompleted");
      expect(handshakes[0]).toMatchObject({ version: "TLSv1.3", servername: null });
      await roundTrip(client, "heard");
    });

    it("with hostname and caCertsDir: verifies the certificate for that name", async () => {
      const port = await echoServer(serverDescription());
      const client = await clientFromString(
        reactor,
        `ssl:host=127.0.0.1:port=${portNumber(port)}:hostname=localhost:caCertsDir=${q(caDir())}`,
      ).connect(new TestFactory());
      await roundTrip(client, "verified");
    });

    it("with an IP address as hostname: verifies the certificate for that address", async () => {
      const port = await echoServer(serverDescription());
      const client = await clientFromString(
        reactor,
        `ssl:127.0.0.1:${portNumber(port)}:hostname=127.0.0.1:caCertsDir=${q(caDir())}`,
      ).connect(new TestFactory());
      await roundTrip(client, "verified by address");
    });

    it("with hostname but no CA that signed the certificate: rejects with SSLError", async () => {
      const port = await echoServer(serverDescription());
      const factory = new TestFactory();
      const err = await clientFromString(reactor, `ssl:127.0.0.1:${portNumber(port)}:hostname=localhost`)
        .connect(factory)
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SSLError);
      expect(factory.built).toEqual([]);
    });

    it("with a hostname the certificate isn't for: rejects with SSLError", async () => {
      const port = await echoServer(serverDescription());
      const err = await clientFromString(
        reactor,
        `ssl:127.0.0.1:${portNumber(port)}:hostname=wrong.example:caCertsDir=${q(caDir())}`,
      )
        .connect(new TestFactory())
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SSLError);
      expect((err as Error).message).toMatch(/wrong\.example|altnames|Hostname/i);
    });

    it("caCertsDir without hostname: the chain is verified, the name is not", async () => {
      const port = await echoServer(serverDescription());
      const client = await clientFromString(
        reactor,
        `ssl:127.0.0.1:${portNumber(port)}:caCertsDir=${q(caDir())}`,
      ).connect(new TestFactory());
      await roundTrip(client, "chain only");

      const noCA = tmpDir();
      fs.writeFileSync(path.join(noCA, "junk.pem"), "nothing");
      const err = await clientFromString(reactor, `ssl:127.0.0.1:${portNumber(port)}:caCertsDir=${q(noCA)}`)
        .connect(new TestFactory())
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SSLError);
    });
  });

  it("unix: a socket in a temporary directory, with its mode", async () => {
    const socketPath = path.join(tmpDir(), "echo:1.sock");
    const port = await echoServer(`unix:${q(socketPath)}:mode=600`);
    expect(port.getHost()).toEqual(new UNIXAddress(socketPath));
    expect(fs.statSync(socketPath).mode & 0o777).toBe(0o600);
    const client = await clientFromString(reactor, `unix:${q(socketPath)}:timeout=5`).connect(new TestFactory());
    await roundTrip(client, "hello over unix");
  });

  it("unix: nothing listening rejects with a ConnectError", async () => {
    const socketPath = path.join(tmpDir(), "nobody.sock");
    const err = await clientFromString(reactor, `unix:${q(socketPath)}`)
      .connect(new TestFactory())
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
  });
});
