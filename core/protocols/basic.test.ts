/**
 * Tests of the basic framers, ported from Twisted's src/twisted/protocols/test/test_basic.py.
 *
 * Every framing case runs as one chunk, byte by byte, in Twisted's 2..9-byte packets and split in two at every
 * point (`chunkings`). Feeding stops once the transport is disconnecting, as a real transport's does.
 */
import { describe, expect, it } from "vitest";
import { StringTooLongError } from "../errors.ts";
import type { Bytes } from "../interfaces.ts";
import { chunkings, Clock, StringTransport, StringTransportWithDisconnection } from "../testing.ts";
import {
  Int16StringReceiver,
  Int32StringReceiver,
  Int8StringReceiver,
  type IntNStringReceiver,
  LineOnlyReceiver,
  LineReceiver,
  NetstringReceiver,
} from "./basic.ts";

const b = (text: string): Buffer => Buffer.from(text, "latin1");
const texts = (list: readonly Uint8Array[]): string[] => list.map((x) => Buffer.from(x).toString("latin1"));

/** Feeds `chunks` in order, stopping once the transport is disconnecting (a real transport stops delivering). */
function feed(
  protocol: { dataReceived(data: Bytes): unknown; transport?: { disconnecting: boolean } },
  chunks: Buffer[],
) {
  for (const chunk of chunks) {
    if (protocol.transport?.disconnecting) return;
    protocol.dataReceived(chunk);
  }
}

/** Connects `protocol` to a new StringTransport and returns the transport. */
function connect(protocol: { makeConnection(t: StringTransport): void }): StringTransport {
  const transport = new StringTransport();
  protocol.makeConnection(transport);
  return transport;
}

/** A line receiver that flips between line and raw mode after one byte (Twisted's FlippingLineTester). */
class FlippingLineTester extends LineReceiver {
  override delimiter = b("\n");
  lines: Buffer[] = [];

  override lineReceived(line: Buffer): void {
    this.lines.push(line);
    this.setRawMode();
  }

  override rawDataReceived(data: Buffer): void {
    this.setLineMode(data.subarray(1));
  }
}

/**
 * Twisted's LineTester: acts on some lines. "" switches to raw mode for the length given by a previous "len N";
 * "pause" and "rawpause" pause and resume on the clock's next turn; "stop" stops producing; "produce" /
 * "unproduce" (un)register as a pull producer. An over-long line is cut at MAX_LENGTH + 1 and the rest re-fed.
 */
class LineTester extends LineReceiver {
  override delimiter = b("\n");
  override MAX_LENGTH = 64;
  received: Buffer[] = [];
  length = 0;

  constructor(readonly clock: Clock | null = null) {
    super();
  }

  override lineReceived(line: Buffer): void {
    this.received.push(line);
    const text = line.toString("latin1");
    if (text === "") {
      this.setRawMode();
    } else if (text === "pause") {
      this.pauseProducing();
      this.clock!.callLater(0, () => this.resumeProducing());
    } else if (text === "rawpause") {
      this.pauseProducing();
      this.setRawMode();
      this.received.push(b(""));
      this.clock!.callLater(0, () => this.resumeProducing());
    } else if (text === "stop") {
      this.stopProducing();
    } else if (text.startsWith("len ")) {
      this.length = Number(text.slice(4));
    } else if (text.startsWith("produce")) {
      this.transport.registerProducer(this, false);
    } else if (text.startsWith("unproduce")) {
      this.transport.unregisterProducer();
    }
  }

  override rawDataReceived(data: Buffer): void {
    const part = data.subarray(0, this.length);
    const rest = data.subarray(this.length);
    this.length -= part.length;
    this.received[this.received.length - 1] = Buffer.concat([this.received.at(-1)!, part]);
    if (this.length === 0) this.setLineMode(rest);
  }

  override lineLengthExceeded(line: Buffer): void {
    if (line.length > this.MAX_LENGTH + 1) this.setLineMode(line.subarray(this.MAX_LENGTH + 1));
  }
}

