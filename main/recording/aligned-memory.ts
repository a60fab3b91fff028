/**
 * Page-aligned memory, for writes around the page cache (O_DIRECT wants the buffer aligned to the file system's
 * block): WebAssembly memory is allocated by pages, so its buffer starts on a page boundary, which a plain
 * ArrayBuffer or SharedArrayBuffer (malloc'd) doesn't promise.
 */

/** A shared WebAssembly.Memory: what alignedSharedMemory makes and xxh64.ts checksums in. */
export interface SharedMemory {
  readonly buffer: SharedArrayBuffer;
}

/** The size of a WebAssembly memory page: aligned buffers are a multiple of it. */
export const WASM_PAGE = 65536;

/**
 * The one part of WebAssembly used here, an aligned allocation: Node has it, but this project's lib (ES2023, no DOM)
 * declares no value for it.
 */
declare const WebAssembly: {
  Memory: new (descriptor: { initial: number; maximum: number; shared?: boolean }) => {
    readonly buffer: ArrayBuffer | SharedArrayBuffer;
  };
};

/** A new zero-filled buffer of at least `bytes` bytes, page-aligned, its length a multiple of WASM_PAGE. */
export function alignedBuffer(bytes: number): Buffer {
  const pages = Math.max(1, Math.ceil(bytes / WASM_PAGE));
  return Buffer.from(new WebAssembly.Memory({ initial: pages, maximum: pages }).buffer as ArrayBuffer);
}

/**
 * The same, shared: a WebAssembly memory whose buffer, a SharedArrayBuffer, another thread is shown without a copy
 * (postMessage of the memory itself), page-aligned on both sides. Posting the memory rather than its buffer lets
 * the other side run WebAssembly over it in place (xxh64.ts).
 */
export function alignedSharedMemory(bytes: number): SharedMemory {
  const pages = Math.max(1, Math.ceil(bytes / WASM_PAGE));
  return new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true }) as SharedMemory;
}

/** Sources smaller than this are copied into shared memory with set, larger ones with fill (see copyIntoShared). */
const SET_BELOW_BYTES = 2048;

/**
 * Copies `source` into `target` (a view of shared memory, such as alignedSharedMemory's) at `at`, the cheapest way
 * for its size: into shared memory, set is V8's element-by-element copy, slower than fill's memcpy from a few KiB
 * on, but fill pays a native call and its checks (about 100 ns), most of what a small copy costs.
 */
export function copyIntoShared(target: Buffer, source: Uint8Array, at: number): void {
  const bytes = source.byteLength;
  if (bytes < SET_BELOW_BYTES) target.set(source, at);
  else target.fill(source, at, at + bytes);
}
