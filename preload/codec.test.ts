/**
 * The wire codec: bytes survive at any depth, every JSON value round-trips (even one that looks like bytes), cycles
 * are refused with their path, and a full timeline page is quick.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { base64, CodecError, decode, encode, MAX_DEPTH, portableBase64, type Base64 } from "./codec.ts";

/** What JSON.parse(JSON.stringify(value)) gives, except that bytes stay bytes: the codec's promise. */
function asJson(value: unknown): unknown {
  if (value instanceof Uint8Array) return Uint8Array.from(value);
  if (Array.isArray(value)) return value.map(asJson);
  if (typeof value === "object" && value !== null) {
    const copy: Record<string, unknown> = {};
    // defineProperty, so that a "__proto__" key stays a key, as JSON.parse makes it.
    for (const [key, item] of Object.entries(value)) {
      Object.defineProperty(copy, key, { value: asJson(item), enumerable: true, writable: true, configurable: true });
    }
    return copy;
  }
  return typeof value === "number" && Object.is(value, -0) ? 0 : value;
}

const runtimes: Array<[string, Base64]> = [
  ["Node's Buffer", base64],
  ["btoa/atob (browsers)", portableBase64],
];

describe.each(runtimes)("encode/decode with %s", (_, codec) => {
  const roundTrip = (value: unknown) => decode(encode(value, codec), codec);

  it("keeps bytes as bytes at any depth, in objects and arrays", () => {
    const value = {
      top: Uint8Array.of(0, 1, 254, 255),
      list: [Uint8Array.of(7), { deep: [[new Uint8Array(0)]] }],
      text: "plain",
    };
    const back = roundTrip(value) as typeof value;
    expect(back).toEqual(value);
    expect(back.top).toBeInstanceOf(Uint8Array);
    expect(roundTrip(Uint8Array.of(1, 2, 3))).toEqual(Uint8Array.of(1, 2, 3));
  });

  it("encodes only the bytes a view shows, and gives back plain Uint8Arrays for Buffers", () => {
    const whole = Uint8Array.from({ length: 100 }, (_, i) => i);
    expect(roundTrip({ part: whole.subarray(10, 13) })).toEqual({ part: Uint8Array.of(10, 11, 12) });
    const back = roundTrip({ data: Buffer.from("hello") }) as { data: Uint8Array };
    expect(Buffer.isBuffer(back.data)).toBe(false);
    expect(new TextDecoder().decode(back.data)).toBe("hello");
  });

  it("writes bytes as base64 text on the wire", () => {
    expect(encode({ data: new TextEncoder().encode("PING\r\n") }, codec)).toBe('{"data":{"$bytes":"UElORw0K"}}');
  });

  it("round-trips large chunks and every byte value", () => {
    const big = Uint8Array.from({ length: 1 << 20 }, (_, i) => (i * 31) & 0xff);
    const [back] = roundTrip([big]) as [Uint8Array];
    expect(Buffer.from(back).equals(big)).toBe(true);
  });

  it("round-trips objects that look like the byte marker", () => {
    const lookalikes = [
      { $bytes: "AAAA" },
      { $bytes: 5 },
      { $$bytes: "AAAA" },
      { $$$bytes: { $bytes: "x" } },
      { $bytes: "AAAA", other: 1 },
    ];
    expect(roundTrip(lookalikes)).toEqual(lookalikes);
  });

  it("round-trips any JSON value as JSON would, bytes anywhere included", () => {
    const key = fc.oneof(fc.string(), fc.constantFrom("$bytes", "$$bytes", "bytes", "__proto__"));
    const { tree } = fc.letrec((tie) => ({
      tree: fc.oneof(
        { depthSize: "small" },
        fc.jsonValue({ maxDepth: 2 }),
        fc.uint8Array({ maxLength: 40 }),
        fc.array(tie("tree"), { maxLength: 4 }),
        fc.dictionary(key, tie("tree"), { maxKeys: 4 }),
      ),
    }));
    fc.assert(fc.property(tree, (value) => void expect(roundTrip(value)).toEqual(asJson(value))));
  });

  it("writes exactly JSON's text for values without bytes", () => {
    const value = { a: [1, "two", null, { b: true }], c: "$bytes" };
    expect(encode(value, codec)).toBe(JSON.stringify(value));
  });

  it("does not change the value it encodes", () => {
    const value = { events: [{ data: Uint8Array.of(1) }, { text: "x" }] };
    const first = value.events[0];
    encode(value, codec);
    expect(value.events[0]).toBe(first);
    expect(value.events[0]?.data).toEqual(Uint8Array.of(1));
  });
});