describe("LineReceiver", () => {
  const buffer = [
    "len 10",
    "",
    "0123456789len 5",
    "",
    "1234",
    "len 20",
    "foo 123",
    "",
    "0123456789",
    "012345678len 0",
    "foo 5",
    "",
    "1234567890123456789012345678901234567890123456789012345678901234567890",
    "len 1",
    "",
    "a",
  ].join("\n");
  const output = [
    "len 10",
    "0123456789",
    "len 5",
    "1234\n",
    "len 20",
    "foo 123",
    "0123456789\n012345678",
    "len 0",
    "foo 5",
    "",
    "67890",
    "len 1",
    "a",
  ];

  it("splits lines, switches to raw mode and back, and cuts over-long lines, whatever the chunking", () => {
    for (const [way, chunks] of chunkings(buffer)) {
      const p = new LineTester();
      connect(p);
      feed(p, chunks);
      expect(texts(p.received), way).toEqual(output);
    }
  });

  it("holds lines back while paused and delivers them when resumed", () => {
    const pauseBuf = "twiddle1\ntwiddle2\npause\ntwiddle3\n";
    for (const [way, chunks] of chunkings(pauseBuf)) {
      const clock = new Clock();
      const p = new LineTester(clock);
      connect(p);
      feed(p, chunks);
      expect(texts(p.received), way).toEqual(["twiddle1", "twiddle2", "pause"]);
      clock.advance(0);
      expect(texts(p.received), way).toEqual(["twiddle1", "twiddle2", "pause", "twiddle3"]);
    }
  });

  it("holds raw data back while paused in raw mode", () => {
    const rawpauseBuf = "twiddle1\ntwiddle2\nlen 5\nrawpause\n12345twiddle3\n";
    for (const [way, chunks] of chunkings(rawpauseBuf)) {
      const clock = new Clock();
      const p = new LineTester(clock);
      connect(p);
      feed(p, chunks);
      expect(texts(p.received), way).toEqual(["twiddle1", "twiddle2", "len 5", "rawpause", ""]);
      clock.advance(0);
      expect(texts(p.received), way).toEqual(["twiddle1", "twiddle2", "len 5", "rawpause", "12345", "twiddle3"]);
    }
  });

  it("delivers nothing more after stopProducing, and stops the transport", () => {
    for (const [way, chunks] of chunkings("twiddle1\ntwiddle2\nstop\nmore\nstuff\n")) {
      const p = new LineTester();
      const t = connect(p);
      feed(p, chunks);
      expect(texts(p.received), way).toEqual(["twiddle1", "twiddle2", "stop"]);
      expect(t.producerState, way).toBe("stopped");
    }
  });

  it("can register itself as its transport's producer from lineReceived", () => {
    for (const [way, chunks] of chunkings("produce\nhello world\nunproduce\ngoodbye\n")) {
      const p = new LineTester();
      const t = connect(p);
      feed(p, chunks);
      expect(texts(p.received), way).toEqual(["produce", "hello world", "unproduce", "goodbye"]);
      expect(t.producer, way).toBeNull();
    }
  });

  it("clearLineBuffer removes and returns the buffered bytes, from inside lineReceived", () => {
    class ClearingReceiver extends LineReceiver {
      line: Buffer | null = null;
      rest: Buffer | null = null;
      override lineReceived(line: Buffer): void {
        this.line = line;
        this.rest = this.clearLineBuffer();
      }
    }
    // As in Twisted, without a connection.
    const p = new ClearingReceiver();
    p.dataReceived(b("foo\r\nbar\r\nbaz"));
    expect(texts([p.line!, p.rest!])).toEqual(["foo", "bar\r\nbaz"]);
    // The cleared bytes are really gone.
    p.dataReceived(b("quux\r\n"));
    expect(texts([p.line!, p.rest!])).toEqual(["quux", ""]);
  });

  it("clearLineBuffer returns exactly what was buffered, whatever the chunking: nothing lost, nothing twice", () => {
    class ClearingRecorder extends LineReceiver {
      seen: Uint8Array[] = [];
      override lineReceived(line: Buffer): void {
        this.seen.push(line, this.delimiter, this.clearLineBuffer());
      }
    }
    const input = "foo\r\nbar\r\nbaz\r\nquux";
    for (const [way, chunks] of chunkings(input)) {
      const p = new ClearingRecorder();
      connect(p);
      feed(p, chunks);
      expect(Buffer.concat([...p.seen, p.clearLineBuffer()]).toString("latin1"), way).toBe(input);
      expect(texts(p.seen.slice(0, 1)), way).toEqual(["foo"]);
    }
  });

  it("flips modes 100,000 times in one chunk without growing the stack", () => {
    const flips = 100_000;
    const p = new FlippingLineTester();
    connect(p);
    p.dataReceived(b("x\nx".repeat(flips)));
    expect(Buffer.concat(p.lines).toString("latin1")).toBe("x".repeat(flips));
  });

  it("flips modes the same way whatever the chunking", () => {
    for (const [way, chunks] of chunkings("x\nx".repeat(100))) {
      const p = new FlippingLineTester();
      connect(p);
      feed(p, chunks);
      expect(Buffer.concat(p.lines).toString("latin1"), way).toBe("x".repeat(100));
    }
  });

  it("disconnects on a line longer than MAX_LENGTH", () => {
    const p = new LineReceiver();
    expect(p.MAX_LENGTH).toBe(16384);
    for (const [way, chunks] of chunkings("x".repeat(p.MAX_LENGTH + 1) + "\r\nr")) {
      const p = new LineReceiver();
      const t = connect(p);
      feed(p, chunks);
      expect(t.disconnecting, way).toBe(true);
    }
  });

  it("accepts a line of MAX_LENGTH whose delimiter arrives split, even past MAX_LENGTH + len(delimiter)", () => {
    const makeProto = () => {
      const p = new LineTester();
      p.MAX_LENGTH = 4;
      return p;
    };
    const line = "x".repeat(3);
    // Twisted's exact chunking: the line, the delimiter but its last byte, then that byte and another line.
    const p = makeProto();
    const t = connect(p);
    p.dataReceived(b(line));
    p.dataReceived(p.delimiter.subarray(0, -1));
    p.dataReceived(Buffer.concat([p.delimiter.subarray(-1), b(line)]));
    expect(t.disconnecting).toBe(false);
    expect(texts(p.received)).toEqual([line]);

    for (const [way, chunks] of chunkings("xxxx\r\nxxxx\r\nxxxx\r")) {
      const p = makeProto();
      p.delimiter = b("\r\n");
      const t = connect(p);
      feed(p, chunks);
      expect(t.disconnecting, way).toBe(false);
      expect(texts(p.received), way).toEqual(["xxxx", "xxxx"]);
    }
  });

  it("does not disconnect on an unfinished line of MAX_LENGTH followed by part of the delimiter", () => {
    for (const [way, chunks] of chunkings("x".repeat(16384) + "\r")) {
      const p = new LineReceiver();
      const t = connect(p);
      feed(p, chunks);
      expect(t.disconnecting, way).toBe(false);
    }
  });

  it("returns from dataReceived what rawDataReceived returned", () => {
    const p = new LineReceiver();
    const oops = new Error("oops");
    p.rawDataReceived = () => oops;
    connect(p);
    p.setRawMode();
    expect(p.dataReceived(b("data"))).toBe(oops);
  });

  it("stops delivering when lineReceived returns a truthy value, and goes on at the next chunk", () => {
    class Stopper extends LineReceiver {
      lines: string[] = [];
      override lineReceived(line: Buffer): unknown {
        this.lines.push(line.toString());
        return line.toString() === "stop" ? "stopped" : undefined;
      }
    }
    const p = new Stopper();
    connect(p);
    expect(p.dataReceived(b("a\r\nstop\r\nb\r\n"))).toBe("stopped");
    expect(p.lines).toEqual(["a", "stop"]);
    expect(p.dataReceived(b("c\r\n"))).toBeUndefined();
    expect(p.lines).toEqual(["a", "stop", "b", "c"]);
  });

  it("delivers no line after the one that called loseConnection", () => {
    class Quitter extends LineReceiver {
      lines: string[] = [];
      override lineReceived(line: Buffer): void {
        this.lines.push(line.toString());
        if (line.toString() === "QUIT") this.transport.loseConnection();
      }
    }
    for (const [way, chunks] of chunkings("a\r\nQUIT\r\nb\r\nc\r\n")) {
      const p = new Quitter();
      const t = new StringTransportWithDisconnection();
      t.protocol = p;
      p.makeConnection(t);
      for (const chunk of chunks) p.dataReceived(chunk); // even if the transport kept delivering
      expect(p.lines, way).toEqual(["a", "QUIT"]);
    }
  });

  it("sendLine writes the line and the delimiter", () => {
    const p = new LineReceiver();
    const t = connect(p);
    p.sendLine(b("hello"));
    expect(t.value().toString()).toBe("hello\r\n");
  });

  it("throws from lineReceived and rawDataReceived unless they are overridden", () => {
    const p = new LineReceiver();
    expect(() => p.rawDataReceived(b("foo"))).toThrow(/rawDataReceived is not implemented/);
    expect(() => p.lineReceived(b("foo"))).toThrow(/lineReceived is not implemented/);
  });
});

