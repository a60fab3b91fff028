/**
 * The bytes of a capture file as they arrive (one chunk of a file stream after another), read front to back by a
 * parser that asks for whole records: the idea of ws's receiver (lib/receiver.js `consume`). A record inside one
 * chunk comes back as a view of that chunk (no copy); only a record that spans chunks is copied into a new buffer.
 */
export class ByteQueue {
  private readonly chunks: Uint8Array[] = [];
  /** Bytes buffered and not yet consumed. */
  length = 0;
  /** Bytes consumed since the start: the file offset of the next byte. */
  position = 0;

  /** Called by the reader for each chunk of the file, in order. The queue keeps a reference (no copy). */
  push(chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.byteLength;
  }

  /** The next `n` bytes without consuming them; the caller checks `length >= n` first. Copies only across chunks. */
  peek(n: number): Uint8Array {
    const first = this.chunks[0];
    if (first !== undefined && first.byteLength >= n) return first.subarray(0, n);
    return this.gather(n, false);
  }

  /** Removes and returns the next `n` bytes; the caller checks `length >= n` first. Copies only across chunks. */
  consume(n: number): Uint8Array {
    const first = this.chunks[0];
    let out: Uint8Array;
    if (first !== undefined && first.byteLength >= n) {
      out = first.subarray(0, n);
      if (first.byteLength === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = this.gather(n, true);
    }
    this.length -= n;
    this.position += n;
    return out;
  }

  /** Copies `n` bytes spread over several chunks into one buffer, removing them when `remove` is set. */
  private gather(n: number, remove: boolean): Uint8Array {
    const out = new Uint8Array(n);
    let filled = 0;
    let i = 0;
    while (filled < n) {
      const chunk = this.chunks[i]!;
      const take = Math.min(chunk.byteLength, n - filled);
      out.set(chunk.subarray(0, take), filled);
      filled += take;
      if (!remove) i += 1;
      else if (take === chunk.byteLength) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(take);
    }
    return out;
  }
}
