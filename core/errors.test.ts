/**
 * Twisted's error hierarchy (src/twisted/internet/error.py) and the mapping of Node's socket errors onto it.
 */
import net from "node:net";
import { describe, expect, it } from "vitest";
import {
  AlreadyCalled,
  AlreadyCancelled,
  CannotListenError,
  ConnectBindError,
  ConnectError,
  ConnectionAborted,
  ConnectionClosed,
  ConnectionDone,
  ConnectionLost,
  ConnectionRefusedError,
  DNSLookupError,
  NoRouteError,
  NotConnectingError,
  ServiceNameUnknownError,
  SSLError,
  TCPTimedOutError,
  TimeoutError,
  TwistedError,
  UserError,
  fromNodeError,
} from "./errors.ts";

type ErrorClass = abstract new (...args: never[]) => TwistedError;

/** [class, its Twisted parent] as TWISTED.md lists them. */
const hierarchy: [ErrorClass, ErrorClass][] = [
  [ConnectionClosed, TwistedError],
  [ConnectionDone, ConnectionClosed],
  [ConnectionLost, ConnectionClosed],
  [ConnectionAborted, ConnectionLost],
  [ConnectError, TwistedError],
  [ConnectionRefusedError, ConnectError],
  [NoRouteError, ConnectError],
  [TCPTimedOutError, ConnectError],
  [UserError, ConnectError],
  [TimeoutError, UserError],
  [ServiceNameUnknownError, ConnectError],
  [ConnectBindError, ConnectError],
  [DNSLookupError, TwistedError],
  [CannotListenError, TwistedError],
  [NotConnectingError, TwistedError],
  [AlreadyCalled, TwistedError],
  [AlreadyCancelled, TwistedError],
];

/** The same, with the names first for the test titles. */
const named = hierarchy.map(([cls, parent]) => [cls.name, parent.name, cls, parent] as const);

/** One instance of each class, made with its own constructor's arguments. */
function instance(cls: ErrorClass): TwistedError {
  if (cls === CannotListenError) return new CannotListenError("127.0.0.1", 80, new Error("EACCES"));
  return new (cls as unknown as new () => TwistedError)();
}

/** A Node-style system error. */
function nodeError(code: string, message = `connect ${code} 127.0.0.1:1`): Error & { code: string } {
  return Object.assign(new Error(message), { code, syscall: "connect" });
}

describe("the error hierarchy", () => {
  it.each(named)("%s is a %s", (_name, _parent, cls, parent) => {
    const err = instance(cls);
    expect(err).toBeInstanceOf(cls);
    expect(err).toBeInstanceOf(parent);
    expect(err).toBeInstanceOf(TwistedError);
    expect(err).toBeInstanceOf(Error);
  });

  it("keeps the branches apart", () => {
    expect(new ConnectionDone()).not.toBeInstanceOf(ConnectionLost);
    expect(new ConnectionLost()).not.toBeInstanceOf(ConnectionAborted);
    expect(new ConnectionRefusedError()).not.toBeInstanceOf(UserError);
    expect(new UserError()).not.toBeInstanceOf(TimeoutError);
    expect(new ConnectionLost()).not.toBeInstanceOf(ConnectError);
    expect(new ConnectError()).not.toBeInstanceOf(ConnectionClosed);
  });

  it.each(named)("%s has code and name equal to its class name", (_name, _parent, cls) => {
    const err = instance(cls);
    expect(err.code).toBe(cls.name);
    expect(err.name).toBe(cls.name);
    expect(String(err).startsWith(cls.name)).toBe(true);
  });

  it("the code survives structured cloning (as across IPC), the class does not", () => {
    const clone = structuredClone({ code: new TimeoutError().code, message: new TimeoutError().message });
    expect(clone).toEqual({ code: "TimeoutError", message: "User timeout caused connection failure." });
  });

  it("messages follow Twisted's, with the detail appended", () => {
    expect(new ConnectionDone().message).toBe("Connection was closed cleanly.");
    expect(new ConnectionRefusedError().message).toBe("Connection was refused by other side.");
    expect(new ConnectionRefusedError("111: Connection refused").message).toBe(
      "Connection was refused by other side: 111: Connection refused.",
    );
    expect(new TimeoutError().message).toBe("User timeout caused connection failure.");
    expect(new NotConnectingError().message).toBe(
      "The Connector was not connecting when it was asked to stop connecting.",
    );
    expect(new AlreadyCalled().message).toBe("Tried to cancel an already-called event.");
    expect(new AlreadyCancelled().message).toBe("Tried to cancel an already-cancelled event.");
  });

  it("CannotListenError carries interface, port and the socket error", () => {
    const cause = new Error("listen EADDRINUSE: address already in use");
    const err = new CannotListenError("", 8080, cause);
    expect([err.iface, err.port, err.socketError, err.cause]).toEqual(["", 8080, cause, cause]);
    expect(err.message).toBe("Couldn't listen on any:8080: listen EADDRINUSE: address already in use.");
  });
});