/** Twisted's ExcessivelyLargeLineCatcher, recording every byte it is given (lines with their delimiter). */
class ExcessivelyLargeLineCatcher extends LineReceiver {
  override MAX_LENGTH = 6;
  longLines: Buffer[] = [];
  seen: Uint8Array[] = [];

  override lineReceived(line: Buffer): void {
    this.seen.push(line, this.delimiter);
  }

  override lineLengthExceeded(data: Buffer): void {
    this.longLines.push(data);
    this.seen.push(data);
  }
}

describe("LineReceiver.lineLengthExceeded", () => {
  const excessive = "x".repeat(6 * 2 + 2);
  const cases: [name: string, input: string, exceeded: string][] = [
    // More than MAX_LENGTH bytes without a delimiter: all of them.
    ["longUnendedLine", excessive, excessive],
    // A short line, then too many bytes without a delimiter: all the bytes after the short line's delimiter.
    ["longLineAfterShortLine", "x\r\n" + excessive, excessive],
    // A delimiter past MAX_LENGTH: the entire input.
    ["longLineWithDelimiter", `${excessive}\r\n${excessive}`, `${excessive}\r\n${excessive}`],
    // Several delimiters past MAX_LENGTH: the entire input.
    ["multipleLongLines", `${excessive}\r\n`.repeat(2), `${excessive}\r\n`.repeat(2)],
  ];

  for (const [name, input, exceeded] of cases) {
    it(`${name}: gets what Twisted gives in one chunk, and every byte exactly once in any chunking`, () => {
      const p = new ExcessivelyLargeLineCatcher();
      connect(p);
      p.dataReceived(b(input));
      expect(texts(p.longLines)).toEqual([exceeded]);

      for (const [way, chunks] of chunkings(input)) {
        const p = new ExcessivelyLargeLineCatcher();
        connect(p);
        feed(p, chunks);
        expect(p.longLines.length, way).toBeGreaterThan(0);
        expect(Buffer.concat([...p.seen, p.clearLineBuffer()]).toString("latin1"), way).toBe(input);
      }
    });
  }

  it("disconnects by default on a non-finished line longer than MAX_LENGTH", () => {
    for (const [way, chunks] of chunkings("x".repeat(16384 + 2))) {
      const p = new LineReceiver();
      const t = connect(p);
      feed(p, chunks);
      expect(t.disconnecting, way).toBe(true);
    }
  });
});

