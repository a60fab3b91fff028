/**
 * Property tests of every framer: random messages, encoded and fed in random chunkings, come out as the same
 * messages as from the whole input; random garbage never throws out of `dataReceived` and gives the same result
 * (messages delivered, connection closed or not) whatever the chunking.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Bytes } from "../interfaces.ts";
import { StringTransport } from "../testing.ts";
import {
  Int16StringReceiver,
  Int32StringReceiver,
  Int8StringReceiver,
  type IntNStringReceiver,
  LineOnlyReceiver,
  LineReceiver,
  NetstringReceiver,
} from "./basic.ts";
import { StatefulProtocol, type StatefulState } from "./stateful.ts";

const RUNS = { numRuns: 200 };
const CRLF = Buffer.from("\r\n");
const latin1 = (x: Uint8Array): string => Buffer.from(x).toString("latin1");

/** A framer under test: it records what it delivers as strings. */
interface Recorder {
  events: string[];
  dataReceived(data: Bytes): unknown;
  makeConnection(t: StringTransport): void;
}

/** Cuts `data` at `cuts` (positions taken modulo its length + 1). */
function cut(data: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const point of [...points, data.length]) {
    chunks.push(data.subarray(from, point));
    from = point;
  }
  return chunks;
}

/** Random chunkings: random cut points (empty chunks included), or fixed sizes of 1 (byte by byte) to 7. */
const chunking = fc.oneof(
  fc.array(fc.nat(), { maxLength: 24 }).map((cuts) => (data: Buffer) => cut(data, cuts)),
  fc.integer({ min: 1, max: 7 }).map((size) => (data: Buffer) => {
    const chunks: Buffer[] = [];
    for (let i = 0; i < data.length; i += size) chunks.push(data.subarray(i, i + size));
    return chunks;
  }),
);

/** Connects a fresh framer, feeds `chunks` (stopping once disconnecting, as a transport does), returns the outcome. */
function run(make: () => Recorder, chunks: Buffer[]): { events: string[]; disconnecting: boolean } {
  const p = make();
  const t = new StringTransport();
  p.makeConnection(t);
  for (const chunk of chunks) {
    if (t.disconnecting) break;
    p.dataReceived(chunk);
  }
  return { events: p.events, disconnecting: t.disconnecting };
}

/** Bytes from a small alphabet rich in the framers' special bytes, so that garbage hits their edge cases. */
const edgyBytes = (maxLength: number, minLength = 0) =>
  fc
    .array(fc.oneof(fc.constantFrom(0x0d, 0x0a, 0x3a, 0x2c, 0x30, 0x31, 0x39, 0x00, 0x01, 0x61), fc.nat(255)), {
      minLength,
      maxLength,
    })
    .map((bytes) => Buffer.from(bytes));

/** Lines without the delimiter, often exactly `maxLength` long: the limit is where framers get it wrong. */
const noCrlf = (maxLength: number) =>
  fc.oneof(edgyBytes(maxLength), edgyBytes(maxLength, maxLength)).filter((line) => !line.includes(CRLF));

class Lines extends LineReceiver {
  override MAX_LENGTH = 32;
  events: string[] = [];
  override lineReceived(line: Buffer): void {
    this.events.push(latin1(line));
  }
}

class LinesOnly extends LineOnlyReceiver {
  override MAX_LENGTH = 32;
  events: string[] = [];
  override lineReceived(line: Buffer): void {
    this.events.push(latin1(line));
  }
}

/** Line "raw N" switches to raw mode for N bytes, recorded as one "R:" event; other lines are "L:" events. */
class RawSwitcher extends LineReceiver {
  override MAX_LENGTH = 32;
  events: string[] = [];
  #wanted = 0;
  #raw: Buffer[] = [];

