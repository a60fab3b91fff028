/**
 * The transport base's contract (abstract.ts), on the smallest transport a new one could be: a pipe-like
 * Writable with no TCP in it, whose writes stay buffered until the test lets them through.
 */
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { BaseTCPTransport, BaseTransport, bufferSize, type WriteBuffer } from "./abstract.ts";
import { ProcessAddress } from "./address.ts";
import type { Bytes, IPullProducer, IPushProducer } from "./interfaces.ts";

/** A Writable that holds each write until `release()`, so its buffer fills as a slow peer's would. */
class SlowSink extends Writable {
  readonly received: Buffer[] = [];
  private held: (() => void)[] = [];

  constructor() {
    super({ highWaterMark: 16 * 1024 });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    this.received.push(chunk);
    this.held.push(() => done());
  }

  /** Lets every held write through, and the ones that were queued behind them. */
  release(): void {
    while (this.held.length > 0) this.held.shift()!();
  }
}

/** A transport over a pipe: what the process transport will be, reduced to what the base asks for. */
class PipeTransport extends BaseTransport {
  constructor(readonly sink: SlowSink) {
    super(new ProcessAddress(), new ProcessAddress());
    sink.on("drain", () => this.bufferDrained());
  }

  protected writeData(data: Bytes): void {
    this.sink.write(data);
  }

  protected override get writeBuffer(): WriteBuffer {
    return this.sink;
  }

  loseConnection(): void {
    this.disconnecting = true;
    this.writeClosed = true;
  }

  abortConnection(): void {
    this.loseConnection();
  }

  loseWriteConnection(): void {
    this.writeClosed = true;
  }

  /** The pipe closed under us. */
  gone(): void {
    this.markDisconnected();
  }
}

/** A transport with no buffer of its own, standing in for a TCP one (as StringTransport does). */
class MemoryTCPTransport extends BaseTCPTransport {
  readonly written: Bytes[] = [];
  readonly applied: string[] = [];

  constructor() {
    super(new ProcessAddress(), new ProcessAddress());
  }

  protected writeData(data: Bytes): void {
    this.written.push(data);
  }

  protected override applyTcpNoDelay(enabled: boolean): void {
    this.applied.push(`nodelay ${enabled}`);
  }

  loseConnection(): void {}
  abortConnection(): void {}
  loseWriteConnection(): void {}
}

class PushProducer implements IPushProducer {
  readonly calls: string[] = [];
  pauseProducing(): void {
    this.calls.push("pause");
  }
  resumeProducing(): void {
    this.calls.push("resume");
  }
  stopProducing(): void {
    this.calls.push("stop");
  }
}

/** A pull producer that writes `size` bytes each time it is asked. */
class PullProducer implements IPullProducer {
  asked = 0;
  stopped = false;
  constructor(
    private readonly transport: BaseTransport,
    private readonly size: number,
  ) {}
  resumeProducing(): void {
    this.asked += 1;
    this.transport.write(Buffer.alloc(this.size, 0x61));
  }
  stopProducing(): void {
    this.stopped = true;
  }
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("writes", () => {
  it("refuses text with a TypeError, and a sequence with text in it writes nothing", () => {
    const t = new PipeTransport(new SlowSink());
    expect(() => t.write("hello" as unknown as Bytes)).toThrow(TypeError);
    expect(() => t.writeSequence([Buffer.from("a"), "b" as unknown as Bytes])).toThrow(TypeError);
    expect(t.sink.received).toEqual([]);
  });

  it("drops writes once the write side is shut, and once the connection is gone", () => {
    const half = new PipeTransport(new SlowSink());
    half.write(Buffer.from("before"));
    half.loseWriteConnection();
    half.write(Buffer.from("after"));
    half.writeSequence([Buffer.from("after")]);
    expect(half.sink.received.map(String)).toEqual(["before"]);

    const lost = new PipeTransport(new SlowSink());
    lost.gone();
    lost.write(Buffer.from("after"));
    expect([lost.sink.received, lost.disconnected, lost.disconnecting]).toEqual([[], true, true]);
  });
});

describe("producers", () => {
  it("refuses a second producer, and stops one registered after the loss at once", () => {
    const t = new PipeTransport(new SlowSink());
    const first = new PushProducer();
    t.registerProducer(first, true);
    expect(() => t.registerProducer(new PushProducer(), true)).toThrow(/Cannot register two producers/);
    expect(t.producer).toBe(first);

    t.gone();
    expect([first.calls, t.producer]).toEqual([["stop"], null]);
    const late = new PushProducer();
    t.registerProducer(late, true);
    expect([late.calls, t.producer]).toEqual([["stop"], null]);
  });

  it("pauses a streaming producer past bufferSize and resumes it when the buffer drains", async () => {
    const t = new PipeTransport(new SlowSink());
    const producer = new PushProducer();
    t.registerProducer(producer, true);
    t.write(Buffer.alloc(bufferSize));
    expect(producer.calls).toEqual([]);
    t.write(Buffer.alloc(1));
    expect(producer.calls).toEqual(["pause"]);

    t.sink.release();
    await turn();
    expect(producer.calls).toEqual(["pause", "resume"]);
  });

  it("asks a pull producer on register and while there is room, then again when the buffer drains", async () => {
    const t = new PipeTransport(new SlowSink());
    const producer = new PullProducer(t, 4096);
    t.registerProducer(producer, false);
    expect(producer.asked).toBe(1);
    for (let i = 0; i < 10; i++) await turn();
    // 16 KiB high-water mark: asked until four chunks of 4 KiB fill it, then it waits for 'drain'.
    expect(producer.asked).toBe(4);

    t.sink.release();
    await turn();
    expect(producer.asked).toBeGreaterThan(4);
    t.unregisterProducer();
  });

  it("keeps a producer without calling it where the transport has no buffer of its own", async () => {
    const t = new MemoryTCPTransport();
    const pull = new PullProducer(t, 1);
    t.registerProducer(pull, false);
    await turn();
    expect([pull.asked, t.producer]).toEqual([0, pull]);
    t.unregisterProducer();
    expect(t.producer).toBeNull();
  });
});

describe("TCP options", () => {
  it("answers the last value set, which Node can't, and applies it", () => {
    const t = new MemoryTCPTransport();
    expect([t.getTcpNoDelay(), t.getTcpKeepAlive()]).toEqual([false, false]);
    t.setTcpNoDelay(true);
    t.setTcpKeepAlive(true);
    expect([t.getTcpNoDelay(), t.getTcpKeepAlive(), t.applied]).toEqual([true, true, ["nodelay true"]]);
  });
});