describe("fromNodeError", () => {
  it.each([
    ["ECONNREFUSED", ConnectionRefusedError],
    ["ENETUNREACH", NoRouteError],
    ["EHOSTUNREACH", NoRouteError],
    ["ETIMEDOUT", TCPTimedOutError],
    ["ENOTFOUND", DNSLookupError],
    ["EAI_AGAIN", DNSLookupError],
    ["ECONNRESET", ConnectionLost],
    ["EPIPE", ConnectionLost],
  ] as const)("maps %s while connecting to $1.name", (code, cls) => {
    const original = nodeError(code);
    const err = fromNodeError(original, "connect");
    expect(err).toBeInstanceOf(cls);
    expect(err.constructor).toBe(cls);
    expect(err.cause).toBe(original);
    expect(err.message).toContain(code);
  });

  it.each(["ECONNRESET", "EPIPE", "ETIMEDOUT", "ECONNREFUSED"])(
    "maps %s on an established connection to ConnectionLost",
    (code) => {
      const err = fromNodeError(nodeError(code), "connection");
      expect(err.constructor).toBe(ConnectionLost);
    },
  );

  it("maps an unknown code to a plain ConnectError, and keeps the message", () => {
    const err = fromNodeError(nodeError("EWHATEVER", "something odd"), "connect");
    expect(err.constructor).toBe(ConnectError);
    expect(err.message).toBe("An error occurred while connecting: EWHATEVER: something odd.");
  });

  it("passes a TwistedError through unchanged and wraps non-errors", () => {
    const mine = new TimeoutError();
    expect(fromNodeError(mine, "connect")).toBe(mine);
    const wrapped = fromNodeError("just a string", "connect");
    expect(wrapped).toBeInstanceOf(ConnectError);
    expect(wrapped.message).toContain("just a string");
  });

  it("maps the error of a real connect to a closed port to ConnectionRefusedError", async () => {
    const port = await new Promise<number>((resolve, reject) => {
      const server = net.createServer();
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as net.AddressInfo;
        server.close(() => resolve(port));
      });
    });
    const failure = await new Promise<Error>((resolve, reject) => {
      const socket = net.connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        reject(new Error(`port ${port} was taken again before the test connected`));
      });
      socket.once("error", resolve);
    });
    const err = fromNodeError(failure, "connect");
    expect(err).toBeInstanceOf(ConnectionRefusedError);
    expect(err.code).toBe("ConnectionRefusedError");
    expect(err.cause).toBe(failure);
    expect(err.message).toMatch(/^Connection was refused by other side: ECONNREFUSED: connect ECONNREFUSED/);
  });
});

describe("TLS failures", () => {
  const nodeError = (code: string, message: string) => Object.assign(new Error(message), { code });

  it("are SSLErrors naming what failed, while connecting and on an established connection alike", () => {
    const cases: [Error, RegExp][] = [
      [nodeError("UNABLE_TO_VERIFY_LEAF_SIGNATURE", "unable to verify the first certificate"), /unknown CA/],
      [
        nodeError("ERR_TLS_CERT_ALTNAME_INVALID", "Hostname/IP does not match certificate's altnames"),
        /hostname mismatch/,
      ],
      [nodeError("ERR_SSL_UNSUPPORTED_PROTOCOL", "unsupported protocol"), /protocol version/],
      // A write failing after the peer's alert: EPROTO, with OpenSSL's reason in the message only.
      [
        nodeError("EPROTO", "write EPROTO error:0A00042E:SSL routines::tlsv1 alert protocol version"),
        /protocol version/,
      ],
    ];
    for (const [err, what] of cases) {
      for (const during of ["connect", "connection"] as const) {
        const mapped = fromNodeError(err, during);
        expect(mapped).toBeInstanceOf(SSLError);
        expect(mapped.message).toMatch(what);
        expect(mapped.message).toContain(err.message);
        expect(mapped.cause).toBe(err);
      }
    }
  });

  it("leave socket errors alone: a reset during a TLS connection is still ConnectionLost", () => {
    expect(fromNodeError(nodeError("ECONNRESET", "read ECONNRESET"), "connection")).toBeInstanceOf(ConnectionLost);
  });
});
