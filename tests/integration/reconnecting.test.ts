/**
 * ReconnectingClientFactory over real sockets: a server goes away and comes back on the same port; the client
 * retries with backoff until it is connected again, and stops for good after stopTrying().
 */
import { afterEach, describe, expect, it } from "vitest";
import type { IPv4Address } from "../../core/address.ts";
import type { Bytes, IConnector } from "../../core/interfaces.ts";
import { Factory, Protocol } from "../../core/protocol.ts";
import { reactor } from "../../core/reactor.ts";
import { ReconnectingClientFactory } from "../../core/reconnecting.ts";
import type { ListeningPort } from "../../core/tcp.ts";
import { waitFor } from "../helpers/net.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

class Greeter extends Protocol {
  override connectionMade(): void {
    this.transport.write(Buffer.from("hello"));
  }
}

class Client extends Protocol {
  override dataReceived(data: Bytes): void {
    (this.factory as Reconnecting).greetings.push(Buffer.from(data).toString());
  }
}

class Reconnecting extends ReconnectingClientFactory {
  greetings: string[] = [];
  failures = 0;
  losses = 0;
  override protocol = Client;
  override buildProtocol(addr: Parameters<ReconnectingClientFactory["buildProtocol"]>[0]) {
    this.resetDelay(); // Twisted's advice: reset the backoff once connected.
    return super.buildProtocol(addr);
  }
  override clientConnectionFailed(connector: IConnector, reason: Error): void {
    this.failures += 1;
    super.clientConnectionFailed(connector, reason);
  }
  override clientConnectionLost(connector: IConnector, reason: Error): void {
    this.losses += 1;
    super.clientConnectionLost(connector, reason);
  }
}

function listenOn(port: number): ListeningPort {
  const p = reactor.listenTCP(port, Factory.forProtocol(Greeter), { interface: "127.0.0.1" });
  return p;
}

describe("ReconnectingClientFactory against a real server", () => {
  it("reconnects when the server comes back, and stops after stopTrying()", async () => {
    let server = listenOn(0);
    await server.listening;
    const portNumber = (server.getHost() as IPv4Address).port;
    const f = new Reconnecting();
    // Short delays so that the test takes a fraction of a second; the backoff logic is Twisted's.
    f.initialDelay = 0.02;
    f.factor = 1.5;
    f.maxDelay = 0.2;
    const connector = reactor.connectTCP("127.0.0.1", portNumber, f);
    cleanups.push(() => f.stopTrying());
    await waitFor(() => f.greetings.length === 1, "first greeting");

    // The server goes away: the open connection drops and every retry is refused for a while.
    for (const c of server.connections) c.abortConnection();
    await server.stopListening();
    await waitFor(() => f.losses === 1, "loss noticed");
    await waitFor(() => f.failures >= 3, "several refused retries");
    expect(connector.state).not.toBe("connected");

    // It comes back on the same port: the next retry connects.
    server = listenOn(portNumber);
    cleanups.push(() => server.stopListening());
    await server.listening;
    await waitFor(() => f.greetings.length === 2, "greeting after the server came back");
    expect(f.retries).toBe(0); // resetDelay() on connect

    f.stopTrying();
    connector.disconnect();
    await waitFor(() => f.losses === 2, "second loss");
    const failures = f.failures;
    await new Promise((r) => setTimeout(r, 300));
    expect(f.failures).toBe(failures);
    expect(f.greetings.length).toBe(2);
    expect(connector.state).toBe("disconnected");
  });
});