describe("LineReceiver as a producer (Twisted's ProducerTests)", () => {
  /** Echoes each line, then pauses: it really doesn't want any more bytes. */
  class ConsumingProtocol extends LineReceiver {
    override lineReceived(line: Buffer): void {
      this.sendLine(line);
      this.pauseProducing();
    }
  }

  it("delivers no line while paused and the waiting lines one by one when resumed", () => {
    const p = new ConsumingProtocol();
    const t = connect(p);
    const written = () => t.value().toString("latin1");

    p.dataReceived(b("hello, "));
    expect(written()).toBe("");
    expect([t.producerState, p.paused]).toEqual(["producing", false]);

    p.dataReceived(b("world\r\n"));
    expect(written()).toBe("hello, world\r\n");
    expect([t.producerState, p.paused]).toEqual(["paused", true]);

    p.resumeProducing();
    expect(written()).toBe("hello, world\r\n");
    expect([t.producerState, p.paused]).toEqual(["producing", false]);

    p.dataReceived(b("hello\r\nworld\r\n"));
    expect(written()).toBe("hello, world\r\nhello\r\n");
    expect([t.producerState, p.paused]).toEqual(["paused", true]);

    p.resumeProducing();
    expect(written()).toBe("hello, world\r\nhello\r\nworld\r\n");
    expect([t.producerState, p.paused]).toEqual(["paused", true]);

    p.dataReceived(b("goodbye\r\n"));
    expect(written()).toBe("hello, world\r\nhello\r\nworld\r\n");

    p.resumeProducing();
    expect(written()).toBe("hello, world\r\nhello\r\nworld\r\ngoodbye\r\n");
    expect([t.producerState, p.paused]).toEqual(["paused", true]);

    p.resumeProducing();
    expect(written()).toBe("hello, world\r\nhello\r\nworld\r\ngoodbye\r\n");
    expect([t.producerState, p.paused]).toEqual(["producing", false]);
  });
});

