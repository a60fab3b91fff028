/**
 * Property tests of the framers' `messageSpan`: fed whole, byte by byte, at every split point and in random
 * chunkings, each callback sees the span of exactly the bytes of its message in the stream (delimiter, prefix,
 * comma included), raw mode, pausing and clearLineBuffer included; and `log.message` reports that span.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Bytes } from "../interfaces.ts";
import { globalLogPublisher, type LoggedMessage, type LogEvent, type Span } from "../logger.ts";
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

/** What one callback saw: the frame it was given (as the test rebuilds it) and `messageSpan` during the call. */
interface Seen {
  frame: Buffer;
  span: Span | null;
  /** Raw mode: how many of the bytes it was given it kept (the rest it handed back with setLineMode). */
  kept?: number;
}

/** A framer under test: it notes what each callback saw. */
interface Spanning {
  seen: Seen[];
  messageSpan: Span | null;
  dataReceived(data: Bytes): unknown;
  makeConnection(t: StringTransport): void;
}

/** Every way of feeding `input` checked here: whole, byte by byte, and cut in two at each point. */
function everySplit(input: Buffer): Buffer[][] {
  const ways = [[input], [...input].map((b) => Buffer.of(b))];
  for (let at = 0; at <= input.length; at++) ways.push([input.subarray(0, at), input.subarray(at)]);
  return ways;
}

/** Random cut points (empty chunks included). */
const randomCuts = fc.array(fc.nat(), { maxLength: 24 }).map((cuts) => (data: Buffer) => {
  const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const point of [...points, data.length]) {
    chunks.push(data.subarray(from, point));
    from = point;
  }
  return chunks;
});

/** Feeds `chunks` to a fresh framer; checks that each span gives back its frame from `input`, and is null after. */
function checkSpans(make: () => Spanning, input: Buffer, chunks: Buffer[], frames: number): void {
  const p = make();
  p.makeConnection(new StringTransport());
  for (const chunk of chunks) p.dataReceived(chunk);
  expect(p.messageSpan).toBeNull();
  expect(p.seen.length).toBe(frames);
  for (const { frame, span } of p.seen) {
    expect(span).not.toBeNull();
    expect(span!.dir).toBe("in");
    expect(latin1(input.subarray(span!.offset, span!.offset + span!.length))).toBe(latin1(frame));
  }
}

const latin1 = (x: Uint8Array): string => Buffer.from(x).toString("latin1");

const bytes = (maxLength: number) =>
  fc
    .array(fc.oneof(fc.constantFrom(0x0d, 0x0a, 0x3a, 0x2c, 0x30, 0x61), fc.nat(255)), { maxLength })
    .map((b) => Buffer.from(b));
const lines = (maxLength: number) => bytes(maxLength).filter((l) => !l.includes(CRLF) && l.at(-1) !== 0x0d);

class Lines extends LineReceiver {
  seen: Seen[] = [];
  override lineReceived(line: Buffer): void {
    this.seen.push({ frame: Buffer.concat([line, this.delimiter]), span: this.messageSpan });
  }
}

class LinesOnly extends LineOnlyReceiver {
  seen: Seen[] = [];
  override lineReceived(line: Buffer): void {
    this.seen.push({ frame: Buffer.concat([line, this.delimiter]), span: this.messageSpan });
  }
}

