import { describe, expect, it } from "vitest";
import { StringTransport } from "../testing.ts";
import type { Bytes } from "../interfaces.ts";
import { LineReceiver } from "./basic.ts";
import { isTapClass, Tap } from "./tap.ts";

class Counter extends Tap {
  seen = 0;
  override dataReceived(data: Bytes): void {
    this.seen += data.byteLength;
  }
}

class LineTap extends LineReceiver {
  static readonly tap = true;
}

describe("Tap", () => {
  it("is declared by the class, inherited by subclasses, and by `static tap = true` on any protocol", () => {
    expect(isTapClass(Tap)).toBe(true);
    expect(isTapClass(Counter)).toBe(true);
    expect(isTapClass(LineTap)).toBe(true);
    expect(isTapClass(LineReceiver)).toBe(false);
    expect(isTapClass({ tap: true })).toBe(false);
  });

  it("receives what passes and writes nothing of its own", () => {
    const tap = new Counter();
    const transport = new StringTransport();
    tap.makeConnection(transport);
    tap.dataReceived(Buffer.from("*1\r\n$4\r\nPING\r\n"));
    expect(tap.seen).toBe(14);
    expect(transport.value().byteLength).toBe(0);
  });
});