class LineOnlyTester extends LineOnlyReceiver {
  override delimiter = b("\n");
  override MAX_LENGTH = 64;
  received: Buffer[] = [];

  override lineReceived(line: Buffer): void {
    this.received.push(line);
  }
}

describe("LineOnlyReceiver", () => {
  it("splits lines whatever the chunking", () => {
    const buffer = "foo\n    bleakness\n    desolation\n    plastic forks\n    ";
    for (const [way, chunks] of chunkings(buffer)) {
      const p = new LineOnlyTester();
      connect(p);
      feed(p, chunks);
      expect(texts(p.received), way).toEqual(buffer.split("\n").slice(0, -1));
    }
  });

  it("disconnects on a line longer than MAX_LENGTH + len(delimiter)", () => {
    for (const [way, chunks] of chunkings("x".repeat(64 + 1 + 1) + "\r\nr")) {
      const p = new LineOnlyTester();
      const t = connect(p);
      feed(p, chunks);
      expect(t.disconnecting, way).toBe(true);
    }
  });

  it("disconnects on a terminated line longer than MAX_LENGTH, and only then", () => {
    for (const [way, chunks] of chunkings(`${"x".repeat(64)}\nx\n${"x".repeat(65)}\n`)) {
      const p = new LineOnlyTester();
      const t = connect(p);
      feed(p, chunks);
      expect(texts(p.received), way).toEqual(["x".repeat(64), "x"]);
      expect(t.disconnecting, way).toBe(true);
    }
  });

  it("accepts a line of MAX_LENGTH whose delimiter arrives split", () => {
    for (const [way, chunks] of chunkings("x".repeat(64) + "\r\n")) {
      const p = new LineOnlyTester();
      p.delimiter = b("\r\n");
      const t = connect(p);
      feed(p, chunks);
      expect(t.disconnecting, way).toBe(false);
      expect(texts(p.received), way).toEqual(["x".repeat(64)]);
    }
  });

  it("delivers no line after the one that called loseConnection", () => {
    class Quitter extends LineOnlyReceiver {
      lines: string[] = [];
      override lineReceived(line: Buffer): void {
        this.lines.push(line.toString());
        if (line.toString() === "QUIT") this.transport.loseConnection();
      }
    }
    for (const [way, chunks] of chunkings("a\r\nQUIT\r\nb\r\nc\r\n")) {
      const p = new Quitter();
      const t = connect(p);
      for (const chunk of chunks) p.dataReceived(chunk);
      expect(p.lines, way).toEqual(["a", "QUIT"]);
      expect(t.disconnecting, way).toBe(true);
    }
  });

  it("sendLine writes the line and the delimiter", () => {
    const p = new LineOnlyReceiver();
    const t = connect(p);
    p.sendLine(b("hello"));
    expect(t.value().toString()).toBe("hello\r\n");
  });

  it("throws from lineReceived unless it is overridden", () => {
    expect(() => new LineOnlyReceiver().lineReceived(b("foo"))).toThrow(/lineReceived is not implemented/);
  });
});

/** Twisted's TestNetstring: records each string and echoes it. */
class TestNetstring extends NetstringReceiver {
  override MAX_LENGTH = 50;
  received: Buffer[] = [];

  override stringReceived(s: Buffer): void {
    this.received.push(s);
    this.transport.write(s);
  }
}

