/**
 * A client factory that reconnects with exponential back-off
 * (src/twisted/internet/protocol.py: ReconnectingClientFactory).
 *
 *     const factory = new MyReconnectingFactory(); // protocol calls factory.resetDelay() in connectionMade
 *     reactor.connectTCP("127.0.0.1", 6379, factory);
 *
 * After each failed attempt or lost connection the next attempt waits `delay * factor` seconds (capped at
 * `maxDelay`), blurred by gaussian jitter so that many clients do not reconnect in lockstep. The first retry comes
 * after about e ≈ 2.7 s.
 */
import { reactorTime } from "./base.ts";
import { NotConnectingError } from "./errors.ts";
import type { IConnector, IDelayedCall, IReactorTime } from "./interfaces.ts";
import { ClientFactory } from "./protocol.ts";

/**
 * A sample of the normal distribution N(mu, sigma²) (Python's `random.normalvariate`), by the Box-Muller
 * transform. `random` returns uniform numbers in [0, 1) like Math.random; tests pass a fixed sequence.
 */
export function normalVariate(mu: number, sigma: number, random: () => number = Math.random): number {
  // 1 - u lies in (0, 1], so the logarithm is finite.
  const u1 = 1 - random();
  const u2 = random();
  const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  return mu + sigma * z;
}

/**
 * A ClientFactory that reconnects its connector after every failed attempt and every lost connection, waiting
 * longer each time (twisted.internet.protocol.ReconnectingClientFactory).
 *
 * The user owns the policy: call `resetDelay()` once a connection succeeds (typically from the protocol's
 * `connectionMade`), and `stopTrying()` to give up for good. Subclasses that override `clientConnectionFailed`
 * or `clientConnectionLost` must call `super` to keep reconnecting.
 *
 * As in Twisted, `delay` starts at 1.0 whatever a subclass sets `initialDelay` to; it takes `initialDelay`'s value
 * at the first `resetDelay()`.
 */
export class ReconnectingClientFactory extends ClientFactory {
  /** Longest wait between attempts, in seconds (before jitter). */
  maxDelay = 3600;
  /** The delay `resetDelay()` restores, in seconds. */
  initialDelay = 1.0;
  /** How much the delay grows after each failure: e. */
  factor = Math.E;
  /** Standard deviation of the jitter, as a fraction of the delay; 0 turns jitter off. */
  jitter = 0.119626565582;
  /** The current delay in seconds: the wait before the pending retry, jitter included. */
  delay = this.initialDelay;
  /** Consecutive failed attempts since the last `resetDelay()`. */
  retries = 0;
  /** Give up after this many consecutive retries; null retries forever. */
  maxRetries: number | null = null;
  /** The connector to reconnect: the last one that reported a failure or loss. */
  connector: IConnector | null = null;
  /** Where retries are scheduled; null means the real reactor's time. Tests set a Clock. */
  clock: IReactorTime | null = null;
  /** False after `stopTrying()`: failures and losses are then only reported, never retried. */
  continueTrying = true;
  /** The uniform random source of the jitter, [0, 1); tests replace it for repeatable delays. */
  random: () => number = Math.random;
  /** The scheduled retry, if one is pending. */
  protected _callID: IDelayedCall | null = null;

  /** Called by the connector when an attempt failed: schedules a retry unless `stopTrying()` was called. */
  override clientConnectionFailed(connector: IConnector, _reason: Error): void {
    if (this.continueTrying) {
      this.connector = connector;
      this.retry();
    }
  }

  /** Called by the connector after an established connection was lost: schedules a reconnect likewise. */
  override clientConnectionLost(connector: IConnector, _reason: Error): void {
    if (this.continueTrying) {
      this.connector = connector;
      this.retry();
    }
  }

  /**
   * Has `connector` (by default the stored one) connect again after the next delay. Counts a retry; past
   * `maxRetries` it logs and gives up. Throws if there is no connector to retry.
   */
  retry(connector?: IConnector): void {
    if (!this.continueTrying) {
      if (this.noisy) {
        const destination = (connector ?? this.connector)?.getDestination();
        this.log.info("Abandoning {destination} on explicit request", { destination });
      }
      return;
    }
    const target = connector ?? this.connector;
    if (target === null) throw new Error("no connector to retry");

    this.retries += 1;
    if (this.maxRetries !== null && this.retries > this.maxRetries) {
      this.log.info("Abandoning {destination} after {retries} retries.", {
        destination: target.getDestination(),
        retries: this.retries,
      });
      return;
    }

    this.delay = Math.min(this.delay * this.factor, this.maxDelay);
    if (this.jitter) this.delay = normalVariate(this.delay, this.delay * this.jitter, this.random);
    if (this.noisy) {
      this.log.info("{destination} will retry in {seconds} seconds", {
        destination: target.getDestination(),
        seconds: Math.trunc(this.delay),
      });
    }

    const clock = this.clock ?? reactorTime;
    // A negative delay needs a jitter draw about 8 standard deviations out; callLater would refuse it.
    this._callID = clock.callLater(Math.max(0, this.delay), () => {
      this._callID = null;
      target.connect();
    });
  }

  /**
   * Gives up: cancels the pending retry, stops retrying, and stops an attempt in progress (the connector then
   * reports `clientConnectionFailed`, which no longer retries). A connected connection is left alone; when it is
   * lost, it is not reconnected.
   */
  stopTrying(): void {
    if (this._callID !== null) {
      this._callID.cancel();
      this._callID = null;
    }
    this.continueTrying = false;
    if (this.connector !== null) {
      try {
        this.connector.stopConnecting();
      } catch (err) {
        if (!(err instanceof NotConnectingError)) throw err;
      }
    }
  }

  /**
   * Call after a successful connection: the next failure waits `initialDelay * factor` again, the retry count
   * restarts at 0, and a factory that had stopped trying tries again. It does not cancel a pending retry.
   */
  resetDelay(): void {
    this.delay = this.initialDelay;
    this.retries = 0;
    this._callID = null;
    this.continueTrying = true;
  }
}
