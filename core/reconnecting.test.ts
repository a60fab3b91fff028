/**
 * ReconnectingClientFactory, ported from src/twisted/test/test_factories.py, plus the back-off schedule.
 *
 * Not ported: test_serializeUnused, test_serializeWithClock and test_deserializationResetsParameters test
 * Python pickling (__getstate__), which has no counterpart here.
 */
import net from "node:net";
import { describe, expect, it, onTestFinished, vi } from "vitest";
import { IPv4Address } from "./address.ts";
import { reactorTime } from "./base.ts";
import { ConnectionDone, ConnectionRefusedError, NotConnectingError, UserError, fromNodeError } from "./errors.ts";
import type { IConnector } from "./interfaces.ts";
import { globalLogPublisher, type LogEvent, formatEvent } from "./logger.ts";
import { Protocol } from "./protocol.ts";
import { ReconnectingClientFactory, normalVariate } from "./reconnecting.ts";
import { Clock } from "./task.ts";
import { MemoryReactor } from "./testing.ts";

/** A connector that records what the factory asks of it; `stopConnecting` follows IConnector's contract. */
class FakeConnector implements IConnector {
  state: "disconnected" | "connecting" | "connected" = "connecting";
  connects = 0;
  stops = 0;
  connect(): void {
    this.connects += 1;
    this.state = "connecting";
  }
  stopConnecting(): void {
    if (this.state !== "connecting") throw new NotConnectingError();
    this.stops += 1;
    this.state = "disconnected";
  }
  disconnect(): void {
    this.state = "disconnected";
  }
  getDestination(): IPv4Address {
    return new IPv4Address("TCP", "127.0.0.1", 6379);
  }
}

/** A factory on a Clock, without jitter unless asked: delays are exact powers of e. */
function makeFactory(props: Partial<ReconnectingClientFactory> = {}): {
  factory: ReconnectingClientFactory;
  clock: Clock;
} {
  const clock = new Clock();
  const factory = new ReconnectingClientFactory();
  factory.clock = clock;
  factory.jitter = 0;
  Object.assign(factory, props);
  return { factory, clock };
}

/** Collects the events published while a test runs. */
function captureLog(): LogEvent[] {
  const events: LogEvent[] = [];
  const remove = globalLogPublisher.addObserver((e) => events.push(e));
  onTestFinished(remove);
  return events;
}

describe("ReconnectingClientFactory (test_factories.py)", () => {
  it("parametrizedClock: the retry is scheduled on the given clock and connects when it is due", () => {
    const { factory, clock } = makeFactory({ jitter: 0.119626565582 });
    const connector = new FakeConnector();

    factory.clientConnectionLost(connector, new ConnectionDone());

    expect(clock.calls).toHaveLength(1);
    expect(connector.connects).toBe(0);
    clock.advance(clock.calls[0]!.getTime());
    expect(connector.connects).toBe(1);
    expect(clock.calls).toHaveLength(0);
  });

  it("stopTryingDoesNotReconnect: the failure stopTrying provokes is not retried", () => {
    const clock = new Clock();
    const factory = new ReconnectingClientFactory();
    factory.clock = clock;
    class FactoryAwareFakeConnector extends FakeConnector {
      attemptedRetry = false;
      override stopConnecting(): void {
        // Behave as a connector whose attempt now fails, and tell the factory.
        factory.clientConnectionFailed(this, new UserError());
      }
      override connect(): void {
        this.attemptedRetry = true;
      }
    }
    const connector = new FactoryAwareFakeConnector();
    factory.connector = connector;

    factory.stopTrying();

    expect(connector.attemptedRetry).toBe(false);
    expect(clock.getDelayedCalls()).toEqual([]);
  });

  it("stopTryingWhenConnected: after stopTrying, a lost connection is not reconnected", () => {
    const clock = new Clock();
    const factory = new ReconnectingClientFactory();
    factory.clock = clock;
    factory.protocol = Protocol;
    class NoConnectConnector extends FakeConnector {
      override stopConnecting(): void {
        throw new Error("Shouldn't be called, we're connected.");
      }
      override connect(): void {
        throw new Error("Shouldn't be reconnecting.");
      }
    }
    // Pretend we connected, then stop trying and lose the connection.
    factory.buildProtocol(new IPv4Address("TCP", "127.0.0.1", 6379));
    factory.stopTrying();
    factory.clientConnectionLost(new NoConnectConnector(), new ConnectionDone());

    expect(factory.continueTrying).toBe(false);
    expect(clock.getDelayedCalls()).toEqual([]);
  });
});

