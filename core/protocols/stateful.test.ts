/**
 * Tests of StatefulProtocol, ported from Twisted's src/twisted/test/test_stateful.py: an Int32 string receiver
 * written as states, run through the IntN cases of test_basic.py. Every framing case runs as one chunk, byte by
 * byte, in 2..9-byte packets and split in two at every point.
 */
import { describe, expect, it } from "vitest";
import type { Bytes } from "../interfaces.ts";
import { chunkings, StringTransport } from "../testing.ts";
import { StatefulProtocol, type StatefulState } from "./stateful.ts";

const b = (text: string): Buffer => Buffer.from(text, "latin1");
const texts = (list: readonly Uint8Array[]): string[] => list.map((x) => Buffer.from(x).toString("latin1"));

/** Twisted's MyInt32StringReceiver: an Int32StringReceiver as two states, header and string. */
class MyInt32StringReceiver extends StatefulProtocol {
  MAX_LENGTH = 99999;

  getInitialState(): StatefulState {
    return [this.getHeader, 4];
  }

  lengthLimitExceeded(_length: number): void {
    this.transport.loseConnection();
  }

  getHeader(msg: Buffer): StatefulState | undefined {
    const length = msg.readInt32BE(0);
    if (length > this.MAX_LENGTH) {
      this.lengthLimitExceeded(length);
      return undefined;
    }
    return [this.getString, length];
  }

  getString(msg: Buffer): StatefulState {
    this.stringReceived(msg);
    return [this.getHeader, 4];
  }

  stringReceived(_msg: Buffer): void {
    throw new Error("override stringReceived");
  }

  sendString(data: Bytes): void {
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32BE(data.length);
    this.transport.write(Buffer.concat([prefix, data]));
  }
}

/** Twisted's TestInt32 of test_stateful.py. */
class TestInt32 extends MyInt32StringReceiver {
  override MAX_LENGTH = 50;
  received: Buffer[] = [];
  closed = false;

  override stringReceived(s: Buffer): void {
    this.received.push(s);
  }

  override connectionLost(reason: Error): void {
    super.connectionLost(reason);
    this.closed = true;
  }
}

const pack = (s: string): Buffer => {
  const prefix = Buffer.alloc(4);
  prefix.writeInt32BE(s.length);
  return Buffer.concat([prefix, b(s)]);
};

/** Feeds every chunking of `input` to a fresh connected TestInt32, stopping once the transport is disconnecting. */
function receive(input: string | Uint8Array): [string, TestInt32, StringTransport][] {
  return chunkings(input).map(([way, chunks]) => {
    const p = new TestInt32();
    const t = new StringTransport();
    p.makeConnection(t);
    for (const chunk of chunks) {
      if (t.disconnecting) break;
      p.dataReceived(chunk);
    }
    return [way, p, t];
  });
}

describe("StatefulProtocol", () => {
  const strings = ["a", "b".repeat(16)];

  it("receives many strings in one big chunk, and in every other chunking (bigReceive)", () => {
    const big = Buffer.concat([...strings, ...strings, ...strings, ...strings].map(pack));
    for (const [way, p, t] of receive(big)) {
      expect(texts(p.received), way).toEqual([...strings, ...strings, ...strings, ...strings]);
      expect(t.disconnecting, way).toBe(false);
    }
  });

  it("receives strings sent one after the other", () => {
    for (const [way, p] of receive(Buffer.concat(strings.map(pack)))) {
      expect(texts(p.received), way).toEqual(strings);
    }
  });

  it("delivers nothing from partial strings", () => {
    for (const partial of ["\x00\x00\x00", "hello there", ""]) {
      for (const [way, p] of receive(partial)) expect(p.received, way).toEqual([]);
    }
  });

  it("closes the connection on a length above MAX_LENGTH, and delivers nothing after", () => {
    for (const [way, p, t] of receive("\x10\x00\x00\x00aaaaaa")) {
      expect([p.received.length, t.disconnecting], way).toEqual([0, true]);
    }
    for (const [way, p, t] of receive(Buffer.concat([pack("ok"), b("\x10\x00\x00\x00"), pack("after")]))) {
      expect([texts(p.received), t.disconnecting], way).toEqual([["ok"], true]);
    }
  });

  it("stops calling states once the transport is disconnecting, even if data keeps coming", () => {
    const p = new TestInt32();
    const t = new StringTransport();
    p.makeConnection(t);
    p.dataReceived(b("\x10\x00\x00\x00"));
    p.dataReceived(pack("late"));
    expect(p.received).toEqual([]);
  });

  it("sends an int32-prefixed string", () => {
    const p = new TestInt32();
    const t = new StringTransport();
    p.makeConnection(t);
    p.sendString(b("b".repeat(16)));
    expect(t.value()).toEqual(pack("b".repeat(16)));
  });

  it("calls a state of size 0 at once with no bytes (an empty string)", () => {
    for (const [way, p] of receive(Buffer.concat(["", "x", ""].map(pack)))) {
      expect(texts(p.received), way).toEqual(["", "x", ""]);
    }
  });

  it("keeps the state when a state function returns nothing", () => {
    class Pairs extends StatefulProtocol {
      pairs: string[] = [];
      getInitialState(): StatefulState {
        return [this.pair, 2];
      }
      pair(data: Buffer): void {
        this.pairs.push(data.toString());
      }
    }
    for (const [way, chunks] of chunkings("aabbccd")) {
      const p = new Pairs();
      p.makeConnection(new StringTransport());
      for (const chunk of chunks) p.dataReceived(chunk);
      expect(p.pairs, way).toEqual(["aa", "bb", "cc"]);
    }
  });

  it("takes the initial state when the connection is made, after connectionMade", () => {
    const calls: string[] = [];
    class Ordered extends StatefulProtocol {
      override connectionMade(): void {
        calls.push("connectionMade");
      }
      getInitialState(): StatefulState {
        calls.push("getInitialState");
        return [() => undefined, 1];
      }
    }
    new Ordered().makeConnection(new StringTransport());
    expect(calls).toEqual(["connectionMade", "getInitialState"]);
  });
});