  override lineReceived(line: Buffer): void {
    this.events.push(`L:${latin1(line)}`);
    const m = /^raw (\d+)$/.exec(latin1(line));
    if (m === null) return;
    this.#wanted = Number(m[1]);
    if (this.#wanted === 0) this.events.push("R:");
    else this.setRawMode();
  }

  override rawDataReceived(data: Buffer): void {
    const part = data.subarray(0, this.#wanted);
    this.#raw.push(part);
    this.#wanted -= part.length;
    if (this.#wanted > 0) return;
    this.events.push(`R:${latin1(Buffer.concat(this.#raw))}`);
    this.#raw = [];
    this.setLineMode(data.subarray(part.length));
  }
}

/** Pauses after each line; the test resumes it until it has delivered everything. */
class PausingLines extends Lines {
  override lineReceived(line: Buffer): void {
    super.lineReceived(line);
    this.pauseProducing();
  }
}

/** A concrete IntN receiver class (the intersection tells TypeScript that `prefixLength` is defined). */
type IntNClass = new () => IntNStringReceiver & { readonly prefixLength: number };

function recordingIntN(Base: IntNClass, maxLength?: number) {
  return class extends Base {
    events: string[] = [];
    constructor() {
      super();
      if (maxLength !== undefined) this.MAX_LENGTH = maxLength;
    }
    override stringReceived(s: Buffer): void {
      this.events.push(latin1(s));
    }
  };
}

class Netstrings extends NetstringReceiver {
  events: string[] = [];
  override stringReceived(s: Buffer): void {
    this.events.push(latin1(s));
  }
}

/** Twisted's stateful Int32 receiver (test_stateful.py), recording strings. */
class StatefulInt32 extends StatefulProtocol {
  MAX_LENGTH = 99999;
  events: string[] = [];
  getInitialState(): StatefulState {
    return [this.header, 4];
  }
  header(data: Buffer): StatefulState | undefined {
    const length = data.readUInt32BE(0);
    if (length <= this.MAX_LENGTH) return [this.body, length];
    this.transport.loseConnection();
    return undefined;
  }
  body(data: Buffer): StatefulState {
    this.events.push(latin1(data));
    return [this.header, 4];
  }
}

const prefixed = (prefixLength: number) => (s: Buffer) => {
  const prefix = Buffer.alloc(prefixLength);
  prefix.writeUIntBE(s.length, 0, prefixLength);
  return Buffer.concat([prefix, s]);
};

/** A framer, how to encode one message for it, and which messages it carries. */
interface Framer {
  name: string;
  make: () => Recorder;
  encode: (message: Buffer) => Buffer;
  messages: fc.Arbitrary<Buffer>;
}

const framers: Framer[] = [
  { name: "LineReceiver", make: () => new Lines(), encode: (l) => Buffer.concat([l, CRLF]), messages: noCrlf(32) },
  {
    name: "LineOnlyReceiver",
    make: () => new LinesOnly(),
    encode: (l) => Buffer.concat([l, CRLF]),
    messages: noCrlf(32),
  },
  {
    name: "Int8StringReceiver",
    make: () => new (recordingIntN(Int8StringReceiver))(),
    encode: prefixed(1),
    messages: edgyBytes(255),
  },
  {
    name: "Int16StringReceiver",
    make: () => new (recordingIntN(Int16StringReceiver))(),
    encode: prefixed(2),
    messages: edgyBytes(300),
  },
  {
    name: "Int32StringReceiver",
    make: () => new (recordingIntN(Int32StringReceiver))(),
    encode: prefixed(4),
    messages: edgyBytes(300),
  },
  {
    name: "NetstringReceiver",
    make: () => new Netstrings(),
    encode: (s) => Buffer.concat([Buffer.from(`${s.length}:`), s, Buffer.from(",")]),
    messages: edgyBytes(300),
  },
  { name: "StatefulProtocol (Int32)", make: () => new StatefulInt32(), encode: prefixed(4), messages: edgyBytes(300) },
];

describe("framers, property-based", () => {
  for (const { name, make, encode, messages } of framers) {
    it(`${name}: random messages in random chunkings come out whole, in order`, () => {
      fc.assert(
        fc.property(fc.array(messages, { maxLength: 12 }), chunking, (list, split) => {
          const input = Buffer.concat(list.map(encode));
          const expected = { events: list.map(latin1), disconnecting: false };
          expect(run(make, [input])).toEqual(expected);
          expect(run(make, split(input))).toEqual(expected);
        }),
        RUNS,
      );
    });
  }

  const garbage: { name: string; make: () => Recorder }[] = [
    { name: "LineReceiver", make: () => Object.assign(new Lines(), { MAX_LENGTH: 8 }) },
    { name: "LineReceiver with raw mode", make: () => new RawSwitcher() },
    { name: "LineOnlyReceiver", make: () => Object.assign(new LinesOnly(), { MAX_LENGTH: 8 }) },
    { name: "Int8StringReceiver", make: () => new (recordingIntN(Int8StringReceiver, 20))() },
    { name: "Int16StringReceiver", make: () => new (recordingIntN(Int16StringReceiver, 20))() },
    { name: "Int32StringReceiver", make: () => new (recordingIntN(Int32StringReceiver, 20))() },
    { name: "NetstringReceiver", make: () => Object.assign(new Netstrings(), { MAX_LENGTH: 20 }) },
    { name: "StatefulProtocol (Int32)", make: () => Object.assign(new StatefulInt32(), { MAX_LENGTH: 20 }) },
  ];
  for (const { name, make } of garbage) {
    it(`${name}: garbage never throws and gives the same outcome whatever the chunking`, () => {
      fc.assert(
        fc.property(edgyBytes(200), chunking, (input, split) => {
          expect(run(make, split(input))).toEqual(run(make, [input]));
        }),
        RUNS,
      );
    });
  }

  it("LineReceiver with raw mode: lines and raw blocks come out whole, in order, whatever the chunking", () => {
    const item = fc.oneof(
      noCrlf(20)
        .filter((l) => !/^raw \d+$/.test(latin1(l)))
        .map((l) => ({ wire: Buffer.concat([l, CRLF]), events: [`L:${latin1(l)}`] })),
      edgyBytes(40).map((blob) => ({
        wire: Buffer.concat([Buffer.from(`raw ${blob.length}\r\n`), blob]),
        events: [`L:raw ${blob.length}`, `R:${latin1(blob)}`],
      })),
    );
    fc.assert(
      fc.property(fc.array(item, { maxLength: 10 }), chunking, (items, split) => {
        const input = Buffer.concat(items.map((i) => i.wire));
        const expected = { events: items.flatMap((i) => i.events), disconnecting: false };
        expect(run(() => new RawSwitcher(), [input])).toEqual(expected);
        expect(run(() => new RawSwitcher(), split(input))).toEqual(expected);
      }),
      RUNS,
    );
  });

  it("LineReceiver paused after every line delivers every line, one per resumeProducing", () => {
    fc.assert(
      fc.property(fc.array(noCrlf(32), { maxLength: 10 }), chunking, (lines, split) => {
        const p = new PausingLines();
        p.makeConnection(new StringTransport());
        for (const chunk of split(Buffer.concat(lines.map((l) => Buffer.concat([l, CRLF]))))) p.dataReceived(chunk);
        expect(p.events.length).toBe(Math.min(lines.length, 1));
        while (p.events.length < lines.length) {
          const before = p.events.length;
          p.resumeProducing();
          expect(p.events.length).toBe(before + 1);
        }
        expect(p.events).toEqual(lines.map(latin1));
      }),
      RUNS,
    );
  });
});