describe("NetstringReceiver", () => {
  const strings = ["hello", "world", "how", "are", "you123", ":today", "a".repeat(515)];

  /** Feeds `input` in every chunking to a fresh TestNetstring; returns the protocols with their chunking. */
  function receive(input: string, setUp?: (p: TestNetstring) => void): [string, TestNetstring, StringTransport][] {
    return chunkings(input).map(([way, chunks]) => {
      const p = new TestNetstring();
      setUp?.(p);
      const t = connect(p);
      feed(p, chunks);
      return [way, p, t];
    });
  }

  it("receives what sendString sent, whatever the chunking", () => {
    const sender = new TestNetstring();
    const out = connect(sender);
    for (const s of strings) sender.sendString(b(s));
    expect(out.value().toString("latin1").startsWith("5:hello,5:world,3:how,")).toBe(true);
    for (const [way, p] of receive(out.value().toString("latin1"), (p) => (p.MAX_LENGTH = 699))) {
      expect(texts(p.received), way).toEqual(strings);
    }
  });

  const good: [name: string, input: string, expected: string[]][] = [
    ["an empty netstring", "0:,", [""]],
    ["one character", "1:a,", ["a"]],
    ["two characters", "2:ab,", ["ab"]],
    ["a nested netstring (',' and ':' in the data)", "4:1:a,,", ["1:a,"]],
    ["a netstring received in portions", "4:aaaa,", ["aaaa"]],
    ["a length split across portions", "10:0123456789,", ["0123456789"]],
    ["two netstrings", "1:a,1:b,", ["a", "b"]],
  ];
  for (const [name, input, expected] of good) {
    it(`receives ${name}`, () => {
      for (const [way, p, t] of receive(input)) {
        expect(texts(p.received), way).toEqual(expected);
        expect([t.disconnecting, p.brokenPeer], way).toEqual([false, false]);
      }
    });
  }

  it("receives Twisted's portions exactly as Twisted feeds them", () => {
    const p = new TestNetstring();
    connect(p);
    for (const part of ["1", "0:01234", "56789", ","]) p.dataReceived(b(part));
    p.dataReceived(b("1:a,1"));
    p.dataReceived(b(":b,"));
    expect(texts(p.received)).toEqual(["0123456789", "a", "b"]);
  });

  const bad: [name: string, input: string][] = [
    ["more data than specified", "2:aaa,"],
    ["data where the length says empty", "0:a,"],
    ["no length", ":aaa,"],
    ["no colon", "3aaa,"],
    ["neither length nor colon", "aaa,"],
    ["only data", "aaa"],
    ["a length with leading zeros", "01:a,"],
    ["a length above MAX_LENGTH", `51:${"a".repeat(51)},`],
    ["too many digits", "9999999999999999999999"],
    ["illegal: letters", "abc"],
    ["illegal: no comma", "4:abcde"],
    ["illegal: too long", `51:${"a".repeat(50)}b,`],
  ];
  for (const [name, input] of bad) {
    it(`refuses ${name}: closes and sets brokenPeer`, () => {
      for (const [way, p, t] of receive(input)) {
        expect(t.disconnecting, way).toBe(true);
        expect(p.brokenPeer, way).toBe(true);
        expect(p.received, way).toEqual([]);
      }
    });
  }

  it("refuses a length above MAX_LENGTH before its data arrives", () => {
    for (const [way, p, t] of receive("51:")) {
      expect([t.disconnecting, p.brokenPeer], way).toEqual([true, true]);
    }
    for (const [way, p, t] of receive("99999:", (p) => (p.MAX_LENGTH = 99999))) {
      expect([t.disconnecting, p.brokenPeer], way).toEqual([false, false]);
    }
  });

  it("takes a length equal to MAX_LENGTH and refuses one above it (consumeLength border cases)", () => {
    const twelve = `12:${"a".repeat(12)},`;
    for (const [way, p, t] of receive(twelve, (p) => (p.MAX_LENGTH = 12))) {
      expect(texts(p.received), way).toEqual(["a".repeat(12)]);
      expect(t.disconnecting, way).toBe(false);
    }
    for (const [way, p, t] of receive(twelve, (p) => (p.MAX_LENGTH = 11))) {
      expect([p.received.length, t.disconnecting, p.brokenPeer], way).toEqual([0, true, true]);
    }
    for (const [way, p, t] of receive("1000:", (p) => (p.MAX_LENGTH = 11))) {
      expect([t.disconnecting, p.brokenPeer], way).toEqual([true, true]);
    }
  });

  it("stays broken for good: a valid netstring after a malformed one is ignored", () => {
    const p = new TestNetstring();
    const t = connect(p);
    p.dataReceived(b("1:a,x"));
    expect([texts(p.received), t.disconnecting, p.brokenPeer]).toEqual([["a"], true, true]);
    p.dataReceived(b("1:b,"));
    expect(texts(p.received)).toEqual(["a"]);
    expect(p.brokenPeer).toBe(true);
  });

  it("delivers the netstrings before the malformed one", () => {
    for (const [way, p, t] of receive("1:a,2:bc,2:def,3:ghi,")) {
      expect([texts(p.received), t.disconnecting], way).toEqual([["a", "bc"], true]);
    }
  });

  it("delivers no netstring after the one that called loseConnection", () => {
    class Quitter extends TestNetstring {
      override stringReceived(s: Buffer): void {
        super.stringReceived(s);
        if (s.toString() === "QUIT") this.transport.loseConnection();
      }
    }
    for (const [way, chunks] of chunkings("1:a,4:QUIT,1:b,")) {
      const p = new Quitter();
      const t = connect(p);
      for (const chunk of chunks) p.dataReceived(chunk);
      expect([texts(p.received), t.disconnecting, p.brokenPeer], way).toEqual([["a", "QUIT"], true, false]);
    }
  });

  it("sendString writes len:data,", () => {
    const p = new NetstringReceiver();
    const t = connect(p);
    p.sendString(b(""));
    p.sendString(b("abc"));
    expect(t.value().toString()).toBe("0:,3:abc,");
  });

  it("throws from stringReceived unless it is overridden", () => {
    expect(() => new NetstringReceiver().stringReceived(b("foo"))).toThrow(/stringReceived is not implemented/);
  });
});