describe("ReconnectingClientFactory back-off", () => {
  it("has Twisted's defaults", () => {
    const factory = new ReconnectingClientFactory();
    expect(factory).toMatchObject({
      maxDelay: 3600,
      initialDelay: 1.0,
      factor: 2.718281828459045,
      jitter: 0.119626565582,
      delay: 1.0,
      retries: 0,
      maxRetries: null,
      connector: null,
      clock: null,
      continueTrying: true,
    });
  });

  it("first retries after exactly e seconds without jitter", () => {
    const { factory, clock } = makeFactory();
    const connector = new FakeConnector();

    factory.clientConnectionFailed(connector, new ConnectionRefusedError());

    expect(factory.connector).toBe(connector);
    expect(factory.retries).toBe(1);
    expect(factory.delay).toBe(Math.E);
    expect(clock.calls[0]!.getTime()).toBe(Math.E);
    clock.advance(2.7);
    expect(connector.connects).toBe(0);
    clock.advance(0.1);
    expect(connector.connects).toBe(1);
  });

  it("jitter is gaussian with sigma = delay * jitter, and the jittered delay is stored", () => {
    const { factory, clock } = makeFactory({ jitter: 0.119626565582 });
    // Box-Muller with u1 = e^-1/2 and u2 = 0 draws exactly +1 standard deviation; u2 = 1/2 draws -1.
    const draws = [1 - Math.exp(-0.5), 0, 1 - Math.exp(-0.5), 0.5];
    factory.random = () => draws.shift()!;
    const connector = new FakeConnector();

    factory.clientConnectionFailed(connector, new ConnectionRefusedError());
    const first = Math.E * (1 + factory.jitter);
    expect(factory.delay).toBeCloseTo(first, 12);
    expect(clock.calls[0]!.getTime()).toBeCloseTo(first, 12);

    clock.advance(first);
    factory.clientConnectionFailed(connector, new ConnectionRefusedError());
    expect(factory.delay).toBeCloseTo(first * Math.E * (1 - factory.jitter), 12);
  });

  it("with the default random source the first retry comes after about 2.7 s", () => {
    const delays: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const { factory } = makeFactory({ jitter: 0.119626565582 });
      factory.clientConnectionFailed(new FakeConnector(), new ConnectionRefusedError());
      delays.push(factory.delay);
    }
    const mean = delays.reduce((a, b) => a + b, 0) / delays.length;
    const sd = Math.sqrt(delays.reduce((a, d) => a + (d - mean) ** 2, 0) / delays.length);
    // Standard error of the mean is about 0.007 s; of the sd, about 0.005.
    expect(mean).toBeGreaterThan(Math.E - 0.05);
    expect(mean).toBeLessThan(Math.E + 0.05);
    expect(sd).toBeGreaterThan(Math.E * 0.119626565582 - 0.04);
    expect(sd).toBeLessThan(Math.E * 0.119626565582 + 0.04);
    expect(new Set(delays).size).toBeGreaterThan(1900);
  });

  it("grows by e per failure and is capped at maxDelay", () => {
    const { factory, clock } = makeFactory();
    const connector = new FakeConnector();
    let expected = 1.0;
    for (let i = 1; i <= 12; i++) {
      factory.clientConnectionFailed(connector, new ConnectionRefusedError());
      expected = Math.min(expected * Math.E, 3600);
      expect(factory.delay).toBe(expected);
      expect(clock.calls[0]!.getTime() - clock.seconds()).toBeCloseTo(expected, 6);
      clock.advance(factory.delay);
      expect(connector.connects).toBe(i);
    }
    // e^8 ≈ 2981 < 3600 < e^9: the cap is reached at the ninth retry and held.
    expect(factory.delay).toBe(3600);
    expect(factory.retries).toBe(12);
  });

  it("honours maxRetries: the retry past the limit is abandoned and logged", () => {
    const events = captureLog();
    const { factory, clock } = makeFactory({ maxRetries: 2 });
    const connector = new FakeConnector();

    for (let i = 0; i < 2; i++) {
      factory.clientConnectionFailed(connector, new ConnectionRefusedError());
      expect(clock.calls).toHaveLength(1);
      clock.advance(factory.delay);
    }
    expect(connector.connects).toBe(2);

    factory.clientConnectionFailed(connector, new ConnectionRefusedError());
    expect(factory.retries).toBe(3);
    expect(clock.calls).toHaveLength(0);
    clock.advance(10_000);
    expect(connector.connects).toBe(2);

    const abandoned = events.filter((e) => e.log_source === factory).map(formatEvent);
    expect(abandoned).toEqual(["Abandoning IPv4Address(type='TCP', host='127.0.0.1', port=6379) after 3 retries."]);
  });

  it("maxRetries = 0 never retries", () => {
    captureLog();
    const { factory, clock } = makeFactory({ maxRetries: 0 });
    factory.clientConnectionLost(new FakeConnector(), new ConnectionDone());
    expect(clock.calls).toHaveLength(0);
  });

  it("resetDelay restarts the schedule and the retry count", () => {
    const { factory, clock } = makeFactory({ maxRetries: 3 });
    const connector = new FakeConnector();
    for (let i = 0; i < 3; i++) {
      factory.clientConnectionFailed(connector, new ConnectionRefusedError());
      clock.advance(factory.delay);
    }
    expect(factory.retries).toBe(3);
    expect(factory.delay).toBeCloseTo(Math.E ** 3, 9);

    factory.resetDelay();
    expect(factory.delay).toBe(1.0);
    expect(factory.retries).toBe(0);

    factory.clientConnectionLost(connector, new ConnectionDone());
    expect(factory.delay).toBe(Math.E);
    expect(clock.calls[0]!.getTime() - clock.seconds()).toBeCloseTo(Math.E, 9);
  });

  it("resetDelay uses initialDelay and undoes stopTrying", () => {
    const { factory, clock } = makeFactory({ initialDelay: 0.5 });
    const connector = new FakeConnector();
    factory.stopTrying();
    factory.clientConnectionFailed(connector, new ConnectionRefusedError());
    expect(clock.calls).toHaveLength(0);

    factory.resetDelay();
    factory.clientConnectionFailed(connector, new ConnectionRefusedError());
    expect(factory.delay).toBe(0.5 * Math.E);
    expect(clock.calls).toHaveLength(1);
  });

  it("stopTrying cancels a pending retry and stops an attempt in progress", () => {
    const { factory, clock } = makeFactory();
    const connector = new FakeConnector();
    factory.clientConnectionFailed(connector, new ConnectionRefusedError());
    expect(clock.calls).toHaveLength(1);

    factory.stopTrying();

    expect(clock.calls).toHaveLength(0);
    expect(connector.stops).toBe(1);
    clock.advance(100);
    expect(connector.connects).toBe(0);
  });

  it("stopTrying ignores NotConnectingError but lets other errors through", () => {
    const { factory } = makeFactory();
    const idle = new FakeConnector();
    idle.state = "disconnected";
    factory.connector = idle;
    expect(() => factory.stopTrying()).not.toThrow();

    const broken = new FakeConnector();
    broken.stopConnecting = () => {
      throw new RangeError("boom");
    };
    factory.connector = broken;
    expect(() => factory.stopTrying()).toThrow(RangeError);
  });

  it("retry() without any connector throws", () => {
    const { factory } = makeFactory();
    expect(() => factory.retry()).toThrow("no connector to retry");
  });

  it("schedules on the real reactor time when no clock is set", () => {
    const factory = new ReconnectingClientFactory();
    const connector = new FakeConnector();
    const before = reactorTime.getDelayedCalls().length;

    factory.clientConnectionFailed(connector, new ConnectionRefusedError());
    const pending = reactorTime.getDelayedCalls();
    expect(pending).toHaveLength(before + 1);
    const retryAt = pending.at(-1)!.getTime() - reactorTime.seconds();
    expect(retryAt).toBeGreaterThan(Math.E * (1 - 8 * factory.jitter));
    expect(retryAt).toBeLessThan(Math.E * (1 + 8 * factory.jitter));

    factory.stopTrying();
    expect(reactorTime.getDelayedCalls()).toHaveLength(before);
    expect(connector.connects).toBe(0);
  });

  it("works with MemoryReactor's connectors", () => {
    const reactor = new MemoryReactor();
    const factory = new ReconnectingClientFactory();
    factory.clock = reactor;
    factory.jitter = 0;
    const connector = reactor.connectTCP("127.0.0.1", 6379, factory);
    expect(connector.connectCount).toBe(1);

    factory.clientConnectionFailed(connector, new ConnectionRefusedError());
    reactor.advance(Math.E);

    expect(connector.connectCount).toBe(2);
  });
});

