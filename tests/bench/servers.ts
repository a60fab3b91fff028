/**
 * The servers the core benchmark (run.ts) measures, started in the bench's own process or, through
 * server-process.ts, each in a process of its own: echo (a core Protocol, and node:net by hand) and line counters (a
 * core LineReceiver and LineOnlyReceiver, and node:net by hand). All listen on 127.0.0.1 only.
 */
import * as net from "node:net";
import type { IPv4Address } from "../../core/address.ts";
import { Factory } from "../../core/protocol.ts";
import { LineOnlyReceiver, LineReceiver } from "../../core/protocols/basic.ts";
import { Echo } from "../../core/protocols/wire.ts";
import { reactor } from "../../core/reactor.ts";

export const SERVER_KINDS = [
  "core-echo",
  "net-echo",
  "core-lines",
  "core-line-only",
  "net-lines",
  "net-lines-crlf-string",
] as const;
export type ServerKind = (typeof SERVER_KINDS)[number];

/** A listening server, and how to stop it. */
export interface Server {
  port: number;
  close(): Promise<void>;
}

/** What a line counter tells about each of its connections: lines as they are counted, then its close. */
export interface Meter {
  lines(n: number): void;
  closed(): void;
}

async function netServer(onConnection: (s: net.Socket) => void): Promise<Server> {
  const server = net.createServer(onConnection);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

async function coreServer(factory: Factory): Promise<Server> {
  const port = reactor.listenTCP(0, factory, { interface: "127.0.0.1" });
  await port.listening;
  return { port: (port.getHost() as IPv4Address).port, close: () => port.stopListening() };
}

/** A line counter's factory whose connections count lines into a meter each. */
function counting(kind: "core-lines" | "core-line-only", meter: () => Meter): Factory {
  class CountingLines extends LineReceiver {
    readonly meter = meter();
    override lineReceived(): void {
      this.meter.lines(1);
    }
    override connectionLost(reason: Error): void {
      super.connectionLost(reason);
      this.meter.closed();
    }
  }
  class CountingLineOnly extends LineOnlyReceiver {
    readonly meter = meter();
    override lineReceived(): void {
      this.meter.lines(1);
    }
    override connectionLost(reason: Error): void {
      super.connectionLost(reason);
      this.meter.closed();
    }
  }
  return Factory.forProtocol(kind === "core-lines" ? CountingLines : CountingLineOnly);
}

/**
 * The hand-written baseline, as tight as plain code gets: Buffer.concat of the unterminated tail and the chunk, then
 * indexOf of the LF byte (a memchr) and a look at the byte before it for the CR. With `crlfString`, indexOf of the
 * string "\r\n" instead, as the loop first measured here did (Node encodes the needle at each call).
 */
function handWrittenLineCounter(meter: () => Meter, crlfString: boolean): (socket: net.Socket) => void {
  return (socket) => {
    const m = meter();
    let tail: Buffer | null = null;
    socket.on("data", (chunk: Buffer) => {
      let buf = chunk;
      if (tail !== null) {
        buf = Buffer.concat([tail, chunk]);
        tail = null;
      }
      let from = 0;
      let n = 0;
      if (crlfString) {
        for (let i = buf.indexOf("\r\n", from); i !== -1; i = buf.indexOf("\r\n", from)) {
          n += 1;
          from = i + 2;
        }
      } else {
        for (let i = buf.indexOf(0x0a, from + 1); i !== -1; i = buf.indexOf(0x0a, i + 1)) {
          if (buf[i - 1] !== 0x0d) continue;
          n += 1;
          from = i + 1;
        }
      }
      if (n > 0) m.lines(n);
      if (from < buf.length) tail = buf.subarray(from);
    });
    socket.on("close", () => m.closed());
    socket.on("error", () => {});
  };
}

/** Starts a server of `kind` on 127.0.0.1, on a free port; line counters make a meter per connection. */
export function startServer(kind: ServerKind, meter: () => Meter): Promise<Server> {
  switch (kind) {
    case "core-echo":
      return coreServer(Factory.forProtocol(Echo));
    case "net-echo":
      return netServer((s) => {
        s.on("data", (d) => s.write(d));
        s.on("end", () => s.end());
        s.on("error", () => {});
      });
    case "core-lines":
    case "core-line-only":
      return coreServer(counting(kind, meter));
    case "net-lines":
      return netServer(handWrittenLineCounter(meter, false));
    case "net-lines-crlf-string":
      return netServer(handWrittenLineCounter(meter, true));
  }
}