/** Line "raw N" switches to raw mode for N bytes and hands the rest back with setLineMode(extra). */
class RawSwitcher extends Lines {
  #wanted = 0;
  override lineReceived(line: Buffer): void {
    super.lineReceived(line);
    const m = /^raw (\d+)$/.exec(latin1(line));
    if (m === null || m[1] === "0") return;
    this.#wanted = Number(m[1]);
    this.setRawMode();
  }
  override rawDataReceived(data: Buffer): void {
    const part = Math.min(this.#wanted, data.length);
    this.seen.push({ frame: Buffer.from(data), span: this.messageSpan, kept: part });
    this.#wanted -= part;
    if (this.#wanted === 0) this.setLineMode(data.subarray(part));
  }
}

/** Line "clear" drops whatever followed it in the buffer (clearLineBuffer); the test knows what is dropped. */
class Clearing extends Lines {
  override lineReceived(line: Buffer): void {
    super.lineReceived(line);
    if (latin1(line) === "clear") this.clearLineBuffer();
  }
}

/** A concrete IntN receiver class (the intersection tells TypeScript that `prefixLength` is defined). */
type IntNClass = new () => IntNStringReceiver & { readonly prefixLength: number };

function intN(Base: IntNClass) {
  return class extends Base {
    seen: Seen[] = [];
    override stringReceived(s: Buffer): void {
      const prefix = Buffer.alloc(this.prefixLength);
      prefix.writeUIntBE(s.length, 0, this.prefixLength);
      this.seen.push({ frame: Buffer.concat([prefix, s]), span: this.messageSpan });
    }
  };
}

class Netstrings extends NetstringReceiver {
  seen: Seen[] = [];
  override stringReceived(s: Buffer): void {
    this.seen.push({
      frame: Buffer.concat([Buffer.from(`${s.length}:`), s, Buffer.from(",")]),
      span: this.messageSpan,
    });
  }
}

/** Header and body states: each state's span is the bytes it was given. */
class StatefulInt16 extends StatefulProtocol {
  seen: Seen[] = [];
  getInitialState(): StatefulState {
    return [this.header, 2];
  }
  header(data: Buffer): StatefulState {
    this.seen.push({ frame: Buffer.from(data), span: this.messageSpan });
    return [this.body, data.readUInt16BE(0)];
  }
  body(data: Buffer): StatefulState {
    this.seen.push({ frame: Buffer.from(data), span: this.messageSpan });
    return [this.header, 2];
  }
}

const prefixed = (n: number) => (s: Buffer) => {
  const prefix = Buffer.alloc(n);
  prefix.writeUIntBE(s.length, 0, n);
  return Buffer.concat([prefix, s]);
};

const framers: {
  name: string;
  make: () => Spanning;
  encode: (m: Buffer) => Buffer;
  messages: fc.Arbitrary<Buffer>;
  callbacks: number;
}[] = [
  {
    name: "LineReceiver",
    make: () => new Lines(),
    encode: (l) => Buffer.concat([l, CRLF]),
    messages: lines(40),
    callbacks: 1,
  },
  {
    name: "LineOnlyReceiver",
    make: () => new LinesOnly(),
    encode: (l) => Buffer.concat([l, CRLF]),
    messages: lines(40),
    callbacks: 1,
  },
  {
    name: "Int8StringReceiver",
    make: () => new (intN(Int8StringReceiver))(),
    encode: prefixed(1),
    messages: bytes(60),
    callbacks: 1,
  },
  {
    name: "Int16StringReceiver",
    make: () => new (intN(Int16StringReceiver))(),
    encode: prefixed(2),
    messages: bytes(60),
    callbacks: 1,
  },
  {
    name: "Int32StringReceiver",
    make: () => new (intN(Int32StringReceiver))(),
    encode: prefixed(4),
    messages: bytes(60),
    callbacks: 1,
  },
  {
    name: "NetstringReceiver",
    make: () => new Netstrings(),
    encode: (s) => Buffer.concat([Buffer.from(`${s.length}:`), s, Buffer.from(",")]),
    messages: bytes(60),
    callbacks: 1,
  },
  { name: "StatefulProtocol", make: () => new StatefulInt16(), encode: prefixed(2), messages: bytes(60), callbacks: 2 },
];

describe("framers' message spans", () => {
  for (const { name, make, encode, messages, callbacks } of framers) {
    it(`${name}: each message's span gives back its whole frame, whole, byte by byte, at every split point`, () => {
      fc.assert(
        fc.property(fc.array(messages, { maxLength: 6 }), (list) => {
          const input = Buffer.concat(list.map(encode));
          for (const chunks of everySplit(input)) checkSpans(make, input, chunks, list.length * callbacks);
        }),
        { numRuns: 60 },
      );
    });

    it(`${name}: each message's span gives back its whole frame in random chunkings`, () => {
      fc.assert(
        fc.property(fc.array(messages, { maxLength: 12 }), randomCuts, (list, split) => {
          const input = Buffer.concat(list.map(encode));
          checkSpans(make, input, split(input), list.length * callbacks);
        }),
        RUNS,
      );
    });
  }

  it("LineReceiver in and out of raw mode: lines and raw data keep their stream offsets", () => {
    const item = fc.oneof(
      lines(20)
        .filter((l) => !/^raw \d+$/.test(latin1(l)))
        .map((l) => ({ wire: Buffer.concat([l, CRLF]), lines: 1 })),
      bytes(40).map((blob) => ({ wire: Buffer.concat([Buffer.from(`raw ${blob.length}\r\n`), blob]), lines: 1 })),
    );
    fc.assert(
      fc.property(fc.array(item, { maxLength: 8 }), randomCuts, (items, split) => {
        const input = Buffer.concat(items.map((i) => i.wire));
        const p = new RawSwitcher();
        p.makeConnection(new StringTransport());
        for (const chunk of split(input)) p.dataReceived(chunk);
        for (const { frame, span } of p.seen) {
          expect(latin1(input.subarray(span!.offset, span!.offset + span!.length))).toBe(latin1(frame));
        }
        // Lines and the raw bytes kept follow each other with no gap or overlap, up to the end of the input.
        let next = 0;
        for (const { span, kept } of p.seen) {
          expect(span!.offset).toBe(next);
          next = span!.offset + (kept ?? span!.length);
        }
        expect(next).toBe(input.length);
      }),
      RUNS,
    );
  });

  it("LineReceiver paused after every line, resumed: each line keeps its span", () => {
    class Pausing extends Lines {
      override lineReceived(line: Buffer): void {
        super.lineReceived(line);
        this.pauseProducing();
      }
    }
    fc.assert(
      fc.property(fc.array(lines(30), { maxLength: 8 }), randomCuts, (list, split) => {
        const input = Buffer.concat(list.map((l) => Buffer.concat([l, CRLF])));
        const p = new Pausing();
        p.makeConnection(new StringTransport());
        for (const chunk of split(input)) p.dataReceived(chunk);
        while (p.seen.length < list.length) p.resumeProducing();
        for (const { frame, span } of p.seen) {
          expect(latin1(input.subarray(span!.offset, span!.offset + span!.length))).toBe(latin1(frame));
        }
      }),
      RUNS,
    );
  });

  it("LineReceiver.clearLineBuffer: the lines after the bytes it dropped keep their stream offsets", () => {
    const p = new Clearing();
    p.makeConnection(new StringTransport());
    const input = Buffer.from("one\r\nclear\r\ndropped\r\nalso dropped\r\n");
    p.dataReceived(input);
    const later = Buffer.from("two\r\nthree\r\n");
    for (const b of later) p.dataReceived(Buffer.of(b));
    const stream = Buffer.concat([input, later]);
    expect(p.seen.map(({ span }) => latin1(stream.subarray(span!.offset, span!.offset + span!.length)))).toEqual([
      "one\r\n",
      "clear\r\n",
      "two\r\n",
      "three\r\n",
    ]);
  });

  it("log.message inside lineReceived reports the line's span, and a field span relative to it", () => {
    const reported: LoggedMessage[] = [];
    const observer = (e: LogEvent) => {
      if (e.log_message !== undefined) reported.push(e.log_message as LoggedMessage);
    };
    class Commands extends LineReceiver {
      override lineReceived(line: Buffer): void {
        const [command, key] = latin1(line).split(" ");
        this.log.message(
          "{command} {key}",
          { command, key },
          {
            fieldSpans: { key: [command!.length + 1, key!.length] },
            request: true,
          },
        );
      }
    }
    globalLogPublisher.addObserver(observer);
    try {
      const p = new Commands();
      p.makeConnection(new StringTransport());
      for (const chunk of ["GET a\r", "\nSET greeting hello\r\nGE", "T b\r\n"]) p.dataReceived(Buffer.from(chunk));
    } finally {
      globalLogPublisher.removeObserver(observer);
    }
    expect(reported.map((m) => m.spans)).toEqual([
      [{ dir: "in", offset: 0, length: 7 }],
      [{ dir: "in", offset: 7, length: 20 }],
      [{ dir: "in", offset: 27, length: 7 }],
    ]);
    expect(reported[1]!.fieldSpans).toEqual({ key: [{ dir: "in", offset: 11, length: 8 }] });
    expect(reported[0]!.pair).toEqual({ role: "request" });
  });

  it("a LineReceiver subclass that declares messageSpan itself still sees each line's span", () => {
    class Declaring extends LineReceiver {
      seen: (Span | null)[] = [];
      constructor() {
        super();
        // What a field declaration `messageSpan: Span | null = null` compiles to with define semantics (the
        // workspace compiler's): an own property, hiding the accessor.
        Object.defineProperty(this, "messageSpan", { value: null, writable: true, enumerable: true });
      }
      override lineReceived(): void {
        this.seen.push(this.messageSpan);
      }
    }
    const p = new Declaring();
    p.makeConnection(new StringTransport());
    p.dataReceived(Buffer.from("a\r\nbc\r\n"));
    expect(p.seen).toEqual([
      { dir: "in", offset: 0, length: 3 },
      { dir: "in", offset: 3, length: 4 },
    ]);
    expect(p.messageSpan).toBeNull();
  });
});