describe("normalVariate", () => {
  it("is mu + sigma * z with Box-Muller's z", () => {
    const seq =
      (...xs: number[]) =>
      () =>
        xs.shift()!;
    expect(normalVariate(10, 2, seq(1 - Math.exp(-0.5), 0))).toBeCloseTo(12, 12);
    expect(normalVariate(10, 2, seq(1 - Math.exp(-2), 0.5))).toBeCloseTo(6, 12);
    // random() may return 0: the draw stays finite.
    expect(Number.isFinite(normalVariate(0, 1, seq(0, 0)))).toBe(true);
  });

  it("has mean mu and standard deviation sigma", () => {
    const n = 20_000;
    const xs = Array.from({ length: n }, () => normalVariate(5, 3));
    const mean = xs.reduce((a, b) => a + b, 0) / n;
    const sd = Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / n);
    expect(Math.abs(mean - 5)).toBeLessThan(0.1); // about 5 standard errors
    expect(Math.abs(sd - 3)).toBeLessThan(0.1);
  });
});

/** A connector over a real socket: reports failures to the factory like the reactor's connector does. */
class NetConnector implements IConnector {
  state: "disconnected" | "connecting" | "connected" = "disconnected";
  socket: net.Socket | null = null;
  constructor(
    readonly port: number,
    readonly factory: ReconnectingClientFactory,
  ) {}
  connect(): void {
    if (this.state !== "disconnected") throw new Error(`connect() while ${this.state}`);
    this.state = "connecting";
    const socket = net.connect(this.port, "127.0.0.1");
    this.socket = socket;
    socket.once("connect", () => {
      this.state = "connected";
      this.factory.resetDelay(); // what a protocol's connectionMade does
    });
    socket.once("error", (err) => {
      this.state = "disconnected";
      this.factory.clientConnectionFailed(this, fromNodeError(err, "connect"));
    });
  }
  stopConnecting(): void {
    if (this.state !== "connecting") throw new NotConnectingError();
    this.socket?.destroy();
    this.state = "disconnected";
  }
  disconnect(): void {
    this.socket?.destroy();
    this.state = "disconnected";
  }
  getDestination(): IPv4Address {
    return new IPv4Address("TCP", "127.0.0.1", this.port);
  }
}

