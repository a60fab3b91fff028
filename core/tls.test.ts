/**
 * connectSSL / listenSSL over real TLS on 127.0.0.1, with the test CA in tests/fixtures/tls.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { deferred, waitFor } from "../tests/helpers/net.ts";
import type { IPv4Address } from "./address.ts";
import { ConnectionDone, SSLError } from "./errors.ts";
import { isTLSTransport, type Bytes, type IConnector, type TLSInfo } from "./interfaces.ts";
import { ClientFactory, Factory, Protocol } from "./protocol.ts";
import { reactor } from "./reactor.ts";
import { Echo } from "./protocols/wire.ts";

const dir = path.join(import.meta.dirname, "../tests/fixtures/tls");
const read = (name: string) => fs.readFileSync(path.join(dir, name));
const serverTLS = { key: read("server.key"), cert: read("server.crt") };

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

class Client extends Protocol {
  got = "";
  override connectionMade(): void {
    this.transport.write(Buffer.from("hello over tls"));
  }
  override dataReceived(data: Bytes): void {
    this.got += Buffer.from(data).toString();
    if (this.got === "hello over tls") this.transport.loseConnection();
  }
}

async function tlsServer(): Promise<number> {
  const port = reactor.listenSSL(0, Factory.forProtocol(Echo), serverTLS, { interface: "127.0.0.1" });
  cleanups.push(() => port.stopListening());
  await port.listening;
  return (port.getHost() as IPv4Address).port;
}

function clientFactory() {
  const lost = deferred<Error>();
  const failed = deferred<Error>();
  let protocol: Client | null = null;
  const f = new ClientFactory();
  f.buildProtocol = () => (protocol = new Client());
  f.clientConnectionLost = (_c: IConnector, reason: Error) => lost.resolve(reason);
  f.clientConnectionFailed = (_c: IConnector, reason: Error) => failed.resolve(reason);
  return { f, lost, failed, protocol: () => protocol };
}

describe("TLS", () => {
  it("echoes through a verified TLS connection (servername and the test CA)", async () => {
    const portNumber = await tlsServer();
    const c = clientFactory();
    reactor.connectSSL("127.0.0.1", portNumber, c.f, { ca: read("ca.crt"), servername: "localhost" });
    expect(await c.lost.promise).toBeInstanceOf(ConnectionDone);
    expect(c.protocol()!.got).toBe("hello over tls");
  });

  it("fails with SSLError when the certificate can't be verified", async () => {
    const portNumber = await tlsServer();
    const c = clientFactory();
    reactor.connectSSL("127.0.0.1", portNumber, c.f, { servername: "localhost" });
    const reason = await c.failed.promise;
    expect(reason).toBeInstanceOf(SSLError);
    expect(reason.message).toMatch(/self[- ]signed|unable to verify|certificate/i);
    expect(c.protocol()).toBeNull();
  });

  it("connects without verification when asked (rejectUnauthorized: false)", async () => {
    const portNumber = await tlsServer();
    const c = clientFactory();
    reactor.connectSSL("127.0.0.1", portNumber, c.f, { rejectUnauthorized: false });
    await c.lost.promise;
    await waitFor(() => c.protocol()?.got === "hello over tls", "echo");
  });

  it("tells both sides of a connectSSL / listenSSL connection that the handshake completed, and with what", async () => {
    class Listening extends Protocol {
      events: string[] = [];
      info: TLSInfo | null = null;
      override connectionMade(): void {
        this.events.push("connectionMade");
      }
      handshakeCompleted(info: TLSInfo): void {
        this.events.push("handshakeCompleted");
        this.info = info;
        if (this.factory instanceof ClientFactory) this.transport.loseConnection();
      }
    }
    const servers: Listening[] = [];
    const sf = new Factory();
    sf.buildProtocol = () => {
      servers.push(new Listening());
      return servers[0];
    };
    const port = reactor.listenSSL(0, sf, { ...serverTLS, ALPNProtocols: ["wirescope/1"] }, { interface: "127.0.0.1" });
    cleanups.push(() => port.stopListening());
    await port.listening;
    const client = new Listening();
    const lost = deferred<Error>();
    const cf = new ClientFactory();
    cf.buildProtocol = () => {
      client.factory = cf;
      return client;
    };
    cf.clientConnectionLost = (_c: IConnector, reason: Error) => lost.resolve(reason);
    const tlsOptions = { ca: read("ca.crt"), servername: "localhost", ALPNProtocols: ["wirescope/1"] };
    reactor.connectSSL("127.0.0.1", (port.getHost() as IPv4Address).port, cf, tlsOptions);
    expect(await lost.promise).toBeInstanceOf(ConnectionDone);
    expect(client.events).toEqual(["connectionMade", "handshakeCompleted"]);
    expect(client.info).toMatchObject({ alpnProtocol: "wirescope/1", servername: "localhost" });
    expect(client.info?.cipher).toMatch(/^TLS_|-/);
    await waitFor(() => servers[0]?.info != null, "the server's handshake");
    expect(servers[0].events).toEqual(["connectionMade", "handshakeCompleted"]);
    expect(servers[0].info).toMatchObject({ alpnProtocol: "wirescope/1", servername: "localhost" });
  });

  it("gives the server's certificate to a connectSSL client", async () => {
    const portNumber = await tlsServer();
    let subject: unknown;
    class Checking extends Client {
      override connectionMade(): void {
        if (isTLSTransport(this.transport)) subject = this.transport.getPeerCertificate()?.subject.CN;
        super.connectionMade();
      }
    }
    const c = clientFactory();
    c.f.buildProtocol = () => new Checking();
    reactor.connectSSL("127.0.0.1", portNumber, c.f, { ca: read("ca.crt"), servername: "localhost" });
    await c.lost.promise;
    expect(subject).toBe("localhost");
  });
});