/** A concrete IntN receiver class (the intersection tells TypeScript that `prefixLength` is defined). */
type IntNClass = new () => IntNStringReceiver & { readonly prefixLength: number };

/** Twisted's TestMixin on an IntN receiver: records strings, MAX_LENGTH 50. */
function recording(Base: IntNClass) {
  return class extends Base {
    override MAX_LENGTH = 50;
    received: Buffer[] = [];
    override stringReceived(s: Buffer): void {
      this.received.push(s);
    }
  };
}

/** `data` with its length prefix of `prefixLength` bytes. */
function prefixed(prefixLength: number, data: string | Buffer, length = data.length): Buffer {
  const prefix = Buffer.alloc(prefixLength);
  prefix.writeUIntBE(length, 0, prefixLength);
  return Buffer.concat([prefix, typeof data === "string" ? b(data) : data]);
}

const intNCases: {
  name: string;
  Base: IntNClass;
  prefixLength: number;
  illegal: string;
  partial: string[];
  data: [sent: string, received: string];
}[] = [
  {
    name: "Int32StringReceiver",
    Base: Int32StringReceiver,
    prefixLength: 4,
    illegal: "\x10\x00\x00\x00aaaaaa",
    partial: ["\x00\x00\x00", "hello there", ""],
    data: ["\x00\x00\x00\x03foo", "\x00\x00\x00\x04ubar"],
  },
  {
    name: "Int16StringReceiver",
    Base: Int16StringReceiver,
    prefixLength: 2,
    illegal: "\x10\x00aaaaaa",
    partial: ["\x00", "hello there", ""],
    data: ["\x00\x03foo", "\x00\x04ubar"],
  },
  {
    name: "Int8StringReceiver",
    Base: Int8StringReceiver,
    prefixLength: 1,
    illegal: "\x00\x00aaaaaa",
    partial: ["\x08", "dzadz", ""],
    data: ["\x03foo", "\x04ubar"],
  },
];