describe("what cannot be encoded", () => {
  it("refuses a cyclic value, naming the loop", () => {
    const a: Record<string, unknown> = { data: Uint8Array.of(1) };
    a.self = { back: [a] };
    expect(() => encode(a)).toThrow(CodecError);
    expect(() => encode(a)).toThrow(/cyclic value: value\.self\.back\[0\] is value again/);
    expect(() => encode({ list: [a] })).toThrow(
      /cyclic value: value\.list\[0\]\.self\.back\[0\] is value\.list\[0\] again/,
    );
  });

  it("refuses a cyclic value with no bytes in it", () => {
    const a: Record<string, unknown> = { name: "a" };
    a.self = a;
    expect(() => encode({ list: [a] })).toThrow(/cannot encode a cyclic value/);
  });

  it("refuses what JSON has no text for", () => {
    expect(() => encode(undefined)).toThrow(/cannot encode undefined/);
    expect(() => encode(() => 1)).toThrow(/cannot encode function/);
    expect(() => encode({ n: 10n })).toThrow(/cannot encode: .*BigInt/);
  });

  it("refuses text that is not JSON, or bytes that are not base64", () => {
    expect(() => decode("{nope")).toThrow(/cannot decode: not JSON/);
    for (const codec of [base64, portableBase64]) {
      expect(() => decode('{"$bytes":"not base64!"}', codec)).toThrow(/not base64/);
    }
  });

  it("refuses text nested past MAX_DEPTH with bytes inside, naming the limit, as encode does", () => {
    const nested = (depth: number, inner: string) => "[".repeat(depth) + inner + "]".repeat(depth);
    const bytes = '{"$bytes":"AQI="}';
    // As deep as encode goes: bytes still come back.
    let deepest: unknown = Uint8Array.of(1, 2);
    for (let i = 0; i < MAX_DEPTH; i++) deepest = [deepest];
    expect(decode(encode(deepest))).toEqual(deepest);
    // One level more, and far more (what once overflowed the stack): a CodecError, not a RangeError.
    for (const depth of [MAX_DEPTH + 1, 200_000]) {
      const text = nested(depth, bytes);
      expect(() => decode(text)).toThrow(CodecError);
      expect(() => decode(text)).toThrow(`nested more than ${MAX_DEPTH} levels deep`);
    }
    // Without bytes there is nothing to revive: any depth JSON.parse takes is given back as it is.
    expect(decode(nested(200_000, "1"))).toBeInstanceOf(Array);
  });
});

describe("speed", () => {
  it("encodes and decodes a full page of 10,000 timeline events quickly", () => {
    const page = {
      total: 10_000,
      events: Array.from({ length: 10_000 }, (_, seq) =>
        seq % 3
          ? { seq, t: seq * 10, conn: 1, kind: "data", dir: "in", data: Uint8Array.from({ length: 512 }, (_, i) => i) }
          : { seq, t: seq * 10, conn: 1, kind: "log", level: "info", text: `line ${seq}`, fields: { n: seq } },
      ),
    };
    const started = performance.now();
    const back = decode(encode(page)) as typeof page;
    const ms = performance.now() - started;
    // Compared field by field: a deep equal of five million bytes would take longer than the codec.
    expect(back.events).toHaveLength(page.events.length);
    back.events.forEach((event, i) => {
      const { data, ...rest } = event as { data?: Uint8Array };
      const { data: expected, ...expectedRest } = page.events[i] as { data?: Uint8Array };
      expect(rest).toEqual(expectedRest);
      if (expected) expect(data && Buffer.from(data).equals(expected)).toBe(true);
    });
    // About 30 ms here; the bound only catches an accidental quadratic or per-byte path.
    expect(ms).toBeLessThan(1000);
  });
});