describe("ReconnectingClientFactory over real sockets", () => {
  it("retries a refused port until a server listens there", async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, "127.0.0.1", () => {
        const { port } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const reasons: Error[] = [];
    class Recording extends ReconnectingClientFactory {
      override clientConnectionFailed(connector: IConnector, reason: Error): void {
        reasons.push(reason);
        super.clientConnectionFailed(connector, reason);
      }
    }
    const clock = new Clock();
    const factory = new Recording();
    factory.clock = clock;
    factory.jitter = 0;
    const connector = new NetConnector(port, factory);

    connector.connect();
    await vi.waitFor(() => expect(reasons).toHaveLength(1));
    expect(reasons[0]).toBeInstanceOf(ConnectionRefusedError);
    expect(clock.calls).toHaveLength(1);

    clock.advance(Math.E);
    await vi.waitFor(() => expect(reasons).toHaveLength(2));
    expect(factory.delay).toBeCloseTo(Math.E ** 2, 9);

    const accepted: net.Socket[] = [];
    const server = net.createServer((s) => accepted.push(s));
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    try {
      clock.advance(Math.E ** 2);
      await vi.waitFor(() => expect(accepted).toHaveLength(1));
      await vi.waitFor(() => expect(connector.state).toBe("connected"));
      expect(factory.retries).toBe(0);
      expect(factory.delay).toBe(1.0);
      expect(reasons).toHaveLength(2);
    } finally {
      connector.disconnect();
      for (const s of accepted) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