for (const { name, Base, prefixLength, illegal, partial, data } of intNCases) {
  const Tester = recording(Base);
  const strings = ["a", "b".repeat(16)];

  describe(name, () => {
    it(`has a ${prefixLength}-byte prefix and MAX_LENGTH 99999`, () => {
      const p = new Base();
      expect([p.prefixLength, p.MAX_LENGTH]).toEqual([prefixLength, 99999]);
    });

    it("receives strings, whatever the chunking", () => {
      const input = Buffer.concat(strings.map((s) => prefixed(prefixLength, s)));
      for (const [way, chunks] of chunkings(input)) {
        const p = new Tester();
        const t = connect(p);
        feed(p, chunks);
        expect(texts(p.received), way).toEqual(strings);
        expect(t.disconnecting, way).toBe(false);
      }
    });

    it("sends the big-endian length prefix, and receives it (data)", () => {
      const p = new Tester();
      const t = connect(p);
      p.sendString(b("foo"));
      expect(t.value().toString("latin1")).toBe(data[0]);
      p.sendString(b("b".repeat(16)));
      expect(t.value().subarray(data[0].length)).toEqual(prefixed(prefixLength, "b".repeat(16)));
      for (const [way, chunks] of chunkings(data[1])) {
        const p = new Tester();
        connect(p);
        feed(p, chunks);
        expect(texts(p.received), way).toEqual(["ubar"]);
      }
    });

    it("delivers nothing from partial strings", () => {
      for (const s of partial) {
        for (const [way, chunks] of chunkings(s)) {
          const p = new Tester();
          connect(p);
          feed(p, chunks);
          expect(p.received, `${JSON.stringify(s)} ${way}`).toEqual([]);
        }
      }
    });

    it("closes the connection on a length above MAX_LENGTH (illegal)", () => {
      for (const [way, chunks] of chunkings(illegal)) {
        const p = new Tester();
        const t = connect(p);
        feed(p, chunks);
        expect(t.disconnecting, way).toBe(true);
      }
    });

    it("calls lengthLimitExceeded with the length as soon as the prefix arrives", () => {
      const p = new Tester();
      connect(p);
      const lengths: number[] = [];
      p.lengthLimitExceeded = (n) => lengths.push(n);
      p.MAX_LENGTH = 10;
      p.dataReceived(prefixed(prefixLength, "", 11));
      expect(lengths).toEqual([11]);
    });

    it("does not deliver a string longer than MAX_LENGTH, even when it arrives whole", () => {
      for (const [way, chunks] of chunkings(prefixed(prefixLength, "x".repeat(11)))) {
        const p = new Tester();
        p.MAX_LENGTH = 10;
        const t = connect(p);
        feed(p, chunks);
        expect([p.received.length, t.disconnecting], way).toEqual([0, true]);
      }
    });

    if (prefixLength < 4) {
      it("sendString throws StringTooLongError when the length does not fit the prefix", () => {
        const p = new Tester();
        const t = connect(p);
        const limit = 2 ** (8 * prefixLength);
        expect(() => p.sendString(Buffer.alloc(limit + 1))).toThrow(StringTooLongError);
        expect(() => p.sendString(Buffer.alloc(limit))).toThrow(/Try to send/);
        expect(t.value().length).toBe(0);
        p.sendString(Buffer.alloc(limit - 1));
        expect(t.value().length).toBe(prefixLength + limit - 1);
      });
    }

    it("holds strings back while paused and delivers them when resumed", () => {
      class Pausing extends Tester {
        override stringReceived(s: Buffer): void {
          super.stringReceived(s);
          this.pauseProducing();
        }
      }
      const input = Buffer.concat(["a", "bb", "ccc"].map((s) => prefixed(prefixLength, s)));
      for (const [way, chunks] of chunkings(input)) {
        const p = new Pausing();
        const t = connect(p);
        feed(p, chunks);
        expect([texts(p.received), t.producerState], way).toEqual([["a"], "paused"]);
        p.resumeProducing();
        expect(texts(p.received), way).toEqual(["a", "bb"]);
        p.resumeProducing();
        expect(texts(p.received), way).toEqual(["a", "bb", "ccc"]);
        p.resumeProducing();
        expect([texts(p.received), t.producerState, p.paused], way).toEqual([["a", "bb", "ccc"], "producing", false]);
      }
    });

    it("delivers no string after the one that called loseConnection", () => {
      class Quitter extends Tester {
        override stringReceived(s: Buffer): void {
          super.stringReceived(s);
          if (s.toString() === "QUIT") this.transport.loseConnection();
        }
      }
      for (const [way, chunks] of chunkings(Buffer.concat(["a", "QUIT", "b"].map((s) => prefixed(prefixLength, s))))) {
        const p = new Quitter();
        const t = connect(p);
        for (const chunk of chunks) p.dataReceived(chunk);
        expect([texts(p.received), t.disconnecting], way).toEqual([["a", "QUIT"], true]);
      }
    });

    it("throws from stringReceived unless it is overridden", () => {
      expect(() => new Base().stringReceived(b("foo"))).toThrow(/stringReceived is not implemented/);
    });
  });
}
